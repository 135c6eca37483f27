//! Every bound stops its run the moment it is crossed, with a failure that
//! names the bound, the seed and the replay line; a bound the run can never
//! keep is refused before anything runs.

use std::time::Duration;

use obsim::harness::{Bound, Problem, RunError};
use obsim_fixtures::{skeleton, ActorConfig, ActorSystem};

fn failure_with(builder: obsim::harness::Builder, seed: u64) -> obsim::harness::Failure {
    builder
        .replay_command("cargo test --test bounds")
        .artifacts_dir(None)
        .build(|| ActorSystem::new(ActorConfig::default()))
        .expect("valid")
        .check_seed(seed)
        .failure
        .expect("a crossed bound fails the seed")
}

#[test]
fn a_run_stops_the_moment_it_crosses_its_message_bound() {
    let failure = failure_with(skeleton().message_limit(300), 3);
    let Problem::Run(RunError::Bound(crossed)) = &failure.problem else {
        panic!("expected a crossed bound, got: {failure}");
    };
    assert_eq!(crossed.bound, Bound::Messages);
    assert_eq!(crossed.limit, 300);
    // 300 messages go by long before the 4 s the skeleton runs for.
    assert!(crossed.at < Duration::from_secs(1), "{failure}");
    let message = failure.to_string();
    assert!(
        message.contains("did not complete: the run crossed its bound of 300 messages sent at "),
        "{message}"
    );
    assert!(message.contains("raise `message_limit`"), "{message}");
    assert!(
        message.ends_with("replay: OBSIM_SEED=3 cargo test --test bounds"),
        "{message}"
    );
}

#[test]
fn a_run_stops_the_moment_it_crosses_its_span_bound() {
    let failure = failure_with(skeleton().span_limit(500), 0);
    let Problem::Run(RunError::Bound(crossed)) = &failure.problem else {
        panic!("expected a crossed bound, got: {failure}");
    };
    assert_eq!(crossed.bound, Bound::Spans);
    assert!(crossed.at < Duration::from_secs(2), "{failure}");
    assert!(
        failure.to_string().contains("500 spans captured"),
        "{failure}"
    );
}

/// A run that logs past its bound is stopped there, failed, not left to
/// fill memory (here the storm switch's case, which logs a line per retry).
#[test]
fn a_run_stops_the_moment_it_crosses_its_log_bound() {
    let case = obsim_fixtures::bug_case(obsim_fixtures::Bug::WriteRetryLogStorm);
    let failure = case
        .builder("cargo test --test bounds")
        .log_limit(200)
        .build({
            let config = case.config();
            move || ActorSystem::new(config.clone())
        })
        .expect("valid")
        .check_seed(case.seed)
        .failure
        .expect("a crossed bound fails the seed");
    let Problem::Run(RunError::Bound(crossed)) = &failure.problem else {
        panic!("expected a crossed bound, got: {failure}");
    };
    assert_eq!(crossed.bound, Bound::Logs);
    assert_eq!(crossed.limit, 200);
    let message = failure.to_string();
    assert!(message.contains("200 log events captured"), "{message}");
    assert!(message.contains("raise `log_limit`"), "{message}");
    assert!(
        message.ends_with(&format!(
            "replay: OBSIM_SEED={} cargo test --test bounds",
            case.seed
        )),
        "{message}"
    );
}

#[test]
fn a_scrape_bound_the_run_cannot_keep_is_refused_before_it_runs() {
    let error = skeleton()
        .scrape_limit(10)
        .build(|| ActorSystem::new(ActorConfig::default()))
        .err()
        .expect("refused");
    assert_eq!(error.field, "run.scrape_limit");
    assert!(
        error
            .problem
            .contains("10 is below the 36 scrapes the run takes (4 nodes every 1s"),
        "{}",
        error.problem
    );
}

#[test]
fn a_message_bound_below_the_scrape_traffic_is_refused_before_it_runs() {
    let error = skeleton()
        .message_limit(50)
        .build(|| ActorSystem::new(ActorConfig::default()))
        .err()
        .expect("refused");
    assert_eq!(error.field, "run.message_limit");
    assert!(
        error
            .problem
            .starts_with("50 is below the 72 messages the run's 36 scrapes alone send"),
        "{}",
        error.problem
    );
}

/// Simulated time that costs more real time than anyone meant: the
/// reference system's own reaper wakes every 500 ms on every node, for
/// eleven simulated years.
#[test]
fn a_run_whose_simulated_time_outlasts_its_wall_time_bound_stops_and_says_it_was_the_machine() {
    let hours = |h: u64| Duration::from_secs(h * 3600);
    let builder = skeleton()
        .duration(hours(100_000))
        .time_limit(hours(100_001))
        .scrape(hours(10), Duration::from_secs(1))
        .wall_limit(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let failure = failure_with(builder, 0);
    let Problem::Run(RunError::Bound(crossed)) = &failure.problem else {
        panic!("expected the wall-time bound, got: {failure}");
    };
    assert_eq!((crossed.bound, crossed.limit), (Bound::Wall, 2_000));
    assert!(crossed.at < hours(100_000), "{failure}");
    // Not a timing claim: only that the run did stop, long before the
    // years of reaper wakeups it was asked for.
    assert!(started.elapsed() < Duration::from_secs(120), "{failure}");
    let message = failure.to_string();
    assert!(
        message.contains("the run took more than its wall-time bound of 2s of real time"),
        "{message}"
    );
    assert!(message.contains("raise `wall_limit`"), "{message}");
    assert!(
        message.contains("depends on the machine's speed"),
        "{message}"
    );
    assert!(
        message.ends_with("replay: OBSIM_SEED=0 cargo test --test bounds"),
        "{message}"
    );
}

#[test]
fn a_run_stopped_at_its_time_limit_counts_the_simulated_time_it_took() {
    let workload = obsim::harness::Workload {
        think_time: Duration::from_secs(3_600_000_000),
        invocations: 100,
        ..obsim::harness::Workload::default()
    };
    let sweep = skeleton()
        .workload(workload)
        .replay_command("cargo test --test bounds")
        .artifacts_dir(None)
        .build(|| ActorSystem::new(ActorConfig::default()))
        .expect("valid")
        .sweep(&[0]);
    assert_eq!(sweep.failed, 1);
    let Some(failure) = sweep.kept.first() else {
        panic!("one failure kept");
    };
    let Problem::Run(RunError::TimeLimit { limit, .. }) = &failure.problem else {
        panic!("expected the time limit, got: {failure}");
    };
    assert_eq!(sweep.simulated, *limit, "not 0s simulated");
}
