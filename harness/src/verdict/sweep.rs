//! Many seeds: check each, in parallel, and collect the verdicts in seed order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::check_seed::Verdict;
use super::failure::Failure;
use crate::sim::Sim;

impl Sim {
    /// Checks every seed, on as many threads as the machine has cores. Each
    /// run owns its runtime and subscriber, so runs in parallel share nothing;
    /// verdicts come back in seed order whatever order they finished in.
    pub fn sweep(&self, seeds: &[u64]) -> Sweep {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(seeds.len())
            .max(1);
        let next = AtomicUsize::new(0);
        let verdicts = Mutex::new(BTreeMap::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let verdict = self.check_seed(seed);
                        verdicts
                            .lock()
                            .expect("verdicts lock")
                            .insert(seed, verdict);
                    }
                });
            }
        });
        Sweep {
            scenario: self.config().scenario.clone(),
            verdicts: verdicts
                .into_inner()
                .expect("verdicts lock")
                .into_values()
                .collect(),
        }
    }
}

/// Verdicts of a seed sweep, in seed order.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub scenario: String,
    pub verdicts: Vec<Verdict>,
}

impl Sweep {
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.verdicts
            .iter()
            .filter_map(|verdict| verdict.failure.as_ref())
    }

    /// Panics with every failure's message, for use in tests.
    #[track_caller]
    pub fn assert_passed(&self) {
        let failures: Vec<String> = self.failures().map(ToString::to_string).collect();
        assert!(
            failures.is_empty(),
            "{} of {} seeds failed\n\n{}",
            failures.len(),
            self.verdicts.len(),
            failures.join("\n\n")
        );
    }
}
