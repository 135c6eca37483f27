//! The run layer, at the bottom: plain data. The [`Run`] record and what it
//! holds, plus what both the simulation and the checks read: the system's
//! [`Contract`], the names of the checks ([`Check`]), the settings
//! ([`Config`]) and the exposition format. It depends on no other layer.

mod check;
mod config;
mod contract;
pub mod exposition;
mod ids;
mod log_contract;
mod logs;
mod node;
mod record;
mod requests;
mod scrape;
mod secrets;
mod span_ties;
mod spans;
mod timing;
mod truth;

pub use check::Check;
pub(crate) use config::topology;
pub use config::{
    fault_window_end, promql_series, Alerts, Config, ConfigError, ShrinkBudget, StorageLatency,
    Workload,
};
pub(crate) use contract::{final_metrics, final_selectors};
pub use contract::{Balance, Contract, MetricsRoute, SCRAPE_JOB_DEFAULT};
pub use ids::{SpanId, TraceId};
pub use log_contract::{
    LOG_EVENTS_PER_NODE_SECOND_MAX_DEFAULT, LOG_EVENTS_PER_REQUEST_MAX_DEFAULT, LOG_FILTER_DEFAULT,
    SECRETS_MAX,
};
pub use logs::{FmtJson, Level, LogFormat, LogRecord, OtelLog};
pub(crate) use node::server_name;
pub use record::{FinalSource, IncarnationRecord, Run};
pub use requests::{AttemptRecord, CallRecord, RequestRecord, SpanRef, NETWORK_ERROR, TIMEOUT};
pub use scrape::Scrape;
pub(crate) use secrets::{canary, canary_needle, CANARY_PREFIX};
pub use span_ties::Spans;
pub(crate) use span_ties::{Shows, SpanTie};
pub(crate) use spans::{digest, span_kind_name, SpanDigest, SpanDigester};
pub use spans::{
    LostSpan, OpenSpan, SpanEventRecord, SpanLifecycle, SpanOrigin, SpanRecord, SpanStatus,
};
pub use timing::{Timing, TimingSource, SCHEDULING_SLACK};
pub use truth::{DependencyCall, MessageCounts, StorageOp};
