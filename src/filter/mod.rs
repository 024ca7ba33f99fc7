//! The per-request state machine: what Iris does at each phase of an HTTP exchange, written
//! against a small [`Host`] trait so it runs (and is tested) without Envoy.

use crate::api::{self, ApiFormat, Endpoint, EndpointError, EndpointKind};
use crate::auth::{upstream_credentials, CLIENT_CREDENTIAL_HEADERS};
use crate::body;
use crate::config::Config;
use crate::error::GatewayError;
use crate::grants::{Denied, Role};
use crate::identity::{Identity, Resolved};
use crate::models;
use crate::routing;
use crate::sse::{SseEvent, SseFramer};
use crate::telemetry::dashboard;
use crate::telemetry::metrics;
use crate::telemetry::record::Record;
use crate::telemetry::sessions::{self, SharedStore};
use crate::translate::{self, Pair, StreamTranslator, Translated};
use crate::usage::{self, StreamUsage, Usage};
use std::rc::Rc;

/// Header the filter sets to pick the Envoy cluster; the route reads it (`cluster_header`)
/// and removes it before the request leaves. A client-sent copy is always removed.
pub const CLUSTER_HEADER: &str = "x-iris-cluster";

/// `anthropic-version` sent with translated requests when the client sent none.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `GET /v1/models` (`Some(None)`) or `/v1/models/{id}` (`Some(Some(id))`).
fn models_path(path: &str) -> Option<Option<&str>> {
    let path = path
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let rest = path
        .strip_prefix("/v1/models")
        .or_else(|| path.strip_prefix("/models"))?;
    match rest.strip_prefix('/') {
        None if rest.is_empty() => Some(None),
        // Gemini's `/v1/models/{model}:generateContent` is not a models lookup.
        Some(id) if !id.is_empty() && !id.contains(':') => Some(Some(id)),
        _ => None,
    }
}

fn no_role() -> GatewayError {
    GatewayError::Forbidden {
        message: "access denied: no role granted".to_string(),
    }
}

fn denied(d: Denied, who: &Identity) -> GatewayError {
    match d {
        Denied::NoRole => no_role(),
        Denied::Model(target) => GatewayError::Forbidden {
            message: format!(
                "access denied: model {target:?} is not granted to {}",
                who.user
            ),
        },
    }
}

/// What the host (Envoy, or a fake in tests) offers the filter.
pub trait Host {
    /// All request headers (names lower-case), fetched in one call.
    fn request_headers(&self) -> Vec<(String, String)>;
    /// Replaces every request header.
    fn set_request_headers(&mut self, headers: Vec<(String, String)>);
    /// Sets (`Some`) or removes (`None`) a request header.
    fn set_request_header(&mut self, name: &str, value: Option<&str>);
    /// The buffered request body, `size` bytes.
    fn request_body(&self, size: usize) -> Option<Vec<u8>>;
    /// Replaces the buffered request body.
    fn set_request_body(&mut self, body: &[u8]);
    fn response_header(&self, name: &str) -> Option<String>;
    fn set_response_header(&mut self, name: &str, value: Option<&str>);
    /// The current response body chunk (or the buffered body after a pause), `size` bytes.
    fn response_body(&self, size: usize) -> Option<Vec<u8>>;
    fn set_response_body(&mut self, body: &[u8]);
    /// Answers the request locally.
    fn send_reply(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]);
    fn now_ms(&self) -> u64;
    /// Adds to a counter or records a histogram value (the host caches metric ids).
    fn metric(&mut self, kind: metrics::Kind, name: &str, value: u64);
    /// Publishes the request's record for Envoy's access loggers (filter state).
    fn set_record(&mut self, json: &str);
    /// Shared data (all workers): value and compare-and-swap token.
    fn shared_get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Sets shared data if `cas` still matches; false on a mismatch.
    fn shared_set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool;
    /// Adds a finished request to its session. Envoy batches these off the request path
    /// ([`sessions::record_batch`] on a timer); a test host may apply them at once.
    fn queue_session(&mut self, record: Record, json: String);
    /// The dynamic metadata `jwt_authn` wrote (Envoy's serialized map; see `metadata.rs`).
    fn jwt_metadata(&self) -> Option<Vec<u8>>;
}

/// Shared data through the host, for the session store.
pub struct HostStore<'a>(pub &'a mut dyn Host);

impl SharedStore for HostStore<'_> {
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.0.shared_get(key)
    }
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        self.0.shared_set(key, value, cas)
    }
}

/// What is known about the request so far, for its record.
#[derive(Debug, Clone, Default)]
struct Info {
    started_ms: u64,
    format: Option<ApiFormat>,
    user: Option<String>,
    session: Option<String>,
    model_requested: String,
    stream: bool,
    /// Envoy's `x-request-id`, the session of last resort.
    request_id: String,
    /// The record was published.
    emitted: bool,
}

/// Whether the host should go on with the exchange or hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    Pause,
}

/// One HTTP exchange.
pub struct RequestFilter {
    config: Rc<Config>,
    phase: Phase,
    info: Info,
}

enum Phase {
    /// Nothing seen yet.
    Start,
    /// Headers are held while the body is buffered.
    AwaitingBody {
        endpoint: Endpoint,
        /// The client's request headers, as received.
        headers: Vec<(String, String)>,
        /// Who is calling.
        who: Resolved,
    },
    /// Sent upstream.
    Forwarded(Box<Exchange>),
    /// Iris answered itself; the response callbacks leave that reply alone.
    LocalReply,
    /// Logged and finished.
    Done,
}

/// A request that went to a provider, and what is learnt from its response.
struct Exchange {
    provider: usize,
    model: String,
    /// The configured model name or pattern that matched (the metrics label).
    model_label: String,
    /// The client's format.
    format: ApiFormat,
    /// The provider's format (the client's unless translated).
    upstream: ApiFormat,
    /// The translator and what it needs to know of the request, when formats differ.
    translation: Option<(Pair, Translated)>,
    kind: EndpointKind,
    first_byte_ms: Option<u64>,
    status: u16,
    response: ResponseState,
}

enum ResponseState {
    /// Response headers not seen yet.
    Pending,
    /// A JSON body passed through, copied to read its usage (up to the capture limit).
    Body { bytes: Vec<u8>, overflow: bool },
    /// An SSE stream, framed as it passes; translated event by event when formats differ.
    Stream {
        framer: SseFramer,
        usage: StreamUsage,
        events: Vec<SseEvent>,
        translator: Option<Box<dyn StreamTranslator>>,
    },
    /// A JSON body to translate: buffered to its end, then replaced.
    Translate(Pair),
    /// A provider error body (JSON) to translate into the client's error shape.
    TranslateError(Pair),
    /// An error response that is not JSON (an Envoy-generated reply or an HTML page): it is
    /// buffered and replaced by an error in the client's shape.
    WrapError,
    /// Nothing to read (an error response in the provider's own shape).
    Ignore,
    /// The body was read whole and translated; this is its usage.
    Finished(Option<Usage>),
}

/// What `forward` decided.
enum Forward {
    /// The request goes to the provider.
    Sent(Box<Exchange>),
    /// Iris answers with this JSON body and status (a count_tokens estimate).
    Answer(u16, Vec<u8>),
}

impl RequestFilter {
    pub fn new(config: Rc<Config>) -> Self {
        RequestFilter {
            config,
            phase: Phase::Start,
            info: Info::default(),
        }
    }

    pub fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        // One host call for every header; only headers that are present are then touched.
        let headers = host.request_headers();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        // Routing is the filter's decision only: never the client's.
        if header(CLUSTER_HEADER).is_some() {
            host.set_request_header(CLUSTER_HEADER, None);
        }
        let method = header(":method").unwrap_or_default().to_string();
        let path = header(":path").unwrap_or_default();
        self.info.started_ms = host.now_ms();
        self.info.request_id = header("x-request-id")
            .unwrap_or_default()
            .chars()
            .take(36)
            .collect();
        if let Some(req) = dashboard::route(path) {
            return self.dashboard(host, &method, &headers, req);
        }
        if let Some(model) = models_path(path) {
            return self.models(host, &method, &headers, model);
        }
        let endpoint = match api::endpoint(&method, path) {
            Ok(e) => e,
            Err(EndpointError::NotFound { format }) => {
                let path = path.split('?').next().unwrap_or_default().to_string();
                return self.reply(host, format, &GatewayError::UnknownEndpoint { path });
            }
            Err(EndpointError::MethodNotAllowed { format }) => {
                return self.reply(host, format, &GatewayError::MethodNotAllowed { method });
            }
        };
        self.info.format = Some(endpoint.format);
        let who = match self.resolve(host, &headers) {
            Ok(who) => who,
            Err(e) => {
                let e = GatewayError::Unauthenticated { message: e.0 };
                return self.reply(host, endpoint.format, &e);
            }
        };
        self.info.user = Some(who.identity.user.clone());
        if self.config.policy.role(&who.identity).is_none() {
            return self.reply(host, endpoint.format, &no_role());
        }
        if end_of_stream {
            return self.reply(host, endpoint.format, &GatewayError::MissingBody);
        }
        let limit = self.config.settings.max_request_bytes;
        let declared = header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return self.reply(host, endpoint.format, &GatewayError::BodyTooLarge { limit });
        }
        // Credentials and routing headers are replaced when the body has been read; the
        // headers are held until then, so nothing leaves with the client's values.
        self.phase = Phase::AwaitingBody {
            endpoint,
            headers,
            who,
        };
        Action::Pause
    }

    /// `GET /v1/models` and `GET /v1/models/{id}`, answered from the config and the grants.
    fn models(
        &mut self,
        host: &mut dyn Host,
        method: &str,
        headers: &[(String, String)],
        id: Option<&str>,
    ) -> Action {
        let anthropic = headers.iter().any(|(n, _)| n == "anthropic-version");
        let format = if anthropic {
            ApiFormat::AnthropicMessages
        } else {
            ApiFormat::OpenAiChat
        };
        if method != "GET" {
            let method = method.to_string();
            return self.reply(host, format, &GatewayError::MethodNotAllowed { method });
        }
        let who = match self.reader(host, headers) {
            Ok((who, _)) => who,
            Err(e) => return self.reply(host, format, &e),
        };
        let body = match id {
            None => models::list(&self.config, &who, anthropic),
            Some(id) => match models::retrieve(&self.config, &who, id, anthropic) {
                Some(body) => body,
                None => {
                    let e = GatewayError::UnknownModel {
                        model: id.to_string(),
                    };
                    return self.reply(host, format, &e);
                }
            },
        };
        self.phase = Phase::LocalReply;
        host.send_reply(200, &[("content-type", "application/json")], &body);
        Action::Pause
    }

    /// Who is calling and their role, for the reads Iris answers itself (`/v1/models`, the
    /// dashboard's API): an identity and a role are required.
    fn reader(
        &self,
        host: &dyn Host,
        headers: &[(String, String)],
    ) -> Result<(Identity, Role), GatewayError> {
        let who = self
            .resolve(host, headers)
            .map_err(|e| GatewayError::Unauthenticated { message: e.0 })?
            .identity;
        let role = self.config.policy.role(&who).ok_or_else(no_role)?;
        Ok((who, role))
    }

    /// Identifies the caller from the headers and, when JWTs are configured, from the payload
    /// Envoy's `jwt_authn` verified (dynamic metadata, never a raw header).
    fn resolve(
        &self,
        host: &dyn Host,
        headers: &[(String, String)],
    ) -> Result<Resolved, crate::identity::Unauthenticated> {
        let claims = match &self.config.identity.jwt {
            Some(_) => host
                .jwt_metadata()
                .and_then(|b| crate::metadata::jwt_claims(&b, crate::identity::JWT_PAYLOAD_KEY)),
            None => None,
        };
        self.config
            .identity
            .resolve_with_jwt(headers, claims.as_ref())
    }

    /// `/ui/` and `/api/sessions[/<id>]`.
    fn dashboard(
        &mut self,
        host: &mut dyn Host,
        method: &str,
        headers: &[(String, String)],
        req: dashboard::Request,
    ) -> Action {
        let format = ApiFormat::OpenAiChat;
        if method != "GET" {
            let method = method.to_string();
            return self.reply(host, format, &GatewayError::MethodNotAllowed { method });
        }
        let (status, content_type, body) = match req {
            dashboard::Request::Redirect => {
                self.phase = Phase::LocalReply;
                host.send_reply(301, &[("location", "/ui/")], b"");
                return Action::Pause;
            }
            dashboard::Request::Page => (
                200,
                "text/html; charset=utf-8",
                dashboard::PAGE.as_bytes().to_vec(),
            ),
            req => {
                let (who, role) = match self.reader(host, headers) {
                    Ok(access) => access,
                    Err(e) => return self.reply(host, format, &e),
                };
                let (status, body) = dashboard::api(&req, &HostStore(host), &who, role);
                (status, "application/json", body)
            }
        };
        self.phase = Phase::LocalReply;
        host.send_reply(
            status,
            &[
                ("content-type", content_type),
                ("cache-control", "no-store"),
            ],
            &body,
        );
        Action::Pause
    }

    pub fn on_request_body(
        &mut self,
        host: &mut dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let Phase::AwaitingBody { endpoint, .. } = &self.phase else {
            return Action::Continue;
        };
        let format = endpoint.format;
        let limit = self.config.settings.max_request_bytes;
        if body_size > limit {
            return self.reply(host, format, &GatewayError::BodyTooLarge { limit });
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let Phase::AwaitingBody {
            endpoint,
            headers,
            who,
        } = std::mem::replace(&mut self.phase, Phase::Start)
        else {
            return Action::Continue;
        };
        match self.forward(host, &endpoint, headers, &who, body_size) {
            Ok(Forward::Sent(exchange)) => {
                self.phase = Phase::Forwarded(exchange);
                Action::Continue
            }
            Ok(Forward::Answer(status, body)) => {
                let record = self.local_record(host, format, status, None);
                self.publish(host, &record, "none");
                self.phase = Phase::LocalReply;
                host.send_reply(status, &[("content-type", "application/json")], &body);
                Action::Pause
            }
            Err(e) => self.reply(host, format, &e),
        }
    }

    /// Routes the buffered request and rewrites it for its provider.
    fn forward(
        &mut self,
        host: &mut dyn Host,
        endpoint: &Endpoint,
        client_headers: Vec<(String, String)>,
        who: &Resolved,
        body_size: usize,
    ) -> Result<Forward, GatewayError> {
        let bytes = host.request_body(body_size).unwrap_or_default();
        let probe = body::probe(&bytes)?;
        let requested = endpoint.path_model.clone().or(probe.model);
        self.info.model_requested = requested.clone().unwrap_or_default();
        self.info.stream = probe.stream || endpoint.kind == EndpointKind::StreamGenerate;
        let hints = sessions::Hints {
            metadata_user_id: probe.metadata_user_id,
            opening: probe.opening,
        };
        let fallback = format!("req_{}", self.info.request_id);
        self.info.session = Some(sessions::session_id(
            &client_headers,
            &hints,
            &who.identity.user,
            &fallback,
        ));
        let requested = requested.ok_or(GatewayError::MissingModel)?;
        let policy = &self.config.policy;
        let route = routing::route_allowed(&self.config, endpoint.format, &requested, &|p, m| {
            policy
                .check(&who.identity, &p.id, m)
                .map_err(|d| denied(d, &who.identity))
        })?;
        let provider = self
            .config
            .providers
            .get(route.provider)
            .ok_or(GatewayError::Internal)?;
        let pair = Pair::between(endpoint.format, route.upstream);
        if pair.is_some() && endpoint.kind == EndpointKind::CountTokens {
            // Only Anthropic counts Messages tokens; other providers get an honest estimate.
            let tokens = translate::estimate_input_tokens(&bytes).ok_or(GatewayError::Internal)?;
            let body = serde_json::json!({ "input_tokens": tokens }).to_string();
            return Ok(Forward::Answer(200, body.into_bytes()));
        }
        let mut new_body = None;
        let translation = match pair {
            Some(pair) => {
                let opts = translate::Options {
                    default_max_tokens: provider
                        .default_max_tokens
                        .unwrap_or(self.config.settings.default_max_tokens),
                };
                let mut translated = pair.request(&bytes, &route.model, &opts)?;
                new_body = Some(std::mem::take(&mut translated.body));
                Some((pair, translated))
            }
            None if route.model_rewritten && endpoint.path_model.is_none() => {
                new_body = Some(body::set_top_level(
                    &bytes,
                    "model",
                    &body::json_string(&route.model),
                )?);
                None
            }
            None => None,
        };
        let new_length = new_body.as_ref().map(|b| b.len().to_string());
        if let Some(b) = &new_body {
            host.set_request_body(b);
        }
        let upstream_path = match pair {
            Some(pair) => provider.base.join(pair.upstream_path()),
            None => provider.base.join(&endpoint.path_and_query()),
        };
        // The upstream headers, built in one go and set with one host call: the client's
        // headers minus credentials and anything Iris sets, then what Iris sets.
        let (mut credentials, mut headers): (Vec<_>, Vec<_>) = client_headers
            .into_iter()
            .partition(|(n, _)| CLIENT_CREDENTIAL_HEADERS.contains(&n.as_str()));
        // A gateway key identifies the caller to Iris; it never travels upstream.
        credentials.retain(|(n, _)| Some(n.as_str()) != who.key_header.as_deref());
        let grant_headers = policy.add_headers(&who.identity, &provider.id, &route.model);
        let to_openai = route.upstream != ApiFormat::AnthropicMessages && pair.is_some();
        let replaced = |n: &str| {
            matches!(
                n,
                ":path" | ":authority" | "accept-encoding" | CLUSTER_HEADER
            ) || (n == "content-length" && new_length.is_some())
                || (to_openai && n.starts_with("anthropic-"))
                || provider.add_headers.iter().any(|(a, _)| a == n)
                || grant_headers.iter().any(|(a, _)| a == n)
        };
        headers.retain(|(n, _)| !replaced(n));
        let has_version = headers.iter().any(|(n, _)| n == "anthropic-version");
        if route.upstream == ApiFormat::AnthropicMessages && pair.is_some() && !has_version {
            headers.push(("anthropic-version".into(), ANTHROPIC_VERSION.into()));
        }
        headers.push((":path".into(), upstream_path));
        headers.push((":authority".into(), provider.base.authority.clone()));
        headers.push((CLUSTER_HEADER.into(), provider.cluster.clone()));
        // The filter reads response bodies, so they must arrive uncompressed.
        headers.push(("accept-encoding".into(), "identity".into()));
        if let Some(len) = new_length {
            headers.push(("content-length".into(), len));
        }
        headers.extend(upstream_credentials(provider, &credentials));
        headers.extend(provider.add_headers.iter().cloned());
        headers.extend(grant_headers);
        host.set_request_headers(headers);
        let model_label = provider
            .serves(&route.model)
            .map(|p| p.0.clone())
            .unwrap_or_default();
        Ok(Forward::Sent(Box::new(Exchange {
            provider: route.provider,
            model_label,
            model: route.model,
            format: endpoint.format,
            upstream: route.upstream,
            translation,
            kind: endpoint.kind,
            first_byte_ms: None,
            status: 0,
            response: ResponseState::Pending,
        })))
    }

    pub fn on_response_headers(&mut self, host: &mut dyn Host) -> Action {
        let Phase::Forwarded(x) = &mut self.phase else {
            return Action::Continue;
        };
        x.status = host
            .response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = host
            .response_header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let ok = (200..300).contains(&x.status);
        let json = content_type.contains("json");
        if x.translation.is_some() {
            // The body changes length: Envoy does not fix content-length itself.
            host.set_response_header("content-length", None);
        }
        x.response = match &x.translation {
            _ if content_type.starts_with("text/event-stream") => ResponseState::Stream {
                framer: SseFramer::new(),
                usage: StreamUsage::new(x.upstream),
                events: Vec::new(),
                translator: x.translation.as_ref().map(|(pair, t)| pair.stream(t)),
            },
            _ if x.status >= 400 && !json => {
                host.set_response_header("content-length", None);
                host.set_response_header("content-type", Some("application/json"));
                ResponseState::WrapError
            }
            Some((pair, _)) if ok => ResponseState::Translate(*pair),
            Some((pair, _)) if x.status >= 400 => ResponseState::TranslateError(*pair),
            None if ok && x.kind != EndpointKind::CountTokens => ResponseState::Body {
                bytes: Vec::new(),
                overflow: false,
            },
            _ => ResponseState::Ignore,
        };
        Action::Continue
    }

    pub fn on_response_body(
        &mut self,
        host: &mut dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let now = host.now_ms();
        let capture_limit = self.config.settings.max_response_capture_bytes;
        let Phase::Forwarded(x) = &mut self.phase else {
            return Action::Continue;
        };
        if body_size > 0 && x.first_byte_ms.is_none() {
            x.first_byte_ms = Some(now);
        }
        match &mut x.response {
            ResponseState::Stream {
                framer,
                usage,
                events,
                translator,
            } => {
                if body_size > 0 {
                    if let Some(chunk) = host.response_body(body_size) {
                        framer.push(&chunk, events);
                    }
                }
                if end_of_stream {
                    framer.finish(events);
                }
                match translator {
                    None => events.drain(..).for_each(|e| usage.observe(&e)),
                    Some(t) => {
                        let mut out = Vec::new();
                        for e in events.drain(..) {
                            usage.observe(&e);
                            t.on_event(&e, &mut out);
                        }
                        if end_of_stream {
                            t.finish(&mut out);
                        }
                        host.set_response_body(&out);
                    }
                }
            }
            ResponseState::Translate(pair) => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let pair = *pair;
                let body = host.response_body(body_size).unwrap_or_default();
                let used = usage::from_body(x.upstream, &body);
                let out = pair.response(&body).unwrap_or_else(|e| {
                    log::warn!(
                        "could not translate a {} response: {}",
                        x.upstream.label(),
                        e.message()
                    );
                    GatewayError::Upstream {
                        status: 502,
                        provider: String::new(),
                    }
                    .body(x.format)
                });
                host.set_response_body(&out);
                x.response = ResponseState::Finished(used);
            }
            ResponseState::TranslateError(pair) => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let body = host.response_body(body_size).unwrap_or_default();
                host.set_response_body(&pair.error(x.status, &body));
                x.response = ResponseState::Ignore;
            }
            ResponseState::Body { bytes, overflow } => {
                if body_size > 0 && !*overflow {
                    if bytes.len() + body_size > capture_limit {
                        *overflow = true;
                        bytes.clear();
                    } else if let Some(chunk) = host.response_body(body_size) {
                        bytes.extend_from_slice(&chunk);
                    }
                }
            }
            ResponseState::WrapError => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let detail = host.response_body(body_size).unwrap_or_default();
                let detail = String::from_utf8_lossy(&detail);
                let provider = self
                    .config
                    .providers
                    .get(x.provider)
                    .map(|p| p.id.as_str())
                    .unwrap_or_default();
                let error = crate::error::upstream_error(x.status, provider, detail.trim());
                host.set_response_body(&error.body(x.format));
            }
            ResponseState::Pending | ResponseState::Ignore | ResponseState::Finished(_) => {}
        }
        if end_of_stream {
            self.finish(host);
        }
        Action::Continue
    }

    /// End of the exchange (also for aborted streams): report what happened, once.
    pub fn on_log(&mut self, host: &mut dyn Host) {
        self.finish(host);
        self.phase = Phase::Done;
    }

    /// Builds the request's record and publishes it (log line, metrics, session, filter
    /// state), once: at the end of the response, or at `on_log` for an aborted one.
    fn finish(&mut self, host: &mut dyn Host) {
        if self.info.emitted {
            return;
        }
        let Phase::Forwarded(x) = &self.phase else {
            return;
        };
        let usage: Option<Usage> = match &x.response {
            ResponseState::Stream { usage, .. } => usage.usage(),
            ResponseState::Body {
                bytes,
                overflow: false,
            } => usage::from_body(x.upstream, bytes),
            ResponseState::Finished(used) => *used,
            _ => None,
        };
        let provider = self.config.providers.get(x.provider);
        let cost = match (provider, usage) {
            (Some(p), Some(u)) => p.pricing.cost(&self.config.prices, &x.model, &u),
            _ => None,
        };
        let error = match x.status {
            0 => Some("no_response".to_string()),
            s if s >= 500 => Some("upstream_5xx".to_string()),
            s if s >= 400 => Some("upstream_4xx".to_string()),
            _ => None,
        };
        let record = Record {
            timestamp_ms: self.info.started_ms,
            user: self.info.user.clone().unwrap_or_default(),
            session: self.info.session.clone().unwrap_or_default(),
            provider: provider.map(|p| p.id.clone()),
            model_requested: self.info.model_requested.clone(),
            model_served: Some(x.model.clone()),
            format: x.format.flag().to_string(),
            upstream_format: Some(x.upstream.flag().to_string()),
            status: x.status,
            error,
            stream: self.info.stream,
            usage,
            cost_usd: cost,
            duration_ms: host.now_ms().saturating_sub(self.info.started_ms),
            ttft_ms: x
                .first_byte_ms
                .map(|t| t.saturating_sub(self.info.started_ms)),
        };
        let label = x.model_label.clone();
        self.publish(host, &record, &label);
    }

    /// The record of a request Iris answered itself.
    fn local_record(
        &self,
        host: &dyn Host,
        format: ApiFormat,
        status: u16,
        error: Option<String>,
    ) -> Record {
        Record {
            timestamp_ms: self.info.started_ms,
            user: self.info.user.clone().unwrap_or_default(),
            session: self.info.session.clone().unwrap_or_default(),
            model_requested: self.info.model_requested.clone(),
            format: self.info.format.unwrap_or(format).flag().to_string(),
            status,
            error,
            stream: self.info.stream,
            duration_ms: host.now_ms().saturating_sub(self.info.started_ms),
            ..Record::default()
        }
    }

    fn publish(&mut self, host: &mut dyn Host, r: &Record, model_label: &str) {
        self.info.emitted = true;
        let provider = r.provider.as_deref().unwrap_or("-");
        let model = r.model_served.as_deref().unwrap_or(&r.model_requested);
        let upstream = r.upstream_format.as_deref().unwrap_or("-");
        match (r.usage, &r.error) {
            (Some(u), _) => log::debug!(
                "request provider={provider} model={model} format={} status={} input_tokens={} output_tokens={} cache_read_tokens={} cache_write_tokens={} reasoning_tokens={} cost_usd={} duration_ms={} first_byte_ms={} upstream_format={upstream} session={}",
                r.format, r.status, u.input, u.output, u.cache_read, u.cache_write, u.reasoning,
                r.cost_usd.map(|c| format!("{c:.6}")).unwrap_or_else(|| "unknown".into()),
                r.duration_ms, r.ttft_ms.map(|t| t.to_string()).unwrap_or_else(|| "-".into()), r.session
            ),
            (None, error) => log::debug!(
                "request provider={provider} model={model} format={} status={} usage=unknown error={} duration_ms={} upstream_format={upstream}",
                r.format, r.status, error.as_deref().unwrap_or("-"), r.duration_ms
            ),
        }
        for u in metrics::updates(r, model_label) {
            host.metric(u.kind, &u.name, u.value);
        }
        let json = r.to_json();
        host.set_record(&json);
        if !r.session.is_empty() && !r.user.is_empty() {
            host.queue_session(r.clone(), json);
        }
    }

    fn reply(&mut self, host: &mut dyn Host, format: ApiFormat, error: &GatewayError) -> Action {
        if !self.info.emitted {
            let kind = Some(error.kind().to_string());
            let record = self.local_record(host, format, error.status(), kind);
            self.publish(host, &record, "none");
        }
        self.phase = Phase::LocalReply;
        host.send_reply(
            error.status(),
            &[("content-type", "application/json")],
            &error.body(format),
        );
        Action::Pause
    }

    /// The usage and status known so far (for tests and the host's diagnostics).
    pub fn is_local_reply(&self) -> bool {
        matches!(self.phase, Phase::LocalReply)
    }
}

#[cfg(test)]
mod tests;
