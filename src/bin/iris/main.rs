//! `iris`: the native command line — check a config, render or run Envoy, run the mock provider.

mod args;
mod gateway;
mod keys;
mod mock;

const USAGE: &str = "usage: iris <command> [options]

commands:
  check --config FILE                 validate a config; print every error and warning
  envoy --config FILE [options]       print an Envoy bootstrap that runs Iris
  run   --config FILE [options] [-- ENVOY_ARGS]
                                      render the bootstrap and run Envoy in the foreground
  mock  [--listen ADDR]               run the mock OpenAI/Anthropic/Gemini provider
  keys  new --user NAME | hash KEY    issue a gateway key / print a key's SHA-256 for the config

options for envoy and run:
  --listen ADDR      listener address (default 127.0.0.1:10000)
  --admin ADDR       Envoy admin address (default 127.0.0.1:9901)
  --wasm PATH        the filter (default: target/wasm32-wasip1/release/iris.wasm)
  --ca-bundle PATH   CA bundle for https providers (default /etc/ssl/certs/ca-certificates.crt)
  --access-log PATH  write one JSON record per request (model, tokens, cost, ...) to PATH
  --no-filter        route everything to the first provider without Iris (benchmark baseline)

Envoy is found via $ENVOY_BIN, then .venv/bin/envoy, then PATH.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or(&[]);
    let result = match args.first().map(String::as_str) {
        Some("check") => gateway::check(rest),
        Some("envoy") => gateway::envoy(rest),
        Some("run") => gateway::run(rest),
        Some("mock") => mock::main(rest),
        Some("keys") => keys::main(rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    if let Err(message) = result {
        eprintln!("iris: {message}");
        std::process::exit(1);
    }
}
