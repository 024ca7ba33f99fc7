//! Who is calling. Sources, tried in order:
//! 1. a trusted header set by the hop in front of Envoy (`tailscale serve` sets
//!    `Tailscale-User-Login`; an OAuth proxy `X-Forwarded-Email`), with an optional groups
//!    header. Trust model: only safe when clients cannot reach Envoy except through that hop
//!    (Envoy listens on loopback or a private address the hop alone can reach). When no
//!    trusted header is configured Iris never reads such headers, and the rendered Envoy
//!    config strips them before the request leaves.
//! 2. gateway keys issued to users or services, sent as `x-iris-key`, `Authorization: Bearer`
//!    or `x-api-key` (what the SDKs and Claude Code send). The config holds SHA-256 hashes
//!    only; a presented key is hashed and compared in constant time against every key.
//! 3. with no source configured, everyone is the single user `anonymous`, so a demo works
//!    without set-up (`iris check` warns about it).

use crate::sha256;

/// Header that carries a gateway key when `Authorization` must carry a provider credential
/// (passthrough providers).
pub const GATEWAY_KEY_HEADER: &str = "x-iris-key";
/// The user everyone is when no identity source is configured.
pub const ANONYMOUS: &str = "anonymous";

/// A resolved caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Login name (`alice@example.com`), service name, or tag string (`tag:ci`).
    pub user: String,
    /// Groups the identity source reports (`group:eng`), besides config-defined ones.
    pub groups: Vec<String>,
    /// Which source identified the caller: `header`, `key` or `anonymous`.
    pub source: &'static str,
}

/// A trusted header pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedHeader {
    /// Lower-case name of the header carrying the login.
    pub user: String,
    /// Lower-case name of a comma-separated groups header, if any.
    pub groups: Option<String>,
}

/// One issued gateway key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayKey {
    pub user: String,
    pub groups: Vec<String>,
    pub sha256: [u8; 32],
}

/// The configured identity sources (`iris.identity`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub trusted_header: Option<TrustedHeader>,
    pub gateway_keys: Vec<GatewayKey>,
}

/// Why no identity could be established (401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthenticated(pub String);

/// How a request identified itself, and which credential header (if any) was the gateway key,
/// so it is never forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub identity: Identity,
    pub key_header: Option<String>,
}

impl Sources {
    /// No source: everyone is anonymous.
    pub fn is_anonymous(&self) -> bool {
        self.trusted_header.is_none() && self.gateway_keys.is_empty()
    }

    /// Identifies the caller from the request headers (lower-case names).
    pub fn resolve(&self, headers: &[(String, String)]) -> Result<Resolved, Unauthenticated> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim())
        };
        if let Some(th) = &self.trusted_header {
            if let Some(user) = header(&th.user).filter(|u| !u.is_empty()) {
                let groups = th
                    .groups
                    .as_deref()
                    .and_then(header)
                    .map(|g| {
                        g.split(',')
                            .map(str::trim)
                            .filter(|g| !g.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let identity = Identity {
                    user: user.to_string(),
                    groups,
                    source: "header",
                };
                return Ok(Resolved {
                    identity,
                    key_header: None,
                });
            }
        }
        if !self.gateway_keys.is_empty() {
            let presented = [GATEWAY_KEY_HEADER, "authorization", "x-api-key"]
                .into_iter()
                .find_map(|name| {
                    let value = header(name)?;
                    let key = if name == "authorization" {
                        value.strip_prefix("Bearer ")?.trim()
                    } else {
                        value
                    };
                    Some((name, key))
                });
            let Some((name, key)) = presented else {
                return Err(Unauthenticated(self.missing_message()));
            };
            let hash = sha256::digest(key.as_bytes());
            // Compare against every key, without stopping at a match.
            let mut found = None;
            for k in &self.gateway_keys {
                if sha256::constant_time_eq(&k.sha256, &hash) {
                    found = Some(k);
                }
            }
            return match found {
                Some(k) => Ok(Resolved {
                    identity: Identity {
                        user: k.user.clone(),
                        groups: k.groups.clone(),
                        source: "key",
                    },
                    key_header: Some(name.to_string()),
                }),
                None => Err(Unauthenticated("invalid gateway key".to_string())),
            };
        }
        if let Some(th) = &self.trusted_header {
            return Err(Unauthenticated(format!(
                "no caller identity: the request did not come through the trusted proxy ({} is missing)",
                th.user
            )));
        }
        Ok(Resolved {
            identity: Identity {
                user: ANONYMOUS.to_string(),
                groups: Vec::new(),
                source: "anonymous",
            },
            key_header: None,
        })
    }

    fn missing_message(&self) -> String {
        "a gateway key is required: send it as `Authorization: Bearer <key>`, `x-api-key` or `x-iris-key`".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn keys() -> Sources {
        Sources {
            trusted_header: None,
            gateway_keys: vec![
                GatewayKey {
                    user: "alice@example.com".into(),
                    groups: vec![],
                    sha256: sha256::digest(b"alice-key"),
                },
                GatewayKey {
                    user: "tag:ci".into(),
                    groups: vec!["group:bots".into()],
                    sha256: sha256::digest(b"ci-key"),
                },
            ],
        }
    }

    #[test]
    fn no_source_is_anonymous_even_with_identity_headers() {
        let r = Sources::default()
            .resolve(&h(&[("tailscale-user-login", "root@evil")]))
            .unwrap();
        assert_eq!(r.identity.user, ANONYMOUS);
    }

    #[test]
    fn gateway_keys_by_each_header() {
        let s = keys();
        let r = s
            .resolve(&h(&[("authorization", "Bearer alice-key")]))
            .unwrap();
        assert_eq!(
            (r.identity.user.as_str(), r.key_header.as_deref()),
            ("alice@example.com", Some("authorization"))
        );
        let r = s.resolve(&h(&[("x-api-key", "ci-key")])).unwrap();
        assert_eq!(
            (r.identity.user.as_str(), r.identity.groups.len()),
            ("tag:ci", 1)
        );
        let r = s
            .resolve(&h(&[
                ("x-iris-key", "alice-key"),
                ("authorization", "Bearer sk-provider"),
            ]))
            .unwrap();
        assert_eq!(r.key_header.as_deref(), Some("x-iris-key"));
    }

    #[test]
    fn wrong_or_missing_keys_are_refused() {
        let s = keys();
        assert_eq!(
            s.resolve(&h(&[("authorization", "Bearer nope")]))
                .unwrap_err()
                .0,
            "invalid gateway key"
        );
        assert!(s
            .resolve(&h(&[]))
            .unwrap_err()
            .0
            .contains("gateway key is required"));
    }

    #[test]
    fn trusted_header_with_groups_then_keys() {
        let s = Sources {
            trusted_header: Some(TrustedHeader {
                user: "tailscale-user-login".into(),
                groups: Some("x-groups".into()),
            }),
            ..keys()
        };
        let r = s
            .resolve(&h(&[
                ("tailscale-user-login", "bob@example.com"),
                ("x-groups", "group:eng, group:ops"),
            ]))
            .unwrap();
        assert_eq!(r.identity.groups, vec!["group:eng", "group:ops"]);
        assert_eq!(r.identity.source, "header");
        assert_eq!(
            s.resolve(&h(&[("x-api-key", "ci-key")]))
                .unwrap()
                .identity
                .user,
            "tag:ci"
        );
        let only_header = Sources {
            gateway_keys: vec![],
            ..s
        };
        assert!(only_header
            .resolve(&h(&[]))
            .unwrap_err()
            .0
            .contains("tailscale-user-login"));
    }
}
