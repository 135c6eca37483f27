//! Every check can fail: each bug switch plants a realistic instrumentation
//! bug in the reference system, and the matching check must catch it with a
//! message that names what broke and the command that replays it.

use obsim::harness::{Check, Failure, Problem};
use obsim_fixtures::{ActorConfig, ActorSystem, Bug};

/// The failure `bug` causes on its case's seed (see
/// [`obsim_fixtures::bug_case`]), which must be `seed`.
fn failure_with(bug: Bug, seed: u64, test: &str) -> Failure {
    let case = obsim_fixtures::bug_case(bug);
    assert_eq!(case.seed, seed, "{bug}: the case's seed");
    let replay = format!("cargo test --test bug_switches -- --exact {test}");
    let sim = case.sim(&replay).expect("valid");
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
fn span_leaked_on_the_error_path_is_caught_by_span_completion() {
    let test = "span_leaked_on_the_error_path_is_caught_by_span_completion";
    // Failed writes fail invocations, whose spans the table keeps open.
    let message = message_of(&failure_with(Bug::SpanLeakOnError, 2, test));
    assert!(
        message.contains("[span_completion] span `ActorService/Invoke` on server-"),
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
fn attempt_span_left_ok_when_a_crash_cut_its_request_off_is_caught_by_span_completion() {
    let test = "attempt_span_left_ok_when_a_crash_cut_its_request_off_is_caught_by_span_completion";
    // server-1 crashes at 1.5 s with invocations in flight; the server's
    // spans of them are lost with it, the client's must say they failed.
    let failure = failure_with(Bug::TimedOutAttemptSpanOk, 0, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[span_completion] span `ActorService/Invoke`"),
        "{message}"
    );
    assert!(
        message.contains("to server-1, whose incarnation 0 crashed at 1.5"),
        "{message}"
    );
    assert!(
        message.contains("the client span of a request a crash cut off must end in error"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::SpanCompletion], "{message}");
    assert_replay_line(&message, 0, test);
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
fn gauge_not_decremented_on_the_panic_path_is_caught_by_gauge_consistency() {
    let test = "gauge_not_decremented_on_the_panic_path_is_caught_by_gauge_consistency";
    // One handler in fifty panics.
    let failure = failure_with(Bug::GaugeNotDecrementedOnCrash, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[gauge_consistency] actors_active on server-"),
        "{message}"
    );
    assert!(
        message.contains("but actors_activations_total - actors_deactivations_total = "),
        "{message}"
    );
    assert!(message.contains("the gauge drifted"), "{message}");
    assert_eq!(failure.checks(), [Check::GaugeConsistency], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn counter_bumped_before_a_failing_write_is_caught_by_metric_accuracy() {
    let test = "counter_bumped_before_a_failing_write_is_caught_by_metric_accuracy";
    let failure = failure_with(Bug::CounterBeforeWrite, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains(
            "[metric_accuracy] `storage_operations_total`: disagrees with the harness's ground truth: \
             `final(storage_operations_total{operation=\"put\",status=\"ok\"}) == storage.ok{operation=\"put\"}`"
        ),
        "{message}"
    );
    assert!(
        message.contains("final(storage_operations_total{operation=\"put\", status=\"ok\"}) by incarnation: server-0#0 = "),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::MetricAccuracy], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn milliseconds_recorded_as_seconds_are_caught_by_histogram_correctness() {
    let test = "milliseconds_recorded_as_seconds_are_caught_by_histogram_correctness";
    let failure = failure_with(Bug::MillisecondsAsSeconds, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains(
            "[histogram_correctness] storage_operation_duration_seconds{operation=\"get\"} on server-0: \
             in the final exposition of incarnation 0: bucket le=0.0025 holds 0, but "
        ),
        "{message}"
    );
    assert!(
        message.contains("1000x too much, milliseconds recorded as seconds?"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::HistogramCorrectness], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn failed_write_span_with_ok_status_is_caught_by_span_completion() {
    let test = "failed_write_span_with_ok_status_is_caught_by_span_completion";
    let failure = failure_with(Bug::FailedSpanStatusOk, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[span_completion] span `put actors` "),
        "{message}"
    );
    assert!(
        message.contains(
            "ended with status ok, but the harness failed that put operation (write of \"actor/"
        ),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::SpanCompletion], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn trace_context_dropped_on_get_is_caught_by_trace_integrity() {
    let test = "trace_context_dropped_on_get_is_caught_by_trace_integrity";
    let failure = failure_with(Bug::TraceContextDroppedOnGet, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[trace_integrity] span `ActorService/Invoke` "),
        "{message}"
    );
    assert!(
        message.contains("starts a new trace") && message.contains("lost across the network hop"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::TraceIntegrity], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn actor_id_used_as_a_label_is_caught_by_exposition_lint() {
    let test = "actor_id_used_as_a_label_is_caught_by_exposition_lint";
    // More actors than the default bound of 100 distinct label values.
    let failure = failure_with(Bug::ActorIdLabel, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[exposition_lint] metric `actors_state_value`"),
        "{message}"
    );
    assert!(
        message.contains("label `actor` of `actors_state_value` took "),
        "{message}"
    );
    assert!(message.contains("(bound 100)"), "{message}");
    assert_eq!(failure.checks(), [Check::ExpositionLint], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn counter_name_without_total_is_caught_by_exposition_lint_and_promtool() {
    let test = "counter_name_without_total_is_caught_by_exposition_lint_and_promtool";
    let failure = failure_with(Bug::CounterWithoutTotal, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[exposition_lint] metric `storage_recovered_transactions`"),
        "{message}"
    );
    assert!(message.contains("_total"), "{message}");
    if obsim::harness::promtool_available() {
        assert!(
            message.contains("[exposition_lint] promtool check metrics")
                && message.contains(
                    "storage_recovered_transactions counter metrics should have \"_total\" suffix"
                ),
            "{message}"
        );
    }
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_gauge_of_stored_state_that_restarts_at_zero_is_caught_by_gauge_consistency() {
    let test = "a_gauge_of_stored_state_that_restarts_at_zero_is_caught_by_gauge_consistency";
    // The skeleton restarts server-1 at 3.5 s, with actors already saved.
    let failure = failure_with(Bug::PersistedGaugeRestartsAtZero, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[gauge_consistency] actors_persisted on server-1 at "),
        "{message}"
    );
    assert!(message.contains("server-1 incarnation 1"), "{message}");
    assert!(
        message.contains("but the node's storage held "),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::GaugeConsistency], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_request_histogram_in_milliseconds_is_caught_by_histogram_correctness() {
    let test = "a_request_histogram_in_milliseconds_is_caught_by_histogram_correctness";
    let failure = failure_with(Bug::RequestMillisecondsAsSeconds, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains(
            "[histogram_correctness] actors_invocation_duration_seconds{operation=\"increment\"} \
             on server-1: in the final exposition of incarnation 0: bucket le=0.005 holds 0, but \
             189 of the 190 requests answered the harness timed took at most 0.005s"
        ),
        "{message}"
    );
    assert!(
        message.contains("1000x too much, milliseconds recorded as seconds?"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::HistogramCorrectness], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_retry_sent_with_the_first_attempts_context_is_caught_by_trace_integrity() {
    let test = "a_retry_sent_with_the_first_attempts_context_is_caught_by_trace_integrity";
    // Lost requests time out and are retried; each retry's server work
    // must sit under the retry's own client span.
    // (The case loses one message in ten, with three attempts of 200 ms.)
    let failure = failure_with(Bug::RetryReusesFirstContext, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[trace_integrity] span `ActorService/Invoke` on server-"),
        "{message}"
    );
    assert!(
        message.contains("which sent attempt 0 of the same call, not under span"),
        "{message}"
    );
    assert!(
        message.contains("a retry reused an earlier attempt's"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::TraceIntegrity], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_dependency_failure_counted_as_success_is_caught_by_metric_accuracy() {
    let test = "a_dependency_failure_counted_as_success_is_caught_by_metric_accuracy";
    // (The case's model provider fails one `describe` call in five.)
    let failure = failure_with(Bug::DependencyFailureCountedAsSuccess, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains(
            "[metric_accuracy] `llm_calls_total`: disagrees with the harness's ground truth: \
             `final(llm_calls_total{status=\"ok\"}) == dependencies.ok{dependency=\"llm\"}`"
        ),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::MetricAccuracy], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_storage_span_that_closes_before_its_write_commits_is_caught_by_span_completion() {
    let test = "a_storage_span_that_closes_before_its_write_commits_is_caught_by_span_completion";
    let failure = failure_with(Bug::StorageSpanClosesBeforeCommit, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[span_completion] storage put on server-"),
        "{message}"
    );
    assert!(
        message.contains("under `actor.invoke`: its own span `put actors` had already closed at "),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::SpanCompletion], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_dependency_call_with_no_span_on_one_code_path_is_caught_by_span_completion() {
    let test = "a_dependency_call_with_no_span_on_one_code_path_is_caught_by_span_completion";
    let failure = failure_with(Bug::NoSpanOnColdDescribe, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[span_completion] dependency llm chat on server-"),
        "{message}"
    );
    assert!(
        message.contains(
            "directly under span `actor.invoke`, with no span of its own: this code path has \
             no span for it"
        ),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::SpanCompletion], "{message}");
    assert_replay_line(&message, 1, test);
}

/// A request's count belongs in the poll that takes it: counted in the
/// request's own task, it goes missing when the node dies after the accept
/// and before that task first runs. The case's crash is set off by the
/// accept (`on = "accept"`), so it lands in that window every time.
#[test]
fn received_counter_in_request_task_is_caught_by_a_crash_at_accept() {
    let test = "received_counter_in_request_task_is_caught_by_a_crash_at_accept";
    let failure = failure_with(Bug::ReceivedCounterInRequestTask, 0, test);
    let message = message_of(&failure);
    assert!(
        message.starts_with("obsim: scenario `bug-received-counter-in-request-task` seed 0 broke"),
        "{message}"
    );
    assert!(
        message.contains(
            "[metric_accuracy] `network_messages_received_total`: disagrees with the harness's \
             ground truth: `final(network_messages_received_total{message=\"invoke\"}) == \
             messages.received{message=\"invoke\"}` does not hold: "
        ),
        "{message}"
    );
    // The node whose count went missing, and when it died.
    let crashed = regex_like(&message, "server-1#0 = ", " (crashed at ");
    assert!(crashed, "{message}");
    assert_eq!(failure.checks(), [Check::MetricAccuracy], "{message}");
    assert_replay_line(&message, 0, test);
}

/// Whether `message` has `first`, a number, then `then`.
fn regex_like(message: &str, first: &str, then: &str) -> bool {
    message.match_indices(first).any(|(at, _)| {
        let rest = &message[at + first.len()..];
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
        digits > 0 && rest[digits..].starts_with(then)
    })
}

/// The same crashes, with correct code: counted in the accept loop, the
/// request is in the count before the crash lands, on every seed.
#[test]
fn the_clean_fixture_passes_the_crashes_that_events_set_off() {
    let case = obsim_fixtures::bug_case(Bug::ReceivedCounterInRequestTask);
    let config = ActorConfig {
        bugs: Default::default(),
        ..case.config()
    };
    let sim = case
        .builder("unused")
        .build(move || ActorSystem::new(config.clone()))
        .expect("valid");
    let at_accept = crash_at_accept(None);
    for seed in 0..8 {
        for (name, sim) in [("the case", &sim), ("crash-at-accept", &at_accept)] {
            if let Some(failure) = sim.check_seed(seed).failure {
                panic!("{name}, seed {seed}: {failure}");
            }
        }
    }
}

/// `scenarios/crash-at-accept.toml` as the suite runs it, `bug` planted.
fn crash_at_accept(bug: Option<Bug>) -> obsim::Sim {
    let path = obsim_fixtures::scenarios_dir().join("crash-at-accept.toml");
    let scenario = obsim::load_scenario(&path).expect("the scenario loads");
    let mut config: ActorConfig = scenario.system_config().expect("its [system]");
    config.bugs.extend(bug);
    obsim_fixtures::suite()
        .builder(&scenario, "unused")
        .artifacts_dir(None)
        .build(move || ActorSystem::new(config.clone()))
        .expect("valid")
}

/// Not a lucky seed: the default sweep's crash at accept catches the bug
/// on every seed it fires on, and it fires on every seed with traffic.
#[test]
fn received_counter_in_request_task_is_caught_on_at_least_12_of_the_first_16_seeds() {
    let sim = crash_at_accept(Some(Bug::ReceivedCounterInRequestTask));
    let caught: Vec<u64> = (0..16)
        .filter(|seed| {
            let verdict = sim.check_seed(*seed);
            verdict
                .failure
                .is_some_and(|failure| failure.checks().contains(&Check::MetricAccuracy))
        })
        .collect();
    assert!(caught.len() >= 12, "caught on seeds {caught:?} only");
}

#[test]
fn bug_names_parse_back_and_unknown_names_list_the_known_ones() {
    for bug in Bug::ALL {
        assert_eq!(bug.as_str().parse::<Bug>(), Ok(bug));
    }
    let error = "counter_go_down".parse::<Bug>().unwrap_err();
    assert!(error.contains("span_leak_on_error"), "{error}");
}

#[test]
fn a_sweep_that_samples_the_determinism_rerun_still_catches_process_global_state() {
    let test = "a_sweep_that_samples_the_determinism_rerun_still_catches_process_global_state";
    let case = obsim_fixtures::bug_case(Bug::ProcessGlobalRequestId);
    let replay = format!("cargo test --test bug_switches -- --exact {test}");
    let sim = case.sim(&replay).expect("valid");
    let determinism = "1/4"
        .parse::<obsim::harness::Determinism>()
        .expect("a sample")
        .anchored_at(case.seed);
    let options = obsim::harness::SweepOptions {
        jobs: 2,
        determinism,
        ..Default::default()
    };
    let seeds = case.seed..case.seed + 8;
    let sweep = sim.sweep_with(seeds.clone(), options, &|_| {});
    // Fewer seeds ran twice, and the sweep names them, the first among them.
    let twice: Vec<u64> = seeds.filter(|&seed| determinism.runs_twice(seed)).collect();
    assert_eq!(sweep.run_twice_seeds, twice);
    assert!(
        twice.len() < 8 && twice.first() == Some(&case.seed),
        "{twice:?}"
    );
    // Each seed that ran twice shows the leak; the others cannot, and pass.
    let failed: Vec<u64> = sweep.failures().map(|failure| failure.seed).collect();
    assert_eq!(failed, twice, "{:?}", sweep.failures().next());
    for failure in sweep.failures() {
        assert_eq!(failure.checks(), [Check::SeedDeterminism], "{failure}");
    }
}

#[test]
fn an_activation_logged_from_a_task_spawned_without_its_span_is_caught_by_log_correlation() {
    let test =
        "an_activation_logged_from_a_task_spawned_without_its_span_is_caught_by_log_correlation";
    let failure = failure_with(Bug::ActivationLoggedOutsideSpan, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[log_correlation] log event \"actor activated\" on server-"),
        "{message}"
    );
    assert!(
        message.contains("carries no trace or span: it was emitted outside every span"),
        "{message}"
    );
    assert!(message.contains("fixtures/src/server.rs:"), "{message}");
    assert_eq!(failure.checks(), [Check::LogCorrelation], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_retried_attempt_that_left_no_log_line_is_caught_by_error_logging() {
    let test = "a_retried_attempt_that_left_no_log_line_is_caught_by_error_logging";
    let failure = failure_with(Bug::RetriedAttemptNotLogged, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[error_logging] trace ")
            && message.contains("span `ActorService/Invoke`")
            && message
                .contains("the trace holds no event at WARN or above: the failure was swallowed"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::ErrorLogging], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn a_write_retry_loop_that_logs_every_attempt_is_caught_by_log_volume() {
    let test = "a_write_retry_loop_that_logs_every_attempt_is_caught_by_log_volume";
    let failure = failure_with(Bug::WriteRetryLogStorm, 1, test);
    let message = message_of(&failure);
    assert!(message.contains("[log_volume] trace "), "{message}");
    assert!(
        message.contains("more than its budget of 16 (`Contract::log_budget`)"),
        "{message}"
    );
    assert!(
        message.contains("WARN \"state write failed, retrying\""),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::LogVolume], "{message}");
    assert_replay_line(&message, 1, test);
}

#[test]
fn an_api_key_quoted_in_an_error_log_is_caught_by_secret_leaks() {
    let test = "an_api_key_quoted_in_an_error_log_is_caught_by_secret_leaks";
    let failure = failure_with(Bug::ApiKeyInErrorLog, 1, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[secret_leaks] secret `llm_api_key` on server-"),
        "{message}"
    );
    assert!(
        message.contains(
            "its value appears in attribute `request` of WARN event \"model provider call failed\""
        ),
        "{message}"
    );
    // The report names where, never the value: four characters of it.
    for (at, _) in message.match_indices("obsim-canary-") {
        let shown: String = message[at + 13..].chars().take(5).collect();
        assert!(shown.ends_with('…'), "{message}");
    }
    assert_eq!(failure.checks(), [Check::SecretLeaks], "{message}");
    assert_replay_line(&message, 1, test);
}
