//! Many seeds: check each, in parallel, in memory that does not grow with
//! the seed count. Each verdict is handed to the caller as it completes and
//! then dropped; the sweep keeps counts, the first seed's verdict (what a
//! snapshot reports) and a bounded number of failures in full.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::check_seed::{Shrinking, Verdict};
use super::failure::{Failure, Problem};
use super::reruns::Determinism;
use crate::checks::PromtoolMemo;
use crate::sim::Sim;

/// Failures a sweep keeps in full by default; the rest are counted.
pub const FAILURES_KEPT_DEFAULT: usize = 10;

/// Seeds that ran twice a sweep names ([`Sweep::run_twice_seeds`]): the
/// lowest ones; the rest are counted.
pub const RUN_TWICE_LISTED: usize = 64;

/// How to run a sweep. `SweepOptions::default()` runs on every core, keeps
/// [`FAILURES_KEPT_DEFAULT`] failures in full and cannot be stopped.
#[derive(Clone, Copy)]
pub struct SweepOptions<'a> {
    /// Seeds checked at once (threads); 0 means one per core.
    pub jobs: usize,
    /// Failures kept in full: the lowest-numbered seeds that failed, so the
    /// same sweep keeps the same ones whatever order the threads finished
    /// in. The rest are counted in [`Sweep::failures_dropped`].
    pub failures_kept: usize,
    /// Set it (from a Ctrl-C handler, say) to stop taking new seeds: seeds
    /// already running finish, and the sweep returns what it has.
    pub stop: Option<&'a AtomicBool>,
    /// Which seeds run a second time for the determinism check: every one
    /// by default.
    pub determinism: Determinism,
}

impl Default for SweepOptions<'_> {
    fn default() -> Self {
        SweepOptions {
            jobs: 0,
            failures_kept: FAILURES_KEPT_DEFAULT,
            stop: None,
            determinism: Determinism::All,
        }
    }
}

/// What a sweep learned, in memory that does not grow with its seeds.
#[derive(Clone, Debug, Default)]
pub struct Sweep {
    pub scenario: String,
    /// Seeds checked to the end.
    pub seeds_run: u64,
    pub passed: u64,
    /// Seeds that failed, kept in full or not.
    pub failed: u64,
    /// Simulated time of every run that completed, summed.
    pub simulated: Duration,
    /// The verdict of the first seed the sweep was given, with its run:
    /// the one a snapshot reports. None if that seed never ran (a stop).
    pub first: Option<Verdict>,
    /// The lowest-numbered failures, at most `failures_kept`, in seed order.
    pub kept: Vec<Failure>,
    /// Failures counted but not kept.
    pub failures_dropped: u64,
    /// Whether a stop cut the sweep short.
    pub stopped: bool,
    /// Seeds that ran a second time for the determinism check: all of them
    /// unless the sweep sampled them ([`SweepOptions::determinism`]).
    pub run_twice: u64,
    /// The lowest of those, at most [`RUN_TWICE_LISTED`], in seed order.
    pub run_twice_seeds: Vec<u64>,
    /// The seed the sweep shrank once every seed was checked: its lowest
    /// failing seed, whose kept failure has the `shrunk:` line and whose
    /// artifacts the `minimal.toml`. The other failures' lines say how to
    /// shrink them. None when it shrank none that way: a sweep of one seed
    /// shrinks it as it checks it, and shrinking or artifacts may be off, no
    /// seed may have failed with violations, or a stop cut the sweep short.
    pub shrunk: Option<u64>,
}

impl Sim {
    /// Checks every seed on every core and keeps a summary; see
    /// [`Sim::sweep_with`].
    pub fn sweep(&self, seeds: &[u64]) -> Sweep {
        self.sweep_with(seeds.iter().copied(), SweepOptions::default(), &|_| {})
    }

    /// Checks `seeds` on `options.jobs` threads. `on_verdict` sees each
    /// verdict, run included, the moment its seed is done (in completion
    /// order, from the worker's thread); the sweep then drops the run. Each
    /// run owns its runtime and subscriber, so runs in parallel share
    /// nothing, and each seed's verdict is the same whatever the threads.
    ///
    /// Of two seeds or more, only the lowest failing one is shrunk, after
    /// every seed is checked ([`Sweep::shrunk`]): shrinking costs up to a
    /// hundred runs a seed, and one `minimal.toml` is what a person reads
    /// first. Its verdict was seen by `on_verdict` before it was shrunk; its
    /// kept failure and its artifacts are then the shrunk ones. A sweep of
    /// one seed shrinks it as it checks it.
    pub fn sweep_with<I>(
        &self,
        seeds: I,
        options: SweepOptions<'_>,
        on_verdict: &(dyn Fn(&Verdict) + Sync),
    ) -> Sweep
    where
        I: IntoIterator<Item = u64>,
        I::IntoIter: Send,
    {
        let jobs = if options.jobs == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            options.jobs
        };
        // Two seeds or more: shrinking waits for the lowest failing one.
        let mut seeds = seeds.into_iter();
        let head: Vec<u64> = seeds.by_ref().take(2).collect();
        let shrinking = if head.len() > 1 {
            Shrinking::Deferred
        } else {
            Shrinking::Now
        };
        let seeds = Mutex::new(head.into_iter().chain(seeds).enumerate());
        let tally = Mutex::new(Tally::default());
        // One memo for the sweep: promtool runs once per shape of final
        // exposition, not once per seed.
        let memo = PromtoolMemo::default();
        let stopped = || {
            options
                .stop
                .is_some_and(|stop| stop.load(Ordering::Relaxed))
        };
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| loop {
                    if stopped() {
                        return;
                    }
                    let Some((index, seed)) = seeds.lock().expect("seeds lock").next() else {
                        return;
                    };
                    let twice = options.determinism.runs_twice(seed);
                    let mut verdict = self.check_seed_as(seed, &memo, shrinking, twice);
                    on_verdict(&verdict);
                    // A run stopped at a bound simulated up to it: the
                    // summary's simulated time counts that too.
                    let ended_at = verdict.run.as_ref().map(|run| run.ended_at).or_else(|| {
                        match &verdict.failure.as_ref()?.problem {
                            Problem::Run(error) => error.stopped_at(),
                            Problem::Violations(_) => None,
                        }
                    });
                    // Only the first seed's run is kept; the others are
                    // freed here, not under the tally's lock, where their
                    // hundreds of thousands of frees would hold up every
                    // other thread's seed.
                    let freed = if index == 0 { None } else { verdict.run.take() };
                    tally.lock().expect("tally lock").add(
                        index,
                        verdict,
                        ended_at,
                        options.failures_kept,
                    );
                    drop(freed);
                });
            }
        });
        let tally = tally.into_inner().expect("tally lock");
        let mut sweep = tally.sweep;
        sweep.scenario = self.config().scenario.clone();
        sweep.kept = tally.kept.into_values().collect();
        sweep.run_twice_seeds = tally.run_twice.into_iter().collect();
        sweep.stopped = stopped();
        if shrinking == Shrinking::Deferred && !sweep.stopped {
            self.shrink_lowest(&mut sweep, &memo);
        }
        sweep
    }

    /// Shrinks `sweep`'s lowest failing seed (of those that failed checks:
    /// a run that did not complete has nothing to shrink) as checking it
    /// alone would: it is checked again, shrunk, and its failure and
    /// artifacts replace the ones written while the sweep ran.
    fn shrink_lowest(&self, sweep: &mut Sweep, memo: &PromtoolMemo) {
        let config = self.config();
        if config.shrink.is_none() || config.artifacts_dir.is_none() {
            return;
        }
        let violated = |failure: &Failure| matches!(failure.problem, Problem::Violations(_));
        let Some(index) = sweep.kept.iter().position(violated) else {
            return;
        };
        let seed = sweep.kept[index].seed;
        match self.check_seed_as(seed, memo, Shrinking::Now, true).failure {
            Some(failure) => sweep.kept[index] = failure,
            None => {
                sweep.kept[index].shrunk = Some(format!(
                    "not possible: checked again to be shrunk, seed {seed} passed, so it does \
                     not fail on every run of it"
                ));
            }
        }
        if let Some(first) = sweep.first.as_mut().filter(|first| first.seed == seed) {
            first.failure = Some(sweep.kept[index].clone());
        }
        sweep.shrunk = Some(seed);
    }
}

/// A sweep in progress.
#[derive(Default)]
struct Tally {
    sweep: Sweep,
    kept: BTreeMap<u64, Failure>,
    run_twice: BTreeSet<u64>,
}

impl Tally {
    /// Counts `verdict`, whose run (if it completed) simulated `ended_at`.
    fn add(
        &mut self,
        index: usize,
        mut verdict: Verdict,
        ended_at: Option<Duration>,
        kept_max: usize,
    ) {
        let sweep = &mut self.sweep;
        sweep.seeds_run += 1;
        if verdict.run_twice {
            sweep.run_twice += 1;
            self.run_twice.insert(verdict.seed);
            if self.run_twice.len() > RUN_TWICE_LISTED {
                self.run_twice.pop_last();
            }
        }
        if let Some(ended_at) = ended_at {
            sweep.simulated += ended_at;
        }
        match verdict.failure.take() {
            None => sweep.passed += 1,
            Some(failure) => {
                sweep.failed += 1;
                // The first seed keeps its failure, with its run.
                if index == 0 {
                    verdict.failure = Some(failure.clone());
                }
                self.kept.insert(failure.seed, failure);
                if self.kept.len() > kept_max {
                    self.kept.pop_last();
                    sweep.failures_dropped += 1;
                }
            }
        }
        if index == 0 {
            sweep.first = Some(verdict);
        }
    }
}

impl Sweep {
    /// The failures kept in full, in seed order.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.kept.iter()
    }

    /// Panics with every kept failure's message, for use in tests.
    #[track_caller]
    pub fn assert_passed(&self) {
        if self.failed == 0 {
            return;
        }
        let failures: Vec<String> = self.failures().map(ToString::to_string).collect();
        let dropped = if self.failures_dropped > 0 {
            format!(
                "\n\n(and {} more failing seeds not kept)",
                self.failures_dropped
            )
        } else {
            String::new()
        };
        panic!(
            "{} of {} seeds failed\n\n{}{dropped}",
            self.failed,
            self.seeds_run,
            failures.join("\n\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(seed: u64) -> Verdict {
        Verdict {
            seed,
            run: None,
            failure: Some(Failure {
                scenario: "s".into(),
                seed,
                problem: Problem::Violations(Vec::new()),
                swarm_draw: Vec::new(),
                artifacts: None,
                shrunk: None,
                replay: String::new(),
            }),
            run_twice: true,
        }
    }

    #[test]
    fn a_sweep_keeps_the_lowest_failing_seeds_whatever_order_they_finish_in() {
        let mut tally = Tally::default();
        for (index, seed) in [(3, 9), (1, 4), (2, 7), (0, 2)] {
            tally.add(index, failing(seed), None, 2);
        }
        let kept: Vec<u64> = tally.kept.keys().copied().collect();
        assert_eq!(kept, [2, 4]);
        assert_eq!(tally.sweep.failed, 4);
        assert_eq!(tally.sweep.failures_dropped, 2);
        let first = tally.sweep.first.expect("the first seed's verdict");
        assert_eq!(first.seed, 2);
        assert!(first.failure.is_some());
    }
}
