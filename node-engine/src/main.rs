//! `slot-node [CONFIG_FILE] [--directive value ...]`, started like redis-server.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    node_engine::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(node_engine::run_main(args));
}
