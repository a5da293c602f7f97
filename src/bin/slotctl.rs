//! `slotctl`: command-line client of slotd (see `slotd::ctl`).

use clap::Parser;

fn main() {
    let cli = match slotd::ctl::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // With --json a usage error is still one JSON document on stdout.
            let wants_json = std::env::args().any(|a| a == "--json");
            if wants_json && e.use_stderr() {
                let doc = serde_json::json!({ "error": e.to_string().trim_end(), "exit_code": e.exit_code() });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into()));
            }
            e.exit()
        }
    };
    let code = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(slotd::ctl::run(cli)),
        Err(e) => {
            eprintln!("slotctl: cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}
