//! [`Suite::cli`]: the same scenario files as a deep-sweep command, for
//! `cargo run --release --bin <yours>`, on clap: `run [files]` (also what
//! runs with no subcommand), `list`, `bench` (where a sweep's time goes:
//! `bench.rs`) and `merge` (shards' JSON as one result: `merge.rs`; the
//! campaign flags are `campaign.rs`). Each failure in full as its seed
//! finishes, one summary line per file, or one JSON or JUnit document;
//! exit code 0 if every seed passed, 1 if any failed, 2 on bad input and
//! 130 when Ctrl-C stopped the sweep.
//!
//! [`Suite::run_command`] is the same command as a function of its
//! arguments and output streams, without the progress bar and the Ctrl-C
//! handler that `cli` adds.

mod args;
mod bench;
mod campaign;
mod coverage;
mod merge;
mod report;
mod seeds;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use obsim_harness::{Sim, SweepOptions, Verdict, FAILURES_KEPT_DEFAULT};
use obsim_scenario::Scenario;

use self::args::{Cli, Command, Format, RunArgs};
use self::campaign::Campaign;
use self::report::FileReport;
use self::seeds::{shard_len, shard_seeds, SeedPlan};
use crate::suite::{Suite, SuiteFile};

/// Every seed passed (or `list`, `--help`).
const EXIT_PASSED: i32 = 0;
/// A seed failed.
const EXIT_FAILED: i32 = 1;
/// Bad flags, files or environment: nothing ran.
const EXIT_BAD_INPUT: i32 = 2;
/// Ctrl-C (or the caller's stop) cut the sweep short: 128 + SIGINT, as a
/// shell reports a process the signal ended.
const EXIT_INTERRUPTED: i32 = 130;

impl Suite {
    /// Runs the command line and exits with its code. Call it from the `main`
    /// of a binary: `fn main() { my_suite().cli() }`. `--help` lists the
    /// flags.
    ///
    /// On top of [`Suite::run_command`]: a progress bar on stderr when it is
    /// a terminal, and a Ctrl-C handler (installed once per process) that
    /// lets the seeds in flight finish, then prints the summary so far and
    /// exits with 130; a second Ctrl-C exits at once.
    pub fn cli(self) -> ! {
        let mut out = io::stdout();
        let mut err = io::stderr();
        if let Err(error) = ctrl_c::install() {
            let _ = writeln!(
                err,
                "obsim: Ctrl-C will end the sweep without its summary: {error}"
            );
        }
        let session = Session {
            stop: &ctrl_c::STOP,
            progress: true,
            terminal_colors: true,
        };
        let code = self.command(std::env::args_os(), &mut out, &mut err, session);
        let _ = out.flush();
        std::process::exit(code)
    }

    /// Runs the sweep command on `args` (the program's name first, as
    /// `std::env::args_os()` gives them), writing what it prints to `out`
    /// and `err`, and returns its exit code: 0 if every seed passed, 1 if
    /// any failed, 2 on bad input (nothing ran), 130 if stopped. No progress
    /// bar, no signal handler: [`Suite::cli`] adds those.
    ///
    /// ```no_run
    /// # let suite = obsim::Suite::new("scenarios");
    /// let mut json = Vec::new();
    /// let code = suite.run_command(
    ///     ["sweep", "run", "--seeds", "1000", "--format", "json"],
    ///     &mut json,
    ///     &mut std::io::stderr(),
    /// );
    /// ```
    pub fn run_command<I, T>(
        &self,
        args: I,
        out: &mut (dyn Write + Send),
        err: &mut (dyn Write + Send),
    ) -> i32
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        self.run_command_until(args, out, err, &AtomicBool::new(false))
    }

    /// [`Suite::run_command`] that stops once `stop` is set (from a signal
    /// handler of your own, say): the seeds in flight finish, no other seed
    /// or file starts, the summary so far is printed (`stopped` in JSON and
    /// JUnit; the files it never started are listed too, `"ran": false` in
    /// JSON, a skipped case in JUnit, a `skip` line for a person) and the
    /// code is 130.
    pub fn run_command_until<I, T>(
        &self,
        args: I,
        out: &mut (dyn Write + Send),
        err: &mut (dyn Write + Send),
        stop: &AtomicBool,
    ) -> i32
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let session = Session {
            stop,
            progress: false,
            terminal_colors: false,
        };
        self.command(args, out, err, session)
    }

    /// Whether `args` (the program's name first) is a command line
    /// [`Suite::cli`] accepts: read with the very flags and checks `cli`
    /// reads it with, but nothing runs and no file or variable is read. The
    /// error is clap's message, as `cli` would print it (`--help` is one
    /// too: it prints rather than runs). For a test that
    /// the command lines a README or a CI script shows still parse.
    ///
    /// ```
    /// assert!(obsim::Suite::check_command_line(["sweep", "run", "--seeds", "8"]).is_ok());
    /// assert!(obsim::Suite::check_command_line(["sweep", "--shard", "0/2"]).is_err());
    /// ```
    pub fn check_command_line<I, T>(args: I) -> Result<(), String>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Cli::try_parse_from(args)
            .map(|_| ())
            .map_err(|error| error.render().to_string())
    }

    fn command<I, T>(
        &self,
        args: I,
        out: &mut (dyn Write + Send),
        err: &mut (dyn Write + Send),
        session: Session<'_>,
    ) -> i32
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = match Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(error) => {
                // `--help` goes to stdout with code 0; a bad flag to stderr
                // with code 2, clap's own usage-error code.
                let (stream, to_stderr): (&mut dyn Write, bool) = if error.use_stderr() {
                    (err, true)
                } else {
                    (out, false)
                };
                let colors = session.terminal_colors
                    && if to_stderr {
                        io::stderr().is_terminal()
                    } else {
                        io::stdout().is_terminal()
                    };
                let rendered = error.render();
                let text = if colors {
                    rendered.ansi().to_string()
                } else {
                    rendered.to_string()
                };
                let _ = stream.write_all(text.as_bytes());
                return error.exit_code();
            }
        };
        let result = crate::suite::refuse_retired_variables().and_then(|()| match cli.command {
            Some(Command::List(list)) => self.list(&list.files, out),
            Some(Command::Bench(bench)) => self.bench(&bench, out),
            Some(Command::Run(run)) => self.run(&run, out, err, session),
            Some(Command::Merge(merge)) => merge::merge(&merge, out),
            Some(Command::Report(report)) => page(&report.folder, out),
            None if cli.list => self.list(&cli.run.files, out),
            None => self.run(&cli.run, out, err, session),
        });
        match result {
            Ok(code) => code,
            Err(error) => {
                let _ = writeln!(err, "obsim: {error}");
                EXIT_BAD_INPUT
            }
        }
    }

    /// The files named, or else every file under the suite's folder. A
    /// named path must be a folder or a scenario file (a regular file named
    /// `*.toml`): `list` vouches for nothing else, and `run` says so before
    /// it reads one.
    fn selected_files(&self, files: &[PathBuf]) -> Result<Vec<SuiteFile>, String> {
        if files.is_empty() {
            return self.files();
        }
        let expected = "expected a scenario file (*.toml) or a folder of them";
        let mut selected = Vec::new();
        for path in files {
            let is_toml = path
                .extension()
                .is_some_and(|extension| extension == "toml");
            if path.is_dir() {
                selected.extend(files_under(path)?);
            } else if path.is_file() && is_toml {
                selected.push(SuiteFile {
                    name: path.display().to_string(),
                    path: path.clone(),
                });
            } else if path.exists() {
                let what = if path.is_file() {
                    "not named *.toml"
                } else {
                    "not a regular file"
                };
                return Err(format!("{}: {what}: {expected}", path.display()));
            } else {
                return Err(format!(
                    "{}: no such file or folder: {expected}",
                    path.display()
                ));
            }
        }
        Ok(selected)
    }

    fn list(&self, files: &[PathBuf], out: &mut dyn Write) -> Result<i32, String> {
        for file in self.selected_files(files)? {
            writeln!(out, "{}", file.path.display()).map_err(|error| error.to_string())?;
        }
        Ok(EXIT_PASSED)
    }

    fn run(
        &self,
        args: &RunArgs,
        out: &mut (dyn Write + Send),
        err: &mut dyn Write,
        session: Session<'_>,
    ) -> Result<i32, String> {
        let plan = SeedPlan::resolve(args.seed, args.seeds)?;
        let campaign = Campaign::new(args, plan)?;
        let shard = campaign.shard;
        let jobs = match args.jobs {
            Some(jobs) => usize::from(jobs),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let replay_base = replay_base();
        // Every file is loaded before the first seed runs: a mistake in the
        // last file is said now, not an hour into the sweep.
        let mut sweeps = Vec::new();
        for file in self.selected_files(&args.files)? {
            let replay = format!("{replay_base} -- {}", file.path.display());
            let (scenario, sim) = self
                .load(&file.path, &replay)
                .map_err(|error| error.to_string())?;
            let (start, count) = campaign.sequence(plan, &scenario.seeds);
            sweeps.push(FileSweep {
                seeds: shard_len(count, shard),
                file,
                scenario,
                sim,
                start,
                count,
            });
        }
        refuse_shared_names(&sweeps)?;
        let human = args.format == Format::Human;
        let progress = Progress::new(session.progress, &sweeps, campaign.is_endless());
        let out = Mutex::new(out);
        let mut reports = Vec::new();
        let mut stopped = false;
        for (index, planned) in sweeps.iter().enumerate() {
            if session.stop.load(Ordering::Relaxed) {
                stopped = true;
                let note = format!(
                    "obsim: interrupted: the {} file(s) from {} on did not run",
                    sweeps.len() - index,
                    planned.file.path.display()
                );
                if human {
                    progress.print(&out, &note);
                } else {
                    let _ = writeln!(err, "{note}");
                }
                break;
            }
            progress.start(&planned.scenario);
            // Failures of seeds that were in flight when the stop came.
            let failed_after_stop = AtomicU64::new(0);
            // A sweep of two seeds or more shrinks its lowest failing seed
            // once every seed is checked: the bar says so, rather than
            // sitting at its end while that runs.
            let config = planned.sim.config();
            let shrinks = config.shrink.is_some() && config.artifacts_dir.is_some();
            let file_seeds = planned.seeds;
            let (file_done, file_failed) = (AtomicU64::new(0), AtomicU64::new(0));
            let on_verdict = |verdict: &Verdict| {
                if verdict.failure.is_some() {
                    file_failed.fetch_add(1, Ordering::Relaxed);
                }
                let done = file_done.fetch_add(1, Ordering::Relaxed) + 1;
                let last = done == file_seeds && file_seeds > 1;
                let shrink_next = shrinks && last && file_failed.load(Ordering::Relaxed) > 0;
                if let Some(failure) = &verdict.failure {
                    progress.failed.fetch_add(1, Ordering::Relaxed);
                    if session.stop.load(Ordering::Relaxed) {
                        failed_after_stop.fetch_add(1, Ordering::Relaxed);
                    }
                    if human {
                        progress.print(&out, &format!("\n{failure}"));
                    }
                }
                progress.seed_done(session.stop);
                if shrink_next {
                    progress.shrinking();
                }
            };
            let options = SweepOptions {
                jobs: jobs
                    .min(usize::try_from(planned.seeds).unwrap_or(usize::MAX))
                    .max(1),
                failures_kept: FAILURES_KEPT_DEFAULT,
                stop: Some(session.stop),
                determinism: args.determinism.anchored_at(planned.start),
            };
            // Real time, measured outside every run: it reports how long the
            // sweep took here and never enters a simulation.
            let started = Instant::now();
            let seeds = shard_seeds(planned.start, planned.count, shard);
            let seeds = campaign.until(seeds, sweeps.len() - index);
            let sweep = planned.sim.sweep_with(seeds, options, &on_verdict);
            if human {
                // Its failure was printed as it came, before it was shrunk.
                if let Some(note) = shrunk_note(&sweep, &planned.file.path) {
                    progress.print(&out, &note);
                }
            }
            let mut report = FileReport::new(
                planned.file.path.display().to_string(),
                planned.seeds,
                sweep,
                started.elapsed(),
                (shard, planned.start),
                args.determinism.to_string(),
            );
            stopped = report.stopped;
            if human {
                progress.print(&out, &report.summary_line());
                if let Some(line) = campaign.covered_line(&report) {
                    progress.print(&out, &line);
                }
                // Printed already, and not needed again.
                report.failures.clear();
            }
            if stopped {
                let note = interrupted_note(
                    &report,
                    sweeps.len() - index - 1,
                    failed_after_stop.load(Ordering::Relaxed),
                );
                if human {
                    progress.print(&out, &note);
                } else {
                    let _ = writeln!(err, "{note}");
                }
            }
            reports.push(report);
            if stopped {
                break;
            }
        }
        // The files a stop came before are in the report too, marked as
        // never run, so it names every file the command was given.
        for planned in &sweeps[reports.len()..] {
            let report = FileReport::not_run(
                planned.file.path.display().to_string(),
                planned.scenario.name.clone(),
                planned.seeds,
                (shard, planned.start),
                args.determinism.to_string(),
            );
            if human {
                progress.print(&out, &report.summary_line());
            }
            reports.push(report);
        }
        progress.finish();
        let out = out.into_inner().unwrap_or_else(PoisonError::into_inner);
        let failed: u64 = reports.iter().map(|report| report.failed).sum();
        let next = campaign
            .closing_line(&reports)
            .map_or_else(String::new, |line| format!("{line}\n"));
        let written = match args.format {
            Format::Human => {
                // A campaign says where the next one starts; a sweep at the
                // files' own depth, how to go deeper.
                let deeper = if plan.is_file_default() && !stopped && next.is_empty() {
                    format!("{}\n", deeper_note(args))
                } else {
                    String::new()
                };
                write!(
                    out,
                    "\nobsim: {failed} failing seed(s) in all\n{next}{deeper}"
                )
            }
            Format::Json => report::write_json(out, &report::document(&reports, stopped)),
            Format::Junit => report::write_junit(out, &report::document(&reports, stopped)),
        };
        written
            .and_then(|()| out.flush())
            .map_err(|error| format!("cannot write the report: {error}"))?;
        Ok(if stopped {
            EXIT_INTERRUPTED
        } else if failed > 0 {
            EXIT_FAILED
        } else {
            EXIT_PASSED
        })
    }
}

/// How the command runs: what stops it, and what it may draw on the
/// process's own terminal.
#[derive(Clone, Copy)]
struct Session<'a> {
    stop: &'a AtomicBool,
    /// A progress bar on stderr, if it is a terminal.
    progress: bool,
    /// Colors in `--help` and clap's errors, on a terminal.
    terminal_colors: bool,
}

/// One file, loaded, with its share of seeds.
struct FileSweep {
    file: SuiteFile,
    scenario: Scenario,
    sim: Sim,
    /// The file's whole seed sequence, `start..start + count`.
    start: u64,
    count: u64,
    /// Of those, the seeds this shard runs.
    seeds: u64,
}

/// What a person reads of the seed a sweep shrank once every seed was
/// checked: which seed, its `shrunk:` line (the `minimal.toml`), and how to
/// shrink another. None when it shrank none that way.
fn shrunk_note(sweep: &obsim_harness::Sweep, file: &Path) -> Option<String> {
    let seed = sweep.shrunk?;
    let failure = sweep.failures().find(|failure| failure.seed == seed)?;
    let line = failure.shrunk.as_deref()?;
    let another = failure
        .replay
        .strip_prefix(&format!("OBSIM_SEED={seed} "))
        .map_or_else(
            || "replay it alone".to_string(),
            |command| format!("OBSIM_SEED=<seed> {command}"),
        );
    Some(format!(
        "\nobsim: shrank seed {seed}, the lowest failing seed of {} (to shrink another: \
         {another})\nshrunk: {line}",
        file.display(),
    ))
}

/// What a person reads after a sweep at each file's own depth: how to go
/// deeper, with the flags they gave kept.
fn deeper_note(args: &RunArgs) -> String {
    let files: Vec<String> = args
        .files
        .iter()
        .map(|file| format!(" {}", file.display()))
        .collect();
    format!(
        "obsim: each file swept its own [seeds] sweep depth; to sweep deeper, give a count and \
         check every seed twice:\n  {} -- run --seeds 1000 --determinism all{}\n  (or --for 1h \
         --seed-start <n> for fresh seeds until the time is up; docs/campaigns.md spreads a \
         campaign over machines)",
        replay_base(),
        files.concat()
    )
}

/// Two files of one run named alike would write the same artifacts folders
/// (`<artifacts>/<name>/<seed>/`), the second silently replacing the
/// first's: refused before any seed runs, naming both files.
fn refuse_shared_names(sweeps: &[FileSweep]) -> Result<(), String> {
    let mut first_named: BTreeMap<&str, &Path> = BTreeMap::new();
    for sweep in sweeps {
        let (name, path) = (sweep.scenario.name.as_str(), sweep.file.path.as_path());
        let Some(first) = first_named.insert(name, path) else {
            continue;
        };
        let same_file = match (first.canonicalize(), path.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => first == path,
        };
        return Err(if same_file {
            let spelled = match first == path {
                true => String::new(),
                false => format!(" (as {} and {})", first.display(), path.display()),
            };
            format!(
                "{} is given twice{spelled}: a run takes each scenario file once",
                path.display()
            )
        } else {
            format!(
                "{} and {} are both named {name:?}: a scenario's name names its artifacts \
                 folder (<artifacts>/{name}/<seed>/), so the second would replace the first's; \
                 give each file a name of its own, or run them apart",
                first.display(),
                path.display()
            )
        });
    }
    Ok(())
}

/// Every scenario file under folder `dir` (sub-folders included), sorted,
/// each named by its path: a folder with none is an error, not a pass.
fn files_under(dir: &Path) -> Result<Vec<SuiteFile>, String> {
    let paths = obsim_scenario::discover(dir)
        .map_err(|error| format!("cannot read the scenario folder {}: {error}", dir.display()))?;
    if paths.is_empty() {
        return Err(format!(
            "no scenario files (*.toml) under {}: a run that tests nothing is an error",
            dir.display()
        ));
    }
    Ok(paths
        .into_iter()
        .map(|path| SuiteFile {
            name: path.display().to_string(),
            path,
        })
        .collect())
}

/// What a person reads after the summary line of the file a stop cut short.
fn interrupted_note(report: &FileReport, files_left: usize, failed_after_stop: u64) -> String {
    let mut note = format!(
        "obsim: interrupted: {} of {} seed(s) of {} ran; the summary counts those",
        report.seeds_run, report.seeds_planned, report.file
    );
    if files_left > 0 {
        note.push_str(&format!(
            ", and the {files_left} file(s) after it did not run"
        ));
    }
    if failed_after_stop > 0 {
        // The terminal sends Ctrl-C to the whole process group, so a
        // process a check runs (promtool) may have died of it mid-seed.
        note.push_str(&format!(
            "\nobsim: {failed_after_stop} of the failing seeds finished after Ctrl-C, which also reaches the processes a check runs (promtool): replay them before trusting them"
        ));
    }
    note
}

/// The progress bar of `--format human` and the others: seeds done of all
/// files' seeds, failures so far and the time left, on stderr, only when it
/// is a terminal (so piped output stays clean).
///
/// The bar moves by each seed's workload (`[workload] invocations`), not by
/// seeds: a long-horizon alert file's seed costs twenty times a short one's,
/// and its invocations say so, so the ETA holds across files.
struct Progress {
    bar: Option<ProgressBar>,
    failed: AtomicU64,
    seeds_done: AtomicU64,
    /// None under `--for`: the seeds run until the time is up.
    seeds_total: Option<u64>,
    /// Work units of one seed of the file running now.
    seed_weight: AtomicU64,
}

impl Progress {
    /// A bar over `sweeps`' seeds, weighted by their workload; with
    /// `endless` (`--for`, which runs until its time is up) a count of
    /// seeds and time, with no end.
    fn new(show: bool, sweeps: &[FileSweep], endless: bool) -> Progress {
        let work: u64 = sweeps
            .iter()
            .map(|sweep| sweep.seeds.saturating_mul(seed_weight(&sweep.scenario)))
            .fold(0, u64::saturating_add);
        let bar = show
            .then(|| {
                let length = (!endless).then_some(work);
                let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
                let template = match endless {
                    false => "{prefix:.bold} [{bar:30}] {msg}, {elapsed} so far, ETA {eta}",
                    true => "{prefix:.bold} {msg}, {elapsed} so far",
                };
                let style = ProgressStyle::with_template(template)
                    .expect("a valid progress template")
                    .progress_chars("=> ");
                bar.set_style(style);
                bar
            })
            .filter(|bar| !bar.is_hidden());
        ctrl_c::notes_above(bar.clone());
        let progress = Progress {
            bar,
            failed: AtomicU64::new(0),
            seeds_done: AtomicU64::new(0),
            seeds_total: (!endless).then(|| {
                sweeps
                    .iter()
                    .fold(0, |total: u64, sweep| total.saturating_add(sweep.seeds))
            }),
            seed_weight: AtomicU64::new(1),
        };
        progress.say("");
        progress
    }

    /// `12/1500 seeds, 0 failed`, and what is happening beyond that.
    fn say(&self, doing: &str) {
        let Some(bar) = &self.bar else { return };
        let done = self.seeds_done.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        let total = self
            .seeds_total
            .map_or_else(String::new, |total| format!("/{total}"));
        bar.set_message(format!("{done}{total} seeds, {failed} failed{doing}"));
    }

    /// Every seed of a file is checked, and its lowest failing seed is
    /// being shrunk.
    fn shrinking(&self) {
        self.say("; shrinking the lowest failing seed");
    }

    fn start(&self, scenario: &Scenario) {
        self.seed_weight
            .store(seed_weight(scenario), Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_prefix(scenario.name.clone());
        }
    }

    fn seed_done(&self, stop: &AtomicBool) {
        self.seeds_done.fetch_add(1, Ordering::Relaxed);
        if stop.load(Ordering::Relaxed) {
            self.say(", stopping: finishing the seeds in flight");
        } else {
            self.say("");
        }
        if let Some(bar) = &self.bar {
            bar.inc(self.seed_weight.load(Ordering::Relaxed));
        }
    }

    /// Writes a line (or lines) of output with the bar out of its way.
    fn print(&self, out: &Mutex<&mut (dyn Write + Send)>, text: &str) {
        let mut out = out.lock().unwrap_or_else(PoisonError::into_inner);
        let mut write = || {
            // Output that cannot be written (a closed pipe) does not stop
            // the sweep; the final write reports the error.
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn finish(&self) {
        ctrl_c::notes_above(None);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What one seed of `scenario` costs, in the progress bar's units: its
/// invocations (at least 1). A seed's time is mostly its spans, and its spans
/// follow its invocations (measured: 0.09 to 0.12 ms of one core per
/// invocation across the reference files, from 1,000 to 20,000 a seed).
fn seed_weight(scenario: &Scenario) -> u64 {
    scenario.workload.invocations.max(1)
}

/// The Ctrl-C handler of [`Suite::cli`]: the first Ctrl-C sets [`STOP`],
/// which the sweep reads between seeds; the second exits at once.
mod ctrl_c {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, OnceLock, PoisonError};

    use indicatif::ProgressBar;

    use super::EXIT_INTERRUPTED;

    pub(super) static STOP: AtomicBool = AtomicBool::new(false);
    /// The bar on screen, if any, so the handler's note goes above it.
    static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

    /// Installs the handler, once per process; a second call returns the
    /// first one's result. Fails if the program has a handler of its own.
    pub(super) fn install() -> Result<(), String> {
        INSTALLED
            .get_or_init(|| ctrlc::set_handler(on_ctrl_c).map_err(|error| error.to_string()))
            .clone()
    }

    pub(super) fn notes_above(bar: Option<ProgressBar>) {
        *BAR.lock().unwrap_or_else(PoisonError::into_inner) = bar;
    }

    fn on_ctrl_c() {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED);
        }
        let note = "obsim: stopping: the seeds in flight finish, then the summary so far (Ctrl-C again quits now)";
        let bar = BAR.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match bar {
            Some(bar) => bar.println(note),
            None => eprintln!("\n{note}"),
        }
    }
}

/// `cargo run --release -p <package> --bin <this binary>`: what replays a
/// seed of this command, the files following.
fn replay_base() -> String {
    let exe = std::env::current_exe().ok();
    let package = std::env::var("CARGO_PKG_NAME").ok();
    replay_base_for(exe.as_deref(), package.as_deref())
}

/// Read from where cargo put the executable: `<target>/<profile>/<bin>` or
/// `<target>/<profile>/examples/<example>`.
fn replay_base_for(exe: Option<&Path>, package: Option<&str>) -> String {
    let name_of = |path: Option<&Path>| {
        path.and_then(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
    };
    let folder = exe.and_then(Path::parent);
    let example = name_of(folder).as_deref() == Some("examples");
    let profile_dir = if example {
        folder.and_then(Path::parent)
    } else {
        folder
    };
    let mut command = String::from("cargo run");
    match name_of(profile_dir).as_deref() {
        Some("debug") | None => {}
        Some("release") => command.push_str(" --release"),
        Some(profile) => command.push_str(&format!(" --profile {profile}")),
    }
    if let Some(package) = package {
        command.push_str(&format!(" -p {package}"));
    }
    if let Some(stem) = exe.and_then(Path::file_stem) {
        let kind = if example { "--example" } else { "--bin" };
        command.push_str(&format!(" {kind} {}", stem.to_string_lossy()));
    }
    command
}

/// `obsim report <folder>`: the page built again, and its path printed.
fn page(folder: &Path, out: &mut dyn Write) -> Result<i32, String> {
    if !folder.is_dir() {
        return Err(format!(
            "{}: not a folder: expected a failing seed's artifacts folder, as its `artifacts:` line names it",
            folder.display()
        ));
    }
    let path = obsim_harness::write_page(folder)
        .map_err(|error| format!("{}: report.html not written: {error}", folder.display()))?;
    let _ = writeln!(out, "{}", path.display());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::replay_base_for;

    #[test]
    fn replay_names_the_profile_package_and_binary() {
        let release = Path::new("/p/target/release/sweep");
        assert_eq!(
            replay_base_for(Some(release), Some("svc")),
            "cargo run --release -p svc --bin sweep"
        );
        let debug = Path::new("/p/target/debug/sweep");
        assert_eq!(replay_base_for(Some(debug), None), "cargo run --bin sweep");
    }

    #[test]
    fn replay_of_an_example_says_example() {
        let example = Path::new("/p/target/release/examples/sweep");
        assert_eq!(
            replay_base_for(Some(example), Some("svc")),
            "cargo run --release -p svc --example sweep"
        );
        let custom = Path::new("/p/target/soak/examples/sweep");
        assert_eq!(
            replay_base_for(Some(custom), None),
            "cargo run --profile soak --example sweep"
        );
    }
}
