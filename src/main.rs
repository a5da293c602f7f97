fn main() {
    std::process::exit(node_engine::run_main(std::env::args().skip(1).collect()));
}
