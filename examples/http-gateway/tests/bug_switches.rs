//! Every bug switch plants a realistic instrumentation bug in the gateway,
//! from a file's `[system.bugs]` table (`bugs/*.toml`), and a check must
//! catch it on madsim TCP from the spans and the service's own `/metrics`
//! route alone: obsim carries none of its traffic. Each is caught by its
//! own check and no other, with a message that names what broke and the
//! command that replays it; the same file without the bug passes on the
//! seed that failed; and the failing seed shrinks into a `minimal.toml`
//! that fails the same check when run on its own.

#[path = "gateway/mod.rs"]
mod gateway;

use std::path::Path;
use std::time::Duration;

use obsim::harness::{Artifacts, Check, Failure, ShrinkBudget};
use obsim::Suite;
use obsim_example_http_gateway::{Bugs, Config};

/// Seeds a test sweeps for its first failure.
const SEEDS: u64 = 8;
const PACKAGE: &str = "obsim-example-http-gateway";

fn suite() -> Suite {
    // Failures here are expected: leave no artifacts behind.
    Suite::new("scenarios")
        .system(gateway::new)
        .artifacts_dir(None)
}

fn replay(test: &str) -> String {
    format!("cargo test -p {PACKAGE} --test bug_switches -- --exact {test}")
}

/// The first failure `file` causes over its seeds, with the seed, after
/// checking that the file plants exactly `bug` and that the same file
/// without it passes on that seed.
fn first_failure(file: &str, bug: &str, test: &str) -> (u64, Failure) {
    let suite = suite();
    let (scenario, sim) = suite
        .load(Path::new(file), &replay(test))
        .unwrap_or_else(|error| panic!("{error}"));
    let config: Config = scenario.system_config().expect("a valid [system]");
    assert_eq!(config.bugs.on(), [bug], "{file} plants exactly its own bug");
    let start = scenario.seeds.start;
    let (seed, failure) = (start..start + SEEDS)
        .find_map(|seed| sim.check_seed(seed).failure.map(|failure| (seed, failure)))
        .unwrap_or_else(|| panic!("bug {bug} in {file} went unnoticed on {SEEDS} seeds"));
    let clean = Config {
        bugs: Bugs::default(),
        ..config
    };
    let clean_sim = suite
        .builder(&scenario, &replay(test))
        .build(move || gateway::new(clean.clone()))
        .expect("a valid scenario");
    let verdict = clean_sim.check_seed(seed);
    assert!(
        verdict.failure.is_none(),
        "{file} without its bug fails seed {seed} too:\n{}",
        verdict.failure.unwrap()
    );
    (seed, failure)
}

/// Asserts that only `check` fired, that the message holds each of
/// `phrases`, and that it ends with the replay line.
fn assert_caught(failure: &Failure, check: Check, seed: u64, test: &str, phrases: &[&str]) {
    let message = failure.to_string();
    assert_eq!(
        failure.checks(),
        [check],
        "only the planted bug fires:\n{message}"
    );
    for phrase in phrases {
        assert!(message.contains(phrase), "no {phrase:?} in:\n{message}");
    }
    let replay = format!("replay: OBSIM_SEED={seed} {}", replay(test));
    assert!(message.ends_with(&replay), "no replay line in:\n{message}");
}

/// Runs `file`'s failing `seed` with artifacts and shrinking on: the
/// message names the `minimal.toml` the shrink wrote, and that file, run on
/// its own, fails `check` and nothing else.
fn assert_shrinks_to_a_file(file: &str, seed: u64, check: Check, test: &str) {
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("http-gateway-shrink")
        .join(test);
    let _ = std::fs::remove_dir_all(&artifacts);
    let suite = suite().artifacts_dir(Some(artifacts.clone()));
    let scenario = obsim::load_scenario(Path::new(file)).unwrap_or_else(|error| panic!("{error}"));
    let config: Config = scenario.system_config().expect("a valid [system]");
    let budget = ShrinkBudget {
        runs_max: 60,
        wall_max: Duration::from_secs(600),
    };
    let sim = suite
        .builder(&scenario, &replay(test))
        .shrink(Some(budget))
        .build(move || gateway::new(config.clone()))
        .expect("a valid scenario");
    let failure = sim.check_seed(seed).failure.expect("the seed fails");
    let Some(Artifacts::Written(folder)) = &failure.artifacts else {
        panic!("no artifacts written: {failure}");
    };
    let minimal = folder.join("minimal.toml");
    let shrunk = failure.shrunk.clone().unwrap_or_default();
    assert!(
        shrunk.contains(&format!("; still fails [{check}] ")),
        "{failure}"
    );
    assert!(
        shrunk.ends_with(&format!(": {}", minimal.display())),
        "{failure}"
    );
    let (small, alone) = suite
        .artifacts_dir(None)
        .load(&minimal, "replay")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((small.seeds.start, small.seeds.count), (seed, 1));
    let again = alone
        .check_seed(seed)
        .failure
        .unwrap_or_else(|| panic!("{} passes on its own", minimal.display()));
    assert_eq!(again.checks(), [check], "{again}");
    eprintln!("{file}: {shrunk}");
    let _ = std::fs::remove_dir_all(&artifacts);
}

/// One bug switch: its file, the check that must catch it, and phrases its
/// message must hold.
fn bug_is_caught(bug: &str, check: Check, test: &str, phrases: &[&str]) {
    let file = format!("bugs/{}.toml", bug.replace('_', "-"));
    let (seed, failure) = first_failure(&file, bug, test);
    assert_caught(&failure, check, seed, test, phrases);
    assert_shrinks_to_a_file(&file, seed, check, test);
}

#[test]
fn request_milliseconds_as_seconds_is_caught_by_histogram_correctness_from_the_spans() {
    bug_is_caught(
        "request_milliseconds_as_seconds",
        Check::HistogramCorrectness,
        "request_milliseconds_as_seconds_is_caught_by_histogram_correctness_from_the_spans",
        &[
            "[histogram_correctness] `http_server_request_duration_seconds{",
            "spans of kind server with http.response.status_code",
            "1000x too much, milliseconds recorded as seconds?",
        ],
    );
}

#[test]
fn client_counts_per_attempt_is_caught_by_metric_accuracy_from_the_request_spans() {
    bug_is_caught(
        "client_counts_per_attempt",
        Check::MetricAccuracy,
        "client_counts_per_attempt_is_caught_by_metric_accuracy_from_the_request_spans",
        &[
            "[metric_accuracy] `gateway_client_requests_total{status=",
            "spans named \"task\"",
            "it counted more than the work that ran (counted once per attempt or retry",
        ],
    );
}

#[test]
fn error_counted_as_ok_is_caught_by_metric_accuracy_from_the_server_spans_status() {
    bug_is_caught(
        "error_counted_as_ok",
        Check::MetricAccuracy,
        "error_counted_as_ok_is_caught_by_metric_accuracy_from_the_server_spans_status",
        &[
            "[metric_accuracy] `gateway_requests_total{status=\"error\",http_route=\"/v1/tasks/{id}\"}`",
            "is 0, but ",
            "work that ran was not counted here",
        ],
    );
}

#[test]
fn active_requests_leak_on_error_is_caught_by_gauge_consistency_from_the_open_spans() {
    bug_is_caught(
        "active_requests_leak_on_error",
        Check::GaugeConsistency,
        "active_requests_leak_on_error_is_caught_by_gauge_consistency_from_the_open_spans",
        &[
            "[gauge_consistency] `http_server_active_requests{http_route=\"/v1/tasks/{id}\"}`",
            "spans of kind server were open on this incarnation when it was rendered",
            "it counts work that already ended (a path that never decrements it?)",
        ],
    );
}

#[test]
fn retry_reuses_first_context_is_caught_by_trace_integrity_on_tcp() {
    bug_is_caught(
        "retry_reuses_first_context",
        Check::TraceIntegrity,
        "retry_reuses_first_context_is_caught_by_trace_integrity_on_tcp",
        &[
            "[trace_integrity] span `PUT /v1/tasks/{id}`",
            "server spans under it (",
            "but one request reaches one server",
        ],
    );
}

#[test]
fn server_span_ends_before_store_is_caught_by_histogram_correctness_against_its_span() {
    bug_is_caught(
        "server_span_ends_before_store",
        Check::HistogramCorrectness,
        "server_span_ends_before_store_is_caught_by_histogram_correctness_against_its_span",
        &[
            "[histogram_correctness] `http_server_request_duration_seconds{",
            "true sum 0s",
            "or the span ends before the work it stands for",
        ],
    );
}

#[test]
fn metrics_route_wrong_content_type_is_caught_by_exposition_lint_over_http() {
    bug_is_caught(
        "metrics_route_wrong_content_type",
        Check::ExpositionLint,
        "metrics_route_wrong_content_type_is_caught_by_exposition_lint_over_http",
        &[
            "[exposition_lint] metrics route on server-",
            "the route answered 200 with content type \"application/json\"",
            "Prometheus marks the target down (up == 0)",
        ],
    );
}
