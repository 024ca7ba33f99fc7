#!/usr/bin/env bash
# Throughput of Envoy with Iris against Envoy without it: the same load (wrk, a 2 KB OpenAI
# chat body, non-streaming) on the same mock provider. Prints both figures and the ratio.
# Usage: scripts/bench.sh [seconds per run, default 10] [connections, default 32] [rounds, default 3]
# Envoy runs one worker pinned to CPU 0; wrk and the mock share CPU 1, so Envoy's CPU is what
# limits throughput. Runs alternate (without, with, without, ...) and the medians are compared,
# because a shared 2-core machine is noisy.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

DURATION="${1:-10}"
CONNS="${2:-32}"
ROUNDS="${3:-3}"
PIN_ENVOY=() PIN_LOAD=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN_ENVOY=(taskset -c 0) PIN_LOAD=(taskset -c 1); fi
ensure_rust wasm32-wasip1
ensure_venv
build
command -v wrk >/dev/null || apt_install wrk

WORK="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

MOCK_PORT=18100 LISTEN=127.0.0.1:10100 ADMIN=127.0.0.1:9911 KEY=bench-openai-key
"${PIN_LOAD[@]}" "$IRIS_BIN" mock --quiet --listen "127.0.0.1:$MOCK_PORT" --openai-key "$KEY" --anthropic-key "$KEY" \
  >"$WORK/mock.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/__mock/health" 20

cat >"$WORK/iris.json" <<JSON
{"providers": {"openai": {"baseurl": "http://127.0.0.1:$MOCK_PORT", "apikey": "\${BENCH_OPENAI_KEY}",
  "models": ["gpt-4.1"]},
  "anthropic": {"baseurl": "http://127.0.0.1:$MOCK_PORT", "apikey": "\${BENCH_OPENAI_KEY}", "authorization": "x-api-key",
  "models": ["claude-sonnet-4-5"], "compatibility": {"anthropic_messages": true}}},
 "grants": [{"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "admin"}, {"models": "**"}]}}]}
JSON
export BENCH_OPENAI_KEY="$KEY"

# A 2 KB chat body.
python3 - "$WORK/body.json" <<'PY'
import json, sys
text = ("Summarise the following notes about the deployment. " * 40)[:1850]
body = {"model": "gpt-4.1", "messages": [{"role": "system", "content": "You are terse."},
                                         {"role": "user", "content": text}], "temperature": 0.2}
open(sys.argv[1], "w").write(json.dumps(body))
body["model"] = "claude-sonnet-4-5"  # the same request, translated to Anthropic Messages
open(sys.argv[1].replace(".json", "-translated.json"), "w").write(json.dumps(body))
PY
cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
local f = io.open(os.getenv("BENCH_BODY") or "$WORK/body.json", "r")
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
-- Sent in both runs: without Iris it reaches the mock as is; with Iris it is replaced.
wrk.headers["authorization"] = "Bearer $KEY"
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # $1 = label, rest = extra iris envoy flags. Prints "req/s envoy-cpu-us-per-request".
  local label="$1"; shift
  "$IRIS_BIN" envoy --config "$WORK/iris.json" --listen "$LISTEN" --admin "$ADMIN" "$@" >"$WORK/$label.envoy.json" 2>/dev/null
  "${PIN_ENVOY[@]}" "$VENV/bin/envoy" -c "$WORK/$label.envoy.json" --concurrency 1 --disable-hot-restart --log-level info \
    >"$WORK/$label.log" 2>&1 &
  local envoy=$!
  wait_http "http://$ADMIN/ready" 30 || { tail -20 "$WORK/$label.log" >&2; exit 1; }
  "${PIN_LOAD[@]}" wrk -t1 -c"$CONNS" -d2s -s "$WORK/post.lua" "http://$LISTEN/v1/chat/completions" >/dev/null # warm-up
  local before after
  before="$(cpu_ticks "$envoy")"
  "${PIN_LOAD[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://$LISTEN/v1/chat/completions" >"$WORK/$label.wrk"
  after="$(cpu_ticks "$envoy")"
  kill "$envoy"; wait "$envoy" 2>/dev/null || true
  if grep -q "Non-2xx" "$WORK/$label.wrk"; then
    echo "$label: some responses were not 2xx:" >&2; cat "$WORK/$label.wrk" >&2; exit 1
  fi
  local rps requests
  rps="$(awk '/Requests\/sec/ {print $2}' "$WORK/$label.wrk")"
  requests="$(awk '/requests in/ {print $1}' "$WORK/$label.wrk")"
  # Envoy's CPU time (user + system, all its threads) per request, in microseconds.
  echo "$rps $(( (after - before) * 1000000 / $(getconf CLK_TCK) / requests ))"
}

bases=() withs=() translated=()
for ((r = 1; r <= ROUNDS; r++)); do
  step "round $r/$ROUNDS: Envoy without Iris (${DURATION}s, $CONNS connections, one worker)"
  bases+=("$(run baseline --no-filter)")
  grep -E "Latency  |50%|99%" "$WORK/baseline.wrk" || true
  step "round $r/$ROUNDS: Envoy with Iris (route on the body's model, key swap, usage read, one log line per request)"
  withs+=("$(run iris)")
  grep -E "Latency  |50%|99%" "$WORK/iris.wrk" || true
  step "round $r/$ROUNDS: Envoy with Iris translating the same request to Anthropic Messages and back"
  translated+=("$(BENCH_BODY="$WORK/body-translated.json" run translated)")
  grep -E "Latency  |50%|99%" "$WORK/translated.wrk" || true
done

python3 - "${bases[*]}" "${withs[*]}" "${translated[*]}" <<'PY'
import statistics, sys
def parse(arg):
    v = [float(x) for x in arg.split()]
    return v[0::2], v[1::2]  # req/s, Envoy CPU us per request
base, base_cpu = parse(sys.argv[1])
iris, iris_cpu = parse(sys.argv[2])
tr, tr_cpu = parse(sys.argv[3])
b, i, t = statistics.median(base), statistics.median(iris), statistics.median(tr)
bc, ic, tc = statistics.median(base_cpu), statistics.median(iris_cpu), statistics.median(tr_cpu)
print(f"\nwithout Iris: {b:8.0f} req/s (median of {' '.join(f'{x:.0f}' for x in base)})")
print(f"with Iris:    {i:8.0f} req/s (median of {' '.join(f'{x:.0f}' for x in iris)})")
print(f"ratio:        {i / b:8.2f}")
print(f"Envoy CPU per request: {bc:.0f} us without Iris, {ic:.0f} us with Iris (+{ic - bc:.0f} us), {tc:.0f} us translated (+{tc - ic:.0f} us over passthrough)")
print(f"translated:   {t:8.0f} req/s (median of {' '.join(f'{x:.0f}' for x in tr)}); vs Iris passthrough {t / i:.2f}")

PY

step "translation inside the filter for a 1 MB request"
"$IRIS_BIN" envoy --config "$WORK/iris.json" --listen "$LISTEN" --admin "$ADMIN" >"$WORK/sizes.envoy.json" 2>/dev/null
"${PIN_ENVOY[@]}" "$VENV/bin/envoy" -c "$WORK/sizes.envoy.json" --concurrency 1 --disable-hot-restart --log-level warn \
  >"$WORK/sizes.log" 2>&1 &
sizes_envoy=$!
wait_http "http://$ADMIN/ready" 30
"${PIN_LOAD[@]}" "$VENV/bin/python" "$ROOT/scripts/bench_sizes.py" "http://$LISTEN" "$KEY"
kill "$sizes_envoy"; wait "$sizes_envoy" 2>/dev/null || true
