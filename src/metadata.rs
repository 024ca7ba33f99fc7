//! Decodes what Envoy hands a wasm filter for a dynamic-metadata property: Envoy serializes
//! maps (and lists) in the proxy-wasm pairs format — a little-endian `u32` count, then a
//! `u32` key length and `u32` value length per pair, then each key and value followed by a
//! NUL — nesting it for map values; a list becomes pairs whose keys are the items and whose
//! values are empty; strings are raw bytes. Here it is used for the JWT payload that Envoy's
//! `jwt_authn` verified.

use serde_json::{Map, Value};

fn u32_at(b: &[u8], pos: usize) -> Option<usize> {
    let bytes: [u8; 4] = b.get(pos..pos + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

/// The pairs of one serialized map, or `None` when the bytes are not one.
pub fn pairs(b: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let count = u32_at(b, 0)?;
    // Each pair needs at least 8 bytes of lengths and 2 NULs: reject absurd counts early.
    if count.checked_mul(10)? > b.len() {
        return None;
    }
    let mut lengths = Vec::with_capacity(count);
    for i in 0..count {
        lengths.push((u32_at(b, 4 + i * 8)?, u32_at(b, 8 + i * 8)?));
    }
    let mut pos = 4 + count * 8;
    let mut out = Vec::with_capacity(count);
    for (klen, vlen) in lengths {
        let key = b.get(pos..pos.checked_add(klen)?)?;
        pos += klen + 1;
        let value = b.get(pos..pos.checked_add(vlen)?)?;
        pos += vlen + 1;
        out.push((key, value));
    }
    (pos == b.len()).then_some(out)
}

/// The claims under `key` of a serialized `jwt_authn` metadata map, as JSON: text claims as
/// strings, list claims (`groups`) as arrays of strings; numbers and nested maps are left out.
pub fn jwt_claims(b: &[u8], key: &str) -> Option<Value> {
    let outer = pairs(b)?;
    let (_, payload) = outer.iter().find(|(k, _)| *k == key.as_bytes())?;
    let mut claims = Map::new();
    for (name, value) in pairs(payload)? {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let list = pairs(value).filter(|items| items.iter().all(|(_, v)| v.is_empty()));
        let parsed = match list {
            Some(items) => Value::Array(
                items
                    .iter()
                    .filter_map(|(item, _)| std::str::from_utf8(item).ok())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            None => match std::str::from_utf8(value) {
                Ok(text) if !text.contains('\0') => Value::String(text.to_string()),
                _ => continue,
            },
        };
        claims.insert(name.to_string(), parsed);
    }
    Some(Value::Object(claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn encode(pairs: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend_from_slice(k);
            out.push(0);
            out.extend_from_slice(v);
            out.push(0);
        }
        out
    }

    #[test]
    fn decodes_the_jwt_payload_envoy_serializes() {
        // The shape Envoy 1.40 produced for a verified token (see the e2e JWT tests).
        let groups = encode(&[(b"eng", vec![]), (b"ops", vec![])]);
        let claims = encode(&[
            (b"email", b"dave@example.com".to_vec()),
            (b"iss", b"https://idp.example.com".to_vec()),
            (b"groups", groups),
            (b"exp", 1_796_419_618f64.to_le_bytes().to_vec()),
        ]);
        let outer = encode(&[(b"iris_jwt", claims)]);
        assert_eq!(
            jwt_claims(&outer, "iris_jwt"),
            Some(
                json!({"email": "dave@example.com", "iss": "https://idp.example.com", "groups": ["eng", "ops"]})
            )
        );
        assert_eq!(jwt_claims(&outer, "other"), None);
    }

    #[test]
    fn malformed_input_is_none_not_a_panic() {
        assert!(pairs(&[]).is_none());
        assert!(pairs(&[0xff, 0xff, 0xff, 0x7f]).is_none());
        assert!(pairs(&[1, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0, b'a']).is_none());
        assert!(jwt_claims(b"plain text", "iris_jwt").is_none());
    }
}
