//! The access part of the config: Aperture's `grants` (and the alpha `temp_grants`), Iris's
//! `iris.groups` and `iris.identity`, validated with the same paths and messages.

use super::load::{path_key, Validator};
use super::model::BaseUrl;
use super::model::Provider;
use crate::grants::{Capability, Grant, Policy, Role};
use crate::identity::{GatewayKey, JwtSource, Sources, TrustedHeader};
use crate::sha256;
use serde_json::{Map, Value};

/// The grants capability key Aperture uses.
pub const CAPABILITY: &str = "tailscale.com/cap/aperture";

/// Capability fields Aperture knows that Iris does not act on (they never widen access).
const INERT_CAP_FIELDS: [&str; 11] = [
    "enable_chat_ui",
    "read_metrics",
    "set_cors",
    "cors_paths",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "mcp_tools",
    "mcp_resources",
    "mcp_templates",
    "connectors",
];

impl Validator<'_> {
    pub(super) fn policy(
        &mut self,
        root: &Map<String, Value>,
        iris: Option<&Map<String, Value>>,
        providers: &[Provider],
    ) -> Policy {
        let mut grants = Vec::new();
        match root.get("grants") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, g) in list.iter().enumerate() {
                    if let Some(grant) = self.grant(g, &format!("grants[{i}]"), providers) {
                        grants.push(grant);
                    }
                }
            }
            Some(_) => self.error("grants", "must be a list of grants"),
        }
        match root.get("temp_grants") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, g) in list.iter().enumerate() {
                    if let Some(grant) = self.temp_grant(g, &format!("temp_grants[{i}]")) {
                        grants.push(grant);
                    }
                }
            }
            Some(_) => self.error("temp_grants", "must be a list of grants"),
        }
        if !providers.is_empty()
            && root.get("grants").is_none()
            && root.get("temp_grants").is_none()
        {
            self.warn(
                "",
                "providers are configured but no grants or temp_grants defined; all access will be denied",
            );
        }
        let has_admin = grants
            .iter()
            .flat_map(|g| g.caps.iter())
            .any(|c| c.role == Some(Role::Admin));
        if !grants.is_empty() && !has_admin {
            self.warn(
                "",
                "no grant in grants or temp_grants assigns role:admin; nobody will be able to manage this instance",
            );
        }
        let groups = self.groups(iris.and_then(|i| i.get("groups")));
        Policy { grants, groups }
    }

    fn src(&mut self, value: Option<&Value>, path: &str) -> Option<Vec<String>> {
        let path = format!("{path}.src");
        let Some(Value::Array(list)) = value else {
            self.error(
                &path,
                "must be a list of callers (\"*\", logins, \"group:...\", \"tag:...\")",
            );
            return None;
        };
        let mut src = Vec::new();
        for (i, s) in list.iter().enumerate() {
            match s.as_str() {
                Some(s) if !s.is_empty() => src.push(s.to_string()),
                _ => self.error(&format!("{path}[{i}]"), "must be a non-empty string"),
            }
        }
        Some(src)
    }

    fn grant(&mut self, value: &Value, path: &str, providers: &[Provider]) -> Option<Grant> {
        let Some(obj) = value.as_object() else {
            self.error(path, "a grant must be an object");
            return None;
        };
        for key in obj.keys() {
            if !["src", "app", "dst", "ip"].contains(&key.as_str()) {
                self.warn(
                    &format!("{path}.{}", path_key(key)),
                    format!("unknown field {key:?} in a grant"),
                );
            }
        }
        let src = self.src(obj.get("src"), path)?;
        let mut caps = Vec::new();
        match obj.get("app") {
            None => {}
            Some(Value::Object(app)) => {
                if let Some(list) = app.get(CAPABILITY) {
                    let cap_path = format!("{path}.app[\"{CAPABILITY}\"]");
                    match list.as_array() {
                        Some(list) => {
                            for (i, c) in list.iter().enumerate() {
                                if let Some(cap) =
                                    self.capability(c, &format!("{cap_path}[{i}]"), providers)
                                {
                                    caps.push(cap);
                                }
                            }
                        }
                        None => self.error(&cap_path, "must be a list of capabilities"),
                    }
                }
            }
            Some(_) => self.error(&format!("{path}.app"), "must be an object of capabilities"),
        }
        Some(Grant { src, caps })
    }

    fn capability(
        &mut self,
        value: &Value,
        path: &str,
        providers: &[Provider],
    ) -> Option<Capability> {
        let Some(obj) = value.as_object() else {
            self.error(path, "a capability must be an object such as {\"role\": \"user\"} or {\"models\": \"**\"}");
            return None;
        };
        let mut cap = Capability::default();
        for (key, v) in obj {
            let field = format!("{path}.{}", path_key(key));
            match key.as_str() {
                "role" => match v.as_str() {
                    Some("user") => cap.role = Some(Role::User),
                    Some("admin") => cap.role = Some(Role::Admin),
                    _ => self.error(&field, "role must be \"user\" or \"admin\""),
                },
                "models" => match v.as_str() {
                    Some(m) if !m.is_empty() => {
                        self.check_provider_reference(m, &field, providers);
                        cap.models = Some(m.to_string());
                    }
                    _ => self.error(
                        &field,
                        "models must be a glob over provider/model, e.g. \"anthropic/**\"",
                    ),
                },
                "add_headers" => cap.add_headers = self.add_headers(Some(v), path),
                "quotas" | "send_hooks" => self.warn(
                    &field,
                    format!("{key} is not supported by Iris yet and is ignored"),
                ),
                k if INERT_CAP_FIELDS.contains(&k) => {}
                k => self.warn(&field, format!("unknown field {k:?} in a grant")),
            }
        }
        Some(cap)
    }

    fn check_provider_reference(&mut self, pattern: &str, path: &str, providers: &[Provider]) {
        let provider = pattern.split('/').next().unwrap_or_default();
        if provider == "**" || providers.is_empty() {
            return;
        }
        if !providers
            .iter()
            .any(|p| crate::glob::matches(provider, &p.id))
        {
            self.warn(
                path,
                format!(
                    "models pattern {pattern:?} references provider {provider:?} which does not match any declared provider"
                ),
            );
        }
    }

    /// Alpha syntax: `{"src": [...], "grants": [{"role": ...}, {"providers": [{"provider", "model"}]}]}`.
    fn temp_grant(&mut self, value: &Value, path: &str) -> Option<Grant> {
        let Some(obj) = value.as_object() else {
            self.error(path, "a grant must be an object");
            return None;
        };
        let src = self.src(obj.get("src"), path)?;
        let mut caps = Vec::new();
        let list = obj
            .get("grants")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, item) in list.iter().enumerate() {
            let item_path = format!("{path}.grants[{i}]");
            if let Some(role) = item.get("role") {
                match role.as_str() {
                    Some("user") => caps.push(Capability {
                        role: Some(Role::User),
                        ..Capability::default()
                    }),
                    Some("admin") => caps.push(Capability {
                        role: Some(Role::Admin),
                        ..Capability::default()
                    }),
                    _ => self.error(
                        &format!("{item_path}.role"),
                        "role must be \"user\" or \"admin\"",
                    ),
                }
            }
            if let Some(providers) = item.get("providers").and_then(Value::as_array) {
                for p in providers {
                    let provider = p.get("provider").and_then(Value::as_str).unwrap_or("*");
                    let model = p.get("model").and_then(Value::as_str).unwrap_or("*");
                    let provider = if provider == "*" && model == "*" {
                        "**"
                    } else {
                        provider
                    };
                    let models = if provider == "**" {
                        "**".to_string()
                    } else if model == "*" {
                        format!("{provider}/**")
                    } else {
                        format!("{provider}/{model}")
                    };
                    caps.push(Capability {
                        models: Some(models),
                        ..Capability::default()
                    });
                }
            }
            if item.get("hook").is_some() {
                self.warn(
                    &item_path,
                    "hooks are not supported by Iris yet and are ignored",
                );
            }
        }
        Some(Grant { src, caps })
    }

    fn groups(&mut self, value: Option<&Value>) -> Vec<(String, Vec<String>)> {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(obj) = value.as_object() else {
            self.error(
                "iris.groups",
                "must map \"group:name\" to a list of members",
            );
            return Vec::new();
        };
        let mut groups = Vec::new();
        for (name, members) in obj {
            let path = format!("iris.groups.{}", path_key(name));
            if !name.starts_with("group:") {
                self.error(&path, "group names start with \"group:\"");
                continue;
            }
            match members.as_array() {
                Some(list) => {
                    let members = list
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect();
                    groups.push((name.clone(), members));
                }
                None => self.error(&path, "must be a list of members"),
            }
        }
        groups
    }

    pub(super) fn identity(&mut self, value: Option<&Value>) -> Sources {
        let mut sources = Sources::default();
        if let Some(value) = value {
            match value.as_object() {
                Some(obj) => {
                    for (key, v) in obj {
                        let path = format!("iris.identity.{}", path_key(key));
                        match key.as_str() {
                            "trusted_header" => {
                                sources.trusted_header = self.trusted_header(v, &path)
                            }
                            "gateway_keys" => sources.gateway_keys = self.gateway_keys(v, &path),
                            "jwt" => sources.jwt = self.jwt(v, &path),
                            k => self.warn(&path, format!("unknown config key {k:?}")),
                        }
                    }
                }
                None => self.error("iris.identity", "must be an object"),
            }
        }
        if sources.is_anonymous() {
            self.warn(
                "iris.identity",
                "no identity source is configured: every caller is the single user \"anonymous\" (fine for a demo; \
                 configure trusted_header, gateway_keys or jwt to know who is calling)",
            );
        }
        sources
    }

    fn trusted_header(&mut self, value: &Value, path: &str) -> Option<TrustedHeader> {
        let user = value
            .get("user")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase());
        let groups = value
            .get("groups")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_ascii_lowercase());
        match user {
            Some(user) if !user.is_empty() && !user.starts_with(':') => {
                Some(TrustedHeader { user, groups })
            }
            _ => {
                self.error(path, "needs \"user\": the name of the header the trusted proxy sets, e.g. \"Tailscale-User-Login\"");
                None
            }
        }
    }

    fn jwt(&mut self, value: &Value, path: &str) -> Option<JwtSource> {
        let Some(obj) = value.as_object() else {
            self.error(
                path,
                "must be an object: {\"issuer\", \"jwks_uri\" or \"jwks\", ...}",
            );
            return None;
        };
        for key in obj.keys() {
            if ![
                "issuer",
                "audiences",
                "jwks_uri",
                "jwks",
                "user_claim",
                "groups_claim",
            ]
            .contains(&key.as_str())
            {
                self.warn(
                    &format!("{path}.{}", path_key(key)),
                    format!("unknown config key {key:?}"),
                );
            }
        }
        let text = |k: &str| {
            obj.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.is_empty())
        };
        let Some(issuer) = text("issuer") else {
            self.error(
                &format!("{path}.issuer"),
                "the issuer (`iss`) the tokens must carry is required",
            );
            return None;
        };
        let audiences = obj
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let jwks_uri = text("jwks_uri");
        let jwks = match obj.get("jwks") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ Value::Object(_)) => Some(v.to_string()),
            Some(_) => {
                self.error(
                    &format!("{path}.jwks"),
                    "must be a JWKS document (object or string)",
                );
                return None;
            }
        };
        match (&jwks_uri, &jwks) {
            (Some(uri), None) if uri.starts_with("https://") && BaseUrl::parse(uri).is_ok() => {}
            (Some(_), None) => {
                self.error(&format!("{path}.jwks_uri"), "must be an https:// URL");
                return None;
            }
            (None, Some(_)) => {}
            _ => {
                self.error(
                    path,
                    "set exactly one of jwks_uri (fetched by Envoy) or jwks (inline keys)",
                );
                return None;
            }
        }
        Some(JwtSource {
            issuer,
            audiences,
            jwks_uri,
            jwks,
            user_claim: text("user_claim").unwrap_or_else(|| "email".to_string()),
            groups_claim: text("groups_claim"),
        })
    }

    fn gateway_keys(&mut self, value: &Value, path: &str) -> Vec<GatewayKey> {
        let Some(list) = value.as_array() else {
            self.error(path, "must be a list of {\"user\": ..., \"sha256\": ...}");
            return Vec::new();
        };
        let mut keys = Vec::new();
        for (i, k) in list.iter().enumerate() {
            let item = format!("{path}[{i}]");
            let user = k
                .get("user")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty());
            let hash = k
                .get("sha256")
                .and_then(Value::as_str)
                .and_then(sha256::parse_hex);
            let groups = k
                .get("groups")
                .and_then(Value::as_array)
                .map(|g| {
                    g.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            match (user, hash) {
                (Some(user), Some(sha256)) => keys.push(GatewayKey {
                    user: user.to_string(),
                    groups,
                    sha256,
                }),
                (None, _) => self.error(
                    &format!("{item}.user"),
                    "a gateway key needs the user it identifies",
                ),
                (_, None) => self.error(
                    &format!("{item}.sha256"),
                    "must be the key's SHA-256 as 64 hex digits (`iris keys hash KEY` prints it)",
                ),
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{load, EnvMode};
    use crate::grants::Role;
    use crate::identity::Identity;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn who(user: &str) -> Identity {
        Identity {
            user: user.into(),
            groups: vec![],
            source: "test",
        }
    }

    #[test]
    fn aperture_grants_are_parsed() {
        let text = r#"{
          "providers": {"anthropic": {"baseurl": "http://a", "apikey": "k", "models": ["m"]}},
          "grants": [
            {"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}, {"models": "anthropic/**"}]}},
            {"src": ["admin@x"], "app": {"tailscale.com/cap/aperture": [{"role": "admin"}, {"models": "nope/**"}],
                                         "mycompany.com/cap/policy": [{"tier": "x"}]}}
          ],
          "iris": {"groups": {"group:eng": ["bob@x"]}}
        }"#;
        let l = load(text, &|_| None, EnvMode::Resolve);
        assert!(l.errors.is_empty(), "{:?}", l.errors);
        let c = l.config.unwrap();
        assert_eq!(c.policy.grants.len(), 2);
        assert_eq!(c.policy.role(&who("admin@x")), Some(Role::Admin));
        assert!(c.policy.allows(&who("someone"), "anthropic", "m"));
        assert_eq!(
            c.policy.groups,
            vec![("group:eng".to_string(), vec!["bob@x".to_string()])]
        );
        let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
        assert!(w.iter().any(|w| w.contains(r#"models pattern "nope/**" references provider "nope" which does not match any declared provider"#)), "{w:?}");
    }

    #[test]
    fn temp_grants_convert_to_model_globs() {
        let text = r#"{"temp_grants": [{"src": ["alice@x"], "grants": [{"role": "admin"},
            {"providers": [{"provider": "openai", "model": "*"}, {"provider": "*", "model": "*"}]}]}]}"#;
        let c = load(text, &|_| None, EnvMode::Resolve).config.unwrap();
        let models: Vec<_> = c.policy.grants[0]
            .caps
            .iter()
            .filter_map(|c| c.models.clone())
            .collect();
        assert_eq!(models, vec!["openai/**", "**"]);
    }

    #[test]
    fn missing_grants_and_admin_are_warnings_and_bad_roles_errors() {
        let l = load(
            r#"{"providers": {"a": {"baseurl": "http://a", "apikey": "k", "models": ["m"]}}}"#,
            &|_| None,
            EnvMode::Resolve,
        );
        assert!(l
            .warnings
            .iter()
            .any(|d| d.message.contains("all access will be denied")));
        let l = load(
            r#"{"grants": [{"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}]}}]}"#,
            &|_| None,
            EnvMode::Resolve,
        );
        assert!(l
            .warnings
            .iter()
            .any(|d| d.message.contains("nobody will be able to manage")));
        let l = load(
            r#"{"grants": [{"src": "*", "app": {"tailscale.com/cap/aperture": [{"role": "root"}]}}]}"#,
            &|_| None,
            EnvMode::Resolve,
        );
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors); // src not a list: the grant is skipped
        let l = load(
            r#"{"grants": [{"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "root"}]}}]}"#,
            &|_| None,
            EnvMode::Resolve,
        );
        assert_eq!(
            l.errors[0].path,
            "grants[0].app[\"tailscale.com/cap/aperture\"][0].role"
        );
    }

    #[test]
    fn identity_sources_are_parsed() {
        let hash = crate::sha256::hex(&crate::sha256::digest(b"k1"));
        let text = format!(
            r#"{{"iris": {{"identity": {{"trusted_header": {{"user": "Tailscale-User-Login"}},
                 "gateway_keys": [{{"user": "ci", "sha256": "{hash}", "groups": ["group:bots"]}}]}}}}}}"#
        );
        let l = load(&text, &|_| None, EnvMode::Resolve);
        assert!(l.errors.is_empty(), "{:?}", l.errors);
        let c = l.config.unwrap();
        assert_eq!(
            c.identity.trusted_header.unwrap().user,
            "tailscale-user-login"
        );
        assert_eq!(c.identity.gateway_keys[0].groups, vec!["group:bots"]);
        let l = load(
            r#"{"iris": {"identity": {"gateway_keys": [{"user": "x", "sha256": "abc"}]}}}"#,
            &|_| None,
            EnvMode::Resolve,
        );
        assert!(l.errors[0].message.contains("64 hex digits"));
        let l = load("{}", &|_| None, EnvMode::Resolve);
        assert!(l.warnings.iter().any(|d| d.message.contains("anonymous")));
    }

    #[test]
    fn jwt_source_needs_an_issuer_and_one_key_source() {
        let ok = r#"{"iris": {"identity": {"jwt": {"issuer": "https://idp", "jwks_uri": "https://idp/jwks.json"}}}}"#;
        let c = load(ok, &|_| None, EnvMode::Resolve).config.unwrap();
        let jwt = c.identity.jwt.unwrap();
        assert_eq!(
            (jwt.user_claim.as_str(), jwt.jwks_uri.as_deref()),
            ("email", Some("https://idp/jwks.json"))
        );
        for bad in [
            r#"{"iris": {"identity": {"jwt": {"jwks": {"keys": []}}}}}"#,
            r#"{"iris": {"identity": {"jwt": {"issuer": "i"}}}}"#,
            r#"{"iris": {"identity": {"jwt": {"issuer": "i", "jwks_uri": "http://idp/jwks"}}}}"#,
            r#"{"iris": {"identity": {"jwt": {"issuer": "i", "jwks": {}, "jwks_uri": "https://idp/j"}}}}"#,
        ] {
            assert_eq!(
                load(bad, &|_| None, EnvMode::Resolve).errors.len(),
                1,
                "{bad}"
            );
        }
    }
}
