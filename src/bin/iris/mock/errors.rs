//! Errors in each API's own JSON shape, the checks every API request goes through first
//! (credentials, `content-type`, JSON body), and the errors of the `mock-error-<status>` models.

use serde_json::{json, Map, Value};

use super::http::{Request, Response};

/// Which provider API a request is for: decides the error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
    Gemini,
}

/// An error answer, rendered in an API's shape by [`ApiError::into_response`].
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// OpenAI `param`.
    pub param: Option<String>,
    /// OpenAI `code`.
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// A 400 invalid request.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn into_response(self, api: Api) -> Response {
        // The error type: OpenAI `type`, Anthropic `error.type`, Gemini `status`.
        let kind = default_kind(api, self.status);
        let body = match api {
            Api::OpenAi => json!({"error": {
                "message": self.message,
                "type": kind,
                "param": self.param,
                "code": self.code,
            }}),
            Api::Anthropic => {
                json!({"type": "error", "error": {"type": kind, "message": self.message}})
            }
            Api::Gemini => {
                json!({"error": {"code": self.status, "message": self.message, "status": kind}})
            }
        };
        let response = Response::json(self.status, &body);
        if matches!(self.status, 429 | 529) {
            response.with_header("retry-after", "7")
        } else {
            response
        }
    }
}

fn default_kind(api: Api, status: u16) -> &'static str {
    match api {
        Api::OpenAi => match status {
            429 => "requests",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        },
        Api::Anthropic => iris::error::anthropic_error_type(status),
        Api::Gemini => match status {
            400 | 413 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            405 | 501 => "UNIMPLEMENTED",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            503 | 529 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            400..=499 => "FAILED_PRECONDITION",
            _ => "INTERNAL",
        },
    }
}

/// Credential headers a request for `api` must not carry (a gateway leaking credentials).
fn foreign_credentials(api: Api) -> [&'static str; 2] {
    match api {
        Api::OpenAi => ["x-api-key", "x-goog-api-key"],
        // Anthropic takes `x-api-key` or `Authorization: Bearer` (what current SDKs send); both
        // at once is checked apart, in `check_credentials`.
        Api::Anthropic => ["x-goog-api-key", "api-key"],
        Api::Gemini => ["authorization", "x-api-key"],
    }
}

fn api_name(api: Api) -> &'static str {
    match api {
        Api::OpenAi => "an OpenAI request authenticates with authorization only",
        Api::Anthropic => {
            "an Anthropic request authenticates with one of x-api-key or authorization"
        }
        Api::Gemini => "a Gemini request authenticates with x-goog-api-key only",
    }
}

/// Credential checks: no foreign or proxy credentials, then the API's own key.
pub fn check_credentials(request: &Request, api: Api, key: &str) -> Result<(), ApiError> {
    let leaked = std::iter::once("proxy-authorization")
        .chain(foreign_credentials(api))
        .find(|name| request.header(name).is_some());
    let both = api == Api::Anthropic
        && request.header("x-api-key").is_some()
        && request.header("authorization").is_some();
    let leaked = leaked.or(both.then_some("authorization"));
    if let Some(name) = leaked {
        return Err(ApiError::invalid(format!(
            "unexpected credential header: {name} ({})",
            api_name(api)
        )));
    }
    if api == Api::Gemini && request.query_param("key").is_some() {
        return Err(ApiError::invalid(format!(
            "unexpected credential header: `key` query parameter ({})",
            api_name(api)
        )));
    }
    match api {
        Api::OpenAi => match request.header("authorization") {
            None => Err(ApiError::new(
                401,
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or \
                 as the password field (with blank username) if you're accessing the API from your \
                 browser and are prompted for a username and password. You can obtain an API key \
                 from https://platform.openai.com/account/api-keys.",
            )
            .code("invalid_api_key")),
            Some(value) if value.strip_prefix("Bearer ") == Some(key) => Ok(()),
            Some(_) => Err(ApiError::new(
                401,
                "Incorrect API key provided: mock-***. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
            )
            .code("invalid_api_key")),
        },
        Api::Anthropic => {
            let bearer = request
                .header("authorization")
                .map(|v| v.strip_prefix("Bearer ").unwrap_or(""));
            match request.header("x-api-key").or(bearer) {
                None => return Err(ApiError::new(401, "x-api-key header is required")),
                Some(value) if value == key => {}
                Some(_) => return Err(ApiError::new(401, "invalid x-api-key")),
            }
            if request.header("anthropic-version").is_none() {
                return Err(ApiError::invalid("anthropic-version: header is required"));
            }
            Ok(())
        }
        Api::Gemini => match request.header("x-goog-api-key") {
            None => Err(ApiError::new(
                401,
                "Method doesn't allow unregistered callers (callers without established \
                 identity). Please use API Key or other form of API consumer identity to call \
                 this API.",
            )),
            Some(value) if value == key => Ok(()),
            Some(_) => Err(ApiError::new(
                401,
                "API key not valid. Please pass a valid API key.",
            )),
        },
    }
}

/// Every API POST: credentials, `content-type: application/json`, a JSON object body.
pub fn precheck(request: &Request, api: Api, key: &str) -> Result<Map<String, Value>, ApiError> {
    check_credentials(request, api, key)?;
    let content_type = request.header("content-type").unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::invalid(format!(
            "Invalid content-type header: expected application/json, got '{content_type}'."
        )));
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(ApiError::invalid(match api {
            Api::OpenAi => "Invalid type for request body: expected an object.".to_string(),
            Api::Anthropic => "Input should be a valid dictionary or object".to_string(),
            Api::Gemini => "Invalid JSON payload received. Expected an object.".to_string(),
        })),
        Err(err) => Err(ApiError::invalid(match api {
            Api::OpenAi => "We could not parse the JSON body of your request. (HINT: This likely \
                means you aren't using your HTTP library correctly. The OpenAI API expects a JSON \
                payload, but what was sent was not valid JSON.)"
                .to_string(),
            Api::Anthropic => format!("There was an error parsing the body: {err}"),
            Api::Gemini => format!("Invalid JSON payload received. {err}"),
        })),
    }
}

/// The error a `mock-error-<status>` model answers with.
pub fn mock_error(api: Api, status: u16, model: &str) -> ApiError {
    match api {
        Api::OpenAi => openai_mock_error(status, model),
        Api::Anthropic => anthropic_mock_error(status, model),
        Api::Gemini => gemini_mock_error(status, model),
    }
}

fn openai_mock_error(status: u16, model: &str) -> ApiError {
    match status {
        400 => ApiError::new(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages \
             resulted in 200000 tokens. Please reduce the length of the messages.",
        )
        .param("messages")
        .code("context_length_exceeded"),
        401 => ApiError::new(
            401,
            "Incorrect API key provided: mock-***. You can find your API key at \
             https://platform.openai.com/account/api-keys.",
        )
        .code("invalid_api_key"),
        403 => ApiError::new(403, "You are not allowed to sample from this model")
            .code("model_not_allowed"),
        404 => ApiError::new(
            404,
            format!("The model `{model}` does not exist or you do not have access to it."),
        )
        .code("model_not_found"),
        429 => ApiError::new(
            429,
            format!(
                "Rate limit reached for {model} in organization org-mock on requests per min \
                 (RPM): Limit 3, Used 3, Requested 1. Please try again in 7s. Visit \
                 https://platform.openai.com/account/rate-limits to learn more."
            ),
        )
        .code("rate_limit_exceeded"),
        500 => ApiError::new(
            500,
            "The server had an error while processing your request. Sorry about that!",
        ),
        502 => ApiError::new(502, "Bad gateway."),
        503 | 529 => ApiError::new(
            status,
            "The engine is currently overloaded, please try again later.",
        ),
        504 => ApiError::new(504, "Gateway timeout."),
        _ => ApiError::new(status, format!("Mock error {status} for model {model}.")),
    }
}

fn anthropic_mock_error(status: u16, model: &str) -> ApiError {
    let message = match status {
        400 => "prompt is too long: 200000 tokens > 199999 maximum".to_string(),
        401 => "invalid x-api-key".to_string(),
        403 => "Your API key does not have permission to use the specified resource.".to_string(),
        404 => format!("model: {model}"),
        413 => "Request exceeds the maximum allowed number of bytes.".to_string(),
        429 => "This request would exceed the rate limit for your organization of 50 requests \
                per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. \
                You can see the response headers for current usage."
            .to_string(),
        500 => "Internal server error".to_string(),
        529 => "Overloaded".to_string(),
        _ => format!("Mock error {status} for model {model}."),
    };
    ApiError::new(status, message)
}

fn gemini_mock_error(status: u16, model: &str) -> ApiError {
    let message = match status {
        400 => "The input token count exceeds the maximum number of tokens allowed (1048576)."
            .to_string(),
        401 => "API key not valid. Please pass a valid API key.".to_string(),
        403 => "Permission denied on resource project mock.".to_string(),
        404 => format!(
            "models/{model} is not found for API version v1beta, or is not supported for \
             generateContent. Call ListModels to see the list of available models and their \
             supported methods."
        ),
        429 => "Resource has been exhausted (e.g. check quota).".to_string(),
        500 => "An internal error has occurred. Please retry or report in \
                https://developers.generativeai.google/guide/troubleshooting"
            .to_string(),
        503 | 529 => "The model is overloaded. Please try again later.".to_string(),
        504 => "Deadline expired before operation could complete.".to_string(),
        _ => format!("Mock error {status} for model {model}."),
    };
    ApiError::new(status, message)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::mock::http::Body;

    fn request(headers: &[(&str, &str)], query: &str) -> Request {
        Request {
            method: "POST".into(),
            path: "/x".into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: b"{}".to_vec(),
            oversized: false,
        }
    }

    fn body_json(response: &Response) -> Value {
        match &response.body {
            Body::Full(bytes) => serde_json::from_slice(bytes).unwrap(),
            Body::Stream(_) => Value::Null,
        }
    }

    #[test]
    fn wrong_or_missing_auth_is_401_in_each_shape() {
        let e = check_credentials(
            &request(&[("authorization", "Bearer nope")], ""),
            Api::OpenAi,
            "k",
        )
        .unwrap_err()
        .into_response(Api::OpenAi);
        assert_eq!(e.status, 401);
        assert_eq!(body_json(&e)["error"]["code"], "invalid_api_key");
        assert_eq!(body_json(&e)["error"]["type"], "invalid_request_error");

        let e = check_credentials(&request(&[], ""), Api::Anthropic, "k")
            .unwrap_err()
            .into_response(Api::Anthropic);
        assert_eq!(e.status, 401);
        assert_eq!(body_json(&e)["type"], "error");
        assert_eq!(body_json(&e)["error"]["type"], "authentication_error");

        let e = check_credentials(&request(&[("x-api-key", "k")], ""), Api::Anthropic, "k")
            .unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("anthropic-version"));

        let e = check_credentials(&request(&[("x-goog-api-key", "bad")], ""), Api::Gemini, "k")
            .unwrap_err()
            .into_response(Api::Gemini);
        assert_eq!(e.status, 401);
        assert_eq!(body_json(&e)["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(body_json(&e)["error"]["code"], 401);

        assert!(check_credentials(
            &request(&[("authorization", "Bearer k")], ""),
            Api::OpenAi,
            "k"
        )
        .is_ok());
        assert!(check_credentials(
            &request(
                &[("x-api-key", "k"), ("anthropic-version", "2023-06-01")],
                ""
            ),
            Api::Anthropic,
            "k"
        )
        .is_ok());
        assert!(check_credentials(
            &request(
                &[
                    ("authorization", "Bearer k"),
                    ("anthropic-version", "2023-06-01")
                ],
                ""
            ),
            Api::Anthropic,
            "k"
        )
        .is_ok());
        assert!(check_credentials(
            &request(&[("x-goog-api-key", "k")], "alt=sse"),
            Api::Gemini,
            "k"
        )
        .is_ok());
    }

    #[test]
    fn leaked_credentials_are_400() {
        type Case<'a> = (Api, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            (
                Api::OpenAi,
                &[("authorization", "Bearer k"), ("x-api-key", "k")],
                "",
            ),
            (
                Api::OpenAi,
                &[("authorization", "Bearer k"), ("x-goog-api-key", "k")],
                "",
            ),
            (
                Api::Anthropic,
                &[
                    ("x-api-key", "k"),
                    ("anthropic-version", "1"),
                    ("authorization", "Bearer k"),
                ],
                "",
            ),
            (
                Api::Gemini,
                &[("x-goog-api-key", "k"), ("x-api-key", "k")],
                "",
            ),
            (Api::Gemini, &[("x-goog-api-key", "k")], "alt=sse&key=k"),
            (
                Api::OpenAi,
                &[
                    ("authorization", "Bearer k"),
                    ("proxy-authorization", "Basic x"),
                ],
                "",
            ),
        ];
        for (api, headers, query) in cases {
            let e = check_credentials(&request(headers, query), *api, "k").unwrap_err();
            assert_eq!(e.status, 400, "{headers:?}");
            assert!(
                e.message.starts_with("unexpected credential header"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn content_type_and_json_body() {
        let mut req = request(
            &[
                ("authorization", "Bearer k"),
                ("content-type", "application/json; charset=utf-8"),
            ],
            "",
        );
        assert!(precheck(&req, Api::OpenAi, "k").is_ok());
        req.body = b"[1]".to_vec();
        assert_eq!(precheck(&req, Api::OpenAi, "k").unwrap_err().status, 400);
        req.body = b"{".to_vec();
        assert_eq!(precheck(&req, Api::OpenAi, "k").unwrap_err().status, 400);
        let req = request(
            &[
                ("authorization", "Bearer k"),
                ("content-type", "text/plain"),
            ],
            "",
        );
        assert_eq!(precheck(&req, Api::OpenAi, "k").unwrap_err().status, 400);
    }

    #[test]
    fn mock_errors_have_realistic_types_and_retry_after() {
        let r = mock_error(Api::Anthropic, 529, "m").into_response(Api::Anthropic);
        assert_eq!(r.status, 529);
        assert_eq!(body_json(&r)["error"]["type"], "overloaded_error");
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| *n == "retry-after" && v == "7"));
        let r = mock_error(Api::Anthropic, 429, "m").into_response(Api::Anthropic);
        assert_eq!(body_json(&r)["error"]["type"], "rate_limit_error");
        let r = mock_error(Api::Anthropic, 500, "m").into_response(Api::Anthropic);
        assert_eq!(body_json(&r)["error"]["type"], "api_error");
        let r = mock_error(Api::OpenAi, 429, "m").into_response(Api::OpenAi);
        assert_eq!(body_json(&r)["error"]["code"], "rate_limit_exceeded");
        assert!(r.headers.iter().any(|(n, _)| *n == "retry-after"));
        let r = mock_error(Api::Gemini, 503, "m").into_response(Api::Gemini);
        assert_eq!(body_json(&r)["error"]["status"], "UNAVAILABLE");
    }
}
