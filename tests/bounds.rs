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
