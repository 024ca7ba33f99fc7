#!/usr/bin/env bash
# Runs every test: formatting and lints (native and wasm32-wasip1), the core's unit tests
# natively and compiled to wasm under Node (wasm-bindgen-test), then the end-to-end tests
# against a real Envoy 1.40 with the filter, the mock provider and the official SDKs.
# Installs what is missing first. Tests that need Envoy fail when it is missing.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v curl >/dev/null || apt_install curl
ensure_rust wasm32-wasip1 wasm32-unknown-unknown
ensure_rust_components rustfmt clippy
ensure_venv
ensure_node
ensure_chromium
ensure_wasm_bindgen

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy (native, all targets) -D warnings"
cargo clippy -q --all-targets --features cli -- -D warnings
step "cargo clippy (wasm32-wasip1, the filter) -D warnings"
cargo clippy -q --lib --target wasm32-wasip1 -- -D warnings

step "unit tests (native)"
cargo test -q --features cli

step "unit tests of the core compiled to wasm, under Node (wasm-bindgen-test)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --target wasm32-unknown-unknown --no-default-features --lib

build

step "end-to-end tests: real Envoy + Iris + mock provider + official SDKs"
"$VENV/bin/python" -m pytest -q tests/e2e "$@"
