//! server-0: the MCP proxy. It accepts client connections, runs each
//! request through its interceptor chain, creates a session on
//! `initialize` (with an upstream session of its own behind it), answers
//! `ping` itself (the session's heartbeat), forwards `tools/call` upstream,
//! and evicts sessions whose heartbeats stopped.
//!
//! **One upstream connection per session**, not a pool: an MCP server is
//! stateful per connection (its own `initialize`, its own session), so each
//! client session gets its own upstream session, as Shadowcat's forward
//! proxy does. A shared pool would mix sessions' state upstream. The price
//! is one upstream connection per live session, bounded by `sessions_max`.
//!
//! An upstream connection that misses a deadline is presumed dead and
//! closed; the next request of its session reconnects (a bounded number of
//! tries) and replays the client's `initialize` upstream first.

mod connection;
mod forward;
mod intercept;
mod request;
mod session;

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use obsim::adapters::OpenTelemetryMetrics;
use obsim::deps::madsim;
use obsim::deps::madsim::net::TcpListener;
use obsim::NodeContext;

use crate::metrics::ProxyMetrics;
use crate::system::UPSTREAM_INDEX;
use crate::McpProxyConfig;
use connection::client_connection;
use session::{sweep, SessionTable};

pub(crate) async fn serve(node: NodeContext, config: Arc<McpProxyConfig>) {
    // This incarnation's own meter provider, as a new process would build
    // it: a restart starts every metric from zero.
    let telemetry = OpenTelemetryMetrics::new("mcp-proxy");
    node.serve_metrics(telemetry.clone());
    let metrics = ProxyMetrics::new(&telemetry.meter("mcp-proxy"));
    // madsim keys sockets by address and protocol: obsim's typed endpoint
    // on this address is UDP-like, so TCP can listen on the same one.
    let listener = TcpListener::bind(node.addr)
        .await
        .unwrap_or_else(|error| panic!("the proxy cannot listen on {}: {error}", node.addr));
    obsim::deps::tracing::info!(
        target: crate::spans::STARTUP_TARGET,
        node = %node.name,
        incarnation = node.incarnation,
        addr = %node.addr,
        "proxy listening"
    );
    let proxy = Arc::new(Proxy {
        config,
        metrics,
        upstream: node.servers[UPSTREAM_INDEX],
        incarnation: node.incarnation,
        table: Mutex::new(SessionTable::default()),
        client_connections: AtomicUsize::new(0),
    });
    madsim::task::spawn(sweep(proxy.clone()));
    // Runs for the life of this incarnation: a crash drops it.
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            return;
        };
        madsim::task::spawn(client_connection(proxy.clone(), stream, peer));
    }
}

struct Proxy {
    config: Arc<McpProxyConfig>,
    metrics: ProxyMetrics,
    upstream: SocketAddr,
    incarnation: u32,
    table: Mutex<SessionTable>,
    client_connections: AtomicUsize,
}
