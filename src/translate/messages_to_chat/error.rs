//! Errors: an OpenAI error body (`{"error": {"message", "type", "param", "code"}}`) -> an
//! Anthropic error body (`{"type": "error", "error": {"type", "message"}}`); the filter keeps
//! the provider's status. The Anthropic type follows the status (the SDKs pick their exception
//! class from the status and the type). OpenAI's `context_length_exceeded` is reworded to start
//! with Anthropic's `prompt is too long`, which Claude Code recognises to compact a
//! conversation.

use serde_json::{json, Value};

/// Anthropic's error type for an HTTP status.
pub(super) fn kind_for_status(status: u16) -> &'static str {
    crate::error::anthropic_error_type(status)
}

/// Anthropic's error type for an OpenAI error object met without a status (in a stream):
/// from its numeric `code` when it carries one (OpenRouter), else from its `type`/`code` text.
pub(super) fn kind_for_error(error: &Value) -> &'static str {
    let status = ["code", "status"]
        .iter()
        .find_map(|k| error.get(*k).and_then(Value::as_u64))
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (400..600).contains(n));
    if let Some(status) = status {
        return kind_for_status(status);
    }
    let text = |k: &str| {
        error
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let tags = format!("{} {}", text("type"), text("code"));
    if tags.contains("rate_limit") || tags.contains("insufficient_quota") {
        "rate_limit_error"
    } else if tags.contains("overloaded") {
        "overloaded_error"
    } else if tags.contains("authentication") || tags.contains("invalid_api_key") {
        "authentication_error"
    } else if tags.contains("permission") {
        "permission_error"
    } else if tags.contains("not_found") {
        "not_found_error"
    } else if tags.contains("invalid_request") || tags.contains("context_length") {
        "invalid_request_error"
    } else {
        "api_error"
    }
}

/// The message of an OpenAI error object (or of an error given as a bare string).
pub(super) fn message_of(error: &Value) -> Option<String> {
    let message = match error {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("message").and_then(Value::as_str)?.to_string(),
        _ => return None,
    };
    if message.is_empty() {
        return None;
    }
    let code = error.get("code").and_then(Value::as_str);
    if code == Some("context_length_exceeded") && !message.starts_with("prompt is too long") {
        return Some(format!("prompt is too long: {message}"));
    }
    Some(message)
}

/// Translates a provider error body (status >= 400) into the client's error shape.
pub fn error(status: u16, body: &[u8]) -> Vec<u8> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.get("error")
            .and_then(message_of)
            .or_else(|| v.get("message").and_then(message_of))
    });
    let message = message.unwrap_or_else(|| {
        log::warn!(
            "OpenAI-format provider answered {status} without a usable error body: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(300)
                .collect::<String>()
        );
        format!("the provider answered HTTP {status} without an error message")
    });
    json!({"type": "error", "error": {"type": kind_for_status(status), "message": message}})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn translate(status: u16, body: &str) -> Value {
        serde_json::from_slice(&error(status, body.as_bytes())).unwrap()
    }

    const RATE: &str = r#"{"error":{"message":"Rate limit reached for gpt-4.1","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;

    #[test]
    fn openai_error_becomes_anthropic_error() {
        assert_eq!(
            translate(429, RATE),
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached for gpt-4.1"}})
        );
    }

    #[test]
    fn error_type_follows_the_status() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (409, "invalid_request_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "api_error"),
            (504, "api_error"),
            (529, "overloaded_error"),
        ];
        for (status, kind) in cases {
            assert_eq!(translate(status, RATE)["error"]["type"], kind, "{status}");
        }
    }

    #[test]
    fn non_json_bodies_get_a_generic_message_with_the_status() {
        let out = translate(502, "<html>Bad Gateway</html>");
        assert_eq!(out["error"]["type"], "api_error");
        assert!(out["error"]["message"].as_str().unwrap().contains("502"));
        let out = translate(400, "{}");
        assert!(out["error"]["message"].as_str().unwrap().contains("400"));
    }

    #[test]
    fn bare_string_and_top_level_messages_are_used() {
        assert_eq!(
            translate(404, r#"{"error":"model not found"}"#)["error"]["message"],
            "model not found"
        );
        assert_eq!(
            translate(400, r#"{"message":"bad"}"#)["error"]["message"],
            "bad"
        );
    }

    #[test]
    fn context_length_errors_read_like_anthropics_prompt_too_long() {
        let body = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let out = translate(400, body);
        assert_eq!(
            out["error"]["message"],
            "prompt is too long: This model's maximum context length is 128000 tokens."
        );
    }

    #[test]
    fn stream_error_kinds_come_from_code_or_type() {
        assert_eq!(
            kind_for_error(&json!({"type": "server_error"})),
            "api_error"
        );
        assert_eq!(
            kind_for_error(&json!({"code": "rate_limit_exceeded"})),
            "rate_limit_error"
        );
        assert_eq!(
            kind_for_error(&json!({"code": 429, "message": "x"})),
            "rate_limit_error"
        );
        assert_eq!(kind_for_error(&json!({"code": 529})), "overloaded_error");
        assert_eq!(
            kind_for_error(&json!({"type": "invalid_request_error"})),
            "invalid_request_error"
        );
        assert_eq!(kind_for_error(&json!("boom")), "api_error");
    }
}
