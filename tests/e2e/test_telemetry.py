"""Usage, cost and sessions through the real Envoy: Prometheus metrics, one access-log record
per request, the sessions API, and the dashboard page rendered by headless Chromium."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import time
import urllib.request

import anthropic
import openai
import pytest

from conftest import ROOT, TARGET, request, session_records


def prometheus(gateway):
    with urllib.request.urlopen(gateway.admin + "/stats/prometheus", timeout=5) as r:
        return r.read().decode()


def counter(text, name, **labels):
    """The value of a Prometheus counter with exactly these labels (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if got == labels:
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def wait_session(gateway, session, requests, headers=None, secs=5):
    """Session updates are batched off the request path (every 250 ms): poll until they land."""
    deadline = time.time() + secs
    while True:
        r = request(gateway.url + "/api/sessions/" + session, method="GET", headers=headers)
        if r.status == 200 and r.json()["session"]["requests"] >= requests:
            return r.json()
        if time.time() > deadline:
            raise AssertionError(f"session {session} has not got {requests} requests: {r.status} {r.body[:300]}")
        time.sleep(0.05)


def test_token_counters_access_records_and_sessions_for_several_formats(gateway, mock):
    session = f"e2e-{time.time_ns()}"
    headers = {"x-session-id": session}
    before = prometheus(gateway)
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="-", max_retries=0, default_headers=headers)
    r1 = client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "one two three"}])
    stream = client.chat.completions.create(model="gpt-4.1-mini", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "four five"}])
    r2 = [c for c in stream][-1]
    ant = anthropic.Anthropic(base_url=gateway.url, api_key="-", max_retries=0, default_headers=headers)
    with ant.messages.stream(model="claude-haiku-4-5", max_tokens=50,
                             messages=[{"role": "user", "content": "six seven eight"}]) as s:
        m3 = s.get_final_message()
    # A translated request: OpenAI client, Anthropic provider.
    r4 = client.chat.completions.create(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "nine"}])
    # Iris's own error is a record too.
    assert gateway.post("/v1/chat/completions", {"model": "nope", "messages": []}, headers).status == 404

    # Prometheus: token counters moved by exactly these requests' usage.
    after = prometheus(gateway)
    delta = lambda **l: counter(after, "gen_ai_client_token_usage_total", **l) - counter(before, "gen_ai_client_token_usage_total", **l)
    assert delta(provider="openai", model="gpt-4.1-mini", token_type="input") == r1.usage.prompt_tokens + r2.usage.prompt_tokens
    assert delta(provider="openai", model="gpt-4.1-mini", token_type="output") == r1.usage.completion_tokens + r2.usage.completion_tokens
    assert delta(provider="anthropic", model="claude-haiku-4-5", token_type="output") == m3.usage.output_tokens
    assert delta(provider="anthropic", model="claude-sonnet-4-5", token_type="input") == r4.usage.prompt_tokens
    assert counter(after, "gen_ai_client_requests_total", provider="openai", model="gpt-4.1-mini") >= 2
    assert counter(after, "gen_ai_client_errors_total", provider="none", model="none", error_type="unknown_model") >= 1
    assert "gen_ai_client_operation_duration_milliseconds_bucket{" in after
    assert "gen_ai_server_time_to_first_token_milliseconds_count{" in after
    assert counter(after, "iris_cost_usd_micros_total", provider="openai", model="gpt-4.1-mini") > 0
    # Labels carry configured names only: nothing the client typed ("nope") becomes a label.
    assert 'model="nope"' not in after

    # Access log: one record per request, in order, with the right values.
    recs = session_records(gateway, session, 5)
    assert [r["model_requested"] for r in recs] == ["gpt-4.1-mini", "gpt-4.1-mini", "claude-haiku-4-5",
                                                     "claude-sonnet-4-5", "nope"]
    first = recs[0]
    assert (first["user"], first["provider"], first["format"], first["status"], first["stream"]) == \
        ("anonymous", "openai", "openai_chat", 200, False)
    assert (first["input_tokens"], first["output_tokens"]) == (r1.usage.prompt_tokens, r1.usage.completion_tokens)
    expected_cost = (r1.usage.prompt_tokens * 0.40 + r1.usage.completion_tokens * 1.60) / 1e6
    assert first["cost_usd"] == pytest.approx(expected_cost)
    assert recs[1]["stream"] is True and recs[1]["ttft_ms"] is not None
    assert recs[3]["format"] == "openai_chat" and recs[3]["upstream_format"] == "anthropic_messages"
    assert recs[4]["status"] == 404 and recs[4]["error"] == "unknown_model" and recs[4]["cost_usd"] is None

    # The sessions API: the session with its models, token counts and timestamps.
    detail = wait_session(gateway, session, 5)
    listing = request(gateway.url + "/api/sessions", method="GET").json()
    mine = next(s for s in listing["sessions"] if s["id"] == session)
    assert mine["requests"] == 5
    assert set(mine["models"]) == {"gpt-4.1-mini", "claude-haiku-4-5", "claude-sonnet-4-5", "nope"}
    assert mine["input_tokens"] == sum(r["input_tokens"] or 0 for r in recs)
    assert mine["output_tokens"] == sum(r["output_tokens"] or 0 for r in recs)
    assert mine["first_seen"] <= mine["last_seen"]
    assert listing["sessions"][0]["last_seen"] >= mine["last_seen"] - 1  # newest first
    assert len(detail["requests"]) == 5 and detail["requests"][0]["model_requested"] == "nope"


def test_claude_code_session_id_groups_requests(gateway, mock):
    sid = f"0e8c{time.time_ns()}"
    meta = {"user_id": f"user_abc_account_def_session_{sid}"}
    ant = anthropic.Anthropic(base_url=gateway.url, api_key="-", max_retries=0)
    for text in ("first", "second"):
        ant.messages.create(model="claude-haiku-4-5", max_tokens=20, metadata=meta,
                            messages=[{"role": "user", "content": text}])
    assert wait_session(gateway, sid, 2)["session"]["requests"] == 2


def test_sessions_are_private_to_their_user_unless_admin(keyed_gateway, mock):
    from conftest import USER_KEYS
    for user in ("alice@example.com", "bob@example.com"):
        model = "claude-haiku-4-5" if user.startswith("alice") else "gpt-4.1"
        path = "/v1/messages" if user.startswith("alice") else "/v1/chat/completions"
        body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": f"hi from {user}"}]}
        if path.endswith("completions"):
            body.pop("max_tokens")
        r = keyed_gateway.post(path, body, {"authorization": "Bearer " + USER_KEYS[user], "anthropic-version": "2023-06-01",
                                            "x-session-id": f"private-{user.split('@')[0]}"})
        assert r.status == 200, r.body
        wait_session(keyed_gateway, f"private-{user.split('@')[0]}", 1, {"authorization": "Bearer " + USER_KEYS[user]})
    users = lambda key: {s["user"] for s in request(keyed_gateway.url + "/api/sessions", method="GET",
                                                     headers={"authorization": "Bearer " + key}).json()["sessions"]}
    assert users(USER_KEYS["bob@example.com"]) == {"bob@example.com"}
    assert {"alice@example.com", "bob@example.com"} <= users(USER_KEYS["carol@example.com"])  # carol is admin
    assert request(keyed_gateway.url + "/api/sessions", method="GET").status == 401


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is not installed (scripts/test.sh installs Debian's chromium)")


def test_dashboard_renders_the_session_list_in_chromium(gateway, mock, tmp_path):
    session = f"ui-{time.time_ns()}"
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="-", max_retries=0,
                           default_headers={"x-session-id": session})
    client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "dashboard test"}])
    wait_session(gateway, session, 1)
    artifacts = TARGET / "e2e-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    screenshot = artifacts / "dashboard.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--window-size=1280,900"]
    url = gateway.url + "/ui/"
    dom = subprocess.run([chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    subprocess.run([chromium(), *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=120)
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, "no screenshot"
    row = re.search(r'<tr[^>]*data-session-id="%s"[^>]*>(.*?)</tr>' % re.escape(session), dom, re.S)
    assert row, "the session is not in the rendered list:\n" + dom[:3000]
    cells = row.group(1)
    assert "anonymous" in cells and "gpt-4.1" in cells
    assert re.search(r'class="[^"]*input-tokens[^"]*"[^>]*>\s*2\s*<', cells), cells
