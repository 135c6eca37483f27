//! Trace and span ids as numbers: 24 bytes for a span's three ids instead
//! of three heap strings. They print, order and compare as the lowercase
//! hex that W3C trace context and OTLP JSON carry, so reports read the same.

use std::fmt;

/// A span's trace id: 16 bytes, printed as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TraceId(pub u128);

/// A span's id: 8 bytes, printed as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpanId(pub u64);

// Numeric order is the order of the fixed-width hex: a sort by id is the
// same sort it was when ids were text.
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

// Debug as hex too: a failed assertion shows the id a person can search
// the exported spans for.
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<opentelemetry::trace::TraceId> for TraceId {
    fn from(id: opentelemetry::trace::TraceId) -> TraceId {
        TraceId(u128::from_be_bytes(id.to_bytes()))
    }
}

impl From<opentelemetry::trace::SpanId> for SpanId {
    fn from(id: opentelemetry::trace::SpanId) -> SpanId {
        SpanId(u64::from_be_bytes(id.to_bytes()))
    }
}

impl From<TraceId> for opentelemetry::trace::TraceId {
    fn from(id: TraceId) -> opentelemetry::trace::TraceId {
        opentelemetry::trace::TraceId::from_bytes(id.0.to_be_bytes())
    }
}

impl From<SpanId> for opentelemetry::trace::SpanId {
    fn from(id: SpanId) -> opentelemetry::trace::SpanId {
        opentelemetry::trace::SpanId::from_bytes(id.0.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::{SpanId, TraceId};

    #[test]
    fn ids_print_as_the_sdk_prints_them() {
        let trace =
            opentelemetry::trace::TraceId::from(0x0123_4567_89ab_cdef_0011_2233_4455_6677_u128);
        let span = opentelemetry::trace::SpanId::from(0x00ff_10a0_0000_0001_u64);
        assert_eq!(TraceId::from(trace).to_string(), trace.to_string());
        assert_eq!(SpanId::from(span).to_string(), span.to_string());
        assert_eq!(opentelemetry::trace::SpanId::from(SpanId::from(span)), span);
    }

    #[test]
    fn ids_order_as_their_hex_does() {
        let ids = [0x0a_u64, 0x1_0000_0000, 0xff, 0];
        let mut by_number: Vec<SpanId> = ids.iter().map(|&id| SpanId(id)).collect();
        by_number.sort();
        let mut by_text: Vec<String> = ids.iter().map(|&id| SpanId(id).to_string()).collect();
        by_text.sort();
        let printed: Vec<String> = by_number.iter().map(SpanId::to_string).collect();
        assert_eq!(printed, by_text);
    }
}
