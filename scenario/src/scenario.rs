use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use obsim_faults::{swarm, Fault, FaultKind, Topology, WINDOW_MIN};
use toml::Spanned;

use crate::alerts::{is_alert_claim, parse_alert_claim, AlertClaim, AlertExpectation};
use crate::error::{Reporter, ScenarioError};
use crate::expect::{parse_expectation, Expectation, NodeScope};
use crate::raw::{duration_of, Dur, Int, RawRun, RawScenario, RawSeeds, RawWorkload};
use crate::vacuous;

/// The default bound on distinct values per label (`[lint] label_values_max`).
pub const LABEL_VALUES_MAX_DEFAULT: i64 = 100;

/// One scenario file, loaded and validated: everything the harness needs to
/// run it, as plain data.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The path as given to the loader.
    pub path: PathBuf,
    /// `^[a-z0-9][a-z0-9_-]*$`: it names the snapshot files.
    pub name: String,
    pub description: String,
    pub servers: usize,
    pub workload: WorkloadSpec,
    pub run: RunSpec,
    pub seeds: SeedSpec,
    /// Invariant checks to run, by name; all the known ones by default.
    pub checks: Vec<String>,
    /// The `[[faults]]`, validated against the topology and run.
    pub faults: Vec<Fault>,
    /// With `swarm = true`, the kinds each seed draws its own faults from.
    pub swarm: Option<Vec<FaultKind>>,
    /// Each fault entry must fire at least once in every seed's run.
    pub every_fault_fires: bool,
    pub expectations: Vec<Expectation>,
    /// The file's text as loaded: the `[system]` table is read from it by
    /// [`Scenario::system_config`], and a failure's artifacts keep a copy.
    pub source: String,
    /// `[lint] label_values_max`: distinct values one label of one metric
    /// may take across a run (default 100).
    pub label_values_max: usize,
    /// `[alerts]`: rule files and how often they are evaluated.
    pub alerts: AlertsSpec,
    /// The `expect` entries that are claims about alerts (`alert ... fires`)
    /// and dashboard panels (`panel "..." within ... of truth`).
    pub alert_expectations: Vec<AlertExpectation>,
    /// `[dashboards] files`: Grafana dashboards, paths relative to the
    /// scenario file, loaded and checked. The system's own (from its
    /// contract) are evaluated too, before these.
    pub dashboards: Vec<obsim_rules::Dashboard>,
}

/// The `[alerts]` table, its rule files loaded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertsSpec {
    /// `rule_files`: Prometheus rule files, paths relative to the scenario
    /// file, loaded and checked. The system's own (from its contract) are
    /// evaluated too, before these.
    pub rule_files: Vec<obsim_rules::RuleFile>,
    /// `evaluation_interval` (default: the scrape interval).
    pub evaluation_interval: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSpec {
    pub invocations: u64,
    /// Distinct keys the invocations address: actor ids, collection names,
    /// users. What a key is, the system decides.
    pub keys: u64,
    pub concurrency: usize,
    pub think_time: Duration,
    /// Operation names and their weights, sorted by name (TOML tables are
    /// unordered, so file order is not something to rely on).
    pub operations: Vec<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub duration: Duration,
    pub time_limit: Duration,
    pub drain: Duration,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub message_limit: u64,
    /// Spans a run may capture before it is stopped.
    pub span_limit: u64,
    /// Scrapes a run may take before it is stopped.
    pub scrape_limit: u64,
    /// Log events a run may capture before it is stopped.
    pub log_limit: u64,
    /// Real time a run may take before it is stopped: a safety net whose
    /// crossing depends on the machine.
    pub wall_limit: Duration,
}

/// The seeds a scenario runs: `start`, `start + 1`, … Two depths: `count`
/// under `cargo test`, and `sweep` for the sweep command when no seed count
/// is given (its first command must finish in minutes, so a file whose seed
/// costs seconds sweeps fewer). A file that sets `count` and not `sweep`
/// sweeps `count` seeds: its own seeds win over the command's default.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedSpec {
    pub start: u64,
    pub count: u64,
    pub sweep: u64,
}

/// The sweep command's seeds per file when the file sets no `[seeds]
/// sweep` and no flag or variable says otherwise.
pub const SWEEP_SEEDS_DEFAULT: u64 = 100;

/// The most invocations a file may ask for. With every other maximum too
/// (200 servers, concurrency 10,000) the reference system runs a seed to
/// its end within the default bounds: 15 s simulated, about 12 s of one
/// core and 1.04 GB in release, logs and the dashboard's panels included
/// (`tests/data/maxima.toml`, run by CI, run twice for determinism). Ten
/// times more crosses the default span bound a tenth of the way in, holding
/// 2.5 GB.
pub const INVOCATIONS_MAX: u64 = 100_000;

/// The most a file may raise a run's bounds to. Spans and scrapes are held
/// until the checks read them (about 1.2 KB a span, a few KB a scrape), so
/// ten times the default is the most one run may hold: some 12 GB of spans.
/// Messages are counted, not held: a hundred times the default.
pub const SPAN_LIMIT_MAX: u64 = 20_000_000;
pub const SCRAPE_LIMIT_MAX: u64 = 1_000_000;
/// Log events are held like spans, and cost less each.
pub const LOG_LIMIT_MAX: u64 = 20_000_000;
pub const MESSAGE_LIMIT_MAX: u64 = 100_000_000;
/// The most real time a file may give one run.
pub const WALL_LIMIT_MAX: Duration = Duration::from_secs(24 * 3600);

/// The most seeds a file's `[seeds] sweep` may ask for, as `--seeds`.
pub const SWEEP_SEEDS_MAX: u64 = 1_000_000;

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            invocations: 1000,
            keys: 64,
            concurrency: 8,
            think_time: Duration::ZERO,
            operations: vec![("get".to_string(), 1), ("increment".to_string(), 3)],
        }
    }
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            duration: Duration::from_secs(10),
            time_limit: Duration::from_secs(600),
            drain: Duration::from_secs(5),
            scrape_interval: Duration::from_secs(1),
            scrape_timeout: Duration::from_millis(500),
            message_limit: 1_000_000,
            // The harness's SPAN_LIMIT_DEFAULT and SCRAPE_LIMIT_DEFAULT.
            span_limit: 2_000_000,
            scrape_limit: 100_000,
            // The harness's LOG_LIMIT_DEFAULT.
            log_limit: 2_000_000,
            // The harness's WALL_LIMIT_DEFAULT.
            wall_limit: Duration::from_secs(300),
        }
    }
}

impl Default for SeedSpec {
    fn default() -> Self {
        SeedSpec {
            start: 0,
            count: 16,
            sweep: SWEEP_SEEDS_DEFAULT,
        }
    }
}

const DEFAULT_SERVERS: i64 = 3;

type Loaded<T> = Result<T, ScenarioError>;

impl Scenario {
    /// Reads and parses the file at `path`. `known_checks` are the check
    /// names the harness has, in the order a default scenario runs them.
    pub fn load(path: &Path, known_checks: &[&str]) -> Loaded<Scenario> {
        let text = obsim_rules::input::read_text(
            path,
            crate::limits::SCENARIO_FILE_BYTES_MAX,
            "a scenario file",
        )
        .map_err(|error| ScenarioError {
            path: path.to_path_buf(),
            line: error.place.map(|(line, _)| line),
            column: error.place.map(|(_, column)| column),
            field: None,
            message: format!("the scenario file {}", error.problem),
        })?;
        Scenario::parse(path, &text, known_checks)
    }

    /// Parses scenario text; `path` is only used to name the file in errors
    /// and in the result. Returns the first problem found, in file order.
    pub fn parse(path: &Path, text: &str, known_checks: &[&str]) -> Loaded<Scenario> {
        let report = Reporter { path, text };
        crate::limits::check(&report, text)?;
        let raw: RawScenario = toml::from_str(text).map_err(|error| report.toml(&error))?;
        Builder {
            report,
            raw,
            known_checks,
        }
        .build()
    }

    /// The `[system]` table as the system under test's own settings type.
    /// A file without `[system]` reads as an empty table, so `T`'s
    /// `#[serde(default)]`s apply. Errors name the file, line, column and
    /// field; a key `T` does not have is an error that lists the keys it
    /// has, even when `T` does not say `#[serde(deny_unknown_fields)]`.
    pub fn system_config<T: serde::de::DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        crate::system::system_config(&self.path, &self.source)
    }

    /// An error about this file's field at dotted `field`
    /// (`workload.operations.launch`), at that field's line and column when
    /// the file writes it, else at the file, saying the value is the default.
    pub fn error_at_field(&self, field: &str, mut message: String) -> ScenarioError {
        let field = &self.file_field(field);
        let place = crate::error::key_span(&self.source, field)
            .map(|span| crate::error::line_column(&self.source, span.start));
        // An environment variable (`OBSIM_...`) is no key of the file.
        let from_environment = field.starts_with("OBSIM_");
        if place.is_none() && !from_environment {
            message.push_str(" (the file does not set it: this is obsim's default)");
        }
        ScenarioError {
            path: self.path.clone(),
            line: place.map(|(line, _)| line),
            column: place.map(|(_, column)| column),
            field: Some(field.to_string()),
            message,
        }
    }
}

impl Scenario {
    /// The file's own name for a field the harness names otherwise: an
    /// alert claim (`alert expectation `...``) is the `expect` entry that
    /// states it, so that its error has a line.
    fn file_field(&self, field: &str) -> String {
        let claim = field
            .strip_prefix("alert expectation `")
            .and_then(|rest| rest.strip_suffix('`'));
        let index = claim.and_then(|claim| {
            let table: toml::Table = self.source.parse().ok()?;
            let entries = table.get("expect")?.as_array()?;
            entries
                .iter()
                .position(|entry| entry.as_str() == Some(claim))
        });
        match index {
            Some(index) => format!("expect[{index}]"),
            None => field.to_string(),
        }
    }
}

/// Every `*.toml` under `dir`, in sub-folders too, sorted. Symlinked folders
/// are not followed, so a link loop cannot make this run forever.
pub fn discover(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    found.sort();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "toml")
            && path.is_file()
        {
            found.push(path);
        }
    }
    Ok(())
}

/// Turns the raw file into a [`Scenario`], checking each part in file order.
struct Builder<'a> {
    report: Reporter<'a>,
    raw: RawScenario,
    known_checks: &'a [&'a str],
}

impl Builder<'_> {
    fn build(self) -> Loaded<Scenario> {
        let name = self.name()?;
        let description = self.description()?;
        let servers = self.int(
            "topology.servers",
            &self.raw.topology.servers,
            DEFAULT_SERVERS,
            1..=200,
        )?;
        let workload = self.workload(&self.raw.workload)?;
        let run = self.run(&self.raw.run)?;
        let seeds = self.seeds(&self.raw.seeds)?;
        let checks = self.checks()?;
        let label_values_max = self.int(
            "lint.label_values_max",
            &self.raw.lint.label_values_max,
            LABEL_VALUES_MAX_DEFAULT,
            1..=i64::MAX,
        )? as usize;
        let topology = Topology {
            servers: servers as usize,
            operations: workload
                .operations
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            run_end: run.duration,
            time_limit: run.time_limit,
        };
        let (faults, swarm) = self.faults(&topology)?;
        let expectations = self.expectations(servers as usize, &faults, swarm.as_deref())?;
        let alert_expectations = self.alert_expectations(&faults)?;
        let alerts = self.alerts()?;
        let panels = |claim: &AlertExpectation| matches!(claim.claim, AlertClaim::Panel { .. });
        if alert_expectations.iter().any(|c| !panels(c)) && self.raw.checks.is_some() {
            let listed = checks.iter().any(|name| name == "alert_correctness");
            if !listed {
                let message = "the `alert ...` expectations need alert rules evaluated: \
                               list \"alert_correctness\" in `checks`, or leave `checks` out";
                return Err(self.report.at(0, "checks", message));
            }
        }
        if alert_expectations.iter().any(panels) && self.raw.checks.is_some() {
            let listed = checks.iter().any(|name| name == "dashboard_queries");
            if !listed {
                let message = "the `panel ...` expectations need dashboards evaluated: \
                               list \"dashboard_queries\" in `checks`, or leave `checks` out";
                return Err(self.report.at(0, "checks", message));
            }
        }
        let dashboards = self.dashboards()?;
        if let (Some(files), Some(_)) = (&self.raw.dashboards.files, &self.raw.checks) {
            let listed = checks.iter().any(|name| name == "dashboard_queries");
            if !listed && !files.get_ref().is_empty() {
                let message = "nothing would read these dashboards: list \"dashboard_queries\" \
                               in `checks`, or leave `checks` out";
                return Err(self.report.value(files, "dashboards.files", message));
            }
        }
        let every_fault_fires = self.every_fault_fires(swarm.is_some(), &faults, &expectations)?;
        Ok(Scenario {
            path: self.report.path.to_path_buf(),
            name,
            description,
            servers: servers as usize,
            workload,
            run,
            seeds,
            checks,
            faults,
            swarm,
            every_fault_fires,
            expectations,
            source: self.report.text.to_string(),
            label_values_max,
            alerts,
            alert_expectations,
            dashboards,
        })
    }

    fn name(&self) -> Loaded<String> {
        let name = &self.raw.name;
        let text = name.get_ref();
        let mut chars = text.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        let length = text.chars().count();
        if first_ok && rest_ok && length <= crate::limits::NAME_CHARS_MAX {
            return Ok(text.clone());
        }
        if first_ok && rest_ok {
            let message = format!(
                "is {length} characters long: a name may have at most {} (it names the \
                 snapshot files and the failure's artifacts folder)",
                crate::limits::NAME_CHARS_MAX
            );
            return Err(self.report.value(name, "name", message));
        }
        let text = crate::error::excerpt(text);
        let message = format!(
            "{text:?} cannot name snapshot files: expected lowercase letters, digits, `_` and `-`, starting with a letter or digit (^[a-z0-9][a-z0-9_-]*$)"
        );
        Err(self.report.value(name, "name", message))
    }

    fn description(&self) -> Loaded<String> {
        let description = &self.raw.description;
        if description.get_ref().trim().is_empty() {
            let message = "expected a sentence saying what the scenario shows";
            return Err(self.report.value(description, "description", message));
        }
        Ok(description.get_ref().clone())
    }

    /// An integer field with its default, checked against `range`.
    fn int(
        &self,
        field: &str,
        value: &Int,
        default: i64,
        range: RangeInclusive<i64>,
    ) -> Loaded<i64> {
        let Some(value) = value else {
            return Ok(default);
        };
        let number = *value.get_ref();
        if range.contains(&number) {
            return Ok(number);
        }
        let expected = if *range.end() == i64::MAX {
            format!("an integer >= {}", range.start())
        } else {
            format!("an integer in {}..={}", range.start(), range.end())
        };
        Err(self.report.value(
            value,
            field,
            format!("{number} is out of range: expected {expected}"),
        ))
    }

    fn workload(&self, raw: &RawWorkload) -> Loaded<WorkloadSpec> {
        let defaults = WorkloadSpec::default();
        let invocations = self.int(
            "workload.invocations",
            &raw.invocations,
            1000,
            1..=INVOCATIONS_MAX as i64,
        )?;
        let keys = self.int("workload.keys", &raw.keys, 64, 1..=i64::MAX)?;
        let concurrency = self.int("workload.concurrency", &raw.concurrency, 8, 1..=10_000)?;
        let operations = match &raw.operations {
            Some(operations) => self.operations(operations)?,
            None => defaults.operations,
        };
        Ok(WorkloadSpec {
            invocations: invocations as u64,
            keys: keys as u64,
            concurrency: concurrency as usize,
            think_time: duration_of(&raw.think_time).unwrap_or(defaults.think_time),
            operations,
        })
    }

    fn operations(
        &self,
        table: &Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>,
    ) -> Loaded<Vec<(String, u32)>> {
        let mut operations = Vec::new();
        for (name, weight) in table.get_ref() {
            let field = format!("workload.operations.{}", name.get_ref());
            if name.get_ref().is_empty() {
                return Err(self.report.value(name, field, "expected an operation name"));
            }
            let Ok(weight_u32) = u32::try_from(*weight.get_ref()) else {
                let message = format!(
                    "{} is out of range: expected a weight in 0..={}",
                    weight.get_ref(),
                    u32::MAX
                );
                return Err(self.report.value(weight, field, message));
            };
            operations.push((name.get_ref().clone(), weight_u32));
        }
        if operations.iter().all(|(_, weight)| *weight == 0) {
            let message = "expected at least one operation with a weight > 0, e.g. { get = 1, increment = 3 }";
            return Err(self.report.value(table, "workload.operations", message));
        }
        Ok(operations)
    }

    fn run(&self, raw: &RawRun) -> Loaded<RunSpec> {
        let defaults = RunSpec::default();
        let run = RunSpec {
            duration: duration_of(&raw.duration).unwrap_or(defaults.duration),
            time_limit: duration_of(&raw.time_limit).unwrap_or(defaults.time_limit),
            drain: duration_of(&raw.drain).unwrap_or(defaults.drain),
            scrape_interval: duration_of(&raw.scrape_interval).unwrap_or(defaults.scrape_interval),
            scrape_timeout: duration_of(&raw.scrape_timeout).unwrap_or(defaults.scrape_timeout),
            message_limit: self.int(
                "run.message_limit",
                &raw.message_limit,
                1_000_000,
                1..=MESSAGE_LIMIT_MAX as i64,
            )? as u64,
            span_limit: self.int(
                "run.span_limit",
                &raw.span_limit,
                defaults.span_limit as i64,
                1..=SPAN_LIMIT_MAX as i64,
            )? as u64,
            scrape_limit: self.int(
                "run.scrape_limit",
                &raw.scrape_limit,
                defaults.scrape_limit as i64,
                1..=SCRAPE_LIMIT_MAX as i64,
            )? as u64,
            log_limit: self.int(
                "run.log_limit",
                &raw.log_limit,
                defaults.log_limit as i64,
                1..=LOG_LIMIT_MAX as i64,
            )? as u64,
            wall_limit: duration_of(&raw.wall_limit).unwrap_or(defaults.wall_limit),
        };
        self.positive("run.wall_limit", &raw.wall_limit)?;
        if let Some(wall) = &raw.wall_limit {
            if wall.get_ref().0 > WALL_LIMIT_MAX {
                let message = format!(
                    "is longer than {}h, the most real time one run may take",
                    WALL_LIMIT_MAX.as_secs() / 3600
                );
                return Err(self.report.value(wall, "run.wall_limit", message));
            }
        }
        self.positive("run.duration", &raw.duration)?;
        self.positive("run.scrape_interval", &raw.scrape_interval)?;
        self.positive("run.scrape_timeout", &raw.scrape_timeout)?;
        self.run_fits(&run, raw)?;
        Ok(run)
    }

    /// The run's times must fit together: the budget covers the run, and a
    /// scrape gives up before the next one starts.
    fn run_fits(&self, run: &RunSpec, raw: &RawRun) -> Loaded<()> {
        if run.time_limit <= run.duration {
            let message = format!(
                "the time limit {:?} must be longer than run.duration {:?}: it is the budget for the whole run, drain included",
                run.time_limit, run.duration
            );
            return Err(self.either(
                ("run.time_limit", &raw.time_limit),
                ("run.duration", &raw.duration),
                message,
            ));
        }
        if run.scrape_timeout >= run.scrape_interval {
            let message = format!(
                "the scrape timeout {:?} must be shorter than run.scrape_interval {:?}, so scrapes do not overlap",
                run.scrape_timeout, run.scrape_interval
            );
            return Err(self.either(
                ("run.scrape_timeout", &raw.scrape_timeout),
                ("run.scrape_interval", &raw.scrape_interval),
                message,
            ));
        }
        Ok(())
    }

    /// A duration that, when given, must be > 0 (every default is).
    fn positive(&self, field: &str, value: &Dur) -> Loaded<()> {
        match value {
            Some(value) if value.get_ref().0.is_zero() => {
                Err(self
                    .report
                    .value(value, field, "expected a duration > 0, e.g. \"1s\""))
            }
            _ => Ok(()),
        }
    }

    /// An error about two fields that disagree: at the first if it is
    /// written, else at the second (one of them is, since defaults agree).
    fn either(&self, first: (&str, &Dur), second: (&str, &Dur), message: String) -> ScenarioError {
        match (first.1, second.1) {
            (Some(value), _) => self.report.value(value, first.0, message),
            (None, Some(value)) => self.report.value(value, second.0, message),
            (None, None) => self.report.at(0, first.0, message),
        }
    }

    fn seeds(&self, raw: &RawSeeds) -> Loaded<SeedSpec> {
        let defaults = SeedSpec::default();
        let start = self.int("seeds.start", &raw.start, 0, 0..=i64::MAX)? as u64;
        // As many as a sweep may ask for: a count is a sweep under
        // `cargo test`, and a sweep's depth when `sweep` is not set.
        let count = self.int(
            "seeds.count",
            &raw.count,
            defaults.count as i64,
            1..=SWEEP_SEEDS_MAX as i64,
        )? as u64;
        // A file that pins its seeds with `count` (as `minimal.toml` pins
        // one) means them for the sweep command too: its own `sweep`, else
        // its `count`, else the command's default.
        let sweep_default = match raw.count {
            Some(_) => count,
            None => defaults.sweep,
        };
        let sweep = self.int(
            "seeds.sweep",
            &raw.sweep,
            sweep_default as i64,
            1..=SWEEP_SEEDS_MAX as i64,
        )? as u64;
        // Both are at most i64::MAX, so start + count fits in a u64.
        Ok(SeedSpec {
            start,
            count,
            sweep,
        })
    }

    fn checks(&self) -> Loaded<Vec<String>> {
        let Some(checks) = &self.raw.checks else {
            return Ok(self
                .known_checks
                .iter()
                .map(|name| name.to_string())
                .collect());
        };
        let known = self.known_checks.join(", ");
        if checks.get_ref().is_empty() {
            let message = format!(
                "expected at least one check, from {known}; leave `checks` out to run them all"
            );
            return Err(self.report.value(checks, "checks", message));
        }
        let mut names: Vec<String> = Vec::new();
        for (index, check) in checks.get_ref().iter().enumerate() {
            let name = check.get_ref();
            let field = format!("checks[{index}]");
            if !self.known_checks.contains(&name.as_str()) {
                return Err(self.report.value(
                    check,
                    field,
                    format!("unknown check {name:?}: expected one of {known}"),
                ));
            }
            if names.contains(name) {
                return Err(self
                    .report
                    .value(check, field, format!("{name:?} is listed twice")));
            }
            names.push(name.clone());
        }
        Ok(names)
    }

    /// The fixed faults, or the swarm's kinds: a scenario has one or the other.
    fn faults(&self, topology: &Topology) -> Loaded<(Vec<Fault>, Option<Vec<FaultKind>>)> {
        let swarm = self
            .raw
            .swarm
            .as_ref()
            .is_some_and(|swarm| *swarm.get_ref());
        if !swarm {
            if let Some(kinds) = &self.raw.swarm_kinds {
                let message = "`swarm_kinds` only applies with swarm = true";
                return Err(self.report.value(kinds, "swarm_kinds", message));
            }
            return match &self.raw.faults {
                Some(entries) => Ok((
                    crate::faults::build(entries.get_ref(), topology, &self.report)?,
                    None,
                )),
                None => Ok((Vec::new(), None)),
            };
        }
        if let Some(entries) = &self.raw.faults {
            let message = "swarm = true draws each seed's own faults, so [[faults]] must be absent: remove the [[faults]] entries or set swarm = false";
            return Err(self.report.value(entries, "faults", message));
        }
        let kinds = self.swarm_kinds()?;
        // The swarm's timed faults need a window of their own in the run.
        let timed = [
            FaultKind::DiskFull,
            FaultKind::NodePause,
            FaultKind::NetworkPartition,
            FaultKind::NodeCrash,
            FaultKind::CrashDuringTransaction,
        ];
        if topology.run_end < WINDOW_MIN && kinds.iter().any(|kind| timed.contains(kind)) {
            let message = format!(
                "the swarm draws windows of at least {WINDOW_MIN:?}, madsim's shortest timer, \
                 and run.duration {:?} has no room for one: make the run longer, or draw from \
                 swarm_kinds without {}",
                topology.run_end,
                timed.map(FaultKind::as_str).join(", ")
            );
            let swarm = self.raw.swarm.as_ref().expect("swarm = true");
            return Err(self.report.value(swarm, "swarm", message));
        }
        Ok((Vec::new(), Some(kinds)))
    }

    fn swarm_kinds(&self) -> Loaded<Vec<FaultKind>> {
        let all: Vec<FaultKind> = FaultKind::ALL
            .into_iter()
            .filter(|kind| swarm::drawable(*kind))
            .collect();
        let names: Vec<&str> = all.iter().map(|kind| kind.as_str()).collect();
        let names = names.join(", ");
        let Some(list) = &self.raw.swarm_kinds else {
            return Ok(all);
        };
        if list.get_ref().is_empty() {
            let message = format!("expected at least one kind, from {names}; leave `swarm_kinds` out to draw from all of them");
            return Err(self.report.value(list, "swarm_kinds", message));
        }
        let mut kinds: Vec<FaultKind> = Vec::new();
        for (index, name) in list.get_ref().iter().enumerate() {
            let field = format!("swarm_kinds[{index}]");
            let kind = drawable_kind(name.get_ref(), &names)
                .map_err(|problem| self.report.value(name, field.clone(), problem))?;
            if kinds.contains(&kind) {
                return Err(self
                    .report
                    .value(name, field, format!("{kind} is listed twice")));
            }
            kinds.push(kind);
        }
        Ok(kinds)
    }

    /// The `expect` comparisons, each parsed, its nodes checked against the
    /// topology, and refused when it says the same whatever the run does: a
    /// count of a fault kind no fault of the file logs, a quantity compared
    /// with itself, a count compared with a bound it can never cross.
    fn expectations(
        &self,
        servers: usize,
        faults: &[Fault],
        swarm: Option<&[FaultKind]>,
    ) -> Loaded<Vec<Expectation>> {
        let Some(list) = &self.raw.expect else {
            return Ok(Vec::new());
        };
        let logged = vacuous::logged_kinds(faults, swarm);
        list.iter()
            .enumerate()
            .filter(|(_, text)| !is_alert_claim(text.get_ref()))
            .map(|(index, text)| {
                let field = format!("expect[{index}]");
                let expectation = parse_expectation(text.get_ref()).map_err(|error| {
                    let offset = self.offset_in_string(text, error.offset);
                    self.report.at(offset, field.clone(), error.message)
                })?;
                self.check_nodes(&expectation, servers, text, index)?;
                if let Some(kind) = expectation
                    .fault_kinds()
                    .into_iter()
                    .find(|kind| !logged.contains(kind))
                {
                    let quantity = format!("faults.{kind}");
                    let offset = text.get_ref().find(&quantity).unwrap_or(0);
                    let offset = self.offset_in_string(text, offset);
                    let message = vacuous::unlogged_kind(text.get_ref(), kind, faults, swarm);
                    return Err(self.report.at(offset, field, message));
                }
                if let Some(message) = vacuous::vacuous(&expectation) {
                    let offset = self.offset_in_string(text, 0);
                    return Err(self.report.at(offset, field, message));
                }
                Ok(expectation)
            })
            .collect()
    }

    /// The `expect` entries that claim something about alerts.
    fn alert_expectations(&self, faults: &[Fault]) -> Loaded<Vec<AlertExpectation>> {
        let Some(list) = &self.raw.expect else {
            return Ok(Vec::new());
        };
        let mut claims = Vec::new();
        for (index, text) in list.iter().enumerate() {
            if !is_alert_claim(text.get_ref()) {
                continue;
            }
            let field = format!("expect[{index}]");
            let claim = parse_alert_claim(text.get_ref()).map_err(|error| {
                let offset = self.offset_in_string(text, error.offset);
                self.report.at(offset, field.clone(), error.message)
            })?;
            if let Some(fault) = claim.claim.fault() {
                if fault >= faults.len() {
                    let message = format!(
                        "faults[{fault}] is not an entry of this file, which has {} `[[faults]]`: \
                         the claim could never be checked",
                        faults.len()
                    );
                    return Err(self.report.value(text, field, message));
                }
            }
            claims.push(claim);
        }
        Ok(claims)
    }

    /// `[alerts]`: each rule file loaded relative to the scenario file.
    fn alerts(&self) -> Loaded<AlertsSpec> {
        let raw = &self.raw.alerts;
        self.positive("alerts.evaluation_interval", &raw.evaluation_interval)?;
        let mut rule_files = Vec::new();
        let base = self.report.path.parent().unwrap_or(Path::new("."));
        for (index, path) in raw.rule_files.iter().flat_map(|l| l.get_ref()).enumerate() {
            let field = format!("alerts.rule_files[{index}]");
            let full = base.join(path.get_ref());
            let bytes_max = obsim_rules::RULE_FILE_BYTES_MAX;
            let text = self.read_beside(path, &field, &full, (bytes_max, "a rule file"))?;
            let file = obsim_rules::parse(&full.display().to_string(), &text)
                .map_err(|error| self.report.value(path, field.clone(), error.to_string()))?;
            rule_files.push(file);
        }
        Ok(AlertsSpec {
            rule_files,
            evaluation_interval: duration_of(&raw.evaluation_interval),
        })
    }

    /// The text of file `full`, which the scenario names at `path` in
    /// `field`, within `bytes_max`: an error names the scenario's line and
    /// field, then the file (an excerpt of its path) and its own line.
    fn read_beside(
        &self,
        path: &Spanned<String>,
        field: &str,
        full: &Path,
        (bytes_max, what): (u64, &str),
    ) -> Loaded<String> {
        obsim_rules::input::read_text(full, bytes_max, what).map_err(|error| {
            let place = match error.place {
                Some((line, column)) => format!(":{line}:{column}"),
                None => String::new(),
            };
            let shown = full.display().to_string();
            let shown = obsim_rules::input::path_excerpt(&shown);
            let message = format!("{shown}{place} {}", error.problem);
            self.report.value(path, field.to_string(), message)
        })
    }

    /// `[dashboards]`: each dashboard loaded relative to the scenario file.
    fn dashboards(&self) -> Loaded<Vec<obsim_rules::Dashboard>> {
        let base = self.report.path.parent().unwrap_or(Path::new("."));
        let mut dashboards = Vec::new();
        let files = self.raw.dashboards.files.iter().flat_map(|l| l.get_ref());
        for (index, path) in files.enumerate() {
            let field = format!("dashboards.files[{index}]");
            let full = base.join(path.get_ref());
            let bytes_max = obsim_rules::DASHBOARD_FILE_BYTES_MAX;
            let text = self.read_beside(path, &field, &full, (bytes_max, "a dashboard file"))?;
            let dashboard = obsim_rules::parse_dashboard(&full.display().to_string(), &text)
                .map_err(|error| self.report.value(path, field.clone(), error.to_string()))?;
            dashboards.push(dashboard);
        }
        Ok(dashboards)
    }

    /// A node the topology does not have selects nothing: an error, not a 0.
    fn check_nodes(
        &self,
        expectation: &Expectation,
        servers: usize,
        text: &Spanned<String>,
        index: usize,
    ) -> Loaded<()> {
        for (node, scope) in expectation.named_nodes() {
            let mut known: Vec<String> = (0..servers).map(|i| format!("server-{i}")).collect();
            if scope == NodeScope::Scraped {
                known.push("client".into());
            }
            if known.iter().any(|name| name == node) {
                continue;
            }
            let quoted = format!("\"{node}\"");
            let offset = text.get_ref().find(&quoted).unwrap_or(0);
            let offset = self.offset_in_string(text, offset);
            let message = format!(
                "node {node:?} is not in this topology, so this selects nothing: expected one of {}",
                known.join(", ")
            );
            return Err(self.report.at(offset, format!("expect[{index}]"), message));
        }
        Ok(())
    }

    /// The file offset of byte `offset` inside a string value. Exact when the
    /// string is written without escapes (the usual case); otherwise the
    /// string's start, since escapes make the two texts differ.
    fn offset_in_string(&self, value: &Spanned<String>, offset: usize) -> usize {
        let span: Range<usize> = value.span();
        let written = self.report.text.get(span.clone()).unwrap_or("");
        let quote = if written.starts_with("\"\"\"") || written.starts_with("'''") {
            3
        } else {
            1
        };
        let inner = written.get(quote..quote + value.get_ref().len());
        if inner == Some(value.get_ref().as_str()) {
            span.start + quote + offset
        } else {
            span.start
        }
    }

    fn every_fault_fires(
        &self,
        swarm: bool,
        faults: &[Fault],
        expectations: &[Expectation],
    ) -> Loaded<bool> {
        let Some(value) = &self.raw.every_fault_fires else {
            return Ok(true);
        };
        let fires = *value.get_ref();
        if !fires && !swarm && !faults.is_empty() && expectations.is_empty() {
            let message = "a scenario must show that its faults fired: keep every_fault_fires or add an expectation";
            return Err(self.report.value(value, "every_fault_fires", message));
        }
        Ok(fires)
    }
}

/// The kind a `swarm_kinds` entry names, or why the swarm cannot draw it;
/// `names` lists the kinds it can.
fn drawable_kind(name: &str, names: &str) -> Result<FaultKind, String> {
    match name.parse::<FaultKind>() {
        Ok(kind) if swarm::drawable(kind) => Ok(kind),
        Ok(kind) if kind.is_dependency() => Err(format!(
            "the swarm cannot draw {kind}: it is aimed at a dependency the system names when it \
             calls it, which the swarm cannot know; ask for it in [[faults]] with swarm = false, \
             or draw from {names}"
        )),
        Ok(kind) => Err(format!(
            "{kind} is only logged, as the end of another fault: expected one of {names}"
        )),
        // Not the parser's own message: that one lists kinds the swarm cannot draw.
        Err(_) => Err(format!(
            "unknown fault kind {name:?}: expected one of {names}"
        )),
    }
}
