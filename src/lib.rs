//! Iris: an AI gateway that runs inside Envoy as a proxy-wasm filter.
//!
//! Everything but [`host`] is a pure core with no proxy-wasm import: configuration, routing,
//! credentials, API formats, SSE framing, usage and the per-request state machine. The
//! `host` module (wasm only) adapts proxy-wasm callbacks to [`filter::RequestFilter`];
//! [`bootstrap`] renders the Envoy configuration that loads the filter.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod api;
pub mod auth;
pub mod body;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod filter;
pub mod glob;
pub mod grants;
pub mod identity;
pub mod metadata;
pub mod models;
pub mod routing;
pub mod sha256;
pub mod sse;
pub mod telemetry;
pub mod translate;
pub mod usage;

#[cfg(all(feature = "proxy-wasm", target_arch = "wasm32"))]
mod host;
