//! A failed seed leaves a folder a person can read without rerunning it:
//! the run's spans as OTLP/JSON, every scrape, the final expositions, the
//! fault log, the scenario and the report, named in the failure message.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use obsim::harness::{write_failure, Artifacts, Failure, Run, Sim, Verdict};
use obsim_fixtures::{ActorConfig, ActorSystem, Bug};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

const FILES: [&str; 10] = [
    "truth.txt",
    "report.html",
    "timebase.txt",
    "traces.otlp.json",
    "logs.otlp.json",
    "scrapes.txt",
    "finals.txt",
    "faults.txt",
    "scenario.toml",
    "report.txt",
];

/// The span leak bug fails seed 2 of the skeleton (see `bug_switches.rs`).
const SEED: u64 = 2;

struct Failed {
    sim: Sim,
    verdict: Verdict,
    /// The artifacts root: unique to this process, so parallel test runs
    /// never share it.
    root: PathBuf,
}

impl Failed {
    fn failure(&self) -> &Failure {
        self.verdict.failure.as_ref().expect("seed 2 fails")
    }

    fn run(&self) -> &Run {
        self.verdict.run.as_ref().expect("seed 2 completes")
    }

    fn folder(&self) -> PathBuf {
        self.root.join("skeleton").join(SEED.to_string())
    }
}

/// One failing seed, checked once and shared by every test here: a seed
/// costs two runs, and these tests only read what it left.
static FAILED: OnceLock<Failed> = OnceLock::new();

fn failed() -> &'static Failed {
    FAILED.get_or_init(|| {
        let root =
            std::env::temp_dir().join(format!("obsim-artifacts-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let config = ActorConfig::default().with_bug(Bug::SpanLeakOnError);
        let sim = obsim_fixtures::skeleton()
            .replay_command("cargo test --test artifacts")
            .artifacts_dir(Some(root.clone()))
            // The files, not the shrink (tests/shrink.rs reads its line).
            .shrink(None)
            .build(move || ActorSystem::new(config.clone()))
            .expect("valid");
        let verdict = sim.check_seed(SEED);
        Failed { sim, verdict, root }
    })
}

/// Removes the shared artifacts root when the last test here is done with
/// it; a failed test leaves it, to be read.
struct Cleanup;

const TESTS: usize = 6;

impl Drop for Cleanup {
    fn drop(&mut self) {
        static DONE: AtomicUsize = AtomicUsize::new(0);
        let done = DONE.fetch_add(1, Ordering::SeqCst) + 1;
        if done == TESTS && !std::thread::panicking() {
            if let Some(failed) = FAILED.get() {
                let _ = fs::remove_dir_all(&failed.root);
            }
        }
    }
}

fn read(folder: &Path, file: &str) -> String {
    fs::read_to_string(folder.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn failing_seed_writes_every_file_and_its_message_names_the_folder() {
    let _cleanup = Cleanup;
    let failed = failed();
    let folder = failed.folder();
    assert_eq!(
        failed.failure().artifacts,
        Some(Artifacts::Written(folder.clone()))
    );
    let message = failed.failure().to_string();
    let tail = format!(
        "\nartifacts: {}\npage: {}\nreplay: OBSIM_SEED={SEED} cargo test --test artifacts",
        folder.display(),
        folder.join("report.html").display()
    );
    assert!(message.ends_with(&tail), "{message}");
    for file in FILES {
        assert!(folder.join(file).is_file(), "{file} missing in {folder:?}");
    }
    let run = failed.run();
    let scrapes = read(&folder, "scrapes.txt");
    assert_eq!(scrapes.matches("\n=== scrape #").count(), run.scrapes.len());
    assert!(scrapes.contains(" incarnation 0 up\n# HELP "), "{scrapes}");
    let finals = read(&folder, "finals.txt");
    assert!(
        finals.contains(
            "\n=== server-1 incarnation 0: booted at 0.000000s, lived until crash at 1.500000s\n"
        ),
        "{finals}"
    );
    let faults = read(&folder, "faults.txt");
    assert_eq!(faults.lines().count(), run.faults.len() + 2, "{faults}");
    assert!(faults.ends_with(&format!("dropped: {}\n", run.faults_dropped)));
    let scenario = read(&folder, "scenario.toml");
    assert!(scenario.starts_with("# Built in Rust"), "{scenario}");
    assert!(
        scenario.contains("\n# seed: 2\n# replay: OBSIM_SEED=2 "),
        "{scenario}"
    );
    assert!(
        scenario.contains("\n# faults (fixed):\n#   storage_write_failure"),
        "{scenario}"
    );
    assert!(
        scenario.ends_with("# faults (swarm draw for this seed):\n#   (none)\n"),
        "{scenario}"
    );
    let report = read(&folder, "report.txt");
    assert!(report.starts_with(&format!("{message}\n\n")), "{report}");
    assert!(
        report.contains("[span_completion] span `ActorService/Invoke`"),
        "{report}"
    );
    assert!(
        report.contains("\n\nscenario: skeleton\nseed: 2\n"),
        "{report}"
    );
}

#[test]
fn traces_parse_back_as_an_otlp_request_with_every_span() {
    let _cleanup = Cleanup;
    let failed = failed();
    let json = read(&failed.folder(), "traces.otlp.json");
    let request: ExportTraceServiceRequest = serde_json::from_str(&json).expect("OTLP/JSON");
    let spans: Vec<_> = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .collect();
    let run = failed.run();
    assert!(!spans.is_empty());
    // The checked run keeps span records only; the file comes from a replay
    // of the seed that kept the SDK's data, and must hold the same spans.
    assert!(run.otel_spans.is_empty());
    assert_eq!(spans.len(), run.spans.len());
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut read_back: Vec<(String, String)> = spans
        .iter()
        .map(|span| (hex(&span.trace_id), hex(&span.span_id)))
        .collect();
    let mut ran: Vec<(String, String)> = run
        .spans
        .iter()
        .map(|span| (span.trace_id.to_string(), span.span_id.to_string()))
        .collect();
    read_back.sort();
    ran.sort();
    assert_eq!(read_back, ran);
    // OTLP's JSON mapping: hex ids, camelCase names, enums as integers,
    // 64-bit integers as strings.
    let first = &run.spans[0];
    assert!(json.contains(&format!("\"traceId\":\"{}\"", first.trace_id)));
    assert!(json.contains("\"startTimeUnixNano\":\""), "{json}");
    assert!(json.contains("\"kind\":2"), "a server span's kind is 2");
    assert!(json.contains("{\"key\":\"service.name\",\"value\":{\"stringValue\":\"skeleton\"}}"));
}

#[test]
fn logs_parse_back_as_an_otlp_logs_request_with_every_event_and_its_trace() {
    let _cleanup = Cleanup;
    let failed = failed();
    let json = read(&failed.folder(), "logs.otlp.json");
    // opentelemetry-proto's own types, through its OTLP/JSON mapping.
    let request: ExportLogsServiceRequest = serde_json::from_str(&json).expect("OTLP/JSON logs");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let text = |value: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        match value.as_ref().and_then(|value| value.value.as_ref()) {
            Some(Value::StringValue(text)) => text.clone(),
            other => format!("{other:?}"),
        }
    };
    let mut read_back: Vec<(String, String, String, String)> = Vec::new();
    for resource in &request.resource_logs {
        let attributes = &resource.resource.as_ref().expect("a resource").attributes;
        let node = attributes
            .iter()
            .find(|kv| kv.key == "service.instance.id")
            .map(|kv| text(&kv.value))
            .expect("each resource names its node");
        for scope in &resource.scope_logs {
            for record in &scope.log_records {
                read_back.push((
                    node.clone(),
                    record.severity_text.clone(),
                    text(&record.body),
                    hex(&record.trace_id),
                ));
            }
        }
    }
    let run = failed.run();
    assert!(run.otel_logs.is_empty(), "a checked run keeps records only");
    let mut ran: Vec<(String, String, String, String)> = run
        .logs
        .iter()
        .map(|log| {
            (
                log.node.clone(),
                log.level.as_str().to_uppercase(),
                log.body.to_string(),
                log.trace
                    .map_or(String::new(), |trace| trace.trace_id.to_string()),
            )
        })
        .collect();
    assert!(
        ran.iter().any(|(_, level, body, trace)| level == "WARN"
            && body == "invocation failed"
            && !trace.is_empty()),
        "the failed invocations were logged in their traces"
    );
    read_back.sort();
    ran.sort();
    assert_eq!(read_back, ran);
    assert!(
        json.contains("\"severityNumber\":13"),
        "WARN is severity 13"
    );
    assert!(
        json.contains("\"scope\":{\"name\":\"actors::startup\""),
        "{json}"
    );
}

#[test]
fn rewriting_replaces_a_stale_folder_and_io_errors_are_reported_not_raised() {
    let failed = failed();
    let folder = failed.folder();
    let _cleanup = Cleanup;
    // Its own root, so these writes never race the other tests' reads.
    let root = failed.root.join("rewrite");
    let config = failed.sim.config();
    // As check_seed writes them: from a replay that kept the SDK's spans.
    let replay = failed.sim.run_with_otel(SEED).expect("seed 2 completes");
    let stale = write_failure(&root, config, failed.failure(), Some(&replay)).expect("written");
    fs::write(stale.join("stale.txt"), "from an earlier run").expect("stale file");
    let fresh = write_failure(&root, config, failed.failure(), Some(&replay)).expect("written");
    assert_eq!(fresh, stale);
    assert!(!fresh.join("stale.txt").exists(), "stale file survived");
    for file in [
        "traces.otlp.json",
        "logs.otlp.json",
        "scrapes.txt",
        "finals.txt",
        "faults.txt",
    ] {
        assert_eq!(read(&fresh, file), read(&folder, file), "{file}");
    }
    // A regular file where the folder should be: the write fails, and says so.
    let blocked = failed.root.join("blocked");
    fs::write(&blocked, "not a folder").expect("file");
    let error = write_failure(&blocked, config, failed.failure(), Some(failed.run()))
        .expect_err("cannot write under a file");
    let note = Artifacts::from_result(&blocked, Err(error)).to_string();
    assert!(
        note.starts_with(&format!("not written under {}: ", blocked.display())),
        "{note}"
    );
}

#[test]
fn a_symlink_planted_under_the_artifacts_folder_is_never_followed() {
    let failed = failed();
    let _cleanup = Cleanup;
    let root = failed.root.join("planted");
    let outside = failed.root.join("outside");
    fs::create_dir_all(&root).expect("root");
    fs::create_dir_all(&outside).expect("outside");
    // `<root>/skeleton` links out of the artifacts folder.
    std::os::unix::fs::symlink(&outside, root.join("skeleton")).expect("symlink");
    let config = failed.sim.config();
    let error =
        write_failure(&root, config, failed.failure(), Some(failed.run())).expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("is a symbolic link: refusing to follow it"),
        "{error}"
    );
    let written: Vec<_> = fs::read_dir(&outside).expect("outside").collect();
    assert!(written.is_empty(), "wrote through the link: {written:?}");
}

#[test]
fn a_seed_folder_obsim_did_not_write_is_never_deleted() {
    let failed = failed();
    let _cleanup = Cleanup;
    let root = failed.root.join("foreign");
    let theirs = root.join("skeleton").join(SEED.to_string());
    fs::create_dir_all(&theirs).expect("their folder");
    fs::write(theirs.join("notes.txt"), "someone's work").expect("their file");
    let config = failed.sim.config();
    let error =
        write_failure(&root, config, failed.failure(), Some(failed.run())).expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("was not written by obsim (it has no .obsim-artifacts file)"),
        "{error}"
    );
    assert_eq!(read(&theirs, "notes.txt"), "someone's work");
    // No staging folder is left behind either.
    let left: Vec<String> = fs::read_dir(root.join("skeleton"))
        .expect("scenario folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(left, [SEED.to_string()]);
    // Its own folders carry the marker that lets obsim replace them.
    assert!(failed.folder().join(".obsim-artifacts").is_file());
}
