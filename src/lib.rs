//! obsim: deterministic simulation tests for observability.
//!
//! obsim runs a system under test on madsim's deterministic simulator with
//! injected faults, captures every span (through an in-memory OpenTelemetry
//! exporter) and every metric (through a private Prometheus registry per node
//! incarnation, scraped over the simulated network), and checks invariants of
//! that telemetry. A run is a pure function of its seed.
//!
//! # Environment variables
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OBSIM_SEED` | run exactly this seed (wins over `OBSIM_SEEDS`) | unset |
//! | `OBSIM_SEEDS` | sweep `count` seeds, from a scenario file's `[seeds] start` (else 0) | the file's count in `cargo test`, 100 in `cargo run` |
//! | `OBSIM_SCENARIO` | run only the scenario file with this `name` | unset: every file |
//! | `OBSIM_ARTIFACTS_DIR` | where failure artifacts go | `<target dir>/obsim/failures` |
//! | `OBSIM_PROMTOOL` | the `promtool` binary `exposition_lint` runs | `promtool` on the `PATH` |
//! | `OBSIM_REQUIRE_PROMTOOL` | `1`: a missing promtool fails the lint instead of skipping it | unset |
//!
//! The README documents the same variables; keep the two in step.

use std::time::Duration;

mod scenarios;

pub use obsim_faults as faults;
pub use obsim_fixtures as fixtures;
pub use obsim_harness as harness;
pub use obsim_scenario as scenario;
pub use scenarios::{load_scenario, scenario_sim, SCENARIOS_DIR};

use obsim_faults::{Effect, Fault};
use obsim_fixtures::{ActorConfig, ActorSystem};
use obsim_harness::{Builder, ConfigError, Sim, Workload};

/// Seeds the test suite sweeps when neither `OBSIM_SEED` nor `OBSIM_SEEDS`
/// is set.
pub const TEST_SEEDS_DEFAULT: u64 = 16;
/// Seeds `cargo run --release` sweeps by default.
pub const CLI_SEEDS_DEFAULT: u64 = 100;

/// The walking-skeleton scenario: 3 servers, 1,000 invocations, 10% of
/// storage writes failing, server-1 crashing and restarting, and network
/// delay on a fifth of all messages.
pub fn skeleton() -> Builder {
    Sim::builder("skeleton")
        .servers(3)
        .workload(skeleton_workload())
        .duration(Duration::from_secs(4))
        .fault(Fault::new(Effect::StorageWriteFailure).with_probability(0.10))
        .fault(
            Fault::new(Effect::NodeCrash {
                restart_after: Some(Duration::from_secs(2)),
            })
            .on_node(1)
            .at(Duration::from_millis(1_500)),
        )
        .fault(
            Fault::new(Effect::NetworkDelay {
                min: Duration::from_millis(5),
                max: Duration::from_millis(50),
            })
            .with_probability(0.20),
        )
        .time_limit(Duration::from_secs(120))
        .drain(Duration::from_secs(5))
}

/// The skeleton's workload: 1,000 invocations, 16 in flight, over 64 actors.
pub fn skeleton_workload() -> Workload {
    Workload {
        invocations: 1_000,
        concurrency: 16,
        actors: 64,
        operations: vec![("get".into(), 1), ("increment".into(), 3)],
        think_time: Duration::ZERO,
    }
}

/// The skeleton scenario running the reference actor system with `config`.
pub fn skeleton_sim(config: ActorConfig, replay_command: &str) -> Result<Sim, ConfigError> {
    skeleton()
        .replay_command(replay_command)
        .build(move || ActorSystem::new(config.clone()))
}
