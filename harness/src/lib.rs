//! obsim's simulator and checks. Users depend on the `obsim` crate, which
//! re-exports this one as `obsim::harness` and documents what a system must
//! do (the [`System`] trait, its contexts, span conventions, simulated time,
//! the crash rule, the [`Contract`]) with a complete system as a doctest.
//!
//! The crate is four layers that depend only downward, one folder each
//! (`tests/layers.rs` scans the imports and fails on an upward one):
//!
//! - `run`: plain data, what one run captured ([`Run`]) and what every layer
//!   reads: the [`Config`], the [`Contract`], the [`Check`] names, the parsed
//!   [`exposition`] format;
//! - `sim`: the simulation that produces a `Run`: world, nodes and their
//!   incarnations, [`Network`], [`Storage`], scraper, span and log capture, the
//!   [`System`] trait and the [`Builder`];
//! - `checks`: the invariants, pure functions of a `Run` and a `Contract`;
//! - `verdict`: runs a seed twice, applies the checks, words the [`Failure`]
//!   for a person, writes artifacts, and sweeps seeds ([`Sweep`]).

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

pub use checks::promtool::promtool_available;
pub use checks::{Check, Claim, Judgement, PromtoolMemo, Violation};
pub use obsim_faults as faults;
pub use obsim_rules as rules;
pub use run::{
    Alerts, AttemptRecord, Balance, CallRecord, Config, ConfigError, Contract, FinalSource,
    FmtJson, IncarnationRecord, Level, LogFormat, LogRecord, LostSpan, MessageCounts, MetricsRoute,
    OpenSpan, OtelLog, RequestRecord, Run, Scrape, ShrinkBudget, SpanEventRecord, SpanId,
    SpanLifecycle, SpanOrigin, SpanRecord, SpanRef, SpanStatus, Spans, StorageLatency, StorageOp,
    Timing, TimingSource, TraceId, Workload, LOG_EVENTS_PER_NODE_SECOND_MAX_DEFAULT,
    LOG_EVENTS_PER_REQUEST_MAX_DEFAULT, LOG_FILTER_DEFAULT, SCHEDULING_SLACK, SCRAPE_JOB_DEFAULT,
    SECRETS_MAX,
};
pub use sim::{
    Bound, Builder, Call, CallError, ClientContext, Crossed, Dependency, DependencyError,
    HandlerFaults, InjectedPanic, Invocation, MetricsHandler, MetricsResponse, Network,
    NodeContext, Outcome, ReplyStatus, Request, Responder, RunError, Sim, Storage, StorageError,
    System, APP_PORT, LABEL_VALUES_MAX_DEFAULT, LOG_LIMIT_DEFAULT, OPENMETRICS_TEXT_CONTENT_TYPE,
    PROMETHEUS_TEXT_CONTENT_TYPE, RESERVED_TAGS_START, SCRAPE_LIMIT_DEFAULT, SPAN_LIMIT_DEFAULT,
    WALL_LIMIT_DEFAULT,
};
pub use verdict::{
    otlp_json, otlp_logs_json, otlp_logs_request, otlp_request, page_html, seed_dir,
    seeds_from_env, seeds_from_env_at, write_failure, write_page, Artifacts, Determinism, Failure,
    FaultShrink, Problem, SeedsError, ShrinkError, ShrinkShape, ShrinkStop, ShrinkTarget, Sweep,
    SweepOptions, Verdict, DETERMINISM_ONE_IN_MAX, FAILURES_KEPT_DEFAULT, PAGE, RUN_TWICE_LISTED,
};
