// obsim's simulator, in four layers that depend only downward (checked by
// `tests/layers.rs`):
//
// - `run`: plain data, what one run captured and what every layer reads;
// - `sim`: the simulation, which produces a `Run`;
// - `checks`: the invariants, pure functions of a `Run` and a `Contract`;
// - `verdict`: runs seeds, applies the checks and words the failures.

pub mod checks;
mod run;
mod sim;
mod verdict;

pub use run::exposition;

/// Evaluates a scenario's expectations against a finished run. The parser
/// lives in `obsim-scenario`; this is where each quantity gets its meaning,
/// from the run's ground truth (fault log, outcomes, network counts) and its
/// telemetry (spans, scrapes, final expositions).
// The items of `checks::expect`, at their old public path. A facade, not
// `pub use checks::expect`, which would also publish `checks::expect`.
pub mod expect {
    pub use crate::checks::expect::*;
}

pub use checks::lint::promtool_available;
pub use checks::{Check, Violation};
pub use obsim_faults as faults;
pub use run::{
    Balance, Config, ConfigError, Contract, IncarnationRecord, MessageCounts, OpenSpan, Run,
    Scrape, SpanEventRecord, SpanLifecycle, SpanOrigin, SpanRecord, SpanStatus, StorageLatency,
    StorageOp, StorageTiming, Workload,
};
pub use sim::{
    Builder, ClientContext, HandlerFaults, InjectedPanic, Network, NodeContext, RunError, Sim,
    Storage, StorageError, System, APP_PORT, LABEL_VALUES_MAX_DEFAULT,
};
pub use verdict::{
    otlp_json, otlp_request, seed_dir, seeds_from_env, seeds_from_env_at, write_failure, Artifacts,
    Failure, Problem, SeedsError, Sweep, Verdict,
};
