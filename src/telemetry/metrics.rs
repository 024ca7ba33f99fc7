//! Metric names for Envoy's `/stats/prometheus`, after the OpenTelemetry GenAI semantic
//! conventions. The proxy-wasm ABI has no labels, so labels are encoded in the name
//! (`name_provider=.=openai;.;model=.=gpt-4.1;.;`) and the bootstrap's `stats_tags` turn them
//! back into Prometheus labels. Label values are only configured names (provider ids, the
//! configured model name or pattern that served the request) or fixed words, never raw
//! client input, so cardinality stays bounded.

use super::record::Record;

/// Labels encoded into metric names, with the regex Envoy uses to extract each.
pub const TAGS: [&str; 4] = ["provider", "model", "token_type", "error_type"];

/// Tokens by type: `gen_ai.client.token.usage`.
pub const TOKENS: &str = "gen_ai_client_token_usage_total";
/// Requests routed to a provider (any outcome).
pub const REQUESTS: &str = "gen_ai_client_requests_total";
/// Failed requests by kind (`error.type`).
pub const ERRORS: &str = "gen_ai_client_errors_total";
/// Whole-request duration: `gen_ai.client.operation.duration`, in milliseconds.
pub const DURATION: &str = "gen_ai_client_operation_duration_milliseconds";
/// Time to the first response byte: `gen_ai.server.time_to_first_token`, in milliseconds.
pub const TTFT: &str = "gen_ai_server_time_to_first_token_milliseconds";
/// Estimated cost in millionths of a US dollar.
pub const COST: &str = "iris_cost_usd_micros_total";

/// A metric kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
}

/// One metric update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub kind: Kind,
    pub name: String,
    pub value: u64,
}

/// The Envoy `stats_tags` regex for a label.
pub fn tag_regex(tag: &str) -> String {
    format!("(_{tag}=\\.=(.+?);\\.;)")
}

/// A name with labels encoded, each as `_key=.=value;.;` (what [`tag_regex`] removes again);
/// values have `;` replaced so they cannot end a label early.
pub fn name(base: &str, labels: &[(&str, &str)]) -> String {
    let mut out = base.to_string();
    for (k, v) in labels {
        out.push('_');
        out.push_str(k);
        out.push_str("=.=");
        out.push_str(&v.replace(';', "_"));
        out.push_str(";.;");
    }
    out
}

/// The updates one finished request makes. `model_label` is the configured model name or
/// pattern that served it (or `none`).
pub fn updates(record: &Record, model_label: &str) -> Vec<Update> {
    let provider = record.provider.as_deref().unwrap_or("none");
    let pm = [("provider", provider), ("model", model_label)];
    let mut out = Vec::new();
    let mut counter = |name: String, value: u64| {
        out.push(Update {
            kind: Kind::Counter,
            name,
            value,
        })
    };
    if record.provider.is_some() {
        counter(name(REQUESTS, &pm), 1);
    }
    if let Some(kind) = &record.error {
        counter(
            name(
                ERRORS,
                &[
                    ("provider", provider),
                    ("model", model_label),
                    ("error_type", kind),
                ],
            ),
            1,
        );
    }
    if let Some(u) = record.usage {
        for (token_type, n) in [
            ("input", u.input),
            ("output", u.output),
            ("cache_read", u.cache_read),
            ("cache_write", u.cache_write),
            ("reasoning", u.reasoning),
        ] {
            if n > 0 {
                counter(
                    name(
                        TOKENS,
                        &[
                            ("provider", provider),
                            ("model", model_label),
                            ("token_type", token_type),
                        ],
                    ),
                    n,
                );
            }
        }
    }
    if let Some(cost) = record.cost_usd {
        let micros = (cost * 1_000_000.0).round();
        if micros >= 1.0 {
            counter(name(COST, &pm), micros as u64);
        }
    }
    if record.provider.is_some() {
        out.push(Update {
            kind: Kind::Histogram,
            name: name(DURATION, &pm),
            value: record.duration_ms,
        });
        if let Some(t) = record.ttft_ms {
            out.push(Update {
                kind: Kind::Histogram,
                name: name(TTFT, &pm),
                value: t,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn labels_are_encoded_istio_style() {
        assert_eq!(
            name(TOKENS, &[("provider", "openai"), ("model", "gpt-4.1"), ("token_type", "input")]),
            "gen_ai_client_token_usage_total_provider=.=openai;.;_model=.=gpt-4.1;.;_token_type=.=input;.;"
        );
        assert_eq!(name("x", &[("model", "a;b")]), "x_model=.=a_b;.;");
    }

    #[test]
    fn a_request_updates_tokens_cost_and_latency() {
        let r = Record {
            provider: Some("anthropic".into()),
            usage: Some(Usage {
                input: 10,
                output: 5,
                cache_read: 0,
                cache_write: 0,
                reasoning: 0,
            }),
            cost_usd: Some(0.000_09),
            duration_ms: 120,
            ttft_ms: Some(40),
            ..Record::default()
        };
        let u = updates(&r, "claude-*");
        assert_eq!(u.len(), 6, "{u:?}"); // requests, 2 token types, cost, duration, ttft
        assert!(u.contains(&Update {
            kind: Kind::Counter,
            name: name(COST, &[("provider", "anthropic"), ("model", "claude-*")]),
            value: 90
        }));
        assert!(u
            .iter()
            .any(|x| x.kind == Kind::Histogram && x.name.starts_with(TTFT) && x.value == 40));
    }

    #[test]
    fn local_errors_count_without_a_provider() {
        let r = Record {
            error: Some("unknown_model".into()),
            status: 404,
            ..Record::default()
        };
        let u = updates(&r, "none");
        assert_eq!(u.len(), 1);
        assert!(u[0].name.contains("error_type=.=unknown_model;.;"));
    }
}
