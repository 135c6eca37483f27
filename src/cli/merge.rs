//! `merge FILES...`: shards' `run --format json` documents as one result,
//! the one a single process running the same seeds would give. Counts add
//! up; each file keeps the lowest [`FAILURES_KEPT_DEFAULT`] failing seeds of
//! all its shards (each shard kept its own lowest, so these are among
//! them) and counts the rest; the seeds covered are the union of the
//! shards', which must not overlap. Clocks cannot be merged into what one
//! process would have measured: `wall_seconds` is the slowest shard's,
//! `simulated_seconds` the sum (equal up to floating-point rounding).
//!
//! The result is itself a document `merge` reads, so merges nest.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use obsim_harness::{FAILURES_KEPT_DEFAULT, RUN_TWICE_LISTED};
use serde_json::Value;

use super::args::{Format, MergeArgs};
use super::coverage::{covered, describe, missing_shards, next_seed_start, Progression, ShardRun};
use super::report::{write_junit, Document, FailureDoc, ScenarioDoc, FORMAT_VERSION};
use super::{EXIT_FAILED, EXIT_PASSED};

/// The most documents one merge reads.
const INPUTS_MAX: usize = 10_000;
/// The largest document one merge reads: a shard's document holds counts
/// and at most ten failures per file.
const INPUT_BYTES_MAX: u64 = 256 << 20;

/// Runs `merge`: reads every document, refuses the first bad one, and
/// writes the result; 1 if any seed failed, else 0.
pub(super) fn merge(args: &MergeArgs, out: &mut dyn Write) -> Result<i32, String> {
    if args.files.len() > INPUTS_MAX {
        return Err(format!(
            "merge reads at most {INPUTS_MAX} documents, and {} were given: merge them in groups, \
             then merge the results",
            args.files.len()
        ));
    }
    let mut merged = Merged::default();
    for path in &args.files {
        let input = path.display().to_string();
        let document = load(path)?;
        merged.add(&input, document)?;
    }
    let inputs = args.files.iter().map(|path| path.display().to_string());
    let document = merged.finish(inputs.collect());
    let written = match args.format {
        Format::Human => write_human(out, &document),
        Format::Json => serde_json::to_writer_pretty(&mut *out, &document)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Junit => write_junit(out, &document),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|error| format!("cannot write the merged report: {error}"))?;
    Ok(if document.failed > 0 {
        EXIT_FAILED
    } else {
        EXIT_PASSED
    })
}

/// Reads one document, refusing what is not obsim's JSON of this
/// `format_version`, or does not add up.
fn load(path: &Path) -> Result<Document, String> {
    let name = path.display();
    let expected = "expected the JSON document `run --format json` writes";
    // A regular file only (a FIFO would block the read), at most 256 MiB.
    let text = obsim_scenario::input::read_text(path, INPUT_BYTES_MAX, "a merged document")
        .map_err(|error| format!("{name}: {error}: {expected}"))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| format!("{name}: not JSON ({error}): {expected}"))?;
    let version = match value.get("format_version") {
        None => {
            return Err(format!(
                "{name}: not an obsim document: no format_version field ({expected}; documents \
                 from before format_version 1 cannot be merged)"
            ))
        }
        Some(version) => version.as_u64().ok_or_else(|| {
            format!("{name}: format_version {version} is not a version number: {expected}")
        })?,
    };
    if version != FORMAT_VERSION {
        return Err(format!(
            "{name}: format_version {version}, but this obsim reads and writes format_version \
             {FORMAT_VERSION}: merge documents with the obsim version that wrote them"
        ));
    }
    let document: Document = serde_json::from_value(value)
        .map_err(|error| format!("{name}: not an obsim document ({error}): {expected}"))?;
    let mut files = BTreeMap::new();
    for scenario in &document.scenarios {
        if let Some(()) = files.insert(scenario.file.as_str(), ()) {
            return Err(format!("{name}: lists {} twice: {expected}", scenario.file));
        }
        check_adds_up(scenario).map_err(|problem| {
            format!(
                "{name}: {}: {problem}: the document was edited or cut short",
                scenario.file
            )
        })?;
    }
    Ok(document)
}

/// A file's counts, failures and shards agree with each other.
fn check_adds_up(scenario: &ScenarioDoc) -> Result<(), String> {
    let ScenarioDoc {
        seeds_run,
        passed,
        failed,
        failures_dropped,
        ..
    } = *scenario;
    if passed.checked_add(failed) != Some(seeds_run) {
        return Err(format!(
            "passed {passed} + failed {failed} is not seeds_run {seeds_run}"
        ));
    }
    let kept = scenario.failures.len() as u64;
    if kept.checked_add(failures_dropped) != Some(failed) {
        return Err(format!(
            "{kept} kept failure(s) + failures_dropped {failures_dropped} is not failed {failed}"
        ));
    }
    let shards_run = scenario
        .shards
        .iter()
        .try_fold(0u64, |total, run| total.checked_add(run.seeds_run));
    if shards_run != Some(seeds_run) {
        return Err(format!(
            "its shards' seeds_run do not add up to seeds_run {seeds_run}"
        ));
    }
    let mut progressions = Vec::new();
    for run in &scenario.shards {
        if let Some(progression) = run.progression()? {
            if let Some((seed, other)) = overlap(&progression, &progressions) {
                return Err(format!(
                    "seed {seed} was run by shard {} and by shard {other}",
                    run.shard
                ));
            }
            progressions.push((progression, run.shard.to_string()));
        }
    }
    let mut previous = None;
    for failure in &scenario.failures {
        if previous.is_some_and(|previous| failure.seed <= previous) {
            return Err("its failures are not in seed order, each seed once".to_string());
        }
        previous = Some(failure.seed);
        if !progressions.iter().any(|(p, _)| p.contains(failure.seed)) {
            return Err(format!(
                "failing seed {} is not one its shards ran",
                failure.seed
            ));
        }
    }
    Ok(())
}

/// The first seed `progression` shares with one of `others`, and that
/// one's label.
fn overlap<'a>(
    progression: &Progression,
    others: &'a [(Progression, String)],
) -> Option<(u64, &'a str)> {
    others.iter().find_map(|(other, label)| {
        progression
            .first_common(other)
            .map(|seed| (seed, label.as_str()))
    })
}

/// What the documents read so far add up to, per file.
#[derive(Default)]
struct Merged {
    files: BTreeMap<String, MergedFile>,
    /// Whether a document was cut short, perhaps between two files (whose
    /// own `stopped` then says nothing).
    stopped: bool,
}

struct MergedFile {
    file: String,
    scenario: String,
    /// The document that first named the file.
    input: String,
    seeds_planned: u64,
    seeds_run: u64,
    passed: u64,
    failed: u64,
    simulated_seconds: f64,
    wall_seconds: f64,
    stopped: bool,
    /// Whether any shard's sweep of the file started.
    ran: bool,
    determinism: String,
    run_twice: u64,
    run_twice_seeds: BTreeSet<u64>,
    /// The lowest failures so far, at most [`FAILURES_KEPT_DEFAULT`].
    failures: BTreeMap<u64, FailureDoc>,
    shards: Vec<ShardRun>,
    /// Each shard's seeds, and which document and shard ran them.
    progressions: Vec<(Progression, String)>,
}

impl Merged {
    fn add(&mut self, input: &str, document: Document) -> Result<(), String> {
        self.stopped |= document.stopped;
        for scenario in document.scenarios {
            let file = scenario.file.clone();
            let at = |problem: String| format!("{input}: {file}: {problem}");
            match self.files.entry(scenario.file.clone()) {
                Entry::Vacant(entry) => {
                    entry.insert(MergedFile::new(input, scenario).map_err(at)?);
                }
                Entry::Occupied(mut entry) => entry.get_mut().add(input, scenario).map_err(at)?,
            }
        }
        Ok(())
    }

    fn finish(self, merged_from: Vec<String>) -> Document {
        let scenarios: Vec<ScenarioDoc> =
            self.files.into_values().map(MergedFile::finish).collect();
        Document {
            format_version: FORMAT_VERSION,
            failed: scenarios
                .iter()
                .map(|s| s.failed)
                .fold(0, u64::saturating_add),
            stopped: self.stopped || scenarios.iter().any(|s| s.stopped),
            // A file no shard ran has no say in where the next one starts.
            next_seed_start: scenarios
                .iter()
                .filter(|s| s.ran)
                .map(|s| s.next_seed_start)
                .max(),
            scenarios,
            merged_from,
        }
    }
}

impl MergedFile {
    fn new(input: &str, scenario: ScenarioDoc) -> Result<MergedFile, String> {
        let mut file = MergedFile {
            file: scenario.file.clone(),
            scenario: scenario.scenario.clone(),
            input: input.to_string(),
            seeds_planned: 0,
            seeds_run: 0,
            passed: 0,
            failed: 0,
            simulated_seconds: 0.0,
            wall_seconds: 0.0,
            stopped: false,
            ran: false,
            determinism: scenario.determinism.clone(),
            run_twice: 0,
            run_twice_seeds: BTreeSet::new(),
            failures: BTreeMap::new(),
            shards: Vec::new(),
            progressions: Vec::new(),
        };
        file.add(input, scenario)?;
        Ok(file)
    }

    fn add(&mut self, input: &str, scenario: ScenarioDoc) -> Result<(), String> {
        if scenario.scenario != self.scenario {
            return Err(format!(
                "it is scenario `{}` here but `{}` in {}: merge the shards of one set of files",
                scenario.scenario, self.scenario, self.input
            ));
        }
        if scenario.determinism != self.determinism {
            return Err(format!(
                "it ran with --determinism {} here but {} in {}: a merged result must say one \
                 rule for which seeds ran twice",
                scenario.determinism, self.determinism, self.input
            ));
        }
        for run in &scenario.shards {
            let Some(progression) = run.progression()? else {
                continue;
            };
            if let Some((seed, other)) = overlap(&progression, &self.progressions) {
                return Err(format!(
                    "seed {seed} was run by shard {} here and by {other}: the documents overlap \
                     (the same shard given twice, or shards of different --shard or --seed-start)",
                    run.shard
                ));
            }
            self.progressions
                .push((progression, format!("shard {} in {input}", run.shard)));
        }
        let sum = |total: u64, more: u64, what: &str| {
            total
                .checked_add(more)
                .ok_or_else(|| format!("{what} pass {}", u64::MAX))
        };
        self.seeds_planned = self.seeds_planned.saturating_add(scenario.seeds_planned);
        self.seeds_run = sum(self.seeds_run, scenario.seeds_run, "the seeds run")?;
        self.passed = sum(self.passed, scenario.passed, "the passing seeds")?;
        self.failed = sum(self.failed, scenario.failed, "the failing seeds")?;
        self.simulated_seconds += scenario.simulated_seconds;
        self.wall_seconds = self.wall_seconds.max(scenario.wall_seconds);
        self.stopped |= scenario.stopped;
        self.ran |= scenario.ran;
        self.run_twice = sum(self.run_twice, scenario.run_twice, "the seeds run twice")?;
        for seed in scenario.run_twice_seeds {
            self.run_twice_seeds.insert(seed);
            if self.run_twice_seeds.len() > RUN_TWICE_LISTED {
                self.run_twice_seeds.pop_last();
            }
        }
        self.shards.extend(scenario.shards);
        for failure in scenario.failures {
            self.failures.insert(failure.seed, failure);
            if self.failures.len() > FAILURES_KEPT_DEFAULT {
                self.failures.pop_last();
            }
        }
        Ok(())
    }

    fn finish(mut self) -> ScenarioDoc {
        self.shards.sort_unstable();
        let failures: Vec<FailureDoc> = self.failures.into_values().collect();
        ScenarioDoc {
            file: self.file,
            scenario: self.scenario,
            seeds_planned: self.seeds_planned,
            seeds_run: self.seeds_run,
            passed: self.passed,
            failed: self.failed,
            failures_dropped: self.failed - failures.len() as u64,
            simulated_seconds: self.simulated_seconds,
            wall_seconds: self.wall_seconds,
            stopped: self.stopped,
            ran: self.ran,
            determinism: self.determinism,
            run_twice: self.run_twice,
            run_twice_seeds: self.run_twice_seeds.into_iter().collect(),
            failures,
            covered: covered(&self.shards),
            next_seed_start: next_seed_start(&self.shards),
            shards: self.shards,
        }
    }
}

/// Each kept failure in full, then a summary line per file with what it
/// covered, then the total and where the next campaign starts.
fn write_human(out: &mut dyn Write, document: &Document) -> io::Result<()> {
    for scenario in &document.scenarios {
        for failure in &scenario.failures {
            writeln!(out, "{}\n", failure.message)?;
        }
        if scenario.failures_dropped > 0 {
            writeln!(
                out,
                "obsim: {} more failing seed(s) of {} not kept: one process keeps the lowest {}, \
                 and so does merge\n",
                scenario.failures_dropped, scenario.scenario, FAILURES_KEPT_DEFAULT
            )?;
        }
    }
    for scenario in &document.scenarios {
        writeln!(out, "{}", summary_line(scenario))?;
        writeln!(out, "     covered: {}", describe(&scenario.covered, 8))?;
        if let Some(missing) = missing_shards(&scenario.shards, 8) {
            writeln!(out, "     missing: {missing}: no document covered them")?;
        }
        if scenario.stopped {
            writeln!(
                out,
                "     stopped: a shard was interrupted before its seeds ran"
            )?;
        }
    }
    if document.stopped && !document.scenarios.iter().any(|s| s.stopped) {
        writeln!(
            out,
            "obsim: a shard was interrupted between two files: the files after it did not run there"
        )?;
    }
    writeln!(
        out,
        "\nobsim: {} document(s) merged: {} failing seed(s) in all",
        document.merged_from.len(),
        document.failed
    )?;
    if let Some(next) = document.next_seed_start {
        writeln!(
            out,
            "obsim: next campaign: --seed-start {next} (one past the highest seed run in any file, \
             so every seed it runs is fresh)"
        )?;
    }
    Ok(())
}

/// `run`'s summary line, the wall time being the slowest shard's.
fn summary_line(scenario: &ScenarioDoc) -> String {
    if !scenario.ran {
        return super::report::not_run_line(&scenario.scenario, scenario.seeds_planned);
    }
    format!(
        "{:<4} {:<26} {} seed(s), {}: {} passed, {} failed; {:.0}s simulated in {:.1}s \
         wall (the slowest shard)",
        if scenario.failed == 0 { "ok" } else { "FAIL" },
        scenario.scenario,
        scenario.seeds_run,
        super::report::run_twice_words(
            scenario.seeds_run,
            scenario.run_twice,
            &scenario.run_twice_seeds
        ),
        scenario.passed,
        scenario.failed,
        scenario.simulated_seconds,
        scenario.wall_seconds,
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::cli::args::{parse_shard, Shard};
    use crate::cli::seeds::{shard_len, shard_seeds};

    /// `file`'s document as `run --shard <shard> --format json` writes it
    /// for seeds `start..start + count`, a seed failing when `fails` says.
    fn scenario(
        file: &str,
        shard: &str,
        start: u64,
        count: u64,
        fails: fn(u64) -> bool,
    ) -> ScenarioDoc {
        let shard: Shard = parse_shard(shard).unwrap();
        let seeds: Vec<u64> = shard_seeds(start, count, shard).collect();
        let failing: Vec<u64> = seeds.iter().copied().filter(|&seed| fails(seed)).collect();
        let failures: Vec<FailureDoc> = failing
            .iter()
            .take(FAILURES_KEPT_DEFAULT)
            .map(|&seed| FailureDoc {
                seed,
                checks: vec!["expectation".into()],
                message: format!("obsim: scenario `s` seed {seed} broke 1 invariant(s):\nreplay: OBSIM_SEED={seed} x"),
                artifacts: None,
                shrunk: None,
                replay: format!("OBSIM_SEED={seed} x"),
            })
            .collect();
        let run = ShardRun {
            seed_start: start,
            shard,
            seeds_run: seeds.len() as u64,
        };
        ScenarioDoc {
            file: file.into(),
            scenario: format!("scenario of {file}"),
            seeds_planned: shard_len(count, shard),
            seeds_run: seeds.len() as u64,
            passed: (seeds.len() - failing.len()) as u64,
            failed: failing.len() as u64,
            failures_dropped: (failing.len() - failures.len()) as u64,
            simulated_seconds: seeds.len() as f64 * 0.5,
            wall_seconds: 1.0,
            stopped: false,
            ran: true,
            determinism: "all".into(),
            run_twice: seeds.len() as u64,
            run_twice_seeds: seeds.iter().copied().take(RUN_TWICE_LISTED).collect(),
            failures,
            shards: vec![run],
            covered: covered(&[run]),
            next_seed_start: next_seed_start(&[run]),
        }
    }

    fn document(scenarios: Vec<ScenarioDoc>) -> Document {
        let failed = scenarios.iter().map(|s| s.failed).sum();
        Document {
            format_version: FORMAT_VERSION,
            failed,
            stopped: false,
            next_seed_start: scenarios.iter().map(|s| s.next_seed_start).max(),
            scenarios,
            merged_from: Vec::new(),
        }
    }

    /// Shards `1/n` to `n/n` of two files, each a document.
    fn shards(n: u64, count: u64, fails: fn(u64) -> bool) -> Vec<Document> {
        (1..=n)
            .map(|k| {
                let shard = format!("{k}/{n}");
                document(vec![
                    scenario("a.toml", &shard, 40, count, fails),
                    scenario("b.toml", &shard, 0, count, |_| false),
                ])
            })
            .collect()
    }

    fn merge_all(documents: Vec<Document>) -> Result<Document, String> {
        let mut merged = Merged::default();
        let mut names = Vec::new();
        for (index, document) in documents.into_iter().enumerate() {
            let name = format!("shard-{index}.json");
            merged.add(&name, document)?;
            names.push(name);
        }
        Ok(merged.finish(names))
    }

    /// Everything one process and a merge must agree on: all but the clocks
    /// and which shards ran.
    fn comparable(mut document: Document) -> Document {
        document.merged_from.clear();
        for scenario in &mut document.scenarios {
            scenario.wall_seconds = 0.0;
            scenario.simulated_seconds = (scenario.simulated_seconds * 1e6).round();
            scenario.shards.clear();
        }
        document
    }

    #[test]
    fn shards_merged_equal_one_process_run() {
        let fails = |seed: u64| seed % 3 != 1;
        for (n, count) in [(4, 24), (3, 50), (4, 5), (1, 7)] {
            let one = merge_all(vec![document(vec![
                scenario("a.toml", "1/1", 40, count, fails),
                scenario("b.toml", "1/1", 0, count, |_| false),
            ])])
            .unwrap();
            let merged = merge_all(shards(n, count, fails)).unwrap();
            assert_eq!(merged.scenarios[0].shards.len() as u64, n);
            assert_eq!(comparable(merged), comparable(one), "{n} shards of {count}");
        }
    }

    #[test]
    fn the_lowest_ten_failing_seeds_are_kept_across_shards() {
        // Every seed fails: each shard kept its own lowest ten of 25.
        let merged = merge_all(shards(4, 100, |_| true)).unwrap();
        let a = &merged.scenarios[0];
        let kept: Vec<u64> = a.failures.iter().map(|f| f.seed).collect();
        assert_eq!(kept, (40..50).collect::<Vec<_>>());
        assert_eq!((a.failed, a.failures_dropped, a.passed), (100, 90, 0));
        assert_eq!(merged.failed, 100);
        assert_eq!(
            a.covered,
            [Progression {
                first: 40,
                last: 139,
                step: 1,
                count: 100
            }]
        );
        assert_eq!(merged.next_seed_start, Some(140));
        assert_eq!(a.wall_seconds, 1.0, "the slowest shard's wall time");
    }

    #[test]
    fn overlapping_shards_are_refused_naming_both() {
        let mut documents = shards(2, 10, |_| false);
        documents.push(documents[0].clone());
        let error = merge_all(documents).unwrap_err();
        assert_eq!(
            error,
            "shard-2.json: a.toml: seed 40 was run by shard 1/2 here and by shard 1/2 in \
             shard-0.json: the documents overlap (the same shard given twice, or shards of \
             different --shard or --seed-start)"
        );
        // Shards of different counts that share seeds: 1/2 runs 40, 42, ...
        // and 2/4 runs 41, 45, ...: disjoint; 3/4 runs 42: not.
        let half = document(vec![scenario("a.toml", "1/2", 40, 10, |_| false)]);
        let quarter = document(vec![scenario("a.toml", "2/4", 40, 10, |_| false)]);
        assert!(merge_all(vec![half.clone(), quarter]).is_ok());
        let clash = document(vec![scenario("a.toml", "3/4", 40, 10, |_| false)]);
        let error = merge_all(vec![half, clash]).unwrap_err();
        assert!(
            error.contains("seed 42 was run by shard 3/4 here"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_shard_is_a_gap_the_report_shows() {
        let mut documents = shards(4, 8, |seed| seed == 42);
        documents.remove(2);
        let merged = merge_all(documents).unwrap();
        let a = &merged.scenarios[0];
        assert_eq!(a.seeds_run, 6);
        assert_eq!(
            describe(&a.covered, 8),
            "seeds 40 to 44, step 4 (2); seeds 41 to 45, step 4 (2); seeds 43 to 47, step 4 (2)"
        );
        let mut human = Vec::new();
        write_human(&mut human, &merged).unwrap();
        let human = String::from_utf8(human).unwrap();
        assert!(
            human.contains("     missing: 1 of 4 shard(s) of the seeds from 40 (3/4): no document covered them"),
            "{human}"
        );
        assert!(
            human.contains("obsim: 3 document(s) merged: 0 failing seed(s) in all"),
            "{human}"
        );
    }

    #[test]
    fn a_file_that_names_another_scenario_is_refused() {
        let mut documents = shards(2, 4, |_| false);
        documents[1].scenarios[0].scenario = "renamed".into();
        let error = merge_all(documents).unwrap_err();
        assert!(
            error.starts_with(
                "shard-1.json: a.toml: it is scenario `renamed` here but `scenario of a.toml` in shard-0.json"
            ),
            "{error}"
        );
    }

    #[test]
    fn shards_that_sampled_the_determinism_rerun_differently_are_refused() {
        let mut documents = shards(2, 4, |_| false);
        documents[1].scenarios[0].determinism = "1/4".into();
        let error = merge_all(documents).unwrap_err();
        assert!(
            error.starts_with(
                "shard-1.json: a.toml: it ran with --determinism 1/4 here but all in shard-0.json"
            ),
            "{error}"
        );
    }

    #[test]
    fn merged_shards_name_the_lowest_seeds_that_ran_twice() {
        let merged = merge_all(shards(2, 200, |_| false)).unwrap();
        let scenario = &merged.scenarios[0];
        assert_eq!(scenario.run_twice, 200);
        let lowest: Vec<u64> = (40..40 + RUN_TWICE_LISTED as u64).collect();
        assert_eq!(scenario.run_twice_seeds, lowest);
    }

    /// A temporary file, removed when dropped.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str, text: &str) -> Temp {
            let path =
                std::env::temp_dir().join(format!("obsim-merge-{}-{name}", std::process::id()));
            std::fs::write(&path, text).unwrap();
            Temp(path)
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn load_text(name: &str, text: &str) -> Result<Document, String> {
        let file = Temp::new(name, text);
        load(&file.0).map_err(|error| error.replace(&file.0.display().to_string(), name))
    }

    #[test]
    fn another_format_version_or_what_is_not_obsim_json_is_refused() {
        let mut document = serde_json::to_value(&shards(1, 3, |_| false)[0]).unwrap();
        let good = document.to_string();
        assert!(load_text("good.json", &good).is_ok());
        document["format_version"] = 2.into();
        let error = load_text("v2.json", &document.to_string()).unwrap_err();
        assert_eq!(
            error,
            "v2.json: format_version 2, but this obsim reads and writes format_version 1: merge \
             documents with the obsim version that wrote them"
        );
        for (text, says) in [
            ("<testsuites/>", "x.json: not JSON ("),
            (
                "[1, 2]",
                "x.json: not an obsim document: no format_version field",
            ),
            (
                r#"{"failed": 0, "scenarios": []}"#,
                "x.json: not an obsim document: no format_version field",
            ),
            (
                r#"{"format_version": "1"}"#,
                "x.json: format_version \"1\" is not a version number",
            ),
            (
                r#"{"format_version": 1, "scenarios": []}"#,
                "x.json: not an obsim document (missing field `failed`",
            ),
        ] {
            let error = load_text("x.json", text).unwrap_err();
            assert!(error.starts_with(says), "{text}: {error}");
        }
        let missing = load(Path::new("/nonexistent/shard.json")).unwrap_err();
        assert!(
            missing.starts_with("/nonexistent/shard.json: cannot be read: "),
            "{missing}"
        );
        let error = load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            error,
            "/dev/zero: is a character device, not a regular file: a merged document must be \
             a regular file: expected the JSON document `run --format json` writes"
        );
    }

    #[test]
    fn a_document_whose_numbers_do_not_add_up_is_refused() {
        let base = shards(1, 6, |seed| seed % 2 == 0).remove(0);
        let mut cut = base.clone();
        cut.scenarios[0].passed += 1;
        let text = serde_json::to_string(&cut).unwrap();
        let error = load_text("cut.json", &text).unwrap_err();
        assert!(
            error.starts_with("cut.json: a.toml: passed 4 + failed 3 is not seeds_run 6"),
            "{error}"
        );
        let mut stray = base.clone();
        stray.scenarios[0].failures[0].seed = 1000;
        let text = serde_json::to_string(&stray).unwrap();
        let error = load_text("stray.json", &text).unwrap_err();
        assert!(
            error.contains("a.toml: failing seed 1000 is not one its shards ran"),
            "{error}"
        );
        let mut shuffled = base;
        shuffled.scenarios[0].failures.swap(0, 1);
        let text = serde_json::to_string(&shuffled).unwrap();
        let error = load_text("shuffled.json", &text).unwrap_err();
        assert!(error.contains("failures are not in seed order"), "{error}");
    }

    #[test]
    fn a_merged_document_merges_again_to_the_same_result() {
        let all = merge_all(shards(4, 30, |seed| seed % 4 == 0)).unwrap();
        let mut first_half = shards(4, 30, |seed| seed % 4 == 0);
        let second_half = first_half.split_off(2);
        let nested = merge_all(vec![
            merge_all(first_half).unwrap(),
            merge_all(second_half).unwrap(),
        ])
        .unwrap();
        assert_eq!(comparable(nested.clone()), comparable(all.clone()));
        assert_eq!(nested.scenarios[0].shards, all.scenarios[0].shards);
        // And it reads back as written.
        let text = serde_json::to_string(&all).unwrap();
        assert_eq!(load_text("all.json", &text).unwrap(), all);
    }
}
