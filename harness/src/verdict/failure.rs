use std::fmt;

use super::artifacts::Artifacts;
use crate::checks::{Check, Violation};
use crate::sim::RunError;

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
    /// What shrinking made of the failure (`minimal.toml` beside the
    /// artifacts), or why it could not; None when it did not run.
    pub shrunk: Option<String>,
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
            if let Artifacts::Written(folder) = artifacts {
                // The page to open first, as a path a terminal can open.
                writeln!(f, "page: {}", folder.join(super::page::PAGE).display())?;
            }
        }
        if let Some(shrunk) = &self.shrunk {
            writeln!(f, "shrunk: {shrunk}")?;
        }
        write!(f, "replay: {}", self.replay)
    }
}

impl Failure {
    /// The checks that fired, each once, in the order their first violation
    /// was reported; empty when the run did not complete. A bug-switch test
    /// asserts this is exactly the check its bug targets.
    pub fn checks(&self) -> Vec<Check> {
        let Problem::Violations(violations) = &self.problem else {
            return Vec::new();
        };
        let mut fired: Vec<Check> = Vec::new();
        for violation in violations {
            if !fired.contains(&violation.check) {
                fired.push(violation.check);
            }
        }
        fired
    }
}
