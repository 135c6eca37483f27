//! A run's bounds on what it may produce: messages sent, spans captured,
//! scrapes taken. The moment one is crossed the run stops, with a failure
//! that names the bound, instead of running on to its time limit and
//! holding ever more in memory.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures::channel::oneshot;

/// One of a run's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Messages,
    Spans,
    Scrapes,
}

impl Bound {
    /// The setting that raises it: the builder method and the scenario
    /// file's `[run]` key.
    pub fn setting(self) -> &'static str {
        match self {
            Bound::Messages => "message_limit",
            Bound::Spans => "span_limit",
            Bound::Scrapes => "scrape_limit",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Bound::Messages => "messages sent",
            Bound::Spans => "spans captured",
            Bound::Scrapes => "scrapes taken",
        }
    }
}

/// The bound a run crossed, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossed {
    pub bound: Bound,
    pub limit: u64,
    /// Simulated time since the run started.
    pub at: Duration,
}

impl fmt::Display for Crossed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the run crossed its bound of {} {} at {:.3}s and was stopped there (raise `{}` if \
             the scenario really needs more)",
            self.limit,
            self.bound.what(),
            self.at.as_secs_f64(),
            self.bound.setting()
        )
    }
}

/// Counters for each bound, shared by the world and the span capture.
#[derive(Debug)]
pub(crate) struct Limits {
    counts: [AtomicU64; 3],
    limits: [u64; 3],
    crossed: Mutex<Option<Crossed>>,
    /// Fired once, when the first bound is crossed: the simulation waits on
    /// it beside the run's body.
    signal: Mutex<Option<oneshot::Sender<()>>>,
}

impl Limits {
    pub(crate) fn new(messages: u64, spans: u64, scrapes: u64) -> (Limits, oneshot::Receiver<()>) {
        let (sender, receiver) = oneshot::channel();
        let limits = Limits {
            counts: Default::default(),
            limits: [messages, spans, scrapes],
            crossed: Mutex::new(None),
            signal: Mutex::new(Some(sender)),
        };
        (limits, receiver)
    }

    /// Counts one more against `bound`; false once it is crossed, and the
    /// first crossing stops the run.
    pub(crate) fn take(&self, bound: Bound, now: Duration) -> bool {
        let index = bound as usize;
        let used = self.counts[index].fetch_add(1, Ordering::Relaxed);
        let limit = self.limits[index];
        if used < limit {
            return true;
        }
        let mut crossed = self.crossed.lock().expect("limits lock");
        if crossed.is_none() {
            *crossed = Some(Crossed {
                bound,
                limit,
                at: now,
            });
            if let Some(signal) = self.signal.lock().expect("limits lock").take() {
                // The receiver is the run's own; gone only once it ended.
                let _ = signal.send(());
            }
        }
        false
    }

    pub(crate) fn crossed(&self) -> Option<Crossed> {
        *self.crossed.lock().expect("limits lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bound_crossed_is_the_one_reported_and_signals_once() {
        let (limits, mut signal) = Limits::new(2, 1, 5);
        let at = Duration::from_millis(7);
        assert!(limits.take(Bound::Messages, at));
        assert!(limits.take(Bound::Messages, at));
        assert_eq!(signal.try_recv(), Ok(None));
        assert!(!limits.take(Bound::Messages, at));
        assert!(limits.take(Bound::Spans, at));
        assert!(!limits.take(Bound::Spans, Duration::from_secs(1)));
        let crossed = limits.crossed().expect("crossed");
        assert_eq!(crossed.bound, Bound::Messages);
        assert_eq!(crossed.at, at);
        assert_eq!(signal.try_recv(), Ok(Some(())));
        assert!(crossed
            .to_string()
            .contains("bound of 2 messages sent at 0.007s"));
    }
}
