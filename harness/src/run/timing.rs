//! Histograms a contract ties to the harness's own timings, and how far a
//! service's clock may differ from obsim's for each kind.

use std::time::Duration;

/// A histogram that times what the harness recorded, with the label that
/// tells its series apart (`operation`, `method`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub histogram: String,
    pub label: String,
    pub source: TimingSource,
}

/// Which of the harness's records a [`Timing`] histogram observes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimingSource {
    /// Storage operations, by operation (`get`, `put`, `delete`, or the
    /// system's words for them).
    Storage,
    /// Requests a server answered, receipt to reply, by the workload
    /// operation of the call.
    Requests,
    /// The same, by the method the caller named.
    RequestsByMethod,
    /// Calls a node finished, first attempt to outcome, by operation.
    Calls,
    /// Calls through this dependency's boundary, by operation.
    Dependency(String),
}

/// How far a service's own reading of a request's or call's start may be
/// from obsim's, either way. madsim advances its clock 50 to 100 ns on every
/// task poll, and a handler spawned for a request first runs after every
/// task that was ready before it: its span and its own `Instant` start
/// later than the poll on which obsim recorded the receipt, by up to 100 ns
/// per task polled in between. 100 µs is 1,000 such polls, far more than a
/// request waits for in any reference system, and far less than any unit
/// mistake or span that skips part of the work (a storage operation takes a
/// millisecond or more). It applies to requests and calls, whose start
/// obsim sees on another poll than the service; storage operations and
/// dependency calls are timed on the service's own poll, exactly.
pub const SCHEDULING_SLACK: Duration = Duration::from_micros(100);

impl TimingSource {
    /// How far the service's reading of one such duration may be from
    /// obsim's: [`SCHEDULING_SLACK`] for requests and calls, zero for
    /// storage operations and dependency calls.
    pub fn slack(&self) -> Duration {
        match self {
            TimingSource::Requests | TimingSource::RequestsByMethod | TimingSource::Calls => {
                SCHEDULING_SLACK
            }
            TimingSource::Storage | TimingSource::Dependency(_) => Duration::ZERO,
        }
    }

    /// What it times, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            TimingSource::Storage => "storage operations",
            TimingSource::Requests | TimingSource::RequestsByMethod => "requests answered",
            TimingSource::Calls => "calls finished",
            TimingSource::Dependency(_) => "dependency calls",
        }
    }
}
