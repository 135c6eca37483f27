//! One seed: run it twice, check it, and word any failure.

use super::artifacts::{self, Artifacts};
use super::failure::{Failure, Problem};
use crate::checks::{check_run, seed_determinism, Check};
use crate::run::Run;
use crate::sim::Sim;

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
        violations.extend(crate::checks::expect::expectations(
            &first,
            self.contract(),
            &config.expectations,
        ));
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
}
