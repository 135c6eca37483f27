//! A third obsim reference system: an MCP proxy modelled on Shadowcat's
//! observability plan, written only against obsim's public API, as a user's
//! crate would be. Its traffic is real bytes on madsim's TCP, not obsim's
//! typed messages: JSON-RPC 2.0, one message per line.
//!
//! - **server-0, the proxy** ([`proxy`](crate::proxy)): accepts client
//!   connections, runs each request through an interceptor chain
//!   (`method_filter`, `session`, `size_limit`), creates a session on
//!   `initialize` (an upstream connection and upstream session behind it, one
//!   per client session), answers `ping` itself (the heartbeat), forwards
//!   `tools/call` upstream, and evicts sessions whose heartbeat stopped.
//! - **server-1, the upstream MCP server**: stateful per connection, with
//!   the tools `echo` and `count`, and a slow window a scenario can open.
//! - **The client**: `concurrency` sessions at a time, each `initialize`,
//!   a `ping` heartbeat, `session_calls` `tools/call` requests (the
//!   workload's operations are tool names), then a close, or, for some, an
//!   abandonment the proxy must evict. It records what it did and saw as
//!   obsim's ground truth ([`metrics::ledger`]).
//! - **Trace context** travels in every request's `params._meta`
//!   (`traceparent`, `tracestate`) on both hops, client to proxy and proxy
//!   to upstream, as OpenTelemetry's MCP conventions say.
//! - **Telemetry**: OpenTelemetry metrics through
//!   `obsim::adapters::OpenTelemetryMetrics` (see [`metrics`] for the names
//!   as exported and the contract), spans after the MCP conventions.
//! - **Bug switches** ([`Bug`]) plant realistic instrumentation bugs, one
//!   check each.

mod bugs;
mod client;
mod jsonrpc;
pub mod metrics;
mod proxy;
mod rpc;
mod spans;
mod system;
mod upstream;

pub use bugs::Bug;
pub use system::{McpProxy, McpProxyConfig, Settings};
pub use upstream::TOOLS;
