//! `iris`: the native command line — check a config, render or run Envoy, run the mock provider.

mod mock;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("mock") => mock::main(args.get(1..).unwrap_or(&[])),
        _ => Err("usage: iris <check|envoy|run|mock> [options]".to_string()),
    };
    if let Err(message) = result {
        eprintln!("iris: {message}");
        std::process::exit(2);
    }
}
