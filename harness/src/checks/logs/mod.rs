//! The log checks: what an operator reads besides metrics and traces.
//!
//! - `log_correlation`: every event on a server node carries the trace and
//!   span of the work it belongs to, unless its target is background work;
//! - `error_logging`: failed work leaves a WARN or worse in its trace, and a
//!   request that succeeded leaves no ERROR;
//! - `log_volume`: events per request and per node per simulated second
//!   stay within the contract's budget;
//! - `secret_leaks`: no secret's canary appears in a log, a span or a metric.

mod correlation;
mod errors;
mod secrets;
mod volume;

use std::time::Duration;

pub(crate) use correlation::log_correlation;
pub(crate) use errors::error_logging;
pub(crate) use secrets::secret_leaks;
pub(crate) use volume::log_volume;

use crate::checks::{Check, Violation};
use crate::run::LogRecord;

/// How many offenders of one kind a check lists before it counts the rest.
const LISTED_MAX: usize = 5;

/// Whether `node` is a server node: the nodes whose events are the service's
/// own (the client is the workload, the supervisor is obsim).
fn on_server(log: &LogRecord) -> bool {
    log.node.starts_with("server-")
}

/// The first [`LISTED_MAX`] of `items` as violations, then, if there are
/// more, one that counts the rest: `rest` says what they are ("more
/// requests logged more than 16 events"), after their count.
fn listed<T>(
    check: Check,
    items: &[T],
    violation: impl Fn(&T) -> Violation,
    (subject, rest): (&str, &str),
) -> Vec<Violation> {
    let mut violations: Vec<Violation> = items.iter().take(LISTED_MAX).map(violation).collect();
    if items.len() > LISTED_MAX {
        violations.push(Violation {
            check,
            subject: subject.to_string(),
            node: None,
            at: None,
            message: format!("{} {rest}", items.len() - LISTED_MAX),
        });
    }
    violations
}

fn at(ns: i64) -> Duration {
    Duration::from_nanos(ns.max(0) as u64)
}
