//! Span helpers every instrumented service needs under obsim.
//!
//! Span helpers: trace context across the network ([`TraceHeaders`]) and
//! spans that end in error when their work is dropped ([`CancelGuard`],
//! [`SpanFutureExt::in_span`]).
//!
//! No check requires the cancel helpers. A node crash loses the spans still
//! open on it, as a killed process would; what `span_completion` checks is
//! that the client's span of an attempt the crash cut off ends in error. The
//! helpers are for work dropped while its process lives on (a timeout that
//! drops a future, a cancelled task), where a span that ends OK would claim
//! a success.

use std::collections::BTreeMap;
use std::future::Future;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::Status;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::instrument::Instrument;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The status a cut-off span ends with.
pub const CANCELLED: &str = "cancelled: the node stopped before the work finished";

/// Sets error status on a span when dropped while still armed: create it as
/// the work starts, [`CancelGuard::disarm`] it when the work finished
/// normally. A crash drops the guard with the rest of the task.
///
/// For work that is one future, [`SpanFutureExt::in_span`] does the same
/// without a guard to forget.
#[must_use = "a guard dropped at once marks the span cancelled at once"]
pub struct CancelGuard {
    span: Span,
    armed: bool,
}

impl CancelGuard {
    pub fn new(span: &Span) -> CancelGuard {
        CancelGuard {
            span: span.clone(),
            armed: true,
        }
    }

    /// The work finished: leave the span's status to the work.
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            self.span.set_status(Status::error(CANCELLED));
        }
    }
}

impl std::fmt::Debug for CancelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelGuard")
            .field("span", &self.span.metadata().map(|meta| meta.name()))
            .field("armed", &self.armed)
            .finish()
    }
}

/// Runs futures inside a span that ends in error if they are cut off.
pub trait SpanFutureExt: Future + Sized {
    /// As `tracing::Instrument::instrument(span)`, and if the future is
    /// dropped before it completes (its node crashed), `span` ends with
    /// error status [`CANCELLED`].
    fn in_span(self, span: Span) -> impl Future<Output = Self::Output> {
        async move {
            let guard = CancelGuard::new(&span);
            let output = self.instrument(span).await;
            guard.disarm();
            output
        }
    }
}

impl<F: Future> SpanFutureExt for F {}

/// W3C trace-context headers (`traceparent`, `tracestate`) as they travel
/// inside a message, so that a client call and the server work it causes are
/// one trace. obsim's network carries Rust values: put these in your message
/// type where a real protocol would carry HTTP or gRPC headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceHeaders(BTreeMap<String, String>);

impl TraceHeaders {
    /// The trace context of `span`, to send with a request made under it.
    pub fn of(span: &Span) -> TraceHeaders {
        let mut headers = TraceHeaders::default();
        TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
        headers
    }

    /// Makes `span` a child of the remote span these headers came from. Call
    /// it before `span` is first entered: OpenTelemetry fixes a span's parent
    /// then, and a later call does nothing (`trace_integrity` then reports a
    /// server span that started a new trace).
    pub fn set_parent_of(&self, span: &Span) {
        let parent = TraceContextPropagator::new().extract(self);
        let _ = span.set_parent(parent);
    }

    /// One header's value, e.g. `traceparent`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        TraceHeaders::get(self, key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}
