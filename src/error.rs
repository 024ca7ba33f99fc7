//! Errors Iris answers itself, each knowing its HTTP status, a low-cardinality kind for logs
//! and metrics, and a public message; rendered in the client's API error shape.

use crate::api::ApiFormat;
use serde_json::json;

/// An error Iris answers itself, before anything reaches a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayError {
    /// No API at this path.
    UnknownEndpoint { path: String },
    /// The path exists, but not for this method.
    MethodNotAllowed { method: String },
    /// The request has no body.
    MissingBody,
    /// The body is not a JSON object.
    InvalidJson { detail: String },
    /// The body has no usable `model`.
    MissingModel,
    /// No enabled provider serves this model.
    UnknownModel { model: String },
    /// A provider serves the model, but none accepts the client's API format.
    FormatNotSupported {
        model: String,
        format: ApiFormat,
        providers: Vec<String>,
    },
    /// The body is larger than `iris.max_request_bytes`.
    BodyTooLarge { limit: usize },
    /// A host call failed; details are logged, not shown.
    Internal,
    /// The provider could not be reached, or answered an error that is not JSON (Envoy's own
    /// `no healthy upstream`, an HTML error page): the status is kept, the detail logged.
    Upstream { status: u16, provider: String },
    /// The request cannot be translated for the provider (a parameter the provider's API
    /// cannot honour, a malformed message); `param` names the offending field.
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    /// No caller identity could be established (missing or wrong gateway key).
    Unauthenticated { message: String },
    /// The caller has no role, or no grant for this model.
    Forbidden { message: String },
}

/// Anthropic's error `type` for an HTTP status (the SDKs pick their exception from both).
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Builds [`GatewayError::Upstream`] and logs the detail that the client does not see.
pub fn upstream_error(status: u16, provider: &str, detail: &str) -> GatewayError {
    let short: String = detail.chars().take(300).collect();
    log::warn!("provider {provider} answered {status} without a JSON body: {short}");
    GatewayError::Upstream {
        status,
        provider: provider.to_string(),
    }
}

impl GatewayError {
    pub fn status(&self) -> u16 {
        match self {
            GatewayError::UnknownEndpoint { .. } | GatewayError::UnknownModel { .. } => 404,
            GatewayError::MethodNotAllowed { .. } => 405,
            GatewayError::MissingBody
            | GatewayError::InvalidJson { .. }
            | GatewayError::MissingModel
            | GatewayError::FormatNotSupported { .. } => 400,
            GatewayError::BodyTooLarge { .. } => 413,
            GatewayError::Internal => 500,
            GatewayError::Upstream { status, .. } => *status,
            GatewayError::InvalidRequest { .. } => 400,
            GatewayError::Unauthenticated { .. } => 401,
            GatewayError::Forbidden { .. } => 403,
        }
    }

    /// A stable, low-cardinality name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            GatewayError::UnknownEndpoint { .. } => "unknown_endpoint",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
            GatewayError::MissingBody => "missing_body",
            GatewayError::InvalidJson { .. } => "invalid_json",
            GatewayError::MissingModel => "missing_model",
            GatewayError::UnknownModel { .. } => "unknown_model",
            GatewayError::FormatNotSupported { .. } => "format_not_supported",
            GatewayError::BodyTooLarge { .. } => "body_too_large",
            GatewayError::Internal => "internal",
            GatewayError::Upstream { .. } => "upstream_unavailable",
            GatewayError::InvalidRequest { .. } => "invalid_request",
            GatewayError::Unauthenticated { .. } => "unauthenticated",
            GatewayError::Forbidden { .. } => "forbidden",
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            GatewayError::UnknownEndpoint { path } => format!("no API at {path}; Iris serves POST /v1/chat/completions, /v1/responses, /v1/messages and /v1beta/models/{{model}}:generateContent"),
            GatewayError::MethodNotAllowed { method } => format!("method {method} is not allowed here; use POST"),
            GatewayError::MissingBody => "the request has no body; send a JSON object".to_string(),
            GatewayError::InvalidJson { detail } => format!("the request body is not valid JSON: {detail}"),
            GatewayError::MissingModel => "the request body must name a model in the \"model\" field".to_string(),
            GatewayError::UnknownModel { model } => format!("model {model:?} is not served by any configured provider"),
            GatewayError::FormatNotSupported { model, format, providers } => format!(
                "model {model:?} is served by {}, which does not accept {} requests",
                providers.join(", "),
                format.label()
            ),
            GatewayError::BodyTooLarge { limit } => format!("the request body is larger than the gateway's limit of {limit} bytes"),
            GatewayError::Internal => "internal gateway error".to_string(),
            GatewayError::InvalidRequest { message, .. }
            | GatewayError::Unauthenticated { message }
            | GatewayError::Forbidden { message } => message.clone(),
            GatewayError::Upstream { status, provider } => {
                format!("provider {provider} could not be reached or failed without an error body (HTTP {status})")
            }
        }
    }

    /// The error body in the client's API shape.
    pub fn body(&self, format: ApiFormat) -> Vec<u8> {
        let message = self.message();
        let status = self.status();
        let value = match format {
            ApiFormat::OpenAiChat | ApiFormat::OpenAiResponses => {
                let (kind, code) = match self {
                    GatewayError::UnknownModel { .. } => {
                        ("invalid_request_error", Some("model_not_found"))
                    }
                    GatewayError::UnknownEndpoint { .. } => {
                        ("invalid_request_error", Some("unknown_url"))
                    }
                    GatewayError::BodyTooLarge { .. } => {
                        ("invalid_request_error", Some("request_too_large"))
                    }
                    GatewayError::Internal => ("server_error", None),
                    GatewayError::Unauthenticated { .. } => {
                        ("invalid_request_error", Some("invalid_api_key"))
                    }
                    GatewayError::Forbidden { .. } => ("permission_error", Some("access_denied")),
                    GatewayError::Upstream { status, .. } if *status >= 500 => {
                        ("server_error", None)
                    }
                    _ => ("invalid_request_error", None),
                };
                let param = match self {
                    GatewayError::MissingModel
                    | GatewayError::UnknownModel { .. }
                    | GatewayError::FormatNotSupported { .. } => Some("model"),
                    GatewayError::InvalidRequest { param, .. } => param.as_deref(),
                    _ => None,
                };
                json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
            }
            ApiFormat::AnthropicMessages => {
                let kind = anthropic_error_type(status);
                json!({"type": "error", "error": {"type": kind, "message": message}})
            }
            ApiFormat::Gemini => {
                let grpc = match status {
                    401 => "UNAUTHENTICATED",
                    403 => "PERMISSION_DENIED",
                    404 => "NOT_FOUND",
                    429 => "RESOURCE_EXHAUSTED",
                    503 | 529 => "UNAVAILABLE",
                    504 => "DEADLINE_EXCEEDED",
                    s if s >= 500 => "INTERNAL",
                    _ => "INVALID_ARGUMENT",
                };
                json!({"error": {"code": status, "message": message, "status": grpc}})
            }
        };
        value.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn parsed(e: &GatewayError, f: ApiFormat) -> Value {
        serde_json::from_slice(&e.body(f)).unwrap()
    }

    #[test]
    fn unknown_model_in_each_shape() {
        let e = GatewayError::UnknownModel {
            model: "nope".into(),
        };
        assert_eq!(e.status(), 404);
        let o = parsed(&e, ApiFormat::OpenAiChat);
        assert_eq!(o["error"]["code"], "model_not_found");
        assert_eq!(o["error"]["param"], "model");
        assert!(o["error"]["message"].as_str().unwrap().contains("\"nope\""));
        let a = parsed(&e, ApiFormat::AnthropicMessages);
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "not_found_error");
        let g = parsed(&e, ApiFormat::Gemini);
        assert_eq!(
            (g["error"]["code"].as_u64(), g["error"]["status"].as_str()),
            (Some(404), Some("NOT_FOUND"))
        );
    }

    #[test]
    fn too_large_is_413_everywhere() {
        let e = GatewayError::BodyTooLarge { limit: 10 };
        assert_eq!(e.status(), 413);
        assert_eq!(
            parsed(&e, ApiFormat::AnthropicMessages)["error"]["type"],
            "request_too_large"
        );
    }
}
