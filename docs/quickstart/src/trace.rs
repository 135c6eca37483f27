//! W3C trace context across the TCP hop, as `traceparent` on the request
//! line: the client's span and the server work it causes are one trace.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `span`'s trace context as a `traceparent` value (`-` when it has none).
pub(crate) fn traceparent(span: &Span) -> String {
    let mut headers: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
    headers.remove("traceparent").unwrap_or_else(|| "-".into())
}

/// Makes `span` a child of the remote span `traceparent` names. Call it
/// before `span` is first entered: OpenTelemetry fixes a span's parent then.
pub(crate) fn set_parent(span: &Span, traceparent: &str) {
    let headers = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let _ = span.set_parent(TraceContextPropagator::new().extract(&headers));
}
