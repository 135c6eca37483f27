//! The proxy's, the upstream's and the client's metrics, on OpenTelemetry
//! metrics, modelled on Shadowcat's plan (`mcp.connections.*`,
//! `mcp.sessions.*`, `mcp.request.*`, interceptor errors). Each node
//! incarnation builds its own `SdkMeterProvider` through
//! `obsim::adapters::OpenTelemetryMetrics` (never the global one: a restart
//! is a new process, and several seeds run in one test process), whose
//! reader is the `opentelemetry-prometheus` exporter into a private
//! registry that obsim scrapes.
//!
//! The exporter makes the Prometheus names: dots become underscores, a
//! monotonic counter gets `_total`, and a unit becomes a suffix (`s` gives
//! `_seconds`, `By` gives `_bytes`; an annotation such as `{request}` gives
//! none). So the instruments are named without those suffixes
//! (`mcp.proxy.connections`, never `mcp.proxy.connections.total`, which
//! would export `mcp_proxy_connections_total_total`). Every series also
//! carries `otel_scope_name` (the meter), and each node exports
//! `target_info`.
//!
//! | exported name | instrument | labels |
//! |---|---|---|
//! | `mcp_proxy_connections_total` | counter | `side` (`client`, `upstream`) |
//! | `mcp_proxy_connections_closed_total` | counter | `side`, `reason` |
//! | `mcp_proxy_connections_active` | up-down counter | `side` |
//! | `mcp_proxy_sessions_created_total` | counter | |
//! | `mcp_proxy_sessions_closed_total` | counter | `reason` (`client`, `evicted`) |
//! | `mcp_proxy_sessions_evicted_total` | counter | |
//! | `mcp_proxy_sessions_active` | up-down counter | |
//! | `mcp_proxy_requests_total` | counter | `method`, `status` |
//! | `mcp_proxy_request_duration_seconds` | histogram | `method`, `status` |
//! | `mcp_proxy_request_size_bytes` | histogram | `method` |
//! | `mcp_proxy_response_size_bytes` | histogram | `method` |
//! | `mcp_proxy_interceptor_errors_total` | counter | `interceptor` |
//! | `mcp_proxy_upstream_errors_total` | counter | `reason` |
//! | `mcp_upstream_connections_total` | counter | |
//! | `mcp_upstream_connections_closed_total` | counter | `reason` |
//! | `mcp_upstream_connections_active` | up-down counter | |
//! | `mcp_upstream_requests_total` | counter | `method`, `status` |
//! | `mcp_upstream_request_duration_seconds` | histogram | `method` |
//! | `mcp_client_requests_total` | counter | `method`, `outcome` |
//! | `mcp_client_late_responses_total` | counter | `method`, `status` |
//! | `mcp_client_request_duration_seconds` | histogram | `method` |
//!
//! Every label is bounded: `method` is `initialize`, `ping`, `tools/call` or
//! `other`; `status` `ok` or `error`; `outcome` `ok`, `error` or `timeout`;
//! `side`, `reason` and `interceptor` are fixed words. Never a session id.

use obsim::deps::opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use obsim::deps::opentelemetry::KeyValue;
use obsim::Contract;

/// Bucket bounds in seconds, from 1 ms (one network hop) to 5 s (far past
/// any deadline here).
const DURATION_BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Bucket bounds in bytes, from a ping to past the size-limit interceptor.
const SIZE_BUCKETS_BYTES: [f64; 8] = [64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

fn counter(
    meter: &Meter,
    name: &'static str,
    unit: &'static str,
    help: &'static str,
) -> Counter<u64> {
    meter
        .u64_counter(name)
        .with_unit(unit)
        .with_description(help)
        .build()
}

fn up_down(
    meter: &Meter,
    name: &'static str,
    unit: &'static str,
    help: &'static str,
) -> UpDownCounter<i64> {
    meter
        .i64_up_down_counter(name)
        .with_unit(unit)
        .with_description(help)
        .build()
}

fn seconds(meter: &Meter, name: &'static str, help: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(help)
        .with_boundaries(DURATION_BUCKETS_SECONDS.to_vec())
        .build()
}

fn bytes(meter: &Meter, name: &'static str, help: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("By")
        .with_description(help)
        .with_boundaries(SIZE_BUCKETS_BYTES.to_vec())
        .build()
}

/// The connection sides the proxy counts.
pub(crate) const SIDE_CLIENT: &str = "client";
pub(crate) const SIDE_UPSTREAM: &str = "upstream";

/// One proxy incarnation's instruments.
pub(crate) struct ProxyMetrics {
    pub connections: Counter<u64>,
    pub connections_closed: Counter<u64>,
    pub connections_active: UpDownCounter<i64>,
    pub sessions_created: Counter<u64>,
    pub sessions_closed: Counter<u64>,
    pub sessions_evicted: Counter<u64>,
    pub sessions_active: UpDownCounter<i64>,
    pub requests: Counter<u64>,
    pub request_duration: Histogram<f64>,
    pub request_size: Histogram<u64>,
    pub response_size: Histogram<u64>,
    pub interceptor_errors: Counter<u64>,
    pub upstream_errors: Counter<u64>,
}

impl ProxyMetrics {
    pub(crate) fn new(meter: &Meter) -> ProxyMetrics {
        let metrics = ProxyMetrics {
            connections: counter(
                meter,
                "mcp.proxy.connections",
                "{connection}",
                "Connections opened: accepted from clients, made to the upstream",
            ),
            connections_closed: counter(
                meter,
                "mcp.proxy.connections.closed",
                "{connection}",
                "Connections closed, by side and reason",
            ),
            connections_active: up_down(
                meter,
                "mcp.proxy.connections.active",
                "{connection}",
                "Connections open now, by side",
            ),
            sessions_created: counter(
                meter,
                "mcp.proxy.sessions.created",
                "{session}",
                "MCP sessions created by a successful initialize",
            ),
            sessions_closed: counter(
                meter,
                "mcp.proxy.sessions.closed",
                "{session}",
                "MCP sessions ended, by reason (client: its connection closed; evicted: idle)",
            ),
            sessions_evicted: counter(
                meter,
                "mcp.proxy.sessions.evicted",
                "{session}",
                "MCP sessions evicted after missing their heartbeats",
            ),
            sessions_active: up_down(
                meter,
                "mcp.proxy.sessions.active",
                "{session}",
                "MCP sessions held now",
            ),
            requests: counter(
                meter,
                "mcp.proxy.requests",
                "{request}",
                "Requests answered, by method and status",
            ),
            request_duration: seconds(
                meter,
                "mcp.proxy.request.duration",
                "Time from reading a request to writing its answer",
            ),
            request_size: bytes(
                meter,
                "mcp.proxy.request.size",
                "Size of each request line read from a client",
            ),
            response_size: bytes(
                meter,
                "mcp.proxy.response.size",
                "Size of each response line written to a client",
            ),
            interceptor_errors: counter(
                meter,
                "mcp.proxy.interceptor.errors",
                "{error}",
                "Requests an interceptor refused, by interceptor",
            ),
            upstream_errors: counter(
                meter,
                "mcp.proxy.upstream.errors",
                "{error}",
                "Requests the upstream failed, by reason",
            ),
        };
        // Series that exist from boot, at zero, as Prometheus advises: a
        // dashboard (and an expectation) can read them before the first
        // event.
        for side in [SIDE_CLIENT, SIDE_UPSTREAM] {
            let side = [KeyValue::new("side", side)];
            metrics.connections.add(0, &side);
            metrics.connections_active.add(0, &side);
        }
        metrics.sessions_created.add(0, &[]);
        metrics.sessions_evicted.add(0, &[]);
        metrics.sessions_active.add(0, &[]);
        for interceptor in INTERCEPTORS {
            let labels = [KeyValue::new("interceptor", interceptor)];
            metrics.interceptor_errors.add(0, &labels);
        }
        for reason in UPSTREAM_ERROR_REASONS {
            let labels = [KeyValue::new("reason", reason)];
            metrics.upstream_errors.add(0, &labels);
        }
        metrics
    }
}

/// The proxy's interceptors, in the order a request meets them.
pub(crate) const INTERCEPTORS: [&str; 4] = ["protocol", "method_filter", "session", "size_limit"];
/// Why the upstream failed a request.
pub(crate) const UPSTREAM_ERROR_REASONS: [&str; 4] =
    ["connect_failed", "timeout", "connection_lost", "rpc_error"];

/// One upstream incarnation's instruments.
pub(crate) struct UpstreamMetrics {
    pub connections: Counter<u64>,
    pub connections_closed: Counter<u64>,
    pub connections_active: UpDownCounter<i64>,
    pub requests: Counter<u64>,
    pub request_duration: Histogram<f64>,
}

impl UpstreamMetrics {
    pub(crate) fn new(meter: &Meter) -> UpstreamMetrics {
        let metrics = UpstreamMetrics {
            connections: counter(
                meter,
                "mcp.upstream.connections",
                "{connection}",
                "Connections accepted from the proxy",
            ),
            connections_closed: counter(
                meter,
                "mcp.upstream.connections.closed",
                "{connection}",
                "Connections closed, by reason",
            ),
            connections_active: up_down(
                meter,
                "mcp.upstream.connections.active",
                "{connection}",
                "Connections open now",
            ),
            requests: counter(
                meter,
                "mcp.upstream.requests",
                "{request}",
                "Requests answered, by method and status",
            ),
            request_duration: seconds(
                meter,
                "mcp.upstream.request.duration",
                "Time from reading a request to writing its answer",
            ),
        };
        metrics.connections.add(0, &[]);
        metrics.connections_active.add(0, &[]);
        metrics
    }
}

/// The client's instruments.
pub(crate) struct ClientMetrics {
    pub requests: Counter<u64>,
    pub late_responses: Counter<u64>,
    pub request_duration: Histogram<f64>,
}

impl ClientMetrics {
    pub(crate) fn new(meter: &Meter) -> ClientMetrics {
        ClientMetrics {
            requests: counter(
                meter,
                "mcp.client.requests",
                "{request}",
                "Requests finished, by method and outcome (ok, error, timeout)",
            ),
            late_responses: counter(
                meter,
                "mcp.client.late.responses",
                "{response}",
                "Answers that came after their request timed out, by method and status",
            ),
            request_duration: seconds(
                meter,
                "mcp.client.request.duration",
                "Time from sending a request to its outcome, as the client saw it",
            ),
        }
    }
}

/// The client's ledger: what it did and saw, recorded through obsim's own
/// channel as ground truth: one outcome per request
/// (`ClientContext::record_outcome`, read as `outcomes.<status>`) and running
/// totals (`ClientContext::record_amount`, read as `amounts.<name>`). A
/// socket cannot tell obsim what a message meant, so the client says it.
pub(crate) mod ledger {
    /// One per request, by how it ended for the client.
    pub const OK: &str = "ok";
    pub const ERROR: &str = "error";
    pub const TIMEOUT: &str = "timeout";
    /// Answers to timed-out requests that still came, by their status.
    pub const LATE_OK: &str = "late_ok";
    pub const LATE_ERROR: &str = "late_error";
    /// Bytes of every request line sent (newline excluded).
    pub const REQUEST_BYTES: &str = "request_bytes";
    /// Bytes of every response line read, in time or late.
    pub const RESPONSE_BYTES: &str = "response_bytes";
    pub const CONNECTIONS_OPENED: &str = "connections_opened";
    /// Sessions the proxy handed this client an id for (in time or late).
    pub const SESSIONS_INITIALIZED: &str = "sessions_initialized";
    /// Sessions the client closed itself.
    pub const SESSIONS_CLOSED: &str = "sessions_closed";
    /// Sessions the client stopped using without closing them.
    pub const SESSIONS_ABANDONED: &str = "sessions_abandoned";
    /// `tools/call` requests sent past the size-limit interceptor's bound.
    pub const REQUESTS_OVERSIZED: &str = "requests_oversized";
    /// `tools/call` requests that succeeded right after one of the same
    /// session failed: the session saw the proxy recover.
    pub const RECOVERIES: &str = "recoveries";
    /// Sessions whose connection the proxy refused.
    pub const CONNECTIONS_REFUSED: &str = "connections_refused";

    /// Every running total above (all but the three outcomes), declared at
    /// zero when the client starts: `amounts.<name>` of one never recorded
    /// is an error, so a rule can tell "none happened" from a typo.
    pub const AMOUNTS: [&str; 11] = [
        LATE_OK,
        LATE_ERROR,
        REQUEST_BYTES,
        RESPONSE_BYTES,
        CONNECTIONS_OPENED,
        SESSIONS_INITIALIZED,
        SESSIONS_CLOSED,
        SESSIONS_ABANDONED,
        REQUESTS_OVERSIZED,
        RECOVERIES,
        CONNECTIONS_REFUSED,
    ];
}

/// What each counter means in the client's ledger, summed over every node
/// incarnation. The relations are the proxy's own: it answers every request
/// it reads exactly once (the client reads every answer, waiting for late
/// ones before it closes a session); it fails a request only through an
/// interceptor or the upstream; it sizes every request and every answer;
/// every client connection ends closed, by the client or by an eviction.
///
/// They assume the proxy itself (server-0) stays up and reachable from the
/// client: the scenarios aim their faults at the upstream and at the link
/// between the proxy and the upstream.
pub const ACCURACY_RULES: [&str; 21] = [
    r#"final(mcp_proxy_requests_total{status="ok"}) == outcomes.ok + amounts.late_ok"#,
    r#"final(mcp_proxy_requests_total{status="error"}) == outcomes.error + amounts.late_error"#,
    "final(mcp_proxy_interceptor_errors_total) + final(mcp_proxy_upstream_errors_total) == outcomes.error + amounts.late_error",
    r#"final(mcp_proxy_interceptor_errors_total{interceptor="size_limit"}) == amounts.requests_oversized"#,
    "final(mcp_proxy_request_size_bytes_count) == outcomes.ok + outcomes.error + outcomes.timeout",
    "final(mcp_proxy_request_size_bytes_sum) == amounts.request_bytes",
    "final(mcp_proxy_response_size_bytes_count) == outcomes.ok + outcomes.error + amounts.late_ok + amounts.late_error",
    "final(mcp_proxy_response_size_bytes_sum) == amounts.response_bytes",
    r#"final(mcp_proxy_connections_total{side="client"}) == amounts.connections_opened"#,
    r#"final(mcp_proxy_connections_closed_total{side="client"}) == amounts.connections_opened"#,
    "final(mcp_proxy_sessions_created_total) == amounts.sessions_initialized",
    r#"final(mcp_proxy_sessions_closed_total{reason="client"}) == amounts.sessions_closed"#,
    r#"final(mcp_proxy_sessions_closed_total{reason="evicted"}) == amounts.sessions_abandoned"#,
    "final(mcp_proxy_sessions_evicted_total) == amounts.sessions_abandoned",
    r#"final(mcp_client_requests_total{outcome="ok"}) == outcomes.ok"#,
    r#"final(mcp_client_requests_total{outcome="error"}) == outcomes.error"#,
    r#"final(mcp_client_requests_total{outcome="timeout"}) == outcomes.timeout"#,
    r#"final(mcp_client_late_responses_total{status="ok"}) == amounts.late_ok"#,
    r#"final(mcp_client_late_responses_total{status="error"}) == amounts.late_error"#,
    "final(mcp_client_request_duration_seconds_count) == outcomes.ok + outcomes.error + outcomes.timeout",
    "final(mcp_proxy_request_duration_seconds_count) == outcomes.ok + outcomes.error + amounts.late_ok + amounts.late_error",
];

/// The proxy's telemetry contract: every counter tied to the client's
/// ledger or said why not, the gauges balanced by the counters that move
/// them.
///
/// No `request_span`: the ledger holds amounts (`request_bytes`) and
/// session events besides the per-request outcomes, and obsim's
/// request-span checks read every outcome as one call. The scenarios state
/// the same invariant in the expectation language instead
/// (`spans.roots{name="mcp.request"} == outcomes.ok + outcomes.error + outcomes.timeout`).
pub fn contract() -> Contract {
    let contract = ACCURACY_RULES
        .iter()
        .fold(Contract::new(), |contract, rule| contract.accurate(rule));
    contract
        // One per request; everything else the client knows is an amount.
        .outcomes([ledger::OK, ledger::ERROR, ledger::TIMEOUT])
        // server-0 is the proxy and server-1 the upstream.
        .servers(2..=2)
        // The workload's operations are the upstream's tools.
        .operations(crate::upstream::TOOLS)
        .unchecked("mcp_proxy_request_duration_seconds", "JSON-RPC over madsim TCP: obsim records request timings only on its own network (Network::call and accept), so nothing can place its buckets")
        .unchecked("mcp_upstream_request_duration_seconds", "JSON-RPC over madsim TCP: obsim records request timings only on its own network (Network::call and accept), so nothing can place its buckets")
        .unchecked("mcp_client_request_duration_seconds", "JSON-RPC over madsim TCP: obsim records request timings only on its own network (Network::call and accept), so nothing can place its buckets")
        .unchecked(
            "mcp_proxy_request_size_bytes",
            "its _sum and _count are tied to the client's amounts by accuracy rules; a single \
             request's size has no harness-side record to place in a bucket",
        )
        .unchecked(
            "mcp_proxy_response_size_bytes",
            "as mcp_proxy_request_size_bytes",
        )
        .request_span("mcp.request")
        // Start-up lines belong to no request.
        .background_logs(crate::spans::STARTUP_TARGET)
        .unchecked(
            "mcp_upstream_requests_total",
            "the upstream's only caller is the proxy, itself under test: no harness-side record. \
             Scenarios compare it with the proxy's own counts",
        )
        .unchecked(
            "mcp_upstream_connections_total",
            "connections from the proxy, which has no harness-side record; gauge_consistency \
             balances it against mcp_upstream_connections_active",
        )
        .unchecked(
            "mcp_upstream_connections_closed_total",
            "as mcp_upstream_connections_total",
        )
        .balance(
            "mcp_proxy_connections_active",
            "mcp_proxy_connections_total",
            "mcp_proxy_connections_closed_total",
        )
        .balance(
            "mcp_proxy_sessions_active",
            "mcp_proxy_sessions_created_total",
            "mcp_proxy_sessions_closed_total",
        )
        .balance(
            "mcp_upstream_connections_active",
            "mcp_upstream_connections_total",
            "mcp_upstream_connections_closed_total",
        )
}
