//! Shrinking: a failing seed cut down to the fewest faults that still fail
//! the same way.
//!
//! A failing run's faults are first written down as a fixed schedule
//! ([`crate::Run::fault_schedule`]): every fault the seed drew becomes one
//! fixed event per firing, so that removing one moves no other. Delta
//! debugging ([`ddmin`]) then removes faults while the run still fails the
//! same check on the same metric or span ([`ShrinkTarget`]) and fails no check
//! the original did not. A different failure is no reproduction.
//!
//! Deterministic for a given budget of runs, and bounded: [`ShrinkBudget`] caps
//! the candidate runs and the real time. A shrink that cannot reproduce the
//! failure from the schedule hands back nothing smaller; the original
//! failure stands either way.

mod ddmin;
mod minimal;

use std::collections::BTreeSet;
use std::fmt;

use obsim_faults::{Fault, FaultPlan, ScheduleOverflow};

use crate::run::ShrinkBudget;
pub use ddmin::ShrinkStop;
use ddmin::{ddmin, Spend};
pub(crate) use minimal::minimal_file;

use crate::checks::{Check, PromtoolMemo, Violation};
use crate::sim::{RunError, Sim};

/// What a candidate must still fail: the first violation's check and its
/// subject (the metric series or span), without the ids of one span or
/// trace: another run of the same bug has other ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkTarget {
    pub check: Check,
    pub subject: String,
}

impl ShrinkTarget {
    fn of(violation: &Violation) -> ShrinkTarget {
        ShrinkTarget {
            check: violation.check,
            subject: without_ids(&violation.subject),
        }
    }

    fn hit_by(&self, violation: &Violation) -> bool {
        violation.check == self.check && without_ids(&violation.subject) == self.subject
    }
}

/// `subject` without span ids (16 hex digits) and trace ids (32).
fn without_ids(subject: &str) -> String {
    let is_id =
        |word: &str| matches!(word.len(), 16 | 32) && word.bytes().all(|b| b.is_ascii_hexdigit());
    let words: Vec<&str> = subject.split(' ').filter(|word| !is_id(word)).collect();
    words.join(" ")
}

impl fmt::Display for ShrinkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.check, self.subject)
    }
}

/// A shrink's result.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultShrink {
    pub seed: u64,
    pub target: ShrinkTarget,
    /// The faults the seed ran with, as its scenario asked (or its swarm drew).
    pub planned: Vec<Fault>,
    /// The same run as a fixed schedule: where shrinking starts.
    pub schedule: Vec<Fault>,
    /// The fewest faults found that still fail the same way; equal to
    /// `schedule` when nothing could be removed.
    pub minimal: Vec<Fault>,
    /// Whether the fixed schedule reproduced the failure at all. When it did
    /// not, `minimal` is the schedule, unshrunk, and the original stands.
    pub reproduced: bool,
    /// Candidate runs used, the schedule's own check included.
    pub runs: u32,
    /// The bound that stopped the shrink early, if one did.
    pub stopped: Option<ShrinkStop>,
}

/// Why a seed could not be shrunk.
#[derive(Clone, Debug, PartialEq)]
pub enum ShrinkError {
    /// The seed's run did not complete: there is no run to shrink.
    Run(RunError),
    /// The seed fails no check on its own run but the determinism check,
    /// which needs two runs, or `faults_fired`, whose fault is already the
    /// whole story: nothing to shrink towards.
    NoViolation,
    /// The run fired more drawn faults than its fault log keeps.
    Schedule(ScheduleOverflow),
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::Run(error) => write!(f, "the run did not complete: {error}"),
            ShrinkError::NoViolation => write!(
                f,
                "the run fails no check that shrinking can aim at (only seed_determinism, \
                 which compares two runs, or faults_fired, or none)"
            ),
            ShrinkError::Schedule(overflow) => write!(f, "{overflow}"),
        }
    }
}

impl std::error::Error for ShrinkError {}

impl Sim {
    /// Shrinks `seed`'s faults to the fewest that still fail the same check
    /// on the same subject as its first violation, within `budget`.
    pub fn shrink_faults(
        &self,
        seed: u64,
        budget: ShrinkBudget,
    ) -> Result<FaultShrink, ShrinkError> {
        let memo = PromtoolMemo::default();
        let run = self.run(seed).map_err(ShrinkError::Run)?;
        let violations = self.check(&run, &memo);
        // A fault that never fired is its own reproduction: nothing to cut.
        let first = violations.iter().find(|v| v.check != Check::FaultsFired);
        let target = ShrinkTarget::of(first.ok_or(ShrinkError::NoViolation)?);
        let failing: BTreeSet<Check> = violations.iter().map(|v| v.check).collect();
        let schedule = run.fault_schedule.clone().map_err(ShrinkError::Schedule)?;
        let planned = run.plan.clone();
        drop(run);
        let mut spend = Spend::new(budget);
        let fails = |faults: &[Fault]| self.fails_alike(seed, faults, &target, &failing, &memo);
        let reproduced = spend.take() && fails(&schedule);
        let minimal = if reproduced {
            let minimal = ddmin(schedule.clone(), &mut spend, fails);
            self.drop_unfired(seed, minimal)
        } else {
            schedule.clone()
        };
        Ok(FaultShrink {
            seed,
            target,
            planned,
            schedule,
            minimal,
            reproduced,
            runs: spend.runs,
            stopped: spend.stopped,
        })
    }

    /// Whether `seed` run with exactly `faults` fails `target`, and no check
    /// outside `failing`.
    fn fails_alike(
        &self,
        seed: u64,
        faults: &[Fault],
        target: &ShrinkTarget,
        failing: &BTreeSet<Check>,
        memo: &PromtoolMemo,
    ) -> bool {
        let Some(candidate) = self.with_faults(faults) else {
            return false;
        };
        let Ok(run) = candidate.run(seed) else {
            return false;
        };
        let violations = candidate.check(&run, memo);
        violations.iter().any(|v| target.hit_by(v))
            && violations.iter().all(|v| failing.contains(&v.check))
    }

    /// This sim with `faults` as its fixed plan, no swarm, and no demand
    /// that every fault fire. Removing faults moves the run's timing (fewer
    /// delays, fewer retries: the workload ends sooner), so a fixed event
    /// may then find no opportunity at or after its `at`. Such an event
    /// changes nothing, as it draws nothing, so it is no reason to reject a
    /// candidate; [`Sim::drop_unfired`] takes it out of the answer. None if
    /// the plan is not valid (it always is for a schedule).
    fn with_faults(&self, faults: &[Fault]) -> Option<Sim> {
        let mut config = self.config().clone();
        config.swarm = None;
        config.every_fault_fires = false;
        config.faults = FaultPlan::new(faults.to_vec(), &config.topology()).ok()?;
        Some(self.with_config(config))
    }

    /// `faults` without the fixed events that never fire when `seed` runs
    /// with them. Such an event draws nothing and acts on nothing, so the
    /// run is the same without it: this costs one run and no reproduction.
    fn drop_unfired(&self, seed: u64, faults: Vec<Fault>) -> Vec<Fault> {
        let Some(run) = self.with_faults(&faults).and_then(|sim| sim.run(seed).ok()) else {
            return faults;
        };
        let fired = |index: &usize| run.fired_by_entry.contains_key(index);
        let kept = faults.into_iter().enumerate();
        kept.filter(|(index, fault)| fault.nth.is_none() || fired(index))
            .map(|(_, fault)| fault)
            .collect()
    }
}
