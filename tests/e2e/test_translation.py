"""Translation through the real Envoy: the official OpenAI SDK against an Anthropic-format
provider (issue 3) and the official Anthropic SDK against an OpenAI-format provider (issue 4).
The mock provider rejects what the real APIs would reject, so a request that reaches it and
succeeds was translated into a valid request."""

import base64
import json
import subprocess

import anthropic
import openai
import pytest

from conftest import KEYS

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
WEATHER_TOOL_OPENAI = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}
WEATHER_TOOL_ANTHROPIC = {"name": "get_weather", "description": "Weather for a city",
                          "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                                           "required": ["location"]}}


def oa(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="-", max_retries=0)


def ant(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key="-", max_retries=0)


# ---- OpenAI clients -> Anthropic provider ----

def test_seed_curl_reaches_claude_through_chat_completions(gateway, mock):
    """Aperture's verification command, unchanged, against an x-api-key Anthropic provider."""
    out = subprocess.run(
        ["curl", "-sS", gateway.url + "/v1/chat/completions", "-H", "Content-Type: application/json",
         "-d", '{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello"}]}'],
        capture_output=True, text=True, check=True).stdout
    r = json.loads(out)
    assert r["object"] == "chat.completion"
    assert r["choices"][0]["message"]["content"] == "Hello from the mock Anthropic! You said: hello"
    assert r["choices"][0]["finish_reason"] == "stop"
    got = mock.last()
    assert got["path"] == "/v1/messages"
    assert got["headers"]["x-api-key"] == KEYS["E2E_ANTHROPIC_KEY"]
    assert got["headers"]["anthropic-version"]
    assert "authorization" not in got["headers"]
    body = json.loads(got["body"])
    assert body["model"] == "claude-sonnet-4-5" and body["max_tokens"] > 0
    assert body["messages"] == [{"role": "user", "content": "hello"}] or \
        body["messages"][0]["content"] in ("hello", [{"type": "text", "text": "hello"}])


def test_openai_sdk_chat_with_system_messages_and_usage(gateway, mock):
    r = oa(gateway).chat.completions.create(
        model="claude-sonnet-4-5", max_completion_tokens=300,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "developer", "content": "Be kind."},
                  {"role": "user", "content": "hello there"}])
    assert r.choices[0].message.content == "Hello from the mock Anthropic! You said: hello there"
    assert r.usage.prompt_tokens == 6 and r.usage.completion_tokens > 0
    body = json.loads(mock.last()["body"])
    assert body["max_tokens"] == 300
    system = body["system"] if isinstance(body["system"], str) else " ".join(b["text"] for b in body["system"])
    assert "Be brief." in system and "Be kind." in system


def test_openai_sdk_streaming_from_claude(gateway, mock):
    stream = oa(gateway).chat.completions.create(
        model="claude-haiku-4-5", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hello"}])
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the mock Anthropic! You said: hello"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_openai_sdk_tool_call_round_trip_with_claude(gateway, mock):
    client = oa(gateway)
    messages = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
    r = client.chat.completions.create(model="claude-sonnet-4-5", messages=messages, tools=[WEATHER_TOOL_OPENAI])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "22C and sunny"}]
    r = client.chat.completions.create(model="claude-sonnet-4-5", messages=messages, tools=[WEATHER_TOOL_OPENAI])
    assert r.choices[0].finish_reason == "stop"
    assert "22C and sunny" in r.choices[0].message.content
    sent = json.loads(mock.last()["body"])["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[2]["content"][0]["type"] == "tool_result"


def test_openai_sdk_streaming_tool_calls_from_claude(gateway, mock):
    stream = oa(gateway).chat.completions.create(
        model="claude-sonnet-4-5", stream=True, tools=[WEATHER_TOOL_OPENAI],
        messages=[{"role": "user", "content": "weather in Paris please"}])
    calls, finish = {}, None
    for c in stream:
        if not c.choices:
            continue
        for tc in c.choices[0].delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
            if tc.id:
                assert entry["id"] is None, "id only in the first delta of an index"
                entry["id"] = tc.id
                entry["name"] = tc.function.name
            entry["args"] += tc.function.arguments or ""
        finish = c.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert json.loads(calls[0]["args"]) == {"location": "Paris"}


def test_openai_sdk_image_input_reaches_claude_as_base64(gateway, mock):
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    r = oa(gateway).chat.completions.create(model="claude-sonnet-4-5", messages=[
        {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                     {"type": "image_url", "image_url": {"url": url}}]}])
    assert r.choices[0].message.content.endswith("what is this")
    blocks = json.loads(mock.last()["body"])["messages"][0]["content"]
    image = next(b for b in blocks if b["type"] == "image")
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}


def test_parameters_claude_cannot_honour_are_400_and_not_sent(gateway, mock):
    with pytest.raises(openai.BadRequestError) as e:
        oa(gateway).chat.completions.create(model="claude-sonnet-4-5", n=2,
                                            messages=[{"role": "user", "content": "x"}])
    assert "n" in str(e.value)
    assert mock.requests() == []


def test_anthropic_errors_come_back_in_openai_shape(gateway, mock):
    r = gateway.post("/v1/chat/completions", {"model": "anthropic/mock-error-429",
                                              "messages": [{"role": "user", "content": "x"}]})
    assert r.status == 429 and r.headers.get("retry-after") == "7"
    err = r.json()["error"]
    assert err["message"] and "type" in err
    assert "e2e-anthropic-key" not in r.body.decode()
    with pytest.raises(openai.InternalServerError):
        oa(gateway).chat.completions.create(model="anthropic/mock-error-529",
                                            messages=[{"role": "user", "content": "x"}])


def test_mid_stream_anthropic_error_ends_the_openai_stream_in_band(gateway, mock):
    stream = oa(gateway).chat.completions.create(model="anthropic/mock-stream-error", stream=True,
                                                 messages=[{"role": "user", "content": "hello"}])
    with pytest.raises(openai.APIError) as e:
        for _ in stream:
            pass
    assert "Overloaded" in str(e.value)


# ---- Anthropic clients -> OpenAI provider ----

def test_anthropic_sdk_reaches_gpt_through_messages(gateway, mock):
    m = ant(gateway).messages.create(model="gpt-4.1", max_tokens=200, system="Be brief.",
                                     messages=[{"role": "user", "content": "hello"}])
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].text == "Hello from the mock OpenAI chat! You said: hello"
    assert m.stop_reason == "end_turn"
    assert m.id.startswith("msg_")
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0
    got = mock.last()
    assert got["path"] == "/v1/chat/completions"
    assert got["headers"]["authorization"] == "Bearer " + KEYS["E2E_OPENAI_KEY"]
    assert not any(h.startswith("anthropic-") for h in got["headers"])
    body = json.loads(got["body"])
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_anthropic_sdk_stream_accumulates_a_final_message_from_gpt(gateway, mock):
    with ant(gateway).messages.stream(model="gpt-4.1", max_tokens=200,
                                      messages=[{"role": "user", "content": "hello"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello from the mock OpenAI chat! You said: hello"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 9
    assert json.loads(mock.last()["body"])["stream_options"] == {"include_usage": True}


def test_anthropic_sdk_tool_use_round_trip_with_gpt(gateway, mock):
    client = ant(gateway)
    messages = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
    m = client.messages.create(model="gpt-4.1", max_tokens=200, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC])
    assert m.stop_reason == "tool_use"
    use = next(b for b in m.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"location": "Paris"}
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in m.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "22C and sunny"}]}]
    m = client.messages.create(model="gpt-4.1", max_tokens=200, messages=messages, tools=[WEATHER_TOOL_ANTHROPIC])
    assert m.stop_reason == "end_turn"
    assert "22C and sunny" in m.content[0].text
    sent = json.loads(mock.last()["body"])["messages"]
    assert [x["role"] for x in sent] == ["user", "assistant", "tool"]


def test_anthropic_sdk_streaming_tool_use_from_gpt(gateway, mock):
    with ant(gateway).messages.stream(model="gpt-4.1", max_tokens=200, tools=[WEATHER_TOOL_ANTHROPIC],
                                      messages=[{"role": "user", "content": "weather in Paris please"}]) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use"
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"location": "Paris"}


def test_anthropic_sdk_image_reaches_gpt_as_data_url(gateway, mock):
    data = base64.b64encode(PNG).decode()
    m = ant(gateway).messages.create(model="gpt-4.1", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "text", "text": "what is this"}]}])
    assert m.content[0].text.endswith("what is this")
    parts = json.loads(mock.last()["body"])["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": "data:image/png;base64," + data}} in parts


def test_count_tokens_for_an_openai_model_is_an_estimate_from_iris(gateway, mock):
    r = ant(gateway).messages.count_tokens(model="gpt-4.1", messages=[{"role": "user", "content": "x" * 400}])
    assert r.input_tokens == 100
    assert mock.requests() == []


def test_openai_errors_come_back_in_anthropic_shape(gateway, mock):
    with pytest.raises(anthropic.RateLimitError) as e:
        ant(gateway).messages.create(model="openai/mock-error-429", max_tokens=5,
                                     messages=[{"role": "user", "content": "x"}])
    assert e.value.response.headers.get("retry-after") == "7"
    body = e.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"


def test_mid_stream_openai_error_becomes_an_anthropic_error_event(gateway, mock):
    with pytest.raises(anthropic.APIStatusError):
        with ant(gateway).messages.stream(model="openai/mock-stream-error", max_tokens=50,
                                          messages=[{"role": "user", "content": "hello"}]) as s:
            for _ in s.text_stream:
                pass
