//! The per-request record: one JSON object per request, for Envoy's access log (exposed as
//! filter state) and the sessions dashboard.

use crate::usage::Usage;
use serde_json::{json, Value};

/// Everything Iris knows about one finished request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// Milliseconds since the Unix epoch when the request arrived.
    pub timestamp_ms: u64,
    pub user: String,
    pub session: String,
    /// Provider id, when the request was routed.
    pub provider: Option<String>,
    /// The model the client asked for.
    pub model_requested: String,
    /// The model name sent upstream.
    pub model_served: Option<String>,
    /// Client format (Aperture flag name, e.g. `openai_chat`).
    pub format: String,
    /// Provider format, when the request was routed.
    pub upstream_format: Option<String>,
    pub status: u16,
    /// Low-cardinality error kind when the request failed (`unknown_model`, `upstream_5xx`...).
    pub error: Option<String>,
    pub stream: bool,
    pub usage: Option<Usage>,
    /// USD; `None` when the price (or the usage) is unknown.
    pub cost_usd: Option<f64>,
    pub duration_ms: u64,
    /// Time to the first response byte from the provider.
    pub ttft_ms: Option<u64>,
}

impl Record {
    pub fn to_value(&self) -> Value {
        let u = self.usage.unwrap_or_default();
        let known = self.usage.is_some();
        let tokens = |n: u64| if known { json!(n) } else { Value::Null };
        json!({
            "timestamp": rfc3339(self.timestamp_ms),
            "timestamp_ms": self.timestamp_ms,
            "user": self.user,
            "session": self.session,
            "provider": self.provider,
            "model_requested": self.model_requested,
            "model": self.model_served,
            "format": self.format,
            "upstream_format": self.upstream_format,
            "status": self.status,
            "error": self.error,
            "stream": self.stream,
            "input_tokens": tokens(u.input),
            "output_tokens": tokens(u.output),
            "cache_read_tokens": tokens(u.cache_read),
            "cache_write_tokens": tokens(u.cache_write),
            "reasoning_tokens": tokens(u.reasoning),
            "cost_usd": self.cost_usd,
            "duration_ms": self.duration_ms,
            "ttft_ms": self.ttft_ms,
        })
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }
}

/// `2026-12-04T19:54:19.123Z` for a Unix time in milliseconds (civil-from-days, UTC).
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_414_059_123), "2026-12-04T19:54:19.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn unknown_usage_and_cost_are_null_not_zero() {
        let r = Record {
            user: "u".into(),
            status: 502,
            ..Record::default()
        };
        let v = r.to_value();
        assert!(v["input_tokens"].is_null() && v["cost_usd"].is_null());
        let r = Record {
            usage: Some(Usage {
                input: 3,
                ..Usage::default()
            }),
            cost_usd: Some(0.5),
            ..Record::default()
        };
        assert_eq!(
            (
                r.to_value()["input_tokens"].as_u64(),
                r.to_value()["cost_usd"].as_f64()
            ),
            (Some(3), Some(0.5))
        );
    }
}
