//! W3C trace context in HTTP headers (`traceparent`, `tracestate`), with
//! OpenTelemetry's own propagator: the client injects its attempt span's
//! context, the server continues it.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads propagation fields from request headers.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into request headers.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = HeaderName::from_bytes(key.as_bytes());
        let value = HeaderValue::from_str(&value);
        if let (Ok(name), Ok(value)) = (name, value) {
            self.0.insert(name, value);
        }
    }
}

/// `span`'s trace context as headers to send (empty when it has none).
pub(crate) fn headers_of(span: &Span) -> HeaderMap {
    let mut headers = HeaderMap::new();
    TraceContextPropagator::new()
        .inject_context(&span.context(), &mut HeaderInjector(&mut headers));
    headers
}

/// Makes `span` a child of the remote span the request's headers name.
/// Call it before `span` is first entered: OpenTelemetry fixes a span's
/// parent then. Without (valid) headers the span keeps its own parent.
pub(crate) fn continue_trace(span: &Span, headers: &HeaderMap) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(context);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_reads_what_injection_writes() {
        let mut headers = HeaderMap::new();
        let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        headers.insert("traceparent", HeaderValue::from_static(traceparent));
        let context = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        let mut out = HeaderMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(&mut out));
        assert_eq!(out.get("traceparent").unwrap(), traceparent);
    }

    #[test]
    fn a_span_without_a_subscriber_sends_no_context() {
        assert!(headers_of(&Span::none()).get("traceparent").is_none());
    }
}
