//! The alert bug switches: a rule, a counter and a histogram that each make
//! the actor runtime's alerts lie, caught by `alert_correctness` on the
//! alert scenarios, with the alert named, both timelines, and the replay
//! line. And the failing seed's promtool file reproduces the verdict with
//! promtool alone.

use std::path::PathBuf;
use std::process::Command;

use obsim::harness::{Builder, Check, Failure, Problem};
use obsim_fixtures::{ActorConfig, ActorSystem, Bug};

/// The builder of `scenarios/<name>.toml`, as the suite builds it.
fn scenario(name: &str) -> Builder {
    let path = obsim_fixtures::scenarios_dir().join(format!("{name}.toml"));
    let scenario = obsim::load_scenario(&path).expect("the scenario loads");
    obsim_fixtures::suite().builder(&scenario, "unused")
}

/// The failure `bug` causes on `seed` of `builder`'s scenario, artifacts
/// written to `artifacts` if given.
fn failure(
    builder: Builder,
    bug: Bug,
    seed: u64,
    test: &str,
    artifacts: Option<PathBuf>,
) -> Failure {
    let config = ActorConfig::default().with_bug(bug);
    let replay = format!("cargo test --test alert_switches -- --exact {test}");
    let sim = builder
        .replay_command(&replay)
        .artifacts_dir(artifacts)
        // These tests read the failure and its alert artifacts; shrinking a
        // 25-minute scenario's seed would add half a minute each.
        .shrink(None)
        .build(move || ActorSystem::new(config.clone()))
        .expect("valid");
    let verdict = sim.check_seed(seed);
    let failure = verdict
        .failure
        .unwrap_or_else(|| panic!("bug {bug} went unnoticed on seed {seed}"));
    assert!(
        matches!(failure.problem, Problem::Violations(_)),
        "expected check violations, got: {failure}"
    );
    let message = failure.to_string();
    let line =
        format!("replay: OBSIM_SEED={seed} cargo test --test alert_switches -- --exact {test}");
    assert!(message.ends_with(&line), "no replay line in:\n{message}");
    failure
}

#[test]
fn a_rule_selecting_a_status_the_metric_never_has_is_caught_by_alert_correctness() {
    let test = "a_rule_selecting_a_status_the_metric_never_has_is_caught_by_alert_correctness";
    let failure = failure(
        scenario("alerts-outage"),
        Bug::AlertRuleStatusTypo,
        0,
        test,
        None,
    );
    let message = failure.to_string();
    assert!(
        message.contains(
            "[alert_correctness] rule `ActorsHighErrorRate`: (fixtures/rules/actors.yml:"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            r#"selects `actors_invocations_total{job="actors",status="errors"}`, which matched no series at any instant"#
        ),
        "{message}"
    );
    assert!(
        message.contains(r#"`status` is one of "error", "ok""#),
        "{message}"
    );
    // The outage's own claim fails too: the page never came.
    assert!(
        message.contains(
            "[expectation] `alert ActorsHighErrorRate fires during faults[0] within 3m`: does not hold"
        ),
        "{message}"
    );
    assert_eq!(
        failure.checks(),
        [Check::AlertCorrectness, Check::Expectation],
        "{message}"
    );
}

#[test]
fn an_error_counter_that_double_counts_pages_for_nothing_in_a_brownout() {
    let test = "an_error_counter_that_double_counts_pages_for_nothing_in_a_brownout";
    let failure = failure(
        scenario("alerts-brownout"),
        Bug::ErrorCounterDoubleCounts,
        0,
        test,
        None,
    );
    let message = failure.to_string();
    assert!(
        message.contains(
            "[alert_correctness] alert `ActorsInvocationsErrorBudgetBurnPage{severity=\"page\""
        ),
        "{message}"
    );
    assert!(
        message.contains("fires on the scraped timeline (what Prometheus would see)"),
        "{message}"
    );
    assert!(message.contains("a page for nothing"), "{message}");
    assert!(message.contains("truth:   never fired"), "{message}");
    assert!(
        message.contains("faults then: handler_panic on server-"),
        "{message}"
    );
    assert!(
        failure.checks().contains(&Check::AlertCorrectness),
        "{message}"
    );
}

#[test]
fn latency_buckets_that_stop_below_the_threshold_hide_an_outage_from_the_page() {
    let test = "latency_buckets_that_stop_below_the_threshold_hide_an_outage_from_the_page";
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("alert-switches");
    let _ = std::fs::remove_dir_all(&artifacts);
    let failure = failure(
        scenario("alerts-outage"),
        Bug::LatencyBucketsStopShort,
        0,
        test,
        Some(artifacts.clone()),
    );
    let message = failure.to_string();
    assert!(
        message.contains(
            r#"[alert_correctness] alert `ActorsInvocationLatencyHigh{job="actors", severity="page"}`"#
        ),
        "{message}"
    );
    assert!(
        message.contains("fires on the ground-truth timeline (what happened)"),
        "{message}"
    );
    assert!(
        message.contains("an outage nobody is paged for"),
        "{message}"
    );
    assert!(message.contains("scraped: never fired"), "{message}");
    assert_eq!(
        failure.checks(),
        [Check::AlertCorrectness, Check::Expectation],
        "{message}"
    );

    // The seed's promtool file: the scraped series, the rules, and what truth
    // expected. promtool alone fails it, on the latency alert.
    let dir = artifacts.join("alerts-outage/0/alerts");
    let test_file = std::fs::read_to_string(dir.join("promtool-test.yml")).expect("written");
    assert!(
        test_file.contains("alertname: ActorsInvocationLatencyHigh"),
        "{test_file}"
    );
    assert!(dir.join("rules/0-actors.yml").is_file());
    let timelines = std::fs::read_to_string(dir.join("timelines.txt")).expect("written");
    assert!(
        timelines.contains("ActorsInvocationLatencyHigh"),
        "{timelines}"
    );
    let Some(promtool) = promtool() else {
        return;
    };
    let output = Command::new(promtool)
        .args(["test", "rules", "promtool-test.yml"])
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "promtool passed what obsim failed:\n{said}"
    );
    assert!(
        said.contains("alertname: ActorsInvocationLatencyHigh"),
        "{said}"
    );
    assert!(said.contains("got:[]"), "{said}");
}

fn promtool() -> Option<String> {
    let program = std::env::var("OBSIM_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let found = Command::new(&program).arg("--version").output().is_ok();
    if !found && std::env::var("OBSIM_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("OBSIM_REQUIRE_PROMTOOL=1 but `{program}` cannot be run");
    }
    found.then_some(program)
}
