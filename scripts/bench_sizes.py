"""Translation cost inside the wasm filter for a large (1 MB) request: the same conversation
sent through Envoy + Iris natively (passthrough) and translated, timed end to end on loopback
against the mock provider; the difference is what translation costs in the filter.
Usage: bench_sizes.py GATEWAY_URL KEY (run by scripts/bench.sh)."""

import http.client
import json
import statistics
import sys
import time

URL, KEY = sys.argv[1], sys.argv[2]
HOST, PORT = URL.split("//")[1].split(":")


def post(path, body, headers):
    conn = http.client.HTTPConnection(HOST, int(PORT), timeout=120)
    data = json.dumps(body).encode()
    start = time.perf_counter()
    conn.request("POST", path, data, {"content-type": "application/json", **headers})
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    assert resp.status == 200, payload[:300]
    return elapsed, payload


def median_ms(path, body, headers, n):
    post(path, body, headers)  # warm-up
    return statistics.median(post(path, body, headers)[0] for _ in range(n)) * 1000


turn = "Please review this change and tell me what could break. " * 4
messages = []
while len(json.dumps(messages)) < 1024 * 1024:
    messages.append({"role": "user" if len(messages) % 2 == 0 else "assistant", "content": turn})
if len(messages) % 2 == 0:
    messages.append({"role": "user", "content": "and now?"})
anthropic = {"anthropic-version": "2023-06-01", "x-api-key": KEY}

big_native = median_ms("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": messages}, anthropic, 15)
big_translated = median_ms("/v1/chat/completions", {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": messages}, {}, 15)
print(f"1 MB request, Anthropic client -> Anthropic provider (passthrough): {big_native:8.1f} ms")
print(f"1 MB request, OpenAI client -> Anthropic provider (translated):     {big_translated:8.1f} ms"
      f"  (+{big_translated - big_native:.1f} ms)")

# Long streams: end-to-end timing on loopback is dominated by how the mock and the client
# write and read small events, so it cannot isolate the filter's share; the per-event cost is
# measured natively by `cargo bench --bench translate` instead.
