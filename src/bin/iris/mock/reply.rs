//! Deterministic reply helpers shared by the API modules: reply text, word counts, stream
//! splitting, tool-call planning from tool schemas, special models, ids and SSE framing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// Model prefix that reports cache tokens.
const CACHE_MODEL_PREFIX: &str = "mock-cache";
/// Model prefix that answers with an error status: `mock-error-429`.
const ERROR_MODEL_PREFIX: &str = "mock-error-";
/// Model that fails in the middle of a stream.
pub const STREAM_ERROR_MODEL: &str = "mock-stream-error";
/// Cache tokens reported for `mock-cache*` models: (read, creation).
pub const CACHE_READ_TOKENS: u64 = 100;
pub const CACHE_CREATION_TOKENS: u64 = 20;

/// A function tool the request offers.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    /// Its JSON schema (`{}` when the request gave none).
    pub schema: Value,
}

/// What the request says about calling tools.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// Call a tool when the user text asks for one (`tool`, `tools`, `weather`).
    Auto,
    /// Never call a tool.
    None,
    /// Call a tool (the first; the first two when the text says `both`).
    Required,
    /// Call this tool.
    Named(String),
}

/// The turn the mock answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// A user text turn: its text parts joined with a space.
    User(String),
    /// A tool result turn: the results' text joined with a space.
    ToolResult(String),
}

impl Turn {
    /// What the reply quotes after `You said: `.
    pub fn said(&self) -> String {
        match self {
            Turn::User(text) => text.clone(),
            Turn::ToolResult(text) => format!("tool result: {text}"),
        }
    }
}

/// A planned tool call.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    /// The arguments object.
    pub args: Value,
    /// The arguments as compact JSON.
    pub args_json: String,
}

/// What the mock answers: text, or tool calls (then `text` is empty).
#[derive(Debug, Clone)]
pub struct Plan {
    pub text: String,
    pub calls: Vec<Call>,
    /// The text was cut to the request's max tokens.
    pub truncated: bool,
    pub output_tokens: u64,
}

/// The request facts every API maps to.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    /// Shown in the reply: `Hello from the mock <api>!`.
    pub api: &'a str,
    pub turn: &'a Turn,
    pub tools: &'a [ToolSpec],
    pub choice: &'a ToolChoice,
    /// Whether more than one tool may be called at once.
    pub parallel: bool,
    pub max_tokens: Option<u64>,
}

/// Decides the reply.
pub fn plan(ask: &Ask<'_>) -> Plan {
    let chosen: Vec<&ToolSpec> = match ask.turn {
        Turn::User(text) if !ask.tools.is_empty() => {
            let two = ask.parallel && ask.tools.len() >= 2 && has_word(text, &["both"]);
            let first = if two { 2 } else { 1 };
            match ask.choice {
                ToolChoice::None => Vec::new(),
                ToolChoice::Named(name) => ask
                    .tools
                    .iter()
                    .find(|t| t.name == *name)
                    .or(ask.tools.first())
                    .into_iter()
                    .collect(),
                ToolChoice::Required => ask.tools.iter().take(first).collect(),
                ToolChoice::Auto if has_word(text, &["tool", "tools", "weather"]) => {
                    ask.tools.iter().take(first).collect()
                }
                ToolChoice::Auto => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    if !chosen.is_empty() {
        let calls: Vec<Call> = chosen
            .into_iter()
            .map(|tool| {
                let args = args_from_schema(&tool.schema);
                let args_json = args.to_string();
                Call {
                    name: tool.name.clone(),
                    args,
                    args_json,
                }
            })
            .collect();
        let output_tokens = calls
            .iter()
            .map(|c| words(&c.name) + words(&c.args_json))
            .sum::<u64>()
            .max(1);
        return Plan {
            text: String::new(),
            calls,
            truncated: false,
            output_tokens,
        };
    }
    let full = reply_text(ask.api, &ask.turn.said());
    let (text, truncated) = match ask.max_tokens {
        Some(max) => truncate_words(&full, max),
        None => (full, false),
    };
    Plan {
        output_tokens: words(&text).max(1),
        text,
        calls: Vec::new(),
        truncated,
    }
}

/// `Hello from the mock <api>! You said: <said>`.
pub fn reply_text(api: &str, said: &str) -> String {
    format!("Hello from the mock {api}! You said: {said}")
}

/// Whitespace-separated words: the mock's token count.
pub fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Whether `text` holds one of `wanted` as a word (case-insensitive, punctuation ignored).
pub fn has_word(text: &str, wanted: &[&str]) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| wanted.iter().any(|x| w.eq_ignore_ascii_case(x)))
}

/// Splits text into stream deltas, one word each with its leading whitespace;
/// the pieces concatenate back to `text`.
pub fn split_words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_is_space = true;
    for (i, c) in text.char_indices() {
        let is_space = c.is_whitespace();
        if is_space && !prev_is_space && i > start {
            if let Some(piece) = text.get(start..i) {
                pieces.push(piece);
            }
            start = i;
        }
        prev_is_space = is_space;
    }
    if let Some(rest) = text.get(start..) {
        if !rest.is_empty() {
            pieces.push(rest);
        }
    }
    pieces
}

/// The first `max` words of `text`, and whether anything was cut.
pub fn truncate_words(text: &str, max: u64) -> (String, bool) {
    if words(text) <= max {
        return (text.to_string(), false);
    }
    let take = usize::try_from(max).unwrap_or(usize::MAX);
    (split_words(text).into_iter().take(take).collect(), true)
}

/// Splits a string into 2 or 3 fragments (1 when it has fewer than 2 characters), on char
/// boundaries; the fragments concatenate back to `s`.
pub fn split_fragments(s: &str) -> Vec<&str> {
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    let n = bounds.len();
    if n < 2 {
        return vec![s];
    }
    let parts = n.min(3);
    let mut cuts: Vec<usize> = (1..parts)
        .filter_map(|k| bounds.get(k * n / parts).copied())
        .collect();
    cuts.push(s.len());
    let mut out = Vec::with_capacity(cuts.len());
    let mut start = 0;
    for cut in cuts {
        if let Some(piece) = s.get(start..cut) {
            if !piece.is_empty() {
                out.push(piece);
            }
        }
        start = cut;
    }
    out
}

/// Arguments for a tool from its JSON schema: each required property gets a value for its
/// type (strings `"Paris"` for `location`/`city`, else `"mock"`; numbers 1; booleans true;
/// the first `enum` value when there is one).
pub fn args_from_schema(schema: &Value) -> Value {
    let mut args = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let property = properties.and_then(|p| p.get(name));
        args.insert(name.to_string(), value_for(name, property));
    }
    Value::Object(args)
}

fn value_for(name: &str, property: Option<&Value>) -> Value {
    let property = property.unwrap_or(&Value::Null);
    if let Some(first) = property
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = match property.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| !t.eq_ignore_ascii_case("null"))
            .unwrap_or("string")
            .to_ascii_lowercase(),
        _ => "string".to_string(),
    };
    match kind.as_str() {
        "number" | "integer" => Value::from(1),
        "boolean" => Value::Bool(true),
        "array" => Value::Array(Vec::new()),
        "object" => args_from_schema(property),
        "null" => Value::Null,
        _ if name.eq_ignore_ascii_case("location") || name.eq_ignore_ascii_case("city") => {
            Value::String("Paris".to_string())
        }
        _ => Value::String("mock".to_string()),
    }
}

/// The status a `mock-error-<status>` model answers with (400..=599).
pub fn error_status(model: &str) -> Option<u16> {
    let status: u16 = model.strip_prefix(ERROR_MODEL_PREFIX)?.parse().ok()?;
    (400..=599).contains(&status).then_some(status)
}

/// Whether the model is a `mock-cache*` model.
pub fn is_cache_model(model: &str) -> bool {
    model.starts_with(CACHE_MODEL_PREFIX)
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A process-unique id suffix: 12 digits from a counter.
pub fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!("{:012}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// An SSE event with a name: `event: <name>\ndata: <json>\n\n`.
pub fn sse_event(name: &str, data: &Value) -> Vec<u8> {
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

/// An SSE event with data only: `data: <json>\n\n`.
pub fn sse_data(data: &Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "get_weather".into(),
                schema: json!({"type":"object","properties":{
                    "location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},
                    "days":{"type":"integer"},"detailed":{"type":["boolean","null"]},"note":{"type":"string"}},
                    "required":["location","unit","days","detailed"]}),
            },
            ToolSpec {
                name: "get_time".into(),
                schema: json!({"type":"OBJECT","properties":{"city":{"type":"STRING"},"zone":{"type":"STRING"}},"required":["city","zone"]}),
            },
        ]
    }

    fn ask<'a>(
        turn: &'a Turn,
        tools: &'a [ToolSpec],
        choice: &'a ToolChoice,
        parallel: bool,
    ) -> Ask<'a> {
        Ask {
            api: "Test",
            turn,
            tools,
            choice,
            parallel,
            max_tokens: None,
        }
    }

    #[test]
    fn builds_arguments_from_schema() {
        let tools = tools();
        assert_eq!(
            args_from_schema(&tools[0].schema),
            json!({"location":"Paris","unit":"celsius","days":1,"detailed":true})
        );
        assert_eq!(
            args_from_schema(&tools[1].schema),
            json!({"city":"Paris","zone":"mock"})
        );
        assert_eq!(args_from_schema(&json!({})), json!({}));
    }

    #[test]
    fn calls_tools_when_asked_or_forced() {
        let tools = tools();
        let weather = Turn::User("What's the weather?".into());
        let plain = Turn::User("hi there".into());
        let both = Turn::User("use both tools".into());
        let result = Turn::ToolResult("sunny".into());

        let p = plan(&ask(&weather, &tools, &ToolChoice::Auto, true));
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].name, "get_weather");
        assert_eq!(
            p.calls[0].args_json,
            r#"{"days":1,"detailed":true,"location":"Paris","unit":"celsius"}"#
        );
        assert!(p.text.is_empty());
        assert_eq!(p.output_tokens, 2);

        assert!(plan(&ask(&plain, &tools, &ToolChoice::Auto, true))
            .calls
            .is_empty());
        assert_eq!(
            plan(&ask(&plain, &tools, &ToolChoice::Required, true))
                .calls
                .len(),
            1
        );
        let named = ToolChoice::Named("get_time".into());
        assert_eq!(
            plan(&ask(&plain, &tools, &named, true)).calls[0].name,
            "get_time"
        );
        assert!(plan(&ask(&weather, &tools, &ToolChoice::None, true))
            .calls
            .is_empty());
        assert_eq!(
            plan(&ask(&both, &tools, &ToolChoice::Auto, true))
                .calls
                .len(),
            2
        );
        assert_eq!(
            plan(&ask(&both, &tools, &ToolChoice::Auto, false))
                .calls
                .len(),
            1
        );
        assert!(plan(&ask(&result, &tools, &ToolChoice::Required, true))
            .calls
            .is_empty());
        assert!(plan(&ask(&weather, &[], &ToolChoice::Auto, true))
            .calls
            .is_empty());
    }

    #[test]
    fn text_reply_and_truncation() {
        let turn = Turn::ToolResult("sunny, 21C".into());
        let p = plan(&ask(&turn, &[], &ToolChoice::Auto, true));
        assert_eq!(
            p.text,
            "Hello from the mock Test! You said: tool result: sunny, 21C"
        );
        assert_eq!(p.output_tokens, 11);
        assert!(!p.truncated);
        let mut short = ask(&turn, &[], &ToolChoice::Auto, true);
        short.max_tokens = Some(3);
        let p = plan(&short);
        assert_eq!(p.text, "Hello from the");
        assert!(p.truncated);
        assert_eq!(p.output_tokens, 3);
    }

    #[test]
    fn splits_words_and_fragments() {
        assert_eq!(
            split_words("Hello  from\nthe mock!"),
            vec!["Hello", "  from", "\nthe", " mock!"]
        );
        assert_eq!(split_words(" a b "), vec![" a", " b", " "]);
        assert!(split_words("").is_empty());
        assert_eq!(split_fragments("{}"), vec!["{", "}"]);
        let f = split_fragments(r#"{"location":"Paris"}"#);
        assert_eq!(f.len(), 3);
        assert_eq!(f.concat(), r#"{"location":"Paris"}"#);
        assert_eq!(split_fragments("é€x").concat(), "é€x");
    }

    #[test]
    fn special_models() {
        assert_eq!(error_status("mock-error-429"), Some(429));
        assert_eq!(error_status("mock-error-200"), None);
        assert_eq!(error_status("mock-error-x"), None);
        assert!(is_cache_model("mock-cache-1"));
        assert!(!is_cache_model("gpt-4o"));
    }
}
