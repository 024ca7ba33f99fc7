//! Telemetry: what each request cost and who made it — prices, per-request records, metrics
//! names, sessions and the dashboard.

pub mod pricing;
pub mod metrics;
pub mod record;
