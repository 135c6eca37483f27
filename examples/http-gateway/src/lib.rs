//! An HTTP API gateway that stores tasks, as it runs in production.
//!
//! - [`Gateway`] is an axum [`Router`](axum::Router) with `PUT` and `GET
//!   /v1/tasks/{id}` over a [`TaskStore`], and `GET /metrics`, served
//!   through hyper's HTTP/1.1 connection driver on the gateway's own
//!   listener ([`serve`]). Each request gets a server span that continues
//!   the caller's W3C `traceparent`, each store operation a span of its own,
//!   and both are measured with the `metrics` facade.
//! - [`GatewayClient`] is a hyper HTTP/1.1 client with retries, a
//!   per-attempt timeout, a client span per attempt (whose own
//!   `traceparent` it sends) and client metrics.
//! - [`Config`] holds the settings, and [`Bugs`] the planted instrumentation
//!   bugs, all off by default.
//!
//! The same code runs in the simulator: under `--cfg madsim` the listener,
//! streams, tasks and timers are madsim's ([`rt`]), tokio's otherwise.

pub mod bugs;
mod client;
mod config;
pub mod metrics;
pub mod rt;
mod server;
mod store;
mod trace;

pub use bugs::Bugs;
pub use client::{GatewayClient, GatewayError, TaskRequest};
pub use config::Config;
pub use server::{serve, Gateway, Task, STARTUP_TARGET};
pub use store::{MemoryStore, TaskStore};

/// The route of every task request, as `http.route` and the `route` label
/// name it.
pub const TASK_ROUTE: &str = "/v1/tasks/{id}";

/// The route `/metrics` answers on.
pub const METRICS_ROUTE: &str = "/metrics";
