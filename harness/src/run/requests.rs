//! Requests and calls as the harness's own network carried them: ground
//! truth for request counters, request and call duration histograms, and
//! which span handled which attempt. `Network::call` and `Network::accept`
//! record them; the system's telemetry never does.

use std::sync::Arc;
use std::time::Duration;

/// The span that was current at an instant, by its exported ids: which span
/// sent an attempt, which span replied to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpanRef {
    pub trace_id: super::TraceId,
    pub span_id: super::SpanId,
}

/// One request a server received, from the moment the system accepted it
/// to the moment it replied. A request cut off by a crash, or dropped
/// without a reply, has no reply time and no status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// `server-<n>`.
    pub node: Arc<str>,
    pub incarnation: u32,
    /// The method the caller named (`Invoke`, `tools/call`).
    pub method: Arc<str>,
    /// The workload operation of the call it belongs to (`get`).
    pub operation: Arc<str>,
    /// The call and attempt that sent it; a duplicated message is received
    /// twice, so two records can share them.
    pub call: u64,
    pub attempt: u32,
    /// Simulated time since the run started.
    pub received_at: Duration,
    pub replied_at: Option<Duration>,
    /// What the reply said (`ok`, `error`, or the reply type's own word).
    pub status: Option<Arc<str>>,
    /// The span current when the reply was sent: the server work for it.
    pub span: Option<SpanRef>,
}

impl RequestRecord {
    /// Receipt to reply, None if it was never answered.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.replied_at?.saturating_sub(self.received_at))
    }
}

/// One call a node made: its attempts, from the first attempt's start to the
/// outcome the caller gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Unique in the run; requests name it.
    pub id: u64,
    /// The calling node (`client`, or a server calling another).
    pub node: Arc<str>,
    pub incarnation: u32,
    /// The workload operation (`get`, `increment`).
    pub operation: Arc<str>,
    pub started_at: Duration,
    /// None if the call was never finished (a crash dropped it).
    pub ended_at: Option<Duration>,
    /// What the caller said it came to (`ok`, `error`, `timeout`).
    pub outcome: Option<Arc<str>>,
    pub attempts: Vec<AttemptRecord>,
}

impl CallRecord {
    /// First attempt to outcome, retries and backoff included.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.ended_at?.saturating_sub(self.started_at))
    }
}

/// One attempt of a call: one request sent, and its reply or its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// 0 for the first attempt.
    pub number: u32,
    pub method: Arc<str>,
    /// The node it was sent to.
    pub server: Arc<str>,
    pub started_at: Duration,
    /// None if the attempt never ended (a crash dropped it).
    pub ended_at: Option<Duration>,
    /// The reply's status, or `timeout` or `network_error`; None if it
    /// never ended.
    pub outcome: Option<Arc<str>>,
    /// The span current when the attempt was sent: the server work it
    /// reached must be under it.
    pub span: Option<SpanRef>,
}

/// Attempt outcome when no reply came within the attempt's timeout.
pub const TIMEOUT: &str = "timeout";
/// Attempt outcome when the network refused the send.
pub const NETWORK_ERROR: &str = "network_error";
