use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// Whether this thread is inside a madsim runtime now. Asked on every span
/// and every ledger record: madsim's time handle is one `Arc` to clone,
/// where its whole `Handle` (`Handle::try_current`) is a dozen, which
/// `perf` put at 2% of a run.
pub(crate) fn in_simulation() -> bool {
    madsim::time::TimeHandle::try_current().is_some()
}

/// Simulated time since the run started. Every timestamp obsim reports is
/// relative to the run's start: madsim's simulated epoch depends on the seed,
/// so absolute times would not compare across seeds or read well at 2 a.m.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock {
    start: Arc<OnceLock<(madsim::time::Instant, SystemTime)>>,
}

impl Clock {
    /// Marks now as the run's start. Call once, inside the simulation, where
    /// both clocks are simulated.
    pub(crate) fn start(&self) {
        let _ = self
            .start
            .set((madsim::time::Instant::now(), SystemTime::now()));
    }

    /// Time since the start; zero before it or outside the simulation.
    pub(crate) fn elapsed(&self) -> Duration {
        match self.start.get() {
            Some((start, _)) if in_simulation() => start.elapsed(),
            _ => Duration::ZERO,
        }
    }

    /// A span timestamp as signed nanoseconds since the run's start.
    pub(crate) fn offset_ns(&self, time: SystemTime) -> i64 {
        let Some((_, epoch)) = self.start.get() else {
            return 0;
        };
        match time.duration_since(*epoch) {
            Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
        }
    }
}
