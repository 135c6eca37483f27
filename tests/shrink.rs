//! Shrinking cuts every bug switch's failing seed down to the few faults
//! and the small workload the bug needs, and the cut-down scenario fails
//! the same check on its own.
//!
//! Each actor-runtime switch has a test here, on its case from
//! [`obsim_fixtures::bug_case`] (the seed `tests/bug_switches.rs` and
//! `tests/alert_switches.rs` prove it fails on), with a bound on the
//! answer's size that says what the bug needs.

use std::time::Duration;

use obsim::harness::faults::{FaultKind, Trigger};
use obsim::harness::{Check, Failure, FaultShrink, ShrinkBudget, ShrinkStop, ShrinkTarget};
use obsim_fixtures::Bug;

const BUDGET: ShrinkBudget = ShrinkBudget {
    runs_max: 200,
    wall_max: Duration::from_secs(600),
};

const REPLAY: &str = "cargo test --test shrink";

/// Shrinks `bug`'s case with the default run budget, which must suffice.
fn proven(bug: Bug) -> FaultShrink {
    let shrunk = proven_within(bug, BUDGET);
    assert_eq!(shrunk.stopped, None, "{bug}: within {BUDGET:?}");
    assert!(
        shrunk.runs <= ShrinkBudget::DEFAULT.runs_max,
        "{}",
        report(&shrunk)
    );
    shrunk
}

/// Shrinks `bug`'s case, aimed at the check the bug targets, and proves the
/// answer on its own, twice: as the minimal sim ([`obsim::Sim::minimal`]),
/// and as the minimal scenario file ([`obsim::Sim::minimal_scenario`],
/// what a failing seed writes as `minimal.toml`) loaded and run by the
/// suite. Each fails that check again on the same seed, every fault left
/// fires, and neither fails a check the original passed.
fn proven_within(bug: Bug, budget: ShrinkBudget) -> FaultShrink {
    let case = obsim_fixtures::bug_case(bug);
    let sim = case.sim(REPLAY).expect("valid");
    let shrunk = sim
        .shrink_check(case.seed, case.check, budget)
        .unwrap_or_else(|error| panic!("{bug} on seed {}: {error}", case.seed));
    assert!(
        shrunk.reproduced,
        "{bug}: the fixed schedule must reproduce"
    );
    assert_eq!(shrunk.target.check, case.check, "{}", report(&shrunk));
    let original = sim.check_seed(case.seed).failure.expect("the case fails");
    let alone = sim
        .minimal(&shrunk)
        .expect("the minimal faults are a valid plan");
    assert_fails_alike(&alone, &case, &original);
    let text = sim.minimal_scenario(&shrunk).expect("a scenario file");
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shrink-files");
    std::fs::create_dir_all(&folder).expect("a folder");
    let file = folder.join(format!("{}.toml", bug.as_str()));
    std::fs::write(&file, text).expect("written");
    let suite = obsim_fixtures::suite().artifacts_dir(None);
    let (scenario, from_file) = suite
        .load(&file, REPLAY)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((scenario.seeds.start, scenario.seeds.count), (case.seed, 1));
    assert_eq!(scenario.faults, shrunk.minimal, "{}", file.display());
    assert_fails_alike(&from_file, &case, &original);
    shrunk
}

/// `sim` fails `case`'s check on its seed, every fault fires, and it fails
/// no check `original` did not.
fn assert_fails_alike(sim: &obsim::Sim, case: &obsim_fixtures::BugCase, original: &Failure) {
    let bug = case.bug;
    let verdict = sim.check_seed(case.seed);
    let failure = verdict.failure.expect("the minimal sim still fails");
    assert!(failure.checks().contains(&case.check), "{failure}");
    assert!(
        !failure.checks().contains(&Check::FaultsFired),
        "every minimal fault fires: {failure}"
    );
    for check in failure.checks() {
        assert!(
            original.checks().contains(&check),
            "{bug}: the minimal sim fails {check}, which the original passed: {failure}"
        );
    }
    let broke = |failure: &Failure| -> Vec<String> {
        let obsim::Problem::Violations(violations) = &failure.problem else {
            return Vec::new();
        };
        violations
            .iter()
            .filter(|violation| violation.check == Check::Expectation)
            .map(|violation| violation.subject.clone())
            .collect()
    };
    for claim in broke(&failure) {
        assert!(
            broke(original).contains(&claim),
            "{bug}: the minimal sim breaks {claim}, which the original kept: {failure}"
        );
    }
}

/// Asserts that `shrunk` kept exactly faults of `kinds` and at most
/// `invocations_max` invocations.
fn assert_size(shrunk: &FaultShrink, kinds: &[FaultKind], invocations_max: u64) {
    assert_eq!(self::kinds(shrunk), kinds, "{}", report(shrunk));
    assert!(
        shrunk.after.invocations <= invocations_max,
        "{}",
        report(shrunk)
    );
    assert!(shrunk.after.invocations > 0, "{}", report(shrunk));
}

fn kinds(shrunk: &FaultShrink) -> Vec<FaultKind> {
    shrunk.minimal.iter().map(|fault| fault.kind()).collect()
}

fn report(shrunk: &FaultShrink) -> String {
    format!(
        "{}: {} planned, {} in the schedule, {} left, {:?} -> {:?}, after {} runs: {:?}",
        shrunk.target,
        shrunk.planned.len(),
        shrunk.schedule.len(),
        shrunk.minimal.len(),
        shrunk.before,
        shrunk.after,
        shrunk.runs,
        shrunk
            .minimal
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    )
}

#[test]
fn a_counter_derived_from_live_actors_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::CounterFromLiveActors);
    assert_size(&shrunk, &[], 10);
}

/// The leak needs one failed invocation: the shrink keeps one write
/// failure and the few invocations it takes to reach it.
#[test]
fn a_span_leaked_on_the_error_path_keeps_one_write_failure_and_a_few_invocations() {
    let shrunk = proven(Bug::SpanLeakOnError);
    assert_size(&shrunk, &[FaultKind::StorageWriteFailure], 10);
}

/// The client span is left OK only when a crash cuts a request off, and
/// without the network delays the workload is over before the crash: the
/// answer keeps the crash and the delays that stretch the traffic to it. A
/// small budget stops it, with a list that still fails on its own.
#[test]
fn an_attempt_span_left_ok_under_a_crash_keeps_the_crash_and_halves_the_schedule_in_sixty_runs() {
    let budget = ShrinkBudget {
        runs_max: 60,
        ..BUDGET
    };
    let shrunk = proven_within(Bug::TimedOutAttemptSpanOk, budget);
    assert_eq!(shrunk.runs, 60, "{}", report(&shrunk));
    assert_eq!(shrunk.stopped, Some(ShrinkStop::Runs));
    assert!(
        kinds(&shrunk).contains(&FaultKind::NodeCrash),
        "{}",
        report(&shrunk)
    );
    assert!(
        shrunk.minimal.len() * 2 < shrunk.schedule.len(),
        "{}",
        report(&shrunk)
    );
}

/// The count goes missing only where a crash lands after an accept and
/// before the request's task runs: the answer keeps the crash the accept
/// sets off, and the invocations it takes to reach its nth request.
#[test]
fn a_received_counter_in_the_request_task_keeps_the_crash_at_accept_and_few_invocations() {
    let shrunk = proven(Bug::ReceivedCounterInRequestTask);
    assert_size(&shrunk, &[FaultKind::NodeCrash], 250);
    let trigger = shrunk.minimal[0].trigger;
    assert_eq!(trigger, Some(Trigger::Accept), "{}", report(&shrunk));
}

/// Two runs of one seed diverge because of state carried in the process:
/// each candidate runs twice, and one invocation is enough to differ.
#[test]
fn a_process_global_request_id_diverges_with_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::ProcessGlobalRequestId);
    assert_eq!(shrunk.target.subject, ShrinkTarget::DIVERGING);
    assert_size(&shrunk, &[], 10);
}

/// The gauge drifts only when a handler panics; the shrink keeps one panic,
/// and the few dozen invocations it takes for one to land on an active
/// actor.
#[test]
fn a_gauge_not_decremented_on_the_panic_path_keeps_one_panic_and_a_few_dozen_invocations() {
    let shrunk = proven(Bug::GaugeNotDecrementedOnCrash);
    assert_size(&shrunk, &[FaultKind::HandlerPanic], 50);
}

#[test]
fn a_counter_bumped_before_a_failing_write_shrinks_to_one_write_failure_and_a_few_invocations() {
    let shrunk = proven(Bug::CounterBeforeWrite);
    assert!(shrunk.schedule.len() > 20, "{}", report(&shrunk));
    assert_size(&shrunk, &[FaultKind::StorageWriteFailure], 10);
}

#[test]
fn milliseconds_as_seconds_need_no_fault_at_all() {
    let shrunk = proven(Bug::MillisecondsAsSeconds);
    // One get is enough to record a latency a thousand times too large.
    assert_size(&shrunk, &[], 2);
    assert_eq!(shrunk.after.servers, 1, "{}", report(&shrunk));
}

#[test]
fn a_failed_write_span_with_ok_status_shrinks_to_one_write_failure_and_a_few_invocations() {
    let shrunk = proven(Bug::FailedSpanStatusOk);
    assert_size(&shrunk, &[FaultKind::StorageWriteFailure], 10);
}

#[test]
fn a_trace_context_dropped_on_get_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::TraceContextDroppedOnGet);
    assert_size(&shrunk, &[], 10);
}

/// The label breaks its bound of 100 values only once more than 100 actors
/// have been used: a few hundred invocations over the case's 400 actors.
#[test]
fn an_actor_id_label_needs_no_fault_and_only_the_invocations_that_pass_the_bound() {
    let shrunk = proven(Bug::ActorIdLabel);
    assert_size(&shrunk, &[], 400);
    assert!(shrunk.after.invocations > 100, "{}", report(&shrunk));
}

#[test]
fn a_counter_without_total_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::CounterWithoutTotal);
    assert_size(&shrunk, &[], 10);
}

/// The dashboard's panel reads a name no run exports: no fault, and the
/// fewest invocations a run can have.
#[test]
fn a_metric_renamed_under_the_dashboard_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::RenamedMetricOnDashboard);
    assert_size(&shrunk, &[], 10);
}

/// The gauge of stored actors is wrong only after a restart.
#[test]
fn a_stored_state_gauge_restarting_at_zero_keeps_the_crash_and_a_few_invocations() {
    let shrunk = proven(Bug::PersistedGaugeRestartsAtZero);
    assert_size(&shrunk, &[FaultKind::NodeCrash], 10);
}

#[test]
fn a_request_histogram_in_milliseconds_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::RequestMillisecondsAsSeconds);
    assert_size(&shrunk, &[], 10);
}

/// A retry needs one lost message.
#[test]
fn a_retry_with_the_first_attempts_context_keeps_one_lost_message_and_a_few_invocations() {
    let shrunk = proven(Bug::RetryReusesFirstContext);
    assert_size(&shrunk, &[FaultKind::PacketLoss], 10);
}

#[test]
fn a_dependency_failure_counted_as_success_keeps_one_failure_and_a_few_invocations() {
    let shrunk = proven(Bug::DependencyFailureCountedAsSuccess);
    assert_size(&shrunk, &[FaultKind::DependencyFailure], 10);
}

#[test]
fn a_storage_span_closing_before_commit_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::StorageSpanClosesBeforeCommit);
    assert_size(&shrunk, &[], 10);
}

#[test]
fn a_cold_describe_with_no_span_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::NoSpanOnColdDescribe);
    assert_size(&shrunk, &[], 10);
}

/// The alert switches run 25 simulated minutes of traffic. The typo'd
/// selector matches nothing at any instant, outage or not; but the file's
/// SLO claim held, and its burn rate has no series at all without an
/// error: the answer keeps one panic, and the traffic that reaches it.
#[test]
fn an_alert_rule_with_a_status_typo_keeps_one_panic_for_the_slo_claim_it_kept() {
    let shrunk = proven(Bug::AlertRuleStatusTypo);
    assert_size(&shrunk, &[FaultKind::HandlerPanic], 1000);
    assert!(
        shrunk.after.duration < shrunk.before.duration / 8,
        "{}",
        report(&shrunk)
    );
}

/// A page for nothing needs errors enough to burn the budget: a couple of
/// the brownout's faults, and a fraction of its traffic.
#[test]
fn an_error_counter_that_double_counts_keeps_two_faults_and_a_fraction_of_the_traffic() {
    let shrunk = proven(Bug::ErrorCounterDoubleCounts);
    assert!(shrunk.minimal.len() <= 2, "{}", report(&shrunk));
    assert!(
        shrunk.after.invocations * 8 <= shrunk.before.invocations,
        "{}",
        report(&shrunk)
    );
}

/// A latency page needs a latency breach held for its `for`: the slow
/// storage, and some minutes of traffic. The file's SLO claim held, and
/// its burn rate has no series at all without an error: one panic stays
/// too, rather than a minimal file that breaks that claim.
#[test]
fn latency_buckets_stopping_short_keep_the_slowdown_and_a_fraction_of_the_traffic() {
    let shrunk = proven(Bug::LatencyBucketsStopShort);
    assert!(shrunk.minimal.len() <= 4, "{}", report(&shrunk));
    assert!(
        kinds(&shrunk).contains(&FaultKind::HandlerPanic),
        "{}",
        report(&shrunk)
    );
    assert!(
        shrunk.after.invocations * 4 <= shrunk.before.invocations,
        "{}",
        report(&shrunk)
    );
}

/// A sim built in code has no file to rewrite: its failure's message
/// lists the minimal faults and sizes instead, in report.txt too.
#[test]
fn a_failing_sim_built_in_code_lists_its_minimal_faults_in_the_message() {
    let artifacts = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shrink-in-code");
    let _ = std::fs::remove_dir_all(&artifacts);
    let config = obsim_fixtures::ActorConfig::default().with_bug(Bug::CounterBeforeWrite);
    let sim = obsim_fixtures::skeleton()
        .replay_command(REPLAY)
        .artifacts_dir(Some(artifacts.clone()))
        .shrink(Some(BUDGET))
        .build(move || obsim_fixtures::ActorSystem::new(config.clone()))
        .expect("valid");
    let failure = sim
        .check_seed(1)
        .failure
        .expect("the skeleton fails seed 1");
    let message = failure.to_string();
    assert!(
        message.contains(
            "; still fails [metric_accuracy] `storage_operations_total` with these faults \
             (`Sim::shrink_faults` then `Sim::minimal` rebuild it in code):\n  storage_write_failure node="
        ),
        "{message}"
    );
    assert!(
        message.contains(" nth=1\nreplay: OBSIM_SEED=1 "),
        "{message}"
    );
    let Some(obsim::harness::Artifacts::Written(folder)) = &failure.artifacts else {
        panic!("no artifacts: {message}");
    };
    let report = std::fs::read_to_string(folder.join("report.txt")).expect("report.txt");
    assert!(report.starts_with(&message), "{report}");
    assert!(!folder.join("minimal.toml").exists());
    let _ = std::fs::remove_dir_all(&artifacts);
}

/// A scenario file with a planted bug, in a folder of its own.
const BUGGY: &str = r#"name = "buggy"
description = "A storage counter that moves before its write commits, under write failures and delays."

[workload]
invocations = 200
concurrency = 8

[run]
duration = "2s"

[seeds]
count = 1

[system]
bugs = ["counter_before_write"]

[[faults]]
kind = "storage_write_failure"
probability = 0.1

[[faults]]
kind = "network_delay"
min = "1ms"
max = "20ms"
probability = 0.3
"#;

/// A fresh folder under the test's target tmp dir, `shrink-<name>`, holding
/// scenario file `<file>` with `text`.
fn folder_with(name: &str, file: &str, text: &str) -> std::path::PathBuf {
    let folder =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("shrink-{name}"));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(file), text).unwrap();
    folder
}

/// The actor runtime's suite over `folder`, writing its snapshots and
/// artifacts inside it, and the artifacts folder.
fn actor_suite(folder: &std::path::Path) -> (obsim::Suite, std::path::PathBuf) {
    let artifacts = folder.join("artifacts");
    let suite = obsim::Suite::new(folder)
        .system(obsim_fixtures::ActorSystem::new)
        .snapshots(folder.join("snapshots"))
        .artifacts_dir(Some(artifacts.clone()));
    (suite, artifacts)
}

#[test]
fn a_failing_scenario_file_leaves_a_minimal_toml_that_fails_the_same_check_on_its_own() {
    let folder = folder_with("buggy", "buggy.toml", BUGGY);
    let (suite, artifacts) = actor_suite(&folder);
    let files = suite.files().unwrap();
    let message = suite
        .run_file(&files[0], "cargo test --test shrink")
        .unwrap_err();
    let minimal = artifacts.join("buggy/0/minimal.toml");
    assert!(
        message.contains(&format!(
            "; still fails [metric_accuracy] `storage_operations_total`: {}",
            minimal.display()
        )),
        "{message}"
    );
    assert!(message.contains("shrunk: faults "), "{message}");
    assert!(message.contains(" -> 1 (the 2 planned, as "), "{message}");
    assert!(message.contains("invocations 200 -> "), "{message}");
    assert!(
        message
            .trim_end()
            .ends_with("replay: OBSIM_SEED=0 cargo test --test shrink"),
        "{message}"
    );
    // The minimal file is an ordinary scenario: it loads, names one fault,
    // and fails the same check when run on its own, with no other.
    let scenario = obsim::load_scenario(&minimal).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.name, "buggy-seed-0-minimal");
    assert_eq!(scenario.faults.len(), 1, "{:?}", scenario.faults);
    assert_eq!((scenario.seeds.start, scenario.seeds.count), (0, 1));
    // The bug needs one failed write, not two hundred invocations.
    assert!(
        scenario.workload.invocations <= 10,
        "{:?}",
        scenario.workload
    );
    let quiet = obsim::Suite::new(&folder)
        .system(obsim_fixtures::ActorSystem::new)
        .artifacts_dir(None);
    let alone = quiet.sim(&scenario, "replay").unwrap();
    let failure = alone
        .check_seed(0)
        .failure
        .expect("the minimal file still fails");
    assert_eq!(failure.checks(), [Check::MetricAccuracy], "{failure}");
    let _ = std::fs::remove_dir_all(&folder);
}

/// The closing-note table: every actor-runtime bug switch's case, shrunk
/// with the default budget, aimed at the check the bug targets. A sweep, not a test of the suite:
/// `cargo test --release --test shrink -- --ignored --nocapture`.
#[test]
#[ignore]
fn shrink_table_for_the_actor_bug_switches() {
    println!("| bug switch | seed | check | faults | invocations | concurrency | simulated | servers | operations | runs | stopped |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for bug in Bug::ALL {
        let case = obsim_fixtures::bug_case(bug);
        let sim = case.sim("cargo test --test shrink").expect("valid");
        let started = std::time::Instant::now();
        let seed = case.seed;
        match sim.shrink_check(seed, case.check, ShrinkBudget::DEFAULT) {
            Ok(s) => println!(
                "| `{bug}` | {seed} | {} | {} -> {} | {} -> {} | {} -> {} | {:?} -> {:?} | {} -> {} | {} -> {} | {} | {:?} ({:.1}s) |",
                s.target.check,
                s.schedule.len(),
                s.minimal.len(),
                s.before.invocations,
                s.after.invocations,
                s.before.concurrency,
                s.after.concurrency,
                s.before.duration,
                s.after.duration,
                s.before.servers,
                s.after.servers,
                s.before.operations.len(),
                s.after.operations.len(),
                s.runs,
                s.stopped,
                started.elapsed().as_secs_f64()
            ),
            Err(error) => println!("| `{bug}` | {seed} | not shrunk: {error} | | | | | | | | |"),
        }
    }
}

/// A scenario file, shrunk the way a failing seed's artifacts shrink it
/// (the first violation's check and subject), and its `minimal.toml`
/// loaded back and run on its own, by a suite of `system`.
struct ShrunkFile {
    /// The failure of the file's own seed, before shrinking.
    original: Failure,
    shrunk: FaultShrink,
    minimal: obsim::scenario::Scenario,
    /// The failure of `minimal.toml` run on its own.
    alone: Failure,
}

fn shrunk_file<C, S>(
    name: &str,
    text: &str,
    system: impl Fn(C) -> S + Send + Sync + Clone + 'static,
) -> ShrunkFile
where
    C: obsim::deps::serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    S: obsim::System,
{
    let folder = folder_with(name, &format!("{name}.toml"), text);
    let path = folder.join(format!("{name}.toml"));
    let suite = obsim::Suite::new(&folder)
        .system(system)
        .artifacts_dir(None);
    let (scenario, sim) = suite.load(&path, REPLAY).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seeds.start;
    let original = sim.check_seed(seed).failure.expect("the file fails");
    let shrunk = sim
        .shrink_faults(seed, ShrinkBudget::DEFAULT)
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert!(shrunk.reproduced, "{}", report(&shrunk));
    let minimal_path = folder.join("minimal.toml");
    let text = sim.minimal_scenario(&shrunk).expect("a scenario file");
    std::fs::write(&minimal_path, text).unwrap();
    let (minimal, alone) = suite
        .load(&minimal_path, REPLAY)
        .unwrap_or_else(|e| panic!("{e}"));
    let alone = alone.check_seed(seed).failure.unwrap_or_else(|| {
        panic!(
            "{} passes on its own: {}",
            minimal_path.display(),
            report(&shrunk)
        )
    });
    let _ = std::fs::remove_dir_all(&folder);
    ShrunkFile {
        original,
        shrunk,
        minimal,
        alone,
    }
}

/// The violations of `failure` about `subject`, as the failure words them.
fn about(failure: &Failure, subject: &str) -> Vec<String> {
    let obsim::Problem::Violations(violations) = &failure.problem else {
        return Vec::new();
    };
    violations
        .iter()
        .filter(|violation| violation.subject == subject)
        .map(ToString::to_string)
        .collect()
}

/// The actor runtime under a contract with one more accuracy rule, one
/// that selects an operation: the model provider's `ok` calls are the
/// describe requests answered `ok` (each describe that gets past its
/// activation asks the model once, and fails when the model does). With
/// no `describe` in the workload, the rule cannot be evaluated.
struct DescribeRule(obsim_fixtures::ActorSystem);

const DESCRIBE_RULE: &str =
    r#"final(llm_calls_total{status="ok"}) == requests.ok{operation="describe"}"#;

impl obsim::System for DescribeRule {
    fn serve(
        &self,
        node: obsim::NodeContext,
    ) -> obsim::deps::futures::future::BoxFuture<'static, ()> {
        self.0.serve(node)
    }

    fn drive(
        &self,
        client: obsim::ClientContext,
    ) -> obsim::deps::futures::future::BoxFuture<'static, ()> {
        self.0.drive(client)
    }

    fn contract(&self) -> obsim::Contract {
        self.0.contract().accurate(DESCRIBE_RULE)
    }
}

/// Failed model calls counted `ok`, in a workload of three operations.
const COUNTED_AS_SUCCESS: &str = r#"name = "counted-as-success"
description = "Failed model-provider calls counted as ok, in a mix of three operations."

[workload]
invocations = 200
concurrency = 8
keys = 16
operations = { describe = 1, get = 1, increment = 1 }

[run]
duration = "2s"

[seeds]
count = 1

[system]
bugs = ["dependency_failure_counted_as_success"]

[[faults]]
kind = "dependency_failure"
dependency = "llm"
probability = 0.2
"#;

/// The seed fails the contract's rule `final(llm_calls_total{status="ok"})
/// == dependencies.ok{dependency="llm"}` with a value. Dropping `describe`
/// from the mix makes that rule hold (no model call at all) and leaves
/// [`DESCRIBE_RULE`], on the same metric, unable to be evaluated: a
/// violation of the same check on the same subject, which once counted as
/// the same failure. The minimal file then ran no describe, and so not the
/// bug (seen failing before the fix: its operations were `get+increment`).
#[test]
fn a_candidate_whose_rule_cannot_be_evaluated_does_not_count_as_still_failing() {
    let file = shrunk_file("counted-as-success", COUNTED_AS_SUCCESS, |config| {
        DescribeRule(obsim_fixtures::ActorSystem::new(config))
    });
    let shrunk = &file.shrunk;
    assert_eq!(
        shrunk.target.check,
        Check::MetricAccuracy,
        "{}",
        report(shrunk)
    );
    assert_eq!(shrunk.target.subject, "`llm_calls_total`");
    let operations: Vec<&str> = shrunk
        .after
        .operations
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(operations.contains(&"describe"), "{}", report(shrunk));
    let mix: Vec<&str> = file
        .minimal
        .workload
        .operations
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(mix.contains(&"describe"), "{mix:?}");
    // The minimal file fails the rule the seed failed, with a value.
    let failed = about(&file.alone, "`llm_calls_total`");
    let contract_rule = r#"`final(llm_calls_total{status="ok"}) == dependencies.ok{dependency="llm"}` does not hold"#;
    assert!(
        failed.iter().any(|line| line.contains(contract_rule)),
        "{}\n\nthe original:\n{}",
        file.alone,
        file.original
    );
    assert!(
        !file.alone.to_string().contains("cannot be evaluated"),
        "{}",
        file.alone
    );
}

/// Storage durations in milliseconds, in a file that asks for write
/// failures and checks that it got them.
const PRECONDITION: &str = r#"name = "precondition"
description = "Storage timed in milliseconds, under write failures the file checks it got."
expect = [
  "faults.storage_write_failure >= 1",
  "final(storage_operation_duration_seconds_sum) < 10",
]

[workload]
invocations = 200
concurrency = 8
keys = 16
operations = { get = 1, increment = 1 }

[run]
duration = "2s"

[seeds]
count = 1

[system]
bugs = ["milliseconds_as_seconds"]

[[faults]]
kind = "storage_write_failure"
probability = 0.1
"#;

/// The bug needs no fault, and the seed fails `histogram_correctness`; it
/// also fails one expectation (the storage time, a thousand times too
/// large) and keeps the other, the precondition that a write failed. A
/// candidate with no fault breaks the precondition: `expectation` was
/// failing already, so comparing checks let it through, and the minimal
/// file failed its own precondition (seen failing before the fix: the
/// minimal faults were none). Each expectation is now its own claim.
#[test]
fn a_candidate_that_breaks_an_expectation_the_seed_kept_does_not_count_as_still_failing() {
    let file = shrunk_file(
        "precondition",
        PRECONDITION,
        obsim_fixtures::ActorSystem::new,
    );
    let shrunk = &file.shrunk;
    assert_eq!(
        shrunk.target.check,
        Check::HistogramCorrectness,
        "{}",
        report(shrunk)
    );
    assert_eq!(
        kinds(shrunk),
        [FaultKind::StorageWriteFailure],
        "{}",
        report(shrunk)
    );
    assert!(
        file.alone.checks().contains(&Check::HistogramCorrectness),
        "{}",
        file.alone
    );
    let precondition = "`faults.storage_write_failure >= 1`";
    assert!(
        about(&file.original, precondition).is_empty(),
        "{}",
        file.original
    );
    assert!(
        about(&file.alone, precondition).is_empty(),
        "the minimal file breaks the precondition the seed kept:\n{}",
        file.alone
    );
    assert_eq!(file.minimal.faults, shrunk.minimal);
}

/// Every seed of it fails, on an expectation that cannot hold.
const EVERY_SEED_FAILS: &str = r#"name = "every-seed-fails"
description = "Claims a negative count of calls, on every seed."
expect = ['final(actor_client_calls_total) < 0']

[workload]
invocations = 20

[run]
duration = "1s"

[seeds]
count = 3
"#;

/// Shrinking costs up to a hundred runs a seed: a sweep shrinks its lowest
/// failing seed only, after checking them all, and every other failure
/// says how to shrink it: replay it alone, which a sweep of one seed does
/// (seen failing before the fix: every seed's folder had a minimal.toml).
#[test]
fn a_sweep_shrinks_its_lowest_failing_seed_and_says_how_to_shrink_the_others() {
    let folder = folder_with("sweep", "every-seed-fails.toml", EVERY_SEED_FAILS);
    let (suite, artifacts) = actor_suite(&folder);
    let files = suite.files().unwrap();
    let message = suite.run_file(&files[0], REPLAY).unwrap_err();
    let seed_dir = |seed: u64| artifacts.join(format!("every-seed-fails/{seed}"));
    let minimal = seed_dir(0).join("minimal.toml");
    assert!(message.starts_with("3 of 3 seeds failed"), "{message}");
    assert!(minimal.is_file(), "{message}");
    let shrunk_line =
        "\nshrunk: faults 0 -> 0 (the 0 planned, as 0 fixed events), invocations 20 -> 1, ";
    assert_eq!(message.matches(shrunk_line).count(), 1, "{message}");
    assert!(
        message.contains(&format!(
            "; still fails [expectation] `final(actor_client_calls_total) < 0`: {}\nreplay: \
             OBSIM_SEED=0 {REPLAY}",
            minimal.display()
        )),
        "{message}"
    );
    // Its report.txt, written before the sweep knew it was the lowest, is
    // the shrunk one.
    let report = std::fs::read_to_string(seed_dir(0).join("report.txt")).unwrap();
    assert!(report.contains(shrunk_line), "{report}");
    for seed in [1, 2] {
        assert!(seed_dir(seed).join("report.txt").is_file(), "{message}");
        assert!(
            !seed_dir(seed).join("minimal.toml").exists(),
            "seed {seed}: {message}"
        );
        assert!(
            message.contains(&format!(
                "\nshrunk: a sweep shrinks only its lowest failing seed, after checking every \
                 seed; the replay below runs this seed alone, and shrinks it\nreplay: \
                 OBSIM_SEED={seed} {REPLAY}"
            )),
            "{message}"
        );
    }
    // Replayed alone, seed 2 is shrunk.
    let (_, sim) = suite
        .load(&files[0].path, REPLAY)
        .unwrap_or_else(|error| panic!("{error}"));
    let alone = sim.sweep(&[2]);
    let failure = alone.failures().next().expect("seed 2 fails");
    let shrunk = failure.shrunk.as_deref().unwrap_or_default();
    assert!(
        shrunk.ends_with(&format!(": {}", seed_dir(2).join("minimal.toml").display())),
        "{failure}"
    );
    assert!(seed_dir(2).join("minimal.toml").is_file(), "{failure}");
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn an_activation_logged_outside_its_span_needs_no_fault_and_a_few_invocations() {
    let shrunk = proven(Bug::ActivationLoggedOutsideSpan);
    assert_size(&shrunk, &[], 10);
}

/// An attempt must fail and its retry succeed: one lost message.
#[test]
fn a_retried_attempt_left_unlogged_keeps_one_lost_message_and_a_few_invocations() {
    let shrunk = proven(Bug::RetriedAttemptNotLogged);
    assert_size(&shrunk, &[FaultKind::PacketLoss], 10);
}

/// One write must fail again and again: the shrink keeps the outage (a
/// window in which every write fails, so no draw to fix), one server, one
/// worker, and the traffic it takes to reach the window at 1 s.
#[test]
fn a_write_retry_log_storm_keeps_the_outage_and_the_traffic_that_reaches_it() {
    let shrunk = proven(Bug::WriteRetryLogStorm);
    assert_size(&shrunk, &[FaultKind::StorageWriteFailure], 100);
    assert_eq!(
        (shrunk.after.servers, shrunk.after.concurrency),
        (1, 1),
        "{}",
        report(&shrunk)
    );
}

#[test]
fn an_api_key_in_an_error_log_keeps_one_provider_failure_and_a_few_invocations() {
    let shrunk = proven(Bug::ApiKeyInErrorLog);
    assert_size(&shrunk, &[FaultKind::DependencyFailure], 10);
}
