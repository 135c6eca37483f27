//! The gateway's metrics, through the `metrics` facade, named as Prometheus
//! advises (a base unit last, counters ending in `_total`, bounded labels)
//! and, for the HTTP server ones, after OpenTelemetry's HTTP semantic
//! conventions (`http.server.request.duration` in seconds).
//!
//! Whichever recorder the process installed records them: in production a
//! `metrics-exporter-prometheus` recorder built with [`BUCKETS_SECONDS`],
//! whose `PrometheusHandle` the gateway's `/metrics` route renders.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, Unit};

use crate::TASK_ROUTE;

/// Server: every task request's duration, from the request reaching the
/// route to its response, by method, route and status code.
pub const REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// Server: task requests answered, by route and `status` (`error` for 5xx).
pub const REQUESTS: &str = "gateway_requests_total";
/// Server: task requests in flight, by route.
pub const ACTIVE_REQUESTS: &str = "http_server_active_requests";
/// Server: store operations, by operation and status.
pub const STORE_OPERATIONS: &str = "gateway_store_operations_total";
/// Server: store operation durations, by operation.
pub const STORE_DURATION: &str = "gateway_store_operation_duration_seconds";
/// Client: logical requests (all their attempts), by status.
pub const CLIENT_REQUESTS: &str = "gateway_client_requests_total";
/// Client: attempts, by status (`ok`, `error`, `timeout`).
pub const CLIENT_ATTEMPTS: &str = "gateway_client_attempts_total";
/// Client: logical request durations, retries and backoff included.
pub const CLIENT_REQUEST_DURATION: &str = "gateway_client_request_duration_seconds";

/// Histogram bucket bounds for every duration, in seconds: 1 ms to 5 s.
pub const BUCKETS_SECONDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Describes the server's metrics to the current recorder and creates its
/// counter series at zero, so that a rate over them sees the first error.
/// Call it as the gateway starts, once the process's recorder is in place.
pub fn describe_server() {
    describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Duration of HTTP server requests, by method, route and status code."
    );
    describe_counter!(
        REQUESTS,
        "Task requests answered, by route and status (error: a 5xx answer)."
    );
    describe_gauge!(ACTIVE_REQUESTS, "Task requests in flight now, by route.");
    describe_counter!(
        STORE_OPERATIONS,
        "Task store operations, by operation and status."
    );
    describe_histogram!(
        STORE_DURATION,
        Unit::Seconds,
        "Duration of task store operations, by operation."
    );
    for status in ["ok", "error"] {
        counter!(REQUESTS, "http_route" => TASK_ROUTE, "status" => status).increment(0);
        for operation in ["get", "put"] {
            counter!(STORE_OPERATIONS, "operation" => operation, "status" => status).increment(0);
        }
    }
    gauge!(ACTIVE_REQUESTS, "http_route" => TASK_ROUTE).set(0.0);
}

/// Describes the client's metrics to the current recorder and creates its
/// counter series at zero. Call it as the client is built.
pub fn describe_client() {
    describe_counter!(
        CLIENT_REQUESTS,
        "Logical task requests made, all their attempts together, by status."
    );
    describe_counter!(
        CLIENT_ATTEMPTS,
        "Attempts made, by status (ok, error: a 5xx or a failed connection, timeout)."
    );
    describe_histogram!(
        CLIENT_REQUEST_DURATION,
        Unit::Seconds,
        "Duration of logical task requests, retries and backoff included."
    );
    for status in ["ok", "error"] {
        counter!(CLIENT_REQUESTS, "status" => status).increment(0);
    }
    for status in ["ok", "error", "timeout"] {
        counter!(CLIENT_ATTEMPTS, "status" => status).increment(0);
    }
}
