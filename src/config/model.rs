//! The validated, immutable configuration the filter and the CLI work from.

use crate::api::ApiFormat;
use std::fmt;

/// The whole validated configuration. Providers are sorted by id.
#[derive(Debug, Clone)]
pub struct Config {
    pub providers: Vec<Provider>,
    pub settings: Settings,
    /// Grants and groups: who may use what.
    pub policy: crate::grants::Policy,
    /// How callers are identified (`iris.identity`).
    pub identity: crate::identity::Sources,
    /// Price overrides (`iris.prices`), checked before the shipped tables.
    pub prices: crate::telemetry::pricing::Overrides,
}

impl Config {
    pub fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }
}

/// Iris's own settings, from the optional top-level `iris` object (Aperture has no such key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Largest request body accepted, in bytes; larger bodies get 413 in the client's format.
    pub max_request_bytes: usize,
    /// Largest non-streaming response body the filter copies to read its token usage.
    pub max_response_capture_bytes: usize,
    /// `max_tokens` sent to Anthropic-format providers when a translated OpenAI request sets
    /// none (Anthropic requires one); a provider's own `default_max_tokens` wins.
    pub default_max_tokens: u64,
}

impl Settings {
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
    pub const DEFAULT_MAX_RESPONSE_CAPTURE_BYTES: usize = 8 * 1024 * 1024;
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
            max_response_capture_bytes: Self::DEFAULT_MAX_RESPONSE_CAPTURE_BYTES,
            default_max_tokens: crate::translate::DEFAULT_MAX_TOKENS,
        }
    }
}

/// One upstream provider (`providers.<id>`).
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub description: String,
    pub base: BaseUrl,
    pub apikey: Secret,
    pub authorization: AuthScheme,
    pub auth_mode: AuthMode,
    pub models: Vec<ModelPattern>,
    pub compatibility: Compatibility,
    pub preference: i64,
    pub disabled: bool,
    /// `Header-Name: value` lines added to every upstream request, name lower-cased.
    pub add_headers: Vec<(String, String)>,
    /// Name of the Envoy cluster that reaches `base`; the renderer and the filter agree on it.
    pub cluster: String,
    /// Iris extension: `max_tokens` for translated requests that set none (see [`Settings`]).
    pub default_max_tokens: Option<u64>,
    /// How this provider's requests are priced.
    pub pricing: crate::telemetry::pricing::Pricing,
}

impl Provider {
    /// The pattern in `models` that serves `model`, exact names before globs.
    pub fn serves(&self, model: &str) -> Option<&ModelPattern> {
        self.models
            .iter()
            .find(|p| !p.is_glob() && p.matches(model))
            .or_else(|| self.models.iter().find(|p| p.is_glob() && p.matches(model)))
    }
}

/// A credential that must never be printed: `Debug` shows only whether it is set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

/// How the provider's key is sent (`authorization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <key>` (the default).
    Bearer,
    /// `x-api-key: <key>` (Anthropic).
    XApiKey,
    /// `x-goog-api-key: <key>` (Gemini).
    XGoogApiKey,
}

impl AuthScheme {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "bearer" => Some(AuthScheme::Bearer),
            "x-api-key" => Some(AuthScheme::XApiKey),
            "x-goog-api-key" => Some(AuthScheme::XGoogApiKey),
            _ => None,
        }
    }
}

/// Whose credential reaches the provider (`auth_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// The provider's `apikey` replaces whatever the client sent (the default).
    Inject,
    /// The client's own credential headers are forwarded unchanged.
    Passthrough,
}

/// The API formats a provider accepts (`compatibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compatibility {
    pub openai_chat: bool,
    pub openai_responses: bool,
    pub anthropic_messages: bool,
    pub gemini_generate_content: bool,
}

impl Compatibility {
    pub fn accepts(&self, format: ApiFormat) -> bool {
        match format {
            ApiFormat::OpenAiChat => self.openai_chat,
            ApiFormat::OpenAiResponses => self.openai_responses,
            ApiFormat::AnthropicMessages => self.anthropic_messages,
            ApiFormat::Gemini => self.gemini_generate_content,
        }
    }

    pub fn formats(&self) -> Vec<ApiFormat> {
        ApiFormat::ALL
            .into_iter()
            .filter(|f| self.accepts(*f))
            .collect()
    }
}

/// An entry of a provider's `models` list: an exact name or a glob (`*`, `?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPattern(pub String);

impl ModelPattern {
    pub fn is_glob(&self) -> bool {
        self.0.contains(['*', '?'])
    }
    pub fn matches(&self, model: &str) -> bool {
        crate::glob::matches(&self.0, model)
    }
}

/// URL scheme of a provider's `baseurl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A parsed `baseurl`: where the provider's cluster points and the path prefix to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub scheme: Scheme,
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash (`""` for none).
    pub path: String,
    /// `Host` / `:authority` value: the host, with the port when it is not the default.
    pub authority: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(format!(
                "baseurl {url:?} must start with http:// or https://"
            ));
        };
        if rest.contains(['?', '#']) {
            return Err(format!("baseurl {url:?} must not have a query or fragment"));
        }
        let (hostport, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if hostport.contains('@') {
            return Err(format!("baseurl {url:?} must not contain credentials"));
        }
        let default_port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let (host, port) = split_host_port(hostport, default_port)
            .ok_or_else(|| format!("baseurl {url:?} has an invalid host or port"))?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
        {
            return Err(format!("baseurl {url:?} has an invalid host"));
        }
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let authority = if port == default_port {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        Ok(BaseUrl {
            scheme,
            host,
            port,
            path: path.trim_end_matches('/').to_string(),
            authority,
        })
    }

    /// Whether the host is an IP literal (a STATIC cluster) rather than a DNS name.
    pub fn host_is_ip(&self) -> bool {
        self.host.parse::<std::net::IpAddr>().is_ok()
    }

    /// Upstream path for a request path: the prefix joined to it, without doubling a shared
    /// segment (`/v1` + `/v1/chat/completions` -> `/v1/chat/completions`).
    pub fn join(&self, request_path: &str) -> String {
        let prefix = self.path.as_str();
        if prefix.is_empty() {
            return request_path.to_string();
        }
        let last = prefix.rsplit('/').next().unwrap_or_default();
        let first = request_path
            .trim_start_matches('/')
            .split(['/', '?'])
            .next()
            .unwrap_or_default();
        if !last.is_empty() && last == first {
            let rest = request_path
                .trim_start_matches('/')
                .get(first.len()..)
                .unwrap_or_default();
            format!("{prefix}{rest}")
        } else {
            format!("{prefix}{request_path}")
        }
    }
}

fn split_host_port(hostport: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok().filter(|p| *p != 0)?)),
        None => Some((hostport.to_string(), default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn baseurl_parts() {
        let b = BaseUrl::parse("https://api.anthropic.com").unwrap();
        assert_eq!(
            (b.scheme, b.host.as_str(), b.port, b.path.as_str()),
            (Scheme::Https, "api.anthropic.com", 443, "")
        );
        assert_eq!(b.authority, "api.anthropic.com");
        let b = BaseUrl::parse("http://127.0.0.1:18000/v1/").unwrap();
        assert_eq!(
            (b.port, b.path.as_str(), b.authority.as_str()),
            (18000, "/v1", "127.0.0.1:18000")
        );
        assert!(b.host_is_ip());
        let b = BaseUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (b.host.as_str(), b.authority.as_str()),
            ("::1", "[::1]:8080")
        );
    }

    #[test]
    fn baseurl_rejects_bad_urls() {
        for bad in [
            "api.openai.com",
            "ftp://x",
            "https://",
            "https://u:p@x",
            "https://x:0",
            "https://x:99999",
            "https://x?a=1",
            "https://a b",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn join_does_not_double_v1() {
        let b = BaseUrl::parse("http://h/v1").unwrap();
        assert_eq!(b.join("/v1/chat/completions"), "/v1/chat/completions");
        let b = BaseUrl::parse("https://api.groq.com/openai").unwrap();
        assert_eq!(
            b.join("/v1/chat/completions"),
            "/openai/v1/chat/completions"
        );
        let b = BaseUrl::parse("https://openrouter.ai/api/").unwrap();
        assert_eq!(b.join("/v1/chat/completions"), "/api/v1/chat/completions");
        let b = BaseUrl::parse("https://g/v1beta").unwrap();
        assert_eq!(
            b.join("/v1beta/models/x:generateContent?alt=sse"),
            "/v1beta/models/x:generateContent?alt=sse"
        );
        let b = BaseUrl::parse("https://h").unwrap();
        assert_eq!(b.join("/v1/messages"), "/v1/messages");
        let b = BaseUrl::parse("https://h/v1").unwrap();
        assert_eq!(b.join("/v1beta/models/x"), "/v1/v1beta/models/x");
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("sk-123".into())),
            "Secret(<redacted>)"
        );
    }
}
