//! OpenAI Chat Completions clients -> Anthropic Messages providers: request, response, stream
//! and error translation, with no pivot format in between.
//!
//! # Request ([`request()`])
//! The OpenAI body becomes an Anthropic Messages body; the filter sends it to `/v1/messages`.
//! - `system` / `developer` messages (any number, anywhere) are joined into the top-level
//!   `system`: a string (texts joined with a blank line), or text blocks when a part or message
//!   carries `cache_control`. Mid-conversation instructions therefore move to the top.
//! - `tool` messages become `tool_result` blocks in a user turn; consecutive results and a
//!   following user message share that turn (tool results first); same-role turns are merged.
//! - Assistant `tool_calls` become `tool_use` blocks (`arguments` parsed; `""` and `null` are
//!   `{}`; invalid JSON or a non-object is a 400). Tool-call ids outside `^[a-zA-Z0-9_-]{1,64}$`
//!   are rewritten deterministically ([`sanitize_tool_id`]) on both the `tool_use` and
//!   its `tool_result`.
//! - Replayed thinking: an assistant message's vendor field `thinking_blocks` (Anthropic
//!   `thinking` / `redacted_thinking` blocks with signatures, as LiteLLM sends them) goes first
//!   in its content, unchanged. `reasoning_content` alone cannot be replayed (no signature) and
//!   is dropped.
//! - Empty and whitespace-only text is omitted (Anthropic rejects empty text blocks); a message
//!   left with no content is dropped. The conversation must then start with a user turn, else
//!   400 (Anthropic's rule; nothing is inserted silently).
//! - Images: `data:` URLs become base64 blocks (`image/jpg` is read as `image/jpeg`; the decoded
//!   magic bytes win over the declared type); `http(s)` URLs become `url` sources (not
//!   downloaded). `file` parts with a PDF or plain-text data URL become `document` blocks.
//! - Anthropic-shaped blocks that clients put in OpenAI messages (`tool_use`, `tool_result`,
//!   `image`, `document`, `thinking`, `redacted_thinking`) pass through (ids sanitised).
//! - `cache_control` (vendor extension) on content parts, on a whole message (applies to its
//!   last block), on system parts and on tools is carried over unchanged.
//! - `max_completion_tokens` wins over `max_tokens`; else [`Options::default_max_tokens`].
//! - `reasoning_effort` -> `thinking {type: enabled, budget_tokens}`: minimal/low 1024,
//!   medium 4096, high 16384, xhigh 32768; `none` leaves thinking off. Anthropic requires
//!   `budget_tokens < max_tokens` and counts thinking inside `max_tokens`: when the requested
//!   maximum (explicit or default) is not above the budget, `max_tokens` becomes
//!   budget + requested maximum, so the answer keeps the room the client asked for. With
//!   thinking on, a forced tool choice (`required` / named), a `temperature` other than 1,
//!   `top_p` below 0.95 or `top_k` are 400s, as Anthropic would reject them.
//! - `temperature` above 1 (Anthropic's maximum) is a 400, never clamped.
//! - `tool_choice`: auto -> auto, none -> none, required -> any, named function -> tool;
//!   `parallel_tool_calls: false` -> `disable_parallel_tool_use: true` (on `auto` when no choice
//!   was given). `user` -> `metadata.user_id`. `top_k` (not OpenAI) passes through.
//! - 400 naming the parameter: `n` > 1, `logprobs: true`, `top_logprobs` > 0, non-empty
//!   `logit_bias`, non-zero `presence_penalty` / `frequency_penalty`, `audio`, `modalities` with
//!   audio, `prediction`, `response_format` other than `text`, legacy `functions` /
//!   `function_call` (and `function` messages), non-null `web_search_options`, audio input,
//!   OpenAI `file_id`s, and any top-level field not listed here
//!   (`Unrecognized request argument supplied: X`).
//! - Dropped as harmless: `store`, `metadata` (OpenAI's is for stored completions),
//!   `service_tier`, `seed`, `prompt_cache_key`, `prompt_cache_retention`, `safety_identifier`,
//!   `verbosity`, `stream_options` when not streaming, `n: 1`, `logprobs: false`,
//!   `top_logprobs: 0`, `logit_bias: {}`, zero penalties, `modalities: ["text"]`,
//!   `response_format: {type: text}`, `web_search_options: null`, tool `strict`, message
//!   `name`, image `detail`; and every known field set to `null`.
//!
//! # Response ([`response()`])
//! Text blocks are concatenated into `message.content` (`null` when there is no text but there
//! are tool calls); `tool_use` -> `tool_calls`; thinking -> `message.reasoning_content` (the
//! text) and `message.thinking_blocks` (raw blocks with signatures, for replay). Finish reasons:
//! see [`finish_reason`]. `pause_turn` (the provider paused a long server-tool turn) becomes
//! `stop` — the text so far is a usable answer and OpenAI has no "paused" value — but not
//! silently: the choice carries the vendor field `stop_reason: "pause_turn"` and it is logged.
//! Unknown stop reasons pass through as the finish reason.
//!
//! Usage: `prompt_tokens` = `input_tokens` + `cache_read_input_tokens` +
//! `cache_creation_input_tokens` (the same rule as [`crate::usage`]); `completion_tokens` =
//! `output_tokens`; `prompt_tokens_details.cached_tokens` = cache reads and, as an extension,
//! `prompt_tokens_details.cache_creation_tokens` = cache writes.
//!
//! # Stream ([`Stream`])
//! Each Anthropic event is translated as it arrives into `chat.completion.chunk`s (the
//! mapping table is in `stream.rs`). An `error` event becomes an in-band `{"error": ...}`
//! chunk with no `[DONE]`; a stream that ends without `message_stop` gets an in-band
//! `server_error`.
//!
//! # Errors ([`error()`])
//! Anthropic error bodies become OpenAI error bodies (the type and code table is in
//! `error.rs`; e.g. 429 -> `requests` / `rate_limit_exceeded`, 529 -> `server_error` /
//! `overloaded`). The provider's message is kept; bodies that are not Anthropic errors get a
//! generic message with the status and are only logged.

mod error;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod golden;

use super::{Options, Translated};
use crate::error::GatewayError;
use serde_json::{json, Map, Value};

pub use request::sanitize_tool_id;
pub use response::response_at;
pub use stream::Stream;

/// Translates the client's request body for the provider; `upstream_model` replaces `model`.
/// Requests the provider's API cannot honour get a [`GatewayError::InvalidRequest`].
pub fn request(
    body: &[u8],
    upstream_model: &str,
    opts: &Options,
) -> Result<Translated, GatewayError> {
    request::translate(body, upstream_model, opts)
}

/// Translates a successful (2xx) non-streamed provider response body for the client.
pub fn response(body: &[u8]) -> Result<Vec<u8>, GatewayError> {
    response::response_at(body, now_secs())
}

/// Translates a provider error body (status >= 400) into the client's error shape.
pub fn error(status: u16, body: &[u8]) -> Vec<u8> {
    error::translate(status, body)
}

/// Maps an Anthropic `stop_reason` to an OpenAI `finish_reason`: `end_turn`, `stop_sequence`
/// and `pause_turn` -> `stop`; `max_tokens` and `model_context_window_exceeded` -> `length`;
/// `tool_use` -> `tool_calls`; `refusal` -> `content_filter`; anything else passes through.
pub fn finish_reason(stop_reason: &str) -> &str {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => "stop",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        other => other,
    }
}

/// Sets `finish_reason` (and, when the mapping loses information, the vendor field
/// `stop_reason`) on an OpenAI choice.
fn set_finish_reason(choice: &mut Map<String, Value>, stop_reason: Option<&str>) {
    match stop_reason {
        Some(reason) => {
            choice.insert("finish_reason".into(), json!(finish_reason(reason)));
            if reason == "pause_turn" {
                log::info!("provider paused the turn (pause_turn); answering finish_reason stop");
                choice.insert("stop_reason".into(), json!(reason));
            }
        }
        None => {
            choice.insert("finish_reason".into(), Value::Null);
        }
    }
}

/// Anthropic token counts, kept apart until rendered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct AnthropicUsage {
    input: u64,
    cache_read: u64,
    cache_write: u64,
    output: u64,
}

impl AnthropicUsage {
    /// Sets the fields present in an Anthropic `usage` object (they are totals, never added).
    fn set_from(&mut self, usage: Option<&Value>) {
        let Some(u) = usage.and_then(Value::as_object) else {
            return;
        };
        let field = |name: &str| u.get(name).and_then(Value::as_u64);
        if let Some(n) = field("input_tokens") {
            self.input = n;
        }
        if let Some(n) = field("cache_read_input_tokens") {
            self.cache_read = n;
        }
        if let Some(n) = field("cache_creation_input_tokens") {
            self.cache_write = n;
        }
        if let Some(n) = field("output_tokens") {
            self.output = n;
        }
    }

    /// The OpenAI `usage` object.
    fn to_openai(self) -> Value {
        let prompt = self
            .input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write);
        json!({
            "prompt_tokens": prompt,
            "completion_tokens": self.output,
            "total_tokens": prompt.saturating_add(self.output),
            "prompt_tokens_details": {
                "cached_tokens": self.cache_read,
                "cache_creation_tokens": self.cache_write,
            },
        })
    }
}

/// Seconds since the Unix epoch for `created`; 0 where there is no clock
/// (`wasm32-unknown-unknown`, where `SystemTime::now` would panic).
fn now_secs() -> u64 {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_anthropic_stop_reason_has_a_mapping() {
        for (anthropic, openai) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("pause_turn", "stop"),
            ("model_context_window_exceeded", "length"),
        ] {
            assert_eq!(finish_reason(anthropic), openai, "{anthropic}");
        }
    }

    #[test]
    fn unknown_stop_reason_passes_through_instead_of_stop() {
        assert_eq!(finish_reason("brand_new_reason"), "brand_new_reason");
    }

    #[test]
    fn pause_turn_is_not_silently_stop() {
        let mut choice = Map::new();
        set_finish_reason(&mut choice, Some("pause_turn"));
        assert_eq!(choice["finish_reason"], "stop");
        assert_eq!(choice["stop_reason"], "pause_turn");
        let mut plain = Map::new();
        set_finish_reason(&mut plain, Some("end_turn"));
        assert!(!plain.contains_key("stop_reason"));
    }

    #[test]
    fn prompt_tokens_include_cache_reads_and_writes() {
        let mut u = AnthropicUsage::default();
        u.set_from(Some(&json!({
            "input_tokens": 10, "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 1000, "output_tokens": 5
        })));
        assert_eq!(
            u.to_openai(),
            json!({
                "prompt_tokens": 1110, "completion_tokens": 5, "total_tokens": 1115,
                "prompt_tokens_details": {"cached_tokens": 100, "cache_creation_tokens": 1000}
            })
        );
    }

    #[test]
    fn usage_fields_are_set_not_added() {
        let mut u = AnthropicUsage::default();
        u.set_from(Some(&json!({"input_tokens": 10, "output_tokens": 1})));
        u.set_from(Some(&json!({"output_tokens": 7})));
        u.set_from(Some(&json!({"output_tokens": 9})));
        assert_eq!((u.input, u.output), (10, 9));
    }
}
