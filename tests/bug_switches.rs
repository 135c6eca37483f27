//! Every check can fail: each bug switch plants a realistic instrumentation
//! bug in the reference system, and the matching check must catch it with a
//! message that names what broke and the command that replays it.

use obsim::fixtures::{ActorConfig, Bug};
use obsim::harness::{Failure, Problem};

fn failure_with(bug: Bug, seed: u64, test: &str) -> Failure {
    let replay = format!("cargo test --test bug_switches -- --exact {test}");
    let sim = obsim::skeleton_sim(ActorConfig::default().with_bug(bug), &replay).expect("valid");
    let verdict = sim.check_seed(seed);
    verdict
        .failure
        .unwrap_or_else(|| panic!("bug {bug} went unnoticed on seed {seed}"))
}

fn message_of(failure: &Failure) -> String {
    assert!(
        matches!(failure.problem, Problem::Violations(_)),
        "expected check violations, got: {failure}"
    );
    failure.to_string()
}

fn assert_replay_line(message: &str, seed: u64, test: &str) {
    let replay =
        format!("replay: OBSIM_SEED={seed} cargo test --test bug_switches -- --exact {test}");
    assert!(message.ends_with(&replay), "no replay line in:\n{message}");
}

#[test]
fn counter_derived_from_live_actors_is_caught_by_counter_monotonicity() {
    let test = "counter_derived_from_live_actors_is_caught_by_counter_monotonicity";
    let message = message_of(&failure_with(Bug::CounterFromLiveActors, 0, test));
    assert!(
        message.contains("[counter_monotonicity] actors_activations_total on server-"),
        "{message}"
    );
    assert!(message.contains("went down from"), "{message}");
    assert!(message.contains("within incarnation"), "{message}");
    assert!(
        !message.contains("[span_completion]"),
        "only the planted bug fires:\n{message}"
    );
    assert_replay_line(&message, 0, test);
}

#[test]
fn span_leaked_when_a_node_crashes_is_caught_by_span_completion() {
    let test = "span_leaked_when_a_node_crashes_is_caught_by_span_completion";
    // Seed 1's crash cuts off invocations in flight on server-1.
    let message = message_of(&failure_with(Bug::SpanLeakOnCrash, 2, test));
    assert!(
        message.contains("[span_completion] span `ActorService/Invoke` on server-1 at 1."),
        "{message}"
    );
    assert!(
        message.contains("opened here and never closed by the end of the run"),
        "{message}"
    );
    assert!(
        !message.contains("[counter_monotonicity]"),
        "only the planted bug fires:\n{message}"
    );
    assert_replay_line(&message, 2, test);
}

#[test]
fn process_global_request_id_is_caught_by_seed_determinism() {
    let test = "process_global_request_id_is_caught_by_seed_determinism";
    let message = message_of(&failure_with(Bug::ProcessGlobalRequestId, 3, test));
    assert!(
        message.contains("[seed_determinism] fingerprint line"),
        "{message}"
    );
    assert!(message.contains("two runs of seed 3 diverge"), "{message}");
    assert!(
        message.contains("app.request.id="),
        "the diverging line names the attribute:\n{message}"
    );
    assert_replay_line(&message, 3, test);
}

#[test]
fn bug_names_parse_back_and_unknown_names_list_the_known_ones() {
    for bug in Bug::ALL {
        assert_eq!(bug.as_str().parse::<Bug>(), Ok(bug));
    }
    let error = "counter_go_down".parse::<Bug>().unwrap_err();
    assert!(error.contains("span_leak_on_crash"), "{error}");
}
