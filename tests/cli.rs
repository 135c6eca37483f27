//! The sweep command, `Suite::cli`, through `Suite::run_command`: the same
//! parsing, sweep and output, with stdout and stderr in memory. Each test
//! runs a few seeds of a short scenario of the reference system.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use obsim::Suite;
use obsim_fixtures::ActorSystem;
use quick_xml::events::Event;
use serde_json::Value;

/// A folder of scenario files, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!("obsim-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Folder(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scenario");
        path
    }

    fn suite(&self) -> Suite {
        Suite::new(&self.0)
            .system(ActorSystem::new)
            .artifacts_dir(None)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A short run that passes.
const PASSES: &str = r#"
name = "tiny"
description = "A short run with write failures."
[workload]
invocations = 20
[run]
duration = "1s"
[[faults]]
kind = "storage_write_failure"
probability = 0.2
"#;

/// A short run whose every seed fails, on an expectation that cannot hold
/// and reads `<` and `"` back in its message.
const FAILS: &str = r#"
name = "always-fails"
description = "Claims a negative count of errors."
expect = ['final(actor_client_calls_total) < 0']
[seeds]
start = 40
[workload]
invocations = 20
[run]
duration = "1s"
"#;

/// What one command printed, and its exit code.
struct Output {
    code: i32,
    out: String,
    err: String,
}

fn run(suite: &Suite, args: &[&str]) -> Output {
    run_until(suite, args, &AtomicBool::new(false))
}

fn run_until(suite: &Suite, args: &[&str], stop: &AtomicBool) -> Output {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("obsim").chain(args.iter().copied());
    let code = suite.run_command_until(argv, &mut out, &mut err, stop);
    Output {
        code,
        out: String::from_utf8(out).expect("utf-8 stdout"),
        err: String::from_utf8(err).expect("utf-8 stderr"),
    }
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&output.out).unwrap_or_else(|error| {
        panic!("stdout is not one JSON document ({error}):\n{}", output.out)
    })
}

/// The seeds of the failures in a JSON report's only scenario.
fn failing_seeds(report: &Value) -> Vec<u64> {
    report["scenarios"][0]["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|failure| failure["seed"].as_u64().expect("seed"))
        .collect()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("a utf-8 temp path")
}

#[test]
fn shards_one_and_two_of_two_run_exactly_the_seeds_of_the_unsharded_sweep() {
    let folder = Folder::new("shards");
    let file = folder.file("fails.toml", FAILS);
    let suite = folder.suite();
    let sweep = |shard: Option<&str>| {
        let mut args = vec!["run", "--seeds", "5", "--jobs", "2", "--format", "json"];
        if let Some(shard) = shard {
            args.extend(["--shard", shard]);
        }
        args.push(path_arg(&file));
        let output = run(&suite, &args);
        assert_eq!(output.code, 1, "every seed fails: {}", output.err);
        json(&output)
    };
    // Every seed fails, and five failures are all kept: the failures list
    // exactly the seeds each sweep ran.
    let all = sweep(None);
    assert_eq!(failing_seeds(&all), [40, 41, 42, 43, 44]);
    let first = sweep(Some("1/2"));
    let second = sweep(Some("2/2"));
    assert_eq!(failing_seeds(&first), [40, 42, 44]);
    assert_eq!(failing_seeds(&second), [41, 43]);
    let mut union = failing_seeds(&first);
    union.extend(failing_seeds(&second));
    union.sort_unstable();
    assert_eq!(union, failing_seeds(&all), "no seed missed, none run twice");
    for (report, planned) in [(&all, 5), (&first, 3), (&second, 2)] {
        let scenario = &report["scenarios"][0];
        assert_eq!(scenario["seeds_planned"], planned);
        assert_eq!(scenario["seeds_run"], planned);
        assert_eq!(scenario["failed"], planned);
    }
}

#[test]
fn a_shard_or_job_count_that_cannot_be_is_refused_with_what_was_expected() {
    let folder = Folder::new("bad-flags");
    let file = folder.file("tiny.toml", PASSES);
    let suite = folder.suite();
    let file = path_arg(&file);
    for (args, says) in [
        (vec!["--shard", "0/2", file], "shard 0 of 2 does not exist"),
        (
            vec!["run", "--shard", "3/2", file],
            "shard 3 of 2 does not exist",
        ),
        (
            vec!["run", "--shard", "2", file],
            "expected K/N with 1 <= K <= N",
        ),
        (vec!["--jobs", "0", file], "0 is not in 1..=1024"),
        (
            vec!["run", "--jobs", "1025", file],
            "1025 is not in 1..=1024",
        ),
        (
            vec!["run", "--format", "xml", file],
            "possible values: human, json, junit",
        ),
        (
            vec!["run", "--seed", "1", "--seeds", "2", file],
            "cannot be used with",
        ),
    ] {
        let output = run(&suite, &args);
        assert_eq!(output.code, 2, "{args:?}");
        assert!(output.out.is_empty(), "{args:?}: {}", output.out);
        assert!(output.err.contains(says), "{args:?}: {}", output.err);
        let flag = args
            .iter()
            .find(|arg| arg.starts_with("--"))
            .expect("a flag");
        assert!(
            output.err.contains(flag),
            "{args:?} names {flag}: {}",
            output.err
        );
    }
    let missing = run(&suite, &["run", "--format", "json", "nope.toml"]);
    assert_eq!(missing.code, 2);
    assert!(missing.out.is_empty(), "{}", missing.out);
    assert!(missing.err.starts_with("obsim: "), "{}", missing.err);
}

#[test]
fn json_is_one_document_with_every_field() {
    let folder = Folder::new("json");
    let file = folder.file("tiny.toml", PASSES);
    let output = run(
        &folder.suite(),
        &[
            "run",
            "--seeds",
            "2",
            "--jobs",
            "2",
            "--format",
            "json",
            path_arg(&file),
        ],
    );
    assert_eq!(output.code, 0, "{}", output.err);
    let report = json(&output);
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["stopped"], false);
    assert_eq!(report["next_seed_start"], 2);
    let scenario = &report["scenarios"][0];
    let keys: Vec<&str> = scenario
        .as_object()
        .expect("a scenario object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "file",
        "scenario",
        "seeds_planned",
        "seeds_run",
        "passed",
        "failed",
        "failures_dropped",
        "simulated_seconds",
        "wall_seconds",
        "stopped",
        "ran",
        "determinism",
        "run_twice",
        "run_twice_seeds",
        "failures",
        "shards",
        "covered",
        "next_seed_start",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    // `--seeds 2` at the default `--determinism 1/4`: the file's first seed
    // always runs twice.
    assert_eq!(scenario["determinism"], "1/4");
    assert_eq!(scenario["run_twice"], 1);
    assert_eq!(scenario["run_twice_seeds"], serde_json::json!([0]));
    assert_eq!(scenario["file"], path_arg(&file));
    assert_eq!(scenario["scenario"], "tiny");
    assert_eq!(scenario["seeds_run"], 2);
    assert_eq!(scenario["ran"], true);
    assert_eq!(scenario["passed"], 2);
    assert!(scenario["simulated_seconds"].as_f64().expect("a number") > 0.0);
    assert_eq!(scenario["failures"], Value::Array(Vec::new()));
    assert_eq!(
        scenario["shards"],
        serde_json::json!([{"shard": "1/1", "seed_start": 0, "seeds_run": 2}])
    );
    assert_eq!(
        scenario["covered"],
        serde_json::json!([{"first": 0, "last": 1, "step": 1, "count": 2}])
    );
    assert_eq!(scenario["next_seed_start"], 2);
}

#[test]
fn json_failures_carry_their_seed_checks_message_and_replay() {
    let folder = Folder::new("json-failure");
    let file = folder.file("fails.toml", FAILS);
    let output = run(
        &folder.suite(),
        &["--seed", "7", "--format", "json", path_arg(&file)],
    );
    assert_eq!(output.code, 1, "{}", output.err);
    let report = json(&output);
    assert_eq!(report["failed"], 1);
    let failure = &report["scenarios"][0]["failures"][0];
    assert_eq!(failure["seed"], 7);
    assert_eq!(failure["checks"], serde_json::json!(["expectation"]));
    let message = failure["message"].as_str().expect("message");
    let replay = failure["replay"].as_str().expect("replay");
    assert!(replay.starts_with("OBSIM_SEED=7 cargo run"), "{replay}");
    assert!(
        replay.ends_with(&format!(" -- {}", file.display())),
        "{replay}"
    );
    assert!(message.ends_with(&format!("replay: {replay}")), "{message}");
    // Artifacts off: nothing written, nothing shrunk.
    assert_eq!(failure["artifacts"], Value::Null);
    assert_eq!(failure["shrunk"], Value::Null);
}

#[test]
fn json_failures_name_their_artifacts_and_the_minimal_toml_shrinking_wrote() {
    let folder = Folder::new("json-shrunk");
    let file = folder.file("fails.toml", FAILS);
    let artifacts = folder.0.join("artifacts");
    let suite = folder.suite().artifacts_dir(Some(artifacts.clone()));
    let output = run(
        &suite,
        &["--seed", "7", "--format", "json", path_arg(&file)],
    );
    assert_eq!(output.code, 1, "{}", output.err);
    let report = json(&output);
    let failure = &report["scenarios"][0]["failures"][0];
    let seed_folder = artifacts.join("always-fails/7");
    assert_eq!(
        failure["artifacts"].as_str(),
        Some(&*seed_folder.display().to_string())
    );
    let shrunk = failure["shrunk"].as_str().expect("a shrunk line");
    let minimal = seed_folder.join("minimal.toml");
    assert!(
        shrunk.ends_with(&format!(
            "; still fails [expectation] `final(actor_client_calls_total) < 0`: {}",
            minimal.display()
        )),
        "{shrunk}"
    );
    assert!(minimal.is_file(), "{shrunk}");
    let message = failure["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("\nshrunk: {shrunk}\n")),
        "{message}"
    );
}

/// Shrinking costs up to a hundred runs a seed, so a sweep shrinks only its
/// lowest failing seed, once every seed is checked, and prints that seed's
/// `shrunk:` line after the file's failures (each printed as it came) with
/// the command that shrinks another. The other seeds' folders hold no
/// `minimal.toml`, and their failures say how to get one (seen failing
/// before the fix: every seed's folder had one).
#[test]
fn a_sweep_shrinks_its_lowest_failing_seed_and_prints_how_to_shrink_another() {
    let folder = Folder::new("shrinks-lowest");
    let file = folder.file("fails.toml", FAILS);
    let artifacts = folder.0.join("artifacts");
    let suite = folder.suite().artifacts_dir(Some(artifacts.clone()));
    let seed_folder = |seed: u64| artifacts.join(format!("always-fails/{seed}"));
    let human = run(&suite, &["--seeds", "3", "--jobs", "2", path_arg(&file)]);
    assert_eq!(human.code, 1, "{}", human.err);
    let minimal = seed_folder(40).join("minimal.toml");
    assert!(minimal.is_file(), "{}", human.out);
    for seed in [41, 42] {
        assert!(
            !seed_folder(seed).join("minimal.toml").exists(),
            "seed {seed}: {}",
            human.out
        );
    }
    // What .ci/run reads: one `shrunk:` line ending in the minimal file.
    let ending = format!(
        "; still fails [expectation] `final(actor_client_calls_total) < 0`: {}",
        minimal.display()
    );
    let shrunk: Vec<&str> = human
        .out
        .lines()
        .filter(|line| line.starts_with("shrunk: ") && line.ends_with(&ending))
        .collect();
    assert_eq!(shrunk.len(), 1, "{}", human.out);
    let note = format!(
        "\nobsim: shrank seed 40, the lowest failing seed of {} (to shrink another: \
         OBSIM_SEED=<seed> cargo run",
        file.display()
    );
    assert!(human.out.contains(&note), "{}", human.out);
    assert!(
        human
            .out
            .contains(&format!(" -- {})\n{}\n", file.display(), shrunk[0])),
        "{}",
        human.out
    );
    let json_out = run(
        &suite,
        &["--seeds", "3", "--format", "json", path_arg(&file)],
    );
    let report = json(&json_out);
    let failures = report["scenarios"][0]["failures"]
        .as_array()
        .expect("failures");
    assert_eq!(failing_seeds(&report), [40, 41, 42]);
    let line = |index: usize| failures[index]["shrunk"].as_str().unwrap_or_default();
    assert!(line(0).ends_with(&ending), "{}", line(0));
    for index in [1, 2] {
        assert!(
            line(index).starts_with("a sweep shrinks only its lowest failing seed"),
            "{}",
            line(index)
        );
        let message = failures[index]["message"].as_str().expect("message");
        assert!(
            message.contains(&format!("\nshrunk: {}\nreplay: OBSIM_SEED=4", line(index))),
            "{message}"
        );
    }
}

/// Every element and its attributes and text, unescaped, from a reader that
/// fails on a tag closed out of order, a bad entity or a stray `<`.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
}

impl Element {
    fn get(&self, attribute: &str) -> &str {
        self.attributes
            .iter()
            .find(|(name, _)| name == attribute)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("<{}> has no {attribute}", self.name))
    }
}

fn parse_xml(xml: &str) -> Vec<Element> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    // Text comes in pieces around each entity reference.
    let mut raw_text = String::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|error| panic!("not well-formed: {error}\n{xml}"));
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                let attributes = tag
                    .attributes()
                    .map(|attribute| {
                        let attribute = attribute.expect("a well-formed attribute");
                        let value = attribute.unescape_value().expect("a known entity");
                        let name = String::from_utf8(attribute.key.as_ref().to_vec()).unwrap();
                        (name, value.into_owned())
                    })
                    .collect();
                let name = String::from_utf8(tag.name().as_ref().to_vec()).unwrap();
                elements.push(Element {
                    name,
                    attributes,
                    text: String::new(),
                });
                if matches!(event, Event::Start(_)) {
                    open.push(elements.len() - 1);
                }
                raw_text.clear();
            }
            Event::Text(text) => raw_text.push_str(&text.decode().unwrap()),
            Event::GeneralRef(reference) => {
                raw_text.push_str(&format!("&{};", reference.decode().unwrap()));
            }
            Event::End(_) => {
                let index = open.pop().expect("an end tag closes an open one");
                let text = quick_xml::escape::unescape(&raw_text).expect("known entities");
                if !text.trim().is_empty() {
                    elements[index].text = text.into_owned();
                }
                raw_text.clear();
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected XML: {other:?}"),
        }
    }
    assert!(open.is_empty(), "unclosed elements at the end:\n{xml}");
    elements
}

#[test]
fn junit_is_well_formed_with_a_case_per_failing_seed_and_one_for_the_passes() {
    let folder = Folder::new("junit");
    // A bug in the reference system: its storage counter moves before the
    // write commits, so a failed write is counted as a success.
    let buggy = format!(
        "{}[system]\nbugs = [\"counter_before_write\"]\n",
        PASSES
            .replace("\"tiny\"", "\"buggy\"")
            .replace("invocations = 20", "invocations = 60")
    );
    let file = folder.file("buggy.toml", &buggy);
    let output = run(
        &folder.suite(),
        &["run", "--seeds", "3", "--format", "junit", path_arg(&file)],
    );
    assert_eq!(
        output.code, 1,
        "the bug is caught: {}{}",
        output.out, output.err
    );
    assert!(output
        .out
        .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let elements = parse_xml(&output.out);
    let suites: Vec<&Element> = elements.iter().filter(|e| e.name == "testsuite").collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].get("name"), "buggy");
    let cases: Vec<&Element> = elements.iter().filter(|e| e.name == "testcase").collect();
    let failures: Vec<&Element> = elements.iter().filter(|e| e.name == "failure").collect();
    assert!(!failures.is_empty(), "{}", output.out);
    assert_eq!(suites[0].get("tests"), cases.len().to_string());
    assert_eq!(suites[0].get("failures"), failures.len().to_string());
    for failure in &failures {
        let message = failure.get("message");
        assert!(
            message.starts_with("obsim: scenario `buggy` seed "),
            "{message}"
        );
        assert!(failure.text.starts_with(message), "{}", failure.text);
        assert!(
            failure.text.contains("\nreplay: OBSIM_SEED="),
            "{}",
            failure.text
        );
    }
    let passed = 3 - failures.len();
    if passed > 0 {
        assert!(
            cases
                .iter()
                .any(|case| case.get("name") == format!("{passed} seeds passed")),
            "{}",
            output.out
        );
    }
    for case in &cases {
        assert_eq!(case.get("classname"), "buggy");
    }
}

#[test]
fn junit_escapes_markup_in_messages_and_paths() {
    let folder = Folder::new("escape&<\"'>");
    let file = folder.file("fails.toml", FAILS);
    let output = run(
        &folder.suite(),
        &["--seed", "0", "--format", "junit", path_arg(&file)],
    );
    assert_eq!(output.code, 1, "{}", output.err);
    let elements = parse_xml(&output.out);
    let failure = elements
        .iter()
        .find(|element| element.name == "failure")
        .expect("a failure");
    // Read back unescaped: `<` from the expectation, `&`, `<`, `"`, `'`
    // and `>` from the path in the replay line.
    assert!(
        failure
            .text
            .contains("`final(actor_client_calls_total) < 0`"),
        "{}",
        failure.text
    );
    assert!(failure.text.contains("escape&<\"'>"), "{}", failure.text);
    let file_property = elements
        .iter()
        .find(|element| element.name == "property" && element.get("name") == "file")
        .expect("the file property");
    assert_eq!(file_property.get("value"), path_arg(&file));
    // And escaped in the document itself.
    assert!(
        output.out.contains("escape&amp;&lt;&quot;&apos;&gt;"),
        "{}",
        output.out
    );
}

#[test]
fn human_output_prints_each_failure_then_the_summary_lines() {
    let folder = Folder::new("human");
    let fails = folder.file("fails.toml", FAILS);
    let passes = folder.file("tiny.toml", PASSES);
    let output = run(
        &folder.suite(),
        &[
            "--seeds",
            "2",
            "--jobs",
            "1",
            path_arg(&fails),
            path_arg(&passes),
        ],
    );
    assert_eq!(output.code, 1, "{}", output.err);
    let out = &output.out;
    let first = out
        .find("obsim: scenario `always-fails` seed 40 ")
        .expect(out);
    let second = out
        .find("obsim: scenario `always-fails` seed 41 ")
        .expect(out);
    let summary = out.find("FAIL always-fails ").expect(out);
    assert!(first < second && second < summary, "{out}");
    assert!(
        out.contains(" 2 seed(s), 1 run twice (seeds 40): 0 passed, 2 failed; "),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    let ok = lines
        .iter()
        .find(|line| line.starts_with("ok   tiny "))
        .expect(out);
    assert!(
        ok.contains(" 2 seed(s), 1 run twice (seeds 0): 2 passed, 0 failed; "),
        "{ok}"
    );
    assert!(ok.ends_with("s wall"), "{ok}");
    assert_eq!(lines.last(), Some(&"obsim: 2 failing seed(s) in all"));
    assert!(output.err.is_empty(), "{}", output.err);
}

#[test]
fn no_subcommand_runs_as_run_and_list_lists() {
    let folder = Folder::new("compat");
    let file = folder.file("tiny.toml", PASSES);
    let suite = folder.suite();
    let summary = |output: &Output| {
        assert_eq!(output.code, 0, "{}", output.err);
        // Everything but the wall time.
        output
            .out
            .split(" in ")
            .next()
            .expect("a summary")
            .to_string()
    };
    let bare = run(&suite, &["--seeds", "1", path_arg(&file)]);
    let explicit = run(&suite, &["run", "--seeds", "1", path_arg(&file)]);
    assert!(bare.out.starts_with("ok   tiny "), "{}", bare.out);
    assert_eq!(summary(&bare), summary(&explicit));

    let listed = run(&suite, &["list"]);
    assert_eq!((listed.code, listed.out.trim()), (0, path_arg(&file)));
    let flag = run(&suite, &["--list"]);
    assert_eq!((flag.code, &flag.out), (0, &listed.out));
    let named = run(&suite, &["list", path_arg(&file), path_arg(&file)]);
    assert_eq!(named.out, format!("{0}\n{0}\n", path_arg(&file)));
}

#[test]
fn a_folder_runs_every_scenario_file_under_it_and_a_missing_path_is_refused() {
    let folder = Folder::new("folder-arg");
    let a = folder.file("a.toml", PASSES);
    std::fs::create_dir_all(folder.0.join("more")).unwrap();
    let b = folder.file("more/b.toml", &PASSES.replace("\"tiny\"", "\"tiny-b\""));
    let suite = folder.suite();
    let listed = run(&suite, &["list", path_arg(&folder.0)]);
    assert_eq!(listed.code, 0, "{}", listed.err);
    assert_eq!(listed.out, format!("{}\n{}\n", path_arg(&a), path_arg(&b)));
    let swept = run(&suite, &["run", "--seeds", "1", path_arg(&folder.0)]);
    assert_eq!(swept.code, 0, "{}", swept.err);
    assert!(swept.out.contains("ok   tiny "), "{}", swept.out);
    assert!(swept.out.contains("ok   tiny-b "), "{}", swept.out);

    let missing = folder.0.join("nope.toml");
    let refused = run(&suite, &["list", path_arg(&missing)]);
    assert_eq!(refused.code, 2, "{}", refused.out);
    assert!(
        refused.err.contains("nope.toml: no such file or folder"),
        "{}",
        refused.err
    );
    let empty = folder.0.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let nothing = run(&suite, &["run", "--seeds", "1", path_arg(&empty)]);
    assert_eq!(nothing.code, 2, "{}", nothing.out);
    assert!(
        nothing.err.contains("no scenario files (*.toml) under"),
        "{}",
        nothing.err
    );
}

#[test]
fn a_stopped_sweep_prints_what_it_has_says_so_and_exits_130() {
    let folder = Folder::new("stopped");
    let file = folder.file("tiny.toml", PASSES);
    let suite = folder.suite();
    let stop = AtomicBool::new(true);
    let human = run_until(&suite, &["--seeds", "3", path_arg(&file)], &stop);
    assert_eq!(human.code, 130);
    assert!(human.out.contains("obsim: interrupted"), "{}", human.out);
    assert!(
        human.out.ends_with("obsim: 0 failing seed(s) in all\n"),
        "{}",
        human.out
    );

    let json_output = run_until(
        &suite,
        &["--format", "json", "--seeds", "3", path_arg(&file)],
        &stop,
    );
    assert_eq!(json_output.code, 130);
    assert_eq!(json(&json_output)["stopped"], true);
    assert!(
        json_output.err.contains("obsim: interrupted"),
        "{}",
        json_output.err
    );
}

/// Ctrl-C during a time budget stops it as it stops a sweep: soon, not
/// when the time is up, saying which seeds ran.
#[test]
fn a_stopped_campaign_ends_now_and_says_what_it_covered() {
    let folder = Folder::new("stopped-campaign");
    let file = folder.file("tiny.toml", PASSES);
    let suite = folder.suite();
    let stop = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let output = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        run_until(
            &suite,
            &[
                "--for",
                "1h",
                "--seed-start",
                "500",
                "--jobs",
                "2",
                "--format",
                "json",
                path_arg(&file),
            ],
            &stop,
        )
    });
    assert_eq!(output.code, 130, "{}", output.err);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let report = json(&output);
    assert_eq!(report["stopped"], true);
    let scenario = &report["scenarios"][0];
    let ran = scenario["seeds_run"].as_u64().expect("seeds_run");
    assert!(ran > 0, "{scenario}");
    assert_eq!(
        scenario["covered"],
        serde_json::json!([{"first": 500, "last": 500 + ran - 1, "step": 1, "count": ran}])
    );
    assert_eq!(scenario["next_seed_start"], 500 + ran);
    assert_eq!(
        scenario["shards"],
        serde_json::json!([{"shard": "1/1", "seed_start": 500, "seeds_run": ran}])
    );
}

#[test]
fn help_documents_every_default_and_the_environment() {
    let folder = Folder::new("help");
    let suite = folder.suite();
    for args in [&["--help"][..], &["run", "--help"]] {
        let help = run(&suite, args);
        assert_eq!(help.code, 0);
        for says in [
            "[default: OBSIM_SEEDS, else each file's [seeds] sweep, else its [seeds] count, else 100]",
            "[default: one per core]",
            "[default: 1/1, every seed]",
            "[default: human]",
            "[default: every file under the suite's folder]",
            "OBSIM_SEED=<n>",
        ] {
            assert!(
                help.out.contains(says),
                "{args:?} lacks {says:?}:\n{}",
                help.out
            );
        }
    }
    let help = run(&suite, &["--help"]);
    assert!(help.out.contains("list"), "{}", help.out);
    assert!(
        !help.out.contains("--list"),
        "--list stays hidden:\n{}",
        help.out
    );
}

#[test]
fn bench_times_bare_captured_and_checked_runs_of_the_same_seeds_and_prints_tables() {
    let folder = Folder::new("bench");
    let file = folder.file("tiny.toml", PASSES);
    let output = run(
        &folder.suite(),
        &["bench", "--seeds", "2", "--jobs", "2", path_arg(&file)],
    );
    assert_eq!(output.code, 0, "{}{}", output.out, output.err);
    let out = &output.out;
    assert!(out.starts_with("bench tiny: 2 seed(s), bare "), "{out}");
    assert!(
        out.contains("| scenario | seeds | bare runs/s | pipeline runs/s | captured runs/s | capture / bare |"),
        "{out}"
    );
    let row = out
        .lines()
        .find(|line| line.starts_with("| tiny | 2 |"))
        .unwrap_or_else(|| panic!("no row for tiny:\n{out}"));
    // Twelve columns, each a figure: nothing measured is left blank.
    assert_eq!(row.split('|').count(), 14, "{row}");
    assert!(
        out.contains(
            "| scenario | verdicts/s, all twice | verdicts/s, 1/4 | seeds run twice | speedup |"
        ),
        "{out}"
    );
    assert!(
        out.contains("| 1 of 2 |"),
        "the first seed of two ran twice: {out}"
    );
    assert!(
        out.contains("| scenario | 1 job(s) | 2 job(s) |"),
        "the scaling table goes up to --jobs: {out}"
    );
    assert!(!out.contains("Measured over failures"), "{out}");
    assert!(out.contains("Peak RSS of this process: "), "{out}");
}

#[test]
fn with_no_seed_count_each_file_sweeps_its_own_depth_and_says_how_to_go_deeper() {
    if std::env::var_os("OBSIM_SEED").is_some() || std::env::var_os("OBSIM_SEEDS").is_some() {
        // The variables pick the seeds when set; this test is about the
        // files' own depth.
        return;
    }
    let folder = Folder::new("own-depth");
    let three = folder.file(
        "three.toml",
        &format!("{PASSES}\n[seeds]\nsweep = 3\n").replace("name = \"tiny\"", "name = \"three\""),
    );
    let hundred = folder.file("tiny.toml", PASSES);
    let output = run(
        &folder.suite(),
        &["--jobs", "2", path_arg(&three), path_arg(&hundred)],
    );
    assert_eq!(output.code, 0, "{}{}", output.out, output.err);
    let out = &output.out;
    assert!(
        out.contains("ok   three                      3 seed(s), "),
        "{out}"
    );
    assert!(
        out.contains("ok   tiny                       100 seed(s), "),
        "{out}"
    );
    assert!(
        out.contains("each file swept its own [seeds] sweep depth; to sweep deeper"),
        "{out}"
    );
    assert!(
        out.contains("-- run --seeds 1000 --determinism all"),
        "{out}"
    );
    // A count given is the depth: nothing to say about going deeper.
    let given = run(&folder.suite(), &["--seeds", "1", path_arg(&three)]);
    assert!(!given.out.contains("to sweep deeper"), "{}", given.out);
}

#[test]
fn determinism_all_runs_every_seed_twice_and_a_bad_sample_is_refused() {
    let folder = Folder::new("determinism");
    let file = folder.file("tiny.toml", PASSES);
    let all = run(
        &folder.suite(),
        &["--seeds", "3", "--determinism", "all", path_arg(&file)],
    );
    assert_eq!(all.code, 0, "{}{}", all.out, all.err);
    assert!(
        all.out.contains(" 3 seed(s), each run twice: 3 passed"),
        "{}",
        all.out
    );
    let bad = run(
        &folder.suite(),
        &["--seeds", "3", "--determinism", "1/0", path_arg(&file)],
    );
    assert_eq!(bad.code, 2, "{}{}", bad.out, bad.err);
    assert!(bad.err.contains("--determinism"), "{}", bad.err);
    assert!(bad.err.contains("expected `all`"), "{}", bad.err);
}

/// Whether `OBSIM_SEED` or `OBSIM_SEEDS` picks the seeds of this process:
/// then a test about a file's own depth has nothing to say.
fn seeds_from_environment() -> bool {
    std::env::var_os("OBSIM_SEED").is_some() || std::env::var_os("OBSIM_SEEDS").is_some()
}

/// What one file's JSON says it ran: `(seeds_run, covered)`.
fn ran(output: &Output) -> (u64, Value) {
    let report = json(output);
    let scenario = &report["scenarios"][0];
    (
        scenario["seeds_run"].as_u64().expect("seeds_run"),
        scenario["covered"].clone(),
    )
}

/// A file's own `[seeds]` win over the command's default, never over a
/// flag: a file that sets `count = 2` and no `sweep` sweeps 2 seeds when no
/// flag says otherwise, `--seeds 3` sweeps 3, `--seed 9` runs seed 9 (seen
/// failing before the fix: the file swept 100 seeds).
#[test]
fn a_file_that_sets_only_count_sweeps_count_seeds_unless_a_flag_says_otherwise() {
    if seeds_from_environment() {
        return;
    }
    let folder = Folder::new("own-count");
    let file = folder.file(
        "two.toml",
        &format!("{PASSES}\n[seeds]\ncount = 2\nstart = 5\n"),
    );
    let suite = folder.suite();
    let file = path_arg(&file);
    let range = |first: u64, count: u64| serde_json::json!([{"first": first, "last": first + count - 1, "step": 1, "count": count}]);
    let own = run(&suite, &["--format", "json", file]);
    assert_eq!(own.code, 0, "{}", own.err);
    assert_eq!(ran(&own), (2, range(5, 2)));
    let flag = run(&suite, &["--seeds", "3", "--format", "json", file]);
    assert_eq!(ran(&flag), (3, range(5, 3)));
    let one = run(&suite, &["--seed", "9", "--format", "json", file]);
    assert_eq!(ran(&one), (1, range(9, 1)));
    // A person's summary says the depth was the file's own.
    let human = run(&suite, &[file]);
    assert!(human.out.contains(" 2 seed(s), "), "{}", human.out);
    assert!(
        human
            .out
            .contains("each file swept its own [seeds] sweep depth"),
        "{}",
        human.out
    );
}

/// The issue's own case: the `minimal.toml` a failing seed shrinks into,
/// run with no flag, runs its one seed and fails it, not a hundred seeds.
#[test]
fn a_shrunk_minimal_toml_run_with_no_flag_runs_its_one_seed() {
    if seeds_from_environment() {
        return;
    }
    let folder = Folder::new("minimal-one-seed");
    let file = folder.file("fails.toml", FAILS);
    let artifacts = folder.0.join("artifacts");
    let suite = folder.suite().artifacts_dir(Some(artifacts.clone()));
    let failed = run(
        &suite,
        &["--seed", "7", "--format", "json", path_arg(&file)],
    );
    assert_eq!(failed.code, 1, "{}", failed.err);
    let minimal = artifacts.join("always-fails/7/minimal.toml");
    assert!(minimal.is_file(), "{}", failed.out);
    let again = run(&folder.suite(), &["--format", "json", path_arg(&minimal)]);
    assert_eq!(again.code, 1, "{}", again.err);
    let report = json(&again);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["seeds_run"], 1, "{scenario}");
    assert_eq!(failing_seeds(&report), [7]);
}

/// Two files named alike would write the same artifacts folders, the
/// second replacing the first's: the run is refused before any seed runs,
/// naming both files; so is one file given twice (seen failing before the
/// fix: both ran, exit 0).
#[test]
fn two_files_with_the_same_name_in_one_run_are_refused_naming_both() {
    let folder = Folder::new("same-name");
    let a = folder.file("a.toml", PASSES);
    let b = folder.file("b.toml", PASSES);
    let suite = folder.suite();
    let refused = run(&suite, &["--seeds", "1", path_arg(&a), path_arg(&b)]);
    assert_eq!(refused.code, 2, "{}{}", refused.out, refused.err);
    assert!(refused.out.is_empty(), "nothing ran: {}", refused.out);
    let expected = format!(
        "obsim: {} and {} are both named \"tiny\": a scenario's name names its artifacts folder \
         (<artifacts>/tiny/<seed>/)",
        a.display(),
        b.display()
    );
    assert!(refused.err.starts_with(&expected), "{}", refused.err);
    // The folder holding both: the same clash.
    let folder_arg = run(&suite, &["--seeds", "1", path_arg(&folder.0)]);
    assert_eq!(folder_arg.code, 2, "{}", folder_arg.out);
    assert!(
        folder_arg.err.contains("are both named \"tiny\""),
        "{}",
        folder_arg.err
    );
    let twice = run(&suite, &["--seeds", "1", path_arg(&a), path_arg(&a)]);
    assert_eq!(twice.code, 2, "{}", twice.out);
    assert_eq!(
        twice.err,
        format!(
            "obsim: {} is given twice: a run takes each scenario file once\n",
            a.display()
        )
    );
}

/// A stop before the first file: the JSON still lists every file the
/// command was given, each marked as never run, and so do JUnit (a skipped
/// case per file) and a person's summary (seen failing before the fix: the
/// JSON listed no file, and only stderr named the first one).
#[test]
fn json_after_a_stop_lists_every_file_and_marks_those_that_never_ran() {
    let folder = Folder::new("stopped-files");
    let a = folder.file("a.toml", PASSES);
    let b = folder.file("b.toml", &PASSES.replace("\"tiny\"", "\"tiny-b\""));
    let suite = folder.suite();
    let stop = AtomicBool::new(true);
    let args = |format: &'static str| {
        [
            "--seeds",
            "3",
            "--format",
            format,
            path_arg(&a),
            path_arg(&b),
        ]
    };
    let output = run_until(&suite, &args("json"), &stop);
    assert_eq!(output.code, 130, "{}", output.err);
    let report = json(&output);
    assert_eq!(report["stopped"], true);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["next_seed_start"], Value::Null, "nothing ran");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let files: Vec<&str> = scenarios
        .iter()
        .map(|scenario| scenario["file"].as_str().expect("file"))
        .collect();
    assert_eq!(files, [path_arg(&a), path_arg(&b)]);
    for (scenario, name) in scenarios.iter().zip(["tiny", "tiny-b"]) {
        assert_eq!(scenario["scenario"], name);
        assert_eq!(scenario["ran"], false, "{scenario}");
        assert_eq!(scenario["stopped"], true, "{scenario}");
        assert_eq!(scenario["seeds_planned"], 3, "{scenario}");
        assert_eq!(scenario["seeds_run"], 0, "{scenario}");
        assert_eq!(scenario["covered"], serde_json::json!([]), "{scenario}");
    }

    let junit = run_until(&suite, &args("junit"), &stop);
    assert_eq!(junit.code, 130, "{}", junit.err);
    let elements = parse_xml(&junit.out);
    let suites: Vec<&Element> = elements.iter().filter(|e| e.name == "testsuite").collect();
    assert_eq!(suites.len(), 2, "{}", junit.out);
    for suite in &suites {
        assert_eq!((suite.get("tests"), suite.get("skipped")), ("1", "1"));
    }
    let skipped = elements.iter().filter(|e| e.name == "skipped").count();
    assert_eq!(skipped, 2, "{}", junit.out);

    let human = run_until(&suite, &args("human"), &stop);
    assert_eq!(human.code, 130);
    for name in ["tiny", "tiny-b"] {
        let line =
            format!("skip {name:<26} not run: interrupted before it started (0 of 3 seed(s))");
        assert!(human.out.contains(&line), "{line:?} in:\n{}", human.out);
    }
}

/// A stop in the middle of the first file: it is listed as cut short (ran,
/// stopped), the second as never run, and `merge` reads the document back
/// and says the same.
#[test]
fn a_stop_mid_sweep_lists_the_cut_file_as_ran_and_the_next_as_never_run_and_merge_agrees() {
    let folder = Folder::new("stopped-mid");
    let a = folder.file("a.toml", PASSES);
    let b = folder.file("b.toml", &PASSES.replace("\"tiny\"", "\"tiny-b\""));
    let suite = folder.suite();
    let stop = AtomicBool::new(false);
    let output = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(500));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        run_until(
            &suite,
            &[
                "--seeds",
                "100000",
                "--jobs",
                "2",
                "--format",
                "json",
                path_arg(&a),
                path_arg(&b),
            ],
            &stop,
        )
    });
    assert_eq!(output.code, 130, "{}", output.err);
    let report = json(&output);
    let (cut, never) = (&report["scenarios"][0], &report["scenarios"][1]);
    assert_eq!(
        (cut["ran"].clone(), cut["stopped"].clone()),
        (true.into(), true.into())
    );
    let seeds_run = cut["seeds_run"].as_u64().expect("seeds_run");
    assert!(seeds_run < 100_000, "{cut}");
    assert_eq!(
        (never["ran"].clone(), never["seeds_run"].clone()),
        (false.into(), 0.into())
    );
    assert_eq!(never["file"], path_arg(&b));
    // Where the next campaign starts: past the first file's seeds, not at
    // the second file's start.
    assert_eq!(report["next_seed_start"], seeds_run);

    let document = folder.file("stopped.json", &output.out);
    let merged = run(&suite, &["merge", "--format", "json", path_arg(&document)]);
    assert_eq!(merged.code, 0, "{}", merged.err);
    let merged_report = json(&merged);
    assert_eq!(merged_report["scenarios"][1]["ran"], false);
    assert_eq!(merged_report["scenarios"][0]["ran"], true);
    assert_eq!(merged_report["next_seed_start"], seeds_run);
    let human = run(&suite, &["merge", path_arg(&document)]);
    assert!(
        human
            .out
            .contains("skip tiny-b                     not run: interrupted before it started"),
        "{}",
        human.out
    );
}

/// `list` vouches only for scenario files: a missing path, a file not
/// named `*.toml` and a special file are refused with what was expected,
/// exit 2, as `run` refuses them. (A missing path was already refused on
/// this branch's base; a file such as `notes.txt` was listed, exit 0.)
#[test]
fn list_of_a_missing_file_or_of_a_file_that_is_no_scenario_file_fails() {
    let folder = Folder::new("list-refuses");
    let notes = folder.file("notes.txt", "not a scenario");
    let suite = folder.suite();
    let notes_says = format!("{}: not named *.toml", notes.display());
    for (path, says) in [
        ("nonexist.toml", "nonexist.toml: no such file or folder"),
        (path_arg(&notes), notes_says.as_str()),
        ("/dev/null", "/dev/null: not a regular file"),
    ] {
        for args in [vec!["list", path], vec!["run", "--seeds", "1", path]] {
            let output = run(&suite, &args);
            assert_eq!(output.code, 2, "{args:?}: {}", output.out);
            assert!(output.out.is_empty(), "{args:?}: {}", output.out);
            assert_eq!(
                output.err,
                format!("obsim: {says}: expected a scenario file (*.toml) or a folder of them\n"),
                "{args:?}"
            );
        }
    }
}
