//! Translation between API formats: one module per (client format, provider format) pair,
//! each with the same entry points — request, response, stream, error.
//! Same-format traffic is not translated at all (the filter passes it through).

pub mod chat_to_messages;
pub mod messages_to_chat;

use crate::api::ApiFormat;
use crate::error::GatewayError;
use crate::sse::SseEvent;

/// A (client format, provider format) pair Iris can translate between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// OpenAI Chat Completions client, Anthropic Messages provider.
    ChatToMessages,
    /// Anthropic Messages client, OpenAI Chat Completions provider.
    MessagesToChat,
}

impl Pair {
    /// The translator from `client` to `upstream`, if there is one (same formats need none).
    pub fn between(client: ApiFormat, upstream: ApiFormat) -> Option<Pair> {
        match (client, upstream) {
            (ApiFormat::OpenAiChat, ApiFormat::AnthropicMessages) => Some(Pair::ChatToMessages),
            (ApiFormat::AnthropicMessages, ApiFormat::OpenAiChat) => Some(Pair::MessagesToChat),
            _ => None,
        }
    }

    /// The provider-side path of a generation request.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Pair::ChatToMessages => "/v1/messages",
            Pair::MessagesToChat => "/v1/chat/completions",
        }
    }

    pub fn request(
        self,
        body: &[u8],
        upstream_model: &str,
        opts: &Options,
    ) -> Result<Translated, GatewayError> {
        match self {
            Pair::ChatToMessages => chat_to_messages::request(body, upstream_model, opts),
            Pair::MessagesToChat => messages_to_chat::request(body, upstream_model, opts),
        }
    }

    pub fn response(self, body: &[u8]) -> Result<Vec<u8>, GatewayError> {
        match self {
            Pair::ChatToMessages => chat_to_messages::response(body),
            Pair::MessagesToChat => messages_to_chat::response(body),
        }
    }

    pub fn error(self, status: u16, body: &[u8]) -> Vec<u8> {
        match self {
            Pair::ChatToMessages => chat_to_messages::error(status, body),
            Pair::MessagesToChat => messages_to_chat::error(status, body),
        }
    }

    pub fn stream(self, translated: &Translated) -> Box<dyn StreamTranslator> {
        match self {
            Pair::ChatToMessages => Box::new(chat_to_messages::Stream::new(translated)),
            Pair::MessagesToChat => Box::new(messages_to_chat::Stream::new(translated)),
        }
    }
}

/// An honest estimate of a Messages request's input tokens for providers that cannot count
/// them (`/v1/messages/count_tokens` routed to an OpenAI-format provider): one token per four
/// characters of every string in `system`, `messages` and `tools` (except the `role` and
/// `type` tags), rounded up. Claude Code
/// uses the figure to decide when to compact, so an estimate is better than an error.
pub fn estimate_input_tokens(body: &[u8]) -> Option<u64> {
    fn chars(v: &serde_json::Value) -> u64 {
        match v {
            serde_json::Value::String(s) => s.chars().count() as u64,
            serde_json::Value::Array(a) => a.iter().map(chars).sum(),
            serde_json::Value::Object(o) => o
                .iter()
                .filter(|(k, _)| *k != "role" && *k != "type")
                .map(|(_, v)| chars(v))
                .sum(),
            _ => 0,
        }
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let total: u64 = ["system", "messages", "tools"]
        .iter()
        .filter_map(|k| v.get(*k))
        .map(chars)
        .sum();
    Some(total.div_ceil(4).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn token_estimate_is_a_quarter_of_the_text() {
        let body = br#"{"model":"m","system":"abcd","messages":[{"role":"user","content":[{"type":"text","text":"12345678"}]}]}"#;
        assert_eq!(estimate_input_tokens(body), Some(3));
        assert_eq!(estimate_input_tokens(b"nope"), None);
    }

    #[test]
    fn pairs_exist_only_between_different_formats() {
        assert_eq!(
            Pair::between(ApiFormat::OpenAiChat, ApiFormat::AnthropicMessages),
            Some(Pair::ChatToMessages)
        );
        assert_eq!(
            Pair::between(ApiFormat::AnthropicMessages, ApiFormat::OpenAiChat),
            Some(Pair::MessagesToChat)
        );
        assert_eq!(
            Pair::between(ApiFormat::OpenAiChat, ApiFormat::OpenAiChat),
            None
        );
        assert_eq!(
            Pair::between(ApiFormat::Gemini, ApiFormat::OpenAiChat),
            None
        );
    }
}

/// Settings translation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `max_tokens` sent to Anthropic when an OpenAI request sets neither
    /// `max_completion_tokens` nor `max_tokens` (Anthropic requires one).
    pub default_max_tokens: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// Default for [`Options::default_max_tokens`].
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

/// A request body translated for the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// The provider-format body.
    pub body: Vec<u8>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Whether the client asked for a final usage chunk (OpenAI `stream_options.include_usage`).
    pub include_usage: bool,
}

/// Streaming translation: provider SSE events in, client SSE bytes out, as they arrive.
pub trait StreamTranslator {
    /// Translates one provider event, appending zero or more client events to `out`.
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>);
    /// The provider's stream ended: appends what the client still needs (closing events, or an
    /// in-band error when the provider's stream was cut short).
    fn finish(&mut self, out: &mut Vec<u8>);
}
