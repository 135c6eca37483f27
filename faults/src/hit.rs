//! What hit an opportunity, and the fixed event that replays it: how a
//! component's seeded decisions become a run's fixed fault schedule.

use std::time::Duration;

use crate::{Fault, FaultKind, Transport};

/// Counts one component's opportunities at one simulated instant, so that a
/// fixed event can say which of several at the same instant it hit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Instant {
    at: Duration,
    count: u64,
}

impl Instant {
    /// Counts an opportunity at `now`; returns its 1-based place among the
    /// opportunities at `now`.
    pub(crate) fn tick(&mut self, now: Duration) -> u64 {
        if self.at != now {
            *self = Instant { at: now, count: 0 };
        }
        self.count += 1;
        self.count
    }
}

/// Where a fixed event is aimed: the one component whose opportunities its
/// `nth` counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Aim {
    pub(crate) node: Option<usize>,
    pub(crate) endpoint: Option<String>,
    pub(crate) dependency: Option<String>,
    pub(crate) operation: Option<String>,
}

/// The fixed event that replays one firing of a drawn `fault`: at `at`, the
/// `nth` opportunity there, with the drawn `latency` if it has one. None for
/// a fault that acts the same whatever the draws: it replays as itself.
pub(crate) fn fixed_event(
    fault: &Fault,
    at: Duration,
    nth: u64,
    latency: Option<Duration>,
    aim: Aim,
) -> Option<Fault> {
    if !fault.is_drawn() {
        return None;
    }
    // A latency kind always hits with the value it drew.
    let effect = match latency {
        Some(value) => fault.effect.clone().with_latency(value),
        None => fault.effect.clone(),
    };
    Some(Fault {
        effect,
        node: aim.node,
        dependency: aim.dependency,
        operation: aim.operation,
        probability: None,
        at,
        duration: None,
        transport: Transport::Messages,
        endpoint: aim.endpoint,
        nth: Some(nth),
        trigger: fault.trigger,
    })
}

/// One plan fault hitting one opportunity.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The fault's index in the plan.
    pub index: usize,
    pub kind: FaultKind,
    /// For a fault the seed draws: the fixed event that replays this hit
    /// without a draw. None for a fault that replays as itself.
    pub fixed: Option<Fault>,
}

impl Hit {
    /// A hit of plan fault `index`, which replays as itself: a scheduled
    /// fault (a crash, a pause, a partition) or a fixed event.
    pub fn planned(index: usize, kind: FaultKind) -> Hit {
        Hit {
            index,
            kind,
            fixed: None,
        }
    }
}

/// The faults that hit one opportunity, by plan index and kind, for the
/// per-entry firing count and the run's fixed schedule. A component counts
/// each kind where it takes effect: a message lost is not also duplicated,
/// and a partition's cut preempts both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fired(pub Vec<Hit>);

impl Fired {
    /// The hits of faults of `kind`.
    pub fn of(&self, kind: FaultKind) -> Vec<Hit> {
        let of_kind = self.0.iter().filter(|hit| hit.kind == kind);
        of_kind.cloned().collect()
    }

    pub(crate) fn push(&mut self, index: usize, kind: FaultKind, fixed: Option<Fault>) {
        self.0.push(Hit { index, kind, fixed });
    }
}
