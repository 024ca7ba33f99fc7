#!/usr/bin/env bash
# Runs the Iris demo: builds the filter and the CLI, starts the mock provider and Envoy with
# envoy/demo.json, and prints requests to try. Ctrl-C stops everything.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v curl >/dev/null || apt_install curl
ensure_rust wasm32-wasip1
ensure_venv
build

export IRIS_DEMO_OPENAI_KEY="${IRIS_DEMO_OPENAI_KEY:-mock-openai-key}"
export IRIS_DEMO_ANTHROPIC_KEY="${IRIS_DEMO_ANTHROPIC_KEY:-mock-anthropic-key}"
export IRIS_DEMO_GEMINI_KEY="${IRIS_DEMO_GEMINI_KEY:-mock-gemini-key}"
LISTEN="${IRIS_LISTEN:-127.0.0.1:10000}"
ADMIN="${IRIS_ADMIN:-127.0.0.1:9901}"
mkdir -p .run

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

step "starting the mock provider on 127.0.0.1:18000 (log: .run/mock.log)"
"$IRIS_BIN" mock --listen 127.0.0.1:18000 --openai-key "$IRIS_DEMO_OPENAI_KEY" \
  --anthropic-key "$IRIS_DEMO_ANTHROPIC_KEY" --gemini-key "$IRIS_DEMO_GEMINI_KEY" >.run/mock.log 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:18000/__mock/health 20

step "starting Envoy with Iris on $LISTEN (admin $ADMIN; log: .run/envoy.log)"
"$IRIS_BIN" check --config envoy/demo.json
"$IRIS_BIN" run --config envoy/demo.json --listen "$LISTEN" --admin "$ADMIN" --access-log "$ROOT/.run/access.log" \
  >.run/envoy.log 2>&1 &
pids+=($!)
wait_http "http://$ADMIN/ready" 30 || { tail -30 .run/envoy.log; exit 1; }

cat <<MSG

Iris is up on http://$LISTEN (providers: the mock; see envoy/demo.json). Try:

  # OpenAI Chat Completions -> the openai provider
  curl http://$LISTEN/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"gpt-4.1","messages":[{"role":"user","content":"hello"}]}'

  # Anthropic Messages -> the anthropic provider (no client key needed: Iris injects it)
  curl http://$LISTEN/v1/messages -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \\
    -d '{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"hello"}]}'

  # Translation: an OpenAI client reaching Claude (Aperture's "Set up Anthropic" check)
  curl http://$LISTEN/v1/chat/completions -H "Content-Type: application/json" \\
    -d '{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello"}]}'

  # Streaming: add "stream":true
  curl -N http://$LISTEN/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}'

  # An unknown model gets a 404 in the client's error format
  curl http://$LISTEN/v1/messages -H 'content-type: application/json' -d '{"model":"nope","max_tokens":5,"messages":[]}'

Dashboard (sessions, tokens, cost):  http://$LISTEN/ui/
Metrics (Prometheus):                http://$ADMIN/stats/prometheus   (gen_ai_client_token_usage_total, ...)
One JSON record per request:         .run/access.log
Ctrl-C stops the demo.
MSG
wait "${pids[1]}"
