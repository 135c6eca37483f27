//! A run's fault decisions replay as a fixed schedule: every fault the seed
//! drew becomes one fixed event (`nth`) per firing, written into an ordinary
//! scenario file. Run on the same seed, that file is the same run: the same
//! fault log, traffic, telemetry and verdict, with no draw deciding a fault.

use std::path::Path;

use obsim::harness::{Check, Run};
use obsim::scenario::{Rewrite, Scenario};

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    obsim::load_scenario(&path).unwrap_or_else(|error| panic!("{error}"))
}

/// Asserts two lists are equal, showing only where they first part.
#[track_caller]
fn same<T: PartialEq + std::fmt::Debug>(what: &str, a: &[T], b: &[T], context: &str) {
    if let Some(at) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "{what} parts at #{at} ({context}):\n  original: {:?}\n  replayed: {:?}",
            a.get(at),
            b.get(at)
        );
    }
}

fn run(scenario: &Scenario, seed: u64) -> (Run, Vec<String>) {
    let sim = obsim_fixtures::suite()
        .sim(scenario, "cargo test --test fault_schedule")
        .unwrap_or_else(|error| panic!("{error}"));
    let run = sim.run(seed).unwrap_or_else(|error| panic!("{error}"));
    let memo = Default::default();
    let violations = sim.check(&run, &memo);
    let verdict = violations.iter().map(|v| v.to_string()).collect();
    (run, verdict)
}

/// Runs `name` on `seed`, rewrites it with the run's fixed schedule, runs
/// that, and asserts the two runs are one. Returns the schedule's length.
fn replays_exactly(name: &str, seed: u64) -> usize {
    let original = scenario(name);
    let (first, first_verdict) = run(&original, seed);
    let schedule = first
        .fault_schedule
        .clone()
        .expect("the log kept every event");
    let drawn = schedule.iter().filter(|fault| fault.nth.is_some()).count();
    let rewrite = Rewrite {
        name: format!("{name}-seed-{seed}"),
        seed,
        faults: schedule.clone(),
        ..Default::default()
    };
    let text = original
        .rewritten(&rewrite)
        .unwrap_or_else(|e| panic!("{e}"));
    // Parsed as if at the original's path, so its relative rule files resolve.
    let fixed = Scenario::parse(&original.path, &text, &Check::invariant_names())
        .unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert!(fixed.faults.iter().all(|fault| !fault.is_drawn()), "{text}");
    let (second, second_verdict) = run(&fixed, seed);
    let context = format!("{name} seed {seed}, {drawn} fixed events");
    same("fault log", &first.faults, &second.faults, &context);
    assert_eq!(first.ended_at, second.ended_at, "{context}");
    assert_eq!(first.outcomes, second.outcomes, "{context}");
    assert_eq!(first.messages, second.messages, "{context}");
    same(
        "storage_ops",
        &first.storage_ops,
        &second.storage_ops,
        &context,
    );
    same("calls", &first.calls, &second.calls, &context);
    same("requests", &first.requests, &second.requests, &context);
    same(
        "dependency_calls",
        &first.dependency_calls,
        &second.dependency_calls,
        &context,
    );
    same(
        "incarnations",
        &first.incarnations,
        &second.incarnations,
        &context,
    );
    same("scrapes", &first.scrapes, &second.scrapes, &context);
    same("spans", &first.spans, &second.spans, &context);
    same("verdict", &first_verdict, &second_verdict, &context);
    // Each fixed event fired exactly once where the draw had fired it.
    for (index, fault) in fixed.faults.iter().enumerate() {
        if fault.nth.is_some() {
            assert_eq!(
                second.fired_by_entry.get(&index),
                Some(&1),
                "{fault}: {context}"
            );
        }
    }
    drawn
}

#[test]
fn lost_messages_replay_as_fixed_events_on_the_same_seed() {
    assert!(replays_exactly("packet-loss-retries", 3) > 10);
}

#[test]
fn failed_writes_and_handler_panics_replay_as_fixed_events() {
    assert!(replays_exactly("storage-write-failures", 1) > 0);
    assert!(replays_exactly("actor-panics", 2) > 0);
}

/// The reply a crash falls on is drawn (one in ten); written down, it is
/// the nth reply server-1 sends at that instant, beside the crash on the
/// 5th accept the file fixes itself, and the run replays.
#[test]
fn crashes_set_off_by_events_replay_as_fixed_events() {
    assert_eq!(replays_exactly("crash-at-accept", 3), 2);
}

#[test]
fn dependency_faults_replay_as_fixed_events() {
    assert!(replays_exactly("llm-provider-faults", 5) > 0);
}

#[test]
fn a_swarm_draw_replays_as_a_plain_fault_list() {
    for seed in [20, 43] {
        replays_exactly("swarm", seed);
    }
}
