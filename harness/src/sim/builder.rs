use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use obsim_faults::{Fault, FaultKind, FaultPlan};
use obsim_scenario::Expectation;

use crate::run::{
    topology, Alerts, Check, Config, ConfigError, ShrinkBudget, StorageLatency, Workload,
};

/// Builds a [`Config`]; every setting has a documented default.
#[derive(Clone, Debug)]
pub struct Builder {
    scenario: String,
    servers: usize,
    workload: Workload,
    faults: Vec<Fault>,
    swarm: Option<Vec<FaultKind>>,
    duration: Duration,
    time_limit: Duration,
    drain: Duration,
    scrape_interval: Duration,
    scrape_timeout: Duration,
    storage_latency: StorageLatency,
    message_limit: u64,
    span_limit: u64,
    scrape_limit: u64,
    log_limit: u64,
    wall_limit: Duration,
    fault_log_capacity: usize,
    checks: BTreeSet<Check>,
    every_fault_fires: bool,
    expectations: Vec<Expectation>,
    replay_command: String,
    label_values_max: usize,
    scenario_source: Option<String>,
    scenario_path: Option<PathBuf>,
    shrink: Result<Option<ShrinkBudget>, String>,
    artifacts_dir: Option<std::path::PathBuf>,
    alerts: Alerts,
    dashboards: Vec<obsim_rules::Dashboard>,
    /// Why `$OBSIM_ARTIFACTS_DIR` cannot be used, reported by `build`
    /// unless the caller names a folder itself.
    artifacts_env_error: Option<String>,
}

/// Spans one run may capture unless the scenario says otherwise.
pub const SPAN_LIMIT_DEFAULT: u64 = 2_000_000;
/// Scrapes one run may take unless the scenario says otherwise.
pub const SCRAPE_LIMIT_DEFAULT: u64 = 100_000;
/// Log events one run may capture unless the scenario says otherwise: as
/// many as spans, since a service logs about as often as it opens a span.
pub const LOG_LIMIT_DEFAULT: u64 = 2_000_000;
/// Real time one run may take unless the scenario says otherwise: the
/// heaviest shipped seed takes a few seconds in release, under a minute in
/// a debug build.
pub const WALL_LIMIT_DEFAULT: Duration = Duration::from_secs(300);

/// Distinct values per label per metric before a label counts as unbounded.
pub const LABEL_VALUES_MAX_DEFAULT: usize = 100;

impl Builder {
    pub(crate) fn new(scenario: &str) -> Builder {
        Builder {
            scenario: scenario.to_string(),
            servers: 3,
            workload: Workload::default(),
            faults: Vec::new(),
            swarm: None,
            duration: Duration::from_secs(10),
            time_limit: Duration::from_secs(600),
            drain: Duration::from_secs(10),
            scrape_interval: Duration::from_secs(1),
            scrape_timeout: Duration::from_millis(500),
            storage_latency: StorageLatency::default(),
            message_limit: 1_000_000,
            span_limit: SPAN_LIMIT_DEFAULT,
            scrape_limit: SCRAPE_LIMIT_DEFAULT,
            log_limit: LOG_LIMIT_DEFAULT,
            wall_limit: WALL_LIMIT_DEFAULT,
            fault_log_capacity: 100_000,
            checks: Check::INVARIANTS.into_iter().collect(),
            every_fault_fires: true,
            expectations: Vec::new(),
            replay_command: "cargo test".into(),
            label_values_max: LABEL_VALUES_MAX_DEFAULT,
            scenario_source: None,
            scenario_path: None,
            shrink: shrink_from_env(std::env::var("OBSIM_SHRINK").ok().as_deref()),
            artifacts_dir: default_dir(env_dir()).unwrap_or_default(),
            artifacts_env_error: default_dir(env_dir()).err(),
            alerts: Alerts::default(),
            dashboards: Vec::new(),
        }
    }

    /// Server nodes (default 3).
    pub fn servers(mut self, servers: usize) -> Self {
        self.servers = servers;
        self
    }

    /// The client's workload (default: 1,000 invocations, 8 in flight, 64
    /// keys, `get`:`increment` 1:3).
    pub fn workload(mut self, workload: Workload) -> Self {
        self.workload = workload;
        self
    }

    /// Adds one fault (default: none).
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Replaces every fault added so far with `faults`: how a shrunk fault
    /// list ([`crate::FaultShrink::minimal`]) runs on its own.
    pub fn faults(mut self, faults: Vec<Fault>) -> Self {
        self.faults = faults;
        self
    }

    /// Swarm testing: each seed also draws its own faults from `kinds`
    /// (default: off).
    pub fn swarm(mut self, kinds: Vec<FaultKind>) -> Self {
        self.swarm = Some(kinds);
        self
    }

    /// The run's minimum length; every scheduled fault must happen before
    /// it ends (default 10 s).
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// The invariant checks to run (default: all of [`Check::INVARIANTS`]).
    pub fn checks(mut self, checks: impl IntoIterator<Item = Check>) -> Self {
        self.checks = checks.into_iter().collect();
        self
    }

    /// Whether each fault must fire at least once in every run (default
    /// true): a scenario whose faults never fire fails rather than passing
    /// vacuously.
    pub fn every_fault_fires(mut self, required: bool) -> Self {
        self.every_fault_fires = required;
        self
    }

    /// Adds an expectation every run must meet (default: none).
    pub fn expect(mut self, expectation: Expectation) -> Self {
        self.expectations.push(expectation);
        self
    }

    /// Simulated time a run may take before it fails (default 600 s).
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self
    }

    /// Quiet time after the workload and faults end (default 10 s).
    pub fn drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    /// Scrape every `interval` (default 1 s), giving up after `timeout`
    /// (default 500 ms). The timeout must be shorter than the interval.
    pub fn scrape(mut self, interval: Duration, timeout: Duration) -> Self {
        self.scrape_interval = interval;
        self.scrape_timeout = timeout;
        self
    }

    /// Storage service times (default: read 1 ms, write 3 ms).
    pub fn storage_latency(mut self, latency: StorageLatency) -> Self {
        self.storage_latency = latency;
        self
    }

    /// Messages a run may send (default 1,000,000). The run stops, failed,
    /// the moment it asks for one more.
    pub fn message_limit(mut self, limit: u64) -> Self {
        self.message_limit = limit;
        self
    }

    /// Spans a run may capture (default [`SPAN_LIMIT_DEFAULT`]): the bound
    /// on what span capture holds. The run stops, failed, at the next one.
    pub fn span_limit(mut self, limit: u64) -> Self {
        self.span_limit = limit;
        self
    }

    /// Scrapes a run may take (default [`SCRAPE_LIMIT_DEFAULT`]). The run
    /// stops, failed, at the next one.
    pub fn scrape_limit(mut self, limit: u64) -> Self {
        self.scrape_limit = limit;
        self
    }

    /// Log events a run may capture (default [`LOG_LIMIT_DEFAULT`]): the
    /// bound on what log capture holds. The run stops, failed, at the next
    /// one: a service that logs in a loop is stopped, not left to fill
    /// memory.
    pub fn log_limit(mut self, limit: u64) -> Self {
        self.log_limit = limit;
        self
    }

    /// Real time a run may take (default [`WALL_LIMIT_DEFAULT`]): a safety
    /// net for a scenario whose simulated time costs more real time than
    /// anyone meant (a system's own timers over a century). The run stops,
    /// failed, at its next message, span or scrape past it. Unlike the other
    /// bounds, whether a seed crosses it depends on the machine.
    pub fn wall_limit(mut self, limit: Duration) -> Self {
        self.wall_limit = limit;
        self
    }

    /// Fault events the log keeps for reports and artifacts (default
    /// 100,000). Past it, events are counted (`faults.<kind>` and
    /// `faults_fired` read the counts) but not stored, so a runaway scenario
    /// cannot exhaust memory.
    pub fn fault_log_capacity(mut self, capacity: usize) -> Self {
        self.fault_log_capacity = capacity;
        self
    }

    /// The command that replays one seed, printed after `OBSIM_SEED=<seed>`
    /// in every failure (default `cargo test`). Name the test binary and the
    /// test, e.g. `cargo test --test skeleton -- --exact my_test`.
    pub fn replay_command(mut self, command: &str) -> Self {
        self.replay_command = command.to_string();
        self
    }

    /// Distinct values one label of one metric may take across a run
    /// (default 100): more is an id used as a label.
    pub fn label_values_max(mut self, max: usize) -> Self {
        self.label_values_max = max;
        self
    }

    /// The scenario file's text, kept with a failure's artifacts (default:
    /// none).
    pub fn scenario_file(mut self, path: &std::path::Path) -> Self {
        self.scenario_path = Some(path.to_path_buf());
        self
    }

    /// How far a failing seed is shrunk when its artifacts are written: into
    /// `minimal.toml` beside them for a scenario file, into the message's
    /// `shrunk:` line for a sim built in code; None turns shrinking off
    /// (default: `$OBSIM_SHRINK`, else [`ShrinkBudget::DEFAULT`]).
    pub fn shrink(mut self, budget: Option<ShrinkBudget>) -> Self {
        self.shrink = Ok(budget);
        self
    }

    pub fn scenario_source(mut self, text: &str) -> Self {
        self.scenario_source = Some(text.to_string());
        self
    }

    /// Where failure artifacts are written (default: `$OBSIM_ARTIFACTS_DIR`,
    /// else `<target dir>/obsim/failures/<package>`); None turns them off.
    pub fn artifacts_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.artifacts_dir = dir;
        self.artifacts_env_error = None;
        self
    }

    /// Adds a Prometheus rule file, loaded with `obsim_rules::load`, to
    /// the rules the system's contract ships (default: none beyond those).
    pub fn alert_rules(mut self, file: obsim_rules::RuleFile) -> Self {
        self.alerts.rule_files.push(file);
        self
    }

    /// Adds a claim about every run's alerts (default: none). Its alert
    /// must be defined by a rule file, or `build` fails.
    pub fn expect_alert(mut self, claim: obsim_scenario::AlertExpectation) -> Self {
        self.alerts.expectations.push(claim);
        self
    }

    /// Adds a Grafana dashboard, loaded with `obsim_rules::load_dashboard`,
    /// to the dashboards the system's contract ships (default: none beyond
    /// those).
    pub fn dashboard(mut self, dashboard: obsim_rules::Dashboard) -> Self {
        self.dashboards.push(dashboard);
        self
    }

    /// How often rules are evaluated (default: at the scrape interval).
    pub fn evaluation_interval(mut self, interval: Duration) -> Self {
        self.alerts.evaluation_interval = Some(interval);
        self
    }

    pub(crate) fn config(self) -> Result<Config, ConfigError> {
        let error = |field: &str, problem: String| ConfigError {
            field: field.into(),
            problem,
        };
        if let Some(problem) = self.artifacts_env_error {
            return Err(error("OBSIM_ARTIFACTS_DIR", problem));
        }
        let shrink = self
            .shrink
            .map_err(|problem| error("OBSIM_SHRINK", problem))?;
        if self.servers == 0 || self.servers > 200 {
            return Err(error(
                "servers",
                format!("{}: expected 1..=200", self.servers),
            ));
        }
        check_workload(&self.workload).map_err(|(field, problem)| error(field, problem))?;
        if self.scrape_timeout.is_zero() || self.scrape_timeout >= self.scrape_interval {
            return Err(error(
                "scrape",
                format!(
                    "interval {:?} with timeout {:?}: expected a timeout > 0 shorter than the interval",
                    self.scrape_interval, self.scrape_timeout
                ),
            ));
        }
        if self.duration.is_zero() || self.time_limit <= self.duration {
            return Err(error(
                "time_limit",
                format!(
                    "{:?} with duration {:?}: expected a duration > 0 and a time limit above it",
                    self.time_limit, self.duration
                ),
            ));
        }
        // Every node is scraped once an interval for the whole run: a bound
        // below that would stop every seed at the same instant.
        let intervals = (self.duration + self.drain).as_nanos() / self.scrape_interval.as_nanos();
        let scrapes = intervals.saturating_mul(self.servers as u128 + 1);
        if scrapes > u128::from(self.scrape_limit) {
            return Err(error(
                "run.scrape_limit",
                format!(
                    "{} is below the {scrapes} scrapes the run takes ({} nodes every {:?} for \
                     {:?} and the {:?} drain): expected at least {scrapes}",
                    self.scrape_limit,
                    self.servers + 1,
                    self.scrape_interval,
                    self.duration,
                    self.drain
                ),
            ));
        }
        // Each scrape is a request and a response on obsim's network, which
        // count against the message bound before the system sends a thing.
        let scrape_messages = scrapes.saturating_mul(2);
        if scrape_messages > u128::from(self.message_limit) {
            return Err(error(
                "run.message_limit",
                format!(
                    "{} is below the {scrape_messages} messages the run's {scrapes} scrapes \
                     alone send (a request and a response each), before any invocation: \
                     expected at least {scrape_messages}, and room for the workload's own",
                    self.message_limit
                ),
            ));
        }
        if self.wall_limit.is_zero() {
            return Err(error("wall_limit", "0: expected a duration > 0".into()));
        }
        if self.alerts.evaluation_interval.is_some_and(|i| i.is_zero()) {
            return Err(error(
                "evaluation_interval",
                "0: expected a duration > 0".into(),
            ));
        }
        let topology = topology(self.servers, &self.workload, self.duration, self.time_limit);
        let faults = FaultPlan::new(self.faults, &topology)
            .map_err(|e| error(&format!("fault #{}.{}", e.index, e.field), e.problem))?;
        Ok(Config {
            scenario: self.scenario,
            servers: self.servers,
            workload: self.workload,
            faults,
            swarm: self.swarm,
            duration: self.duration,
            time_limit: self.time_limit,
            drain: self.drain,
            scrape_interval: self.scrape_interval,
            scrape_timeout: self.scrape_timeout,
            storage_latency: self.storage_latency,
            message_limit: self.message_limit,
            span_limit: self.span_limit,
            scrape_limit: self.scrape_limit,
            log_limit: self.log_limit,
            wall_limit: self.wall_limit,
            fault_log_capacity: self.fault_log_capacity,
            checks: self.checks,
            every_fault_fires: self.every_fault_fires,
            expectations: self.expectations,
            replay_command: self.replay_command,
            label_values_max: self.label_values_max,
            scenario_source: self.scenario_source,
            scenario_path: self.scenario_path,
            shrink,
            artifacts_dir: self.artifacts_dir,
            alerts: self.alerts,
            dashboards: self.dashboards,
        })
    }
}

// Moved here from verdict's artifacts: it is the `Builder`'s default; sim may not reach verdict.
/// `$OBSIM_ARTIFACTS_DIR`, else `<target dir>/obsim/failures/<package>` (the
/// package cargo runs, when it names one), where the
/// target dir is `$CARGO_TARGET_DIR` or the `target` folder beside the
/// nearest `Cargo.lock` above the working directory.
/// An empty `$OBSIM_ARTIFACTS_DIR` is an error: it would write into
/// whatever folder the command runs in.
fn default_dir(env: Option<std::ffi::OsString>) -> Result<Option<PathBuf>, String> {
    if let Some(dir) = env {
        if dir.is_empty() {
            return Err(
                "is set but empty: it would write failure artifacts into the current \
                        folder. Unset it for the default (<target>/obsim/failures/<package>), or \
                        name a folder"
                    .into(),
            );
        }
        return Ok(Some(PathBuf::from(dir)));
    }
    Ok(default_target_dir())
}

/// `$OBSIM_SHRINK`: unset, the default budget; `0` or `off`, no
/// shrinking; a count, that many candidate runs at most, with ten minutes
/// of real time as the safety net (the count is the bound asked for).
fn shrink_from_env(value: Option<&str>) -> Result<Option<ShrinkBudget>, String> {
    let Some(value) = value else {
        return Ok(Some(ShrinkBudget::DEFAULT));
    };
    match value.trim() {
        "0" | "off" => Ok(None),
        count => match count.parse::<u32>() {
            Ok(runs_max) if runs_max <= 100_000 => Ok(Some(ShrinkBudget {
                runs_max,
                wall_max: Duration::from_secs(600),
            })),
            _ => Err(format!(
                "{value:?}: expected 0 or off (no shrinking), or the candidate runs a failing \
                 seed's shrink may use, 1 to 100000 (unset: {})",
                ShrinkBudget::DEFAULT.runs_max
            )),
        },
    }
}

fn env_dir() -> Option<std::ffi::OsString> {
    std::env::var_os("OBSIM_ARTIFACTS_DIR")
}

/// `<target dir>/obsim/failures/<package>`.
fn default_target_dir() -> Option<PathBuf> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cwd = std::env::current_dir().ok()?;
            let root = cwd
                .ancestors()
                .find(|dir| dir.join("Cargo.lock").is_file())
                .unwrap_or(&cwd)
                .to_path_buf();
            root.join("target")
        }
    };
    let failures = target.join("obsim").join("failures");
    // Two packages of one workspace may both have a `swarm` scenario: under
    // cargo, which names the package it runs, each gets its own folder.
    Some(match std::env::var_os("CARGO_PKG_NAME") {
        Some(package) => failures.join(package),
        None => failures,
    })
}

fn check_workload(workload: &Workload) -> Result<(), (&'static str, String)> {
    if workload.concurrency == 0 {
        return Err(("workload.concurrency", "0: expected at least 1".into()));
    }
    if workload.keys == 0 {
        return Err(("workload.keys", "0: expected at least 1".into()));
    }
    if workload.operations.iter().all(|(_, weight)| *weight == 0) {
        return Err((
            "workload.operations",
            "no operation has a weight > 0: expected at least one".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_timeout_must_be_positive_and_shorter_than_the_interval() {
        let second = Duration::from_secs(1);
        for timeout in [Duration::ZERO, second, 2 * second] {
            let error = Builder::new("t")
                .scrape(second, timeout)
                .config()
                .unwrap_err();
            assert_eq!(error.field, "scrape", "{timeout:?}");
        }
        assert!(Builder::new("t")
            .scrape(second, second / 2)
            .config()
            .is_ok());
    }

    #[test]
    fn fault_errors_name_the_fault_and_its_field() {
        let error = Builder::new("t")
            .servers(2)
            .fault(
                Fault::new(obsim_faults::Effect::NodeCrash {
                    restart_after: None,
                })
                .on_node(2)
                .at(Duration::from_secs(1)),
            )
            .config()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "obsim config `fault #0.node`: node index 2 is past the topology: expected 0..2"
        );
    }
}

#[cfg(test)]
mod artifacts_dir_tests {
    use super::*;

    #[test]
    fn an_empty_artifacts_dir_variable_is_an_error_not_the_current_folder() {
        let error = default_dir(Some("".into())).expect_err("empty is refused");
        assert!(error.contains("is set but empty"), "{error}");
        assert_eq!(
            default_dir(Some("/tmp/x".into())),
            Ok(Some(PathBuf::from("/tmp/x")))
        );
    }
}
