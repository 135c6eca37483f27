//! A run's bounds on what it may produce: messages sent, spans captured,
//! scrapes taken, log events captured, and as a safety net the real time it may take. The moment
//! one is crossed the run stops, with a failure that names the bound,
//! instead of running on to its time limit and holding ever more in memory.
//!
//! The real-time bound is noticed where the other three are counted (each
//! message, span and scrape): a check there schedules no task and draws no
//! random number, so a run that stays under it is the run it would be
//! without it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures::channel::oneshot;

/// One of a run's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Messages,
    Spans,
    Scrapes,
    /// Log events captured.
    Logs,
    /// Real time: a safety net, not a step bound. Whether a seed crosses it
    /// depends on the machine, so the failure says so.
    Wall,
}

impl Bound {
    /// The setting that raises it: the builder method and the scenario
    /// file's `[run]` key.
    pub fn setting(self) -> &'static str {
        match self {
            Bound::Messages => "message_limit",
            Bound::Spans => "span_limit",
            Bound::Scrapes => "scrape_limit",
            Bound::Logs => "log_limit",
            Bound::Wall => "wall_limit",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Bound::Messages => "messages sent",
            Bound::Spans => "spans captured",
            Bound::Scrapes => "scrapes taken",
            Bound::Logs => "log events captured",
            Bound::Wall => "milliseconds of real time",
        }
    }
}

/// The bound a run crossed, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossed {
    pub bound: Bound,
    /// The bound's value: a count, or for [`Bound::Wall`] milliseconds.
    pub limit: u64,
    /// Simulated time since the run started.
    pub at: Duration,
}

impl fmt::Display for Crossed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bound == Bound::Wall {
            return write!(
                f,
                "the run took more than its wall-time bound of {:?} of real time and was stopped \
                 at {:.3}s simulated (raise `wall_limit` if the scenario really needs more; \
                 unlike the other bounds, whether a seed crosses this one depends on the \
                 machine's speed)",
                Duration::from_millis(self.limit),
                self.at.as_secs_f64()
            );
        }
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
    counts: [AtomicU64; 4],
    limits: [u64; 4],
    /// Set from the watchdog's thread once the run's real time is up.
    wall_reached: AtomicBool,
    wall_limit_ms: u64,
    crossed: Mutex<Option<Crossed>>,
    /// Fired once, when the first bound is crossed: the simulation waits on
    /// it beside the run's body.
    signal: Mutex<Option<oneshot::Sender<()>>>,
}

impl Limits {
    pub(crate) fn new(
        messages: u64,
        spans: u64,
        scrapes: u64,
        logs: u64,
        wall: Duration,
    ) -> (Limits, oneshot::Receiver<()>) {
        let (sender, receiver) = oneshot::channel();
        let limits = Limits {
            counts: Default::default(),
            limits: [messages, spans, scrapes, logs],
            wall_reached: AtomicBool::new(false),
            wall_limit_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
            crossed: Mutex::new(None),
            signal: Mutex::new(Some(sender)),
        };
        (limits, receiver)
    }

    /// Counts one more against `bound`; false once it is crossed, and the
    /// first crossing stops the run.
    pub(crate) fn take(&self, bound: Bound, now: Duration) -> bool {
        debug_assert!(bound != Bound::Wall, "real time is not counted");
        if self.wall_reached.load(Ordering::Relaxed) {
            self.cross(Bound::Wall, self.wall_limit_ms, now);
            return false;
        }
        let index = bound as usize;
        let used = self.counts[index].fetch_add(1, Ordering::Relaxed);
        let limit = self.limits[index];
        if used < limit {
            return true;
        }
        self.cross(bound, limit, now);
        false
    }

    /// Called from the watchdog's thread: the run's real time is up. The
    /// run stops at its next message, span or scrape.
    pub(crate) fn reach_wall(&self) {
        self.wall_reached.store(true, Ordering::Relaxed);
    }

    /// The first crossing is the one reported, and stops the run.
    fn cross(&self, bound: Bound, limit: u64, now: Duration) {
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
        let (limits, mut signal) = Limits::new(2, 1, 5, 5, Duration::from_secs(60));
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

    #[test]
    fn once_real_time_is_up_the_next_count_stops_the_run_and_says_it_was_the_machine() {
        let (limits, mut signal) = Limits::new(10, 10, 10, 10, Duration::from_secs(300));
        assert!(limits.take(Bound::Spans, Duration::from_secs(1)));
        limits.reach_wall();
        assert!(!limits.take(Bound::Scrapes, Duration::from_secs(2)));
        let crossed = limits.crossed().expect("crossed");
        assert_eq!((crossed.bound, crossed.limit), (Bound::Wall, 300_000));
        assert_eq!(signal.try_recv(), Ok(Some(())));
        let shown = crossed.to_string();
        assert!(shown.starts_with("the run took more than its wall-time bound of 300s of real time and was stopped at 2.000s simulated"), "{shown}");
        assert!(shown.contains("depends on the machine's speed"), "{shown}");
    }
}
