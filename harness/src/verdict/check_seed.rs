//! One seed: run it twice, check it, and word any failure.

use super::artifacts::{self, Artifacts};
use super::failure::{Failure, Problem};
use crate::checks::determinism::{self, Divergence};
use crate::checks::judged::Judgements;
use crate::checks::{check_run_judged, expect, seed_determinism, Check, PromtoolMemo, Violation};
use crate::run::Run;
use crate::sim::{RunError, Sim};

/// When a failing seed is shrunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shrinking {
    /// As it is checked, before its artifacts are written: a seed on its own.
    Now,
    /// Not as it is checked: a sweep of many seeds shrinks only its lowest
    /// failing seed, once every seed is checked. The failure's `shrunk:`
    /// line says so, and how to shrink this one.
    Deferred,
}

/// The result of one seed: its first run (if it completed) and any failure.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub seed: u64,
    pub run: Option<Run>,
    pub failure: Option<Failure>,
    /// Whether the seed ran a second time for the determinism check: every
    /// seed does unless a sweep samples them ([`crate::Determinism`]).
    pub run_twice: bool,
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
        self.check_seed_with(seed, &PromtoolMemo::default())
    }

    /// [`Sim::check_seed`], sharing promtool's verdicts through `memo` with
    /// the other seeds that use it, as a sweep's seeds do.
    pub fn check_seed_with(&self, seed: u64, memo: &PromtoolMemo) -> Verdict {
        self.check_seed_as(seed, memo, Shrinking::Now, true)
    }

    /// [`Sim::check_seed_with`], shrinking a failure now or leaving it to
    /// the sweep.
    pub(crate) fn check_seed_as(
        &self,
        seed: u64,
        memo: &PromtoolMemo,
        shrinking: Shrinking,
        twice: bool,
    ) -> Verdict {
        let mut verdict = self.verdict(seed, memo, twice);
        if let (Some(failure), Some(dir)) = (&mut verdict.failure, &self.config().artifacts_dir) {
            let replay = self.otel_replay(verdict.run.as_ref());
            let run = replay.as_ref().or(verdict.run.as_ref());
            let mut extra = run
                .and_then(|run| super::alert_artifacts::alert_files(self, run))
                .unwrap_or_default();
            extra.extend(
                run.and_then(|run| super::dashboard_artifacts::dashboard_files(self, run))
                    .unwrap_or_default(),
            );
            extra.extend(run.and_then(|run| super::truth_artifacts::truth_file(self, run)));
            // Shrunk before anything is written, so that report.txt has the
            // line and minimal.toml moves into place with the other files.
            let shrunk = match shrinking {
                Shrinking::Now => artifacts::seed_dir(dir, &failure.scenario, seed)
                    .ok()
                    .and_then(|folder| super::shrink::for_artifacts(self, failure, &folder)),
                Shrinking::Deferred => super::shrink::deferred(self, failure),
            };
            if let Some(shrunk) = shrunk {
                failure.shrunk = Some(shrunk.line);
                if let Some(text) = shrunk.minimal_toml {
                    extra.push((super::shrink::MINIMAL_TOML.into(), text));
                }
            }
            let written = artifacts::write_failure_with(dir, self.config(), failure, run, &extra);
            failure.artifacts = Some(Artifacts::from_result(dir, written));
        }
        verdict
    }

    /// Every check the config enables that reads one run, and the
    /// scenario's expectations: what a seed's first run is held to (the
    /// determinism check, which reads two runs, aside).
    pub fn check(&self, run: &Run, memo: &PromtoolMemo) -> Vec<Violation> {
        self.check_judged(run, memo).0
    }

    /// [`Sim::check`], and what the run says of each claim it was held to,
    /// one by one: each expectation, alert claim and accuracy rule.
    pub(crate) fn check_judged(
        &self,
        run: &Run,
        memo: &PromtoolMemo,
    ) -> (Vec<Violation>, Judgements) {
        let config = self.config();
        let mut judged = Judgements::default();
        let rules = self.rules();
        let mut violations =
            check_run_judged(run, config, self.contract(), rules, memo, &mut judged);
        violations.extend(expect::judge_expectations(
            run,
            self.contract(),
            &config.expectations,
            &mut judged,
        ));
        (violations, judged)
    }

    /// The system's alert rules evaluated over `run`, over what was scraped
    /// and over ground truth: what `alert_correctness` compares and what
    /// alert expectations read. None when there are no rules.
    pub fn alert_timelines(
        &self,
        run: &Run,
    ) -> Option<Result<crate::checks::alerts::Timelines, String>> {
        crate::checks::alerts::timelines(run, self.config(), self.contract(), self.rules())
    }

    /// Two runs of a seed differed: a third, kept in full, shows where. The
    /// second run folded its spans into a digest to keep the seed's memory
    /// flat, so there is nothing of it to show but the fact.
    fn show_divergence(
        &self,
        first: &Run,
        divergence: Divergence,
    ) -> Result<Vec<Violation>, RunError> {
        let third = self.run(first.seed)?;
        let shown = seed_determinism(first, &third);
        if shown.is_empty() {
            return Ok(vec![determinism::intermittent(first, divergence)]);
        }
        Ok(shown)
    }

    /// The failed seed run once more, keeping every span's SDK data for the
    /// OTLP file. A checked run keeps only span records: the SDK's data costs
    /// more, and only a failure's artifacts read it, so only a failure pays.
    /// None when the seed never completed (there is no run to match), or
    /// when the replay did not capture the spans the checked run did (a
    /// nondeterministic seed): the files are then written from the checked
    /// run, whose OTLP file holds no span rather than another run's.
    fn otel_replay(&self, checked: Option<&Run>) -> Option<Run> {
        let checked = checked?;
        let replay = self.run_with_otel(checked.seed).ok()?;
        (replay.spans == checked.spans).then_some(replay)
    }

    /// [`Sim::check_seed`] without the artifacts: the runs and the checks,
    /// the second run only if `twice`.
    fn verdict(&self, seed: u64, memo: &PromtoolMemo, twice: bool) -> Verdict {
        let fail = |problem| Failure {
            scenario: self.config().scenario.clone(),
            seed,
            problem,
            swarm_draw: self.swarm_draw(seed),
            artifacts: None,
            shrunk: None,
            replay: self.replay_command(seed),
        };
        let first = match self.run(seed) {
            Ok(run) => run,
            Err(error) => {
                return Verdict {
                    seed,
                    run: None,
                    failure: Some(fail(Problem::Run(error))),
                    run_twice: false,
                }
            }
        };
        let config = self.config();
        let mut violations = self.check(&first, memo);
        if !twice {
            let failure = (!violations.is_empty()).then(|| fail(Problem::Violations(violations)));
            return Verdict {
                seed,
                run: Some(first),
                failure,
                run_twice: false,
            };
        }
        let second = self.run_for_determinism(seed).and_then(|(second, digest)| {
            let diverged = determinism::same_as_first(&first, &second, digest);
            // Before any third run: a seed holds at most two runs at once.
            drop(second);
            match diverged {
                Some(divergence) if config.checks.contains(&Check::SeedDeterminism) => {
                    self.show_divergence(&first, divergence)
                }
                _ => Ok(Vec::new()),
            }
        });
        match second {
            Ok(found) => violations.extend(found),
            Err(error) => {
                return Verdict {
                    seed,
                    run: Some(first),
                    failure: Some(fail(Problem::Run(error))),
                    run_twice: true,
                };
            }
        }
        let failure = (!violations.is_empty()).then(|| fail(Problem::Violations(violations)));
        Verdict {
            seed,
            run: Some(first),
            failure,
            run_twice: true,
        }
    }
}
