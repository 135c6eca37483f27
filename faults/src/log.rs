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
}

impl FaultLog {
    pub fn new(capacity: usize) -> Self {
        FaultLog {
            inner: Arc::new(Mutex::new(LogInner {
                events: Vec::new(),
                capacity,
                dropped: 0,
            })),
        }
    }

    pub fn record(&self, event: FaultEvent) {
        let mut inner = self.inner.lock().expect("fault log lock poisoned");
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
}
