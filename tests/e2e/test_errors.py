"""Errors through the real Envoy: Iris's own errors come in the client's API shape with the
right status and nothing reaches a provider; provider errors come back, not swallowed."""

import json

import anthropic
import openai
import pytest

from conftest import MAX_REQUEST_BYTES

ANTHROPIC = {"anthropic-version": "2023-06-01"}


def assert_openai_error(r, status):
    assert r.status == status, r.body
    err = r.json()["error"]
    assert err["message"] and "type" in err
    return err


def assert_anthropic_error(r, status, kind):
    assert r.status == status, r.body
    v = r.json()
    assert v["type"] == "error" and v["error"]["type"] == kind and v["error"]["message"]
    return v["error"]


def test_unknown_model_is_404_in_each_shape_and_nothing_is_sent(gateway, mock):
    err = assert_openai_error(gateway.post("/v1/chat/completions", {"model": "nope", "messages": []}), 404)
    assert err["code"] == "model_not_found"
    assert_anthropic_error(gateway.post("/v1/messages", {"model": "nope", "max_tokens": 1, "messages": []}, ANTHROPIC),
                           404, "not_found_error")
    r = gateway.post("/v1beta/models/nope:generateContent", {"contents": []})
    assert r.status == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    assert mock.requests() == []


def test_sdks_raise_their_own_not_found_errors(gateway, mock):
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="-", max_retries=0)
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "nope" in str(e.value)
    client = anthropic.Anthropic(base_url=gateway.url, api_key="-", max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="nope", max_tokens=1, messages=[{"role": "user", "content": "x"}])
    assert mock.requests() == []


def test_bad_json_missing_model_and_empty_body_are_400(gateway, mock):
    assert_openai_error(gateway.post("/v1/chat/completions", b'{"model": "gpt-4.1", '), 400)
    assert_openai_error(gateway.post("/v1/chat/completions", b'[1, 2]'), 400)
    assert_anthropic_error(gateway.post("/v1/messages", {"max_tokens": 1, "messages": []}, ANTHROPIC),
                           400, "invalid_request_error")
    assert_anthropic_error(gateway.post("/v1/messages", b"", ANTHROPIC), 400, "invalid_request_error")
    assert mock.requests() == []


def declared_too_large(gateway, path, headers):
    """Sends headers declaring a body over the limit, and a few bytes of it. Iris answers from
    the headers alone (nothing is buffered); a client that kept sending megabytes after the
    answer would have its connection reset, which is why only a few bytes follow here."""
    import http.client
    host, port = gateway.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", path)
    for k, v in {"content-type": "application/json", "content-length": str(MAX_REQUEST_BYTES + 1), **headers}.items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(b'{"model": "claude-sonnet-4-5", "messages": [')
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def test_oversized_body_is_413_in_the_clients_shape(gateway, mock):
    status, body = declared_too_large(gateway, "/v1/messages", ANTHROPIC)
    assert status == 413 and body["type"] == "error" and body["error"]["type"] == "request_too_large"
    status, body = declared_too_large(gateway, "/v1/chat/completions", {})
    assert status == 413 and body["error"]["code"] == "request_too_large"
    assert mock.requests() == []


def test_oversized_chunked_body_without_content_length_is_413(gateway, mock):
    import http.client
    host, port = gateway.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    chunk = b"x" * (256 * 1024)  # the limit is crossed by the last chunk, so the client is done sending

    def body():
        yield b'{"model":"gpt-4.1","messages":[{"role":"user","content":"'
        for _ in range(MAX_REQUEST_BYTES // len(chunk) + 1):
            yield chunk
        yield b'"}]}'

    conn.request("POST", "/v1/chat/completions", body(), {"content-type": "application/json"}, encode_chunked=True)
    resp = conn.getresponse()
    assert resp.status == 413
    assert b"request_too_large" in resp.read()
    assert mock.requests() == []


def test_unknown_path_and_wrong_method(gateway, mock):
    assert_openai_error(gateway.post("/v1/embeddings", {"model": "gpt-4.1", "input": "x"}), 404)
    assert_openai_error(gateway.post("/v1/chat/completions", None, method="GET"), 405)
    assert mock.requests() == []


def test_format_no_provider_of_the_model_can_take_is_400(gateway, mock):
    # Chat Completions and Messages translate into each other; Responses -> Messages does not.
    err = assert_openai_error(gateway.post("/v1/responses", {"model": "claude-sonnet-4-5", "input": "x"}), 400)
    assert "anthropic" in err["message"] and "OpenAI Responses" in err["message"]
    r = gateway.post("/v1beta/models/claude-sonnet-4-5:generateContent", {"contents": []})
    assert r.status == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert mock.requests() == []


def test_provider_errors_come_back_with_status_and_retry_after(gateway, mock):
    r = gateway.post("/v1/chat/completions", {"model": "mock-error-429", "messages": [{"role": "user", "content": "x"}]})
    assert r.status == 429 and r.headers.get("retry-after") == "7"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    r = gateway.post("/v1/messages", {"model": "mock-error-529", "max_tokens": 5,
                                      "messages": [{"role": "user", "content": "x"}]}, ANTHROPIC)
    assert_anthropic_error(r, 529, "overloaded_error")
    client = anthropic.Anthropic(base_url=gateway.url, api_key="-", max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="mock-error-429", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_unreachable_provider_is_503_in_the_clients_shape(gateway, mock):
    err = assert_openai_error(gateway.post("/v1/chat/completions", {"model": "offline-model", "messages": []}), 503)
    assert err["type"] == "server_error" and "offline" in err["message"]
    r = gateway.post("/v1/chat/completions", {"model": "offline/offline-model", "messages": []})
    assert r.status == 503


def test_mid_stream_provider_error_reaches_the_client(gateway, mock):
    client = anthropic.Anthropic(base_url=gateway.url, api_key="-", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as e:
        with client.messages.stream(model="mock-stream-error", max_tokens=50,
                                    messages=[{"role": "user", "content": "hello"}]) as s:
            for _ in s.text_stream:
                pass
    assert "Overloaded" in str(e.value)
