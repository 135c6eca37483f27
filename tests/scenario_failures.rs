//! Scenario files fail loudly: a malformed file names its file, line and
//! field; an expectation that does not hold, or a fault that never fires,
//! fails the seed with a message that says why and how to replay it.

use std::path::Path;

use obsim::harness::{Check, Failure};
use obsim::scenario::Scenario;

fn parse(text: &str) -> Scenario {
    Scenario::parse(Path::new("inline.toml"), text, &Check::invariant_names())
        .unwrap_or_else(|error| panic!("{error}"))
}

/// The replay line the inline scenarios' failures print.
const REPLAY: &str = "cargo test --test t -- --exact inline.toml";

/// The failure of seed 0 of `text`, which must fail.
fn failure_of(text: &str) -> Failure {
    let sim = obsim_fixtures::suite()
        .sim(&parse(text), REPLAY)
        .unwrap_or_else(|error| panic!("{error}"));
    sim.check_seed(0)
        .failure
        .unwrap_or_else(|| panic!("seed 0 passed; it should have failed"))
}

#[test]
fn malformed_file_is_rejected_with_its_file_line_and_field() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad-probability.toml");
    let error = obsim::load_scenario(&path).expect_err("probability 1.5 is rejected");
    let message = error.to_string();
    assert!(
        message.contains("tests/data/bad-probability.toml:9:"),
        "{message}"
    );
    assert!(message.contains("`faults[0].probability`"), "{message}");
    assert!(message.contains("expected a number in [0, 1]"), "{message}");
}

#[test]
fn expectation_that_does_not_hold_fails_the_seed_with_the_values_it_read() {
    let failure = failure_of(
        r#"
name = "inline"
description = "Claims no write ever fails, under 10% write failures."
expect = ["faults.storage_write_failure == 0"]
[workload]
invocations = 200
[run]
duration = "2s"
[[faults]]
kind = "storage_write_failure"
probability = 0.1
"#,
    );
    let message = failure.to_string();
    assert!(
        message.contains("[expectation] `faults.storage_write_failure == 0`: does not hold: "),
        "{message}"
    );
    assert!(
        message.contains("where faults.storage_write_failure = "),
        "{message}"
    );
    assert!(
        message.ends_with("replay: OBSIM_SEED=0 cargo test --test t -- --exact inline.toml"),
        "{message}"
    );
}

#[test]
fn fault_that_never_fires_fails_the_seed_instead_of_passing_vacuously() {
    // The workload is over long before 9 s: no write meets the full disk.
    let failure = failure_of(
        r#"
name = "inline"
description = "A disk-full window after all the traffic."
[workload]
invocations = 100
[run]
duration = "10s"
[[faults]]
kind = "disk_full"
at = "9s"
for = "500ms"
"#,
    );
    let message = failure.to_string();
    assert!(
        message.contains("[faults_fired] fault #0 `disk_full at=9s for=500ms`: never fired"),
        "{message}"
    );
}

#[test]
fn a_partition_no_message_crosses_never_fires() {
    // Servers never message each other, and the client's 100 calls are
    // over long before 9 s; the third partition cuts the client's calls to
    // server-0 from the start. Each partition used to count as fired the
    // moment it began, whatever crossed it.
    let failure = failure_of(
        r#"
name = "inline"
description = "Two partitions no message crosses, and one that cuts calls."
[workload]
invocations = 100
[run]
duration = "10s"
[[faults]]
kind = "network_partition"
from = ["server-0"]
to = ["server-1"]
at = "1s"
for = "1s"
[[faults]]
kind = "network_partition"
from = ["client"]
to = ["server-0", "server-1", "server-2"]
at = "9s"
for = "500ms"
[[faults]]
kind = "network_partition"
from = ["client"]
to = ["server-0"]
for = "500ms"
"#,
    );
    let message = failure.to_string();
    assert!(
        message.contains(
            "[faults_fired] fault #0 `network_partition at=1s for=1s from=[server-0] to=[server-1]`: \
             never fired"
        ),
        "{message}"
    );
    assert!(
        message.contains("[faults_fired] fault #1 `network_partition at=9s for=500ms"),
        "{message}"
    );
    assert!(!message.contains("fault #2"), "{message}");
    assert_eq!(failure.checks(), [Check::FaultsFired], "{message}");
}

#[test]
fn a_crash_whose_event_never_comes_fails_the_seed_instead_of_passing_vacuously() {
    // 100 invocations over three servers: server-2 never accepts a 500th
    // request, and holds none in flight after 9 s.
    let failure = failure_of(
        r#"
name = "inline"
description = "Crashes set off by events that never happen."
[workload]
invocations = 100
[run]
duration = "10s"
[[faults]]
kind = "node_crash"
node = 2
on = "accept"
nth = 500
[[faults]]
kind = "node_crash"
node = 2
on = "in_flight"
at = "9s"
"#,
    );
    let message = failure.to_string();
    for fault in [
        "fault #0 `node_crash node=2 nth=500 on=accept`",
        "fault #1 `node_crash node=2 at=9s on=in_flight`",
    ] {
        assert!(
            message.contains(&format!("[faults_fired] {fault} on server-2: never fired")),
            "{message}"
        );
    }
    assert_eq!(failure.checks(), [Check::FaultsFired], "{message}");
}

#[test]
fn a_fault_entry_is_judged_by_its_own_firings_not_by_another_of_its_kind() {
    // Two packet_loss entries on the same messages: the second fires all
    // the time, the first never can. Matching by kind alone passed this.
    let failure = failure_of(
        r#"
name = "inline"
description = "A loss that can never fire beside one that does."
every_fault_fires = true
[workload]
invocations = 100
[run]
duration = "3s"
[[faults]]
kind = "packet_loss"
probability = 0
[[faults]]
kind = "packet_loss"
probability = 0.05
"#,
    );
    let message = failure.to_string();
    assert!(
        message.contains("[faults_fired] fault #0 `packet_loss probability=0.000`: never fired"),
        "{message}"
    );
    assert!(!message.contains("fault #1"), "{message}");
}

#[test]
fn fault_counts_do_not_stop_at_the_fault_logs_capacity() {
    let scenario = parse(
        r#"
name = "inline"
description = "More losses than the log keeps."
expect = [
  "faults.packet_loss == messages.lost",
  "faults.packet_loss <= 10",
]
[workload]
invocations = 200
[run]
duration = "3s"
[[faults]]
kind = "packet_loss"
probability = 0.2
"#,
    );
    // The log keeps 10 events; the count must still cover every loss.
    let sim = obsim_fixtures::suite()
        .builder(&scenario, REPLAY)
        .fault_log_capacity(10)
        .build(|| obsim_fixtures::ActorSystem::new(obsim_fixtures::ActorConfig::default()))
        .unwrap();
    let message = sim.check_seed(0).failure.expect("seed 0 fails").to_string();
    // Only the claim that the count stops at the cap fails.
    assert!(
        message.contains("[expectation] `faults.packet_loss <= 10`: does not hold"),
        "{message}"
    );
    assert!(
        !message.contains("`faults.packet_loss == messages.lost`"),
        "{message}"
    );
}

#[test]
fn swarm_failure_lists_the_faults_the_seed_drew() {
    let failure = failure_of(
        r#"
name = "inline"
description = "A swarm run with a claim that cannot hold."
swarm = true
expect = ["outcomes.total == 0"]
[workload]
invocations = 100
[run]
duration = "4s"
"#,
    );
    let message = failure.to_string();
    assert!(
        message.contains("faults this seed drew (swarm):\n  "),
        "{message}"
    );
}

#[test]
fn system_setting_out_of_range_names_its_line_and_key() {
    let scenario = parse(
        r#"
name = "inline"
description = "Too many attempts."
[system]
max_attempts = 99
"#,
    );
    let error = obsim_fixtures::suite()
        .sim(&scenario, "cargo test")
        .err()
        .expect("99 attempts are rejected");
    let message = error.to_string();
    assert!(message.starts_with("inline.toml:5:"), "{message}");
    assert!(message.contains("`system.max_attempts`"), "{message}");
    assert!(
        message.contains("expected an integer from 1 to 16"),
        "{message}"
    );
}

#[test]
fn bug_planted_from_a_scenario_file_is_caught() {
    // A scenario can plant a fixture bug; the leak bug needs a crash that
    // cuts an invocation off, which a crash during a transaction always does.
    let failure = failure_of(
        r#"
name = "inline"
description = "Span leak on the error path, planted from a file."
[workload]
invocations = 300
concurrency = 8
think_time = "10ms"
[run]
duration = "3s"
[system]
bugs = ["span_leak_on_error"]
[[faults]]
kind = "storage_write_failure"
node = 0
probability = 0.2
"#,
    );
    let message = failure.to_string();
    assert!(
        message.contains("[span_completion] span `ActorService/Invoke` on server-0"),
        "{message}"
    );
}

/// The expectations that used to read 0 and pass, each now an error that
/// names what can never match: at load time where the file alone says so,
/// at evaluation where only the run can.
#[test]
fn expectations_that_could_only_read_zero_are_errors_not_passes() {
    let file = |expect: &str| {
        format!(
            "name = \"inline\"\ndescription = \"A claim about nothing.\"\nexpect = ['{expect}']\n\
             [workload]\ninvocations = 50\n[run]\nduration = \"2s\"\n"
        )
    };
    let at_load = [
        (r#"spans{kind="sevrer"} == 0"#, "`kind` is never \"sevrer\""),
        (
            r#"scrapes{node="server-99"} == 0"#,
            "node \"server-99\" is not in this topology",
        ),
        (
            r#"storage.ok{operation="write"} == 0"#,
            "`operation` is never \"write\"",
        ),
    ];
    for (expect, needle) in at_load {
        let error = Scenario::parse(
            Path::new("inline.toml"),
            &file(expect),
            &Check::invariant_names(),
        )
        .expect_err(expect)
        .to_string();
        assert!(error.contains(needle), "{expect}: {error}");
    }
    let at_evaluation = [
        (
            r#"final(storage_operations_total{oeration="put"}) == 0"#,
            "no sample of `storage_operations_total` in this run has a label `oeration`",
        ),
        (
            r#"final(storage_operations_total{status="eror"}) == 0"#,
            "no sample of `storage_operations_total` in this run has status=\"eror\"",
        ),
        (
            "outcomes.bananas == 0",
            "outcomes.bananas was never recorded in this run and the contract does not declare it",
        ),
        (
            r#"spans{name="actor.cal"} == 0"#,
            "no span named \"actor.cal\" in this run",
        ),
        (
            r#"messages.sent{message="invok"} == 0"#,
            "no message type \"invok\" in this run",
        ),
        (
            r#"requests.ok{method="Invok"} == 0"#,
            "no requests in this run had method=\"Invok\"",
        ),
        (
            "requests.teapot == 0",
            "no requests in this run had status \"teapot\"",
        ),
        (
            "calls.timout == 0",
            "no calls in this run had outcome \"timout\"",
        ),
        (
            r#"attempts.total{operation="launch"} == 0"#,
            "no attempts in this run had operation=\"launch\"",
        ),
        (
            r#"dependencies.failed{dependency="s4"} == 0"#,
            "no dependency calls in this run had dependency=\"s4\"",
        ),
    ];
    for (expect, needle) in at_evaluation {
        let message = failure_of(&file(expect)).to_string();
        assert!(message.contains(needle), "{expect}: {message}");
        assert!(
            message.contains("cannot be evaluated"),
            "{expect}: {message}"
        );
    }
    // A declared status the run never recorded reads 0, as it should.
    let sim = obsim_fixtures::suite()
        .sim(&parse(&file("outcomes.timeout == 0")), REPLAY)
        .unwrap();
    assert!(sim.check_seed(0).failure.is_none());
}

#[test]
fn a_workload_operation_the_system_does_not_serve_is_an_error_at_its_line() {
    let text = "name = \"inline\"\ndescription = \"Calls nobody serves.\"\n[workload]\n\
                operations = { get = 1, launch_missiles = 1 }\n";
    let error = obsim_fixtures::suite()
        .sim(&parse(text), REPLAY)
        .err()
        .expect("an operation the actors do not serve is refused")
        .to_string();
    assert!(error.starts_with("inline.toml:4:25: "), "{error}");
    assert!(
        error.contains(
            "`workload.operations.launch_missiles`: the system does not serve \"launch_missiles\": \
             every call of it would fail. Expected one of get, increment, describe"
        ),
        "{error}"
    );
}

#[test]
fn a_fault_aimed_at_a_dependency_the_system_never_calls_is_an_error_at_its_line() {
    let text = "name = \"inline\"\ndescription = \"A provider nobody calls.\"\n\
                [[faults]]\nkind = \"dependency_failure\"\ndependency = \"s3\"\n";
    let error = obsim_fixtures::suite()
        .sim(&parse(text), REPLAY)
        .err()
        .expect("a dependency the actors never call is refused")
        .to_string();
    assert!(error.starts_with("inline.toml:5:1: "), "{error}");
    assert!(
        error.contains(
            "`faults[0].dependency`: the system calls no dependency \"s3\": this fault could \
             never fire. It declares llm"
        ),
        "{error}"
    );
    let text = text.replace("\"s3\"", "\"llm\"\noperation = \"embed\"");
    let error = obsim_fixtures::suite()
        .sim(&parse(&text), REPLAY)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("`faults[0].operation`: the system calls no dependency operation \"embed\""),
        "{error}"
    );
    assert!(error.contains("Expected one of chat"), "{error}");
}
