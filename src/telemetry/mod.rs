//! Telemetry: what each request cost and who made it — prices, per-request records, metrics
//! names, sessions and the dashboard.

pub mod dashboard;
pub mod metrics;
pub mod pricing;
pub mod record;
pub mod sessions;
