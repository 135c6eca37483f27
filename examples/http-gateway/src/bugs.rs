//! Planted instrumentation bugs, each a realistic one-line-ish mistake, all
//! off by default. The settings' `bugs` table turns one on (the files under
//! `bugs/` each do), to show which test catches it. The crate README lists
//! which check catches each one.

use serde::Deserialize;

/// The bug switches. Every field defaults to `false`: the gateway is
/// correct unless a switch says otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bugs {
    /// The server observes `elapsed.as_millis() as f64` into
    /// `http_server_request_duration_seconds`, whose unit says seconds: a
    /// 3 ms request lands in the 2.5-5 s buckets.
    pub request_milliseconds_as_seconds: bool,
    /// The client increments `gateway_client_requests_total` once per
    /// attempt, not once per logical request: every retry counts as one
    /// more request (it is `gateway_client_attempts_total` that counts
    /// attempts).
    pub client_counts_per_attempt: bool,
    /// A 5xx response is counted in `gateway_requests_total{status="ok"}`:
    /// the status is derived from "did the handler return a response", not
    /// from the response's status code.
    pub error_counted_as_ok: bool,
    /// The error path (a store failure, answered 5xx) returns before
    /// `http_server_active_requests` is decremented, as an early `return`
    /// ahead of a manual `decrement` would: the gauge climbs by one with
    /// every failed request and never comes back.
    pub active_requests_leak_on_error: bool,
    /// Every retry sends the FIRST attempt's `traceparent` instead of its own
    /// attempt span's: the server work of a retry hangs under the first
    /// attempt's client span, which had already ended in error.
    pub retry_reuses_first_context: bool,
    /// The server span is entered only while the handler's future is built
    /// (`span.in_scope(|| next.run(request))`), not while it runs: the span
    /// ends (its last exit) before the store call is awaited, while the
    /// duration histogram still times the whole request. The store span
    /// stays its child (the handler names its parent explicitly), so the
    /// trace is whole; only the server span's interval is wrong.
    pub server_span_ends_before_store: bool,
    /// `GET /metrics` answers with `Content-Type: application/json` instead
    /// of the Prometheus text format's `text/plain; version=0.0.4`: a
    /// Prometheus 3 server refuses the scrape (and an older one guesses).
    pub metrics_route_wrong_content_type: bool,
}

impl Bugs {
    /// Every switch's name, as its field and its file under `bugs/` name it.
    pub const NAMES: [&'static str; 7] = [
        "request_milliseconds_as_seconds",
        "client_counts_per_attempt",
        "error_counted_as_ok",
        "active_requests_leak_on_error",
        "retry_reuses_first_context",
        "server_span_ends_before_store",
        "metrics_route_wrong_content_type",
    ];

    /// The names of the switches that are on, in [`Bugs::NAMES`] order.
    pub fn on(&self) -> Vec<&'static str> {
        let flags = [
            self.request_milliseconds_as_seconds,
            self.client_counts_per_attempt,
            self.error_counted_as_ok,
            self.active_requests_leak_on_error,
            self.retry_reuses_first_context,
            self.server_span_ends_before_store,
            self.metrics_route_wrong_content_type,
        ];
        let named = Bugs::NAMES.iter().zip(flags);
        named.filter(|(_, on)| *on).map(|(name, _)| *name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Bugs;

    #[test]
    fn every_switch_is_off_by_default_and_each_reads_by_its_name() {
        assert_eq!(Bugs::default(), serde_json::from_str("{}").unwrap());
        for name in Bugs::NAMES {
            let bugs: Bugs = serde_json::from_str(&format!("{{\"{name}\": true}}")).unwrap();
            assert_ne!(bugs, Bugs::default(), "{name}");
        }
        assert!(serde_json::from_str::<Bugs>("{\"no_such_bug\": true}").is_err());
    }
}
