//! Seeds in, verdicts out: run a seed twice, check it, and word any failure
//! for the person who has to replay it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::artifacts::{self, Artifacts};
use crate::checks::{check_run, seed_determinism, Check, Violation};
use crate::run::Run;
use crate::sim::{RunError, Sim};

/// What went wrong with one seed.
#[derive(Clone, Debug)]
pub enum Problem {
    Run(RunError),
    Violations(Vec<Violation>),
}

/// One failed seed, worded for a person at 2 a.m.: what broke, the seed,
/// and the one command that replays it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub scenario: String,
    pub seed: u64,
    pub problem: Problem,
    /// With swarm testing, the faults this seed drew: printed with the seed,
    /// since they differ from seed to seed.
    pub swarm_draw: Vec<String>,
    /// Where the failure's artifacts were written, or why they were not;
    /// None when artifacts are off.
    pub artifacts: Option<Artifacts>,
    pub replay: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Run(error) => writeln!(
                f,
                "obsim: scenario `{}` seed {} did not complete: {error}",
                self.scenario, self.seed
            )?,
            Problem::Violations(violations) => {
                writeln!(
                    f,
                    "obsim: scenario `{}` seed {} broke {} invariant(s):",
                    self.scenario,
                    self.seed,
                    violations.len()
                )?;
                for violation in violations {
                    writeln!(f, "  {violation}")?;
                }
            }
        }
        if !self.swarm_draw.is_empty() {
            writeln!(f, "faults this seed drew (swarm):")?;
            for fault in &self.swarm_draw {
                writeln!(f, "  {fault}")?;
            }
        }
        if let Some(artifacts) = &self.artifacts {
            writeln!(f, "artifacts: {artifacts}")?;
        }
        write!(f, "replay: {}", self.replay)
    }
}

/// The result of one seed: its first run (if it completed) and any failure.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub seed: u64,
    pub run: Option<Run>,
    pub failure: Option<Failure>,
}

impl Sim {
    /// `OBSIM_SEED=<seed> <replay command>`.
    pub fn replay_command(&self, seed: u64) -> String {
        format!("OBSIM_SEED={seed} {}", self.config().replay_command)
    }

    /// The faults `seed` runs with, one line each, when swarm testing is on.
    pub fn swarm_draw(&self, seed: u64) -> Vec<String> {
        if self.config().swarm.is_none() {
            return Vec::new();
        }
        match self.config().plan_for(seed) {
            Ok(plan) => plan.faults().iter().map(ToString::to_string).collect(),
            Err(error) => vec![format!("(invalid draw: {error})")],
        }
    }

    /// Runs `seed` twice and applies every check, the determinism check
    /// comparing the two runs. A failure's artifacts are written, with the
    /// first run, when the config names an artifacts folder.
    pub fn check_seed(&self, seed: u64) -> Verdict {
        let mut verdict = self.verdict(seed);
        if let (Some(failure), Some(dir)) = (&mut verdict.failure, &self.config().artifacts_dir) {
            let written =
                artifacts::write_failure(dir, self.config(), failure, verdict.run.as_ref());
            failure.artifacts = Some(Artifacts::from_result(dir, written));
        }
        verdict
    }

    /// [`Sim::check_seed`] without the artifacts: the runs and the checks.
    fn verdict(&self, seed: u64) -> Verdict {
        let fail = |problem| Failure {
            scenario: self.config().scenario.clone(),
            seed,
            problem,
            swarm_draw: self.swarm_draw(seed),
            artifacts: None,
            replay: self.replay_command(seed),
        };
        let first = match self.run(seed) {
            Ok(run) => run,
            Err(error) => {
                return Verdict {
                    seed,
                    run: None,
                    failure: Some(fail(Problem::Run(error))),
                }
            }
        };
        let config = self.config();
        let mut violations = check_run(&first, config, self.contract(), self.rules());
        violations.extend(crate::expect::expectations(&first, &config.expectations));
        match self.run(seed) {
            Ok(second) if config.checks.contains(&Check::SeedDeterminism) => {
                violations.extend(seed_determinism(&first, &second))
            }
            Ok(_) => {}
            Err(error) => {
                return Verdict {
                    seed,
                    run: Some(first),
                    failure: Some(fail(Problem::Run(error))),
                };
            }
        }
        let failure = (!violations.is_empty()).then(|| fail(Problem::Violations(violations)));
        Verdict {
            seed,
            run: Some(first),
            failure,
        }
    }

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
