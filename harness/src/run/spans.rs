//! Spans as a run records them: each exported span with where it ran, and
//! the spans tracing saw opened and closed.

use std::sync::Arc;
use std::time::Duration;

/// An exported span, with times in nanoseconds since the run's start.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct SpanRecord {
    pub trace_id: super::TraceId,
    pub span_id: super::SpanId,
    pub parent_span_id: Option<super::SpanId>,
    pub name: String,
    pub kind: String,
    /// The node and incarnation it started on, and whether a crash ended it.
    pub origin: SpanOrigin,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status: SpanStatus,
    /// Sorted by key. Shared: a run holds each distinct key and value once.
    pub attributes: Vec<(Arc<str>, Arc<str>)>,
    pub events: Vec<SpanEventRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpanStatus {
    Unset,
    Ok,
    Error(String),
}

impl SpanStatus {
    /// `unset`, `ok` or `error`, without the description.
    pub fn code(&self) -> &'static str {
        match self {
            SpanStatus::Unset => "unset",
            SpanStatus::Ok => "ok",
            SpanStatus::Error(_) => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Hash)]
pub struct SpanEventRecord {
    pub name: String,
    pub at_ns: i64,
    pub attributes: Vec<(Arc<str>, Arc<str>)>,
}

impl SpanRecord {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// Where an exported span ran: the node and incarnation it started on. (A
/// span still open when its incarnation crashed is not exported: see
/// [`LostSpan`].)
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SpanOrigin {
    pub node: Option<String>,
    pub incarnation: Option<u32>,
}

/// A span that was opened and, at the moment of reading, not yet closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSpan {
    pub name: String,
    pub node: String,
    /// Simulated time since the run started.
    pub opened_at: Duration,
}

/// Counts of spans opened and closed, the spans still open, and the spans a
/// crash lost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanLifecycle {
    pub opened: u64,
    pub closed: u64,
    pub open: Vec<OpenSpan>,
    /// Spans that ended after their node incarnation went down, in the
    /// order they ended. A killed process exports none of its in-flight
    /// spans, so these are not among the run's exported spans.
    pub lost: Vec<LostSpan>,
}

/// A span a crash lost: it was still open when its node incarnation went
/// down (a crash drops the work, and dropping it is what ended the span). The
/// real SDK in a killed process never exports such a span, so obsim does not
/// either. It is kept here so that a child exported before the crash names a
/// parent known to be lost, not missing, and so the report can count it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostSpan {
    pub trace_id: super::TraceId,
    pub span_id: super::SpanId,
    pub parent_span_id: Option<super::SpanId>,
    pub name: String,
    /// `client`, `server`, `internal`, `producer` or `consumer`.
    pub kind: String,
    pub node: String,
    pub incarnation: u32,
    /// Simulated nanoseconds since the run started.
    pub start_ns: i64,
}

/// A run's spans folded into their count and a 128-bit hash of every field
/// of every span, in order: what the determinism check compares when the
/// second run of a seed keeps no span (it would double a seed's peak
/// memory). Two runs whose spans differ in anything get different digests,
/// but for a collision of two 64-bit hashes at once; a difference found is
/// then shown from a third run kept in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanDigest {
    spans: u64,
    hash: [u64; 2],
}

/// Builds a [`SpanDigest`] one span at a time, as they end.
pub(crate) struct SpanDigester {
    spans: u64,
    hashers: [std::collections::hash_map::DefaultHasher; 2],
}

impl SpanDigester {
    pub(crate) fn new() -> SpanDigester {
        use std::hash::Hasher as _;
        let mut second = std::collections::hash_map::DefaultHasher::new();
        // Two different functions of the same spans: the second starts from
        // another state. `DefaultHasher::new` has fixed keys, so a digest
        // is the same for the same spans in one process (both runs of a
        // seed are in one process).
        second.write_u64(0x9e37_79b9_7f4a_7c15);
        SpanDigester {
            spans: 0,
            hashers: [std::collections::hash_map::DefaultHasher::new(), second],
        }
    }

    pub(crate) fn add(&mut self, span: &SpanRecord) {
        use std::hash::Hash as _;
        self.spans += 1;
        for hasher in &mut self.hashers {
            span.hash(hasher);
        }
    }

    pub(crate) fn finish(&self) -> SpanDigest {
        use std::hash::Hasher as _;
        SpanDigest {
            spans: self.spans,
            hash: [self.hashers[0].finish(), self.hashers[1].finish()],
        }
    }
}

/// The digest of spans a run kept.
pub(crate) fn digest(spans: &[SpanRecord]) -> SpanDigest {
    let mut digester = SpanDigester::new();
    spans.iter().for_each(|span| digester.add(span));
    digester.finish()
}

/// A span kind as records and messages name it.
pub(crate) fn span_kind_name(kind: &opentelemetry::trace::SpanKind) -> &'static str {
    use opentelemetry::trace::SpanKind;
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}
