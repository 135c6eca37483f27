use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Fault, FaultKind, Hit};

/// One injected fault: when (simulated time since the run started), what, and
/// where. `detail` carries the drawn value, e.g. the delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultEvent {
    pub at: Duration,
    pub kind: FaultKind,
    pub target: String,
    pub detail: String,
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>12.6}s {} {}",
            self.at.as_secs_f64(),
            self.kind,
            self.target
        )?;
        if !self.detail.is_empty() {
            write!(f, " {}", self.detail)?;
        }
        Ok(())
    }
}

/// The run's fault log, shared by every component that injects. Events are in
/// the order they were injected, which a deterministic run makes repeatable.
///
/// Bounded: a run that injects more than `capacity` events keeps counting them
/// in `dropped` but stops storing them, so a runaway scenario cannot exhaust
/// memory.
#[derive(Clone, Debug)]
pub struct FaultLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug)]
struct LogInner {
    events: Vec<FaultEvent>,
    capacity: usize,
    dropped: u64,
    /// Every event by kind, kept or dropped: the cap bounds what is stored,
    /// never what is counted.
    by_kind: BTreeMap<FaultKind, u64>,
    /// Firings by plan entry (its index in the plan).
    by_entry: BTreeMap<usize, u64>,
    /// Each firing of a drawn fault as the fixed event that replays it,
    /// with its plan index, in firing order; at most `capacity` of them.
    fixed: Vec<(usize, Fault)>,
    /// Fixed events past the capacity: the schedule is then incomplete.
    fixed_dropped: u64,
}

/// A run fired more drawn faults than its fault log keeps, so its fixed
/// schedule would miss some: replaying it would not be this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleOverflow {
    pub kept: usize,
    pub dropped: u64,
}

impl fmt::Display for ScheduleOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the run fired {} drawn fault events and the fault log keeps {}: its fixed \
             schedule would be incomplete (raise the fault log capacity)",
            self.kept as u64 + self.dropped,
            self.kept
        )
    }
}

impl std::error::Error for ScheduleOverflow {}

impl FaultLog {
    pub fn new(capacity: usize) -> Self {
        FaultLog {
            inner: Arc::new(Mutex::new(LogInner {
                events: Vec::new(),
                capacity,
                dropped: 0,
                by_kind: BTreeMap::new(),
                by_entry: BTreeMap::new(),
                fixed: Vec::new(),
                fixed_dropped: 0,
            })),
        }
    }

    pub fn record(&self, event: FaultEvent) {
        let mut inner = self.inner.lock().expect("fault log lock poisoned");
        *inner.by_kind.entry(event.kind).or_default() += 1;
        if inner.events.len() < inner.capacity {
            inner.events.push(event);
        } else {
            inner.dropped += 1;
        }
    }

    pub fn events(&self) -> Vec<FaultEvent> {
        self.inner
            .lock()
            .expect("fault log lock poisoned")
            .events
            .clone()
    }

    /// Events that did not fit under the capacity.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().expect("fault log lock poisoned").dropped
    }

    /// Counts one firing of the plan entry of each of `hits`: an
    /// opportunity, inside the entry's own window and aim, where it took
    /// effect. A hit of a drawn fault keeps its fixed event for the run's
    /// [`FaultLog::fixed_schedule`].
    pub fn fired(&self, hits: &[Hit]) {
        let mut inner = self.inner.lock().expect("fault log lock poisoned");
        for hit in hits {
            *inner.by_entry.entry(hit.index).or_default() += 1;
            let Some(fixed) = &hit.fixed else { continue };
            if inner.fixed.len() < inner.capacity {
                inner.fixed.push((hit.index, fixed.clone()));
            } else {
                inner.fixed_dropped += 1;
            }
        }
    }

    /// The run's faults as a fixed schedule, for a run whose plan was
    /// `plan`: each fault the seed draws (a chance below 1, a latency range)
    /// becomes one fixed event (`nth`) per firing that took effect, in plan
    /// order and then firing order; every other fault acts the same
    /// whatever the draws, and stays as it is.
    ///
    /// Running the schedule on the same seed replays the run exactly.
    /// Removing a fixed event, or any fault decided where it acts (storage,
    /// messages, handlers, dependencies), moves no other fault's decision.
    /// A scheduled fault (a crash, a pause, a partition, a socket window)
    /// stays even if it never fired: the harness runs each as a task of its
    /// own, and madsim picks among ready tasks with the seed's RNG, so
    /// removing one reshuffles the run's timing.
    pub fn fixed_schedule(&self, plan: &[Fault]) -> Result<Vec<Fault>, ScheduleOverflow> {
        let inner = self.inner.lock().expect("fault log lock poisoned");
        if inner.fixed_dropped > 0 {
            return Err(ScheduleOverflow {
                kept: inner.fixed.len(),
                dropped: inner.fixed_dropped,
            });
        }
        let mut schedule = Vec::new();
        for (index, fault) in plan.iter().enumerate() {
            if !fault.is_drawn() {
                schedule.push(fault.clone());
                continue;
            }
            let firings = inner.fixed.iter().filter(|(entry, _)| *entry == index);
            schedule.extend(firings.map(|(_, event)| event.clone()));
        }
        Ok(schedule)
    }

    /// Every event recorded, by kind, including those past the capacity.
    pub fn counts_by_kind(&self) -> BTreeMap<FaultKind, u64> {
        let inner = self.inner.lock().expect("fault log lock poisoned");
        inner.by_kind.clone()
    }

    /// Firings by plan entry index; an entry that never fired is absent.
    pub fn counts_by_entry(&self) -> BTreeMap<usize, u64> {
        let inner = self.inner.lock().expect("fault log lock poisoned");
        inner.by_entry.clone()
    }
}
