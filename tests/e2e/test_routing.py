"""Routing, credentials and passthrough through the real Envoy, with the official SDKs and
curl as clients; each test checks what the client got and what the provider received."""

import json
import subprocess

import anthropic
import openai
import pytest

from conftest import KEYS

CLIENT_SECRET = "client-secret-must-not-leak"


def assert_no_client_secret(received):
    for name, value in received["headers"].items():
        assert CLIENT_SECRET not in value, f"client credential leaked upstream in {name}"


def openai_client(gateway, **kw):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_SECRET, max_retries=0, **kw)


def anthropic_client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_SECRET, max_retries=0)


def test_openai_sdk_chat_reaches_the_openai_provider_with_its_key(gateway, mock):
    client = openai_client(gateway)
    r = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hello"}])
    assert r.choices[0].message.content == "Hello from the mock OpenAI chat! You said: hello"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    got = mock.last()
    assert got["path"] == "/v1/chat/completions"  # base ends in /v1: no /v1/v1
    assert got["headers"]["host"] == mock.url.split("//")[1]
    assert got["headers"]["authorization"] == "Bearer " + KEYS["E2E_OPENAI_KEY"]
    assert "x-api-key" not in got["headers"]
    assert got["headers"]["x-team"] == "e2e"
    assert "x-iris-cluster" not in got["headers"]
    assert not any(h.startswith("x-envoy-") for h in got["headers"])
    assert json.loads(got["body"]) == {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hello"}]}
    assert_no_client_secret(got)


def test_openai_sdk_streaming_chat_passes_through(gateway, mock):
    client = openai_client(gateway)
    stream = client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "hello"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock OpenAI chat! You said: hello"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 9
    assert json.loads(mock.last()["body"])["stream"] is True


def test_anthropic_sdk_messages_reach_the_anthropic_provider_with_x_api_key(gateway, mock):
    client = anthropic_client(gateway)
    m = client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                               messages=[{"role": "user", "content": "hello"}])
    assert m.content[0].text == "Hello from the mock Anthropic! You said: hello"
    got = mock.last()
    assert got["path"] == "/v1/messages"
    assert got["headers"]["x-api-key"] == KEYS["E2E_ANTHROPIC_KEY"]
    assert "authorization" not in got["headers"]
    assert got["headers"]["anthropic-version"]  # the SDK's header is kept
    assert_no_client_secret(got)


def test_anthropic_sdk_streaming_passes_through(gateway, mock):
    client = anthropic_client(gateway)
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=100,
                                messages=[{"role": "user", "content": "hello there"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello from the mock Anthropic! You said: hello there"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_seed_curl_commands_work_without_client_credentials(gateway, mock):
    """The exact commands from the issue, plain and streaming."""
    out = subprocess.run(
        ["curl", "-sS", gateway.url + "/v1/chat/completions", "-H", "content-type: application/json",
         "-d", '{"model":"gpt-4.1","messages":[{"role":"user","content":"hello"}]}'],
        capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["choices"][0]["message"]["content"].endswith("You said: hello")
    out = subprocess.run(
        ["curl", "-sS", gateway.url + "/v1/messages", "-H", "content-type: application/json",
         "-H", "anthropic-version: 2023-06-01",
         "-d", '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hello"}]}'],
        capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["content"][0]["text"].endswith("You said: hello")
    out = subprocess.run(
        ["curl", "-sSN", gateway.url + "/v1/messages", "-H", "content-type: application/json",
         "-H", "anthropic-version: 2023-06-01",
         "-d", '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello"}]}'],
        capture_output=True, text=True, check=True).stdout
    assert "event: message_start" in out and "event: message_stop" in out
    out = subprocess.run(
        ["curl", "-sSN", gateway.url + "/v1/chat/completions", "-H", "content-type: application/json",
         "-d", '{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hello"}]}'],
        capture_output=True, text=True, check=True).stdout
    assert out.rstrip().endswith("data: [DONE]")


def test_every_client_credential_header_is_removed(gateway, mock):
    r = gateway.post("/v1/chat/completions", {"model": "gpt-4.1", "messages": [{"role": "user", "content": "x"}]},
                     {"authorization": "Bearer " + CLIENT_SECRET, "x-api-key": CLIENT_SECRET,
                      "api-key": CLIENT_SECRET, "x-goog-api-key": CLIENT_SECRET,
                      "proxy-authorization": "Basic " + CLIENT_SECRET})
    assert r.status == 200, r.body
    got = mock.last()
    assert_no_client_secret(got)
    assert got["headers"]["authorization"] == "Bearer " + KEYS["E2E_OPENAI_KEY"]


def test_client_cannot_pick_the_cluster(gateway, mock):
    clusters = [c["name"] for c in json.loads(gateway.bootstrap_path.read_text())["static_resources"]["clusters"]]
    openai_cluster = next(c for c in clusters if c.endswith("_openai"))
    r = gateway.post("/v1/chat/completions", {"model": "offline-model", "messages": [{"role": "user", "content": "x"}]},
                     {"x-iris-cluster": openai_cluster})
    # offline-model lives on a dead port: if the header had been honoured this would be a 200.
    assert r.status == 503
    assert mock.requests() == []


def test_passthrough_provider_forwards_the_clients_own_credential(gateway, mock):
    client = anthropic.Anthropic(base_url=gateway.url, api_key=KEYS["E2E_ANTHROPIC_KEY"], max_retries=0)
    m = client.messages.create(model="claude-opus-4-8", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert m.content[0].text.endswith("You said: hi")
    # Current Anthropic SDKs send the key as a bearer token; it arrives unchanged.
    assert mock.last()["headers"]["authorization"] == "Bearer " + KEYS["E2E_ANTHROPIC_KEY"]
    r = gateway.post("/v1/messages", {"model": "claude-opus-4-8", "max_tokens": 5,
                                      "messages": [{"role": "user", "content": "hi"}]},
                     {"anthropic-version": "2023-06-01", "x-api-key": KEYS["E2E_ANTHROPIC_KEY"],
                      "proxy-authorization": "Basic abc"})
    assert r.status == 200, r.body
    assert mock.last()["headers"]["x-api-key"] == KEYS["E2E_ANTHROPIC_KEY"]
    assert "proxy-authorization" not in mock.last()["headers"]
    # With a wrong client key the provider's own 401 comes back, in Anthropic's shape.
    client = anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        client.messages.create(model="claude-opus-4-8", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert e.value.status_code == 401
    assert mock.last()["headers"]["authorization"] == "Bearer wrong"


def test_provider_prefix_selects_the_provider_and_is_stripped(gateway, mock):
    client = anthropic_client(gateway)
    m = client.messages.create(model="anthropic/claude-sonnet-4-5", max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])
    assert m.model == "claude-sonnet-4-5"
    body = mock.last()["body"]
    assert json.loads(body)["model"] == "claude-sonnet-4-5"
    assert int(mock.last()["headers"].get("content-length", len(body.encode()))) == len(body.encode())


def test_responses_api_passes_through(gateway, mock):
    client = openai_client(gateway)
    r = client.responses.create(model="gpt-4.1", input="hello")
    assert r.output_text == "Hello from the mock OpenAI responses! You said: hello"
    assert mock.last()["path"] == "/v1/responses"
    events = list(client.responses.create(model="gpt-4.1", input="hello", stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens > 0


def test_gemini_generate_content_passes_through_and_drops_the_key_param(gateway, mock):
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    r = gateway.post("/v1beta/models/gemini-2.5-pro:generateContent?key=" + CLIENT_SECRET, body)
    assert r.status == 200, r.body
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"].endswith("You said: hello")
    got = mock.last()
    assert got["path"] == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert CLIENT_SECRET not in got["query"]
    assert got["headers"]["x-goog-api-key"] == KEYS["E2E_GEMINI_KEY"]
    r = gateway.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body)
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert b"usageMetadata" in r.body


def test_large_prompts_fit_through_envoys_buffers(gateway, mock):
    big = "word " * (600 * 1024)  # 3 MB of prompt, as coding agents send
    r = gateway.post("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 5,
                                      "messages": [{"role": "user", "content": big}]},
                     {"anthropic-version": "2023-06-01"})
    assert r.status == 200, r.body[:300]
    assert len(mock.last()["body"]) > 3_000_000


def test_count_tokens_is_routed_like_messages(gateway, mock):
    r = gateway.post("/v1/messages/count_tokens", {"model": "claude-sonnet-4-5",
                                                   "messages": [{"role": "user", "content": "one two three"}]},
                     {"anthropic-version": "2023-06-01"})
    assert r.status == 200, r.body
    assert r.json()["input_tokens"] == 3
    assert mock.last()["path"] == "/v1/messages/count_tokens"
