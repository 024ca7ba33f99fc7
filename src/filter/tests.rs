//! State-machine tests against a fake host: what the provider would receive and what the
//! client would get, for each phase.

use super::*;
use crate::config::{load, EnvMode};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[derive(Default)]
struct FakeHost {
    request_headers: Vec<(String, String)>,
    request_body: Vec<u8>,
    response_headers: Vec<(String, String)>,
    response_chunk: Vec<u8>,
    response_body_out: Option<Vec<u8>>,
    reply: Option<(u16, Vec<u8>)>,
    now: u64,
    metrics: Vec<(metrics::Kind, String, u64)>,
    records: Vec<String>,
    shared: std::collections::HashMap<String, (Vec<u8>, u32)>,
}

fn get(list: &[(String, String)], name: &str) -> Option<String> {
    list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

fn set(list: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    list.retain(|(n, _)| n != name);
    if let Some(v) = value {
        list.push((name.to_string(), v.to_string()));
    }
}

impl FakeHost {
    /// What the provider would receive in this header.
    fn request_header(&self, name: &str) -> Option<String> {
        get(&self.request_headers, name)
    }
}

impl Host for FakeHost {
    fn request_headers(&self) -> Vec<(String, String)> {
        self.request_headers.clone()
    }
    fn set_request_headers(&mut self, headers: Vec<(String, String)>) {
        self.request_headers = headers;
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        set(&mut self.request_headers, name, value)
    }
    fn request_body(&self, size: usize) -> Option<Vec<u8>> {
        Some(self.request_body[..size.min(self.request_body.len())].to_vec())
    }
    fn set_request_body(&mut self, body: &[u8]) {
        self.request_body = body.to_vec();
    }
    fn response_header(&self, name: &str) -> Option<String> {
        get(&self.response_headers, name)
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        set(&mut self.response_headers, name, value)
    }
    fn response_body(&self, size: usize) -> Option<Vec<u8>> {
        Some(self.response_chunk[..size.min(self.response_chunk.len())].to_vec())
    }
    fn set_response_body(&mut self, body: &[u8]) {
        self.response_body_out = Some(body.to_vec());
    }
    fn send_reply(&mut self, status: u16, _headers: &[(&str, &str)], body: &[u8]) {
        self.reply = Some((status, body.to_vec()));
    }
    fn now_ms(&self) -> u64 {
        self.now
    }
    fn metric(&mut self, kind: metrics::Kind, name: &str, value: u64) {
        self.metrics.push((kind, name.to_string(), value));
    }
    fn set_record(&mut self, json: &str) {
        self.records.push(json.to_string());
    }
    fn shared_get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        match self.shared.get(key) {
            Some((v, c)) => (Some(v.clone()), Some(*c)),
            None => (None, None),
        }
    }
    fn jwt_metadata(&self) -> Option<Vec<u8>> {
        None
    }
    fn queue_session(&mut self, record: Record, json: String) {
        sessions::record(&mut HostStore(self), &record, &json);
    }
    fn shared_set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
        let current = self.shared.get(key).map(|(_, c)| *c);
        if cas.is_some() && cas != current {
            return false;
        }
        self.shared
            .insert(key.to_string(), (value.to_vec(), current.unwrap_or(0) + 1));
        true
    }
}

const CONFIG: &str = r#"{"providers": {
    "openai": {"baseurl": "http://127.0.0.1:18000/v1", "apikey": "sk-openai", "models": ["gpt-4.1"],
               "add_headers": ["X-Team: iris"]},
    "anthropic": {"baseurl": "https://api.anthropic.com", "apikey": "sk-ant", "authorization": "x-api-key",
                  "models": ["claude-*"], "compatibility": {"anthropic_messages": true}},
    "sub": {"baseurl": "https://api.anthropic.com", "authorization": "x-api-key", "auth_mode": "passthrough",
            "models": ["claude-opus-4-8"], "compatibility": {"anthropic_messages": true}, "preference": 5},
    "gemini": {"baseurl": "https://generativelanguage.googleapis.com", "apikey": "g-key", "authorization": "x-goog-api-key",
               "models": ["gemini-*"], "compatibility": {"gemini_generate_content": true}}
  },
  "grants": [{"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}, {"models": "**"}]}}],
  "iris": {"max_request_bytes": 1000}}"#;

fn filter() -> RequestFilter {
    RequestFilter::new(Rc::new(
        load(CONFIG, &|_| None, EnvMode::Resolve).config.unwrap(),
    ))
}

fn request(method: &str, path: &str, extra: &[(&str, &str)], body: &str) -> FakeHost {
    let mut h = FakeHost::default();
    h.request_headers.push((":method".into(), method.into()));
    h.request_headers.push((":path".into(), path.into()));
    h.request_headers
        .push((":authority".into(), "gateway".into()));
    for (n, v) in extra {
        h.request_headers.push((n.to_string(), v.to_string()));
    }
    h.request_body = body.as_bytes().to_vec();
    h
}

/// Runs the request phases; returns the action of the last phase that ran.
fn send(f: &mut RequestFilter, h: &mut FakeHost) -> Action {
    let empty = h.request_body.is_empty();
    let a = f.on_request_headers(h, empty);
    if a == Action::Pause && h.reply.is_none() {
        let size = h.request_body.len();
        return f.on_request_body(h, size, true);
    }
    a
}

fn error_json(h: &FakeHost) -> (u16, serde_json::Value) {
    let (status, body) = h.reply.clone().expect("a local reply");
    (status, serde_json::from_slice(&body).unwrap())
}

#[test]
fn openai_request_is_routed_with_the_provider_key_and_no_client_credential() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[
            ("authorization", "Bearer client-secret"),
            ("x-api-key", "client-key"),
            ("x-iris-cluster", "evil"),
            ("content-length", "61"),
        ],
        r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert!(h.reply.is_none());
    let hdr = |n: &str| h.request_header(n);
    assert_eq!(hdr(":path").as_deref(), Some("/v1/chat/completions"));
    assert_eq!(hdr(":authority").as_deref(), Some("127.0.0.1:18000"));
    assert_eq!(hdr(CLUSTER_HEADER).as_deref(), Some("iris_p2_openai"));
    assert_eq!(hdr("authorization").as_deref(), Some("Bearer sk-openai"));
    assert_eq!(hdr("x-api-key"), None);
    assert_eq!(hdr("x-team").as_deref(), Some("iris"));
    assert_eq!(hdr("accept-encoding").as_deref(), Some("identity"));
    // Body untouched, so content-length stays as sent.
    assert_eq!(hdr("content-length").as_deref(), Some("61"));
}

#[test]
fn client_cluster_header_is_removed_even_when_iris_answers_itself() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[("x-iris-cluster", "iris_p0_anthropic")],
        "{}",
    );
    send(&mut f, &mut h);
    assert_eq!(h.request_header(CLUSTER_HEADER), None);
    assert_eq!(error_json(&h).0, 400);
}

#[test]
fn anthropic_request_gets_x_api_key_and_keeps_version_headers() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[
            ("authorization", "Bearer -"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "tools-2024"),
        ],
        r#"{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[]}"#,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert_eq!(h.request_header("x-api-key").as_deref(), Some("sk-ant"));
    assert_eq!(h.request_header("authorization"), None);
    assert_eq!(
        h.request_header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    assert_eq!(
        h.request_header("anthropic-beta").as_deref(),
        Some("tools-2024")
    );
    assert_eq!(
        h.request_header(":authority").as_deref(),
        Some("api.anthropic.com")
    );
}

#[test]
fn passthrough_provider_receives_the_client_credential() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[
            ("authorization", "Bearer oauth-token"),
            ("proxy-authorization", "Basic x"),
        ],
        r#"{"model":"claude-opus-4-8","max_tokens":10,"messages":[]}"#,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert_eq!(
        h.request_header(CLUSTER_HEADER).as_deref(),
        Some("iris_p3_sub")
    );
    assert_eq!(
        h.request_header("authorization").as_deref(),
        Some("Bearer oauth-token")
    );
    assert_eq!(h.request_header("proxy-authorization"), None);
    assert_eq!(h.request_header("x-api-key"), None);
}

#[test]
fn explicit_provider_prefix_rewrites_model_and_content_length() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[("content-length", "52")],
        r#"{"model":"anthropic/claude-opus-4-8","max_tokens":1}"#,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert_eq!(
        h.request_header(CLUSTER_HEADER).as_deref(),
        Some("iris_p0_anthropic")
    );
    let body = String::from_utf8(h.request_body.clone()).unwrap();
    assert_eq!(body, r#"{"model":"claude-opus-4-8","max_tokens":1}"#);
    assert_eq!(
        h.request_header("content-length"),
        Some(body.len().to_string())
    );
}

#[test]
fn gemini_routes_on_the_path_model_and_drops_the_key_param() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=client",
        &[],
        r#"{"contents":[]}"#,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert_eq!(
        h.request_header(":path").as_deref(),
        Some("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    );
    assert_eq!(h.request_header("x-goog-api-key").as_deref(), Some("g-key"));
}

#[test]
fn errors_come_in_the_clients_shape() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[],
        r#"{"model":"nope","messages":[]}"#,
    );
    send(&mut f, &mut h);
    let (status, v) = error_json(&h);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    assert!(f.is_local_reply());

    let mut f = filter();
    let mut h = request("POST", "/v1/messages", &[], r#"{"model": "#);
    send(&mut f, &mut h);
    let (status, v) = error_json(&h);
    assert_eq!(
        (status, v["type"].as_str(), v["error"]["type"].as_str()),
        (400, Some("error"), Some("invalid_request_error"))
    );

    let mut f = filter();
    let mut h = request("POST", "/v1/messages", &[], r#"{"max_tokens": 1}"#);
    send(&mut f, &mut h);
    assert!(error_json(&h).1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("model"));

    let mut f = filter();
    let mut h = request("POST", "/v1beta/models/nope:generateContent", &[], "{}");
    send(&mut f, &mut h);
    let (status, v) = error_json(&h);
    assert_eq!(
        (status, v["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );

    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/responses",
        &[],
        r#"{"model":"claude-sonnet-4-5","input":"hi"}"#,
    );
    send(&mut f, &mut h);
    assert_eq!(error_json(&h).0, 400);

    let mut f = filter();
    let mut h = request("GET", "/v1/messages", &[], "");
    send(&mut f, &mut h);
    assert_eq!(error_json(&h).0, 405);

    let mut f = filter();
    let mut h = request("POST", "/v1/chat/completions", &[], "");
    send(&mut f, &mut h);
    assert_eq!(error_json(&h).0, 400);
}

#[test]
fn oversized_bodies_get_413_by_header_or_by_size() {
    let mut f = filter();
    let mut h = request("POST", "/v1/messages", &[("content-length", "5000")], "{}");
    assert_eq!(f.on_request_headers(&mut h, false), Action::Pause);
    assert_eq!(error_json(&h).0, 413);

    let mut f = filter();
    let mut h = request("POST", "/v1/chat/completions", &[], "{}");
    assert_eq!(f.on_request_headers(&mut h, false), Action::Pause);
    assert!(h.reply.is_none());
    assert_eq!(f.on_request_body(&mut h, 600, false), Action::Pause);
    assert_eq!(f.on_request_body(&mut h, 1200, false), Action::Pause);
    let (status, v) = error_json(&h);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
}

#[test]
fn local_replies_are_left_alone_in_the_response_phase() {
    let mut f = filter();
    let mut h = request("POST", "/nope", &[], "{}");
    send(&mut f, &mut h);
    h.response_headers.push((":status".into(), "404".into()));
    h.response_headers
        .push(("content-type".into(), "application/json".into()));
    assert_eq!(f.on_response_headers(&mut h), Action::Continue);
    h.response_chunk = b"x".to_vec();
    assert_eq!(f.on_response_body(&mut h, 1, true), Action::Continue);
    assert!(h.response_body_out.is_none());
}

#[test]
fn non_json_upstream_errors_are_wrapped_in_the_clients_shape() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[],
        r#"{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[]}"#,
    );
    send(&mut f, &mut h);
    h.response_headers = vec![
        (":status".into(), "503".into()),
        ("content-type".into(), "text/plain".into()),
        ("content-length".into(), "19".into()),
    ];
    f.on_response_headers(&mut h);
    assert_eq!(h.response_header("content-length"), None);
    h.response_chunk = b"no healthy upstream".to_vec();
    assert_eq!(f.on_response_body(&mut h, 10, false), Action::Pause);
    assert_eq!(f.on_response_body(&mut h, 19, true), Action::Continue);
    let v: serde_json::Value =
        serde_json::from_slice(h.response_body_out.as_ref().unwrap()).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "api_error");
    assert!(
        !v.to_string().contains("healthy"),
        "Envoy's detail stays in the log"
    );
}

#[test]
fn provider_json_errors_pass_through_unchanged() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[],
        r#"{"model":"gpt-4.1","messages":[]}"#,
    );
    send(&mut f, &mut h);
    h.response_headers = vec![
        (":status".into(), "429".into()),
        ("content-type".into(), "application/json".into()),
    ];
    f.on_response_headers(&mut h);
    h.response_chunk = br#"{"error":{"message":"slow down"}}"#.to_vec();
    let n = h.response_chunk.len();
    f.on_response_body(&mut h, n, true);
    assert!(h.response_body_out.is_none());
    f.on_log(&mut h);
}

#[test]
fn streamed_usage_is_read_across_chunks() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[],
        r#"{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],"stream":true}"#,
    );
    send(&mut f, &mut h);
    h.response_headers = vec![
        (":status".into(), "200".into()),
        (
            "content-type".into(),
            "text/event-stream; charset=utf-8".into(),
        ),
    ];
    f.on_response_headers(&mut h);
    let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\n\
                  event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\n";
    for chunk in stream.as_bytes().chunks(7) {
        h.response_chunk = chunk.to_vec();
        assert_eq!(
            f.on_response_body(&mut h, chunk.len(), false),
            Action::Continue
        );
    }
    h.response_chunk.clear();
    f.on_response_body(&mut h, 0, true);
    let Phase::Forwarded(x) = &f.phase else {
        panic!("forwarded")
    };
    let ResponseState::Stream { usage, .. } = &x.response else {
        panic!("stream")
    };
    assert_eq!(
        usage.usage(),
        Some(Usage {
            input: 11,
            output: 7,
            ..Usage::default()
        })
    );
    assert!(
        h.response_body_out.is_none(),
        "passthrough streams are not modified"
    );
}

/// sha256("alice-key") and sha256("bob-key").
const KEYED: &str = r#"{"providers": {
    "openai": {"baseurl": "http://o", "apikey": "sk-openai", "models": ["gpt-4.1"]},
    "sub": {"baseurl": "http://s", "authorization": "x-api-key", "auth_mode": "passthrough",
            "models": ["claude-opus-4-8"], "compatibility": {"anthropic_messages": true}}
  },
  "grants": [
    {"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}]}},
    {"src": ["alice@example.com"], "app": {"tailscale.com/cap/aperture": [{"models": "**"},
        {"add_headers": ["X-User: alice"]}]}},
    {"src": ["group:eng"], "app": {"tailscale.com/cap/aperture": [{"models": "sub/**"}]}}
  ],
  "iris": {"groups": {"group:eng": ["bob@example.com"]},
           "identity": {"gateway_keys": [{"user": "alice@example.com", "sha256": "ALICE"},
                                         {"user": "bob@example.com", "sha256": "BOB"}]}}}"#;

fn keyed() -> RequestFilter {
    let text = KEYED
        .replace(
            "ALICE",
            &crate::sha256::hex(&crate::sha256::digest(b"alice-key")),
        )
        .replace(
            "BOB",
            &crate::sha256::hex(&crate::sha256::digest(b"bob-key")),
        );
    RequestFilter::new(Rc::new(
        load(&text, &|_| None, EnvMode::Resolve).config.unwrap(),
    ))
}

#[test]
fn gateway_keys_identify_and_grants_decide() {
    let chat = r#"{"model":"gpt-4.1","messages":[]}"#;
    let mut f = keyed();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer alice-key")],
        chat,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert_eq!(
        h.request_header("authorization").as_deref(),
        Some("Bearer sk-openai")
    );
    assert_eq!(h.request_header("x-user").as_deref(), Some("alice"));

    let mut f = keyed();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[("x-api-key", "bob-key")],
        chat,
    );
    send(&mut f, &mut h);
    let (status, v) = error_json(&h);
    assert_eq!(status, 403);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("openai/gpt-4.1"));

    let mut f = keyed();
    let mut h = request(
        "POST",
        "/v1/chat/completions",
        &[("authorization", "Bearer wrong")],
        chat,
    );
    send(&mut f, &mut h);
    assert_eq!(error_json(&h).0, 401);

    let mut f = keyed();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[],
        r#"{"model":"claude-opus-4-8"}"#,
    );
    send(&mut f, &mut h);
    let (status, v) = error_json(&h);
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (401, Some("authentication_error"))
    );
}

#[test]
fn passthrough_with_a_gateway_key_forwards_only_the_provider_credential() {
    let mut f = keyed();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[
            ("x-iris-key", "bob-key"),
            ("authorization", "Bearer oauth-token"),
        ],
        r#"{"model":"claude-opus-4-8","max_tokens":5,"messages":[]}"#,
    );
    assert_eq!(send(&mut f, &mut h), Action::Continue);
    assert_eq!(
        h.request_header("authorization").as_deref(),
        Some("Bearer oauth-token")
    );
    assert_eq!(h.request_header("x-iris-key"), None);
}

#[test]
fn models_list_is_served_by_iris_for_the_caller() {
    let mut f = keyed();
    let mut h = request(
        "GET",
        "/v1/models",
        &[("authorization", "Bearer bob-key")],
        "",
    );
    assert_eq!(f.on_request_headers(&mut h, true), Action::Pause);
    let (status, v) = error_json(&h);
    assert_eq!(status, 200);
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["claude-opus-4-8"]);

    let mut f = keyed();
    let mut h = request(
        "GET",
        "/v1/models",
        &[
            ("x-api-key", "alice-key"),
            ("anthropic-version", "2023-06-01"),
        ],
        "",
    );
    f.on_request_headers(&mut h, true);
    let (_, v) = error_json(&h);
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["type"], "model");

    let mut f = keyed();
    let mut h = request("GET", "/v1/models", &[], "");
    f.on_request_headers(&mut h, true);
    assert_eq!(error_json(&h).0, 401);
}

#[test]
fn an_aborted_stream_is_still_recorded_once_with_the_usage_seen() {
    let mut f = filter();
    let mut h = request(
        "POST",
        "/v1/messages",
        &[("x-session-id", "cut")],
        r#"{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],"stream":true}"#,
    );
    send(&mut f, &mut h);
    h.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    f.on_response_headers(&mut h);
    h.response_chunk = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":11,\"output_tokens\":1}}}\n\n".to_vec();
    let n = h.response_chunk.len();
    f.on_response_body(&mut h, n, false);
    // The client goes away: no end of stream, only on_log.
    f.on_log(&mut h);
    f.on_log(&mut h);
    assert_eq!(h.records.len(), 1, "recorded exactly once");
    let r: serde_json::Value = serde_json::from_str(&h.records[0]).unwrap();
    assert_eq!(
        (
            r["input_tokens"].as_u64(),
            r["status"].as_u64(),
            r["session"].as_str()
        ),
        (Some(11), Some(200), Some("cut"))
    );
    assert!(h
        .metrics
        .iter()
        .any(|(_, name, v)| name.contains("token_type=.=input;.;") && *v == 11));
}
