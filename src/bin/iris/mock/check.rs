//! OpenAI-style request validation helpers (messages and codes as the real API words them),
//! shared by Chat Completions and Responses, plus JSON type names.

use serde_json::{Map, Value};

use super::errors::ApiError;

/// A JSON type name as the APIs word it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `Unrecognized request argument supplied: <name>` for the first field not in `allowed`.
pub fn unknown_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(name) => Err(ApiError::invalid(format!(
            "Unrecognized request argument supplied: {name}"
        ))),
        None => Ok(()),
    }
}

pub fn missing(param: &str) -> ApiError {
    ApiError::invalid(format!("Missing required parameter: '{param}'."))
        .param(param)
        .code("missing_required_parameter")
}

pub fn wrong_type(param: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(format!(
        "Invalid type for '{param}': expected {expected}, but got {} instead.",
        article(type_name(got))
    ))
    .param(param)
    .code("invalid_type")
}

fn article(kind: &str) -> String {
    match kind {
        "null" => "null".to_string(),
        "array" | "integer" | "object" => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

pub fn invalid_value(param: &str, got: &str, supported: &[&str]) -> ApiError {
    let list: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
    let supported = match list.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, and {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    };
    ApiError::invalid(format!(
        "Invalid value: '{got}'. Supported values are: {supported}."
    ))
    .param(param)
    .code("invalid_value")
}

pub fn empty_array(param: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an \
         empty array instead."
    ))
    .param(param)
    .code("empty_array")
}

/// A field that may be absent or null.
pub fn present<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

/// An optional number within `min..=max`.
pub fn number(
    body: &Map<String, Value>,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, ApiError> {
    let Some(value) = present(body, key) else {
        return Ok(None);
    };
    let Some(n) = value.as_f64() else {
        return Err(wrong_type(key, "a decimal", value));
    };
    if n < min {
        return Err(ApiError::invalid(format!(
            "Invalid '{key}': decimal below minimum value. Expected a value >= {min}, but got {n} instead."
        ))
        .param(key)
        .code("decimal_below_min_value"));
    }
    if n > max {
        return Err(ApiError::invalid(format!(
            "Invalid '{key}': decimal above maximum value. Expected a value <= {max}, but got {n} instead."
        ))
        .param(key)
        .code("decimal_above_max_value"));
    }
    Ok(Some(n))
}

/// An optional integer `>= min` (and `<= max` when given).
pub fn integer(
    body: &Map<String, Value>,
    key: &str,
    min: i64,
    max: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    let Some(value) = present(body, key) else {
        return Ok(None);
    };
    let Some(n) = value.as_i64() else {
        return Err(wrong_type(key, "an integer", value));
    };
    if n < min {
        return Err(ApiError::invalid(format!(
            "Invalid '{key}': integer below minimum value. Expected a value >= {min}, but got {n} instead."
        ))
        .param(key)
        .code("integer_below_min_value"));
    }
    if let Some(max) = max.filter(|max| n > *max) {
        return Err(ApiError::invalid(format!(
            "Invalid '{key}': integer above maximum value. Expected a value <= {max}, but got {n} instead."
        ))
        .param(key)
        .code("integer_above_max_value"));
    }
    Ok(Some(n))
}

pub fn boolean(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match present(body, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(key, "a boolean", other)),
    }
}

/// An optional object.
pub fn object<'a>(
    body: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match present(body, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(wrong_type(key, "an object", other)),
    }
}

/// A required string at `param`.
pub fn required_string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    param: &str,
) -> Result<&'a str, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Err(missing(param)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(param, "a string", other)),
    }
}

/// Whether a tool name matches `^[a-zA-Z0-9_-]{1,64}$`.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn bad_tool_name(param: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid '{param}': string does not match pattern. Expected a string that matches the \
         pattern '^[a-zA-Z0-9_-]+$'."
    ))
    .param(param)
    .code("invalid_value")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_like_the_real_api() {
        let body = json!({"temperature": 3, "n": 0, "stream": "yes", "x": 1});
        let body = body.as_object().unwrap();
        let e = number(body, "temperature", 0.0, 2.0).unwrap_err();
        assert_eq!(e.code, Some("decimal_above_max_value"));
        assert!(
            e.message
                .contains("Expected a value <= 2, but got 3 instead."),
            "{}",
            e.message
        );
        assert_eq!(
            integer(body, "n", 1, Some(128)).unwrap_err().code,
            Some("integer_below_min_value")
        );
        assert_eq!(
            boolean(body, "stream").unwrap_err().message,
            "Invalid type for 'stream': expected a boolean, but got a string instead."
        );
        assert_eq!(
            unknown_fields(body, &["temperature", "n", "stream"])
                .unwrap_err()
                .message,
            "Unrecognized request argument supplied: x"
        );
        assert_eq!(
            invalid_value("role", "x", &["a", "b", "c"]).message,
            "Invalid value: 'x'. Supported values are: 'a', 'b', and 'c'."
        );
        assert!(valid_tool_name("get_weather-2"));
        assert!(!valid_tool_name("get weather"));
    }
}
