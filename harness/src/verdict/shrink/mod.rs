//! Shrinking: a failing seed cut down to the fewest faults, and then the
//! smallest workload, duration and cluster ([`ShrinkShape`]), that still
//! fail the same way.
//!
//! A failing run's faults are first written down as a fixed schedule
//! ([`crate::Run::fault_schedule`]): every fault the seed drew becomes one
//! fixed event per firing, so that removing one moves no other. Delta
//! debugging ([`ddmin`]) then removes faults while the run still fails the
//! same check on the same metric or span ([`ShrinkTarget`]), fails no check
//! the original did not, and breaks no claim the original kept. A different
//! failure is no reproduction. Then the run's size is halved, one dimension
//! at a time, while it still fails.
//!
//! Claims are compared one by one, not as their check: each expectation,
//! alert claim and accuracy rule. A target that is a claim must fail again
//! as it did, with a value (or, if it could not be evaluated in the seed's
//! own run, not be evaluated again): a claim whose selector no longer
//! matches anything is not the bug. And every claim the seed's run held
//! must hold in a candidate, or not be judged there at all (a claim about
//! the window of a fault the candidate dropped).
//!
//! Deterministic for a given budget of runs, and bounded: [`ShrinkBudget`] caps
//! the candidate runs and the real time. A shrink that cannot reproduce the
//! failure from the schedule hands back nothing smaller; the original
//! failure stands either way.

mod claims;
mod ddmin;
mod minimal;
mod shape;

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use obsim_faults::{Fault, FaultPlan, PlanError, ScheduleOverflow};
use obsim_scenario::AlertExpectation;

use crate::run::{Config, ShrinkBudget};
use claims::claims_under;
pub use ddmin::ShrinkStop;
use ddmin::{ddmin, Spend};
pub(crate) use minimal::{deferred, for_artifacts, MINIMAL_TOML};
pub use shape::ShrinkShape;

use crate::checks::judged::Judgements;
use crate::checks::{Check, Claim, Judgement, PromtoolMemo, Violation};
use crate::run::Run;
use crate::sim::{RunError, Sim};

/// What a candidate must still fail: the first violation's check and its
/// subject (the metric series or span), without the ids of one span or
/// trace: another run of the same bug has other ids.
///
/// A violation of a claim (an expectation, an alert claim, an accuracy
/// rule) is aimed at that very claim, and at what the seed's run said of
/// it: a candidate must fail it the same way, with a value, not with an
/// evaluation error. Several accuracy rules share a metric's subject, and a
/// rule that cannot be evaluated once an operation left the workload is a
/// violation with the same check and subject, but not the bug.
///
/// A seed that fails only `seed_determinism` is aimed at that check, with
/// the subject [`ShrinkTarget::DIVERGING`]: each candidate then runs twice,
/// and must diverge anywhere (the first differing line moves as the run
/// shrinks, and is no part of the bug).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkTarget {
    pub check: Check,
    pub subject: String,
    /// The claim the violation reports, and what the seed's run said of it
    /// ([`Judgement::Fails`], or [`Judgement::Unevaluable`] when the claim
    /// could not be evaluated there either); None for a violation of no
    /// claim, which a candidate matches by check and subject.
    pub claim: Option<(Claim, Judgement)>,
}

impl ShrinkTarget {
    /// The subject of a determinism target: the seed's two runs differ.
    pub const DIVERGING: &'static str = "two runs of the seed";

    fn of(violation: &Violation, judged: &Judgements) -> ShrinkTarget {
        let claim = judged
            .claim_of(violation)
            .and_then(|claim| Some((claim.clone(), judged.get(claim)?)));
        ShrinkTarget {
            check: violation.check,
            subject: without_ids(&violation.subject),
            claim,
        }
    }

    fn diverging() -> ShrinkTarget {
        ShrinkTarget {
            check: Check::SeedDeterminism,
            subject: ShrinkTarget::DIVERGING.into(),
            claim: None,
        }
    }

    fn is_divergence(&self) -> bool {
        self.check == Check::SeedDeterminism
    }

    /// Whether a candidate's run fails this target again: its claim the
    /// same way, or else a violation of the same check and subject.
    fn hit_in(&self, violations: &[Violation], judged: &Judgements) -> bool {
        if let Some((claim, judgement)) = &self.claim {
            return judged.get(claim) == Some(*judgement);
        }
        if self.is_divergence() {
            return violations.iter().any(|v| v.check == Check::SeedDeterminism);
        }
        violations
            .iter()
            .any(|v| v.check == self.check && without_ids(&v.subject) == self.subject)
    }
}

/// What a candidate is held to, from the seed's own run: fail the target
/// again, fail no check that run passed, and break no claim it kept.
struct Alike {
    target: ShrinkTarget,
    failing: BTreeSet<Check>,
    /// The claims that held, each compared on its own: a check that failed
    /// on one expectation is no licence to break another (a precondition
    /// such as `faults.storage_write_failure >= 1`).
    held: Vec<Claim>,
}

impl Alike {
    fn met_by(&self, violations: &[Violation], judged: &Judgements) -> bool {
        let broken = |claim: &Claim| judged.get(claim).is_some_and(|j| j != Judgement::Holds);
        self.target.hit_in(violations, judged)
            && violations.iter().all(|v| self.failing.contains(&v.check))
            && !self.held.iter().any(broken)
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
    /// The run's size as the scenario set it.
    pub before: ShrinkShape,
    /// The smallest size found that still fails the same way, with
    /// `minimal`; equal to `before` when nothing could be cut.
    pub after: ShrinkShape,
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
    /// The seed fails no check but `faults_fired`, whose fault is already
    /// the whole story, or none at all, or not the check it was aimed at:
    /// nothing to shrink towards.
    NoViolation,
    /// The run fired more drawn faults than its fault log keeps.
    Schedule(ScheduleOverflow),
    /// The failure is a claim about a fault's window (`alert X fires
    /// during faults[I]`), and that fault is drawn: written down as fixed
    /// events, it has no window left for the claim to read.
    WindowGone(String),
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::Run(error) => write!(f, "the run did not complete: {error}"),
            ShrinkError::NoViolation => write!(
                f,
                "the run fails no check that shrinking can aim at (only faults_fired, whose \
                 unfired fault is the whole story, or none, or not the check asked for)"
            ),
            ShrinkError::Schedule(overflow) => write!(f, "{overflow}"),
            ShrinkError::WindowGone(claim) => write!(
                f,
                "the failing claim `{claim}` reads a drawn fault's window, and written down \
                 as fixed events that fault has none"
            ),
        }
    }
}

impl std::error::Error for ShrinkError {}

/// A run at least this long (`run.duration`) has its shape cut before its
/// faults: a 25-minute alert scenario costs a second or more per candidate,
/// and halving it first makes ddmin's many candidates cheap. Shorter runs
/// cut faults first, which measured smaller answers on the reference
/// systems' switches (1 fault where shape-first left 6 or 12).
const SHAPE_FIRST_DURATION_MIN: Duration = Duration::from_secs(60);

/// One run to try: faults and a shape.
#[derive(Clone, Debug, PartialEq)]
struct Candidate {
    faults: Vec<Fault>,
    shape: ShrinkShape,
}

impl Sim {
    /// Shrinks `seed`'s failure to the fewest faults, and then the smallest
    /// workload, duration and cluster, that still fail the same check on
    /// the same subject as its first violation, within `budget`.
    pub fn shrink_faults(
        &self,
        seed: u64,
        budget: ShrinkBudget,
    ) -> Result<FaultShrink, ShrinkError> {
        self.shrink_aimed(seed, None, budget)
    }

    /// [`Sim::shrink_faults`], aimed at `check`'s first violation rather
    /// than the run's first: for a seed that fails several checks, when
    /// the one that matters is not the first reported (an alert that pages
    /// for nothing, say, behind the counter that made it page).
    pub fn shrink_check(
        &self,
        seed: u64,
        check: Check,
        budget: ShrinkBudget,
    ) -> Result<FaultShrink, ShrinkError> {
        self.shrink_aimed(seed, Some(check), budget)
    }

    fn shrink_aimed(
        &self,
        seed: u64,
        aim: Option<Check>,
        budget: ShrinkBudget,
    ) -> Result<FaultShrink, ShrinkError> {
        let memo = PromtoolMemo::default();
        let run = self.run(seed).map_err(ShrinkError::Run)?;
        let (mut violations, judged) = self.check_judged(&run, &memo);
        // A fault that never fired is its own reproduction: nothing to cut.
        let aimed = |v: &&Violation| aim.map_or(v.check != Check::FaultsFired, |c| v.check == c);
        let first = violations
            .iter()
            .find(aimed)
            .map(|violation| ShrinkTarget::of(violation, &judged));
        let target = match first {
            Some(target) => target,
            None if aim.is_some_and(|check| check != Check::SeedDeterminism) => {
                return Err(ShrinkError::NoViolation);
            }
            None => {
                let diverged = self.diverges(&run).map_err(ShrinkError::Run)?;
                if diverged.is_empty() {
                    return Err(ShrinkError::NoViolation);
                }
                violations.extend(diverged);
                ShrinkTarget::diverging()
            }
        };
        let schedule = run.fault_schedule.clone().map_err(ShrinkError::Schedule)?;
        if let Some(claim) = self.claim_without_window(&target, &schedule) {
            return Err(ShrinkError::WindowGone(claim));
        }
        let planned = run.plan.clone();
        drop(run);
        let alike = Alike {
            target,
            failing: violations.iter().map(|v| v.check).collect(),
            held: judged
                .iter()
                .filter(|(_, judgement)| *judgement == Judgement::Holds)
                .map(|(claim, _)| claim.clone())
                .collect(),
        };
        let mut spend = Spend::new(budget);
        let fails = |candidate: &Candidate| self.fails_alike(seed, candidate, &alike, &memo);
        let before = ShrinkShape::of(self.config());
        let whole = Candidate {
            faults: schedule.clone(),
            shape: before.clone(),
        };
        let reproduced = spend.take() && fails(&whole);
        let mut best = whole;
        if reproduced {
            if self.config().duration >= SHAPE_FIRST_DURATION_MIN {
                // A long run makes every ddmin candidate dear: cut the run
                // first, with every fault, then the events that no longer
                // fire in it (one run), so ddmin works on what is left.
                best = self.shrink_shape(best, &mut spend, &fails);
                if spend.take() {
                    best.faults = self.drop_unfired(seed, &best);
                }
            }
            best = Self::ddmin_at(best, &mut spend, &fails);
            let shape = best.shape.clone();
            best = self.shrink_shape(best, &mut spend, &fails);
            // A smaller run may need fewer faults still.
            if best.shape != shape && best.faults.len() > 1 {
                best = Self::ddmin_at(best, &mut spend, &fails);
            }
            best.faults = self.drop_unfired(seed, &best);
        }
        Ok(FaultShrink {
            seed,
            target: alike.target,
            planned,
            schedule,
            minimal: best.faults,
            before,
            after: best.shape,
            reproduced,
            runs: spend.runs,
            stopped: spend.stopped,
        })
    }

    /// `best` with the fewest of its faults that still fail, at its shape.
    fn ddmin_at(
        best: Candidate,
        spend: &mut Spend,
        fails: &impl Fn(&Candidate) -> bool,
    ) -> Candidate {
        let shape = best.shape;
        let faults = ddmin(best.faults, spend, |faults: &[Fault]| {
            fails(&Candidate {
                faults: faults.to_vec(),
                shape: shape.clone(),
            })
        });
        Candidate { faults, shape }
    }

    /// Greedily takes the first smaller shape that still fails, until none
    /// does or the budget is spent.
    fn shrink_shape(
        &self,
        mut best: Candidate,
        spend: &mut Spend,
        fails: &impl Fn(&Candidate) -> bool,
    ) -> Candidate {
        let scrape_interval = self.config().scrape_interval;
        'smaller: loop {
            // A cluster the system does not run on (a proxy needs its
            // upstream) is no candidate, and costs no run.
            let runnable =
                |shape: &ShrinkShape| self.contract().check_servers(shape.servers).is_ok();
            for shape in best
                .shape
                .smaller(scrape_interval)
                .into_iter()
                .filter(runnable)
            {
                if !spend.take() {
                    break 'smaller;
                }
                let candidate = Candidate {
                    faults: self.faults_under(&best.faults, &shape),
                    shape,
                };
                if fails(&candidate) {
                    best = candidate;
                    continue 'smaller;
                }
            }
            break;
        }
        best
    }

    /// Whether `seed` run as `candidate` fails as `alike` asks: the
    /// target again, no check outside the original's failing ones, and no
    /// claim the original held.
    fn fails_alike(
        &self,
        seed: u64,
        candidate: &Candidate,
        alike: &Alike,
        memo: &PromtoolMemo,
    ) -> bool {
        let Some(sim) = self.with_candidate(candidate) else {
            return false;
        };
        let Ok(run) = sim.run(seed) else {
            return false;
        };
        let (mut violations, judged) = sim.check_judged(&run, memo);
        if alike.target.is_divergence() {
            let Ok(diverged) = sim.diverges(&run) else {
                return false;
            };
            violations.extend(diverged);
        }
        alike.met_by(&violations, &judged)
    }

    /// `seed_determinism` between `first` and a second run of its seed,
    /// when the config checks determinism: empty when they agree.
    fn diverges(&self, first: &Run) -> Result<Vec<Violation>, RunError> {
        if !self.config().checks.contains(&Check::SeedDeterminism) {
            return Ok(Vec::new());
        }
        let second = self.run(first.seed)?;
        Ok(crate::checks::seed_determinism(first, &second))
    }

    /// The sim that `shrunk` describes: its minimal faults as the fixed
    /// plan, at its smallest shape, with no swarm. Checking `shrunk.seed`
    /// on it fails `shrunk.target` again; this is the code-built twin of
    /// the `minimal.toml` a scenario file's failure gets.
    pub fn minimal(&self, shrunk: &FaultShrink) -> Result<Sim, PlanError> {
        let mut config = self.config_for(&shrunk.after, &shrunk.minimal)?;
        // A swarm's faults need not all fire (`every_fault_fires = false` in
        // a swarm file's minimal.toml too); a plain plan's must.
        config.every_fault_fires &= self.config().swarm.is_none();
        Ok(self.with_config(config))
    }

    /// The claim `target` is, when it names a fault that `schedule` no
    /// longer has as written: no candidate can check it.
    fn claim_without_window(&self, target: &ShrinkTarget, schedule: &[Fault]) -> Option<String> {
        if target.check != Check::Expectation {
            return None;
        }
        let claims = &self.config().alerts.expectations;
        let kept = claims_under(claims, self.config().faults.faults(), schedule);
        let gone = |claim: &&AlertExpectation| !kept.iter().any(|k| k.text == claim.text);
        claims
            .iter()
            .filter(gone)
            .find(|claim| format!("`{}`", claim.text) == target.subject)
            .map(|claim| claim.text.clone())
    }

    /// The faults of `faults` that a run of `shape` can still honour: a
    /// smaller cluster or a shorter run has no place for the others.
    fn faults_under(&self, faults: &[Fault], shape: &ShrinkShape) -> Vec<Fault> {
        let topology = self.config_of(shape).topology();
        let fits = |fault: &&Fault| FaultPlan::new(vec![(*fault).clone()], &topology).is_ok();
        faults.iter().filter(fits).cloned().collect()
    }

    fn config_of(&self, shape: &ShrinkShape) -> Config {
        let mut config = self.config().clone();
        config.servers = shape.servers;
        config.workload.invocations = shape.invocations;
        config.workload.concurrency = shape.concurrency;
        config.duration = shape.duration;
        config.workload.operations = shape.operations.clone();
        config
    }

    /// This sim run as `candidate`: its faults as the fixed plan, no swarm,
    /// and no demand that every fault fire. Removing faults moves the run's
    /// timing (fewer delays, fewer retries: the workload ends sooner), so a
    /// fixed event may then find no opportunity at or after its `at`. Such
    /// an event changes nothing, as it draws nothing, so it is no reason to
    /// reject a candidate; [`Sim::drop_unfired`] takes it out of the answer.
    /// None if the plan is not valid for the shape.
    fn with_candidate(&self, candidate: &Candidate) -> Option<Sim> {
        self.contract()
            .check_servers(candidate.shape.servers)
            .ok()?;
        let mut config = self.config_for(&candidate.shape, &candidate.faults).ok()?;
        config.every_fault_fires = false;
        Some(self.with_config(config))
    }

    /// This sim's config for a run of `faults` at `shape`, with no swarm.
    /// A claim about a fault's window (`alert X fires during faults[I]`) is
    /// moved to where that fault is in `faults`, and dropped when it is not
    /// there, as `minimal.toml` drops it: a drawn fault written down as
    /// fixed events has no window of its own.
    fn config_for(&self, shape: &ShrinkShape, faults: &[Fault]) -> Result<Config, PlanError> {
        let mut config = self.config_of(shape);
        let planned = self.config().faults.faults();
        config.alerts.expectations = claims_under(&config.alerts.expectations, planned, faults);
        config.swarm = None;
        config.faults = FaultPlan::new(faults.to_vec(), &config.topology())?;
        Ok(config)
    }

    /// `candidate`'s faults without the fixed events that never fire when
    /// `seed` runs it. Such an event draws nothing and acts on nothing, so
    /// the run is the same without it: this costs one run and no
    /// reproduction.
    fn drop_unfired(&self, seed: u64, candidate: &Candidate) -> Vec<Fault> {
        let faults = candidate.faults.clone();
        let Some(run) = self
            .with_candidate(candidate)
            .and_then(|sim| sim.run(seed).ok())
        else {
            return faults;
        };
        let fired = |index: &usize| run.fired_by_entry.contains_key(index);
        let kept = faults.into_iter().enumerate();
        kept.filter(|(index, fault)| fault.nth.is_none() || fired(index))
            .map(|(_, fault)| fault)
            .collect()
    }
}
