//! Anthropic error bodies -> OpenAI error bodies (`{"error": {message, type, param, code}}`).

use serde_json::{json, Value};

/// OpenAI `type` and `code` for an Anthropic error type (the status decides when the type is
/// unknown or missing). Chosen to match what OpenAI itself answers in the same situation:
///
/// | Anthropic                      | OpenAI type             | code                  |
/// |--------------------------------|-------------------------|-----------------------|
/// | 400 `invalid_request_error`    | `invalid_request_error` | null                  |
/// | 401 `authentication_error`     | `invalid_request_error` | `invalid_api_key`     |
/// | 402 `billing_error`            | `insufficient_quota`    | `insufficient_quota`  |
/// | 403 `permission_error`         | `invalid_request_error` | `permission_denied`   |
/// | 404 `not_found_error`          | `invalid_request_error` | `model_not_found` when the message is about a model, else `not_found` |
/// | 413 `request_too_large`        | `invalid_request_error` | `request_too_large`   |
/// | 429 `rate_limit_error`         | `requests`              | `rate_limit_exceeded` |
/// | 500 `api_error`                | `server_error`          | null                  |
/// | 504 `timeout_error`            | `server_error`          | `timeout`             |
/// | 529 `overloaded_error`         | `server_error`          | `overloaded`          |
pub(super) fn openai_kind(
    anthropic_type: &str,
    status: u16,
    message: &str,
) -> (&'static str, Option<&'static str>) {
    let by_type = match anthropic_type {
        "invalid_request_error" => Some(400),
        "authentication_error" => Some(401),
        "billing_error" => Some(402),
        "permission_error" => Some(403),
        "not_found_error" => Some(404),
        "request_too_large" => Some(413),
        "rate_limit_error" => Some(429),
        "api_error" => Some(500),
        "timeout_error" => Some(504),
        "overloaded_error" => Some(529),
        _ => None,
    };
    match by_type.unwrap_or(status) {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        402 => ("insufficient_quota", Some("insufficient_quota")),
        403 => ("invalid_request_error", Some("permission_denied")),
        404 if message.to_ascii_lowercase().contains("model") => {
            ("invalid_request_error", Some("model_not_found"))
        }
        404 => ("invalid_request_error", Some("not_found")),
        413 => ("invalid_request_error", Some("request_too_large")),
        429 => ("requests", Some("rate_limit_exceeded")),
        504 => ("server_error", Some("timeout")),
        529 => ("server_error", Some("overloaded")),
        s if s >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    }
}

/// The Anthropic error type and message in `body`, if it is an Anthropic error.
pub(super) fn anthropic_error(body: &Value) -> Option<(&str, &str)> {
    let err = body.get("error")?;
    let message = err.get("message").and_then(Value::as_str)?;
    let kind = err.get("type").and_then(Value::as_str).unwrap_or("");
    Some((kind, message))
}

pub(super) fn translate(status: u16, body: &[u8]) -> Vec<u8> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let found = parsed
        .as_ref()
        .and_then(anthropic_error)
        .filter(|(_, m)| !m.trim().is_empty());
    let (kind, message) = match found {
        Some((kind, message)) => (kind, message.to_string()),
        None => {
            let head: String = String::from_utf8_lossy(body).chars().take(300).collect();
            log::warn!("provider answered {status} without an Anthropic error body: {head}");
            (
                "",
                format!("the provider answered HTTP {status} without a recognisable error body"),
            )
        }
    };
    let (t, code) = openai_kind(kind, status, &message);
    json!({"error": {"message": message, "type": t, "param": null, "code": code}})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn tr(status: u16, kind: &str, message: &str) -> Value {
        let body = json!({"type": "error", "error": {"type": kind, "message": message},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"});
        serde_json::from_slice(&translate(status, body.to_string().as_bytes())).unwrap()
    }

    #[test]
    fn every_anthropic_error_type_maps() {
        for (status, kind, message, t, code) in [
            (
                400,
                "invalid_request_error",
                "messages: field required",
                "invalid_request_error",
                Value::Null,
            ),
            (
                401,
                "authentication_error",
                "invalid x-api-key",
                "invalid_request_error",
                json!("invalid_api_key"),
            ),
            (
                402,
                "billing_error",
                "credit balance too low",
                "insufficient_quota",
                json!("insufficient_quota"),
            ),
            (
                403,
                "permission_error",
                "not allowed",
                "invalid_request_error",
                json!("permission_denied"),
            ),
            (
                404,
                "not_found_error",
                "model: claude-nope",
                "invalid_request_error",
                json!("model_not_found"),
            ),
            (
                404,
                "not_found_error",
                "Not found",
                "invalid_request_error",
                json!("not_found"),
            ),
            (
                413,
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
                "invalid_request_error",
                json!("request_too_large"),
            ),
            (
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                "requests",
                json!("rate_limit_exceeded"),
            ),
            (
                500,
                "api_error",
                "Internal server error",
                "server_error",
                Value::Null,
            ),
            (
                504,
                "timeout_error",
                "Request timed out",
                "server_error",
                json!("timeout"),
            ),
            (
                529,
                "overloaded_error",
                "Overloaded",
                "server_error",
                json!("overloaded"),
            ),
        ] {
            let out = tr(status, kind, message);
            assert_eq!(
                out,
                json!({"error": {"message": message, "type": t, "param": null, "code": code}}),
                "{kind}"
            );
        }
    }

    #[test]
    fn unknown_error_type_falls_back_on_status() {
        assert_eq!(tr(503, "new_error", "x")["error"]["type"], "server_error");
        assert_eq!(
            tr(422, "new_error", "x")["error"]["type"],
            "invalid_request_error"
        );
        assert_eq!(tr(429, "", "x")["error"]["code"], "rate_limit_exceeded");
    }

    #[test]
    fn non_json_error_body_gets_a_generic_message() {
        let out: Value =
            serde_json::from_slice(&translate(502, b"<html>Bad gateway: 10.0.0.7</html>")).unwrap();
        let message = out["error"]["message"].as_str().unwrap();
        assert!(message.contains("502"), "{message}");
        assert!(!message.contains("10.0.0.7"));
        assert_eq!(out["error"]["type"], "server_error");
        let empty: Value = serde_json::from_slice(&translate(400, b"{}")).unwrap();
        assert_eq!(empty["error"]["type"], "invalid_request_error");
        assert!(empty["error"]["message"].as_str().unwrap().contains("400"));
    }
}
