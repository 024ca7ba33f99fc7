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
//! 3. JWTs verified by Envoy's `jwt_authn` filter (which Iris renders in front of itself):
//!    Iris reads the verified payload from dynamic metadata, never from a raw header; a token
//!    that fails verification simply yields no payload.
//! 4. with no source configured, everyone is the single user `anonymous`, so a demo works
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

/// JWTs verified by Envoy (`iris.identity.jwt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSource {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Where Envoy fetches the signing keys (an https URL), or...
    pub jwks_uri: Option<String>,
    /// ...the keys themselves (a JWKS document).
    pub jwks: Option<String>,
    /// The claim naming the user (default `email`, then `sub`).
    pub user_claim: String,
    /// A claim listing the user's groups (`["eng"]` counts as `group:eng`).
    pub groups_claim: Option<String>,
}

/// Dynamic-metadata key under which `jwt_authn` puts the verified payload.
pub const JWT_PAYLOAD_KEY: &str = "iris_jwt";

/// The configured identity sources (`iris.identity`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub trusted_header: Option<TrustedHeader>,
    pub gateway_keys: Vec<GatewayKey>,
    pub jwt: Option<JwtSource>,
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
        self.trusted_header.is_none() && self.gateway_keys.is_empty() && self.jwt.is_none()
    }

    /// Identifies the caller from the request headers (lower-case names).
    pub fn resolve(&self, headers: &[(String, String)]) -> Result<Resolved, Unauthenticated> {
        self.resolve_with_jwt(headers, None)
    }

    /// Identifies the caller; `jwt` is the payload Envoy verified, if any.
    pub fn resolve_with_jwt(
        &self,
        headers: &[(String, String)],
        jwt: Option<&serde_json::Value>,
    ) -> Result<Resolved, Unauthenticated> {
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
        if let (Some(source), Some(claims)) = (&self.jwt, jwt) {
            let claim = |name: &str| {
                claims
                    .get(name)
                    .and_then(serde_json::Value::as_str)
                    .filter(|v| !v.is_empty())
            };
            if let Some(user) = claim(&source.user_claim).or_else(|| claim("sub")) {
                let groups = source
                    .groups_claim
                    .as_deref()
                    .and_then(|g| claims.get(g))
                    .map(|g| match g {
                        serde_json::Value::Array(items) => items
                            .iter()
                            .filter_map(|i| i.as_str())
                            .map(str::to_string)
                            .collect(),
                        serde_json::Value::String(s) => {
                            s.split(',').map(|g| g.trim().to_string()).collect()
                        }
                        _ => Vec::new(),
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|g: &String| !g.is_empty())
                    .map(|g| {
                        if g.starts_with("group:") {
                            g
                        } else {
                            format!("group:{g}")
                        }
                    })
                    .collect();
                let identity = Identity {
                    user: user.to_string(),
                    groups,
                    source: "jwt",
                };
                // The token was the caller's credential for Iris: it is not forwarded.
                return Ok(Resolved {
                    identity,
                    key_header: Some("authorization".to_string()),
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
        if self.jwt.is_some() {
            return Err(Unauthenticated(
                "a valid JWT is required: send it as `Authorization: Bearer <token>`".to_string(),
            ));
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
            jwt: None,
        }
    }

    #[test]
    fn verified_jwt_claims_identify_with_groups() {
        let s = Sources {
            jwt: Some(JwtSource {
                issuer: "i".into(),
                audiences: vec![],
                jwks_uri: None,
                jwks: Some("{}".into()),
                user_claim: "email".into(),
                groups_claim: Some("groups".into()),
            }),
            ..Sources::default()
        };
        let claims = serde_json::json!({"sub": "u1", "email": "alice@example.com", "groups": ["eng", "group:ops"]});
        let r = s
            .resolve_with_jwt(&h(&[("authorization", "Bearer x.y.z")]), Some(&claims))
            .unwrap();
        assert_eq!(r.identity.user, "alice@example.com");
        assert_eq!(r.identity.groups, vec!["group:eng", "group:ops"]);
        assert_eq!(r.key_header.as_deref(), Some("authorization"));
        let sub_only = serde_json::json!({"sub": "svc-1"});
        assert_eq!(
            s.resolve_with_jwt(&[], Some(&sub_only))
                .unwrap()
                .identity
                .user,
            "svc-1"
        );
        // An unverified token leaves no payload: no identity.
        assert!(s
            .resolve_with_jwt(&h(&[("authorization", "Bearer forged")]), None)
            .is_err());
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
