//! The harness's own record of what happened, kept through its privileged
//! channel (the storage it simulates, the node lifecycle it drives), never
//! through the system's metrics. Checks compare the telemetry with it.

use std::sync::Arc;
use std::time::Duration;

use obsim_scenario::Fate;

/// One storage operation that completed, as the harness served it. An
/// operation cut off by a crash never completes and is not here: the system
/// never saw its result either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOp {
    /// `server-<n>`.
    pub node: Arc<str>,
    /// The incarnation of `node` the result was returned to.
    pub incarnation: u32,
    /// `get`, `put` or `delete`.
    pub operation: &'static str,
    /// Simulated time since the run started.
    pub started_at: Duration,
    pub ended_at: Duration,
    /// What failed it, None when it succeeded.
    pub failure: Option<Arc<str>>,
    /// The span current as the operation started: its own span, if the
    /// system traced it.
    pub span: Option<super::SpanRef>,
}

impl StorageOp {
    pub fn duration(&self) -> Duration {
        self.ended_at.saturating_sub(self.started_at)
    }
}

// Moved here from sim's world: a `Run` holds it, and run may not reach sim.
/// What happened to the messages of one type, as the network saw them: the
/// ground truth that message counters are compared with. The fields are the
/// fates a scenario's `messages.<fate>` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// Sends the application asked for.
    pub sent: u64,
    /// Messages the application took off the network.
    pub received: u64,
    /// Sends dropped by a packet-loss fault.
    pub lost: u64,
    /// Sends dropped by a partition.
    pub cut: u64,
    /// Extra copies delivered by a duplication fault.
    pub duplicated: u64,
}

impl MessageCounts {
    pub fn count(&self, fate: Fate) -> u64 {
        match fate {
            Fate::Sent => self.sent,
            Fate::Received => self.received,
            Fate::Lost => self.lost,
            Fate::Cut => self.cut,
            Fate::Duplicated => self.duplicated,
        }
    }

    pub(crate) fn count_mut(&mut self, fate: Fate) -> &mut u64 {
        match fate {
            Fate::Sent => &mut self.sent,
            Fate::Received => &mut self.received,
            Fate::Lost => &mut self.lost,
            Fate::Cut => &mut self.cut,
            Fate::Duplicated => &mut self.duplicated,
        }
    }
}

/// One call a server made through a dependency boundary
/// (`NodeContext::dependency`): an object store, a model provider, a file
/// hand-off. A call cut off by a crash never completes and is not here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyCall {
    /// `server-<n>`.
    pub node: String,
    pub incarnation: u32,
    /// The dependency's name, as the system gave it (`s3`, `llm`).
    pub dependency: String,
    /// Its operation (`put`, `complete`).
    pub operation: String,
    /// Simulated time since the run started.
    pub started_at: Duration,
    pub ended_at: Duration,
    /// What failed it (an injected fault, or the call's own error), None
    /// when it succeeded.
    pub failure: Option<String>,
    /// The span current as the call started: the call's own span, if the
    /// system traced it.
    pub span: Option<super::SpanRef>,
}

impl DependencyCall {
    pub fn duration(&self) -> Duration {
        self.ended_at.saturating_sub(self.started_at)
    }
}
