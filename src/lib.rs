//! obsim: deterministic simulation tests for the observability of your own
//! service.
//!
//! obsim runs a system under test on madsim's deterministic simulator with
//! injected faults, captures every span (through an in-memory OpenTelemetry
//! exporter) and every metric (through a private Prometheus registry per node
//! incarnation, scraped over the simulated network), and checks that
//! telemetry against exact ground truth. A run is a pure function of its
//! seed.
//!
//! Put your service under obsim in three steps (the whole walk-through is
//! `docs/your-own-service.md`):
//!
//! 1. implement [`System`] for it: `serve` runs one server node, `drive` runs
//!    the client's workload, `contract` says what its metrics and spans
//!    promise (see the [`harness`] crate docs for the rules a system follows);
//! 2. write scenario files (`scenarios/*.toml`, format in `scenarios/README.md`);
//! 3. add a test target with `harness = false` whose `main` is one call:
//!
//! ```ignore
//! fn main() {
//!     obsim::Suite::new("scenarios").system(MyService::new).main()
//! }
//! ```
//!
//! Each file is then one test, named by its path: `cargo test -- <name>`
//! filters, `--list` lists, nextest partitions. The same suite with
//! [`Suite::cli`] as a binary's `main` gives a deep-sweep command.
//!
//! Your instrumentation must use the same `tracing`, `opentelemetry`,
//! `opentelemetry_sdk`, `tracing-opentelemetry` and `prometheus` as obsim, or
//! the types do not line up: use them through [`deps`] (`obsim::deps::prometheus`)
//! rather than pinning versions by hand.
//!
//! # Environment variables
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OBSIM_SEED` | run exactly this seed (wins over `OBSIM_SEEDS`) | unset |
//! | `OBSIM_SEEDS` | sweep `count` seeds, from a scenario file's `[seeds] start` (else 0) | the file's `[seeds] count` under `cargo test`, 100 in a [`Suite::cli`] binary |
//! | `OBSIM_ARTIFACTS_DIR` | where failure artifacts go | `<target dir>/obsim/failures` |
//! | `OBSIM_PROMTOOL` | the `promtool` binary `exposition_lint` runs | `promtool` on the `PATH` |
//! | `OBSIM_REQUIRE_PROMTOOL` | `1`: a missing promtool fails the lint instead of skipping it | unset |
//!
//! The README documents the same variables; keep the two in step.

mod cli;
mod sim;
mod snapshot;
mod span;
mod suite;
mod test_main;

pub use obsim_faults as faults;
pub use obsim_harness as harness;
pub use obsim_scenario as scenario;

pub use obsim_harness::{
    Builder, ClientContext, Contract, HandlerFaults, NodeContext, Run, Sim, Storage, System,
    Workload,
};
pub use span::{CancelGuard, SpanFutureExt, TraceHeaders, CANCELLED};
pub use suite::{load_scenario, Suite, SuiteFile};

/// The crates your instrumentation shares with obsim, at the exact versions
/// obsim is built with. Spans reach obsim through `tracing` and
/// `tracing-opentelemetry`, metrics through a `prometheus::Registry` obsim
/// hands you: with a second copy of any of these, the types would not line
/// up (or, worse, the spans would go to a subscriber obsim never sees).
///
/// ```ignore
/// use obsim::deps::prometheus::{IntCounterVec, Opts};
/// ```
pub mod deps {
    pub use futures;
    pub use madsim;
    pub use opentelemetry;
    pub use opentelemetry_sdk;
    pub use prometheus;
    /// `ClientContext::rng` is a `rand_chacha::ChaCha8Rng`; draw from it with
    /// this `rand`'s `Rng`.
    pub use rand;
    pub use rand_chacha;
    pub use serde;
    pub use tracing;
    pub use tracing_opentelemetry;
}

/// Seeds a [`Suite::cli`] sweep runs per file when neither `--seed`,
/// `--seeds`, `OBSIM_SEED` nor `OBSIM_SEEDS` says otherwise.
pub const CLI_SEEDS_DEFAULT: u64 = 100;

/// The environment variables, for `--help`.
pub(crate) const ENV_HELP: &str = "Environment:
  OBSIM_SEED=<n>              run exactly seed n
  OBSIM_SEEDS=<count>         sweep count seeds from each file's [seeds] start
  OBSIM_ARTIFACTS_DIR=<dir>   where failure artifacts go (default <target>/obsim/failures)
  OBSIM_PROMTOOL=<path>       the promtool exposition_lint runs (default: promtool on PATH)
  OBSIM_REQUIRE_PROMTOOL=1    a missing promtool fails the lint instead of skipping it";
