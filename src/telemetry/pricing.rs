//! Cost: a price table per model (USD per million tokens for input, output, cache read and
//! cache write), shipped for current OpenAI, Anthropic and Gemini models and overridable in
//! config; Aperture's `cost_basis`, `auto_cost_basis` and `model_cost_map` decide which table
//! and which model name a provider's requests are priced as. A model without a price has an
//! unknown cost (`None`), never zero.

use crate::usage::Usage;

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Price of input tokens read from a prompt cache.
    pub cache_read: f64,
    /// Price of input tokens written to a prompt cache.
    pub cache_write: f64,
}

const fn p(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
    Price {
        input,
        output,
        cache_read,
        cache_write,
    }
}

/// Shipped prices (list prices, standard tier, 5-minute cache writes; Gemini at the <=200k
/// prompt tier). OpenAI bills no cache writes, so its write price is the input price.
const ANTHROPIC: [(&str, Price); 9] = [
    ("claude-opus-4-5", p(5.0, 25.0, 0.50, 6.25)),
    ("claude-opus-4-1", p(15.0, 75.0, 1.50, 18.75)),
    ("claude-opus-4", p(15.0, 75.0, 1.50, 18.75)),
    ("claude-sonnet-4-5", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-sonnet-4", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-3-7-sonnet", p(3.0, 15.0, 0.30, 3.75)),
    ("claude-haiku-4-5", p(1.0, 5.0, 0.10, 1.25)),
    ("claude-3-5-haiku", p(0.80, 4.0, 0.08, 1.0)),
    ("claude-3-haiku", p(0.25, 1.25, 0.03, 0.30)),
];

const OPENAI: [(&str, Price); 13] = [
    ("gpt-5-nano", p(0.05, 0.40, 0.005, 0.05)),
    ("gpt-5-mini", p(0.25, 2.0, 0.025, 0.25)),
    ("gpt-5", p(1.25, 10.0, 0.125, 1.25)),
    ("gpt-4.1-nano", p(0.10, 0.40, 0.025, 0.10)),
    ("gpt-4.1-mini", p(0.40, 1.60, 0.10, 0.40)),
    ("gpt-4.1", p(2.0, 8.0, 0.50, 2.0)),
    ("gpt-4o-mini", p(0.15, 0.60, 0.075, 0.15)),
    ("gpt-4o", p(2.50, 10.0, 1.25, 2.50)),
    ("o4-mini", p(1.10, 4.40, 0.275, 1.10)),
    ("o3-mini", p(1.10, 4.40, 0.55, 1.10)),
    ("o3", p(2.0, 8.0, 0.50, 2.0)),
    ("o1", p(15.0, 60.0, 7.50, 15.0)),
    ("gpt-4-turbo", p(10.0, 30.0, 10.0, 10.0)),
];

const GOOGLE: [(&str, Price); 3] = [
    ("gemini-2.5-pro", p(1.25, 10.0, 0.31, 1.25)),
    ("gemini-2.5-flash-lite", p(0.10, 0.40, 0.025, 0.10)),
    ("gemini-2.5-flash", p(0.30, 2.50, 0.075, 0.30)),
];

/// The shipped table for a `cost_basis`, if Iris has one.
fn table(basis: &str) -> Option<&'static [(&'static str, Price)]> {
    match basis {
        "anthropic" => Some(&ANTHROPIC),
        "openai" => Some(&OPENAI),
        "google" => Some(&GOOGLE),
        _ => None,
    }
}

/// Looks a model up in a table: the exact name, else the longest entry that the model name
/// extends with a version or date suffix (`claude-sonnet-4-5-20250929`, `gpt-4.1-2025-04-14`).
fn lookup(entries: &[(&str, Price)], model: &str) -> Option<Price> {
    entries
        .iter()
        .filter(|(name, _)| model == *name || model.strip_prefix(name).is_some_and(is_dated_suffix))
        .max_by_key(|(name, _)| name.len())
        .map(|(_, price)| *price)
}

/// `-20250929`, `-2025-04-14`, `@20251101` or `-latest`: a snapshot of the same model, not a
/// different version (`-8` in `claude-opus-4-8` is a new model, with its own price).
fn is_dated_suffix(rest: &str) -> bool {
    let Some(tail) = rest.strip_prefix('-').or_else(|| rest.strip_prefix('@')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if tail == "latest" {
        return true;
    }
    if tail.get(..8).is_some_and(digits)
        && tail
            .get(8..)
            .is_none_or(|r| r.is_empty() || r.starts_with(['-', ':']))
    {
        return true;
    }
    let mut parts = tail.splitn(3, '-');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(y), Some(m), Some(d)) if y.len() == 4 && digits(y) && m.len() == 2 && digits(m) && d.len() == 2 && digits(d)
    )
}

/// One `model_cost_map` entry: models matching `pattern` are priced as `as_model` times
/// `adjustment`.
#[derive(Debug, Clone, PartialEq)]
pub struct CostMapping {
    pub pattern: String,
    pub as_model: String,
    pub adjustment: f64,
}

/// How one provider's requests are priced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pricing {
    /// The table to use (`anthropic`, `openai`, `google`, ...); `None`: no prices.
    pub basis: Option<String>,
    pub cost_map: Vec<CostMapping>,
}

/// Config-level price overrides (`iris.prices`): model name -> price, before any table.
pub type Overrides = Vec<(String, Price)>;

impl Pricing {
    /// The price of `model` and the multiplier to apply, if known.
    pub fn price(&self, overrides: &Overrides, model: &str) -> Option<(Price, f64)> {
        let (name, adjustment) = match self
            .cost_map
            .iter()
            .find(|m| crate::glob::matches(&m.pattern, model))
        {
            Some(m) => (m.as_model.as_str(), m.adjustment),
            None => (model, 1.0),
        };
        if let Some((_, price)) = overrides.iter().find(|(n, _)| n == name) {
            return Some((*price, adjustment));
        }
        let entries = table(self.basis.as_deref()?)?;
        lookup(entries, name).map(|price| (price, adjustment))
    }

    /// The cost in USD of `usage` for `model`, or `None` when the price is unknown.
    pub fn cost(&self, overrides: &Overrides, model: &str, usage: &Usage) -> Option<f64> {
        let (price, adjustment) = self.price(overrides, model)?;
        Some(cost_of(&price, usage) * adjustment)
    }
}

/// `usage` at `price`. `usage.input` includes cache reads and writes (see `usage.rs`); the
/// rest of the input is billed at the input price.
pub fn cost_of(price: &Price, usage: &Usage) -> f64 {
    let uncached = usage
        .input
        .saturating_sub(usage.cache_read)
        .saturating_sub(usage.cache_write);
    (uncached as f64 * price.input
        + usage.cache_read as f64 * price.cache_read
        + usage.cache_write as f64 * price.cache_write
        + usage.output as f64 * price.output)
        / 1_000_000.0
}

/// Whether Iris ships a table for this `cost_basis` value.
pub fn known_basis(basis: &str) -> bool {
    table(basis).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn basis(b: &str) -> Pricing {
        Pricing {
            basis: Some(b.into()),
            cost_map: vec![],
        }
    }

    #[test]
    fn dated_model_names_find_their_family_price() {
        let p = basis("anthropic");
        assert_eq!(
            p.price(&vec![], "claude-sonnet-4-5-20250929")
                .unwrap()
                .0
                .input,
            3.0
        );
        assert_eq!(p.price(&vec![], "claude-opus-4-5").unwrap().0.output, 25.0);
        assert_eq!(
            p.price(&vec![], "claude-opus-4-1-20250805")
                .unwrap()
                .0
                .output,
            75.0
        );
        let o = basis("openai");
        assert_eq!(o.price(&vec![], "gpt-4.1-mini").unwrap().0.input, 0.40);
        assert_eq!(o.price(&vec![], "gpt-4.1-2025-04-14").unwrap().0.input, 2.0);
        assert!(o.price(&vec![], "gpt-4.1-turbo-custom").is_none());
        assert!(p.price(&vec![], "claude-opus-4-8").is_none());
        assert_eq!(
            p.price(&vec![], "claude-opus-4-5@20251101")
                .unwrap()
                .0
                .input,
            5.0
        );
    }

    #[test]
    fn cache_reads_and_writes_are_priced_apart() {
        let usage = Usage {
            input: 1_120_000,
            output: 1_000_000,
            cache_read: 100_000,
            cache_write: 20_000,
            reasoning: 0,
        };
        let cost = basis("anthropic")
            .cost(&vec![], "claude-sonnet-4-5", &usage)
            .unwrap();
        // 1M uncached * 3 + 0.1M * 0.30 + 0.02M * 3.75 + 1M * 15
        assert!((cost - (3.0 + 0.03 + 0.075 + 15.0)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn unknown_models_and_bases_have_unknown_cost_not_zero() {
        let u = Usage {
            input: 10,
            output: 10,
            ..Usage::default()
        };
        assert_eq!(
            basis("anthropic").cost(&vec![], "claude-opus-4-8", &u),
            None
        );
        assert_eq!(
            basis("bedrock").cost(&vec![], "claude-sonnet-4-5", &u),
            None
        );
        assert_eq!(Pricing::default().cost(&vec![], "gpt-4.1", &u), None);
    }

    #[test]
    fn model_cost_map_and_overrides() {
        let p = Pricing {
            basis: Some("openai".into()),
            cost_map: vec![CostMapping {
                pattern: "my-ft-*".into(),
                as_model: "gpt-4.1".into(),
                adjustment: 1.5,
            }],
        };
        let u = Usage {
            input: 1_000_000,
            output: 0,
            ..Usage::default()
        };
        assert!((p.cost(&vec![], "my-ft-v2", &u).unwrap() - 3.0).abs() < 1e-9);
        let overrides = vec![(
            "local-llama".to_string(),
            Price {
                input: 0.0,
                output: 0.0,
                cache_read: 0.0,
                cache_write: 0.0,
            },
        )];
        assert_eq!(
            Pricing::default().cost(&overrides, "local-llama", &u),
            Some(0.0)
        );
    }
}
