//! The one entry point a user's crate calls: a folder of scenario files and
//! a factory that builds the system under test from a file's `[system]`
//! table. [`Suite::main`] makes each file a test (through libtest-mimic, so
//! cargo's and nextest's filters, `--list`, `--exact` and partitions work);
//! [`Suite::cli`] makes the same files a deep-sweep command.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use obsim_harness::{seeds_from_env_at, Builder, Check, Sim, Sweep, System};
use obsim_scenario::{Scenario, ScenarioError};
use serde::de::DeserializeOwned;

/// Builds a scenario's simulation with the system's own settings, or says
/// why the file's `[system]` table cannot be read.
type MakeSim = dyn Fn(&Scenario, Builder) -> Result<Sim, ScenarioError> + Send + Sync;

/// A folder of scenario files run against one system.
///
/// ```no_run
/// # use obsim::{ClientContext, NodeContext, System};
/// # use obsim::deps::futures::future::BoxFuture;
/// # #[derive(serde::Deserialize, Clone, Default)]
/// # #[serde(default)]
/// # struct MyConfig {}
/// # struct MyService;
/// # impl MyService { fn new(_: MyConfig) -> Self { MyService } }
/// # impl System for MyService {
/// #     fn serve(&self, _: NodeContext) -> BoxFuture<'static, ()> { Box::pin(async {}) }
/// #     fn drive(&self, _: ClientContext) -> BoxFuture<'static, ()> { Box::pin(async {}) }
/// # }
/// // tests/scenarios.rs, a `[[test]]` with `harness = false`:
/// fn main() {
///     obsim::Suite::new("scenarios").system(MyService::new).main()
/// }
/// ```
#[derive(Clone)]
pub struct Suite {
    dir: PathBuf,
    snapshots: Option<PathBuf>,
    /// None: the harness's default folder.
    artifacts: Option<Option<PathBuf>>,
    /// The `[[test]]` name replay lines give; None: read from the binary.
    pub(crate) test_target: Option<String>,
    make: Option<Arc<MakeSim>>,
}

/// One scenario file of a suite, as a test: its name is its path under the
/// suite's folder, with `/` between folders (`catalogue/disk-full.toml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuiteFile {
    pub name: String,
    pub path: PathBuf,
}

impl Suite {
    /// The scenario files under `dir` (sub-folders included), relative to
    /// the current directory: the package root under `cargo test`.
    pub fn new(dir: impl Into<PathBuf>) -> Suite {
        Suite {
            dir: dir.into(),
            snapshots: None,
            artifacts: None,
            test_target: None,
            make: None,
        }
    }

    /// The system under test: `factory` builds a fresh one for every run from
    /// the scenario file's `[system]` table, read into `C` with serde. A file
    /// without `[system]` reads as an empty table (`#[serde(default)]` on `C`
    /// gives its defaults). Keys `C` does not have are errors.
    pub fn system<C, S, F>(mut self, factory: F) -> Suite
    where
        C: DeserializeOwned + Clone + Send + Sync + 'static,
        S: System,
        F: Fn(C) -> S + Send + Sync + 'static,
    {
        let factory = Arc::new(factory);
        self.make = Some(Arc::new(move |scenario: &Scenario, builder: Builder| {
            let config: C = scenario.system_config()?;
            let factory = factory.clone();
            builder
                .build(move || factory(config.clone()))
                .map_err(|error| scenario.error_at_field(&error.field, error.problem))
        }));
        self
    }

    /// Where each file's snapshot goes (default: `<dir>/snapshots`). The
    /// snapshot of `a/b.toml` is `<snapshots>/a/b.snap`.
    pub fn snapshots(mut self, dir: impl Into<PathBuf>) -> Suite {
        self.snapshots = Some(dir.into());
        self
    }

    /// Where failing seeds write their artifacts (default:
    /// `$OBSIM_ARTIFACTS_DIR`, else `<target dir>/obsim/failures/<package>`); None
    /// writes none, e.g. in a test that expects a file to fail.
    pub fn artifacts_dir(mut self, dir: Option<PathBuf>) -> Suite {
        self.artifacts = Some(dir);
        self
    }

    /// The test target replay lines name, `cargo test --test <name>`
    /// (default: read from the test binary's file name, which cargo derives
    /// from the target's name with `-` turned into `_`; set it when your
    /// target's name has a `-`).
    pub fn test_target(mut self, name: &str) -> Suite {
        self.test_target = Some(name.to_string());
        self
    }

    /// The folder the scenario files are in, as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn snapshot_dir(&self) -> PathBuf {
        self.snapshots
            .clone()
            .unwrap_or_else(|| self.dir.join("snapshots"))
    }

    /// Every scenario file under the folder, sorted by name.
    pub fn files(&self) -> Result<Vec<SuiteFile>, String> {
        let paths = obsim_scenario::discover(&self.dir).map_err(|error| {
            format!(
                "cannot read the scenario folder {}: {error}",
                self.dir.display()
            )
        })?;
        let files: Vec<SuiteFile> = paths
            .into_iter()
            .map(|path| SuiteFile {
                name: self.test_name(&path),
                path,
            })
            .collect();
        if files.is_empty() {
            return Err(format!(
                "no scenario files (*.toml) under {}: a suite that tests nothing is an error",
                self.dir.display()
            ));
        }
        Ok(files)
    }

    /// `a/b.toml` for `<dir>/a/b.toml`: the test's name.
    fn test_name(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.dir).unwrap_or(path);
        relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The simulation `scenario` describes, with `replay` (the command that
    /// reruns one seed, after `OBSIM_SEED=<seed>`) in its failures.
    pub fn sim(&self, scenario: &Scenario, replay: &str) -> Result<Sim, ScenarioError> {
        let make = self.make.as_ref().ok_or_else(|| ScenarioError {
            path: scenario.path.clone(),
            line: None,
            column: None,
            field: None,
            message: "the suite has no system: call `.system(..)` before running it".into(),
        })?;
        make(scenario, self.builder(scenario, replay))
    }

    /// The harness builder for `scenario`, everything but the system set:
    /// to adjust a file's simulation in a test before building it with a
    /// system of your choice.
    pub fn builder(&self, scenario: &Scenario, replay: &str) -> Builder {
        let builder = crate::sim::builder(scenario, replay);
        match &self.artifacts {
            Some(dir) => builder.artifacts_dir(dir.clone()),
            None => builder,
        }
    }

    /// Loads `path` and builds its simulation.
    pub fn load(&self, path: &Path, replay: &str) -> Result<(Scenario, Sim), ScenarioError> {
        let scenario = load_scenario(path)?;
        let sim = self.sim(&scenario, replay)?;
        Ok((scenario, sim))
    }

    /// Runs one file as a test: its seed sweep (`OBSIM_SEED`/`OBSIM_SEEDS`,
    /// else the file's `[seeds]`), every check and expectation, and a
    /// snapshot of the report of the file's first seed. Returns the sweep,
    /// or every failure worded for a person.
    pub fn run_file(&self, file: &SuiteFile, replay: &str) -> Result<Sweep, String> {
        let (scenario, sim) = self.load(&file.path, replay).map_err(|e| e.to_string())?;
        let seeds = seeds_from_env_at(scenario.seeds.start, scenario.seeds.count)
            .map_err(|error| error.to_string())?;
        let sweep = sim.sweep(&seeds);
        if sweep.failed > 0 {
            let failures: Vec<String> = sweep.failures().map(ToString::to_string).collect();
            let dropped = match sweep.failures_dropped {
                0 => String::new(),
                n => format!("\n\n(and {n} more failing seeds, not kept)"),
            };
            return Err(format!(
                "{} of {} seeds failed\n\n{}{dropped}",
                sweep.failed,
                sweep.seeds_run,
                failures.join("\n\n")
            ));
        }
        // The snapshot is of the file's own first seed: a replay of another
        // seed has nothing to compare with.
        if seeds.first() == Some(&scenario.seeds.start) {
            let run = sweep
                .first
                .as_ref()
                .and_then(|verdict| verdict.run.as_ref())
                .ok_or("obsim: a passing seed has no run (an obsim bug)")?;
            let mut report = run.report();
            if let Some(alerts) = sim.alerts_report(run) {
                report.push('\n');
                report.push_str(&alerts);
            }
            crate::snapshot::assert_report(&self.snapshot_dir(), file, &report);
        }
        Ok(sweep)
    }

    /// Files that share a scenario `name`, which names artifacts folders:
    /// `name -> files`, only for names used more than once.
    pub(crate) fn shared_names(files: &[SuiteFile]) -> BTreeMap<String, Vec<String>> {
        let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for file in files {
            if let Ok(scenario) = load_scenario(&file.path) {
                by_name
                    .entry(scenario.name)
                    .or_default()
                    .push(file.name.clone());
            }
        }
        by_name.retain(|_, files| files.len() > 1);
        by_name
    }
}

/// `OBSIM_SCENARIO` picked files by name before files were tests of their
/// own. Set now, it would select nothing and run everything: say so.
pub(crate) fn refuse_retired_variables() -> Result<(), String> {
    match std::env::var("OBSIM_SCENARIO") {
        Ok(value) => Err(format!(
            "OBSIM_SCENARIO={value:?} is no longer read: each scenario file is a test of its own, so filter by path instead: `cargo test -- {value}` (or name the file to the sweep command)"
        )),
        Err(_) => Ok(()),
    }
}

/// The settings of a system that takes none: any key in a scenario's
/// `[system]` table is then an error.
/// `Suite::new("scenarios").system(|_: NoSettings| MyService)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// Loads one scenario file, with the harness's check names as the checks a
/// file may pick.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    Scenario::load(path, &Check::invariant_names())
}
