//! Token usage, normalized across API formats, read from response bodies and streams.
//!
//! Semantics (the same for every format):
//! - `input`: every prompt token the provider processed, *including* cache reads and cache
//!   writes. OpenAI's `prompt_tokens` and Gemini's `promptTokenCount` already include cached
//!   tokens; Anthropic's `input_tokens` does not, so its cache fields are added.
//! - `cache_read` / `cache_write`: the parts of `input` read from / written to a prompt cache.
//! - `output`: every generated token, *including* reasoning; `reasoning` is the part that was
//!   reasoning (OpenAI `reasoning_tokens`, Gemini `thoughtsTokenCount`, which Gemini reports
//!   apart from `candidatesTokenCount` and is added here).
//! - In streams the last value reported wins: Anthropic's `message_delta` usage *sets* the
//!   fields it carries (they are totals), it is never added to `message_start`'s.

use crate::api::ApiFormat;
use crate::sse::SseEvent;
use serde_json::{Map, Value};

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

fn num(obj: &Map<String, Value>, path: &[&str]) -> u64 {
    let mut cur: Option<&Value> = None;
    let mut map = Some(obj);
    for key in path {
        cur = map.and_then(|m| m.get(*key));
        map = cur.and_then(Value::as_object);
    }
    cur.and_then(Value::as_u64).unwrap_or(0)
}

/// Normalizes a provider's usage object (`usage` or Gemini's `usageMetadata`).
pub fn normalize(format: ApiFormat, u: &Map<String, Value>) -> Usage {
    match format {
        ApiFormat::OpenAiChat => Usage {
            input: num(u, &["prompt_tokens"]),
            output: num(u, &["completion_tokens"]),
            cache_read: num(u, &["prompt_tokens_details", "cached_tokens"]),
            cache_write: 0,
            reasoning: num(u, &["completion_tokens_details", "reasoning_tokens"]),
        },
        ApiFormat::OpenAiResponses => Usage {
            input: num(u, &["input_tokens"]),
            output: num(u, &["output_tokens"]),
            cache_read: num(u, &["input_tokens_details", "cached_tokens"]),
            cache_write: 0,
            reasoning: num(u, &["output_tokens_details", "reasoning_tokens"]),
        },
        ApiFormat::AnthropicMessages => {
            let cache_read = num(u, &["cache_read_input_tokens"]);
            let cache_write = num(u, &["cache_creation_input_tokens"]);
            Usage {
                input: num(u, &["input_tokens"]) + cache_read + cache_write,
                output: num(u, &["output_tokens"]),
                cache_read,
                cache_write,
                reasoning: 0,
            }
        }
        ApiFormat::Gemini => {
            let thoughts = num(u, &["thoughtsTokenCount"]);
            Usage {
                input: num(u, &["promptTokenCount"]),
                output: num(u, &["candidatesTokenCount"]) + thoughts,
                cache_read: num(u, &["cachedContentTokenCount"]),
                cache_write: 0,
                reasoning: thoughts,
            }
        }
    }
}

/// The usage object inside one response body or stream payload, if it has one.
fn usage_object(format: ApiFormat, v: &Value) -> Option<&Map<String, Value>> {
    match format {
        ApiFormat::Gemini => match v {
            Value::Array(items) => items
                .iter()
                .rev()
                .find_map(|i| i.get("usageMetadata")?.as_object()),
            _ => v.get("usageMetadata")?.as_object(),
        },
        ApiFormat::OpenAiResponses => v
            .get("usage")
            .and_then(Value::as_object)
            .or_else(|| v.get("response")?.get("usage")?.as_object()),
        ApiFormat::AnthropicMessages => v
            .get("usage")
            .and_then(Value::as_object)
            .or_else(|| v.get("message")?.get("usage")?.as_object()),
        ApiFormat::OpenAiChat => v.get("usage")?.as_object(),
    }
}

/// The usage members of a response object; everything else is skipped without being built.
#[derive(serde::Deserialize)]
struct UsageOnly {
    #[serde(default)]
    usage: Option<Map<String, Value>>,
    #[serde(default, rename = "usageMetadata")]
    usage_metadata: Option<Map<String, Value>>,
}

/// Usage from a complete (non-streamed) response body.
pub fn from_body(format: ApiFormat, body: &[u8]) -> Option<Usage> {
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if let Some(only) = is_object
        .then(|| serde_json::from_slice::<UsageOnly>(body).ok())
        .flatten()
    {
        let u = match format {
            ApiFormat::Gemini => only.usage_metadata,
            _ => only.usage,
        };
        return u.map(|u| normalize(format, &u));
    }
    // Not an object (a Gemini array stream, say): look through the whole value.
    let v: Value = serde_json::from_slice(body).ok()?;
    usage_object(format, &v).map(|u| normalize(format, u))
}

/// Collects usage from stream events: each usage object seen overwrites the fields it carries.
#[derive(Debug, Clone)]
pub struct StreamUsage {
    format: ApiFormat,
    fields: Option<Map<String, Value>>,
}

impl StreamUsage {
    pub fn new(format: ApiFormat) -> Self {
        StreamUsage {
            format,
            fields: None,
        }
    }

    /// Looks at one event's data (a JSON payload, `[DONE]` or anything else).
    pub fn observe(&mut self, event: &SseEvent) {
        // Cheap filter first: only payloads that mention usage are parsed.
        if !event.data.contains("sage") {
            return;
        }
        self.observe_json(event.data.as_bytes());
    }

    /// Looks at one JSON payload (an SSE data field, or an element of a JSON array stream).
    pub fn observe_json(&mut self, payload: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        if let Some(u) = usage_object(self.format, &v) {
            let fields = self.fields.get_or_insert_with(Map::new);
            for (k, val) in u {
                if !val.is_null() {
                    fields.insert(k.clone(), val.clone());
                }
            }
        }
    }

    /// The usage seen so far, or `None` when the stream reported none.
    pub fn usage(&self) -> Option<Usage> {
        self.fields.as_ref().map(|u| normalize(self.format, u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseFramer;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn stream(format: ApiFormat, text: &str) -> Option<Usage> {
        let mut f = SseFramer::new();
        let mut events = Vec::new();
        f.push(text.as_bytes(), &mut events);
        f.finish(&mut events);
        let mut s = StreamUsage::new(format);
        events.iter().for_each(|e| s.observe(e));
        s.usage()
    }

    #[test]
    fn openai_chat_body_usage_includes_cached_in_input() {
        let body = br#"{"usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,
            "prompt_tokens_details":{"cached_tokens":100},"completion_tokens_details":{"reasoning_tokens":10}}}"#;
        assert_eq!(
            from_body(ApiFormat::OpenAiChat, body),
            Some(Usage {
                input: 120,
                output: 30,
                cache_read: 100,
                cache_write: 0,
                reasoning: 10
            })
        );
    }

    #[test]
    fn anthropic_body_usage_adds_cache_to_input() {
        let body = br#"{"type":"message","usage":{"input_tokens":5,"output_tokens":7,"cache_read_input_tokens":100,"cache_creation_input_tokens":20}}"#;
        assert_eq!(
            from_body(ApiFormat::AnthropicMessages, body),
            Some(Usage {
                input: 125,
                output: 7,
                cache_read: 100,
                cache_write: 20,
                reasoning: 0
            })
        );
    }

    #[test]
    fn message_delta_usage_is_set_not_added() {
        let text = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":4}}}\n\n\
                    event: ping\ndata: {\"type\":\"ping\"}\n\n\
                    event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n";
        assert_eq!(
            stream(ApiFormat::AnthropicMessages, text),
            Some(Usage {
                input: 14,
                output: 42,
                cache_read: 4,
                cache_write: 0,
                reasoning: 0
            })
        );
    }

    #[test]
    fn openai_stream_usage_chunk_and_null_usage() {
        let text = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n\
                    data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n";
        assert_eq!(
            stream(ApiFormat::OpenAiChat, text),
            Some(Usage {
                input: 3,
                output: 2,
                ..Usage::default()
            })
        );
        assert_eq!(
            stream(
                ApiFormat::OpenAiChat,
                "data: {\"choices\":[]}\n\ndata: [DONE]\n\n"
            ),
            None
        );
    }

    #[test]
    fn responses_completed_event() {
        let text = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":4,\"output_tokens_details\":{\"reasoning_tokens\":1}}}}\n\n";
        assert_eq!(
            stream(ApiFormat::OpenAiResponses, text),
            Some(Usage {
                input: 9,
                output: 4,
                reasoning: 1,
                ..Usage::default()
            })
        );
    }

    #[test]
    fn gemini_thoughts_count_as_output_and_arrays_work() {
        let body = br#"[{"candidates":[]},{"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":5,"thoughtsTokenCount":3,"cachedContentTokenCount":2}}]"#;
        assert_eq!(
            from_body(ApiFormat::Gemini, body),
            Some(Usage {
                input: 8,
                output: 8,
                cache_read: 2,
                cache_write: 0,
                reasoning: 3
            })
        );
    }
}
