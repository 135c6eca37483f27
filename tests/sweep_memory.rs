//! A sweep's memory does not grow with its seeds: each run releases its
//! runtime, tasks, world and captured telemetry when it ends, and a sweep
//! keeps counts and a bounded number of failures, never every run.

use std::sync::{Arc, Mutex};

use obsim::deps::futures::future::BoxFuture;
use obsim::harness::{SweepOptions, Verdict};
use obsim::{ClientContext, Contract, NodeContext, System};
use obsim_fixtures::{ActorConfig, ActorSystem};

/// The actor runtime, holding a token: every clone of the token is a piece
/// of the run still alive (the system, a node's boot closure, a task).
struct Tracked {
    inner: ActorSystem,
    _alive: Arc<()>,
}

impl System for Tracked {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        self.inner.serve(node)
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        self.inner.drive(client)
    }

    fn contract(&self) -> Contract {
        self.inner.contract()
    }
}

#[test]
fn a_finished_run_releases_everything_it_held() {
    let alive = Arc::new(());
    let token = alive.clone();
    let sim = obsim_fixtures::skeleton()
        .artifacts_dir(None)
        .build(move || Tracked {
            inner: ActorSystem::new(ActorConfig::default()),
            _alive: token.clone(),
        })
        .expect("valid");
    sim.run(0).expect("seed 0 completes");
    // Only the factory's own copy is left: no task, boot closure or world
    // of the run outlived it. Before madsim's leftover tasks were released
    // (and the crash-request task stopped), each run kept its whole world.
    assert_eq!(Arc::strong_count(&alive), 2, "the factory's token and ours");
    drop(sim);
    assert_eq!(Arc::strong_count(&alive), 1);
}

#[test]
fn a_sweep_keeps_no_run_but_the_first_seeds() {
    let kept = Mutex::new(0usize);
    let sim =
        obsim_fixtures::skeleton_sim(ActorConfig::default(), "cargo test --test sweep_memory")
            .expect("valid");
    let each = |verdict: &Verdict| {
        assert!(verdict.run.is_some(), "the callback sees each run");
        *kept.lock().unwrap() += 1;
    };
    let sweep = sim.sweep_with(0..3, SweepOptions::default(), &each);
    assert_eq!(*kept.lock().unwrap(), 3);
    assert_eq!((sweep.seeds_run, sweep.passed, sweep.failed), (3, 3, 0));
    assert_eq!(sweep.first.as_ref().map(|v| v.seed), Some(0));
    assert!(sweep.kept.is_empty());
}
