//! The walking skeleton: the reference actor system under storage write
//! failures, a crash with restart, and network delay, across a seed sweep.

use std::collections::BTreeMap;

use obsim::faults::FaultKind;
use obsim::harness::{seeds_from_env, Run, SpanStatus, SweepOptions, Verdict};
use obsim_fixtures::ActorConfig;

/// Seeds the skeleton sweeps when neither `OBSIM_SEED` nor `OBSIM_SEEDS`
/// is set.
const SEEDS_DEFAULT: u64 = 16;

fn sim(test: &str) -> obsim::harness::Sim {
    obsim_fixtures::skeleton_sim(
        ActorConfig::default(),
        &format!("cargo test --test skeleton -- --exact {test}"),
    )
    .expect("the skeleton scenario is valid")
}

/// The scenario's faults really fired: a run that injected nothing would
/// pass every check vacuously.
fn assert_faults_fired(run: &Run) {
    let counts = run.fault_counts();
    let kinds = [
        FaultKind::StorageWriteFailure,
        FaultKind::NodeCrash,
        FaultKind::NodeRestart,
        FaultKind::NetworkDelay,
    ];
    for kind in kinds {
        assert!(
            counts.get(kind.as_str()).copied().unwrap_or(0) > 0,
            "seed {}: no {kind} was injected; faults: {counts:?}",
            run.seed
        );
    }
    let down = run.scrapes.iter().filter(|scrape| !scrape.up).count();
    assert!(
        down > 0,
        "seed {}: the crash never showed as up=0 in a scrape",
        run.seed
    );
    assert!(
        run.outcomes.get("timeout").copied().unwrap_or(0) > 0,
        "seed {}: the crash cut off no invocation: {:?}",
        run.seed,
        run.outcomes
    );
}

#[test]
fn skeleton_keeps_every_invariant_across_the_seed_sweep() {
    let seeds = seeds_from_env(SEEDS_DEFAULT).unwrap_or_else(|error| panic!("{error}"));
    // Each run is looked at as its seed finishes: a sweep keeps no runs.
    let each = |verdict: &Verdict| {
        if let Some(run) = verdict.run.as_ref().filter(|_| verdict.failure.is_none()) {
            assert_faults_fired(run);
            assert_eq!(
                run.outcomes.values().sum::<u64>(),
                1_000,
                "seed {}",
                run.seed
            );
        }
    };
    let sim = sim("skeleton_keeps_every_invariant_across_the_seed_sweep");
    let count = seeds.len() as u64;
    let sweep = sim.sweep_with(seeds, SweepOptions::default(), &each);
    sweep.assert_passed();
    assert_eq!(sweep.seeds_run, count);
}

#[test]
fn skeleton_report_for_seed_42_matches_the_snapshot() {
    let run = sim("skeleton_report_for_seed_42_matches_the_snapshot")
        .run(42)
        .unwrap_or_else(|error| panic!("seed 42: {error}"));
    insta::assert_snapshot!(run.report());
}

#[test]
fn client_call_and_its_server_work_form_one_trace() {
    let run = sim("client_call_and_its_server_work_form_one_trace")
        .run(0)
        .unwrap_or_else(|error| panic!("seed 0: {error}"));
    let by_id: BTreeMap<_, _> = run.spans.iter().map(|span| (span.span_id, span)).collect();
    let server_spans: Vec<_> = run
        .spans
        .iter()
        .filter(|span| span.name == "ActorService/Invoke" && span.kind == "server")
        .collect();
    assert!(!server_spans.is_empty());
    for server in server_spans {
        let parent = server
            .parent_span_id
            .expect("a server span has a remote parent");
        // A server span whose client span was cut off by a timeout still
        // has it exported: the client span always ends.
        let client = by_id
            .get(&parent)
            .unwrap_or_else(|| panic!("server span {} has no exported parent", server.span_id));
        assert_eq!(client.kind, "client");
        assert_eq!(client.trace_id, server.trace_id);
    }
}

#[test]
fn invocation_cut_off_by_a_crash_is_lost_with_its_process_and_its_attempt_fails_on_the_client() {
    // Seeds whose crash lands between invocations cut nothing off; the
    // first seed whose crash lands mid-invocation is the one to look at.
    let sim = sim("invocation_cut_off_by_a_crash_is_lost_with_its_process_and_its_attempt_fails_on_the_client");
    for seed in 0..16 {
        let run = sim
            .run(seed)
            .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        let lost = &run.lifecycle.lost;
        if !lost.iter().any(|span| span.name == "ActorService/Invoke") {
            continue;
        }
        // The crash's process exported none of the spans it had open, as a
        // killed process never does; they are no leak either.
        assert!(lost.iter().all(|span| span.node == "server-1"), "{lost:?}");
        for span in lost {
            assert!(
                !run.spans.iter().any(|s| s.span_id == span.span_id),
                "seed {seed}: lost span {span:?} was exported"
            );
        }
        assert!(run.lifecycle.open.is_empty(), "{:?}", run.lifecycle.open);
        // The client's span of an attempt the crash cut off ended in error.
        let crashed_at = run
            .incarnations
            .iter()
            .find(|i| i.node == "server-1" && i.number == 0)
            .and_then(|i| i.ended_at)
            .expect("server-1 crashed");
        let mut seen = 0;
        for request in &run.requests {
            let call = &run.calls[request.call as usize];
            let attempt = &call.attempts[request.attempt as usize];
            let cut_off = request.node.as_ref() == "server-1"
                && request.incarnation == 0
                && attempt.outcome.as_deref() == Some("timeout")
                && attempt.ended_at.is_some_and(|ended| ended >= crashed_at);
            if !cut_off {
                continue;
            }
            let sent_by = attempt.span.as_ref().expect("sent inside its span");
            let span = run
                .spans
                .iter()
                .find(|s| s.span_id == sent_by.span_id)
                .unwrap();
            assert!(matches!(span.status, SpanStatus::Error(_)), "{span:?}");
            seen += 1;
        }
        assert!(seen > 0, "seed {seed}: no request was cut off");
        return;
    }
    panic!("no seed in 0..16 had its crash cut off an invocation");
}

#[test]
fn run_past_its_simulated_time_limit_fails_instead_of_hanging() {
    // One call at a time takes several milliseconds each: 1,000 of them
    // cannot finish in 2 simulated seconds.
    let sim = obsim::harness::Sim::builder("time-limit")
        .workload(obsim::harness::Workload {
            concurrency: 1,
            ..Default::default()
        })
        .duration(std::time::Duration::from_secs(1))
        .time_limit(std::time::Duration::from_secs(2))
        .build(|| obsim_fixtures::ActorSystem::new(ActorConfig::default()))
        .expect("valid");
    let error = sim.run(0).expect_err("1,000 invocations do not fit in 2 s");
    assert_eq!(
        error.to_string(),
        "the run exceeded its simulated time limit of 2s during the workload phase"
    );
}

#[test]
fn same_seed_gives_the_same_fingerprint_on_another_thread_after_other_runs() {
    let sim = sim("same_seed_gives_the_same_fingerprint_on_another_thread_after_other_runs");
    let fresh = sim.run(5).expect("seed 5 runs").fingerprint();
    // Thread-local state (RNGs, tracing's per-thread dispatch) must not leak
    // into a run: the other thread has already run other seeds.
    let warmed = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                for seed in [6, 7] {
                    sim.run(seed).expect("warm-up runs");
                }
                sim.run(5).expect("seed 5 runs").fingerprint()
            })
            .join()
            .expect("the other thread completes")
    });
    assert!(fresh == warmed, "seed 5 differs between threads");
}
