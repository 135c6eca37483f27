//! What a sweep of one file leaves for the output, and the three outputs:
//! a person's summary line, JSON and JUnit XML. Each holds the counts and
//! the failures the sweep kept, never a run.

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

use obsim_harness::{Failure, Sweep};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use serde::{Deserialize, Serialize};

use super::args::Shard;
use super::coverage::{covered, next_seed_start, Progression, ShardRun};

/// The version of `--format json`'s document, which `merge` checks: it
/// changes when a field changes meaning or goes, not when one is added.
pub(super) const FORMAT_VERSION: u64 = 1;

/// One file's sweep, done or stopped.
pub(super) struct FileReport {
    /// The path as given or found, for a person to rerun.
    pub file: String,
    pub scenario: String,
    /// Seeds this file's sweep (this shard of it) was to run.
    pub seeds_planned: u64,
    pub seeds_run: u64,
    pub passed: u64,
    pub failed: u64,
    pub failures_dropped: u64,
    pub simulated: Duration,
    pub wall: Duration,
    pub stopped: bool,
    /// False for a file a stop (Ctrl-C) came before: it never started, and
    /// its counts are all zero.
    pub ran: bool,
    /// The lowest-numbered failures, in seed order.
    pub failures: Vec<Failure>,
    /// `--determinism`: `all`, or `1/N`.
    pub determinism: String,
    /// Seeds that ran twice, and the lowest of them.
    pub run_twice: u64,
    pub run_twice_seeds: Vec<u64>,
    /// Exactly which seeds it ran.
    pub shard_run: ShardRun,
}

/// Seeds that ran twice a summary line names before it says `…`.
const RUN_TWICE_NAMED: usize = 8;

impl FileReport {
    /// `shard` of the sequence that starts at `seed_start`.
    pub fn new(
        file: String,
        seeds_planned: u64,
        sweep: Sweep,
        wall: Duration,
        (shard, seed_start): (Shard, u64),
        determinism: String,
    ) -> FileReport {
        FileReport {
            determinism,
            run_twice: sweep.run_twice,
            run_twice_seeds: sweep.run_twice_seeds,
            shard_run: ShardRun {
                seed_start,
                shard,
                seeds_run: sweep.seeds_run,
            },
            file,
            scenario: sweep.scenario,
            seeds_planned,
            seeds_run: sweep.seeds_run,
            passed: sweep.passed,
            failed: sweep.failed,
            failures_dropped: sweep.failures_dropped,
            simulated: sweep.simulated,
            wall,
            stopped: sweep.stopped,
            ran: true,
            // `sweep.first` and its run are dropped here.
            failures: sweep.kept,
        }
    }

    /// A file a stop came before: `scenario` (its name) was to run
    /// `seeds_planned` seeds of `shard` of the sequence from `seed_start`,
    /// and ran none. Listed with the others, so a report names every file.
    pub fn not_run(
        file: String,
        scenario: String,
        seeds_planned: u64,
        (shard, seed_start): (Shard, u64),
        determinism: String,
    ) -> FileReport {
        FileReport {
            file,
            scenario,
            seeds_planned,
            seeds_run: 0,
            passed: 0,
            failed: 0,
            failures_dropped: 0,
            simulated: Duration::ZERO,
            wall: Duration::ZERO,
            stopped: true,
            ran: false,
            failures: Vec::new(),
            determinism,
            run_twice: 0,
            run_twice_seeds: Vec::new(),
            shard_run: ShardRun {
                seed_start,
                shard,
                seeds_run: 0,
            },
        }
    }

    /// `ok   <name> N seed(s), each run twice: P passed, F failed; Xs
    /// simulated in Ys wall`, with `K run twice (seeds a, b, …)` for a
    /// sampled determinism check; `skip <name> not run: ...` for a file a
    /// stop came before.
    pub fn summary_line(&self) -> String {
        if !self.ran {
            return not_run_line(&self.scenario, self.seeds_planned);
        }
        let failed = self.failed;
        let simulated = self.simulated.as_secs_f64();
        let wall_seconds = self.wall.as_secs_f64();
        format!(
            "{:<4} {:<26} {} seed(s), {}: {} passed, {failed} failed; {simulated:.0}s simulated in {wall_seconds:.1}s wall",
            if failed == 0 { "ok" } else { "FAIL" },
            self.scenario,
            self.seeds_run,
            run_twice_words(self.seeds_run, self.run_twice, &self.run_twice_seeds),
            self.passed,
        )
    }
}

/// The summary line of a file a stop came before.
pub(super) fn not_run_line(scenario: &str, seeds_planned: u64) -> String {
    format!(
        "{:<4} {scenario:<26} not run: interrupted before it started (0 of {seeds_planned} seed(s))",
        "skip"
    )
}

/// `each run twice`, or which of `seeds_run` seeds ran twice: `run_twice`
/// of them, the lowest being `seeds`.
pub(super) fn run_twice_words(seeds_run: u64, run_twice: u64, seeds: &[u64]) -> String {
    if run_twice == seeds_run {
        return "each run twice".to_string();
    }
    let mut named: Vec<String> = seeds
        .iter()
        .take(RUN_TWICE_NAMED)
        .map(u64::to_string)
        .collect();
    if run_twice > named.len() as u64 {
        named.push("…".to_string());
    }
    match named.is_empty() {
        true => "none run twice".to_string(),
        false => format!("{run_twice} run twice (seeds {})", named.join(", ")),
    }
}

/// `--format json`'s document: what `run` writes and what `merge` reads
/// and writes, field for field; `--format junit` is written from it too.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(super) struct Document {
    pub(super) format_version: u64,
    pub(super) failed: u64,
    pub(super) stopped: bool,
    pub(super) next_seed_start: Option<u64>,
    pub(super) scenarios: Vec<ScenarioDoc>,
    /// The documents a merge read, as named on its command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) merged_from: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(super) struct ScenarioDoc {
    pub(super) file: String,
    pub(super) scenario: String,
    pub(super) seeds_planned: u64,
    pub(super) seeds_run: u64,
    pub(super) passed: u64,
    pub(super) failed: u64,
    pub(super) failures_dropped: u64,
    pub(super) simulated_seconds: f64,
    pub(super) wall_seconds: f64,
    pub(super) stopped: bool,
    /// False when a stop (Ctrl-C) came before the file started: it is
    /// listed, with `stopped` and every count 0, so the document names
    /// every file the command was given. Documents from before this field
    /// listed only files that ran.
    #[serde(default = "ran_default")]
    pub(super) ran: bool,
    /// `--determinism`: every shard of a file must have run with the same.
    pub(super) determinism: String,
    pub(super) run_twice: u64,
    /// The lowest seeds that ran twice, at most [`obsim_harness::RUN_TWICE_LISTED`].
    pub(super) run_twice_seeds: Vec<u64>,
    pub(super) failures: Vec<FailureDoc>,
    pub(super) shards: Vec<ShardRun>,
    /// Derived from `shards`: recomputed, never read.
    pub(super) covered: Vec<Progression>,
    pub(super) next_seed_start: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(super) struct FailureDoc {
    pub(super) seed: u64,
    /// The checks that fired, by name; empty when the run did not complete.
    pub(super) checks: Vec<String>,
    /// The failure in full, as `--format human` prints it.
    pub(super) message: String,
    /// The seed's artifacts folder, or why it could not be written; null
    /// when artifacts are off.
    pub(super) artifacts: Option<String>,
    /// What shrinking made of the failure (its `shrunk:` line, the path of
    /// `minimal.toml` at its end for a scenario file); null when shrinking
    /// is off or did not apply.
    pub(super) shrunk: Option<String>,
    /// The command that replays the seed.
    pub(super) replay: String,
}

fn ran_default() -> bool {
    true
}

/// The document of `reports`; `stopped` when a stop cut the sweep short.
/// A file that never ran has no say in `next_seed_start`.
pub(super) fn document(reports: &[FileReport], stopped: bool) -> Document {
    Document {
        format_version: FORMAT_VERSION,
        failed: reports.iter().map(|report| report.failed).sum(),
        stopped,
        next_seed_start: reports
            .iter()
            .filter(|report| report.ran)
            .map(|report| next_seed_start(std::slice::from_ref(&report.shard_run)))
            .max(),
        scenarios: reports.iter().map(scenario_doc).collect(),
        merged_from: Vec::new(),
    }
}

fn scenario_doc(report: &FileReport) -> ScenarioDoc {
    let shard_run = std::slice::from_ref(&report.shard_run);
    ScenarioDoc {
        file: report.file.clone(),
        scenario: report.scenario.clone(),
        seeds_planned: report.seeds_planned,
        seeds_run: report.seeds_run,
        passed: report.passed,
        failed: report.failed,
        failures_dropped: report.failures_dropped,
        simulated_seconds: report.simulated.as_secs_f64(),
        wall_seconds: report.wall.as_secs_f64(),
        stopped: report.stopped,
        ran: report.ran,
        determinism: report.determinism.clone(),
        run_twice: report.run_twice,
        run_twice_seeds: report.run_twice_seeds.clone(),
        failures: report.failures.iter().map(failure_doc).collect(),
        shards: shard_run.to_vec(),
        covered: covered(shard_run),
        next_seed_start: next_seed_start(shard_run),
    }
}

fn failure_doc(failure: &Failure) -> FailureDoc {
    FailureDoc {
        seed: failure.seed,
        checks: failure
            .checks()
            .into_iter()
            .map(|check| check.as_str().to_string())
            .collect(),
        message: failure.to_string(),
        artifacts: failure.artifacts.as_ref().map(ToString::to_string),
        shrunk: failure.shrunk.clone(),
        replay: failure.replay.clone(),
    }
}

/// `--format json`: `document`, pretty-printed.
pub(super) fn write_json(out: &mut dyn Write, document: &Document) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, document)?;
    writeln!(out)
}

/// `--format junit`: a `<testsuite>` per file; in it a `<testcase>` per kept
/// failing seed, one for the failing seeds not kept, and one for all the
/// passing seeds (never one per passing seed: a million-seed sweep writes a
/// handful of cases). Each suite's properties say what a test report has no
/// place for: the file, the counts, and `stopped` (true when Ctrl-C cut it).
/// `run` and `merge` both write it from their [`Document`], so a merged
/// report reads as one process's.
pub(super) fn write_junit(out: &mut dyn Write, document: &Document) -> io::Result<()> {
    let mut xml = Writer::new_with_indent(&mut *out, b' ', 2);
    xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let failures = |s: &ScenarioDoc| s.failures.len() as u64 + u64::from(s.failures_dropped > 0);
    // A file that never ran is one skipped case.
    let cases = |s: &ScenarioDoc| failures(s) + u64::from(s.passed > 0) + u64::from(!s.ran);
    let tests: u64 = document.scenarios.iter().map(cases).sum();
    let failed: u64 = document.scenarios.iter().map(failures).sum();
    let wall: f64 = document.scenarios.iter().map(|s| s.wall_seconds).sum();
    xml.create_element("testsuites")
        .with_attributes([
            ("name", "obsim"),
            ("tests", &tests.to_string()),
            ("failures", &failed.to_string()),
            ("errors", "0"),
            ("time", &format!("{wall:.3}")),
        ])
        .write_inner_content(|xml| {
            for scenario in &document.scenarios {
                write_testsuite(xml, scenario, cases(scenario), failures(scenario))?;
            }
            Ok(())
        })?;
    drop(xml);
    writeln!(out)
}

fn write_testsuite<W: Write>(
    xml: &mut Writer<W>,
    scenario: &ScenarioDoc,
    tests: u64,
    failures: u64,
) -> io::Result<()> {
    let name = text(&scenario.scenario);
    xml.create_element("testsuite")
        .with_attributes([
            ("name", &*name),
            ("tests", &tests.to_string()),
            ("failures", &failures.to_string()),
            ("errors", "0"),
            ("skipped", if scenario.ran { "0" } else { "1" }),
            ("time", &format!("{:.3}", scenario.wall_seconds)),
        ])
        .write_inner_content(|xml| {
            write_properties(xml, scenario)?;
            for failure in &scenario.failures {
                write_failure(xml, &name, failure)?;
            }
            if scenario.failures_dropped > 0 {
                write_dropped(xml, &name, scenario.failures_dropped)?;
            }
            if !scenario.ran {
                let message = "not run: interrupted before this file started";
                xml.create_element("testcase")
                    .with_attributes([("name", "not run"), ("classname", &*name)])
                    .write_inner_content(|xml| {
                        xml.create_element("skipped")
                            .with_attributes([("message", message)])
                            .write_empty()?;
                        Ok(())
                    })?;
            }
            if scenario.passed > 0 {
                xml.create_element("testcase")
                    .with_attributes([
                        ("name", &*format!("{} seeds passed", scenario.passed)),
                        ("classname", &*name),
                    ])
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_properties<W: Write>(xml: &mut Writer<W>, scenario: &ScenarioDoc) -> io::Result<()> {
    xml.create_element("properties")
        .write_inner_content(|xml| {
            let properties = [
                ("file", text(&scenario.file).into_owned()),
                ("seeds_planned", scenario.seeds_planned.to_string()),
                ("seeds_run", scenario.seeds_run.to_string()),
                ("passed", scenario.passed.to_string()),
                ("failed", scenario.failed.to_string()),
                ("failures_dropped", scenario.failures_dropped.to_string()),
                (
                    "simulated_seconds",
                    format!("{:.3}", scenario.simulated_seconds),
                ),
                ("stopped", scenario.stopped.to_string()),
                ("ran", scenario.ran.to_string()),
                ("determinism", scenario.determinism.clone()),
                ("run_twice", scenario.run_twice.to_string()),
            ];
            for (property, value) in &properties {
                xml.create_element("property")
                    .with_attributes([("name", *property), ("value", value.as_str())])
                    .write_empty()?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_failure<W: Write>(
    xml: &mut Writer<W>,
    suite: &str,
    failure: &FailureDoc,
) -> io::Result<()> {
    let message = text(&failure.message).into_owned();
    let first_line = message.lines().next().unwrap_or_default();
    let kind = if failure.checks.is_empty() {
        "run".to_string()
    } else {
        failure.checks.join(",")
    };
    xml.create_element("testcase")
        .with_attributes([
            ("name", &*format!("seed {}", failure.seed)),
            ("classname", suite),
        ])
        .write_inner_content(|xml| {
            xml.create_element("failure")
                .with_attributes([("message", first_line), ("type", kind.as_str())])
                .write_text_content(BytesText::new(&message))?;
            Ok(())
        })?;
    Ok(())
}

fn write_dropped<W: Write>(xml: &mut Writer<W>, suite: &str, dropped: u64) -> io::Result<()> {
    let message = format!(
        "{dropped} more failing seed(s), counted but not kept in full; rerun with fewer seeds or --shard to see them"
    );
    xml.create_element("testcase")
        .with_attributes([
            ("name", &*format!("{dropped} more failing seed(s)")),
            ("classname", suite),
        ])
        .write_inner_content(|xml| {
            xml.create_element("failure")
                .with_attributes([("message", message.as_str()), ("type", "not_kept")])
                .write_text_content(BytesText::new(&message))?;
            Ok(())
        })?;
    Ok(())
}

/// `text` as XML 1.0 may hold it: the characters it forbids even as
/// references (control characters but tab, newline and carriage return;
/// U+FFFE and U+FFFF) are written out as `\u{..}`. quick-xml then escapes
/// `&`, `<`, `>`, `"` and `'`.
pub(super) fn text(text: &str) -> Cow<'_, str> {
    let forbidden = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    if !text.contains(forbidden) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if forbidden(c) {
            clean.push_str(&c.escape_unicode().to_string());
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(failures_dropped: u64) -> FileReport {
        FileReport {
            file: "a&b/<x>.toml".into(),
            scenario: "s\"'".into(),
            seeds_planned: 5,
            seeds_run: 5,
            passed: 3,
            failed: 2 + failures_dropped,
            failures_dropped,
            simulated: Duration::from_secs(7),
            wall: Duration::from_millis(1500),
            stopped: false,
            ran: true,
            failures: Vec::new(),
            determinism: "all".into(),
            run_twice: 5,
            run_twice_seeds: vec![0, 1, 2, 3, 4],
            shard_run: ShardRun {
                seed_start: 0,
                shard: Shard::ALL,
                seeds_run: 5,
            },
        }
    }

    #[test]
    fn a_sampled_sweep_names_the_seeds_that_ran_twice() {
        let mut sampled = report(0);
        assert!(sampled
            .summary_line()
            .contains("5 seed(s), each run twice:"));
        sampled.determinism = "1/4".into();
        sampled.seeds_run = 40;
        sampled.run_twice = 10;
        sampled.run_twice_seeds = (0..10).map(|i| i * 4).collect();
        let line = sampled.summary_line();
        assert!(
            line.contains("40 seed(s), 10 run twice (seeds 0, 4, 8, 12, 16, 20, 24, 28, …):"),
            "{line}"
        );
    }

    #[test]
    fn forbidden_characters_are_spelled_out_and_the_rest_kept() {
        assert_eq!(text("a\tb\nc"), "a\tb\nc");
        assert_eq!(text("esc\u{1b}[0m bell\u{7}"), "esc\\u{1b}[0m bell\\u{7}");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn markup_in_names_and_paths_is_escaped() {
        let mut out = Vec::new();
        write_junit(&mut out, &document(&[report(4)], false)).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains(r#"<testsuite name="s&quot;&apos;" tests="2" failures="1""#),
            "{xml}"
        );
        assert!(xml.contains(r#"value="a&amp;b/&lt;x&gt;.toml""#), "{xml}");
        assert!(
            xml.contains(r#"<testcase name="3 seeds passed" classname="s&quot;&apos;"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testcase name="4 more failing seed(s)""#),
            "{xml}"
        );
    }

    #[test]
    fn the_summary_line_keeps_its_format() {
        let line = report(0).summary_line();
        assert_eq!(
            line,
            "FAIL s\"'                        5 seed(s), each run twice: 3 passed, 2 failed; 7s simulated in 1.5s wall"
        );
    }
}
