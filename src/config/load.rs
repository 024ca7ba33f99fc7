//! Turns config text into a [`Config`]: HuJSON parsing, `${NAME}` secrets from the environment,
//! and validation that collects every error and warning with its JSON path.

use super::hujson;
use super::model::*;
use crate::telemetry::pricing::{self, CostMapping, Price, Pricing};
use serde_json::{Map, Value};
use std::fmt;

/// One problem found in the config, with the JSON path it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The result of loading: a config when there were no errors, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// What to do with `${NAME}` references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvMode {
    /// Replace them from the environment; a missing variable is an error (filter, `iris check`).
    Resolve,
    /// Leave them as written (rendering an Envoy config whose Envoy resolves them later).
    Defer,
}

/// Top-level keys of Aperture's format that Iris parses but does not act on yet.
const IGNORED_TOP_LEVEL: [&str; 7] = [
    "quotas",
    "hooks",
    "exporters",
    "mcp",
    "database",
    "model_aliases",
    "connectors",
];
/// Compatibility flags of Aperture's that name formats Iris does not serve yet.
const UNSUPPORTED_FLAGS: [&str; 5] = [
    "google_generate_content",
    "google_raw_predict",
    "bedrock_model_invoke",
    "bedrock_converse",
    "experimental_gemini_cli_vertex_compat",
];
/// Headers `add_headers` may not set: Envoy owns them, or Iris does.
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
];

/// Loads config text (HuJSON). `env` looks environment variables up.
pub fn load(text: &str, env: &dyn Fn(&str) -> Option<String>, mode: EnvMode) -> Loaded {
    let mut v = Validator {
        auto_cost_basis: true,
        errors: Vec::new(),
        warnings: Vec::new(),
        env,
        mode,
    };
    let config = v.document(text);
    let config = if v.errors.is_empty() { config } else { None };
    Loaded {
        config,
        errors: v.errors,
        warnings: v.warnings,
    }
}

/// Every `${NAME}` referenced in the text, sorted and unique: the environment variables that
/// Envoy must pass to the filter.
pub fn env_references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or_default();
        match after.find('}') {
            Some(end) => {
                let name = after.get(..end).unwrap_or_default();
                if is_env_name(name) {
                    names.push(name.to_string());
                }
                rest = after.get(end + 1..).unwrap_or_default();
            }
            None => break,
        }
    }
    names.sort();
    names.dedup();
    names
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) struct Validator<'a> {
    /// Aperture's `auto_cost_basis` (default true): infer a provider's price table.
    auto_cost_basis: bool,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    env: &'a dyn Fn(&str) -> Option<String>,
    mode: EnvMode,
}

impl Validator<'_> {
    pub(super) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub(super) fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn document(&mut self, text: &str) -> Option<Config> {
        let json = match hujson::to_json(text) {
            Ok(json) => json,
            Err(e) => {
                self.error("", format!("invalid HuJSON: {e}"));
                return None;
            }
        };
        let root: Value = match serde_json::from_str(&json) {
            Ok(v) => v,
            Err(e) => {
                self.error("", format!("invalid JSON: {e}"));
                return None;
            }
        };
        let Some(root) = root.as_object() else {
            self.error("", "the config must be a JSON object");
            return None;
        };
        for key in root.keys() {
            match key.as_str() {
                "providers" | "grants" | "temp_grants" | "iris" | "auto_cost_basis" | "flags" => {}
                k if IGNORED_TOP_LEVEL.contains(&k) => self.warn(
                    k,
                    format!("\"{k}\" is not supported by Iris yet and is ignored"),
                ),
                k => self.warn(k, format!("unknown config key {k:?}")),
            }
        }
        self.auto_cost_basis = root
            .get("auto_cost_basis")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let providers = self.providers(root.get("providers"));
        let iris = root.get("iris").and_then(Value::as_object);
        let prices = self.prices(iris.and_then(|i| i.get("prices")));
        let policy = self.policy(root, iris, &providers);
        let identity = self.identity(iris.and_then(|i| i.get("identity")));
        let settings = self.settings(root.get("iris"));
        if root.get("auto_cost_basis").is_some_and(|v| !v.is_boolean()) {
            self.warn("auto_cost_basis", "must be a boolean");
        }
        Some(Config {
            providers,
            settings,
            policy,
            identity,
            prices,
        })
    }

    fn providers(&mut self, value: Option<&Value>) -> Vec<Provider> {
        let map = match value {
            None => {
                self.warn("", "no providers or mcp servers defined; users will not be able to access any models");
                return Vec::new();
            }
            Some(Value::Object(map)) => map,
            Some(_) => {
                self.error(
                    "providers",
                    "must be an object mapping provider ids to providers",
                );
                return Vec::new();
            }
        };
        if map.is_empty() {
            self.warn(
                "providers",
                "no providers or mcp servers defined; users will not be able to access any models",
            );
        }
        let mut providers = Vec::new();
        // serde_json's map is sorted, so provider order (and cluster names) are deterministic.
        for (index, (id, value)) in map.iter().enumerate() {
            let path = format!("providers.{}", path_key(id));
            if id.is_empty() || id.contains('/') {
                self.error(
                    &path,
                    "provider ids must be non-empty and must not contain '/'",
                );
                continue;
            }
            match value.as_object() {
                Some(obj) => {
                    if let Some(p) = self.provider(index, id, obj, &path) {
                        providers.push(p);
                    }
                }
                None => self.error(&path, "a provider must be an object"),
            }
        }
        providers
    }

    fn provider(
        &mut self,
        index: usize,
        id: &str,
        obj: &Map<String, Value>,
        path: &str,
    ) -> Option<Provider> {
        const KNOWN: [&str; 15] = [
            "default_max_tokens",
            "baseurl",
            "models",
            "apikey",
            "authorization",
            "auth_mode",
            "name",
            "description",
            "compatibility",
            "cost_basis",
            "model_cost_map",
            "preference",
            "disabled",
            "add_headers",
            "tailnet",
        ];
        for key in obj.keys() {
            if !KNOWN.contains(&key.as_str()) {
                self.warn(
                    &format!("{path}.{}", path_key(key)),
                    format!("unknown config key {key:?}"),
                );
            }
        }
        let errors_before = self.errors.len();

        let base = match obj.get("baseurl") {
            Some(Value::String(s)) if !s.is_empty() => match BaseUrl::parse(s) {
                Ok(b) => Some(b),
                Err(e) => {
                    self.error(&format!("{path}.baseurl"), e);
                    None
                }
            },
            Some(Value::String(_)) | None => {
                self.error(
                    &format!("{path}.baseurl"),
                    format!("provider {id} has no baseurl configured"),
                );
                None
            }
            Some(_) => {
                self.error(&format!("{path}.baseurl"), "must be a string");
                None
            }
        };

        let authorization = match obj.get("authorization") {
            None => AuthScheme::Bearer,
            Some(Value::String(s)) => AuthScheme::parse(s).unwrap_or_else(|| {
                self.error(
                    &format!("{path}.authorization"),
                    format!("provider {id} has invalid authorization type: {s}"),
                );
                AuthScheme::Bearer
            }),
            Some(other) => {
                self.error(
                    &format!("{path}.authorization"),
                    format!("provider {id} has invalid authorization type: {other}"),
                );
                AuthScheme::Bearer
            }
        };

        let auth_mode = match obj.get("auth_mode") {
            None => AuthMode::Inject,
            Some(Value::String(s)) if s == "passthrough" => AuthMode::Passthrough,
            Some(Value::String(s)) if s == "inject" || s.is_empty() => AuthMode::Inject,
            Some(other) => {
                self.error(
                    &format!("{path}.auth_mode"),
                    format!("invalid auth_mode {other}: use \"passthrough\" or leave it out"),
                );
                AuthMode::Inject
            }
        };

        let apikey = match obj.get("apikey") {
            None => Secret::default(),
            Some(Value::String(s)) => {
                if s.starts_with("keyfile::") {
                    self.error(
                        &format!("{path}.apikey"),
                        "keyfile:: service-account keys (Vertex) are not supported by Iris yet",
                    );
                }
                Secret::new(self.expand(s, &format!("{path}.apikey")))
            }
            Some(_) => {
                self.error(&format!("{path}.apikey"), "must be a string");
                Secret::default()
            }
        };
        if auth_mode == AuthMode::Passthrough && !apikey.is_empty() {
            self.warn(
                &format!("{path}.apikey"),
                "ignored: passthrough providers forward the client's own credential",
            );
        }
        if auth_mode == AuthMode::Inject && apikey.is_empty() {
            self.warn(
                &format!("{path}.apikey"),
                format!("provider {id} has no apikey; requests are sent without a credential"),
            );
        }

        let models = self.models(obj.get("models"), path, id, auth_mode);
        let compatibility = self.compatibility(obj.get("compatibility"), path, id);
        let preference = match obj.get("preference") {
            None => 0,
            Some(v) => v.as_i64().unwrap_or_else(|| {
                self.warn(&format!("{path}.preference"), "must be an integer; using 0");
                0
            }),
        };
        let disabled = self.optional_bool(obj, "disabled", path);
        let name = self.optional_string(obj, "name", path);
        let description = self.optional_string(obj, "description", path);
        let add_headers = self.add_headers(obj.get("add_headers"), path);
        let default_max_tokens = obj
            .get("default_max_tokens")
            .and_then(|v| self.max_tokens(v, &format!("{path}.default_max_tokens")));
        let pricing = self.pricing(obj, path, id);

        if self.errors.len() > errors_before {
            return None;
        }
        Some(Provider {
            id: id.to_string(),
            name,
            description,
            base: base?,
            apikey,
            authorization,
            auth_mode,
            models,
            compatibility,
            preference,
            disabled,
            add_headers,
            cluster: cluster_name(index, id),
            default_max_tokens,
            pricing,
        })
    }

    fn models(
        &mut self,
        value: Option<&Value>,
        path: &str,
        id: &str,
        mode: AuthMode,
    ) -> Vec<ModelPattern> {
        let path = format!("{path}.models");
        let Some(Value::Array(list)) = value else {
            self.error(
                &path,
                format!("provider {id} must list its models (a list of model names or globs)"),
            );
            return Vec::new();
        };
        if list.is_empty() {
            self.warn(
                &path,
                format!("provider {id} lists no models; no request will be routed to it"),
            );
        }
        let mut models = Vec::new();
        for (i, m) in list.iter().enumerate() {
            match m.as_str() {
                Some(s) if !s.trim().is_empty() => {
                    let pattern = ModelPattern(s.to_string());
                    if pattern.is_glob() && mode == AuthMode::Passthrough {
                        self.warn(
                            &format!("{path}[{i}]"),
                            "wildcards are not supported in passthrough mode by Aperture",
                        );
                    }
                    models.push(pattern);
                }
                _ => self.error(
                    &format!("{path}[{i}]"),
                    "a model must be a non-empty string",
                ),
            }
        }
        models
    }

    fn compatibility(&mut self, value: Option<&Value>, path: &str, id: &str) -> Compatibility {
        let path = format!("{path}.compatibility");
        let Some(value) = value else {
            return Compatibility {
                openai_chat: true,
                ..Compatibility::default()
            };
        };
        let Some(obj) = value.as_object() else {
            self.error(
                &path,
                "must be an object of format flags, e.g. {\"anthropic_messages\": true}",
            );
            return Compatibility::default();
        };
        let mut c = Compatibility::default();
        for (flag, v) in obj {
            let on = match v.as_bool() {
                Some(b) => b,
                None => {
                    self.warn(
                        &format!("{path}.{flag}"),
                        "must be a boolean; treated as false",
                    );
                    false
                }
            };
            match flag.as_str() {
                "openai_chat" => c.openai_chat = on,
                "openai_responses" => c.openai_responses = on,
                "anthropic_messages" => c.anthropic_messages = on,
                "gemini_generate_content" => c.gemini_generate_content = on,
                f if UNSUPPORTED_FLAGS.contains(&f) => {
                    if on {
                        self.warn(
                            &format!("{path}.{f}"),
                            format!("the {f} format is not supported by Iris yet"),
                        );
                    }
                }
                f => self.warn(&format!("{path}.{f}"), format!("unknown config key {f:?}")),
            }
        }
        if c.formats().is_empty() {
            self.warn(&path, format!("provider {id} accepts no API format Iris supports; no request will be routed to it"));
        }
        c
    }

    pub(super) fn add_headers(
        &mut self,
        value: Option<&Value>,
        path: &str,
    ) -> Vec<(String, String)> {
        let path = format!("{path}.add_headers");
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(list) = value.as_array() else {
            self.error(&path, "must be a list of \"Header-Name: value\" strings");
            return Vec::new();
        };
        let mut headers = Vec::new();
        for (i, line) in list.iter().enumerate() {
            let item = format!("{path}[{i}]");
            let parsed = line
                .as_str()
                .and_then(|s| s.split_once(':'))
                .map(|(n, v)| (n.trim(), v.trim()));
            match parsed {
                Some((name, value)) if is_header_name(name) && !value.contains(['\r', '\n']) => {
                    let lower = name.to_ascii_lowercase();
                    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-iris-") {
                        self.error(
                            &item,
                            format!("header {name:?} cannot be set with add_headers"),
                        );
                    } else {
                        let value = self.expand(value, &item);
                        headers.push((lower, value));
                    }
                }
                _ => self.error(&item, "must be in \"Header-Name: value\" format"),
            }
        }
        headers
    }

    fn settings(&mut self, value: Option<&Value>) -> Settings {
        let mut s = Settings::default();
        let Some(value) = value else { return s };
        let Some(obj) = value.as_object() else {
            self.error("iris", "must be an object");
            return s;
        };
        for (key, v) in obj {
            let path = format!("iris.{}", path_key(key));
            if key == "groups" || key == "identity" || key == "prices" {
                continue; // read with the access policy
            }
            if key == "default_max_tokens" {
                if let Some(n) = self.max_tokens(v, &path) {
                    s.default_max_tokens = n;
                }
                continue;
            }
            let target = match key.as_str() {
                "max_request_bytes" => &mut s.max_request_bytes,
                "max_response_capture_bytes" => &mut s.max_response_capture_bytes,
                k => {
                    self.warn(&path, format!("unknown config key {k:?}"));
                    continue;
                }
            };
            match v.as_u64().filter(|n| (1..=1 << 30).contains(n)) {
                Some(n) => *target = n as usize,
                None => self.error(
                    &path,
                    "must be a whole number of bytes from 1 to 1073741824",
                ),
            }
        }
        s
    }

    /// `cost_basis` (explicit, or inferred from the formats unless `auto_cost_basis` is false)
    /// and `model_cost_map`.
    fn pricing(&mut self, obj: &Map<String, Value>, path: &str, id: &str) -> Pricing {
        let explicit = match obj.get("cost_basis") {
            None => None,
            Some(Value::String(b)) if b.is_empty() || b == "none" => Some(None),
            Some(Value::String(b)) => {
                if !pricing::known_basis(b) {
                    self.warn(
                        &format!("{path}.cost_basis"),
                        format!("Iris has no price table for cost_basis {b:?}: costs for provider {id} are unknown"),
                    );
                }
                Some(Some(b.clone()))
            }
            Some(_) => {
                self.warn(&format!("{path}.cost_basis"), "must be a string");
                None
            }
        };
        let basis = explicit.unwrap_or_else(|| {
            if !self.auto_cost_basis {
                return None;
            }
            let c = obj.get("compatibility").and_then(Value::as_object);
            let on = |flag: &str| {
                c.and_then(|c| c.get(flag))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            let basis = if on("anthropic_messages") {
                "anthropic"
            } else if on("gemini_generate_content") {
                "google"
            } else {
                "openai"
            };
            Some(basis.to_string())
        });
        let mut cost_map = Vec::new();
        match obj.get("model_cost_map") {
            None => {}
            Some(Value::Array(list)) => {
                for (i, m) in list.iter().enumerate() {
                    let item = format!("{path}.model_cost_map[{i}]");
                    let pattern = m.get("match").and_then(Value::as_str);
                    let as_model = m.get("as").and_then(Value::as_str);
                    let adjustment = m.get("adjustment").map(|a| a.as_f64()).unwrap_or(Some(1.0));
                    match (pattern, as_model, adjustment) {
                        (Some(pattern), Some(as_model), Some(adjustment)) if adjustment >= 0.0 => {
                            cost_map.push(CostMapping {
                                pattern: pattern.to_string(),
                                as_model: as_model.to_string(),
                                adjustment,
                            })
                        }
                        _ => self.warn(&item, "must be {\"match\": glob, \"as\": model, \"adjustment\": number >= 0}; ignored"),
                    }
                }
            }
            Some(_) => self.warn(&format!("{path}.model_cost_map"), "must be a list"),
        }
        Pricing { basis, cost_map }
    }

    /// `iris.prices`: `{"model": {"input": .., "output": .., "cache_read": .., "cache_write": ..}}`
    /// in USD per million tokens; cache prices default to the input price.
    fn prices(&mut self, value: Option<&Value>) -> pricing::Overrides {
        let Some(value) = value else {
            return Vec::new();
        };
        let Some(obj) = value.as_object() else {
            self.error("iris.prices", "must map model names to prices");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (model, v) in obj {
            let path = format!("iris.prices.{}", path_key(model));
            let num = |k: &str| v.get(k).and_then(Value::as_f64).filter(|n| *n >= 0.0);
            match (num("input"), num("output")) {
                (Some(input), Some(output)) => out.push((
                    model.clone(),
                    Price {
                        input,
                        output,
                        cache_read: num("cache_read").unwrap_or(input),
                        cache_write: num("cache_write").unwrap_or(input),
                    },
                )),
                _ => self.error(
                    &path,
                    "needs \"input\" and \"output\" prices in USD per million tokens",
                ),
            }
        }
        out
    }

    /// A `default_max_tokens` value: a whole number from 1 to 1,000,000.
    fn max_tokens(&mut self, v: &Value, path: &str) -> Option<u64> {
        let n = v.as_u64().filter(|n| (1..=1_000_000).contains(n));
        if n.is_none() {
            self.error(path, "must be a whole number of tokens from 1 to 1000000");
        }
        n
    }

    fn optional_bool(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> bool {
        match obj.get(key) {
            None => false,
            Some(v) => v.as_bool().unwrap_or_else(|| {
                self.warn(&format!("{path}.{key}"), "must be a boolean; using false");
                false
            }),
        }
    }

    fn optional_string(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> String {
        match obj.get(key) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.warn(&format!("{path}.{key}"), "must be a string; ignored");
                String::new()
            }
        }
    }

    /// Replaces `${NAME}` references from the environment (in [`EnvMode::Resolve`]).
    fn expand(&mut self, text: &str, path: &str) -> String {
        if self.mode == EnvMode::Defer || !text.contains("${") {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut missing = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find('}') else {
                out.push_str(rest.get(start..).unwrap_or_default());
                rest = "";
                break;
            };
            let name = after.get(..end).unwrap_or_default();
            match (self.env)(name).filter(|_| is_env_name(name)) {
                Some(value) => out.push_str(&value),
                None => missing.push(name.to_string()),
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        if !missing.is_empty() {
            self.error(
                path,
                format!(
                    "unsubstituted macros: [{}] (set these environment variables for Envoy and list them in host_env_keys)",
                    missing.join(", ")
                ),
            );
        }
        out
    }
}

/// The Envoy cluster for the provider at `index` (in id order).
fn cluster_name(index: usize, id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("iris_p{index}_{clean}")
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A map key as it appears in a diagnostic path.
pub(super) fn path_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn env(name: &str) -> Option<String> {
        match name {
            "ANTHROPIC_API_KEY" => Some("sk-ant-test".into()),
            _ => None,
        }
    }

    fn ok(text: &str) -> (Config, Vec<Diagnostic>) {
        let l = load(text, &env, EnvMode::Resolve);
        assert!(l.errors.is_empty(), "{:?}", l.errors);
        (l.config.unwrap(), l.warnings)
    }

    fn errors(text: &str) -> Vec<String> {
        let l = load(text, &env, EnvMode::Resolve);
        assert!(l.config.is_none());
        l.errors.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn aperture_anthropic_example_loads() {
        let (c, _) = ok(r#"{
            // from Aperture's "Set up Anthropic" page
            "providers": {
              "anthropic": {
                "baseurl": "https://api.anthropic.com",
                "apikey": "${ANTHROPIC_API_KEY}",
                "authorization": "x-api-key",
                "models": ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5",],
                "compatibility": {"anthropic_messages": true},
              },
            },
        }"#);
        let p = &c.providers[0];
        assert_eq!(p.apikey.expose(), "sk-ant-test");
        assert_eq!(p.authorization, AuthScheme::XApiKey);
        assert!(p.compatibility.anthropic_messages && !p.compatibility.openai_chat);
        assert_eq!(p.cluster, "iris_p0_anthropic");
    }

    #[test]
    fn openai_chat_is_the_default_format_only_without_a_block() {
        let (c, _) =
            ok(r#"{"providers": {"a": {"baseurl": "http://h", "apikey": "k", "models": ["m"]}}}"#);
        assert!(c.providers[0].compatibility.openai_chat);
    }

    #[test]
    fn every_error_is_collected_with_its_path() {
        let errs = errors(
            r#"{"providers": {
                "a": {"models": ["m"], "authorization": "basic"},
                "b": {"baseurl": "ftp://x", "models": "m"},
                "c": {"baseurl": "http://h", "models": ["m"], "apikey": "${MISSING_KEY}", "add_headers": ["no colon"]}
            }}"#,
        );
        assert!(
            errs.contains(&"providers.a.baseurl: provider a has no baseurl configured".to_string()),
            "{errs:?}"
        );
        assert!(errs.contains(
            &"providers.a.authorization: provider a has invalid authorization type: basic"
                .to_string()
        ));
        assert!(errs.iter().any(|e| e.starts_with("providers.b.baseurl: ")));
        assert!(errs.iter().any(|e| e.starts_with("providers.b.models: ")));
        assert!(errs
            .iter()
            .any(|e| e.starts_with("providers.c.apikey: unsubstituted macros: [MISSING_KEY]")));
        assert!(errs.contains(
            &"providers.c.add_headers[0]: must be in \"Header-Name: value\" format".to_string()
        ));
        assert_eq!(errs.len(), 6, "{errs:?}");
    }

    #[test]
    fn unknown_keys_are_warnings() {
        let (_, warnings) = ok(
            r#"{"providers": {"a": {"basurl": "x", "baseurl": "http://h", "apikey": "k", "models": ["m"]}}, "colour": 1}"#,
        );
        let w: Vec<String> = warnings.iter().map(|d| d.to_string()).collect();
        assert!(
            w.contains(&"providers.a.basurl: unknown config key \"basurl\"".to_string()),
            "{w:?}"
        );
        assert!(w.contains(&"colour: unknown config key \"colour\"".to_string()));
    }

    #[test]
    fn no_providers_is_a_warning() {
        let (c, w) = ok("{}");
        assert!(c.providers.is_empty());
        assert_eq!(
            w[0].message,
            "no providers or mcp servers defined; users will not be able to access any models"
        );
    }

    #[test]
    fn defer_mode_keeps_macros() {
        let l = load(
            r#"{"providers": {"a": {"baseurl": "http://h", "apikey": "${NOPE}", "models": ["m"]}}}"#,
            &env,
            EnvMode::Defer,
        );
        assert!(l.errors.is_empty());
        assert_eq!(l.config.unwrap().providers[0].apikey.expose(), "${NOPE}");
    }

    #[test]
    fn env_references_are_listed_once() {
        assert_eq!(
            env_references("${B} ${A} ${B} ${not valid} $C ${_X1}"),
            vec!["A", "B", "_X1"]
        );
    }

    #[test]
    fn add_headers_are_parsed_and_reserved_names_refused() {
        let (c, _) = ok(
            r#"{"providers": {"a": {"baseurl": "http://h", "apikey": "k", "models": ["m"], "add_headers": ["X-Project: iris", "Anthropic-Beta: a,b"]}}}"#,
        );
        assert_eq!(
            c.providers[0].add_headers,
            vec![
                ("x-project".into(), "iris".into()),
                ("anthropic-beta".into(), "a,b".into())
            ]
        );
        let errs = errors(
            r#"{"providers": {"a": {"baseurl": "http://h", "models": ["m"], "add_headers": ["Host: evil", "X-Iris-Cluster: x"]}}}"#,
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn settings_are_read_from_the_iris_section() {
        let (c, _) = ok(r#"{"iris": {"max_request_bytes": 1000}}"#);
        assert_eq!(c.settings.max_request_bytes, 1000);
        assert_eq!(errors(r#"{"iris": {"max_request_bytes": 0}}"#).len(), 1);
    }

    #[test]
    fn bad_json_reports_line() {
        let errs = errors("{\n\"providers\": nope\n}");
        assert!(errs[0].contains("line 2"), "{errs:?}");
    }
}
