//! `GET /v1/models`, answered by Iris: the models the caller's grants allow, in the OpenAI
//! list shape (with Aperture's `supported_endpoints` and provider metadata), or in the
//! Anthropic list shape when the request carries `anthropic-version` (as Claude Code does).

use crate::api::ApiFormat;
use crate::config::{AuthMode, Config, Provider};
use crate::grants::Policy;
use crate::identity::Identity;
use crate::translate::Pair;
use serde_json::{json, Value};

/// The client paths that reach a provider: its own formats, and those Iris translates to them.
fn supported_endpoints(p: &Provider) -> Vec<&'static str> {
    ApiFormat::ALL
        .into_iter()
        .filter(|client| {
            p.compatibility.accepts(*client)
                || ApiFormat::ALL
                    .into_iter()
                    .any(|up| p.compatibility.accepts(up) && Pair::between(*client, up).is_some())
        })
        .map(|f| match f {
            ApiFormat::OpenAiChat => "/v1/chat/completions",
            ApiFormat::OpenAiResponses => "/v1/responses",
            ApiFormat::AnthropicMessages => "/v1/messages",
            ApiFormat::Gemini => "/v1beta/models/{model}:generateContent",
        })
        .collect()
}

/// The API family a provider speaks natively (Aperture's `metadata.provider.upstream`).
fn upstream(p: &Provider) -> &'static str {
    let c = p.compatibility;
    if c.anthropic_messages {
        "anthropic"
    } else if c.gemini_generate_content {
        "google"
    } else {
        "openai"
    }
}

/// The (provider, model) pairs the caller may use: listed names, not globs.
fn visible<'a>(
    config: &'a Config,
    policy: &'a Policy,
    who: &'a Identity,
) -> Vec<(&'a Provider, &'a str)> {
    config
        .providers
        .iter()
        .filter(|p| !p.disabled)
        .flat_map(|p| {
            p.models
                .iter()
                .filter(|m| !m.is_glob())
                .map(move |m| (p, m.0.as_str()))
        })
        .filter(|(p, m)| policy.allows(who, &p.id, m))
        .collect()
}

/// Aperture's `pricing`: per-token USD as decimal strings, when the price is known.
fn pricing(config: &Config, p: &Provider, model: &str) -> Option<Value> {
    let (price, adjustment) = p.pricing.price(&config.prices, model)?;
    let per_token = |per_million: f64| {
        let v = per_million * adjustment / 1_000_000.0;
        let text = format!("{v:.12}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text.is_empty() {
            "0".to_string()
        } else {
            text.to_string()
        }
    };
    Some(json!({
        "input": per_token(price.input),
        "output": per_token(price.output),
        "input_cache_read": per_token(price.cache_read),
        "input_cache_write": per_token(price.cache_write),
    }))
}

fn openai_entry(config: &Config, p: &Provider, model: &str) -> Value {
    let mut entry = json!({
        "id": model,
        "object": "model",
        "created": 0,
        "owned_by": p.id,
        "supported_endpoints": supported_endpoints(p),
        "metadata": {"provider": {
            "id": p.id,
            "name": if p.name.is_empty() { &p.id } else { &p.name },
            "description": p.description,
            "requires_client_auth": p.auth_mode == AuthMode::Passthrough,
            "upstream": upstream(p),
        }}
    });
    if let (Some(price), Some(obj)) = (pricing(config, p, model), entry.as_object_mut()) {
        obj.insert("pricing".into(), price);
    }
    entry
}

fn anthropic_entry(model: &str) -> Value {
    json!({"type": "model", "id": model, "display_name": model, "created_at": "1970-01-01T00:00:00Z"})
}

/// The list body for the caller.
pub fn list(config: &Config, who: &Identity, anthropic_shape: bool) -> Vec<u8> {
    let models = visible(config, &config.policy, who);
    let body = if anthropic_shape {
        let data: Vec<Value> = models.iter().map(|(_, m)| anthropic_entry(m)).collect();
        json!({
            "data": data,
            "has_more": false,
            "first_id": models.first().map(|(_, m)| *m),
            "last_id": models.last().map(|(_, m)| *m),
        })
    } else {
        let data: Vec<Value> = models
            .iter()
            .map(|(p, m)| openai_entry(config, p, m))
            .collect();
        json!({"object": "list", "data": data})
    };
    body.to_string().into_bytes()
}

/// One model (`GET /v1/models/{id}`), if the caller may see it.
pub fn retrieve(
    config: &Config,
    who: &Identity,
    id: &str,
    anthropic_shape: bool,
) -> Option<Vec<u8>> {
    let (bare_provider, bare_model) = id.split_once('/').unwrap_or(("", id));
    let models = visible(config, &config.policy, who);
    let (p, m) = models.iter().find(|(_, m)| *m == id).or_else(|| {
        models
            .iter()
            .find(|(p, m)| p.id == bare_provider && *m == bare_model)
    })?;
    let body = if anthropic_shape {
        anthropic_entry(m)
    } else {
        openai_entry(config, p, m)
    };
    Some(body.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, EnvMode};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TEXT: &str = r#"{
      "providers": {
        "anthropic": {"baseurl": "http://a", "apikey": "k", "models": ["claude-sonnet-4-5", "claude-*"],
                      "compatibility": {"anthropic_messages": true}},
        "openai": {"baseurl": "http://o", "apikey": "k", "models": ["gpt-4.1"], "name": "OpenAI"},
        "off": {"baseurl": "http://x", "apikey": "k", "models": ["old"], "disabled": true}
      },
      "grants": [
        {"src": ["*"], "app": {"tailscale.com/cap/aperture": [{"role": "user"}, {"models": "openai/**"}]}},
        {"src": ["alice@x"], "app": {"tailscale.com/cap/aperture": [{"models": "**"}]}}
      ]
    }"#;

    fn who(user: &str) -> Identity {
        Identity {
            user: user.into(),
            groups: vec![],
            source: "test",
        }
    }

    fn ids(body: &[u8]) -> Vec<String> {
        let v: Value = serde_json::from_slice(body).unwrap();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn lists_exactly_the_granted_listed_models() {
        let c = load(TEXT, &|_| None, EnvMode::Resolve).config.unwrap();
        assert_eq!(ids(&list(&c, &who("bob@x"), false)), vec!["gpt-4.1"]);
        assert_eq!(
            ids(&list(&c, &who("alice@x"), false)),
            vec!["claude-sonnet-4-5", "gpt-4.1"]
        );
    }

    #[test]
    fn openai_shape_has_endpoints_and_provider_metadata() {
        let c = load(TEXT, &|_| None, EnvMode::Resolve).config.unwrap();
        let v: Value = serde_json::from_slice(&list(&c, &who("alice@x"), false)).unwrap();
        let claude = &v["data"][0];
        assert_eq!(v["object"], "list");
        assert_eq!(claude["object"], "model");
        assert_eq!(
            claude["supported_endpoints"],
            json!(["/v1/chat/completions", "/v1/messages"])
        );
        assert_eq!(claude["metadata"]["provider"]["upstream"], "anthropic");
        assert_eq!(v["data"][1]["metadata"]["provider"]["name"], "OpenAI");
        // gpt-4.1: $2 / $8 per million tokens, as per-token strings.
        assert_eq!(v["data"][1]["pricing"]["input"], "0.000002");
        assert_eq!(v["data"][1]["pricing"]["output"], "0.000008");
        assert_eq!(v["data"][1]["pricing"]["input_cache_read"], "0.0000005");
    }

    #[test]
    fn anthropic_shape_and_retrieve() {
        let c = load(TEXT, &|_| None, EnvMode::Resolve).config.unwrap();
        let v: Value = serde_json::from_slice(&list(&c, &who("alice@x"), true)).unwrap();
        assert_eq!(v["data"][0]["type"], "model");
        assert_eq!(v["first_id"], "claude-sonnet-4-5");
        assert_eq!(v["has_more"], false);
        assert!(retrieve(&c, &who("bob@x"), "claude-sonnet-4-5", false).is_none());
        assert!(retrieve(&c, &who("alice@x"), "anthropic/claude-sonnet-4-5", false).is_some());
    }
}
