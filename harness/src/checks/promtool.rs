//! The real `promtool check metrics` on each run's final expositions, and
//! the memo that lets a sweep ask it once per shape of text, not per seed.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::{Check, Violation};
use crate::run::exposition::{self, Format};
use crate::run::Run;

/// Shapes a [`PromtoolMemo`] remembers. Past it promtool runs for every new
/// shape, as if there were no memo: slower, never wrong, and the memo's
/// memory stays bounded (a shape is a few kilobytes).
pub const PROMTOOL_SHAPES_MAX: usize = 512;

/// What promtool said of each shape of exposition text a sweep has seen.
///
/// Starting promtool costs more than checking a seed: most of a sweep's time
/// went to it. Its `check metrics` lint reads metric names, types, HELP,
/// units and label names, never a label's or a sample's value, so two texts
/// that differ only in values get the same verdict. The shape of a text
/// ([`shape`]) keeps what the lint reads; the first text of each shape is
/// the one promtool reads. That values are well formed is not left
/// unchecked: obsim's own parser reads every value of every exposition, and
/// the exposition lint reports one that does not parse and bounds each
/// label's values.
///
/// Shared by a sweep's threads; one seed's check gets a fresh one.
#[derive(Debug, Default)]
pub struct PromtoolMemo {
    verdicts: Mutex<BTreeMap<String, BTreeSet<String>>>,
    /// Times promtool actually ran: what `obsim bench` reports.
    runs: AtomicU64,
}

impl PromtoolMemo {
    /// How many times promtool ran through this memo.
    pub fn promtool_runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// promtool's problems with `text`: remembered for its shape, or from
    /// `run` (which starts promtool) and then remembered.
    fn verdict(
        &self,
        text: &str,
        run: impl FnOnce() -> std::io::Result<BTreeSet<String>>,
    ) -> std::io::Result<BTreeSet<String>> {
        let shape = shape(text);
        if let Some(problems) = self.verdicts.lock().expect("memo lock").get(&shape) {
            return Ok(problems.clone());
        }
        // Not under the lock: another thread may run promtool on the same
        // shape meanwhile, and both get the same answer.
        self.runs.fetch_add(1, Ordering::Relaxed);
        let problems = run()?;
        let mut verdicts = self.verdicts.lock().expect("memo lock");
        if verdicts.len() < PROMTOOL_SHAPES_MAX {
            verdicts.insert(shape, problems.clone());
        }
        Ok(problems)
    }
}

/// What promtool's lint reads of `text`: every comment line (HELP, TYPE,
/// UNIT), and of each sample line its name and label names, in order. Label
/// values, sample values and timestamps are cut, and a line that repeats the
/// one before (a histogram's buckets, a label's other values) is kept once.
/// So every seed's final text of one system has the same few shapes, however
/// its counts and label values went.
fn shape(text: &str) -> String {
    let mut shape = String::with_capacity(text.len() / 2);
    let mut previous = String::new();
    for line in text.lines() {
        let kept = if line.starts_with('#') {
            line.to_string()
        } else {
            sample_shape(line)
        };
        if kept != previous {
            shape.push_str(&kept);
            shape.push('\n');
            previous = kept;
        }
    }
    shape
}

/// `name{a,b}` of a sample line `name{a="x",b="y"} value [timestamp]`, or
/// `name` when it has no labels. A line that does not scan (promtool would
/// say why) is kept whole, so it gets a shape, and a verdict, of its own.
fn sample_shape(line: &str) -> String {
    let Some(open) = line.find('{') else {
        return line.split([' ', '\t']).next().unwrap_or(line).to_string();
    };
    let mut shape = line[..=open].to_string();
    let mut rest = &line[open + 1..];
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.starts_with('}') {
            shape.push('}');
            return shape;
        }
        let (Some(equals), false) = (rest.find('='), rest.is_empty()) else {
            return line.to_string();
        };
        let name = rest[..equals].trim();
        let Some(after) = rest[equals + 1..].trim_start().strip_prefix('"') else {
            return line.to_string();
        };
        let Some(end) = closing_quote(after) else {
            return line.to_string();
        };
        if !shape.ends_with('{') {
            shape.push(',');
        }
        shape.push_str(name);
        rest = &after[end + 1..];
    }
}

/// Where the quoted label value that `text` starts inside ends: the first
/// `"` not escaped by a backslash.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(index),
            _ => {}
        }
    }
    None
}

/// `promtool check metrics` on each distinct final exposition of the run.
/// It runs after the simulation, so spawning a process is fine. promtool is
/// `$OBSIM_PROMTOOL`, else `promtool` on the PATH; without it the check is
/// skipped, unless `OBSIM_REQUIRE_PROMTOOL=1`. `memo` holds what promtool
/// said of texts of the same shape already (see [`PromtoolMemo`]).
pub fn promtool_check(run: &Run, memo: &PromtoolMemo) -> Vec<Violation> {
    let required = std::env::var("OBSIM_REQUIRE_PROMTOOL").is_ok_and(|value| value == "1");
    promtool_check_with(run, locate_promtool().as_deref(), required, memo)
}

/// Whether the promtool the lint would run exists.
pub fn promtool_available() -> bool {
    locate_promtool().is_some_and(|path| path.is_file())
}

fn locate_promtool() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OBSIM_PROMTOOL") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file())
}

/// Who exported a final text: node and incarnation number.
type Owner<'a> = (&'a str, u32);

/// The distinct final texts, in first-seen order, each with who exported it.
fn distinct_finals(run: &Run) -> Vec<(&str, Vec<Owner<'_>>)> {
    let mut texts: Vec<(&str, Vec<Owner<'_>>)> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for record in &run.incarnations {
        let text = record.final_exposition.as_str();
        let at = *index.entry(text).or_insert_with(|| {
            texts.push((text, Vec::new()));
            texts.len() - 1
        });
        texts[at].1.push((&record.node, record.number));
    }
    texts
}

fn promtool_check_with(
    run: &Run,
    promtool: Option<&Path>,
    required: bool,
    memo: &PromtoolMemo,
) -> Vec<Violation> {
    let Some(path) = promtool else {
        return missing_promtool(None, required);
    };
    let mut violations = Vec::new();
    for (text, owners) in distinct_finals(run) {
        let Some((checked, format)) = promtool_input(text) else {
            continue;
        };
        match memo.verdict(&checked, || run_promtool(path, &checked)) {
            Ok(problems) => violations.extend(promtool_violations(&owners, problems, format)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return missing_promtool(Some(path), required);
            }
            Err(error) => {
                let message = format!("promtool at {} could not be run: {error}", path.display());
                return vec![promtool_violation(None, message)];
            }
        }
    }
    violations
}

/// What promtool reads for one final text, and the format it was served in.
///
/// promtool 2.42's `check metrics` reads only Prometheus text 0.0.4 (it takes
/// `# EOF` and `# UNIT` for comments). On OpenMetrics it reports every
/// counter's `foo_total` and every `_created` sample as a family of its own
/// with "no help text", and it stops at the first exemplar ("expected integer
/// as timestamp, got \"#\""), float timestamp, or `info`, `stateset`,
/// `gaugehistogram` or `unknown` type ("unknown metric type"). So an
/// OpenMetrics final is checked as the 0.0.4 rendering of its parsed families
/// ([`exposition::Exposition::to_prometheus_text`]: normalized names, no
/// `_created`, exemplars or timestamps, info and stateset as gauges, gauge
/// histograms left out), where promtool's naming rules still apply. One that
/// does not parse is not checked: the exposition lint reports why.
fn promtool_input(text: &str) -> Option<(Cow<'_, str>, Format)> {
    match exposition::detect(text) {
        Format::PrometheusText => Some((Cow::Borrowed(text), Format::PrometheusText)),
        Format::OpenMetrics => {
            let parsed = exposition::parse(text).ok()?;
            Some((Cow::Owned(parsed.to_prometheus_text()), Format::OpenMetrics))
        }
    }
}

/// The problems promtool printed, sorted and deduplicated; none if it passed.
fn run_promtool(path: &Path, text: &str) -> std::io::Result<BTreeSet<String>> {
    let mut command = Command::new(path);
    command
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a Ctrl-C at the terminal stops the sweep
    // cleanly, and must not kill promtool under a seed still finishing
    // (that would read as a lint failure of that seed).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let stdin = child.stdin.take();
    // Write from another thread: a promtool that answers before reading all
    // of its input must not deadlock us on a full pipe.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || stdin.map(|mut stdin| stdin.write_all(text.as_bytes())));
        child.wait_with_output()
    })?;
    if output.status.success() {
        return Ok(BTreeSet::new());
    }
    // promtool 2.42 prints problems on stderr; other versions on stdout.
    let printed = [output.stdout, output.stderr].concat();
    let mut problems: BTreeSet<String> = String::from_utf8_lossy(&printed)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect();
    if problems.is_empty() {
        problems.insert(format!(
            "promtool failed ({}) without saying why",
            output.status
        ));
    }
    Ok(problems)
}

fn promtool_violations(
    owners: &[Owner<'_>],
    problems: BTreeSet<String>,
    format: Format,
) -> Vec<Violation> {
    let Some(((node, number), others)) = owners.split_first() else {
        return Vec::new();
    };
    let mut also = match others.len() {
        0 => String::new(),
        n => format!(" (and {n} more incarnations with the same text)"),
    };
    if format == Format::OpenMetrics {
        also.push_str(" (OpenMetrics, checked as its Prometheus text 0.0.4 rendering)");
    }
    problems
        .into_iter()
        .map(|problem| {
            let message =
                format!("final exposition of {node} incarnation {number}{also}: {problem}");
            promtool_violation(Some(node.to_string()), message)
        })
        .collect()
}

fn promtool_violation(node: Option<String>, message: String) -> Violation {
    Violation {
        check: Check::ExpositionLint,
        subject: "promtool check metrics".into(),
        node,
        at: None,
        message,
    }
}

fn missing_promtool(tried: Option<&Path>, required: bool) -> Vec<Violation> {
    if !required {
        return Vec::new();
    }
    let tried = tried.map_or("on the PATH".into(), |path| {
        format!("at {}", path.display())
    });
    vec![promtool_violation(
        None,
        format!(
            "OBSIM_REQUIRE_PROMTOOL=1 but promtool was not found {tried}: install it \
             (`apt-get install prometheus`; the Debian package ships promtool) or point \
             OBSIM_PROMTOOL at the binary"
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::lint::tests::{client_text, run_with_finals, CLEAN};

    /// The check with a memo of its own, as one seed's check gets.
    fn promtool_check_with(run: &Run, promtool: Option<&Path>, required: bool) -> Vec<Violation> {
        super::promtool_check_with(run, promtool, required, &PromtoolMemo::default())
    }

    fn counter_without_total() -> Run {
        run_with_finals(&["# HELP foo Foos.\n# TYPE foo counter\nfoo 1\n"])
    }

    #[test]
    fn promtool_catches_counter_without_total() {
        let Some(path) = locate_promtool() else {
            if std::env::var("OBSIM_REQUIRE_PROMTOOL").is_ok_and(|v| v == "1") {
                panic!("OBSIM_REQUIRE_PROMTOOL=1 but promtool is not installed");
            }
            eprintln!("promtool not found: skipping");
            return;
        };
        let violations = promtool_check_with(&counter_without_total(), Some(&path), true);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0].message.contains("_total"),
            "{}",
            violations[0]
        );
        assert_eq!(violations[0].node.as_deref(), Some("server-1"));
        let clean = promtool_check_with(&run_with_finals(&[CLEAN]), Some(&path), true);
        assert_eq!(clean, Vec::new());
    }

    fn promtool_or_skip() -> Option<PathBuf> {
        let path = locate_promtool();
        if path.is_none() {
            if std::env::var("OBSIM_REQUIRE_PROMTOOL").is_ok_and(|v| v == "1") {
                panic!("OBSIM_REQUIRE_PROMTOOL=1 but promtool is not installed");
            }
            eprintln!("promtool not found: skipping");
        }
        path
    }

    const CREATED_AND_EXEMPLAR: &str = "# HELP calls Calls.\n# TYPE calls counter\n\
        calls_total{op=\"get\"} 3 # {trace_id=\"abc\"} 1.0 1700000000.5\n\
        calls_created{op=\"get\"} 1700000000.25\n# EOF\n";

    #[test]
    fn promtool_alone_rejects_openmetrics_text() {
        let Some(path) = promtool_or_skip() else {
            return;
        };
        // Why the lint renders OpenMetrics as 0.0.4 first (promtool 2.42).
        let said = |text: &str| run_promtool(&path, text).unwrap();
        let plain = "# HELP calls Calls.\n# TYPE calls counter\ncalls_total 3\ncalls_created 1.7e9\n# EOF\n";
        assert_eq!(
            said(plain),
            BTreeSet::from([
                "calls_created no help text".to_string(),
                "calls_total no help text".to_string()
            ])
        );
        let problems = said(CREATED_AND_EXEMPLAR);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("expected integer as timestamp, got \"#\"")),
            "{problems:?}"
        );
        let problems = said(&client_text());
        assert!(
            problems
                .iter()
                .any(|p| p.contains("unknown metric type \"info\"")),
            "{problems:?}"
        );
    }

    #[test]
    fn promtool_checks_openmetrics_through_its_prometheus_text_rendering() {
        let Some(path) = promtool_or_skip() else {
            return;
        };
        let clean = client_text();
        for text in [clean.as_str(), CREATED_AND_EXEMPLAR] {
            let violations = promtool_check_with(&run_with_finals(&[text]), Some(&path), true);
            assert_eq!(violations, Vec::new(), "{text}");
        }
        // promtool's own rules still apply, to the rendering.
        let camel = "# HELP requestCount Requests.\n# TYPE requestCount counter\n\
                     requestCount_total 1\n# EOF\n";
        let violations = promtool_check_with(&run_with_finals(&[camel]), Some(&path), true);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0].message.starts_with(
                "final exposition of server-1 incarnation 0 (OpenMetrics, checked as its \
                 Prometheus text 0.0.4 rendering): requestCount_total metric names should be \
                 written in \'snake_case\' not \'camelCase\'"
            ),
            "{}",
            violations[0]
        );
        // Text that does not parse is the lint's to report, not promtool's.
        let broken = "# TYPE a gauge\na 1\n# EOF\nb 2\n";
        let violations = promtool_check_with(&run_with_finals(&[broken]), Some(&path), true);
        assert_eq!(violations, Vec::new());
    }

    #[test]
    fn missing_promtool_fails_only_when_required() {
        let run = counter_without_total();
        let violations = promtool_check_with(&run, None, true);
        assert_eq!(violations.len(), 1);
        assert!(violations[0].message.contains("apt-get install prometheus"));
        assert_eq!(promtool_check_with(&run, None, false), Vec::new());
        let nowhere = Path::new("/nonexistent/promtool");
        assert_eq!(promtool_check_with(&run, Some(nowhere), true).len(), 1);
        assert_eq!(promtool_check_with(&run, Some(nowhere), false), Vec::new());
    }

    #[test]
    fn shape_keeps_names_and_label_names_and_drops_values() {
        let text = "# HELP a_total A.\n# TYPE a_total counter\n\
                    a_total{op=\"get } \\\" now\",code=\"2\"} 12 1700000000\n\
                    a_total{op=\"put\",code=\"5\"} 3\nb 3.5\nc\t7\n";
        assert_eq!(
            shape(text),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{op,code}\nb\nc\n"
        );
        // A line that does not scan keeps its whole text.
        assert_eq!(
            sample_shape("a{op=\"unterminated} 1"),
            "a{op=\"unterminated} 1"
        );
        assert_eq!(sample_shape("a{} 1"), "a{}");
    }

    #[test]
    fn memo_asks_promtool_once_per_shape_and_gives_every_text_its_verdict() {
        let Some(path) = promtool_or_skip() else {
            return;
        };
        let memo = PromtoolMemo::default();
        let bad = |n: u32| format!("# HELP foo Foos.\n# TYPE foo counter\nfoo {n}\n");
        for n in 1..=3 {
            let violations =
                super::promtool_check_with(&run_with_finals(&[&bad(n)]), Some(&path), true, &memo);
            assert_eq!(violations.len(), 1, "{violations:#?}");
            assert!(
                violations[0].message.contains("_total"),
                "{}",
                violations[0]
            );
        }
        assert_eq!(memo.promtool_runs(), 1);
        // Another shape is another question, and a clean text stays clean.
        let clean =
            super::promtool_check_with(&run_with_finals(&[CLEAN]), Some(&path), true, &memo);
        assert_eq!(clean, Vec::new());
        assert_eq!(memo.promtool_runs(), 2);
    }
}
