//! Sessions: requests grouped the way Aperture groups them, kept in Envoy's shared data (one
//! store for all worker threads, updated with compare-and-swap) and bounded in memory.
//!
//! A request's session id comes from, in order: the `x-session-id` header (third-party
//! clients); Claude Code's session id inside `metadata.user_id` (`..._session_<uuid>`, or a
//! JSON `session_id`); Codex's `session_id` / `conversation_id` header or OpenCode's
//! `x-opencode-session`; else a fingerprint of the caller and the conversation's opening (the
//! system prompt and first message), which stays the same as the conversation grows.

use super::record::Record;
use serde_json::{json, Map, Value};

/// Sessions kept (the oldest is dropped first).
pub const MAX_SESSIONS: usize = 200;
/// Requests kept per session (counters keep counting beyond that).
pub const MAX_REQUESTS_PER_SESSION: usize = 50;
/// Shared-data key of the session index.
pub const INDEX_KEY: &str = "iris/sessions";
const CAS_ATTEMPTS: usize = 8;

/// What the request body offers for session detection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// Anthropic `metadata.user_id`.
    pub metadata_user_id: Option<String>,
    /// The raw JSON of the system prompt and the first message, concatenated.
    pub opening: Vec<u8>,
}

fn clean(id: &str) -> Option<String> {
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.:".contains(*c))
        .take(80)
        .collect();
    (!id.is_empty()).then_some(id)
}

/// The session id of a request.
pub fn session_id(
    headers: &[(String, String)],
    hints: &Hints,
    user: &str,
    fallback: &str,
) -> String {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(id) = header("x-session-id").and_then(clean) {
        return id;
    }
    if let Some(meta) = &hints.metadata_user_id {
        if let Some(id) = meta.rsplit_once("_session_").and_then(|(_, id)| clean(id)) {
            return id;
        }
        let parsed: Option<Value> = serde_json::from_str(meta).ok();
        if let Some(id) = parsed
            .as_ref()
            .and_then(|v| v.get("session_id")?.as_str())
            .and_then(clean)
        {
            return id;
        }
    }
    for name in ["session_id", "conversation_id", "x-opencode-session"] {
        if let Some(id) = header(name).and_then(clean) {
            return id;
        }
    }
    if !hints.opening.is_empty() {
        // Not a secret, just a stable grouping key: 64-bit FNV-1a is plenty and cheap.
        let hash = fnv1a(&[user.as_bytes(), b"\n", &hints.opening]);
        return format!("fp_{hash:016x}");
    }
    fallback.to_string()
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Envoy shared data, or a fake in tests.
pub trait SharedStore {
    /// The value and its compare-and-swap token.
    fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Sets the value if `cas` still matches; false on a mismatch or failure.
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool;
}

// Layout in shared data, chosen so that a request costs a few small reads and writes:
// - `iris/s/<id>`: the session's summary (a small JSON object, updated with CAS);
// - `iris/s/<id>/r/<n>`: its n-th request modulo MAX_REQUESTS_PER_SESSION (a ring, written
//   without reading);
// - `iris/sessions`: the index, one `id<TAB>user` line per session, most recently active
//   first; rewritten only when a request's session is not already at its head.

fn session_key(id: &str) -> String {
    format!("iris/s/{id}")
}

fn request_key(id: &str, n: u64) -> String {
    format!("iris/s/{id}/r/{}", n % MAX_REQUESTS_PER_SESSION as u64)
}

/// Read-modify-write with compare-and-swap, retried a few times against concurrent workers.
/// Returns the value written.
fn update(
    store: &mut dyn SharedStore,
    key: &str,
    f: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
) -> Option<Vec<u8>> {
    for _ in 0..CAS_ATTEMPTS {
        let (bytes, cas) = store.get(key);
        let next = f(bytes.as_deref().filter(|b| !b.is_empty()));
        if store.set(key, &next, cas) {
            return Some(next);
        }
    }
    log::warn!("could not update {key}: too many concurrent updates");
    None
}

fn add(obj: &mut Map<String, Value>, key: &str, n: u64) {
    let old = obj.get(key).and_then(Value::as_u64).unwrap_or(0);
    obj.insert(key.to_string(), json!(old + n));
}

/// Adds a finished request to its session and the session to the index.
pub fn record(store: &mut dyn SharedStore, r: &Record, full: &Value) {
    record_batch(store, &[(r, full)]);
}

/// Adds finished requests (oldest first, each with its full record JSON): one summary update
/// per session, one ring slot per request, and at most one index update for the batch.
pub fn record_batch(store: &mut dyn SharedStore, batch: &[(&Record, &Value)]) {
    // Sessions in order of first appearance, and the position of their last request.
    let mut sessions: Vec<(&str, usize)> = Vec::new();
    for (i, (r, _)) in batch.iter().enumerate() {
        match sessions.iter_mut().find(|(id, _)| *id == r.session) {
            Some(entry) => entry.1 = i,
            None => sessions.push((r.session.as_str(), i)),
        }
    }
    for (id, _) in &sessions {
        let group: Vec<&(&Record, &Value)> =
            batch.iter().filter(|(r, _)| r.session == *id).collect();
        let count = update_summary(store, id, &group);
        let first = count.saturating_sub(group.len() as u64);
        for (n, (_, full)) in group.iter().enumerate() {
            let slot = request_key(id, first + n as u64);
            let _ = store.set(&slot, request_summary(full).to_string().as_bytes(), None);
        }
    }
    // Most recently active first.
    sessions.sort_by_key(|(_, last)| std::cmp::Reverse(*last));
    let touched: Vec<(&str, &str)> = sessions
        .iter()
        .filter_map(|(id, last)| batch.get(*last).map(|(r, _)| (*id, r.user.as_str())))
        .collect();
    update_index(store, &touched);
}

/// Applies a session's new requests to its summary; returns its request count afterwards.
fn update_summary(store: &mut dyn SharedStore, id: &str, group: &[&(&Record, &Value)]) -> u64 {
    let key = session_key(id);
    let written = update(store, &key, &mut |current| {
        let mut s = match current.and_then(|b| serde_json::from_slice(b).ok()) {
            Some(Value::Object(s)) => s,
            _ => {
                let mut s = Map::new();
                s.insert("id".into(), json!(id));
                if let Some((r, _)) = group.first() {
                    s.insert("user".into(), json!(r.user));
                    s.insert("first_seen".into(), json!(r.timestamp_ms));
                }
                s
            }
        };
        let mut models: Vec<Value> = s
            .get("models")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (r, _) in group {
            add(&mut s, "requests", 1);
            let u = r.usage.unwrap_or_default();
            add(&mut s, "input_tokens", u.input);
            add(&mut s, "output_tokens", u.output);
            add(&mut s, "cache_read_tokens", u.cache_read);
            s.insert("last_seen".into(), json!(r.timestamp_ms));
            let model = r.model_served.as_deref().unwrap_or(&r.model_requested);
            if !model.is_empty()
                && !models.iter().any(|m| m.as_str() == Some(model))
                && models.len() < 20
            {
                models.push(json!(model));
            }
            match r.cost_usd {
                Some(c) => {
                    let old = s.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0);
                    s.insert("cost_usd".into(), json!(old + c));
                }
                None => {
                    s.entry("cost_usd").or_insert(Value::Null);
                    if r.provider.is_some() {
                        s.insert("cost_partial".into(), json!(true));
                    }
                }
            }
        }
        s.insert("models".into(), Value::Array(models));
        Value::Object(s).to_string().into_bytes()
    });
    written
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("requests")?.as_u64())
        .unwrap_or(group.len() as u64)
}

/// Moves the touched sessions (most recent first) to the head of the index, dropping (and
/// clearing) the oldest beyond [`MAX_SESSIONS`].
fn update_index(store: &mut dyn SharedStore, touched: &[(&str, &str)]) {
    let Some((head_id, _)) = touched.first() else {
        return;
    };
    // Nothing to do when one session was touched and it already is the most recent one.
    let head_matches = |b: &[u8]| {
        let first = b.split(|c| *c == b'\n').next().unwrap_or_default();
        first.split(|c| *c == b'\t').next() == Some(head_id.as_bytes())
    };
    if touched.len() == 1 && store.get(INDEX_KEY).0.as_deref().is_some_and(head_matches) {
        return;
    }
    let heads: Vec<String> = touched
        .iter()
        .map(|(id, user)| format!("{id}\t{}", user.replace(['\t', '\n'], " ")))
        .collect();
    let mut evicted: Vec<String> = Vec::new();
    update(store, INDEX_KEY, &mut |current| {
        let text = current.map(String::from_utf8_lossy).unwrap_or_default();
        let mut lines: Vec<&str> = heads.iter().map(String::as_str).collect();
        lines.extend(text.lines().filter(|l| {
            let id = l.split('\t').next().unwrap_or_default();
            !l.is_empty() && !touched.iter().any(|(t, _)| *t == id)
        }));
        evicted = lines
            .get(MAX_SESSIONS..)
            .unwrap_or_default()
            .iter()
            .filter_map(|l| l.split('\t').next().map(str::to_string))
            .collect();
        lines.truncate(MAX_SESSIONS);
        lines.join("\n").into_bytes()
    });
    for id in evicted {
        let _ = store.set(&session_key(&id), b"", None);
        for n in 0..MAX_REQUESTS_PER_SESSION as u64 {
            let _ = store.set(&request_key(&id, n), b"", None);
        }
    }
}

fn request_summary(v: &Value) -> Value {
    let keep = [
        "timestamp_ms",
        "provider",
        "model",
        "model_requested",
        "format",
        "upstream_format",
        "status",
        "error",
        "stream",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cost_usd",
        "duration_ms",
        "ttft_ms",
    ];
    let mut out = Map::new();
    if let Value::Object(all) = v {
        for (k, val) in all {
            if keep.contains(&k.as_str()) {
                let key = if k == "timestamp_ms" {
                    "timestamp"
                } else {
                    k.as_str()
                };
                out.insert(key.to_string(), val.clone());
            }
        }
    }
    Value::Object(out)
}

/// The session list a viewer may see (`None` for the user: every session, for admins).
pub fn list(store: &dyn SharedStore, only_user: Option<&str>) -> Vec<Value> {
    let index = store.get(INDEX_KEY).0.unwrap_or_default();
    let text = String::from_utf8_lossy(&index);
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, user)| only_user.is_none_or(|u| u == *user))
        .filter_map(|(id, _)| summary(store, id))
        .collect()
}

fn summary(store: &dyn SharedStore, id: &str) -> Option<Value> {
    let bytes = store.get(&session_key(id)).0.filter(|b| !b.is_empty())?;
    serde_json::from_slice(&bytes).ok()
}

/// One session with its recent requests (newest first) under `recent`, if it exists.
pub fn get(store: &dyn SharedStore, id: &str) -> Option<Value> {
    let mut s = summary(store, id)?;
    let mut recent: Vec<Value> = (0..MAX_REQUESTS_PER_SESSION as u64)
        .filter_map(|n| store.get(&request_key(id, n)).0)
        .filter(|b| !b.is_empty())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    recent.sort_by_key(|r: &Value| {
        std::cmp::Reverse(r.get("timestamp").and_then(Value::as_u64).unwrap_or(0))
    });
    if let Some(o) = s.as_object_mut() {
        o.insert("recent".into(), Value::Array(recent));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;
    use std::collections::HashMap;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[derive(Default)]
    struct Fake {
        data: HashMap<String, (Vec<u8>, u32)>,
        /// Fail this many sets with a CAS mismatch first, as a concurrent worker would cause.
        conflicts: usize,
    }

    impl SharedStore for Fake {
        fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
            match self.data.get(key) {
                Some((v, cas)) => (Some(v.clone()), Some(*cas)),
                None => (None, None),
            }
        }
        fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
            if self.conflicts > 0 {
                self.conflicts -= 1;
                return false;
            }
            let current = self.data.get(key).map(|(_, c)| *c);
            if cas.is_some() && cas != current {
                return false;
            }
            self.data
                .insert(key.to_string(), (value.to_vec(), current.unwrap_or(0) + 1));
            true
        }
    }

    fn record_one(store: &mut Fake, r: &Record) {
        record(store, r, &r.to_value());
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn session_ids_by_source() {
        let none = Hints::default();
        assert_eq!(
            session_id(&h(&[("x-session-id", "abc 123")]), &none, "u", "r"),
            "abc123"
        );
        let cc = Hints {
            metadata_user_id: Some("user_9f_account_11_session_0f5a-77".into()),
            opening: b"{}".to_vec(),
        };
        assert_eq!(session_id(&[], &cc, "u", "r"), "0f5a-77");
        let cc_json = Hints {
            metadata_user_id: Some(r#"{"device_id":"d","session_id":"s-1"}"#.into()),
            opening: vec![],
        };
        assert_eq!(session_id(&[], &cc_json, "u", "r"), "s-1");
        assert_eq!(
            session_id(&h(&[("session_id", "codex-1")]), &none, "u", "r"),
            "codex-1"
        );
        assert_eq!(session_id(&[], &none, "u", "req-7"), "req-7");
    }

    #[test]
    fn fingerprint_is_stable_per_user_and_opening() {
        let a = Hints {
            metadata_user_id: None,
            opening: br#"{"role":"user","content":"hi"}"#.to_vec(),
        };
        let first = session_id(&[], &a, "alice", "r");
        assert!(first.starts_with("fp_"));
        assert_eq!(session_id(&[], &a, "alice", "r2"), first);
        assert_ne!(session_id(&[], &a, "bob", "r"), first);
    }

    fn rec(session: &str, user: &str, ts: u64, cost: Option<f64>) -> Record {
        Record {
            timestamp_ms: ts,
            user: user.into(),
            session: session.into(),
            provider: Some("openai".into()),
            model_requested: "gpt-4.1".into(),
            model_served: Some("gpt-4.1".into()),
            status: 200,
            usage: Some(Usage {
                input: 10,
                output: 4,
                ..Usage::default()
            }),
            cost_usd: cost,
            ..Record::default()
        }
    }

    #[test]
    fn sessions_accumulate_newest_first_and_filter_by_user() {
        let mut store = Fake::default();
        record_one(&mut store, &rec("s1", "alice", 1, Some(0.5)));
        record_one(&mut store, &rec("s2", "bob", 2, None));
        record_one(&mut store, &rec("s1", "alice", 3, Some(0.25)));
        let all = list(&store, None);
        assert_eq!(
            all.iter()
                .map(|s| s["id"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["s1", "s2"]
        );
        assert_eq!(
            (all[0]["requests"].as_u64(), all[0]["input_tokens"].as_u64()),
            (Some(2), Some(20))
        );
        assert_eq!(all[0]["cost_usd"].as_f64(), Some(0.75));
        assert!(all[1]["cost_usd"].is_null(), "unknown cost is not zero");
        assert_eq!(list(&store, Some("bob")).len(), 1);
        let s1 = get(&store, "s1").unwrap();
        assert_eq!(s1["recent"].as_array().unwrap().len(), 2);
        assert_eq!(s1["recent"][0]["timestamp"], 3);
        assert!(
            all[0].get("recent").is_none(),
            "the list carries summaries only"
        );
    }

    #[test]
    fn a_batch_equals_the_same_requests_one_by_one() {
        let recs = [
            rec("a", "alice", 1, Some(0.1)),
            rec("b", "bob", 2, None),
            rec("a", "alice", 3, Some(0.2)),
            rec("c", "carol", 4, None),
        ];
        let values: Vec<Value> = recs.iter().map(Record::to_value).collect();
        let mut one = Fake::default();
        for (r, v) in recs.iter().zip(&values) {
            record(&mut one, r, v);
        }
        let mut batched = Fake::default();
        let batch: Vec<(&Record, &Value)> = recs.iter().zip(values.iter()).collect();
        record_batch(&mut batched, &batch);
        assert_eq!(list(&one, None), list(&batched, None));
        assert_eq!(get(&one, "a"), get(&batched, "a"));
        let ids: Vec<String> = list(&batched, None)
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, vec!["c", "a", "b"]);
    }

    #[test]
    fn concurrent_updates_are_retried_and_the_store_is_bounded() {
        let mut store = Fake {
            conflicts: 3,
            ..Fake::default()
        };
        record_one(&mut store, &rec("s1", "alice", 1, None));
        assert_eq!(get(&store, "s1").unwrap()["requests"], 1);
        for i in 0..(MAX_SESSIONS + 5) {
            record_one(
                &mut store,
                &rec(&format!("x{i}"), "alice", 10 + i as u64, None),
            );
        }
        assert_eq!(list(&store, None).len(), MAX_SESSIONS);
        assert!(get(&store, "s1").is_none(), "evicted sessions are dropped");
        for _ in 0..(MAX_REQUESTS_PER_SESSION + 3) {
            record_one(&mut store, &rec("busy", "alice", 999, None));
        }
        let busy = get(&store, "busy").unwrap();
        assert_eq!(
            busy["recent"].as_array().unwrap().len(),
            MAX_REQUESTS_PER_SESSION
        );
        assert_eq!(
            busy["requests"].as_u64(),
            Some(MAX_REQUESTS_PER_SESSION as u64 + 3)
        );
    }
}
