//! The sim layer: the world of one run, its clock, network, storage and
//! scraper, node lifecycle, telemetry capture, the [`System`] a user plugs
//! in, and the [`Builder`]. It produces a `Run` (the `run` layer) and knows
//! nothing of the checks or the verdict.

mod boot;
mod builder;
mod capture;
mod clock;
mod dependency;
mod endpoint;
mod http_scrape;
mod interner;
mod ledger;
mod lifecycle;
mod limits;
mod logs;
mod network;
mod requests;
mod rpc;
mod scraper;
mod simulation;
mod sockets;
mod span_record;
mod storage;
mod system;
mod teardown;
mod triggers;
mod watchdog;
mod world;

pub use builder::{
    Builder, LABEL_VALUES_MAX_DEFAULT, LOG_LIMIT_DEFAULT, SCRAPE_LIMIT_DEFAULT, SPAN_LIMIT_DEFAULT,
    WALL_LIMIT_DEFAULT,
};
pub use dependency::{Dependency, DependencyError};
pub use endpoint::{
    MetricsHandler, MetricsResponse, OPENMETRICS_TEXT_CONTENT_TYPE, PROMETHEUS_TEXT_CONTENT_TYPE,
};
pub use limits::{Bound, Crossed};
pub use network::{Network, RESERVED_TAGS_START};
pub use requests::{Invocation, Outcome};
pub use rpc::{Call, CallError, ReplyStatus, Request, Responder};
pub use simulation::{RunError, Sim, APP_PORT};
pub use storage::{Storage, StorageError};
pub use system::{ClientContext, HandlerFaults, InjectedPanic, NodeContext, System};
