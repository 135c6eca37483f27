use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::FaultKind;

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
}

impl FaultLog {
    pub fn new(capacity: usize) -> Self {
        FaultLog {
            inner: Arc::new(Mutex::new(LogInner {
                events: Vec::new(),
                capacity,
                dropped: 0,
                by_kind: BTreeMap::new(),
                by_entry: BTreeMap::new(),
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

    /// Counts one firing of each plan entry in `entries` (plan indices): an
    /// opportunity, inside the entry's own window and aim, where it took
    /// effect.
    pub fn fired(&self, entries: &[usize]) {
        let mut inner = self.inner.lock().expect("fault log lock poisoned");
        for entry in entries {
            *inner.by_entry.entry(*entry).or_default() += 1;
        }
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
