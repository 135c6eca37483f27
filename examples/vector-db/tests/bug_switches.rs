//! Every bug switch plants a realistic instrumentation bug in the vector
//! database, and the check it targets must catch it, alone, with a message
//! that names what broke and the command that replays it.

use std::path::PathBuf;
use std::time::Duration;

use obsim::faults::FaultKind;
use obsim::harness::{Check, Failure, Problem, ShrinkBudget};
use obsim::{Sim, Suite};
use obsim_example_vector_db::{Bug, VectorDb, VectorDbConfig};

/// Seeds a test sweeps for its first failure.
const SEEDS: u64 = 8;

/// The suite the bug files run in, as a user's `tests/` would run them;
/// failures here are expected, so it leaves no artifacts behind.
fn suite() -> Suite {
    Suite::new("scenarios")
        .system(VectorDb::new)
        .artifacts_dir(None)
}

/// `bugs/<bug-name>.toml`: a scenario file that plants `bug` in its
/// `[system]` table.
fn bug_file(bug: Bug) -> PathBuf {
    PathBuf::from(format!("bugs/{}.toml", bug.as_str().replace('_', "-")))
}

/// The first failure `bug`'s file causes over seeds 0..SEEDS, with the seed
/// it failed on and the file's sim.
fn first_failure(bug: Bug, test: &str) -> (u64, Failure, Sim) {
    let replay =
        format!("cargo test -p obsim-example-vector-db --test bug_switches -- --exact {test}");
    let (scenario, sim) = suite()
        .load(&bug_file(bug), &replay)
        .unwrap_or_else(|error| panic!("{error}"));
    let config: VectorDbConfig = scenario.system_config().expect("a valid [system]");
    assert_eq!(
        config.bugs.iter().copied().collect::<Vec<_>>(),
        [bug],
        "{} plants exactly its own bug",
        bug_file(bug).display()
    );
    let (seed, failure) = (0..SEEDS)
        .find_map(|seed| sim.check_seed(seed).failure.map(|failure| (seed, failure)))
        .unwrap_or_else(|| panic!("bug {bug} went unnoticed on seeds 0..{SEEDS}"));
    (seed, failure, sim)
}

/// Shrinks `sim`'s failure on `seed`, aimed at `check`, and proves the
/// answer on its own: the minimal sim fails `check` again on the same seed,
/// every fault left fires, and it fails no other check. Then asserts the
/// answer kept exactly faults of `kinds` and at most `invocations_max`
/// invocations: what the bug needs.
fn assert_shrinks(sim: &Sim, seed: u64, check: Check, kinds: &[FaultKind], invocations_max: u64) {
    let shrunk = sim
        .shrink_check(seed, check, ShrinkBudget::DEFAULT)
        .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    let summary = format!(
        "{}: faults {} -> {:?}, {:?} -> {:?}, in {} runs",
        shrunk.target,
        shrunk.schedule.len(),
        shrunk
            .minimal
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        shrunk.before,
        shrunk.after,
        shrunk.runs
    );
    eprintln!("{summary}");
    assert!(shrunk.reproduced, "{summary}");
    assert_eq!(shrunk.stopped, None, "{summary}");
    let alone = sim.minimal(&shrunk).expect("a valid plan");
    let failure = alone
        .check_seed(seed)
        .failure
        .expect("the minimal sim fails");
    assert_eq!(failure.checks(), [check], "{summary}\n{failure}");
    // And as the minimal.toml a failing seed writes, run alone by the suite.
    let text = sim.minimal_scenario(&shrunk).expect("a scenario file");
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vector-db-minimal");
    std::fs::create_dir_all(&folder).expect("a folder");
    let file = folder.join(format!("{}-seed-{seed}.toml", sim.config().scenario));
    std::fs::write(&file, text).expect("written");
    let (small, from_file) = suite()
        .load(&file, "replay")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((small.seeds.start, small.seeds.count), (seed, 1));
    let failure = from_file
        .check_seed(seed)
        .failure
        .unwrap_or_else(|| panic!("{} passes on its own", file.display()));
    assert_eq!(failure.checks(), [check], "{summary}\n{failure}");
    let kept: Vec<FaultKind> = shrunk.minimal.iter().map(|fault| fault.kind()).collect();
    assert_eq!(kept, kinds, "{summary}");
    assert!(shrunk.after.invocations <= invocations_max, "{summary}");
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
    let replay = format!(
        "replay: OBSIM_SEED={seed} cargo test -p obsim-example-vector-db --test bug_switches -- --exact {test}"
    );
    assert!(message.ends_with(&replay), "no replay line in:\n{message}");
}

#[test]
fn storage_histogram_in_milliseconds_is_caught_by_histogram_correctness() {
    let test = "storage_histogram_in_milliseconds_is_caught_by_histogram_correctness";
    let (seed, failure, sim) = first_failure(Bug::MillisecondsAsSeconds, test);
    let message = message_of(&failure);
    // Named in the database's own words: the contract maps obsim's put to write.
    assert!(
        message.contains(
            "[histogram_correctness] vectordb_storage_operation_duration_seconds{operation=\"write\"} on server-0: \
             in the final exposition of incarnation 0: bucket le=0.005 holds 0, but "
        ),
        "{message}"
    );
    assert!(
        message.contains("1000x too much, milliseconds recorded as seconds?"),
        "{message}"
    );
    assert_only(&failure, Check::HistogramCorrectness, seed, test);
    assert_shrinks(&sim, seed, Check::HistogramCorrectness, &[], 10);
}

#[test]
fn write_counted_before_it_is_tried_is_caught_by_metric_accuracy() {
    let test = "write_counted_before_it_is_tried_is_caught_by_metric_accuracy";
    let (seed, failure, sim) = first_failure(Bug::CounterBeforeWrite, test);
    let message = message_of(&failure);
    assert!(
        message.contains(
            "[metric_accuracy] `vectordb_storage_operations_total`: disagrees with the harness's ground truth: \
             `final(vectordb_storage_operations_total{operation=\"write\",status=\"ok\"}) == storage.ok{operation=\"put\"}`"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "final(vectordb_storage_operations_total{operation=\"write\", status=\"ok\"}) by incarnation: server-0#0 = "
        ),
        "{message}"
    );
    assert_only(&failure, Check::MetricAccuracy, seed, test);
    // One failed write, and the few inserts it takes to reach one.
    assert_shrinks(
        &sim,
        seed,
        Check::MetricAccuracy,
        &[FaultKind::StorageWriteFailure],
        10,
    );
}

#[test]
fn hot_tier_gauge_not_decremented_on_panic_is_caught_by_gauge_consistency() {
    let test = "hot_tier_gauge_not_decremented_on_panic_is_caught_by_gauge_consistency";
    // (One handler in twenty panics.)
    let (seed, failure, sim) = first_failure(Bug::GaugeNotDecrementedOnPanic, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[gauge_consistency] vectordb_hot_collections on server-"),
        "{message}"
    );
    assert!(
        message.contains(
            "but vectordb_collection_loads_total - vectordb_collection_evictions_total = "
        ),
        "{message}"
    );
    assert!(message.contains("the gauge drifted"), "{message}");
    assert_only(&failure, Check::GaugeConsistency, seed, test);
    // One panic, on a collection the hot tier holds.
    assert_shrinks(
        &sim,
        seed,
        Check::GaugeConsistency,
        &[FaultKind::HandlerPanic],
        50,
    );
}

#[test]
fn trace_context_dropped_on_search_is_caught_by_trace_integrity() {
    let test = "trace_context_dropped_on_search_is_caught_by_trace_integrity";
    let (seed, failure, sim) = first_failure(Bug::TraceContextDroppedOnSearch, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[trace_integrity] span `VectorService/Search` "),
        "{message}"
    );
    assert!(
        message.contains("starts a new trace") && message.contains("lost across the network hop"),
        "{message}"
    );
    assert!(
        !message.contains("`VectorService/Insert`"),
        "inserts keep their context:\n{message}"
    );
    assert_only(&failure, Check::TraceIntegrity, seed, test);
    assert_shrinks(&sim, seed, Check::TraceIntegrity, &[], 10);
}

#[test]
fn failed_write_span_left_ok_is_caught_by_span_completion() {
    let test = "failed_write_span_left_ok_is_caught_by_span_completion";
    let (seed, failure, sim) = first_failure(Bug::SpanLeftOkOnFailure, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[span_completion] span `write collections` "),
        "{message}"
    );
    assert!(
        message.contains(
            "ended with status ok, but the harness failed that write operation (write of \"collection-"
        ),
        "{message}"
    );
    assert_only(&failure, Check::SpanCompletion, seed, test);
    assert_shrinks(
        &sim,
        seed,
        Check::SpanCompletion,
        &[FaultKind::StorageWriteFailure],
        10,
    );
}

#[test]
fn counter_rebuilt_from_the_live_hot_tier_is_caught_by_counter_monotonicity() {
    let test = "counter_rebuilt_from_the_live_hot_tier_is_caught_by_counter_monotonicity";
    // A hot tier that holds every collection, so the only evictions are the
    // panics' (in the first second); frequent scrapes see the counter fall,
    // and by the end the reloads and inserts have carried it past its old
    // peak, so no scrape saw more than the final value.
    let (seed, failure, sim) = first_failure(Bug::CounterResetFromLiveState, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[counter_monotonicity] vectordb_vectors_indexed_total on server-"),
        "{message}"
    );
    assert!(message.contains("went down from"), "{message}");
    assert!(message.contains("within incarnation 0"), "{message}");
    assert_only(&failure, Check::CounterMonotonicity, seed, test);
    // One panic, and the inserts that push the counter past it: the bug
    // shows only when a scrape sees the fall.
    assert_shrinks(
        &sim,
        seed,
        Check::CounterMonotonicity,
        &[FaultKind::HandlerPanic],
        300,
    );
}

#[test]
fn collection_id_used_as_a_label_is_caught_by_exposition_lint() {
    let test = "collection_id_used_as_a_label_is_caught_by_exposition_lint";
    // More collections than the default bound of 100 distinct label values.
    let (seed, failure, sim) = first_failure(Bug::CollectionIdLabel, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[exposition_lint] metric `vectordb_collection_vectors`"),
        "{message}"
    );
    assert!(
        message.contains("label `collection` of `vectordb_collection_vectors` took "),
        "{message}"
    );
    assert!(message.contains("(bound 100)"), "{message}");
    assert_only(&failure, Check::ExpositionLint, seed, test);
    // No fault; only the requests it takes to pass 100 collections.
    assert_shrinks(&sim, seed, Check::ExpositionLint, &[], 300);
}

#[test]
fn stored_collections_gauge_restarting_at_zero_is_caught_by_gauge_consistency() {
    let test = "stored_collections_gauge_restarting_at_zero_is_caught_by_gauge_consistency";
    // server-1 restarts with collections already stored; its new incarnation
    // counts only the collections stored since.
    let (seed, failure, sim) = first_failure(Bug::StoredGaugeRestartsAtZero, test);
    let message = message_of(&failure);
    assert!(
        message.contains("[gauge_consistency] vectordb_stored_collections on server-1 at "),
        "{message}"
    );
    assert!(message.contains("server-1 incarnation 1"), "{message}");
    assert!(
        message.contains("but the node's storage held "),
        "{message}"
    );
    assert_only(&failure, Check::GaugeConsistency, seed, test);
    // The restart, and a few writes before and after it.
    assert_shrinks(
        &sim,
        seed,
        Check::GaugeConsistency,
        &[FaultKind::NodeCrash],
        10,
    );
}

#[test]
fn bug_names_parse_back_and_unknown_names_list_the_known_ones() {
    for bug in Bug::ALL {
        assert_eq!(bug.as_str().parse::<Bug>(), Ok(bug));
    }
    let error = "counter_go_down".parse::<Bug>().unwrap_err();
    assert!(error.contains("span_left_ok_on_failure"), "{error}");
}

#[test]
fn a_bug_named_in_a_scenario_files_system_table_fails_that_file() {
    // The file is meant to fail: leave no artifacts behind.
    let suite = obsim::Suite::new("scenarios")
        .system(VectorDb::new)
        .artifacts_dir(None);
    let replay = "cargo test -p obsim-example-vector-db --test bug_switches";
    let (scenario, sim) = suite
        .load(
            std::path::Path::new("bugs/milliseconds-as-seconds.toml"),
            replay,
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let config: VectorDbConfig = scenario.system_config().expect("a valid [system]");
    assert_eq!(config.request_timeout, Duration::from_millis(500));
    assert!(config.bugs.contains(&Bug::MillisecondsAsSeconds));
    let failure = sim
        .check_seed(scenario.seeds.start)
        .failure
        .expect("the planted bug fails the file's first seed");
    let message = message_of(&failure);
    assert!(
        message.contains("milliseconds recorded as seconds?"),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::HistogramCorrectness], "{message}");
}

/// `[system]` as a scenario file would give it.
fn system_table(table: &str) -> Result<VectorDbConfig, String> {
    let text =
        format!("name = \"settings\"\ndescription = \"Settings only.\"\n\n[system]\n{table}");
    let scenario = obsim::scenario::Scenario::parse(
        std::path::Path::new("settings.toml"),
        &text,
        &Check::invariant_names(),
    )
    .map_err(|error| error.to_string())?;
    scenario.system_config().map_err(|error| error.to_string())
}

#[test]
fn the_system_table_has_defaults_and_rejects_what_cannot_work() {
    assert_eq!(system_table(""), Ok(VectorDbConfig::default()));
    let config = system_table("hot_tier_capacity = 8\ntop_k = 5\nbugs = [\"collection_id_label\"]")
        .expect("valid settings");
    assert_eq!((config.hot_tier_capacity, config.top_k), (8, 5));
    assert_eq!(
        config.bugs.into_iter().collect::<Vec<_>>(),
        [Bug::CollectionIdLabel]
    );
    let unknown = system_table("hot_tier = 8").unwrap_err();
    assert!(
        unknown.contains("hot_tier_capacity"),
        "lists the known keys: {unknown}"
    );
    let zero = system_table("hot_tier_capacity = 0").unwrap_err();
    assert!(zero.contains("expected an integer >= 1"), "{zero}");
    let instant = system_table("request_timeout = \"0s\"").unwrap_err();
    assert!(instant.contains("expected a duration > 0"), "{instant}");
    let bug = system_table("bugs = [\"counter_go_down\"]").unwrap_err();
    assert!(
        bug.contains("milliseconds_as_seconds"),
        "lists the known bugs: {bug}"
    );
}
