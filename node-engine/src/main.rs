//! `slot-node [CONFIG_FILE] [--directive value ...]`, started like redis-server.

/// mimalloc, counted: `used_memory` and `maxmemory` read the total.
#[global_allocator]
static GLOBAL: node_engine::alloc::Counting<mimalloc::MiMalloc> = node_engine::alloc::Counting(mimalloc::MiMalloc);

fn main() {
    node_engine::alloc::install();
    node_engine::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(node_engine::run_main(args));
}
