//! `slotd`: the supervisor daemon. Also `slotd node <conf>` (hidden), the
//! builtin node program slotd starts for each node in process mode.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "slotd", version, about = "Runs a Redis Cluster on this machine from one TOML file")]
struct Cli {
    /// Config file (default: ./slotd.toml if present, else the embedded default).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the embedded default config (documented) and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Validate a config file, print every problem, and exit (0 = valid).
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
    /// Which `[[hosts]]` entry this machine is (default: the one whose
    /// address is an address of this machine).
    #[arg(long, env = "SLOTD_HOST", value_name = "NAME")]
    host: Option<String>,
}

/// Nodes run in this process (inproc) or as `slotd node` children: same allocator as slot-node.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    node_engine::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("node") {
        std::process::exit(node_engine::run_main(args[2..].to_vec()));
    }
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("slotd: {e:#}");
            std::process::exit(1);
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<i32> {
    if cli.print_default_config {
        print!("{}", slotd::config::DEFAULT_CONFIG);
        return Ok(0);
    }
    if let Some(path) = cli.check_config {
        return match slotd::config::Config::load(&path) {
            Ok(c) if c.is_multi_host() => {
                println!("{}: ok ({} nodes on {} hosts)", path.display(), c.cluster_nodes.len(), c.hosts.len());
                for h in &c.hosts {
                    let ports: Vec<String> = h.ports.iter().map(u16::to_string).collect();
                    println!("  {}: {} ports {} engine {} API {}", h.name, h.address, ports.join(","), h.kind, h.api);
                }
                Ok(0)
            }
            Ok(c) => {
                println!("{}: ok ({} nodes, engine {}, API {})", path.display(), c.nodes.len(), c.engine.kind, c.supervisor.api);
                Ok(0)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(1)
            }
        };
    }
    slotd::telemetry::init();
    let mut config = match cli.config {
        Some(p) => slotd::config::Config::load(&p)?,
        None if std::path::Path::new("slotd.toml").exists() => slotd::config::Config::load(std::path::Path::new("slotd.toml"))?,
        None => {
            let base = std::env::current_dir().context("cannot read the current directory")?;
            tracing::info!("no --config and no ./slotd.toml: using the embedded default (`slotd --print-default-config`)");
            slotd::config::Config::embedded_default(&base)?
        }
    };
    config.select_host(cli.host.as_deref())?;
    if let Some(h) = &config.local_host {
        tracing::info!(
            "this is host `{h}` of {}: running its {} nodes, API {}",
            config.hosts.len(),
            config.nodes.len(),
            config.supervisor.api
        );
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let shutdown = slotd::shutdown::Shutdown::new();
        shutdown.on_signals();
        slotd::run(config, shutdown).await
    })?;
    Ok(0)
}
