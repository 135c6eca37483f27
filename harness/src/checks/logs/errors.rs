//! `error_logging`: errors are not silent. Every operation that failed, as
//! the spans or obsim's own ledger record it, leaves at least one event at
//! WARN or above in its trace; and in a request that succeeded, no ERROR is
//! logged by work that succeeded, or the pager learns to ignore ERROR.
//!
//! Failed work counts once its process handled it: a span in error that was
//! exported, a failed storage operation or dependency call whose own span
//! was. A process killed within [`CRASH_GRACE`] of the failure may not have
//! logged it yet, so such a failure asks for nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{at, listed};
use crate::checks::{Check, Lookup, LookupSet, Violation};
use crate::run::{
    Contract, Level, LogRecord, Run, SpanId, SpanRecord, SpanRef, SpanStatus, TraceId,
};

/// How long after a failure its process may die without having logged it.
pub const CRASH_GRACE: Duration = Duration::from_secs(1);

pub(crate) fn error_logging(run: &Run, contract: &Contract) -> Vec<Violation> {
    let warned: LookupSet<TraceId> = run
        .logs
        .iter()
        .filter(|log| log.level >= Level::Warn)
        .filter_map(|log| Some(log.trace?.trace_id))
        .collect();
    let spans: Lookup<SpanId, &SpanRecord> =
        run.spans.iter().map(|span| (span.span_id, span)).collect();
    // By the instant each failure ended, then in the order found: two that
    // ended on the same nanosecond are two failures.
    let mut silent: BTreeMap<(i64, usize), Silent> = BTreeMap::new();
    for span in &run.spans {
        let SpanStatus::Error(description) = &span.status else {
            continue;
        };
        if warned.contains(&span.trace_id) || died_soon_after(run, span) {
            continue;
        }
        silent.insert(
            (span.end_ns, silent.len()),
            Silent {
                what: format!(
                    "span `{}` {} ended in error ({:?})",
                    span.name,
                    span.span_id,
                    obsim_rules::input::excerpt(description)
                ),
                node: origin(span),
                trace: span.trace_id,
            },
        );
    }
    let failed_ops = run
        .storage_ops
        .iter()
        .filter_map(|op| {
            Some((
                op.span?,
                op.failure.as_deref()?,
                op.ended_at,
                "storage",
                op.operation.to_string(),
            ))
        })
        .chain(run.dependency_calls.iter().filter_map(|call| {
            Some((
                call.span?,
                call.failure.as_deref()?,
                call.ended_at,
                "dependency",
                format!("{} {}", call.dependency, call.operation),
            ))
        }));
    for (span_ref, failure, ended_at, kind, operation) in failed_ops {
        let SpanRef { trace_id, span_id } = span_ref;
        // Only once its process ended the span that covered it: it handled
        // the failure, and could have said so.
        let Some(span) = spans.get(&span_id) else {
            continue;
        };
        if warned.contains(&trace_id) || died_soon_after(run, span) {
            continue;
        }
        silent.insert(
            (ended_at.as_nanos() as i64, silent.len()),
            Silent {
                what: format!(
                    "{kind} operation `{operation}` failed ({:?}) under span `{}` {span_id}",
                    obsim_rules::input::excerpt(failure),
                    span.name
                ),
                node: origin(span),
                trace: trace_id,
            },
        );
    }
    let mut violations = unlogged(silent, |silent| {
        format!(
            "{} in trace {}, and the trace holds no event at WARN or above: the failure was \
             swallowed. Log it where it is handled (`warn!` or `error!` inside the span), so \
             the person paged can read what failed",
            silent.what, silent.trace
        )
    });
    if let Some(name) = &contract.request_span {
        violations.extend(errors_on_success(run, name, &spans));
    }
    violations
}

/// A failure nobody logged.
struct Silent {
    what: String,
    node: Option<String>,
    trace: TraceId,
}

fn unlogged(
    silent: BTreeMap<(i64, usize), Silent>,
    message: impl Fn(&Silent) -> String,
) -> Vec<Violation> {
    let silent: Vec<((i64, usize), Silent)> = silent.into_iter().collect();
    listed(
        Check::ErrorLogging,
        &silent,
        |((end_ns, _), failure)| Violation {
            check: Check::ErrorLogging,
            subject: format!("trace {}", failure.trace),
            node: failure.node.clone(),
            at: Some(at(*end_ns)),
            message: message(failure),
        },
        ("failures", "more failures left no WARN or ERROR event"),
    )
}

/// ERROR events in work that succeeded: in the trace of a request whose
/// root span (the contract's request span) did not end in error, an ERROR
/// whose own span and every span above it ended well. An ERROR inside work
/// that failed (a handler that panicked on a duplicate of the request, an
/// attempt that timed out before a retry succeeded) is that work's own.
fn errors_on_success(
    run: &Run,
    request_span: &str,
    spans: &Lookup<SpanId, &SpanRecord>,
) -> Vec<Violation> {
    let succeeded: Lookup<TraceId, &SpanRecord> = run
        .spans
        .iter()
        .filter(|span| span.name == request_span && !matches!(span.status, SpanStatus::Error(_)))
        .map(|span| (span.trace_id, span))
        .collect();
    let noisy: Vec<(&SpanRecord, &LogRecord)> = run
        .logs
        .iter()
        .filter(|log| log.level == Level::Error)
        .filter_map(|log| {
            let trace = log.trace.as_ref()?;
            let request = *succeeded.get(&trace.trace_id)?;
            (!in_failed_work(trace.span_id, spans, &run.lifecycle.lost)).then_some((request, log))
        })
        .collect();
    listed(
        Check::ErrorLogging,
        &noisy,
        |(span, log)| Violation {
            check: Check::ErrorLogging,
            subject: format!("trace {}", span.trace_id),
            node: Some(super::correlation::node(log)),
            at: Some(at(log.at_ns)),
            message: format!(
                "{} is in the trace of request span `{}` {}, which succeeded, and no span \
                 around the event failed: work that succeeded logs nothing at ERROR (a retried \
                 attempt, a fallback taken, is a WARN at most), or ERROR stops meaning that \
                 something needs a person",
                log.describe(),
                span.name,
                span.span_id
            ),
        },
        ("requests", "more ERROR events in work that succeeded"),
    )
}

/// Spans walked up from an event towards its trace's root, at most.
const ANCESTORS_MAX: usize = 256;

/// Whether span `id` or a span above it ended in error, or was lost with
/// its process (work a crash cut off failed); an event whose span was never
/// exported cannot be judged, and counts as failed work.
fn in_failed_work(
    id: SpanId,
    spans: &Lookup<SpanId, &SpanRecord>,
    lost: &[crate::run::LostSpan],
) -> bool {
    let mut current = Some(id);
    for _ in 0..ANCESTORS_MAX {
        let Some(id) = current else { return false };
        let Some(span) = spans.get(&id) else {
            return true;
        };
        if matches!(span.status, SpanStatus::Error(_)) {
            return true;
        }
        current = span.parent_span_id;
        if current.is_some_and(|parent| lost.iter().any(|span| span.span_id == parent)) {
            return true;
        }
    }
    true
}

fn origin(span: &SpanRecord) -> Option<String> {
    let node = span.origin.node.clone()?;
    Some(match span.origin.incarnation {
        Some(incarnation) if node.starts_with("server-") => format!("{node}#{incarnation}"),
        _ => node,
    })
}

/// Whether `span`'s node incarnation crashed within [`CRASH_GRACE`] of the
/// span's end: it may have died before it could log.
fn died_soon_after(run: &Run, span: &SpanRecord) -> bool {
    let (Some(node), Some(number)) = (&span.origin.node, span.origin.incarnation) else {
        return false;
    };
    let end = at(span.end_ns);
    run.incarnations.iter().any(|incarnation| {
        &incarnation.node == node
            && incarnation.number == number
            && incarnation
                .ended_at
                .is_some_and(|ended| ended >= end && ended - end <= CRASH_GRACE)
    })
}
