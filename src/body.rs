//! Reading and minimally editing request bodies: the fields routing needs (`model`,
//! `stream`) are read without building a full JSON tree, and a top-level field can be
//! replaced while every other byte of the body stays as the client sent it.

use crate::error::GatewayError;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What routing needs from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The `model` field, if it is a string.
    pub model: Option<String>,
    /// Whether `stream` is `true`.
    pub stream: bool,
    /// Anthropic `metadata.user_id` (Claude Code puts its session id there).
    pub metadata_user_id: Option<String>,
    /// Raw JSON of the conversation's opening: system prompt and first message (or input).
    pub opening: Vec<u8>,
}

#[derive(Deserialize)]
struct RawProbe<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<FirstOnly<'a>>,
    #[serde(borrow, default)]
    contents: Option<FirstOnly<'a>>,
    #[serde(borrow, default)]
    input: Option<FirstOnly<'a>>,
}

/// The first element of an array (the rest is skipped without being kept), or a whole
/// non-array value.
struct FirstOnly<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstOnly<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: &'de RawValue = Deserialize::deserialize(deserializer)?;
        if !raw.get().starts_with('[') {
            return Ok(FirstOnly(Some(raw)));
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<&'de RawValue>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<&'de RawValue>()?;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(first)
            }
        }
        let mut de = serde_json::Deserializer::from_str(raw.get());
        de.deserialize_seq(V)
            .map(FirstOnly)
            .map_err(serde::de::Error::custom)
    }
}

/// Reads `model` and `stream` from a JSON object body; the rest is checked for validity only.
pub fn probe(body: &[u8]) -> Result<Probe, GatewayError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => return Err(GatewayError::MissingBody),
        Some(b'{') => {}
        Some(_) => {
            return Err(GatewayError::InvalidJson {
                detail: "the body must be a JSON object".to_string(),
            })
        }
    }
    let raw: RawProbe = serde_json::from_slice(body).map_err(|e| GatewayError::InvalidJson {
        detail: e.to_string(),
    })?;
    let model = raw
        .model
        .and_then(|m| serde_json::from_str::<String>(m.get()).ok());
    let stream = raw.stream.is_some_and(|s| s.get() == "true");
    let metadata_user_id = raw
        .metadata
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m.get()).ok())
        .and_then(|m| m.get("user_id")?.as_str().map(str::to_string));
    let mut opening = Vec::new();
    for part in [raw.system, raw.instructions].into_iter().flatten() {
        opening.extend_from_slice(part.get().as_bytes());
    }
    for first in [raw.messages, raw.contents, raw.input]
        .into_iter()
        .flatten()
    {
        if let Some(first) = first.0 {
            opening.extend_from_slice(first.get().as_bytes());
        }
    }
    Ok(Probe {
        model,
        stream,
        metadata_user_id,
        opening,
    })
}

/// The top-level members of a JSON object, in order, values left raw.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Returns the body with top-level `key` set to the JSON `value` (added if missing). Other
/// members keep their order and their exact bytes.
pub fn set_top_level(body: &[u8], key: &str, value: &str) -> Result<Vec<u8>, GatewayError> {
    let members: Members = serde_json::from_slice(body).map_err(|e| GatewayError::InvalidJson {
        detail: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(body.len() + value.len() + key.len() + 4);
    out.push(b'{');
    let mut replaced = false;
    for (i, (k, v)) in members.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(&mut out, k);
        if k == key {
            out.extend_from_slice(value.as_bytes());
            replaced = true;
        } else {
            out.extend_from_slice(v.get().as_bytes());
        }
    }
    if !replaced {
        if !members.0.is_empty() {
            out.push(b',');
        }
        write_key(&mut out, key);
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
    Ok(out)
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    // Serializing a &str cannot fail; fall back to an empty key rather than panicking.
    let quoted = serde_json::to_string(key).unwrap_or_else(|_| "\"\"".to_string());
    out.extend_from_slice(quoted.as_bytes());
    out.push(b':');
}

/// Parses a body that must be a JSON object (what the translators start from).
pub fn json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, GatewayError> {
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(GatewayError::InvalidJson {
            detail: "the body must be a JSON object".to_string(),
        }),
        Err(e) => Err(GatewayError::InvalidJson {
            detail: e.to_string(),
        }),
    }
}

/// A JSON string literal for `s`.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn probe_reads_model_and_stream() {
        let p = probe(
            br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4.1","stream":true}"#,
        )
        .unwrap();
        assert_eq!((p.model.as_deref(), p.stream), (Some("gpt-4.1"), true));
        assert_eq!(p.opening, br#"{"role":"user","content":"hi"}"#);
        let p = probe(br#"{"model":"m\u00e9","stream":"yes"}"#).unwrap();
        assert_eq!((p.model.as_deref(), p.stream), (Some("mé"), false));
        assert_eq!(probe(br#"{"model":42}"#).unwrap().model, None);
    }

    #[test]
    fn probe_reads_session_hints() {
        let p = probe(br#"{"model":"m","system":"be brief","metadata":{"user_id":"u_session_42"},
            "messages":[{"role":"user","content":"first"},{"role":"assistant","content":"second"}]}"#).unwrap();
        assert_eq!(p.metadata_user_id.as_deref(), Some("u_session_42"));
        assert_eq!(p.opening, br#""be brief"{"role":"user","content":"first"}"#);
        let p = probe(br#"{"model":"m","input":"just text"}"#).unwrap();
        assert_eq!(p.opening, br#""just text""#);
    }

    #[test]
    fn probe_rejects_non_objects_and_bad_json() {
        assert_eq!(probe(b"  ").unwrap_err(), GatewayError::MissingBody);
        assert_eq!(probe(b"[1]").unwrap_err().kind(), "invalid_json");
        assert_eq!(probe(b"{\"model\": ").unwrap_err().kind(), "invalid_json");
        assert_eq!(
            probe(b"{\"a\":1} trailing").unwrap_err().kind(),
            "invalid_json"
        );
    }

    #[test]
    fn set_top_level_keeps_other_bytes() {
        let body = br#"{ "model" : "openai/gpt-4.1", "temperature": 1.0e0, "messages": [ {"content": "x"} ] }"#;
        let out = set_top_level(body, "model", &json_string("gpt-4.1")).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"model":"gpt-4.1","temperature":1.0e0,"messages":[ {"content": "x"} ]}"#
        );
    }

    #[test]
    fn set_top_level_adds_missing_keys_and_escapes() {
        assert_eq!(set_top_level(b"{}", "k", "1").unwrap(), b"{\"k\":1}");
        assert_eq!(
            set_top_level(br#"{"a\"b":2}"#, "k", "1").unwrap(),
            br#"{"a\"b":2,"k":1}"#
        );
    }
}
