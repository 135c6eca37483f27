//! Loader tests: defaults, a round trip of every field, and each class of
//! error with the exact line, column and field it must report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use obsim_faults::{Effect, Fault, FaultKind, Partition, Trigger};

use crate::*;

const CHECKS: &[&str] = &[
    "counter_monotonicity",
    "span_completion",
    "seed_determinism",
];

/// The two required fields: lines 1 and 2 of every error case below.
const HEAD: &str = "name = \"t\"\ndescription = \"d\"\n";

fn parse(text: &str) -> Scenario {
    Scenario::parse(Path::new("t.toml"), text, CHECKS).unwrap_or_else(|error| panic!("{error}"))
}

fn error(text: &str) -> ScenarioError {
    match Scenario::parse(Path::new("t.toml"), text, CHECKS) {
        Ok(scenario) => panic!("expected an error, got {scenario:#?}"),
        Err(error) => error,
    }
}

/// Asserts where an error is and that its message contains `needle`.
#[track_caller]
fn assert_error(text: &str, line: usize, column: usize, field: &str, needle: &str) {
    let error = error(text);
    let found = (error.line, error.column, error.field.as_deref());
    assert_eq!(found, (Some(line), Some(column), Some(field)), "{error}");
    assert!(error.message.contains(needle), "{needle:?} not in: {error}");
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn secs(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// A file's own `[seeds]` win over the sweep command's default: `sweep`
/// if it says so, else its `count` (a shrunk `minimal.toml` pins one
/// seed), else 100. Seen failing before the fix: `count = 1` swept 100.
#[test]
fn a_file_that_sets_count_and_not_sweep_sweeps_count_seeds() {
    let seeds = |table: &str| parse(&format!("{HEAD}[seeds]\n{table}\n")).seeds;
    assert_eq!((seeds("count = 1").count, seeds("count = 1").sweep), (1, 1));
    assert_eq!(seeds("count = 3\nsweep = 40").sweep, 40);
    assert_eq!(seeds("sweep = 7").count, 16);
    assert_eq!(seeds("start = 5").sweep, SWEEP_SEEDS_DEFAULT);
}

#[test]
fn minimal_file_gets_every_default() {
    let scenario = parse("name = \"minimal\"\ndescription = \"Only what is required.\"\n");
    assert_eq!(scenario.path, PathBuf::from("t.toml"));
    assert_eq!(scenario.name, "minimal");
    assert_eq!(scenario.description, "Only what is required.");
    assert_eq!((scenario.servers, scenario.workload.keys), (3, 64));
    assert_eq!(scenario.workload, WorkloadSpec::default());
    assert_eq!(scenario.workload.invocations, 1000);
    assert_eq!(scenario.workload.concurrency, 8);
    assert_eq!(scenario.workload.think_time, Duration::ZERO);
    assert_eq!(
        scenario.workload.operations,
        vec![("get".into(), 1), ("increment".into(), 3)]
    );
    let run = &scenario.run;
    assert_eq!(
        (run.duration, run.time_limit, run.drain),
        (secs(10), secs(600), secs(5))
    );
    assert_eq!(
        (run.scrape_interval, run.scrape_timeout),
        (secs(1), ms(500))
    );
    assert_eq!(run.message_limit, 1_000_000);
    assert_eq!(
        scenario.seeds,
        SeedSpec {
            start: 0,
            count: 16,
            sweep: 100
        }
    );
    assert_eq!(scenario.checks, CHECKS);
    assert!(scenario.faults.is_empty() && scenario.expectations.is_empty());
    assert_eq!(scenario.swarm, None);
    assert!(scenario.every_fault_fires);
    assert!(scenario.system_config::<toml::Table>().unwrap().is_empty());
}

const FULL: &str = r#"name = "full_example-1"
description = "Every field, set."
checks = ["span_completion", "counter_monotonicity"]
every_fault_fires = true
expect = [
  "faults.storage_write_failure >= 1",
  "outcomes.ok + outcomes.error <= outcomes.total",
]

[topology]
servers = 4

[workload]
keys = 10
invocations = 500
concurrency = 16
think_time = "10ms"
operations = { increment = 3, get = 1, put = 0 }

[run]
duration = "20s"
time_limit = "120s"
drain = "2s"
scrape_interval = "2s"
scrape_timeout = "1.5s"
message_limit = 5000

[seeds]
count = 4
start = 100

[system]
max_attempts = 3
request_timeout = "1s"
ratio = 0.5
verbose = true
tags = ["a", 1, [false]]

[[faults]]
kind = "storage_write_failure"
node = 1
probability = 0.1
at = "2s"
for = "1s"

[[faults]]
kind = "storage_latency"
operation = "put"
min = "5ms"
max = "50ms"

[[faults]]
kind = "network_delay"
latency = "20ms"
probability = 1

[[faults]]
kind = "node_crash"
node = 2
at = "3s"
restart_after = "2s"

[[faults]]
kind = "crash_during_transaction"
node = 0
probability = 0.5
restart_after = "1s"

[[faults]]
kind = "node_pause"
node = 1
at = "5s"
for = "1s"

[[faults]]
kind = "network_partition"
from = ["server-0"]
to = ["server-1", "client"]
one_way = true
at = "6s"
for = "2s"

[[faults]]
kind = "handler_panic"
operation = "increment"
probability = 0.01

[[faults]]
kind = "disk_full"
node = 3
at = "1s"
for = "1s"

[[faults]]
kind = "packet_loss"
probability = 0.05

[[faults]]
kind = "message_duplication"
probability = 0

[[faults]]
kind = "storage_read_failure"

[[faults]]
kind = "dependency_failure"
node = 2
dependency = "llm"
operation = "complete"
probability = 0.3
"#;

#[test]
fn every_field_round_trips() {
    let scenario = parse(FULL);
    assert_eq!(scenario.name, "full_example-1");
    assert_eq!(scenario.checks, ["span_completion", "counter_monotonicity"]);
    assert_eq!((scenario.servers, scenario.workload.keys), (4, 10));
    let operations = vec![
        ("get".into(), 1),
        ("increment".into(), 3),
        ("put".into(), 0),
    ];
    let workload = WorkloadSpec {
        invocations: 500,
        keys: 10,
        concurrency: 16,
        think_time: ms(10),
        operations,
    };
    assert_eq!(scenario.workload, workload);
    let run = RunSpec {
        duration: secs(20),
        time_limit: secs(120),
        drain: secs(2),
        scrape_interval: secs(2),
        scrape_timeout: ms(1500),
        message_limit: 5000,
        span_limit: 2_000_000,
        scrape_limit: 100_000,
        log_limit: 2_000_000,
        wall_limit: Duration::from_secs(300),
    };
    assert_eq!(scenario.run, run);
    assert_eq!(
        scenario.seeds,
        SeedSpec {
            start: 100,
            count: 4,
            // No `sweep`: the file's own `count` is its sweep too.
            sweep: 4
        }
    );
    let texts: Vec<String> = scenario
        .expectations
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        texts,
        [
            "faults.storage_write_failure >= 1",
            "outcomes.ok + outcomes.error <= outcomes.total"
        ]
    );
    assert_eq!(scenario.faults, full_faults());
    assert_eq!(scenario.swarm, None);
    assert!(scenario.every_fault_fires);
}

fn full_faults() -> Vec<Fault> {
    let range = |min, max| (ms(min), ms(max));
    let (min, max) = range(5, 50);
    let (delay_min, delay_max) = range(20, 20);
    let partition = Partition {
        from: vec!["server-0".into()],
        to: vec!["server-1".into(), "client".into()],
        one_way: true,
    };
    vec![
        Fault::new(Effect::StorageWriteFailure)
            .on_node(1)
            .with_probability(0.1)
            .at(secs(2))
            .lasting(secs(1)),
        Fault::new(Effect::StorageLatency { min, max }).on_operation("put"),
        Fault::new(Effect::NetworkDelay {
            min: delay_min,
            max: delay_max,
        })
        .with_probability(1.0),
        Fault::new(Effect::NodeCrash {
            restart_after: Some(secs(2)),
        })
        .on_node(2)
        .at(secs(3)),
        Fault::new(Effect::CrashDuringTransaction {
            restart_after: Some(secs(1)),
        })
        .on_node(0)
        .with_probability(0.5),
        Fault::new(Effect::NodePause)
            .on_node(1)
            .at(secs(5))
            .lasting(secs(1)),
        Fault::new(Effect::NetworkPartition(partition))
            .at(secs(6))
            .lasting(secs(2)),
        Fault::new(Effect::HandlerPanic)
            .on_operation("increment")
            .with_probability(0.01),
        Fault::new(Effect::DiskFull)
            .on_node(3)
            .at(secs(1))
            .lasting(secs(1)),
        Fault::new(Effect::PacketLoss).with_probability(0.05),
        Fault::new(Effect::MessageDuplication).with_probability(0.0),
        Fault::new(Effect::StorageReadFailure),
        Fault::new(Effect::DependencyFailure)
            .on_node(2)
            .on_dependency("llm")
            .on_operation("complete")
            .with_probability(0.3),
    ]
}

/// A system's own settings type, as a user would write it: no
/// `deny_unknown_fields`, so obsim must catch unknown keys itself.
#[derive(serde::Deserialize, Debug, PartialEq, Default)]
#[serde(default)]
struct Settings {
    max_attempts: u32,
    request_timeout: String,
    ratio: f64,
    verbose: bool,
    tags: Vec<toml::Value>,
}

#[test]
fn system_table_reads_into_the_systems_own_type() {
    let scenario = parse(FULL);
    let settings: Settings = scenario.system_config().unwrap();
    assert_eq!(settings.max_attempts, 3);
    assert_eq!(settings.request_timeout, "1s");
    assert_eq!(settings.ratio, 0.5);
    assert!(settings.verbose);
    assert_eq!(settings.tags.len(), 3);
    let bare = parse(HEAD);
    assert_eq!(
        bare.system_config::<Settings>().unwrap(),
        Settings::default()
    );
}

#[test]
fn system_type_errors_name_line_column_and_field() {
    let scenario = parse(&FULL.replace("max_attempts = 3", "max_attempts = \"three\""));
    let error = scenario.system_config::<Settings>().unwrap_err();
    assert_eq!(
        (error.line, error.column, error.field.as_deref()),
        (Some(33), Some(16), Some("system.max_attempts")),
        "{error}"
    );
    assert!(error.message.contains("invalid type"), "{error}");
}

#[test]
fn unknown_system_keys_are_errors_that_list_the_known_ones() {
    let scenario = parse(&format!("{HEAD}[system]\nmax_atempts = 3\n"));
    let error = scenario.system_config::<Settings>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "t.toml:4:1: `system.max_atempts`: unknown setting of the system under test: expected one of max_attempts, ratio, request_timeout, tags, verbose"
    );
}

#[test]
fn a_bug_switch_listed_twice_is_refused_at_its_line() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Bugs {
        #[serde(deserialize_with = "crate::de::unique")]
        bugs: std::collections::BTreeSet<String>,
    }
    let scenario = parse(&format!("{HEAD}[system]\nbugs = [\"a\", \"b\", \"a\"]\n"));
    let error = scenario.system_config::<Bugs>().unwrap_err();
    assert_eq!(
        (error.line, error.field.as_deref()),
        (Some(4), Some("system.bugs")),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("entry [2] repeats entry [0]: list each value once"),
        "{error}"
    );
    let scenario = parse(&format!("{HEAD}[system]\nbugs = [\"a\", \"b\"]\n"));
    assert_eq!(scenario.system_config::<Bugs>().unwrap().bugs.len(), 2);
}

#[test]
fn a_system_setting_of_the_wrong_integer_type_is_worded_as_the_file_wrote_it() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Ports {
        port: u16,
    }
    let scenario = parse(&format!("{HEAD}[system]\nport = -1\n"));
    let error = scenario.system_config::<Ports>().unwrap_err();
    assert_eq!(error.field.as_deref(), Some("system.port"), "{error}");
    assert!(
        error
            .message
            .contains("expected an integer from 0 to 65535"),
        "{error}"
    );
    assert!(!error.message.contains("u16"), "{error}");
}

#[test]
fn a_required_system_setting_missing_names_it() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Needs {
        endpoint: String,
    }
    let error = parse(HEAD).system_config::<Needs>().unwrap_err();
    assert_eq!(error.field.as_deref(), Some("system.endpoint"), "{error}");
    let error = parse(&format!("{HEAD}[system]\nother = 1\n"))
        .system_config::<Needs>()
        .unwrap_err();
    assert!(error.to_string().contains("endpoint"), "{error}");
}

#[test]
fn swarm_draws_from_every_drawable_kind_or_the_listed_ones() {
    let all = parse(&format!("{HEAD}swarm = true\nevery_fault_fires = false\n"));
    let drawable: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .filter(|k| k.requestable() && !k.is_dependency())
        .collect();
    assert_eq!(all.swarm, Some(drawable));
    assert!(!all.every_fault_fires && all.faults.is_empty());
    let some = parse(&format!(
        "{HEAD}swarm = true\nswarm_kinds = [\"packet_loss\", \"node_pause\"]\n"
    ));
    assert_eq!(
        some.swarm,
        Some(vec![FaultKind::PacketLoss, FaultKind::NodePause])
    );
    let off = parse(&format!("{HEAD}swarm = false\n"));
    assert_eq!(off.swarm, None);
}

#[test]
fn an_expectation_can_stand_in_for_every_fault_fires() {
    let text = format!(
        "{HEAD}every_fault_fires = false\nexpect = [\"faults.packet_loss >= 1\"]\n[[faults]]\nkind = \"packet_loss\"\n"
    );
    let scenario = parse(&text);
    assert!(!scenario.every_fault_fires);
    assert_eq!(scenario.faults.len(), 1);
}

#[test]
fn unknown_fields_are_rejected_with_the_allowed_ones() {
    assert_error(
        &format!("{HEAD}colour = 1\n"),
        3,
        1,
        "colour",
        "unknown field `colour`, expected one of `name`",
    );
    let fault = format!("{HEAD}[[faults]]\nkind = \"packet_loss\"\nprobabilty = 0.1\n");
    assert_error(
        &fault,
        5,
        1,
        "faults[0].probabilty",
        "expected one of `kind`, `node`",
    );
    assert_error(
        &format!("{HEAD}[run]\nlength = \"1s\"\n"),
        4,
        1,
        "run.length",
        "`duration`, `time_limit`",
    );
    assert_error(
        &format!("{HEAD}[topology]\nnodes = 3\n"),
        4,
        1,
        "topology.nodes",
        "expected `servers`",
    );
}

#[test]
fn missing_and_mistyped_required_fields() {
    assert_error(
        "description = \"d\"\n",
        1,
        1,
        "name",
        "missing field `name`",
    );
    assert_error(
        "name = \"t\"\n",
        1,
        1,
        "description",
        "missing field `description`",
    );
    assert_error(
        &format!("{HEAD}[[faults]]\nnode = 1\n"),
        3,
        1,
        "faults[0].kind",
        "missing field `kind`",
    );
    assert_error(
        "name = 7\ndescription = \"d\"\n",
        1,
        8,
        "name",
        "expected a string",
    );
    assert_error(
        "name = \"Big Name\"\ndescription = \"d\"\n",
        1,
        8,
        "name",
        "^[a-z0-9][a-z0-9_-]*$",
    );
    assert_error(
        "name = \"t\"\ndescription = \" \"\n",
        2,
        15,
        "description",
        "expected a sentence",
    );
}

#[test]
fn unknown_and_unrequestable_kinds_list_the_known_ones() {
    let text = format!("{HEAD}[[faults]]\nkind = \"disk_on_fire\"\n");
    assert_error(
        &text,
        4,
        8,
        "faults[0].kind",
        "expected one of storage_write_failure, storage_read_failure",
    );
    assert!(error(&text).message.contains("message_duplication"));
    let logged = format!("{HEAD}[[faults]]\nkind = \"node_restart\"\n");
    assert_error(&logged, 4, 8, "faults[0].kind", "only logged");
}

#[test]
fn probabilities_are_numbers_in_the_unit_interval() {
    let fault =
        |value: &str| format!("{HEAD}[[faults]]\nkind = \"packet_loss\"\nprobability = {value}\n");
    assert_error(
        &fault("1.5"),
        5,
        15,
        "faults[0].probability",
        "expected a number in [0, 1]",
    );
    assert_error(
        &fault("-1"),
        5,
        15,
        "faults[0].probability",
        "expected a number in [0, 1]",
    );
    assert_error(
        &fault("nan"),
        5,
        15,
        "faults[0].probability",
        "not a probability",
    );
    assert_error(
        &fault("\"high\""),
        5,
        15,
        "faults[0].probability",
        "expected a probability",
    );
    assert!(parse(&fault("1")).faults[0].probability == Some(1.0));
}

#[test]
fn durations_are_checked_where_they_are_written() {
    let fault = |fields: &str| format!("{HEAD}[[faults]]\nkind = \"disk_full\"\n{fields}\n");
    assert_error(
        &fault("for = \"0s\""),
        5,
        7,
        "faults[0].for",
        "expected a duration > 0",
    );
    assert_error(&fault("at = \"-1s\""), 5, 6, "faults[0].at", "is negative");
    assert_error(&fault("at = \"1\""), 5, 6, "faults[0].at", "has no unit");
    assert_error(
        &fault("at = \"1d\""),
        5,
        6,
        "faults[0].at",
        "unknown unit \"d\"",
    );
    assert_error(
        &fault("at = 1"),
        5,
        6,
        "faults[0].at",
        "expected a duration string such as \"250ms\"",
    );
    let run = |line: &str| format!("{HEAD}[run]\n{line}\n");
    assert_error(
        &run("duration = \"0s\""),
        4,
        12,
        "run.duration",
        "expected a duration > 0",
    );
    assert_error(
        &run("duration = \"NaNs\""),
        4,
        12,
        "run.duration",
        "does not start with a number",
    );
    assert_error(
        &run("scrape_interval = \"0ms\""),
        4,
        19,
        "run.scrape_interval",
        "> 0",
    );
    assert_error(
        &run("scrape_timeout = \"1s\""),
        4,
        18,
        "run.scrape_timeout",
        "shorter than run.scrape_interval",
    );
    assert_error(
        &run("duration = \"600s\""),
        4,
        12,
        "run.duration",
        "longer than run.duration",
    );
    assert_error(
        &run("time_limit = \"5s\""),
        4,
        14,
        "run.time_limit",
        "longer than run.duration",
    );
    assert_error(&run("drain = \"2000000h\""), 4, 9, "run.drain", "too long");
}

#[test]
fn counts_are_range_checked() {
    let table = |table: &str, line: &str| format!("{HEAD}[{table}]\n{line}\n");
    assert_error(
        &table("topology", "servers = 0"),
        4,
        11,
        "topology.servers",
        "expected an integer in 1..=200",
    );
    assert_error(
        &table("topology", "servers = 201"),
        4,
        11,
        "topology.servers",
        "1..=200",
    );
    assert_error(
        &table("workload", "keys = -5"),
        4,
        8,
        "workload.keys",
        "expected an integer >= 1",
    );
    let concurrency = table("workload", "concurrency = \"many\"");
    assert_error(
        &concurrency,
        4,
        15,
        "workload.concurrency",
        "expected an integer",
    );
    assert_error(
        &table("workload", "concurrency = 0"),
        4,
        15,
        "workload.concurrency",
        "1..=10000",
    );
    assert_error(
        &table("workload", "invocations = 100001"),
        4,
        15,
        "workload.invocations",
        "1..=100000",
    );
    assert_error(
        &table("seeds", "count = 0"),
        4,
        9,
        "seeds.count",
        "in 1..=1000000",
    );
    assert_error(
        &table("seeds", "count = 1000001"),
        4,
        9,
        "seeds.count",
        "in 1..=1000000",
    );
    assert_error(&table("seeds", "start = -1"), 4, 9, "seeds.start", ">= 0");
    assert_error(
        &table("seeds", "sweep = 0"),
        4,
        9,
        "seeds.sweep",
        "in 1..=1000000",
    );
    assert_error(
        &table("seeds", "sweep = 1000001"),
        4,
        9,
        "seeds.sweep",
        "in 1..=1000000",
    );
    assert_error(
        &table("run", "message_limit = 0"),
        4,
        17,
        "run.message_limit",
        "in 1..=100000000",
    );
    assert_error(
        &table("run", "span_limit = 20000001"),
        4,
        14,
        "run.span_limit",
        "in 1..=20000000",
    );
    assert_error(
        &table("run", "scrape_limit = 1000001"),
        4,
        16,
        "run.scrape_limit",
        "in 1..=1000000",
    );
    assert_error(
        &table("run", "wall_limit = \"25h\""),
        4,
        14,
        "run.wall_limit",
        "is longer than 24h, the most real time one run may take",
    );
    assert_error(
        &table("lint", "label_values_max = 0"),
        4,
        20,
        "lint.label_values_max",
        ">= 1",
    );
    let operations = |ops: &str| table("workload", &format!("operations = {ops}"));
    assert_error(
        &operations("{ get = 0 }"),
        4,
        14,
        "workload.operations",
        "weight > 0",
    );
    assert_error(
        &operations("{ get = -1 }"),
        4,
        22,
        "workload.operations.get",
        "expected a weight in 0..=",
    );
    assert_error(
        &operations("[\"get\"]"),
        4,
        14,
        "workload.operations",
        "expected a table",
    );
}

#[test]
fn faults_are_checked_against_the_topology_and_the_run() {
    let crash = |fields: &str| format!("{HEAD}[[faults]]\nkind = \"node_crash\"\n{fields}\n");
    assert_error(
        &crash("node = 3\nat = \"1s\""),
        5,
        8,
        "faults[0].node",
        "past the topology: expected 0..3",
    );
    assert_error(
        &crash("node = -1\nat = \"1s\""),
        5,
        8,
        "faults[0].node",
        "expected a server index >= 0",
    );
    assert_error(
        &crash("node = 0\nat = \"10s\""),
        6,
        6,
        "faults[0].at",
        "at or after the end of the run",
    );
    assert_error(
        &crash("node = 0"),
        4,
        8,
        "faults[0].at",
        "node_crash needs `at`",
    );
    assert_error(
        &crash("at = \"1s\""),
        4,
        8,
        "faults[0].node",
        "needs the server it hits",
    );
    let late = crash("node = 0\nat = \"9s\"\nrestart_after = \"2s\"");
    assert_error(
        &late,
        7,
        17,
        "faults[0].restart_after",
        "after the run ends",
    );
    let panic = format!("{HEAD}[[faults]]\nkind = \"handler_panic\"\noperation = \"delete\"\n");
    assert_error(
        &panic,
        5,
        13,
        "faults[0].operation",
        "expected one of get, increment",
    );
}

#[test]
fn kind_specific_fields_only_go_with_their_kinds() {
    let fault =
        |kind: &str, fields: &str| format!("{HEAD}[[faults]]\nkind = \"{kind}\"\n{fields}\n");
    let min = fault("packet_loss", "min = \"5ms\"");
    assert_error(
        &min,
        5,
        7,
        "faults[0].min",
        "`min` does not apply to packet_loss",
    );
    let restart = fault("disk_full", "restart_after = \"1s\"");
    assert_error(
        &restart,
        5,
        17,
        "faults[0].restart_after",
        "does not apply to disk_full",
    );
    let one_way = fault("node_pause", "one_way = true");
    assert_error(
        &one_way,
        5,
        11,
        "faults[0].one_way",
        "only to network_partition",
    );
    let both = fault("storage_latency", "latency = \"1ms\"\nmax = \"2ms\"");
    assert_error(
        &both,
        6,
        7,
        "faults[0].max",
        "either `latency` or `min` and `max`",
    );
    let neither = fault("network_delay", "probability = 0.5");
    assert_error(&neither, 4, 8, "faults[0].min", "needs `min` and `max`");
    let half = fault("network_delay", "min = \"1ms\"");
    assert_error(&half, 4, 8, "faults[0].max", "needs `max` too");
    let inverted = fault("network_delay", "min = \"9ms\"\nmax = \"1ms\"");
    assert_error(&inverted, 5, 7, "faults[0].min", "above max");
}

#[test]
fn dependency_faults_parse_into_their_fault() {
    let text = format!(
        r#"{HEAD}
[[faults]]
kind = "dependency_failure"
dependency = "llm"
operation = "complete"
node = 0
probability = 0.3
at = "1s"
for = "2s"

[[faults]]
kind = "dependency_latency"
min = "5ms"
max = "50ms"

[[faults]]
kind = "dependency_latency"
dependency = "s3"
operation = "put"
latency = "20ms"
"#
    );
    let expected = vec![
        Fault::new(Effect::DependencyFailure)
            .on_dependency("llm")
            .on_operation("complete")
            .on_node(0)
            .with_probability(0.3)
            .at(secs(1))
            .lasting(secs(2)),
        // Without `dependency`, every dependency.
        Fault::new(Effect::DependencyLatency {
            min: ms(5),
            max: ms(50),
        }),
        Fault::new(Effect::DependencyLatency {
            min: ms(20),
            max: ms(20),
        })
        .on_dependency("s3")
        .on_operation("put"),
    ];
    assert_eq!(parse(&text).faults, expected);
}

#[test]
fn dependency_only_goes_with_dependency_kinds() {
    let fault =
        |kind: &str, fields: &str| format!("{HEAD}[[faults]]\nkind = \"{kind}\"\n{fields}\n");
    let storage = fault("storage_write_failure", "dependency = \"s3\"");
    assert_error(
        &storage,
        5,
        14,
        "faults[0].dependency",
        "`dependency` does not apply to storage_write_failure: only to dependency_failure and dependency_latency",
    );
    let unnamed = fault("dependency_failure", "node = 1\ndependency = \"\"");
    assert_error(&unnamed, 6, 14, "faults[0].dependency", "expected the name");
    let no_latency = fault("dependency_latency", "dependency = \"llm\"");
    assert_error(
        &no_latency,
        4,
        8,
        "faults[0].min",
        "dependency_latency needs `min` and `max` (a range to draw from) or `latency`",
    );
    let latency = fault("dependency_failure", "latency = \"1ms\"");
    assert_error(
        &latency,
        5,
        11,
        "faults[0].latency",
        "only to storage_latency, network_delay and dependency_latency",
    );
    let inverted = fault("dependency_latency", "min = \"9ms\"\nmax = \"1ms\"");
    assert_error(&inverted, 5, 7, "faults[0].min", "above max");
}

#[test]
fn socket_faults_name_the_field_netsim_cannot_honour() {
    let fault =
        |kind: &str, fields: &str| format!("{HEAD}[[faults]]\nkind = \"{kind}\"\n{fields}\n");
    let unknown = fault("packet_loss", "transport = \"tcp\"");
    assert_error(
        &unknown,
        5,
        13,
        "faults[0].transport",
        "expected \"messages\" (obsim's typed messages, the default) or \"sockets\"",
    );
    let aimed = fault(
        "packet_loss",
        "transport = \"sockets\"\nprobability = 0.1\nnode = 0",
    );
    assert_error(&aimed, 7, 8, "faults[0].node", "network-wide");
    let no_rate = fault("packet_loss", "transport = \"sockets\"");
    assert_error(
        &no_rate,
        4,
        8,
        "faults[0].probability",
        "NetSim's loss rate",
    );
    let partition = fault(
        "network_partition",
        "at = \"1s\"\nfrom = [\"client\"]\ntransport = \"sockets\"",
    );
    assert_error(
        &partition,
        7,
        13,
        "faults[0].transport",
        "cuts madsim's sockets and obsim's messages alike",
    );
    let fine = fault(
        "network_delay",
        "transport = \"sockets\"\nlatency = \"20ms\"",
    );
    let scenario = parse(&fine);
    assert_eq!(
        scenario.faults[0].transport,
        obsim_faults::Transport::Sockets
    );
}

#[test]
fn partitions_name_known_nodes() {
    let partition = |fields: &str| {
        format!("{HEAD}[[faults]]\nkind = \"network_partition\"\nat = \"1s\"\n{fields}\n")
    };
    let unknown = partition("from = [\"server-0\"]\nto = [\"client\", \"server-9\"]");
    assert_error(
        &unknown,
        7,
        17,
        "faults[0].to",
        "unknown node \"server-9\": expected one of server-0",
    );
    assert_error(
        &partition("to = [\"client\"]"),
        4,
        8,
        "faults[0].from",
        "needs `from`",
    );
    assert_error(
        &partition("from = []"),
        6,
        8,
        "faults[0].from",
        "at least one node name",
    );
    let node = partition("from = [\"client\"]\nnode = 1");
    assert_error(&node, 7, 8, "faults[0].node", "not `node`");
}

#[test]
fn swarm_and_fixed_faults_do_not_mix() {
    let both = format!("{HEAD}swarm = true\n[[faults]]\nkind = \"packet_loss\"\n");
    assert_error(&both, 4, 1, "faults", "[[faults]] must be absent");
    let kinds_alone = format!("{HEAD}swarm_kinds = [\"packet_loss\"]\n");
    assert_error(
        &kinds_alone,
        3,
        15,
        "swarm_kinds",
        "only applies with swarm = true",
    );
    let logged = format!("{HEAD}swarm = true\nswarm_kinds = [\"packet_loss\", \"network_heal\"]\n");
    assert_error(&logged, 4, 31, "swarm_kinds[1]", "only logged");
    let unknown = format!("{HEAD}swarm = true\nswarm_kinds = [\"gremlins\"]\n");
    assert_error(
        &unknown,
        4,
        16,
        "swarm_kinds[0]",
        "expected one of storage_write_failure",
    );
    let twice = format!("{HEAD}swarm = true\nswarm_kinds = [\"disk_full\", \"disk_full\"]\n");
    assert_error(&twice, 4, 29, "swarm_kinds[1]", "listed twice");
    let dependency = format!("{HEAD}swarm = true\nswarm_kinds = [\"dependency_latency\"]\n");
    assert_error(
        &dependency,
        4,
        16,
        "swarm_kinds[0]",
        "the swarm cannot draw dependency_latency",
    );
    assert!(!error(&unknown).message.contains("dependency_failure"));
}

#[test]
fn faults_must_be_shown_to_fire() {
    let text = format!("{HEAD}every_fault_fires = false\n[[faults]]\nkind = \"packet_loss\"\n");
    assert_error(
        &text,
        3,
        21,
        "every_fault_fires",
        "keep every_fault_fires or add an expectation",
    );
}

#[test]
fn checks_are_known_names_listed_once() {
    assert_error(
        &format!("{HEAD}checks = [\"span_completion\", \"vibes\"]\n"),
        3,
        30,
        "checks[1]",
        "expected one of counter_monotonicity, span_completion, seed_determinism",
    );
    assert_error(
        &format!("{HEAD}checks = [\"span_completion\", \"span_completion\"]\n"),
        3,
        30,
        "checks[1]",
        "listed twice",
    );
    assert_error(
        &format!("{HEAD}checks = []\n"),
        3,
        10,
        "checks",
        "at least one check",
    );
}

#[test]
fn bad_expectations_point_inside_the_string() {
    let text = format!("{HEAD}expect = [\"outcomes.ok >= 1\", \"faults.disk_on_fire > 1\"]\n");
    assert_error(
        &text,
        3,
        39,
        "expect[1]",
        "unknown fault kind `disk_on_fire`",
    );
    let escaped = format!("{HEAD}expect = [\"spans{{name=\\\"a\\\"}} >\"]\n");
    assert_error(&escaped, 3, 11, "expect[0]", "expected a number or one of");
    let multi = format!(
        "{HEAD}expect = [\n  \"outcomes.ok >= 1\",\n  \"spans{{nme=\\\"x\\\"}} > 0\",\n]\n"
    );
    assert_error(&multi, 5, 3, "expect[1]", "one of name, kind, status");
    let literal = format!("{HEAD}expect = ['spans{{nme=\"x\"}} > 0']\n");
    assert_error(&literal, 3, 18, "expect[0]", "one of name, kind, status");
}

#[test]
fn system_must_be_a_table() {
    let text = format!("{HEAD}system = 3\n");
    assert_error(&text, 3, 10, "system", "expected a table");
}

#[test]
fn syntax_errors_still_have_a_place() {
    let header = error(&format!("{HEAD}[[faults]\nkind = 'x'\n"));
    assert_eq!(
        (header.line, header.column),
        (Some(3), Some(10)),
        "{header}"
    );
    let string = error(&format!("{HEAD}[run]\nduration = \"1s\n"));
    assert_eq!(string.line, Some(4), "{string}");
    assert_eq!(string.field.as_deref(), Some("run.duration"), "{string}");
    let duplicate = format!("{HEAD}[run]\nduration = \"1s\"\nduration = \"2s\"\n");
    assert_error(&duplicate, 5, 1, "run.duration", "duplicate key");
}

#[test]
fn errors_display_as_path_line_column_field_message() {
    let error = error(&format!("{HEAD}[workload]\nconcurrency = 0\n"));
    assert_eq!(
        error.to_string(),
        "t.toml:4:15: `workload.concurrency`: 0 is out of range: expected an integer in 1..=10000"
    );
}

/// A unique folder under the system's temp dir, removed when dropped.
/// A folder of its own under the system's temporary directory, removed
/// when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "obsim-scenario-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn discover_finds_toml_files_recursively_sorted() {
    let temp = TempDir::new("discover");
    let files = [
        "b.toml",
        "a.toml",
        "nested/deeper/c.toml",
        "nested/a.toml",
        "README.md",
        "x.toml.bak",
    ];
    for file in files {
        let path = temp.0.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, HEAD).unwrap();
    }
    std::fs::create_dir_all(temp.0.join("empty.toml")).unwrap();
    let found = discover(&temp.0).unwrap();
    let relative: Vec<String> = found
        .iter()
        .map(|path| {
            path.strip_prefix(&temp.0)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        relative,
        ["a.toml", "b.toml", "nested/a.toml", "nested/deeper/c.toml"]
    );
    assert!(discover(&temp.0.join("missing")).is_err());
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let temp = TempDir::new("load");
    let path = temp.0.join("ok.toml");
    std::fs::write(&path, HEAD).unwrap();
    let scenario = Scenario::load(&path, CHECKS).unwrap();
    assert_eq!(scenario.path, path);
    let missing = Scenario::load(&temp.0.join("nope.toml"), CHECKS).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("nope.toml: the scenario file cannot be read: "),
        "{missing}"
    );
    assert_eq!(scenario.source, HEAD);
}

#[test]
fn unknown_keys_read_the_same_with_deny_unknown_fields() {
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        zeta: Option<u32>,
        alpha: Option<u32>,
    }
    let error = parse(&format!("{HEAD}[system]\nalpah = 1\n"))
        .system_config::<Strict>()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "t.toml:4:1: `system.alpah`: unknown setting of the system under test: expected one of alpha, zeta"
    );
}

#[test]
fn a_node_the_topology_lacks_is_an_error_not_a_zero() {
    let text =
        format!("{HEAD}expect = ['scrapes{{node=\"server-99\"}} == 0']\n[topology]\nservers = 2\n");
    assert_error(
        &text,
        3,
        25,
        "expect[0]",
        "node \"server-99\" is not in this topology, so this selects nothing: expected one of server-0, server-1, client",
    );
    // Storage lives on servers only: the client has none.
    let storage = format!("{HEAD}expect = ['storage.ok{{node=\"client\"}} == 0']\n");
    assert_error(
        &storage,
        3,
        28,
        "expect[0]",
        "expected one of server-0, server-1, server-2",
    );
    let fine = format!("{HEAD}expect = ['final(x_total{{node=\"client\"}}) >= 0']\n");
    assert_eq!(parse(&fine).expectations.len(), 1);
}

#[test]
fn control_characters_from_a_file_reach_no_terminal_unescaped() {
    let text = "name = \"x\"\ndescription = \"y\"\n[run]\n\"dura\u{1b}[2Jtion\" = \"1s\"\n";
    let shown = error(text).to_string();
    assert!(!shown.contains('\u{1b}'), "raw escape in: {shown:?}");
    assert!(shown.contains("dura\\u{1b}[2Jtion"), "{shown}");
}

#[test]
fn an_alert_claim_about_a_fault_the_file_lacks_is_refused_at_its_index() {
    let text = format!(
        "{HEAD}expect = [\"alert X fires during faults[1] within 1m\"]\n\n[[faults]]\nkind = \"packet_loss\"\nprobability = 0.1\n"
    );
    assert_error(
        &text,
        3,
        11,
        "expect[0]",
        "faults[1] is not an entry of this file",
    );
}

#[test]
fn an_alert_claim_that_does_not_parse_points_inside_its_string() {
    let text = format!("{HEAD}expect = [\"alert X pages\"]\n");
    assert_error(&text, 3, 20, "expect[0]", "unknown verb `pages`");
}

#[test]
fn alert_claims_are_kept_apart_from_comparisons() {
    let text = format!("{HEAD}expect = [\"outcomes.total >= 1\", \"alert X never fires\"]\n");
    let scenario = parse(&text);
    assert_eq!(scenario.expectations.len(), 1);
    assert_eq!(scenario.alert_expectations.len(), 1);
    assert_eq!(scenario.alert_expectations[0].text, "alert X never fires");
}

#[test]
fn a_rule_file_that_cannot_be_read_names_the_field_and_the_path() {
    let text = format!("{HEAD}\n[alerts]\nrule_files = [\"nowhere.yml\"]\n");
    assert_error(
        &text,
        5,
        15,
        "alerts.rule_files[0]",
        "nowhere.yml cannot be read: ",
    );
}

#[test]
fn a_bad_rule_in_a_rule_file_names_the_rule_files_line() {
    let dir = std::env::temp_dir().join(format!("obsim-scenario-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x[5m]) >\n",
    )
    .unwrap();
    let text =
        format!("{HEAD}\n[alerts]\nrule_files = [\"bad.yml\"]\nevaluation_interval = \"15s\"\n");
    let error = Scenario::parse(&dir.join("t.toml"), &text, CHECKS).unwrap_err();
    assert_eq!(
        error.field.as_deref(),
        Some("alerts.rule_files[0]"),
        "{error}"
    );
    assert!(
        error
            .message
            .contains("bad.yml:4: `groups[0].rules[0].expr`: does not parse"),
        "{error}"
    );
    std::fs::write(
        dir.join("good.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n",
    )
    .unwrap();
    let scenario = Scenario::parse(
        &dir.join("t.toml"),
        &text.replace("bad.yml", "good.yml"),
        CHECKS,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.alerts.rule_files.len(), 1);
    assert_eq!(scenario.alerts.evaluation_interval, Some(secs(15)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file with one fault of each shape a schedule writes, and a claim that
/// names one of them by index.
const SCHEDULED: &str = r#"name = "t"
description = "d"
# Kept as written.
expect = [
  "faults.packet_loss >= 1",
  "alert NodeDown fires during faults[1] within 1m", # and its comment
]
swarm = false

[run]
duration = "10s"

[system]
retries = 3

[[faults]]
kind = "packet_loss"
probability = 0.25

[[faults]]
kind = "node_crash"
node = 1
at = "2s"
restart_after = "1s"
"#;

#[test]
fn a_fixed_schedule_rewrites_into_a_file_that_loads_as_the_same_faults() {
    let scenario = parse(SCHEDULED);
    let crash = scenario.faults[1].clone();
    let faults = vec![
        Fault::new(Effect::PacketLoss)
            .from_endpoint("server-0:app")
            .at(Duration::from_nanos(1_000_000_123))
            .at_nth(2),
        Fault::new(Effect::NetworkDelay {
            min: ms(7),
            max: ms(7),
        })
        .from_endpoint("client")
        .at(ms(1500))
        .at_nth(1),
        Fault::new(Effect::DependencyLatency {
            min: Duration::from_micros(1500),
            max: Duration::from_micros(1500),
        })
        .on_node(2)
        .on_dependency("llm")
        .on_operation("complete")
        .at(ms(3))
        .at_nth(1),
        crash,
        Fault::new(Effect::NetworkPartition(Partition {
            from: vec!["client".into()],
            to: vec!["server-0".into()],
            one_way: true,
        }))
        .at(ms(4000))
        .lasting(ms(500)),
        Fault::new(Effect::StorageWriteFailure)
            .with_probability(0.1)
            .on_node(0),
    ];
    let rewrite = Rewrite {
        name: "t-seed-7".into(),
        seed: 7,
        faults: faults.clone(),
        ..Default::default()
    };
    let text = scenario.rewritten(&rewrite).expect("rewritable");
    let again = parse(&text);
    assert_eq!(again.faults, faults, "{text}");
    assert_eq!(again.name, "t-seed-7");
    assert_eq!((again.seeds.start, again.seeds.count), (7, 1));
    // The crash moved from faults[1] to faults[3]; the claim follows it.
    assert_eq!(
        again.alert_expectations[0].text,
        "alert NodeDown fires during faults[3] within 1m"
    );
    assert!(
        text.contains("# Kept as written.") && text.contains("# and its comment"),
        "{text}"
    );
    assert!(text.contains("retries = 3"), "{text}");
    assert!(text.contains("at = \"1.000000123s\""), "{text}");
}

#[test]
fn a_rewrite_sets_the_shape_it_was_given_and_leaves_the_rest() {
    let scenario = parse(SCHEDULED);
    let rewrite = Rewrite {
        name: "t-small".into(),
        seed: 3,
        faults: scenario.faults.clone(),
        servers: Some(2),
        invocations: Some(7),
        concurrency: Some(1),
        duration: Some(ms(5500)),
        operations: Some(vec![("get".into(), 2)]),
    };
    let text = scenario.rewritten(&rewrite).expect("rewritable");
    let again = parse(&text);
    assert_eq!(again.servers, 2, "{text}");
    assert_eq!(again.workload.invocations, 7, "{text}");
    assert_eq!(again.workload.concurrency, 1, "{text}");
    assert_eq!(again.run.duration, ms(5500), "{text}");
    assert_eq!(
        again.workload.operations,
        [("get".to_string(), 2)],
        "{text}"
    );
    assert_eq!(again.faults, scenario.faults, "{text}");
    // A shape left as None stays as the file wrote it.
    let same = parse(
        &scenario
            .rewritten(&Rewrite {
                name: "t-same".into(),
                faults: scenario.faults.clone(),
                ..Default::default()
            })
            .expect("rewritable"),
    );
    assert_eq!(same.workload, scenario.workload);
    assert_eq!(
        (same.servers, same.run.duration),
        (scenario.servers, scenario.run.duration)
    );
}

#[test]
fn a_rewrite_that_drops_a_fault_a_claim_names_drops_the_claim_and_says_so() {
    let scenario = parse(SCHEDULED);
    let rewrite = Rewrite {
        name: "t".into(),
        seed: 0,
        faults: vec![scenario.faults[0].clone()],
        ..Default::default()
    };
    let text = scenario.rewritten(&rewrite).expect("rewritable");
    assert!(
        text.starts_with(
            "# Dropped from `expect`: \"alert NodeDown fires during faults[1] within 1m\": \
             the fault it names is no longer in [[faults]]"
        ),
        "{text}"
    );
    let again = parse(&text);
    assert!(again.alert_expectations.is_empty(), "{text}");
    assert_eq!(again.faults, [scenario.faults[0].clone()]);
    // The claim that names no fault stays.
    assert!(text.contains("\"faults.packet_loss >= 1\""), "{text}");
}

#[test]
fn fixed_events_in_a_file_are_checked_like_any_fault() {
    let text = format!("{HEAD}\n[[faults]]\nkind = \"packet_loss\"\nnth = 1\n");
    assert_error(&text, 5, 8, "faults[0].endpoint", "needs `endpoint`");
    let text = format!("{HEAD}\n[[faults]]\nkind = \"disk_full\"\nnode = 0\nnth = -1\n");
    assert_error(&text, 7, 7, "faults[0].nth", "integer >= 1");
    let text =
        format!("{HEAD}\n[[faults]]\nkind = \"disk_full\"\nnode = 0\nendpoint = \"client\"\n");
    assert_error(
        &text,
        7,
        12,
        "faults[0].endpoint",
        "does not apply to disk_full",
    );
}

#[test]
fn a_crash_set_off_by_an_event_reads_on_needs_no_at_and_survives_a_rewrite() {
    let text = format!(
        "{HEAD}\n[[faults]]\nkind = \"node_crash\"\nnode = 1\non = \"accept\"\nnth = 3\n\
         restart_after = \"1s\"\n\n[[faults]]\nkind = \"node_crash\"\nnode = 2\n\
         on = \"in_flight\"\nat = \"2s\"\nfor = \"1s\"\n"
    );
    let scenario = parse(&text);
    let crash = |restart_after| Fault::new(Effect::NodeCrash { restart_after });
    assert_eq!(
        scenario.faults,
        [
            crash(Some(secs(1)))
                .on_node(1)
                .on_event(Trigger::Accept)
                .at_nth(3),
            crash(None)
                .on_node(2)
                .on_event(Trigger::InFlight)
                .at(secs(2))
                .lasting(secs(1)),
        ]
    );
    let rewrite = Rewrite {
        name: "t-again".into(),
        faults: scenario.faults.clone(),
        ..Default::default()
    };
    let again = scenario.rewritten(&rewrite).expect("rewritable");
    assert!(again.contains("on = \"accept\""), "{again}");
    assert_eq!(parse(&again).faults, scenario.faults, "{again}");
}

#[test]
fn a_bad_trigger_is_reported_at_its_line_with_what_was_expected() {
    let crash =
        |rest: &str| format!("{HEAD}\n[[faults]]\nkind = \"node_crash\"\nnode = 0\n{rest}\n");
    assert_error(
        &crash("on = \"connect\""),
        7,
        6,
        "faults[0].on",
        "expected one of \"accept\", \"receive\", \"in_flight\", \"reply\"",
    );
    assert_error(
        &crash("on = \"commit\""),
        7,
        6,
        "faults[0].on",
        "kind = \"crash_during_transaction\"",
    );
    assert_error(
        &crash("on = \"in_flight\"\nprobability = 0.5"),
        8,
        15,
        "faults[0].probability",
        "remove `probability`",
    );
    assert_error(&crash(""), 5, 8, "faults[0].at", "or `on` (the event");
    let loss = format!("{HEAD}\n[[faults]]\nkind = \"packet_loss\"\non = \"receive\"\n");
    assert_error(&loss, 6, 6, "faults[0].on", "only to node_crash");
    let torn =
        format!("{HEAD}\n[[faults]]\nkind = \"crash_during_transaction\"\non = \"accept\"\n");
    assert_error(&torn, 6, 6, "faults[0].on", "by a storage write already");
    let unaimed = format!("{HEAD}\n[[faults]]\nkind = \"node_crash\"\non = \"accept\"\n");
    assert_error(&unaimed, 5, 8, "faults[0].node", "needs the server it hits");
}

#[test]
fn durations_are_written_exactly() {
    for (nanos, text) in [
        (2_000_000_000, "2s"),
        (250_000_000, "250ms"),
        (1_000_000_123, "1.000000123s"),
        (1_500, "0.0000015s"),
    ] {
        let duration = Duration::from_nanos(nanos);
        assert_eq!(duration_text(duration), text);
        assert_eq!(parse_duration(text), Ok(duration));
    }
}

/// The error of a file whose only claim is `claim`, followed by `extra`:
/// it must be refused at the start of the claim (line 3, column 12, inside
/// `expect = ['`).
#[track_caller]
fn assert_claim_refused(claim: &str, extra: &str, needles: &[&str]) {
    let text = format!("{HEAD}expect = ['{claim}']\n{extra}");
    let error = error(&text);
    assert_eq!(
        (error.line, error.column, error.field.as_deref()),
        (Some(3), Some(12), Some("expect[0]")),
        "{claim}: {error}"
    );
    for needle in needles {
        assert!(error.message.contains(needle), "{needle:?} not in: {error}");
    }
}

#[test]
fn a_quantity_compared_with_itself_is_refused_at_load() {
    let holds = "holds whatever the run does";
    let never = "can never hold";
    for claim in [
        "final(x) == final(x)",
        "final(x) - final(x) == 0",
        "final(x) <= final(x)",
        "final(x) >= final(x)",
        "max(x) + 1 > max(x)",
        "final(x) + outcomes.ok == outcomes.ok + final(x)",
    ] {
        assert_claim_refused(claim, "", &[&format!("`{claim}` {holds}"), "with itself"]);
    }
    // The same selector, its labels in another order, is the same quantity.
    assert_claim_refused(
        "max(x{a=\"1\", b=\"2\"}) == max(x{b=\"2\",a=\"1\"})",
        "",
        &[holds, "compares max(x{a=\"1\", b=\"2\"}) with itself"],
    );
    // The negative space: a comparison with itself that never holds.
    for claim in [
        "final(x) < final(x)",
        "final(x) != final(x)",
        "spans - spans > 0",
    ] {
        assert_claim_refused(claim, "", &[&format!("`{claim}` {never}"), "with itself"]);
    }
    // Numbers alone say nothing about the run either.
    assert_claim_refused("1 >= 0", "", &[holds, "compares numbers only"]);
    assert_claim_refused("1 + 1 < 2", "", &[never, "compares numbers only"]);
    // The positive space: a quantity compared with another, or with a number.
    let text = format!(
        "{HEAD}expect = [\"final(x) == final(y)\", \"final(x) - final(x{{a=\\\"1\\\"}}) == 0\", \
         \"final(x) + 1 > max(x)\", \"final(x) >= 0\"]\n"
    );
    assert_eq!(parse(&text).expectations.len(), 4);
}

#[test]
fn a_count_compared_with_a_bound_it_can_never_cross_is_refused_at_load() {
    let holds = "holds whatever the run does";
    let never = "can never hold";
    for claim in [
        "outcomes.total >= 0",
        "0 <= outcomes.total",
        "outcomes.ok + outcomes.error > 0 - 1",
        "spans{status=\"error\"} != 0 - 2",
        "messages.lost + 0.5 > 0",
        "0 - scrapes <= 0",
    ] {
        assert_claim_refused(claim, "", &[&format!("`{claim}` {holds}"), "never below 0"]);
    }
    assert_claim_refused(
        "outcomes.total >= 0",
        "",
        &["outcomes.total is a count, never below 0"],
    );
    assert_claim_refused(
        "outcomes.ok + outcomes.error >= 0",
        "",
        &["outcomes.ok + outcomes.error is a sum of counts, never below 0"],
    );
    // The negative space: a count below 0, which no run can give.
    for claim in [
        "outcomes.total < 0",
        "storage.failed <= 0 - 1",
        "0 > requests.ok",
        "amounts.bytes == 1 - 4",
        "0 - outcomes.ok > 0",
        "spans.lost + spans.orphaned < 0",
    ] {
        assert_claim_refused(claim, "", &[&format!("`{claim}` {never}"), "never below 0"]);
    }
    // The positive space: a count compared with a bound it can cross, a
    // difference of counts, and a metric, which may be a gauge below 0.
    let fine = [
        "outcomes.total >= 1",
        "outcomes.total > 0",
        "outcomes.total == 0",
        "outcomes.total <= 0",
        "outcomes.total < 0.5",
        "outcomes.ok - outcomes.error >= 0",
        "final(x) >= 0",
        "max(x) > 0 - 1",
        "final(x) + outcomes.ok >= 0",
        "outcomes.ok <= outcomes.total",
    ];
    let list: Vec<String> = fine.iter().map(|claim| format!("{claim:?}")).collect();
    let text = format!("{HEAD}expect = [{}]\n", list.join(", "));
    assert_eq!(parse(&text).expectations.len(), fine.len());
}

#[test]
fn a_count_of_a_fault_kind_the_file_does_not_ask_for_is_refused_at_load() {
    let crash = "[[faults]]\nkind = \"node_crash\"\nnode = 1\nat = \"2s\"\n";
    let text = format!(
        "{HEAD}expect = [\"faults.node_crash >= 1\", \"faults.packet_loss >= 1\"]\n{crash}"
    );
    // At the quantity, inside the second claim's string.
    assert_error(
        &text,
        3,
        38,
        "expect[1]",
        "counts faults.packet_loss, which reads 0 in every run: this file does not ask for \
         packet_loss; it asks for node_crash",
    );
    // The mirror of a kind the file has, when no entry of it can log it.
    assert_claim_refused(
        "faults.node_restart == faults.node_crash",
        crash,
        &[
            "faults.node_restart, which reads 0 in every run",
            "restart_after",
        ],
    );
    let restarts = format!("{crash}restart_after = \"1s\"\n");
    let text = format!("{HEAD}expect = [\"faults.node_restart == faults.node_crash\"]\n{restarts}");
    assert_eq!(parse(&text).expectations.len(), 1);
    let partition = "[[faults]]\nkind = \"network_partition\"\nfrom = [\"client\"]\n";
    assert_claim_refused(
        "faults.network_heal >= 1",
        partition,
        &[
            "faults.network_heal, which reads 0",
            "`for`",
            "it asks for network_partition",
        ],
    );
    // A file with no faults at all says so.
    assert_claim_refused(
        "faults.packet_loss == 0",
        "",
        &[
            "`faults.packet_loss == 0` counts faults.packet_loss",
            "this file asks for no faults",
        ],
    );
    // Even `>= 0`, which the count rule would refuse too: the kind is the
    // first thing wrong with it.
    assert_claim_refused(
        "faults.packet_loss >= 0",
        crash,
        &["does not ask for packet_loss"],
    );
    // Swarm mode asks for the kinds it draws from, and their second halves.
    let swarm = "swarm = true\nswarm_kinds = [\"node_pause\", \"packet_loss\"]\n";
    let text = format!("{HEAD}{swarm}expect = [\"faults.disk_full == 0\"]\n");
    assert_error(
        &text,
        5,
        12,
        "expect[0]",
        "swarm draws from node_pause, packet_loss",
    );
    let fine =
        "expect = [\"faults.node_resume == faults.node_pause\", \"faults.packet_loss >= 0.5\"]\n";
    assert_eq!(parse(&format!("{HEAD}{swarm}{fine}")).expectations.len(), 2);
}

#[test]
fn a_fault_window_shorter_than_madsim_can_time_is_refused_at_load() {
    let partition = "kind = \"network_partition\"\nfrom = [\"client\"]\nat = \"1s\"\n";
    let loss = "kind = \"packet_loss\"\nprobability = 0.5\nat = \"1s\"\n";
    for (entry, length) in [(partition, "1ns"), (loss, "1ns"), (partition, "999us")] {
        let text = format!("{HEAD}[[faults]]\n{entry}for = \"{length}\"\n");
        let line = 4 + entry.lines().count();
        assert_error(
            &text,
            line,
            7,
            "faults[0].for",
            &format!(
                "a window of {} is shorter than 1ms",
                length.replace("us", "µs")
            ),
        );
    }
    let text = format!("{HEAD}[[faults]]\n{partition}for = \"1ms\"\n");
    assert_eq!(parse(&text).faults[0].duration, Some(ms(1)));
    // A swarm's windows are no shorter: a run with no room for one is refused.
    let short = format!("{HEAD}swarm = true\n[run]\nduration = \"500us\"\n");
    assert_error(&short, 3, 9, "swarm", "no room for one");
    let losses = format!(
        "{HEAD}swarm = true\nswarm_kinds = [\"packet_loss\"]\n[run]\nduration = \"500us\"\n"
    );
    assert_eq!(parse(&losses).run.duration, Duration::from_micros(500));
}

#[test]
fn a_rewrite_that_drops_every_fault_of_a_kind_drops_the_claims_that_count_it() {
    // The schedule of a seed whose packet losses never fired has none left:
    // a claim counting them would read 0 in every run of the new file.
    let scenario = parse(SCHEDULED);
    let rewrite = Rewrite {
        name: "t".into(),
        seed: 0,
        faults: vec![scenario.faults[1].clone()],
        ..Default::default()
    };
    let text = scenario.rewritten(&rewrite).expect("rewritable");
    assert!(
        text.contains("# Dropped from `expect`: \"faults.packet_loss >= 1\": no fault of the new file logs packet_loss"),
        "{text}"
    );
    let again = parse(&text);
    assert!(again.expectations.is_empty(), "{text}");
    assert_eq!(again.alert_expectations.len(), 1, "{text}");
}
