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

// Layout in shared data:
// - `iris/sessions`: every session's summary, most recently active first, as one JSON array
//   (bounded to MAX_SESSIONS). It is created empty when a VM starts ([`ensure_store`]), so
//   every later write is a compare-and-swap: no worker's update is lost (a write to a key
//   that does not exist yet cannot be guarded, which is why there are no per-session keys).
//   Workers update it in batches, a few times a second.
// - `iris/s/<id>/r/<n>`: the session's n-th request modulo MAX_REQUESTS_PER_SESSION (a ring
//   of record JSON, written without reading).

fn request_key(id: &str, n: u64) -> String {
    format!("iris/s/{id}/r/{}", n % MAX_REQUESTS_PER_SESSION as u64)
}

/// Creates the session list if no VM has yet. Racing VMs all write the same empty list.
pub fn ensure_store(store: &mut dyn SharedStore) {
    if store.get(INDEX_KEY).0.is_none() {
        let _ = store.set(INDEX_KEY, b"[]", None);
    }
}

/// Read-modify-write with compare-and-swap, retried against concurrent workers.
fn update(
    store: &mut dyn SharedStore,
    key: &str,
    f: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
) -> bool {
    for _ in 0..CAS_ATTEMPTS {
        let (bytes, cas) = store.get(key);
        let next = f(bytes.as_deref().filter(|b| !b.is_empty()));
        if store.set(key, &next, cas) {
            return true;
        }
    }
    log::warn!("could not update {key}: too many concurrent updates");
    false
}

fn add(obj: &mut Map<String, Value>, key: &str, n: u64) {
    let old = obj.get(key).and_then(Value::as_u64).unwrap_or(0);
    obj.insert(key.to_string(), json!(old + n));
}

/// Adds a finished request to its session.
pub fn record(store: &mut dyn SharedStore, r: &Record, json: &str) {
    record_batch(store, &[(r, json)]);
}

fn apply(s: &mut Map<String, Value>, r: &Record) {
    add(s, "requests", 1);
    let u = r.usage.unwrap_or_default();
    add(s, "input_tokens", u.input);
    add(s, "output_tokens", u.output);
    add(s, "cache_read_tokens", u.cache_read);
    s.insert("last_seen".into(), json!(r.timestamp_ms));
    let model = r.model_served.as_deref().unwrap_or(&r.model_requested);
    let mut models: Vec<Value> = s
        .get("models")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !model.is_empty() && !models.iter().any(|m| m.as_str() == Some(model)) && models.len() < 20 {
        models.push(json!(model));
    }
    s.insert("models".into(), Value::Array(models));
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

/// Adds finished requests (oldest first, each with its record as JSON, kept as it is in the
/// session's request ring): one compare-and-swap of the session list for the whole batch.
pub fn record_batch(store: &mut dyn SharedStore, batch: &[(&Record, &str)]) {
    if batch.is_empty() {
        return;
    }
    // Each touched session's request count after the update, and the sessions pushed out.
    let mut counts: Vec<(String, u64)> = Vec::new();
    let mut evicted: Vec<String> = Vec::new();
    let updated = update(store, INDEX_KEY, &mut |current| {
        let mut list: Vec<Value> = current
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        counts.clear();
        for (r, _) in batch {
            let at = list
                .iter()
                .position(|s| s.get("id").and_then(Value::as_str) == Some(r.session.as_str()));
            let mut summary = match at.map(|i| list.remove(i)) {
                Some(Value::Object(s)) => s,
                _ => {
                    let mut s = Map::new();
                    s.insert("id".into(), json!(r.session));
                    s.insert("user".into(), json!(r.user));
                    s.insert("first_seen".into(), json!(r.timestamp_ms));
                    s
                }
            };
            apply(&mut summary, r);
            let n = summary.get("requests").and_then(Value::as_u64).unwrap_or(1);
            counts.push((r.session.clone(), n));
            list.insert(0, Value::Object(summary));
        }
        evicted = list
            .get(MAX_SESSIONS..)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.get("id")?.as_str().map(str::to_string))
            .collect();
        list.truncate(MAX_SESSIONS);
        Value::Array(list).to_string().into_bytes()
    });
    if !updated {
        return;
    }
    for ((r, json), (_, n)) in batch.iter().zip(&counts) {
        let _ = store.set(
            &request_key(&r.session, n.saturating_sub(1)),
            json.as_bytes(),
            None,
        );
    }
    for id in evicted {
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
    let all: Vec<Value> = store
        .get(INDEX_KEY)
        .0
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    all.into_iter()
        .filter(|s| only_user.is_none_or(|u| s.get("user").and_then(Value::as_str) == Some(u)))
        .collect()
}

/// One session with its recent requests (newest first) under `recent`, if it exists.
pub fn get(store: &dyn SharedStore, id: &str) -> Option<Value> {
    let mut s = list(store, None)
        .into_iter()
        .find(|s| s.get("id").and_then(Value::as_str) == Some(id))?;
    let mut recent: Vec<Value> = (0..MAX_REQUESTS_PER_SESSION as u64)
        .filter_map(|n| store.get(&request_key(id, n)).0)
        .filter(|b| !b.is_empty())
        .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
        .map(|r| request_summary(&r))
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
        record(store, r, &r.to_json());
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
        let values: Vec<String> = recs.iter().map(Record::to_json).collect();
        let mut one = Fake::default();
        for (r, v) in recs.iter().zip(&values) {
            record(&mut one, r, v);
        }
        let mut batched = Fake::default();
        let batch: Vec<(&Record, &str)> =
            recs.iter().zip(values.iter().map(String::as_str)).collect();
        record_batch(&mut batched, &batch);
        assert_eq!(list(&one, None), list(&batched, None));
        assert_eq!(get(&one, "a"), get(&batched, "a"));
        let ids: Vec<String> = list(&batched, None)
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, vec!["c", "a", "b"]);
    }

    /// A store where another worker writes between our read and our write.
    struct Racy {
        inner: Fake,
        interleave: Option<(Record, String)>,
    }

    impl SharedStore for Racy {
        fn get(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
            self.inner.get(key)
        }
        fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> bool {
            if let Some((r, json)) = self.interleave.take() {
                record(&mut self.inner, &r, &json);
            }
            self.inner.set(key, value, cas)
        }
    }

    #[test]
    fn two_workers_updating_at_once_lose_nothing() {
        let mut store = Racy {
            inner: Fake::default(),
            interleave: None,
        };
        ensure_store(&mut store);
        let other = rec("s", "alice", 1, None);
        store.interleave = Some((other.clone(), other.to_json()));
        let mine = rec("s", "alice", 2, None);
        record(&mut store, &mine, &mine.to_json());
        let s = get(&store.inner, "s").unwrap();
        assert_eq!(s["requests"], 2, "the other worker's update survived ours");
        assert_eq!(s["recent"].as_array().unwrap().len(), 2);
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
