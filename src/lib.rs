//! obsim: deterministic simulation tests for the observability of your own
//! service.
//!
//! obsim runs a system under test on madsim's deterministic simulator with
//! injected faults, captures every span (from the OpenTelemetry SDK, recorded
//! in memory as each span ends), every log event (through the OpenTelemetry
//! logs bridge, with the trace it belongs to) and every metric (through a
//! private Prometheus registry per node incarnation, scraped over the
//! simulated network), and checks that telemetry, and the Grafana dashboards
//! built on it, against exact ground truth. A run is a pure function of its
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
//! # What a system does
//!
//! A [`System`] is built fresh for every run (by the suite's factory, from
//! the scenario's `[system]` table) and gets two kinds of node:
//!
//! - **Servers.** [`System::serve`] runs one incarnation of one server node
//!   with a [`NodeContext`]: its `storage` (a durable key-value store whose
//!   faults the scenario injects: failed, slow or torn writes, a full disk),
//!   its `network` endpoint (typed messages with delay, loss, duplication and
//!   partitions), its own Prometheus `registry`, the `faults` boundary to call
//!   as each request handler starts ([`HandlerFaults::before_handle`], where
//!   `handler_panic` faults fire), and every server's address. A crash drops
//!   every task of the node; a restart calls `serve` again with a fresh
//!   registry and `incarnation + 1`, the same storage, as a new process on the
//!   same disk would get.
//! - **The client.** [`System::drive`] runs the workload once with a
//!   [`ClientContext`]: the [`Workload`] (invocations, keys, concurrency,
//!   operations), a seeded `rng` (the only randomness a system may use), its
//!   own registry, and [`ClientContext::record_outcome`], through which the
//!   client tells obsim what really happened to each call (`ok`, `error`,
//!   `timeout`): ground truth, not a metric. [`ClientContext::run_requests`]
//!   does all of it around the service's own client call: workers, keys,
//!   think time, a client span per request, each outcome and duration.
//! - **Your own service, unchanged.** A server node can run the service as
//!   it is: its own sockets on [`NodeContext::addr`] (madsim's under
//!   `--cfg madsim`), a store of its own backed by [`NodeContext::storage`],
//!   its own `/metrics` route given to [`NodeContext::serve_metrics`], and
//!   probes of its real state ([`NodeContext::probe`]) that the contract
//!   ties gauges to. The glue lives in the test crate, and obsim stays a
//!   dev-dependency: `docs/your-own-service.md` walks through it.
//!
//! **Time and tasks are simulated.** Use `madsim::time` (`sleep`, `timeout`,
//! `Instant`) and `madsim::task::spawn`, from [`deps::madsim`]; never real
//! threads, sockets, files, or a clock read outside the simulation. Inside a
//! run, even `std::time::Instant::now()` reads simulated time.
//!
//! **Nothing is global.** No `set_global_default`, no global tracer or meter
//! provider, no default registry, no statics that outlive a run: several seeds
//! run in one process, in parallel. `seed_determinism` runs every seed twice
//! and catches state that leaks from one run to the next.
//!
//! # Spans
//!
//! obsim installs its own `tracing` subscriber for each run, with
//! `tracing-opentelemetry` and an in-memory exporter behind it, so a system
//! instruments with plain `tracing` spans:
//!
//! - `otel.kind` (`"server"`, `"client"`, ...) and `otel.name` are read, as
//!   tracing-opentelemetry defines them; other fields become attributes.
//!   Follow OpenTelemetry's semantic conventions for names and attributes
//!   (`rpc.method`, `db.operation.name`).
//! - A request's trace context must cross the network: send
//!   [`TraceHeaders::of`] the client span inside the request, and call
//!   [`TraceHeaders::set_parent_of`] on the server span before it is first
//!   entered. `trace_integrity` fails a server span that starts a new trace.
//! - Status: a span whose work failed ends in error, with a description a
//!   person can read. Either call
//!   `tracing_opentelemetry::OpenTelemetrySpanExt::set_status(Status::error("..."))`,
//!   or record the fields tracing-opentelemetry reads:
//!   `otel.status_code = "ERROR"` with `otel.status_description = "..."`.
//!   A field named `otel.status_message` is *not* read: it is exported as a
//!   plain attribute and the status keeps no description, which
//!   `span_completion` reports.
//! - **Crashes:** a crash loses the spans still open on the node, as the
//!   real SDK in a killed process never exports them (the report counts them
//!   as lost). No check needs anything obsim-specific in the service for
//!   that. What must hold instead is on the side that lived: the client's
//!   span of an attempt a crash cut off (no reply came) ends in error, or
//!   the trace shows a success that never happened. `span_completion` checks
//!   it. [`SpanFutureExt::in_span`] and [`CancelGuard`] still end a dropped
//!   span with status [`CANCELLED`], for a service that wants that outside
//!   obsim too.
//!
//! # Logs
//!
//! `tracing` events reach obsim through the real OpenTelemetry logs bridge
//! (`opentelemetry-appender-tracing`), behind the contract's level filter
//! ([`Contract::log_filter`], default `info`), with the trace and span the
//! SDK attaches from the span *entered* when the event is emitted:
//!
//! - Log inside the span of the work (`.instrument(span)`,
//!   `span.in_scope(|| warn!(..))`); an explicit `parent:` is not what the
//!   bridge reads. `log_correlation` fails an event on a server node with no
//!   trace, unless its target is declared background work
//!   ([`Contract::background_logs`]).
//! - Log where a failure is handled, at WARN or above, inside its trace;
//!   `error_logging` fails a failure nobody logged, and an ERROR logged by
//!   work that succeeded.
//! - [`Contract::log_budget`] bounds events per request and per node per
//!   simulated second (`log_volume`).
//! - A secret the service holds is declared ([`Contract::secret`]) and read
//!   with [`NodeContext::secret`]: obsim hands it a canary, and
//!   `secret_leaks` fails a run whose logs, spans or metrics hold it.
//!
//! # Metrics
//!
//! Register every metric in the registry the context hands you: servers in
//! [`NodeContext::registry`], the client in [`ClientContext::registry`]. A
//! service whose metrics live elsewhere (a registry of its own, another
//! library) hands obsim its `/metrics` handler instead, with
//! [`NodeContext::serve_metrics`]: a `prometheus::Registry`, or any closure
//! returning a [`MetricsResponse`] (body and content type). obsim scrapes
//! each node's endpoint over the simulated network at the scrape interval,
//! under the scenario's faults, and reads each incarnation's final values
//! through it when the incarnation ends, crashed or not. A handler must only
//! read: one that resets what it reports fails `counter_monotonicity`. Names follow Prometheus conventions (a unit suffix, counters
//! end in `_total`, bounded label values); `exposition_lint` and `promtool`
//! check them.
//!
//! # The contract
//!
//! The checks that compare telemetry with ground truth need to know what your
//! metrics mean. [`System::contract`] returns a [`Contract`]: which counter
//! equals which ground truth (rules in the scenario expectation language,
//! e.g. `final(pings_total) == messages.received{message="ping"}`), which
//! gauge balances which counters, which histogram times storage, which span
//! roots a request, which attribute names a storage span's operation. Every
//! exported counter must be tied to ground truth or listed
//! [`Contract::unchecked`] with a reason. The default contract promises
//! nothing, and only the checks that need none run in full.
//!
//! On your own sockets (HTTP with axum or hyper, gRPC, a protocol of your
//! own) obsim does not carry your requests, but it captures your spans
//! exactly, and they are ground truth for the metrics of the same work:
//! [`Contract::span_histogram`], [`Contract::span_counter`] and
//! [`Contract::span_gauge`] tie a request histogram, a request counter (by
//! label and status) and an in-flight gauge to the [`Spans`] of that work.
//! [`Contract::metrics_route`] names your own `/metrics` route, which obsim
//! then scrapes over madsim TCP as Prometheus does.
//!
//! # A complete system
//!
//! A ping service: the client pings server 0, which counts and answers each
//! ping under a server span that joins the client's trace. It passes every
//! check on seed 7:
//!
//! ```
//! use std::time::Duration;
//!
//! use obsim::deps::futures::future::BoxFuture;
//! use obsim::deps::{madsim, prometheus, tracing};
//! use obsim::{ClientContext, Contract, NodeContext, Sim, SpanFutureExt, System, TraceHeaders};
//!
//! /// A request, with the trace context of the client span that sent it.
//! #[derive(Clone)]
//! struct Ping(TraceHeaders);
//! #[derive(Clone)]
//! struct Pong;
//! const PING: u64 = 1; // network tags: which mailbox a message goes to
//! const PONG: u64 = 2;
//!
//! struct PingService;
//!
//! impl System for PingService {
//!     fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
//!         Box::pin(async move {
//!             let pings = prometheus::IntCounter::new("pings_total", "Pings answered.").unwrap();
//!             node.registry.register(Box::new(pings.clone())).unwrap();
//!             // Ends when the node goes down and its endpoint with it.
//!             while let Ok((Ping(headers), from)) = node.network.recv::<Ping>(PING).await {
//!                 let span = tracing::info_span!("PingService/Ping", otel.kind = "server");
//!                 headers.set_parent_of(&span);
//!                 pings.inc();
//!                 let _ = node.network.send(from, PONG, Pong).in_span(span).await;
//!             }
//!         })
//!     }
//!
//!     fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
//!         Box::pin(async move {
//!             for _ in 0..client.workload.invocations {
//!                 let span = tracing::info_span!("ping", otel.kind = "client");
//!                 let call = async {
//!                     let ping = Ping(TraceHeaders::of(&tracing::Span::current()));
//!                     client.network.send(client.servers[0], PING, ping).await?;
//!                     client.network.recv::<Pong>(PONG).await
//!                 };
//!                 let reply = madsim::time::timeout(Duration::from_secs(1), call.in_span(span)).await;
//!                 client.record_outcome(match reply {
//!                     Ok(Ok(_)) => "ok",
//!                     Ok(Err(_)) => "error",
//!                     Err(_) => "timeout",
//!                 });
//!             }
//!         })
//!     }
//!
//!     fn contract(&self) -> Contract {
//!         Contract::new()
//!             .outcomes(["ok", "error", "timeout"])
//!             .accurate(r#"final(pings_total) == messages.received{message="ping"}"#)
//!             .request_span("ping")
//!     }
//! }
//!
//! let workload = obsim::Workload { invocations: 20, concurrency: 1, ..Default::default() };
//! let sim = Sim::builder("ping")
//!     .servers(1)
//!     .workload(workload)
//!     .duration(Duration::from_secs(1))
//!     .artifacts_dir(None)
//!     .build(|| PingService)
//!     .unwrap();
//! let verdict = sim.check_seed(7);
//! assert!(verdict.failure.is_none(), "{}", verdict.failure.unwrap());
//! assert_eq!(verdict.run.unwrap().outcomes["ok"], 20);
//! ```
//!
//! In a suite, a system without settings takes [`NoSettings`]:
//! `obsim::Suite::new("scenarios").system(|_: obsim::NoSettings| PingService).main()`.
//!
//! # Environment variables
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `OBSIM_SEED` | run exactly this seed (wins over `OBSIM_SEEDS`) | unset |
//! | `OBSIM_SEEDS` | sweep `count` seeds, from a scenario file's `[seeds] start` (else 0) | the file's `[seeds] count` under `cargo test`, its `[seeds] sweep` (else its `[seeds] count`, else 100) in a [`Suite::cli`] binary |
//! | `OBSIM_ARTIFACTS_DIR` | where failure artifacts go; set but empty is an error | `<target dir>/obsim/failures/<package>` |
//! | `OBSIM_PROMTOOL` | the `promtool` binary `exposition_lint` runs | `promtool` on the `PATH` |
//! | `OBSIM_REQUIRE_PROMTOOL` | `1`: a missing promtool fails the lint instead of skipping it | unset |
//! | `OBSIM_SHRINK` | candidate runs a failing seed may spend shrinking (into `minimal.toml` for a scenario file): a sweep shrinks its lowest failing seed, a run of one seed (`OBSIM_SEED`) that seed; `0` or `off`: none | 100 runs, 30 s |
//! | `OBSIM_SHARD_INDEX` | with `--shard-of N` in a [`Suite::cli`] binary: this shard's 0-based index, 0 to N-1, run as shard index+1 of N (wins over `JOB_COMPLETION_INDEX`); missing or out of range is an error | unset |
//! | `OBSIM_REQUIRE_CHROMIUM` | `1`: obsim's own tests that open a failing seed's `report.html` in headless Chromium fail when `chromium` is missing instead of skipping the browser | unset |
//! | `OBSIM_FUZZ_CASES` | cases obsim's own `tests/fuzz_loaders.rs` runs: mutated shipped scenario and rule files through the loaders (no panic, no hang, bounded allocation); raise it for a deep run | 10000 |
//! | `JOB_COMPLETION_INDEX` | not obsim's: the index a Kubernetes Indexed Job gives each pod, read by `--shard-of N` when `OBSIM_SHARD_INDEX` is unset | unset |
//!
//! The README documents the same variables; keep the two in step.

pub mod adapters;
mod cli;
mod sim;
mod snapshot;
mod span;
mod suite;
mod test_main;

pub use obsim_faults as faults;
pub use obsim_harness as harness;
pub use obsim_harness::rules;
pub use obsim_scenario as scenario;

/// A request a server took with [`Network::accept`]: its body, and the
/// [`Responder`] that answers it. Named so that it does not collide with a
/// service's own `Request` type.
pub use obsim_harness::Request as IncomingRequest;
pub use obsim_harness::{
    Builder, Call, CallError, Check, ClientContext, Contract, Dependency, DependencyError, Failure,
    FmtJson, HandlerFaults, InjectedPanic, Invocation, LogFormat, MetricsHandler, MetricsResponse,
    Network, NodeContext, Outcome, Problem, ReplyStatus, Responder, Run, Sim, Spans, Storage,
    StorageError, Sweep, System, Verdict, Violation, Workload, APP_PORT,
    OPENMETRICS_TEXT_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE, SCHEDULING_SLACK,
};
pub use span::{CancelGuard, SpanFutureExt, TraceHeaders, CANCELLED};
pub use suite::{load_scenario, NoSettings, Suite, SuiteFile};

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
    /// For [`crate::adapters::MetricsRecorders`].
    pub use metrics;
    pub use opentelemetry;
    pub use opentelemetry_sdk;
    pub use prometheus;
    /// For [`crate::adapters::prometheus_client`].
    pub use prometheus_client;
    /// `ClientContext::rng` is a `rand_chacha::ChaCha8Rng`; draw from it with
    /// this `rand`'s `Rng`.
    pub use rand;
    pub use rand_chacha;
    pub use serde;
    /// The `AsyncRead`/`AsyncWrite` traits (and their `*Ext` methods) that
    /// `madsim::net::TcpStream` implements: services on madsim sockets need
    /// this exact copy.
    pub use tokio;
    pub use tracing;
    pub use tracing_opentelemetry;
}

/// Seeds a [`Suite::cli`] sweep runs of a file that sets neither `[seeds]
/// sweep` nor `[seeds] count` (with only `count`, it sweeps `count` seeds),
/// when neither `--seed`, `--seeds`, `OBSIM_SEED` nor `OBSIM_SEEDS` says
/// otherwise. A file whose seed costs seconds (a long-horizon alert
/// scenario) sets a smaller `sweep`.
pub const CLI_SEEDS_DEFAULT: u64 = obsim_scenario::SWEEP_SEEDS_DEFAULT;

/// The environment variables, for `--help`.
pub(crate) const ENV_HELP: &str = "Environment:
  OBSIM_SEED=<n>              run exactly seed n
  OBSIM_SEEDS=<count>         sweep count seeds from each file's [seeds] start
  OBSIM_ARTIFACTS_DIR=<dir>   where failure artifacts go (default <target>/obsim/failures/<package>)
  OBSIM_PROMTOOL=<path>       the promtool exposition_lint runs (default: promtool on PATH)
  OBSIM_REQUIRE_PROMTOOL=1    a missing promtool fails the lint instead of skipping it
  OBSIM_SHRINK=<runs>         candidate runs to shrink a sweep's lowest failing seed into minimal.toml (0: off; default 100)
  OBSIM_SHARD_INDEX=<i>       with --shard-of N: this shard's 0-based index, 0 to N-1 (wins over JOB_COMPLETION_INDEX)
  JOB_COMPLETION_INDEX=<i>    with --shard-of N and no OBSIM_SHARD_INDEX: the index a Kubernetes Indexed Job gives each pod";
