//! The API formats Iris speaks and how a request path maps to one of them.

/// An LLM API format, on the client side or the provider side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFormat {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`/v1/messages`).
    AnthropicMessages,
    /// Gemini generateContent (`/v1beta/models/{model}:generateContent`).
    Gemini,
}

impl ApiFormat {
    pub const ALL: [ApiFormat; 4] = [
        ApiFormat::OpenAiChat,
        ApiFormat::OpenAiResponses,
        ApiFormat::AnthropicMessages,
        ApiFormat::Gemini,
    ];

    /// The Aperture `compatibility` flag that enables this format.
    pub fn flag(self) -> &'static str {
        match self {
            ApiFormat::OpenAiChat => "openai_chat",
            ApiFormat::OpenAiResponses => "openai_responses",
            ApiFormat::AnthropicMessages => "anthropic_messages",
            ApiFormat::Gemini => "gemini_generate_content",
        }
    }

    /// A short human name for messages and logs.
    pub fn label(self) -> &'static str {
        match self {
            ApiFormat::OpenAiChat => "OpenAI Chat Completions",
            ApiFormat::OpenAiResponses => "OpenAI Responses",
            ApiFormat::AnthropicMessages => "Anthropic Messages",
            ApiFormat::Gemini => "Gemini generateContent",
        }
    }
}

/// What a request path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub format: ApiFormat,
    pub kind: EndpointKind,
    /// Canonical upstream path (without query), e.g. `/v1/chat/completions` for `/chat/completions`.
    pub path: String,
    /// The query string without `?` (credential parameters removed), or empty.
    pub query: String,
    /// The model named in the path (Gemini), if any.
    pub path_model: Option<String>,
}

/// Which operation of the format the endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// A generation request (chat completion, message, response, generateContent).
    Generate,
    /// A generation request whose response is a stream because of the path (Gemini).
    StreamGenerate,
    /// Anthropic `/v1/messages/count_tokens`: routed like messages, no generation.
    CountTokens,
}

/// Why a request does not map to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    /// No API lives at this path.
    NotFound { format: ApiFormat },
    /// The path exists but only for another method.
    MethodNotAllowed { format: ApiFormat },
}

/// Maps a method and a `:path` (with query) to an endpoint.
pub fn endpoint(method: &str, full_path: &str) -> Result<Endpoint, EndpointError> {
    let (path, query) = full_path.split_once('?').unwrap_or((full_path, ""));
    let path = path.trim_end_matches('/');
    let found = match path {
        "/v1/chat/completions" | "/chat/completions" => Some((
            ApiFormat::OpenAiChat,
            EndpointKind::Generate,
            "/v1/chat/completions".to_string(),
            None,
        )),
        "/v1/responses" | "/responses" => Some((
            ApiFormat::OpenAiResponses,
            EndpointKind::Generate,
            "/v1/responses".to_string(),
            None,
        )),
        "/v1/messages" => Some((
            ApiFormat::AnthropicMessages,
            EndpointKind::Generate,
            "/v1/messages".to_string(),
            None,
        )),
        "/v1/messages/count_tokens" => Some((
            ApiFormat::AnthropicMessages,
            EndpointKind::CountTokens,
            "/v1/messages/count_tokens".to_string(),
            None,
        )),
        _ => gemini_path(path)
            .map(|(model, kind)| (ApiFormat::Gemini, kind, path.to_string(), Some(model))),
    };
    let Some((format, kind, canonical, path_model)) = found else {
        return Err(EndpointError::NotFound {
            format: format_for_unknown_path(path),
        });
    };
    if method != "POST" {
        return Err(EndpointError::MethodNotAllowed { format });
    }
    Ok(Endpoint {
        format,
        kind,
        path: canonical,
        query: strip_credential_params(query),
        path_model,
    })
}

/// `/v1beta/models/{model}:generateContent` (or `:streamGenerateContent`) -> model and kind.
fn gemini_path(path: &str) -> Option<(String, EndpointKind)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, action) = rest.rsplit_once(':')?;
    let kind = match action {
        "generateContent" => EndpointKind::Generate,
        "streamGenerateContent" => EndpointKind::StreamGenerate,
        _ => return None,
    };
    if model.is_empty() || model.contains('/') {
        return None;
    }
    Some((model.to_string(), kind))
}

/// The error shape to use for a path that matches nothing: the one its prefix suggests.
fn format_for_unknown_path(path: &str) -> ApiFormat {
    if path.starts_with("/v1/messages") {
        ApiFormat::AnthropicMessages
    } else if path.starts_with("/v1beta/") {
        ApiFormat::Gemini
    } else {
        ApiFormat::OpenAiChat
    }
}

/// Removes `key=` (Gemini's query-string API key) so a client credential never travels upstream.
fn strip_credential_params(query: &str) -> String {
    query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("key"))
        .collect::<Vec<_>>()
        .join("&")
}

impl Endpoint {
    /// The path plus query to send upstream, before the provider's base path is joined.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn chat_paths_are_canonical() {
        let e = endpoint("POST", "/chat/completions").unwrap();
        assert_eq!(
            (e.format, e.path.as_str()),
            (ApiFormat::OpenAiChat, "/v1/chat/completions")
        );
        let e = endpoint("POST", "/v1/chat/completions?api-version=1").unwrap();
        assert_eq!(e.path_and_query(), "/v1/chat/completions?api-version=1");
    }

    #[test]
    fn messages_and_count_tokens() {
        assert_eq!(
            endpoint("POST", "/v1/messages").unwrap().kind,
            EndpointKind::Generate
        );
        let e = endpoint("POST", "/v1/messages/count_tokens").unwrap();
        assert_eq!(
            (e.format, e.kind),
            (ApiFormat::AnthropicMessages, EndpointKind::CountTokens)
        );
    }

    #[test]
    fn gemini_model_comes_from_the_path_and_key_param_is_dropped() {
        let e = endpoint(
            "POST",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=SECRET",
        )
        .unwrap();
        assert_eq!(e.path_model.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(e.kind, EndpointKind::StreamGenerate);
        assert_eq!(
            e.path_and_query(),
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
        );
        assert!(endpoint("POST", "/v1beta/models/:generateContent").is_err());
        assert!(endpoint("POST", "/v1beta/models/x:embedContent").is_err());
    }

    #[test]
    fn unknown_paths_and_methods() {
        assert_eq!(
            endpoint("POST", "/v1/messages/batches"),
            Err(EndpointError::NotFound {
                format: ApiFormat::AnthropicMessages
            })
        );
        assert_eq!(
            endpoint("GET", "/nope"),
            Err(EndpointError::NotFound {
                format: ApiFormat::OpenAiChat
            })
        );
        assert_eq!(
            endpoint("GET", "/v1/chat/completions"),
            Err(EndpointError::MethodNotAllowed {
                format: ApiFormat::OpenAiChat
            })
        );
    }
}
