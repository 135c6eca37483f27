use std::time::Duration;

use super::{Check, Violation};
use crate::run::{OpenSpan, Run};

/// How many leaked spans a violation lists by name before it summarizes.
const LEAKS_LISTED_MAX: usize = 10;

/// Every span opened is closed by the end of the run, and every exported
/// span ends at or after its start. A span opened on a node incarnation that
/// later crashed is not a leak: the process that held it is gone, and with
/// it every span it had not exported (see `LostSpan`).
pub fn span_completion(run: &Run) -> Vec<Violation> {
    let leaked: Vec<&OpenSpan> = run
        .lifecycle
        .open
        .iter()
        .filter(|open| !died_after(run, open))
        .collect();
    let mut violations: Vec<Violation> = leaked
        .iter()
        .take(LEAKS_LISTED_MAX)
        .map(|open| Violation {
            check: Check::SpanCompletion,
            subject: format!("span `{}`", open.name),
            node: Some(open.node.clone()),
            at: Some(open.opened_at),
            message: format!(
                "opened here and never closed by the end of the run at {:.3}s",
                run.ended_at.as_secs_f64()
            ),
        })
        .collect();
    let unlisted = leaked.len().saturating_sub(LEAKS_LISTED_MAX);
    if unlisted > 0 {
        violations.push(Violation {
            check: Check::SpanCompletion,
            subject: "spans".into(),
            node: None,
            at: None,
            message: format!("{unlisted} more spans were never closed"),
        });
    }
    violations.extend(
        run.spans
            .iter()
            .filter(|span| span.end_ns < span.start_ns)
            .map(|span| Violation {
                check: Check::SpanCompletion,
                subject: format!("span `{}` {}", span.name, span.span_id),
                node: None,
                at: Some(Duration::from_nanos(span.end_ns.max(0) as u64)),
                message: format!(
                    "ends at {} ns, before its start at {} ns",
                    span.end_ns, span.start_ns
                ),
            }),
    );
    violations
}

/// Whether `open` was opened on a node incarnation that went down before
/// the run ended.
fn died_after(run: &Run, open: &OpenSpan) -> bool {
    run.incarnations.iter().any(|incarnation| {
        incarnation.node == open.node
            && incarnation.started_at <= open.opened_at
            && incarnation
                .ended_at
                .is_some_and(|ended| open.opened_at <= ended)
    })
}
