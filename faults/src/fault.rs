use std::fmt;
use std::time::Duration;

/// One fault a run asks for. Node indices count server nodes from 0.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Each storage write on the node (or on every node) fails with `probability`.
    StorageWriteFailure {
        node: Option<usize>,
        probability: f64,
    },
    /// The node dies at simulated time `at`; with `restart_after`, it boots a
    /// new incarnation that long after the crash.
    NodeCrash {
        node: usize,
        at: Duration,
        restart_after: Option<Duration>,
    },
    /// Each message the node (or any node) sends is held back by a delay drawn
    /// uniformly from `min..=max`, with `probability`.
    NetworkDelay {
        node: Option<usize>,
        probability: f64,
        min: Duration,
        max: Duration,
    },
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::StorageWriteFailure { .. } => FaultKind::StorageWriteFailure,
            Fault::NodeCrash { .. } => FaultKind::NodeCrash,
            Fault::NetworkDelay { .. } => FaultKind::NetworkDelay,
        }
    }

    /// The server node this fault is aimed at, if it is aimed at one.
    pub fn node(&self) -> Option<usize> {
        match self {
            Fault::StorageWriteFailure { node, .. } | Fault::NetworkDelay { node, .. } => *node,
            Fault::NodeCrash { node, .. } => Some(*node),
        }
    }
}

/// What kind of event a fault log line records. `NodeRestart` is not a fault a
/// plan asks for on its own: it is the second half of a crash with restart, and
/// is logged so that a counter reset can be matched to a recorded restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    StorageWriteFailure,
    NodeCrash,
    NodeRestart,
    NetworkDelay,
}

impl FaultKind {
    pub const ALL: [FaultKind; 4] = [
        FaultKind::StorageWriteFailure,
        FaultKind::NodeCrash,
        FaultKind::NodeRestart,
        FaultKind::NetworkDelay,
    ];

    /// The stable snake_case name used in logs, reports and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::StorageWriteFailure => "storage_write_failure",
            FaultKind::NodeCrash => "node_crash",
            FaultKind::NodeRestart => "node_restart",
            FaultKind::NetworkDelay => "network_delay",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
