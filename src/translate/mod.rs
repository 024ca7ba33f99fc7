//! Translation between API formats: one module per (client format, provider format) pair,
//! each with the same entry points — request, response, stream, error.
//! Same-format traffic is not translated at all (the filter passes it through).

pub mod chat_to_messages;
pub mod messages_to_chat;

use crate::sse::SseEvent;

/// Settings translation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `max_tokens` sent to Anthropic when an OpenAI request sets neither
    /// `max_completion_tokens` nor `max_tokens` (Anthropic requires one).
    pub default_max_tokens: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { default_max_tokens: DEFAULT_MAX_TOKENS }
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
