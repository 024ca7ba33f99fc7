//! Response: an OpenAI `chat.completion` (2xx, not streamed) -> an Anthropic `message`.
//!
//! `choices[0].message` becomes the content, in this order: `reasoning_content` (or OpenRouter's
//! `reasoning`) as a leading `thinking` block with an empty `signature` (there is none to give),
//! `content` as a `text` block (left out when null or empty; a `refusal` is a text block too),
//! then `tool_calls` as `tool_use` blocks. Tool arguments are parsed into `input`: `""` is `{}`,
//! and arguments that are not a JSON object become `{}` with a warning in the log rather than a
//! failed response. Ids: see [`super::message_id`] and [`super::tool_id`].

use serde_json::{json, Map, Value};

use super::{generated_tool_id, message_id, stop_reason, tool_id, Usage};
use crate::error::GatewayError;

/// Translates a successful (2xx) non-streamed provider response body for the client.
pub fn response(body: &[u8]) -> Result<Vec<u8>, GatewayError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| {
        log::warn!("OpenAI response body is not JSON: {e}");
        GatewayError::Internal
    })?;
    let Some(completion) = root.as_object() else {
        log::warn!("OpenAI response body is not a JSON object");
        return Err(GatewayError::Internal);
    };
    let choice = completion
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(Value::as_object);
    let Some(choice) = choice else {
        log::warn!("OpenAI response has no choices");
        return Err(GatewayError::Internal);
    };
    let empty = Map::new();
    let message = choice
        .get("message")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let id = message_id(completion.get("id").and_then(Value::as_str), body);

    let mut content = Vec::new();
    let reasoning =
        text_field(message, "reasoning_content").or_else(|| text_field(message, "reasoning"));
    if let Some(thinking) = reasoning {
        content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    let refused = text_field(message, "refusal");
    if let Some(text) = text_of(message.get("content")).or_else(|| refused.map(str::to_string)) {
        content.push(json!({"type": "text", "text": text}));
    }
    let mut calls = 0usize;
    if let Some(list) = message.get("tool_calls").and_then(Value::as_array) {
        for call in list {
            let function = call.get("function");
            let name = function
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let call_id = match call.get("id").and_then(Value::as_str) {
                Some(i) if !i.is_empty() => tool_id(i),
                _ => generated_tool_id(&id, calls),
            };
            let input = parse_arguments(function.and_then(|f| f.get("arguments")), name);
            content.push(json!({"type": "tool_use", "id": call_id, "name": name, "input": input}));
            calls += 1;
        }
    }
    // The deprecated single `function_call`.
    if let Some(call) = message.get("function_call").filter(|c| c.is_object()) {
        let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
        let input = parse_arguments(call.get("arguments"), name);
        content.push(json!({
            "type": "tool_use",
            "id": generated_tool_id(&id, calls),
            "name": name,
            "input": input,
        }));
    }

    let stop = match choice.get("finish_reason").and_then(Value::as_str) {
        Some("stop") if refused.is_some() && text_of(message.get("content")).is_none() => "refusal",
        Some(reason) => stop_reason(reason),
        None if calls > 0 => "tool_use",
        None => "end_turn",
    };
    let usage = completion
        .get("usage")
        .and_then(Value::as_object)
        .map(Usage::from_openai)
        .unwrap_or_default();
    let out = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").and_then(Value::as_str).unwrap_or_default(),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input,
            "output_tokens": usage.output,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": usage.cache_read,
        },
    });
    serde_json::to_vec(&out).map_err(|_| GatewayError::Internal)
}

/// A non-empty string field.
fn text_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The text of an OpenAI message `content`: a string, or text parts joined; `None` when empty.
fn text_of(content: Option<&Value>) -> Option<String> {
    let text = match content? {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// Tool-call `arguments` (a JSON string) -> a `tool_use` `input` object, never failing: empty
/// or missing arguments are `{}`, and so are arguments that are not a JSON object (logged).
/// Some servers send the arguments as an object already; that is taken as it is.
pub(super) fn parse_arguments(arguments: Option<&Value>, name: &str) -> Value {
    let text = match arguments {
        None | Some(Value::Null) => return json!({}),
        Some(Value::Object(o)) => return Value::Object(o.clone()),
        Some(Value::String(s)) => s.trim(),
        Some(other) => {
            log::warn!("tool call {name:?}: arguments are not a string ({other}); using {{}}");
            return json!({});
        }
    };
    if text.is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(_) | Err(_) => {
            let short: String = text.chars().take(200).collect();
            log::warn!("tool call {name:?}: arguments are not a JSON object ({short}); using {{}}");
            json!({})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn translate(body: Value) -> Value {
        serde_json::from_slice(&response(body.to_string().as_bytes()).unwrap()).unwrap()
    }

    fn completion(message: Value, finish: &str) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-x",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
        })
    }

    #[test]
    fn text_message_becomes_an_anthropic_message() {
        let out = translate(completion(
            json!({"role": "assistant", "content": "hi"}),
            "stop",
        ));
        assert_eq!(
            out,
            json!({
                "id": "msg_chatcmpl_1", "type": "message", "role": "assistant", "model": "gpt-x",
                "content": [{"type": "text", "text": "hi"}],
                "stop_reason": "end_turn", "stop_sequence": null,
                "usage": {"input_tokens": 10, "output_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
            })
        );
    }

    #[test]
    fn empty_or_null_content_yields_no_text_block() {
        for content in [json!(""), Value::Null] {
            let out = translate(completion(
                json!({"role": "assistant", "content": content, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "t", "arguments": "{\"a\":1}"}}
                ]}),
                "tool_calls",
            ));
            assert_eq!(
                out["content"],
                json!([{"type": "tool_use", "id": "call_1", "name": "t", "input": {"a": 1}}])
            );
            assert_eq!(out["stop_reason"], "tool_use");
        }
    }

    #[test]
    fn empty_arguments_become_an_empty_input_object() {
        let out = translate(completion(
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "now", "arguments": ""}}
            ]}),
            "tool_calls",
        ));
        assert_eq!(out["content"][0]["input"], json!({}));
    }

    #[test]
    fn unparseable_arguments_become_empty_input_without_failing() {
        for args in [json!("{\"a\":"), json!("[1,2]"), json!(7)] {
            let out = translate(completion(
                json!({"role": "assistant", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "t", "arguments": args}}
                ]}),
                "tool_calls",
            ));
            assert_eq!(out["content"][0]["input"], json!({}));
        }
    }

    #[test]
    fn tool_call_ids_outside_anthropics_charset_are_sanitised() {
        let out = translate(completion(
            json!({"role": "assistant", "tool_calls": [
                {"id": "functions.Bash:0", "type": "function", "function": {"name": "Bash", "arguments": "{}"}},
                {"type": "function", "function": {"name": "Bash", "arguments": "{}"}}
            ]}),
            "tool_calls",
        ));
        assert_eq!(out["content"][0]["id"], tool_id("functions.Bash:0"));
        let generated = out["content"][1]["id"].as_str().unwrap();
        assert!(
            generated.starts_with("toolu_iris_") && generated.ends_with("_1"),
            "{generated}"
        );
    }

    #[test]
    fn reasoning_comes_first_as_a_thinking_block() {
        for key in ["reasoning_content", "reasoning"] {
            let out = translate(completion(
                json!({"role": "assistant", "content": "4", key: "2+2"}),
                "stop",
            ));
            assert_eq!(
                out["content"],
                json!([{"type": "thinking", "thinking": "2+2", "signature": ""}, {"type": "text", "text": "4"}])
            );
        }
    }

    #[test]
    fn cached_tokens_become_cache_read_input_tokens() {
        let mut body = completion(json!({"role": "assistant", "content": "x"}), "stop");
        body["usage"]["prompt_tokens_details"] = json!({"cached_tokens": 8});
        let out = translate(body);
        assert_eq!(
            out["usage"],
            json!({"input_tokens": 2, "output_tokens": 3, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 8})
        );
    }

    #[test]
    fn refusals_are_text_with_stop_reason_refusal() {
        let out = translate(completion(
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
            "stop",
        ));
        assert_eq!(
            out["content"],
            json!([{"type": "text", "text": "I can't help with that."}])
        );
        assert_eq!(out["stop_reason"], "refusal");
        let out = translate(completion(
            json!({"role": "assistant", "content": ""}),
            "content_filter",
        ));
        assert_eq!(out["stop_reason"], "refusal");
        assert_eq!(out["content"], json!([]));
    }

    #[test]
    fn bodies_without_choices_are_errors() {
        assert_eq!(response(b"nope"), Err(GatewayError::Internal));
        assert_eq!(response(b"{\"choices\":[]}"), Err(GatewayError::Internal));
    }
}
