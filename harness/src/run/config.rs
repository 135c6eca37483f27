//! The settings of a simulation, as plain data: what `Sim::run` reads and
//! what `checks::check_run` selects checks by. The `Builder` that validates
//! them lives in `sim`.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use obsim_faults::{swarm, FaultKind, FaultPlan, PlanError, Topology};
use obsim_scenario::{AlertClaim, Expectation};

use super::check::Check;

/// What the client drives. The harness draws the operation mix; the system
/// decides what each operation means.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Invocations the client issues in total.
    pub invocations: u64,
    /// Invocations in flight at once.
    pub concurrency: usize,
    /// Distinct keys the invocations address: actor ids, collection names,
    /// users. What a key is, the system decides.
    pub keys: u64,
    /// Operation names with their relative weights.
    pub operations: Vec<(String, u32)>,
    /// Pause between one worker's calls: spreads the workload over time so
    /// that scheduled faults meet traffic.
    pub think_time: Duration,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            invocations: 1_000,
            concurrency: 8,
            keys: 64,
            operations: vec![("get".into(), 1), ("increment".into(), 3)],
            think_time: Duration::ZERO,
        }
    }
}

impl Workload {
    /// Picks an operation by weight with `rng`.
    pub fn choose_operation(&self, rng: &mut impl rand::Rng) -> &str {
        let total: u64 = self.operations.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = rng.random_range(0..total.max(1));
        for (name, weight) in &self.operations {
            if pick < u64::from(*weight) {
                return name;
            }
            pick -= u64::from(*weight);
        }
        &self.operations[0].0
    }
}

// Moved here from sim (`Builder` stayed): `checks::check_run` takes it; checks may not reach sim.
/// Every setting of a simulation. Build it with [`crate::Sim::builder`].
#[derive(Clone, Debug)]
pub struct Config {
    pub scenario: String,
    pub servers: usize,
    pub workload: Workload,
    /// The faults every seed gets.
    pub faults: FaultPlan,
    /// With swarm testing on, the kinds each seed draws its own faults from.
    pub swarm: Option<Vec<FaultKind>>,
    /// The run lasts at least this long, and every scheduled fault happens
    /// before it ends.
    pub duration: Duration,
    /// Simulated time after which a run that has not finished fails.
    pub time_limit: Duration,
    /// Quiet time after the workload and the fault schedule finish, so that
    /// in-flight work completes and the scraper sees the final values.
    pub drain: Duration,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub storage_latency: StorageLatency,
    /// Messages a run may send in all: the run's step bound.
    pub message_limit: u64,
    /// Spans a run may open in all: the bound on captured spans.
    pub span_limit: u64,
    /// Scrapes a run may take in all: the bound on captured scrapes.
    pub scrape_limit: u64,
    /// Log events a run may capture in all: the bound on captured logs.
    pub log_limit: u64,
    /// Real time a run may take: a safety net that depends on the machine.
    pub wall_limit: Duration,
    pub fault_log_capacity: usize,
    /// The invariant checks to run.
    pub checks: BTreeSet<Check>,
    /// Whether every fault of the plan must fire at least once in each run.
    pub every_fault_fires: bool,
    /// A scenario's own claims about each run, checked after the invariants.
    pub expectations: Vec<Expectation>,
    /// The command that replays a seed, without the `OBSIM_SEED=` prefix.
    pub replay_command: String,
    /// Distinct values one label of one metric may take across a run before
    /// `exposition_lint` reports it as unbounded.
    pub label_values_max: usize,
    /// The scenario file's text, written beside a failure's artifacts.
    pub scenario_source: Option<String>,
    /// The scenario file's path: what a shrunk scenario's rule files are
    /// found relative to.
    pub scenario_path: Option<std::path::PathBuf>,
    /// How far a failing seed is shrunk into `minimal.toml` beside its
    /// artifacts; None: not at all. Only a scenario file's failures are
    /// shrunk, and only where artifacts are written.
    pub shrink: Option<ShrinkBudget>,
    /// Where failure artifacts go: `<dir>/<scenario>/<seed>/`. None writes
    /// nothing.
    pub artifacts_dir: Option<std::path::PathBuf>,
    /// The alerting and recording rules each run is evaluated with.
    pub alerts: Alerts,
    /// The Grafana dashboards each run's panels are evaluated from: the
    /// system's (from its contract), then the scenario's.
    pub dashboards: Vec<obsim_rules::Dashboard>,
}

/// Prometheus rules and how they are evaluated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Alerts {
    /// The system's rule files (from its contract), then the scenario's.
    pub rule_files: Vec<obsim_rules::RuleFile>,
    /// How often rules are evaluated; None: at the scrape interval.
    pub evaluation_interval: Option<std::time::Duration>,
    /// Claims about the alerts of every run (`alert X fires during ...`).
    pub expectations: Vec<obsim_scenario::AlertExpectation>,
}

impl Alerts {
    /// Ok unless two rule groups share a name: promtool's
    /// `group_eval_order`, which a failure's test file needs, names groups
    /// by name alone.
    pub(crate) fn check_group_names(&self) -> Result<(), ConfigError> {
        let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
        for file in &self.rule_files {
            for group in &file.groups {
                if let Some(other) = seen.insert(&group.name, &file.path) {
                    return Err(ConfigError {
                        field: format!("alert rules {:?}", file.path),
                        problem: format!(
                            "rule group {:?} is also a group of {other:?}: give each group a \
                             name of its own",
                            group.name
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Ok unless a claim about alerts could never be checked: the check
    /// that evaluates rules is off, no rule defines the alert, the fault
    /// window it reads never closes, or its series is not a selector.
    pub(crate) fn check_expectations(
        &self,
        checks: &BTreeSet<Check>,
        faults: &[obsim_faults::Fault],
    ) -> Result<(), ConfigError> {
        let error = |claim: &obsim_scenario::AlertExpectation, problem: String| ConfigError {
            field: format!("alert expectation `{}`", claim.text),
            problem,
        };
        let alerts: BTreeSet<&str> = self
            .rule_files
            .iter()
            .flat_map(|file| file.groups.iter().flat_map(|group| &group.rules))
            .filter(|rule| rule.is_alert())
            .map(|rule| rule.name())
            .collect();
        for claim in &self.expectations {
            if let AlertClaim::Panel { .. } = &claim.claim {
                continue;
            }
            if !checks.contains(&Check::AlertCorrectness) {
                return Err(error(
                    claim,
                    "needs the alert_correctness check, which evaluates the rules".into(),
                ));
            }
            if let Some(alert) = claim.claim.alert() {
                if !alerts.contains(alert.name.as_str()) {
                    let known: Vec<&str> = alerts.iter().copied().collect();
                    return Err(error(
                        claim,
                        format!(
                            "no alerting rule is named {:?}, so it could never fire. The rules \
                             define {}",
                            alert.name,
                            if known.is_empty() {
                                "no alert".into()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
            }
            if let AlertClaim::Resolves { fault, .. } = &claim.claim {
                let closes = faults.get(*fault).and_then(fault_window_end);
                let triggered = faults.get(*fault).is_some_and(|f| f.trigger.is_some());
                if triggered {
                    return Err(error(
                        claim,
                        format!(
                            "faults[{fault}] is a crash an event sets off (`on`), at a time no \
                             plan knows, so no claim can resolve after it: aim the claim at a \
                             crash with `at`"
                        ),
                    ));
                }
                if closes.is_none() {
                    return Err(error(
                        claim,
                        format!(
                            "faults[{fault}]'s window never closes (it has no `for` or \
                             `restart_after`), so nothing can resolve after it"
                        ),
                    ));
                }
            }
            if let AlertClaim::Slo { series, .. } = &claim.claim {
                let parsed = promql_series(series);
                if let Err(problem) = parsed {
                    return Err(error(claim, problem));
                }
            }
        }
        Ok(())
    }

    /// Ok unless a `panel` claim could never be checked: the check that
    /// evaluates dashboards is off, or its title names no panel of
    /// `dashboards`, several, or a panel of several targets.
    pub(crate) fn check_panel_claims(
        &self,
        checks: &BTreeSet<Check>,
        dashboards: &[obsim_rules::Dashboard],
    ) -> Result<(), ConfigError> {
        for claim in &self.expectations {
            let AlertClaim::Panel { title, .. } = &claim.claim else {
                continue;
            };
            let error = |problem: String| ConfigError {
                field: format!("alert expectation `{}`", claim.text),
                problem,
            };
            if !checks.contains(&Check::DashboardQueries) {
                return Err(error(
                    "needs the dashboard_queries check, which evaluates the dashboards".into(),
                ));
            }
            let found: Vec<(&obsim_rules::Dashboard, &obsim_rules::Panel)> = dashboards
                .iter()
                .flat_map(|d| d.panels_titled(title).map(move |panel| (d, panel)))
                .collect();
            match found.as_slice() {
                [] => {
                    let titles: Vec<String> = dashboards
                        .iter()
                        .flat_map(|d| &d.panels)
                        .map(|panel| format!("{:?}", panel.title))
                        .collect();
                    return Err(error(format!(
                        "no dashboard panel is titled {title:?}, so it could never be read. The \
                         dashboards have {}",
                        if titles.is_empty() {
                            "no panel with a query".to_string()
                        } else {
                            titles.join(", ")
                        }
                    )));
                }
                [(_, panel)] if panel.targets.len() != 1 => {
                    return Err(error(format!(
                        "panel {title:?} has {} targets: a claim reads a panel of one",
                        panel.targets.len()
                    )));
                }
                [(_, panel)] if !panel.targets[0].reads_series => {
                    return Err(error(format!(
                        "panel {title:?}'s query `{}` selects no series: it reads the same \
                         whatever the run does, so the claim would say nothing",
                        panel.targets[0].expr
                    )));
                }
                [_] => {}
                several => {
                    let places: Vec<String> = several
                        .iter()
                        .map(|(d, p)| match p.line {
                            Some(line) => format!("{}:{line}", d.path),
                            None => d.path.clone(),
                        })
                        .collect();
                    return Err(error(format!(
                        "{} panels are titled {title:?} ({}): the claim is ambiguous. Give the \
                         panel a title of its own",
                        several.len(),
                        places.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// Every group name, in evaluation order.
    pub fn group_names(&self) -> Vec<String> {
        self.rule_files
            .iter()
            .flat_map(|file| file.groups.iter().map(|group| group.name.clone()))
            .collect()
    }
}

/// How far a shrink may go: candidate runs, and real time as a safety net.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShrinkBudget {
    /// Candidate runs at most. A candidate for a seed that fails only
    /// `seed_determinism` simulates the seed twice and counts once.
    pub runs_max: u32,
    /// Real time at most. A shrink that this stops depends on the machine's
    /// speed, so the report says so; `runs_max` is the bound that keeps a
    /// shrink deterministic.
    pub wall_max: Duration,
}

impl ShrinkBudget {
    /// What a failing seed gets unless `OBSIM_SHRINK` or the builder says
    /// otherwise: 100 candidate runs, 30 seconds.
    pub const DEFAULT: ShrinkBudget = ShrinkBudget {
        runs_max: 100,
        wall_max: Duration::from_secs(30),
    };
}

impl Config {
    /// What fault plans are validated against.
    pub fn topology(&self) -> Topology {
        topology(self.servers, &self.workload, self.duration, self.time_limit)
    }

    /// The faults of `seed`: the fixed ones, plus the swarm's draw.
    pub fn plan_for(&self, seed: u64) -> Result<FaultPlan, PlanError> {
        let Some(kinds) = &self.swarm else {
            return Ok(self.faults.clone());
        };
        let mut faults = self.faults.faults().to_vec();
        faults.extend(swarm::draw(seed, &self.topology(), kinds));
        FaultPlan::new(faults, &self.topology())
    }
}

/// When a fault's window closes: after its `for`, or when a crashed node
/// restarts. None: it stays open to the run's end, or, for a crash an event
/// sets off, closes at a time no plan knows.
pub fn fault_window_end(fault: &obsim_faults::Fault) -> Option<std::time::Duration> {
    // A triggered crash's `for` is the window its event may fall in, and
    // its restart follows the event: neither is known before the run.
    if fault.trigger.is_some() {
        return None;
    }
    if let Some(duration) = fault.duration {
        return Some(fault.at + duration);
    }
    match fault.effect {
        obsim_faults::Effect::NodeCrash {
            restart_after: Some(after),
        } => Some(fault.at + after),
        _ => None,
    }
}

/// A claim's series selector, parsed: a plain vector selector, nothing else.
pub fn promql_series(text: &str) -> Result<obsim_rules::VectorSelector, String> {
    match obsim_rules::parse_promql(text) {
        Ok(obsim_rules::Expr::VectorSelector(selector)) => Ok(selector),
        Ok(_) => Err(format!(
            "`{text}` is not a series selector such as `name{{label=\"value\"}}`"
        )),
        Err(problem) => Err(format!("`{text}` does not parse as PromQL: {problem}")),
    }
}

pub(crate) fn topology(
    servers: usize,
    workload: &Workload,
    run_end: Duration,
    time_limit: Duration,
) -> Topology {
    Topology {
        servers,
        operations: workload
            .operations
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
        run_end,
        time_limit,
    }
}

// Moved here from sim with `Config`: `Contract::rules` returns it too.
/// A setting that cannot work, named by the builder method that set it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obsim config `{}`: {}", self.field, self.problem)
    }
}

impl std::error::Error for ConfigError {}

// Moved here from sim's storage: `Config` holds it, and `Config` is in run.
/// The simulated service time of each operation, before any fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageLatency {
    pub read: Duration,
    pub write: Duration,
}

impl Default for StorageLatency {
    fn default() -> Self {
        StorageLatency {
            read: Duration::from_millis(1),
            write: Duration::from_millis(3),
        }
    }
}
