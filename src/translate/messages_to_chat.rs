//! Anthropic Messages clients -> OpenAI Chat Completions providers.
//! (Contract stub: the public API below is fixed; the bodies are being written.)

use super::{Options, StreamTranslator, Translated};
use crate::error::GatewayError;
use crate::sse::SseEvent;

/// Translates the client's request body for the provider; `upstream_model` replaces `model`.
/// Requests the provider's API cannot honour get a [`GatewayError::InvalidRequest`].
pub fn request(
    body: &[u8],
    upstream_model: &str,
    opts: &Options,
) -> Result<Translated, GatewayError> {
    let _ = (body, upstream_model, opts);
    Err(GatewayError::InvalidRequest {
        message: "translation is not available yet".into(),
        param: None,
    })
}

/// Translates a successful (2xx) non-streamed provider response body for the client.
pub fn response(body: &[u8]) -> Result<Vec<u8>, GatewayError> {
    let _ = body;
    Err(GatewayError::Internal)
}

/// Translates a provider error body (status >= 400) into the client's error shape.
pub fn error(status: u16, body: &[u8]) -> Vec<u8> {
    let _ = body;
    GatewayError::Internal
        .body(crate::api::ApiFormat::OpenAiChat)
        .into_iter()
        .chain(std::iter::empty())
        .collect::<Vec<u8>>()
        .into_iter()
        .take(if status > 0 { usize::MAX } else { 0 })
        .collect()
}

/// Stream translation state for one response.
pub struct Stream {
    include_usage: bool,
}

impl Stream {
    /// `translated` is what [`request`] returned for this exchange.
    pub fn new(translated: &Translated) -> Self {
        Stream {
            include_usage: translated.include_usage,
        }
    }
}

impl StreamTranslator for Stream {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        let _ = (event, out, self.include_usage);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }
}
