//! Picks the provider for a model: `provider/model` names a provider explicitly; otherwise the
//! enabled providers that list the model and can take the client's format (natively, or
//! through a translator) compete: highest `preference` first, then a provider that accepts
//! the format natively over one that needs translation, then an exact name over a glob, then
//! provider id order.

use crate::api::ApiFormat;
use crate::config::{Config, Provider};
use crate::error::GatewayError;
use crate::translate::Pair;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Index into `Config::providers`.
    pub provider: usize,
    /// The model name to send upstream (the `provider/` prefix removed).
    pub model: String,
    /// Whether `model` differs from what the client sent, so the body must be rewritten.
    pub model_rewritten: bool,
    /// The format the provider is sent: the client's, or the one a translator produces.
    pub upstream: ApiFormat,
}

/// The format to send `provider` a request that arrived in `client` format: the client's own
/// when the provider accepts it, else one a translator can produce, else none.
pub fn upstream_format(provider: &Provider, client: ApiFormat) -> Option<ApiFormat> {
    if provider.compatibility.accepts(client) {
        return Some(client);
    }
    ApiFormat::ALL
        .into_iter()
        .find(|f| provider.compatibility.accepts(*f) && Pair::between(client, *f).is_some())
}

/// Resolves `model` for a request in `format`, for any caller (no grants applied).
pub fn route(config: &Config, format: ApiFormat, model: &str) -> Result<Route, GatewayError> {
    route_allowed(config, format, model, &|_, _| Ok(()))
}

/// Resolves `model` among the providers `allowed` lets the caller use (`allowed(provider,
/// model)` says why not): routing only ever picks a granted provider, and when the model
/// exists but none of its providers is granted, the caller's refusal is returned.
pub fn route_allowed(
    config: &Config,
    format: ApiFormat,
    model: &str,
    allowed: &dyn Fn(&Provider, &str) -> Result<(), GatewayError>,
) -> Result<Route, GatewayError> {
    if model.is_empty() {
        return Err(GatewayError::MissingModel);
    }
    // `provider/model`: explicit, when the prefix is a provider id that serves the rest.
    // Otherwise the whole name is a model name (OpenRouter-style `vendor/model` names).
    if let Some((prefix, bare)) = model.split_once('/') {
        if let Some((index, provider)) = config
            .providers
            .iter()
            .enumerate()
            .find(|(_, p)| p.id == prefix)
        {
            if !provider.disabled && provider.serves(bare).is_some() {
                allowed(provider, bare)?;
                let Some(upstream) = upstream_format(provider, format) else {
                    return Err(unsupported(model, format, [provider]));
                };
                return Ok(Route {
                    provider: index,
                    model: bare.to_string(),
                    model_rewritten: true,
                    upstream,
                });
            }
        }
    }
    let serving: Vec<(usize, &Provider, bool)> = config
        .providers
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.disabled)
        .filter_map(|(i, p)| p.serves(model).map(|pattern| (i, p, !pattern.is_glob())))
        .collect();
    if serving.is_empty() {
        return Err(GatewayError::UnknownModel {
            model: model.to_string(),
        });
    }
    let mut refusal = None;
    let serving: Vec<(usize, &Provider, bool)> = serving
        .into_iter()
        .filter(|(_, p, _)| match allowed(p, model) {
            Ok(()) => true,
            Err(e) => {
                refusal.get_or_insert(e);
                false
            }
        })
        .collect();
    if let (true, Some(e)) = (serving.is_empty(), refusal) {
        return Err(e);
    }
    let best = serving
        .iter()
        .filter_map(|(i, p, exact)| upstream_format(p, format).map(|up| (*i, *p, *exact, up)))
        // max_by_key keeps the last maximum; providers are in id order, so compare the reverse index.
        .max_by_key(|(i, p, exact, up)| {
            (p.preference, *up == format, *exact, std::cmp::Reverse(*i))
        });
    match best {
        Some((index, _, _, upstream)) => Ok(Route {
            provider: index,
            model: model.to_string(),
            model_rewritten: false,
            upstream,
        }),
        None => Err(unsupported(
            model,
            format,
            serving.iter().map(|(_, p, _)| *p),
        )),
    }
}

fn unsupported<'a>(
    model: &str,
    format: ApiFormat,
    providers: impl IntoIterator<Item = &'a Provider>,
) -> GatewayError {
    GatewayError::FormatNotSupported {
        model: model.to_string(),
        format,
        providers: providers.into_iter().map(|p| p.id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, EnvMode};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn config() -> Config {
        load(
            r#"{"providers": {
                "openai": {"baseurl": "https://api.openai.com", "apikey": "k", "models": ["gpt-4.1", "gpt-5*"],
                           "compatibility": {"openai_chat": true, "openai_responses": true}},
                "backup": {"baseurl": "http://b", "apikey": "k", "models": ["gpt-4.1"], "preference": 10},
                "glob": {"baseurl": "http://g", "apikey": "k", "models": ["gpt-5*"], "preference": 0},
                "exact": {"baseurl": "http://e", "apikey": "k", "models": ["gpt-5-mini"]},
                "anthropic": {"baseurl": "https://api.anthropic.com", "apikey": "k", "authorization": "x-api-key",
                              "models": ["claude-sonnet-4-5"], "compatibility": {"anthropic_messages": true}},
                "off": {"baseurl": "http://o", "apikey": "k", "models": ["retired"], "disabled": true},
                "openrouter": {"baseurl": "https://openrouter.ai/api", "apikey": "k", "models": ["anthropic/claude-3.5"]}
            }}"#,
            &|_| None,
            EnvMode::Resolve,
        )
        .config
        .unwrap()
    }

    fn provider_of(c: &Config, format: ApiFormat, model: &str) -> String {
        let r = route(c, format, model).unwrap();
        c.providers[r.provider].id.clone()
    }

    #[test]
    fn highest_preference_wins() {
        assert_eq!(
            provider_of(&config(), ApiFormat::OpenAiChat, "gpt-4.1"),
            "backup"
        );
    }

    #[test]
    fn only_providers_accepting_the_format_compete() {
        assert_eq!(
            provider_of(&config(), ApiFormat::OpenAiResponses, "gpt-4.1"),
            "openai"
        );
    }

    #[test]
    fn exact_beats_glob_at_equal_preference_then_id_order() {
        let c = config();
        assert_eq!(
            provider_of(&c, ApiFormat::OpenAiChat, "gpt-5-mini"),
            "exact"
        );
        assert_eq!(provider_of(&c, ApiFormat::OpenAiChat, "gpt-5"), "glob");
    }

    #[test]
    fn explicit_provider_prefix_is_stripped() {
        let c = config();
        let r = route(&c, ApiFormat::OpenAiChat, "openai/gpt-4.1").unwrap();
        assert_eq!(
            (
                c.providers[r.provider].id.as_str(),
                r.model.as_str(),
                r.model_rewritten
            ),
            ("openai", "gpt-4.1", true)
        );
    }

    #[test]
    fn vendor_slash_model_names_still_route_whole() {
        let c = config();
        let r = route(&c, ApiFormat::OpenAiChat, "anthropic/claude-3.5").unwrap();
        assert_eq!(
            (c.providers[r.provider].id.as_str(), r.model.as_str()),
            ("openrouter", "anthropic/claude-3.5")
        );
    }

    #[test]
    fn translation_reaches_providers_of_another_format() {
        let c = config();
        let r = route(&c, ApiFormat::OpenAiChat, "claude-sonnet-4-5").unwrap();
        assert_eq!(
            (c.providers[r.provider].id.as_str(), r.upstream),
            ("anthropic", ApiFormat::AnthropicMessages)
        );
        let r = route(&c, ApiFormat::AnthropicMessages, "gpt-4.1").unwrap();
        assert_eq!(
            (c.providers[r.provider].id.as_str(), r.upstream),
            ("backup", ApiFormat::OpenAiChat)
        );
    }

    #[test]
    fn native_format_beats_translation_at_equal_preference() {
        let c = load(
            r#"{"providers": {
                "a_openai": {"baseurl": "http://a", "apikey": "k", "models": ["m"]},
                "b_anthropic": {"baseurl": "http://b", "apikey": "k", "models": ["m"], "compatibility": {"anthropic_messages": true}}
            }}"#,
            &|_| None,
            EnvMode::Resolve,
        )
        .config
        .unwrap();
        assert_eq!(
            route(&c, ApiFormat::AnthropicMessages, "m")
                .unwrap()
                .upstream,
            ApiFormat::AnthropicMessages
        );
        assert_eq!(
            route(&c, ApiFormat::OpenAiChat, "m").unwrap().upstream,
            ApiFormat::OpenAiChat
        );
    }

    #[test]
    fn unknown_disabled_and_wrong_format() {
        let c = config();
        assert_eq!(
            route(&c, ApiFormat::OpenAiChat, "nope")
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            route(&c, ApiFormat::OpenAiChat, "retired")
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            route(&c, ApiFormat::OpenAiChat, "off/retired")
                .unwrap_err()
                .status(),
            404
        );
        let e = route(&c, ApiFormat::OpenAiResponses, "claude-sonnet-4-5").unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("anthropic"), "{}", e.message());
        assert_eq!(
            route(&c, ApiFormat::OpenAiChat, "").unwrap_err(),
            GatewayError::MissingModel
        );
    }
}
