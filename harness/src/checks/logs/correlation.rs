//! `log_correlation`: an event a server emits carries the trace and span of
//! the work it belongs to, so that an operator who finds the line can find
//! the request. A task spawned without its span (`madsim::task::spawn(fut)`
//! rather than `spawn(fut.instrument(span))` or `.in_current_span()`) logs
//! with none.

use super::{at, listed, on_server};
use crate::checks::{Check, Violation};
use crate::run::{Contract, LogRecord, Run};

pub(crate) fn log_correlation(run: &Run, contract: &Contract) -> Vec<Violation> {
    let loose: Vec<&LogRecord> = run
        .logs
        .iter()
        .filter(|log| on_server(log) && log.trace.is_none())
        .filter(|log| !contract.logs.is_background(&log.target))
        .collect();
    listed(
        Check::LogCorrelation,
        &loose,
        |log| Violation {
            check: Check::LogCorrelation,
            subject: format!("log event {:?}", obsim_rules::input::excerpt(&log.body)),
            node: Some(node(log)),
            at: Some(at(log.at_ns)),
            message: format!(
                "{} carries no trace or span: it was emitted outside every span, so nobody can \
                 find the request it belongs to. Emit it inside the span of its work (a task \
                 spawned without `.instrument(span)` or `.in_current_span()` loses the span), \
                 or, if it is background work (start-up, a timer), give it a target of its own \
                 and declare it with `Contract::background_logs`",
                log.describe()
            ),
        },
        ("log events", "more events on server nodes carry no trace"),
    )
}

pub(super) fn node(log: &LogRecord) -> String {
    match log.incarnation {
        Some(incarnation) => format!("{}#{incarnation}", log.node),
        None => log.node.clone(),
    }
}
