//! Anthropic Messages response body -> OpenAI `chat.completion` body.

use super::{set_finish_reason, AnthropicUsage};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

/// [`super::response()`] with an explicit `created` timestamp (seconds since the epoch).
pub fn response_at(body: &[u8], created: u64) -> Result<Vec<u8>, GatewayError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        log::warn!("the provider's response is not JSON: {e}");
        GatewayError::Internal
    })?;
    let Some(msg) = value.as_object().filter(|m| m.contains_key("content")) else {
        log::warn!("the provider's response is not an Anthropic message");
        return Err(GatewayError::Internal);
    };
    let text_of = |key: &str| msg.get(key).and_then(Value::as_str).unwrap_or("");

    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let blocks = msg.get("content").and_then(Value::as_array);
    for block in blocks.into_iter().flatten() {
        let str_of = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("");
        match str_of("type") {
            "text" => text.push_str(str_of("text")),
            "thinking" => {
                reasoning.push_str(str_of("thinking"));
                thinking_blocks.push(block.clone());
            }
            "redacted_thinking" => thinking_blocks.push(block.clone()),
            "tool_use" => {
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_calls.push(json!({
                    "id": str_of("id"),
                    "type": "function",
                    "function": {"name": str_of("name"), "arguments": input.to_string()},
                }));
            }
            other => log::debug!("dropping Anthropic {other:?} block: no OpenAI equivalent"),
        }
    }

    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !thinking_blocks.is_empty() {
        message.insert("reasoning_content".into(), json!(reasoning));
        message.insert("thinking_blocks".into(), Value::Array(thinking_blocks));
    }

    let mut choice = Map::new();
    choice.insert("index".into(), json!(0));
    choice.insert("message".into(), Value::Object(message));
    choice.insert("logprobs".into(), Value::Null);
    set_finish_reason(&mut choice, msg.get("stop_reason").and_then(Value::as_str));

    let mut usage = AnthropicUsage::default();
    usage.set_from(msg.get("usage"));
    let out = json!({
        "id": format!("chatcmpl-{}", text_of("id")),
        "object": "chat.completion",
        "created": created,
        "model": text_of("model"),
        "choices": [Value::Object(choice)],
        "usage": usage.to_openai(),
    });
    Ok(out.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn tr(v: Value) -> Value {
        serde_json::from_slice(&response_at(v.to_string().as_bytes(), 1_700_000_000).unwrap())
            .unwrap()
    }

    fn message(content: Value, stop: &str) -> Value {
        json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 3}
        })
    }

    #[test]
    fn text_blocks_are_joined() {
        let out = tr(message(
            json!([{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]),
            "end_turn",
        ));
        assert_eq!(out["id"], "chatcmpl-msg_01");
        assert_eq!(out["object"], "chat.completion");
        assert_eq!(out["created"], 1_700_000_000);
        assert_eq!(out["model"], "claude-sonnet-4-5");
        assert_eq!(out["choices"][0]["message"]["content"], "Hello, world");
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(out["usage"]["total_tokens"], 15);
    }

    #[test]
    fn tool_use_becomes_tool_calls_with_null_content() {
        let out = tr(message(
            json!([{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Paris"}}]),
            "tool_use",
        ));
        let m = &out["choices"][0]["message"];
        assert_eq!(m["content"], Value::Null);
        assert_eq!(
            m["tool_calls"],
            json!([{"id": "toolu_1", "type": "function", "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}}])
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn no_text_and_no_tools_is_empty_string() {
        let out = tr(message(json!([]), "max_tokens"));
        assert_eq!(out["choices"][0]["message"]["content"], "");
        assert_eq!(out["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn thinking_becomes_reasoning_content_and_replayable_blocks() {
        let thinking = json!({"type": "thinking", "thinking": "Paris is...", "signature": "sig=="});
        let redacted = json!({"type": "redacted_thinking", "data": "opaque"});
        let out = tr(message(
            json!([thinking, redacted, {"type": "text", "text": "Sunny."}]),
            "end_turn",
        ));
        let m = &out["choices"][0]["message"];
        assert_eq!(m["reasoning_content"], "Paris is...");
        assert_eq!(m["thinking_blocks"], json!([thinking, redacted]));
        assert_eq!(m["content"], "Sunny.");
    }

    #[test]
    fn pause_turn_keeps_the_original_reason() {
        let out = tr(message(
            json!([{"type": "text", "text": "partial"}]),
            "pause_turn",
        ));
        assert_eq!(out["choices"][0]["finish_reason"], "stop");
        assert_eq!(out["choices"][0]["stop_reason"], "pause_turn");
    }

    #[test]
    fn refusal_maps_to_content_filter() {
        let out = tr(message(json!([]), "refusal"));
        assert_eq!(out["choices"][0]["finish_reason"], "content_filter");
    }

    #[test]
    fn cache_tokens_count_as_prompt_tokens() {
        let mut m = message(json!([{"type": "text", "text": "x"}]), "end_turn");
        m["usage"] = json!({"input_tokens": 5, "cache_read_input_tokens": 2000,
            "cache_creation_input_tokens": 300, "output_tokens": 7});
        let u = &tr(m)["usage"];
        assert_eq!(u["prompt_tokens"], 2305);
        assert_eq!(u["completion_tokens"], 7);
        assert_eq!(u["total_tokens"], 2312);
        assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 2000);
        assert_eq!(u["prompt_tokens_details"]["cache_creation_tokens"], 300);
    }

    #[test]
    fn non_message_bodies_are_internal_errors() {
        assert_eq!(response_at(b"<html>", 0), Err(GatewayError::Internal));
        assert_eq!(
            response_at(b"{\"type\":\"error\"}", 0),
            Err(GatewayError::Internal)
        );
    }
}
