//! `slotctl`: command-line client of slotd (see `slotd::ctl`).

use clap::Parser;

fn main() {
    let cli = slotd::ctl::Cli::parse();
    let code = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(slotd::ctl::run(cli)),
        Err(e) => {
            eprintln!("slotctl: cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}
