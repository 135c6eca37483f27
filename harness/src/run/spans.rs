//! Spans as a run records them: each exported span with where it ran, and
//! the spans tracing saw opened and closed.

use std::time::Duration;

/// An exported span, with times in nanoseconds since the run's start.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: String,
    /// The node and incarnation it started on, and whether a crash ended it.
    pub origin: SpanOrigin,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status: SpanStatus,
    /// Sorted by key.
    pub attributes: Vec<(String, String)>,
    pub events: Vec<SpanEventRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

#[derive(Clone, Debug, PartialEq)]
pub struct SpanEventRecord {
    pub name: String,
    pub at_ns: i64,
    pub attributes: Vec<(String, String)>,
}

impl SpanRecord {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Where an exported span ran: the node and incarnation it started on, and
/// whether it ended only because that incarnation crashed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanOrigin {
    pub node: Option<String>,
    pub incarnation: Option<u32>,
    /// The span ended after its incarnation went down: a crash dropped the
    /// work it covered, and dropping it is what ended the span.
    pub cancelled: bool,
}

/// A span that was opened and, at the moment of reading, not yet closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSpan {
    pub name: String,
    pub node: String,
    /// Simulated time since the run started.
    pub opened_at: Duration,
}

/// Counts of spans opened and closed, and the spans still open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanLifecycle {
    pub opened: u64,
    pub closed: u64,
    pub open: Vec<OpenSpan>,
}
