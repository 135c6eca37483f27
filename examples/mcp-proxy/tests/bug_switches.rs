//! Every bug switch plants a realistic instrumentation bug in the proxy,
//! from a scenario file's `[system] bugs = [...]` (`bugs/*.toml`), and the
//! check it targets must catch it, alone, with a message that names what
//! broke and the command that replays it. The same file without the bug
//! passes on the seed that failed: the bug, and nothing else, broke it.

use std::collections::BTreeSet;
use std::path::Path;

use std::time::Duration;

use obsim::harness::{Artifacts, Check, Failure, Problem, ShrinkBudget};
use obsim::Suite;
use obsim_example_mcp_proxy::{Bug, McpProxy, McpProxyConfig, Settings};

/// Seeds a test sweeps for its first failure.
const SEEDS: u64 = 8;
const PACKAGE: &str = "obsim-example-mcp-proxy";

fn suite() -> Suite {
    // Failures here are expected: leave no artifacts behind.
    Suite::new("scenarios")
        .system(McpProxy::new)
        .artifacts_dir(None)
}

fn replay(test: &str) -> String {
    format!("cargo test -p {PACKAGE} --test bug_switches -- --exact {test}")
}

/// The first failure the bug file `file` causes over its seeds, with the
/// seed; and that the same file without its bugs passes on that seed.
fn first_failure(file: &str, bug: Bug, test: &str) -> (u64, Failure) {
    let suite = suite();
    let (scenario, sim) = suite
        .load(Path::new(file), &replay(test))
        .unwrap_or_else(|error| panic!("{error}"));
    let config: McpProxyConfig = scenario.system_config().expect("a valid [system]");
    assert_eq!(
        config.bugs.iter().copied().collect::<Vec<_>>(),
        [bug],
        "{file} plants exactly its own bug"
    );
    let start = scenario.seeds.start;
    let (seed, failure) = (start..start + SEEDS)
        .find_map(|seed| sim.check_seed(seed).failure.map(|failure| (seed, failure)))
        .unwrap_or_else(|| panic!("bug {bug} in {file} went unnoticed on {SEEDS} seeds"));
    let clean = McpProxyConfig::try_from(Settings {
        bugs: BTreeSet::new(),
        ..Settings::clone(&config)
    })
    .expect("valid settings");
    let clean_sim = suite
        .builder(&scenario, &replay(test))
        .build(move || McpProxy::new(clean.clone()))
        .expect("a valid scenario");
    let verdict = clean_sim.check_seed(seed);
    assert!(
        verdict.failure.is_none(),
        "{file} without its bug fails seed {seed} too:\n{}",
        verdict.failure.unwrap()
    );
    (seed, failure)
}

/// Runs `file`'s failing `seed` as a user's suite does, with artifacts and
/// shrinking on: the message names the `minimal.toml` the shrink wrote
/// into the seed's artifacts folder, and that file, run on its own by the
/// same suite, fails `check` and nothing else. Returns the minimal
/// scenario's size: faults and invocations.
fn assert_shrinks_to_a_file(file: &str, seed: u64, check: Check, test: &str) -> (usize, u64) {
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("mcp-proxy-shrink")
        .join(test);
    let _ = std::fs::remove_dir_all(&artifacts);
    let suite = suite().artifacts_dir(Some(artifacts.clone()));
    let scenario = obsim::load_scenario(Path::new(file)).unwrap_or_else(|error| panic!("{error}"));
    let config: McpProxyConfig = scenario.system_config().expect("a valid [system]");
    let budget = ShrinkBudget {
        wall_max: Duration::from_secs(600),
        ..ShrinkBudget::DEFAULT
    };
    let sim = suite
        .builder(&scenario, &replay(test))
        .shrink(Some(budget))
        .build(move || McpProxy::new(config.clone()))
        .expect("a valid scenario");
    let failure = sim.check_seed(seed).failure.expect("the seed fails");
    let Some(Artifacts::Written(folder)) = &failure.artifacts else {
        panic!("no artifacts written: {failure}");
    };
    let minimal = folder.join("minimal.toml");
    let shrunk = failure.shrunk.clone().unwrap_or_default();
    let line = format!("; still fails [{check}] ");
    assert!(shrunk.contains(&line), "{failure}");
    assert!(
        shrunk.ends_with(&format!(": {}", minimal.display())),
        "{failure}"
    );
    let report = std::fs::read_to_string(folder.join("report.txt")).expect("report.txt");
    assert!(report.contains(&format!("shrunk: {shrunk}")), "{report}");
    // The minimal file, on its own, as `cargo test` would run it.
    let quiet = suite.artifacts_dir(None);
    let (small, alone) = quiet
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
    (small.faults.len(), small.workload.invocations)
}

/// The failure's whole message, which must be check violations.
fn message_of(failure: &Failure) -> String {
    assert!(
        matches!(failure.problem, Problem::Violations(_)),
        "expected check violations, got: {failure}"
    );
    failure.to_string()
}

/// Asserts that only `check` fired and the message ends with the replay line.
fn assert_only(failure: &Failure, check: Check, seed: u64, test: &str) {
    let message = failure.to_string();
    assert_eq!(
        failure.checks(),
        [check],
        "only the planted bug fires:\n{message}"
    );
    let replay = format!("replay: OBSIM_SEED={seed} {}", replay(test));
    assert!(message.ends_with(&replay), "no replay line in:\n{message}");
}

#[test]
fn session_id_used_as_a_label_is_caught_by_exposition_lint() {
    let test = "session_id_used_as_a_label_is_caught_by_exposition_lint";
    let (seed, failure) = first_failure("bugs/session-id-label.toml", Bug::SessionIdLabel, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[exposition_lint] metric `mcp_proxy_requests_total` on server-0"),
        "{message}"
    );
    assert!(
        message.contains("label `mcp_session_id` of `mcp_proxy_requests_total` took "),
        "{message}"
    );
    assert!(
        message.contains(
            "(bound 50): a label must have a bounded set of values; is an id used as a label?"
        ),
        "{message}"
    );
    assert_only(&failure, Check::ExpositionLint, seed, test);
    let (faults, invocations) = assert_shrinks_to_a_file(
        "bugs/session-id-label.toml",
        seed,
        Check::ExpositionLint,
        test,
    );
    // No fault; the sessions it takes to pass the bound of 50.
    assert!(
        faults == 0 && invocations <= 300,
        "{faults} faults, {invocations} invocations"
    );
}

#[test]
fn active_connections_not_decremented_on_an_upstream_drop_is_caught_by_gauge_consistency() {
    let test =
        "active_connections_not_decremented_on_an_upstream_drop_is_caught_by_gauge_consistency";
    let (seed, failure) = first_failure(
        "bugs/active-not-decremented-on-drop.toml",
        Bug::ActiveNotDecrementedOnDrop,
        test,
    );
    let message = message_of(&failure);
    assert!(
        message.contains("[gauge_consistency] mcp_proxy_connections_active on server-0 at "),
        "{message}"
    );
    assert!(
        message.contains("but mcp_proxy_connections_total - mcp_proxy_connections_closed_total = "),
        "{message}"
    );
    assert!(message.contains("the gauge drifted"), "{message}");
    assert_only(&failure, Check::GaugeConsistency, seed, test);
    let (faults, invocations) = assert_shrinks_to_a_file(
        "bugs/active-not-decremented-on-drop.toml",
        seed,
        Check::GaugeConsistency,
        test,
    );
    // The upstream's crash, and the traffic to have connections open at it.
    assert!(
        faults == 1 && invocations <= 50,
        "{faults} faults, {invocations} invocations"
    );
}

#[test]
fn request_size_in_kilobytes_is_caught_by_metric_accuracy() {
    let test = "request_size_in_kilobytes_is_caught_by_metric_accuracy";
    let (seed, failure) = first_failure("bugs/request-size-in-kb.toml", Bug::RequestSizeInKb, test);
    let message = message_of(&failure);
    assert!(
        message.contains(
            "[metric_accuracy] `mcp_proxy_request_size_bytes_sum`: disagrees with the harness's ground truth: \
             `final(mcp_proxy_request_size_bytes_sum) == amounts.request_bytes` does not hold"
        ),
        "{message}"
    );
    assert!(
        message.contains("final(mcp_proxy_request_size_bytes_sum) by incarnation: server-0#0 = "),
        "{message}"
    );
    // The count is right: every request was observed, in the wrong unit.
    assert!(
        !message.contains("mcp_proxy_request_size_bytes_count"),
        "{message}"
    );
    assert_only(&failure, Check::MetricAccuracy, seed, test);
    let (faults, invocations) = assert_shrinks_to_a_file(
        "bugs/request-size-in-kb.toml",
        seed,
        Check::MetricAccuracy,
        test,
    );
    assert!(
        faults == 0 && invocations <= 10,
        "{faults} faults, {invocations} invocations"
    );
}

#[test]
fn trace_context_not_forwarded_upstream_is_caught_by_trace_integrity() {
    let test = "trace_context_not_forwarded_upstream_is_caught_by_trace_integrity";
    let (seed, failure) = first_failure(
        "bugs/no-trace-forward-upstream.toml",
        Bug::NoTraceForwardUpstream,
        test,
    );
    let message = message_of(&failure);
    assert!(
        message.contains("starts a new trace") && message.contains("lost across the network hop"),
        "{message}"
    );
    // Only the upstream's server spans lost their parent: the client to
    // proxy hop still carries the context.
    let Problem::Violations(violations) = &failure.problem else {
        unreachable!("checked above")
    };
    for violation in violations {
        let per_span = violation.subject.starts_with("span ");
        assert!(
            !per_span || violation.node.as_deref() == Some("server-1"),
            "a span other than the upstream's lost its trace: {violation}"
        );
    }
    assert!(
        message.contains("[trace_integrity] span `initialize` ")
            || message.contains("[trace_integrity] span `tools/call "),
        "{message}"
    );
    assert_only(&failure, Check::TraceIntegrity, seed, test);
    let (faults, invocations) = assert_shrinks_to_a_file(
        "bugs/no-trace-forward-upstream.toml",
        seed,
        Check::TraceIntegrity,
        test,
    );
    assert!(
        faults == 0 && invocations <= 10,
        "{faults} faults, {invocations} invocations"
    );
}

#[test]
fn every_bug_has_a_file_and_names_parse_back() {
    for bug in Bug::ALL {
        assert_eq!(bug.as_str().parse::<Bug>(), Ok(bug));
        let file = format!("bugs/{}.toml", bug.as_str().replace('_', "-"));
        assert!(Path::new(&file).is_file(), "{bug} has no {file}");
    }
    let error = "counter_go_down".parse::<Bug>().unwrap_err();
    assert!(error.contains("request_size_in_kb"), "{error}");
}

/// `[system]` as a scenario file would give it.
fn system_table(table: &str) -> Result<McpProxyConfig, String> {
    let text =
        format!("name = \"settings\"\ndescription = \"Settings only.\"\n\n[system]\n{table}");
    let scenario = obsim::scenario::Scenario::parse(
        Path::new("settings.toml"),
        &text,
        &Check::invariant_names(),
    )
    .map_err(|error| error.to_string())?;
    scenario.system_config().map_err(|error| error.to_string())
}

#[test]
fn the_system_table_has_defaults_and_rejects_what_cannot_work() {
    assert_eq!(system_table(""), Ok(McpProxyConfig::default()));
    let config = system_table("sessions_max = 8\nsession_calls = 2\nbugs = [\"session_id_label\"]")
        .expect("valid settings");
    assert_eq!((config.sessions_max, config.session_calls), (8, 2));
    assert_eq!(
        config.bugs.iter().copied().collect::<Vec<_>>(),
        [Bug::SessionIdLabel]
    );
    let unknown = system_table("session_idle_timeout = 8").unwrap_err();
    assert!(
        unknown.contains("session_idle_timeout_ms"),
        "lists the known keys: {unknown}"
    );
    let zero = system_table("request_timeout_ms = 0").unwrap_err();
    assert!(
        zero.contains("`request_timeout_ms` = 0 is out of range"),
        "{zero}"
    );
    let idle = system_table("heartbeat_interval_ms = 600").unwrap_err();
    assert!(
        idle.contains("must be at least twice `heartbeat_interval_ms`"),
        "{idle}"
    );
    let ratio = system_table("session_abandon_ratio = 1.5").unwrap_err();
    assert!(ratio.contains("not a ratio"), "{ratio}");
    let tight = system_table("request_bytes_max = 1200").unwrap_err();
    assert!(
        tight.contains("ordinary requests would be refused"),
        "{tight}"
    );
    let window = system_table("upstream_slow_at_ms = 100").unwrap_err();
    assert!(window.contains("a slow upstream needs"), "{window}");
    let bug = system_table("bugs = [\"counter_go_down\"]").unwrap_err();
    assert!(
        bug.contains("session_id_label"),
        "lists the known bugs: {bug}"
    );
}
