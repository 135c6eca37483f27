//! Span status, part of span completion: spans of failed work end in error
//! with a description, the client span of a request a crash cut off ends in
//! error, and spans of work that succeeded do not. "Failed" and "succeeded"
//! come from the harness: the storage it served and the outcomes the client
//! recorded, never from the spans themselves.

use std::collections::BTreeMap;

use super::traces::{at, span_violations};
use super::{Check, Violation};
use crate::run::{Contract, Run, SpanId, SpanRecord, SpanStatus, TraceId, NETWORK_ERROR, TIMEOUT};

/// How many offending spans of one kind a violation lists before it counts.
const SPANS_LISTED_MAX: usize = 5;

pub fn span_status(run: &Run, contract: &Contract) -> Vec<Violation> {
    let mut violations = Vec::new();
    violations.extend(listed(
        run.spans.iter().filter(
            |span| matches!(&span.status, SpanStatus::Error(text) if text.trim().is_empty()),
        ),
        "ended in error with no description: say what failed, a person reads it",
    ));
    // The server's spans of work a crash cut off are lost with the process
    // (see `LostSpan`); what must hold is on the side that lived.
    violations.extend(cut_off_attempts(run));
    if let Some(attribute) = &contract.storage_span_operation {
        violations.extend(storage_status(run, contract, attribute));
    }
    if let Some(name) = &contract.request_span {
        violations.extend(request_status(run, name));
    }
    violations
}

fn listed<'a>(spans: impl Iterator<Item = &'a SpanRecord>, problem: &str) -> Vec<Violation> {
    span_violations(Check::SpanCompletion, spans, |_| problem.to_string())
}

/// A storage operation by node, operation and exact simulated times: a span
/// and the harness's record of one operation share all four.
type OpKey = (String, String, i64, i64);

fn storage_status(run: &Run, contract: &Contract, attribute: &str) -> Vec<Violation> {
    // Several operations can share a key (same node, same instant, same
    // latency): compare how many failed with how many spans say so.
    let mut failures: BTreeMap<OpKey, (usize, Option<&str>)> = BTreeMap::new();
    for op in &run.storage_ops {
        let key = (
            op.node.to_string(),
            contract.storage_word(op.operation).to_string(),
            op.started_at.as_nanos() as i64,
            op.ended_at.as_nanos() as i64,
        );
        let entry = failures.entry(key).or_default();
        if let Some(failure) = &op.failure {
            entry.0 += 1;
            entry.1.get_or_insert(failure);
        }
    }
    let mut spans: BTreeMap<OpKey, Vec<&SpanRecord>> = BTreeMap::new();
    for span in &run.spans {
        let (Some(node), Some(operation)) = (&span.origin.node, span.attribute(attribute)) else {
            continue;
        };
        let key = (
            node.clone(),
            operation.to_string(),
            span.start_ns,
            span.end_ns,
        );
        spans.entry(key).or_default().push(span);
    }
    let mut hidden: Vec<(&SpanRecord, String)> = Vec::new();
    let mut invented: Vec<&SpanRecord> = Vec::new();
    for (key, group) in &spans {
        let Some(&(failed, failure)) = failures.get(key) else {
            continue; // no operation with these times: nothing to compare
        };
        let errors = group
            .iter()
            .filter(|span| span.status.code() == "error")
            .count();
        if errors < failed {
            let detail = failure.unwrap_or_default().to_string();
            hidden.extend(
                group
                    .iter()
                    .filter(|span| span.status.code() != "error")
                    .take(failed - errors)
                    .map(|span| (*span, detail.clone())),
            );
        } else if errors > failed {
            let in_error = group.iter().filter(|s| s.status.code() == "error");
            invented.extend(in_error.take(errors - failed).copied());
        }
    }
    let mut violations = Vec::new();
    for (span, failure) in hidden.iter().take(SPANS_LISTED_MAX) {
        violations.push(storage_violation(
            span,
            format!(
                "ended with status {}, but the harness failed that {} operation ({failure}): \
                 a failed operation's span must end in error",
                span.status.code(),
                span.attribute(attribute).unwrap_or("?")
            ),
        ));
    }
    count_more(
        &mut violations,
        hidden.len(),
        "failed storage operations had non-error spans",
    );
    for span in invented.iter().take(SPANS_LISTED_MAX) {
        violations.push(storage_violation(
            span,
            "ended in error, but the harness completed that operation successfully".into(),
        ));
    }
    count_more(
        &mut violations,
        invented.len(),
        "successful storage operations had error spans",
    );
    violations
}

fn storage_violation(span: &SpanRecord, message: String) -> Violation {
    Violation {
        check: Check::SpanCompletion,
        subject: format!("span `{}` {}", span.name, span.span_id),
        node: span.origin.node.clone(),
        at: Some(at(span)),
        message,
    }
}

fn count_more(violations: &mut Vec<Violation>, total: usize, what: &str) {
    if total > SPANS_LISTED_MAX {
        violations.push(Violation {
            check: Check::SpanCompletion,
            subject: "spans".into(),
            node: None,
            at: None,
            message: format!("{total} {what} in all"),
        });
    }
}

/// Request spans in error must be exactly the calls the client recorded as
/// not `ok`.
fn request_status(run: &Run, name: &str) -> Option<Violation> {
    let requests = run.spans.iter().filter(|span| span.name == name);
    let errors = requests
        .filter(|span| span.status.code() == "error")
        .count() as u64;
    let total: u64 = run.outcomes.values().sum();
    let failed = total - run.outcomes.get("ok").copied().unwrap_or(0);
    (errors != failed).then(|| Violation {
        check: Check::SpanCompletion,
        subject: format!("spans `{name}`"),
        node: Some("client".into()),
        at: None,
        message: format!(
            "{errors} ended in error, but the client recorded {failed} of its {total} calls as \
             failed ({:?}): a request span's status must say how the request ended",
            run.outcomes
        ),
    })
}

/// The client span of each request a crash cut off must end in error. A
/// request whose server incarnation went down after receiving it, while its
/// attempt still waited, and whose attempt then got no reply (`timeout` or
/// `network_error`), failed for the caller: the span that sent that
/// attempt, if it stood for that attempt alone, must say so, or the trace
/// shows a success that never happened. The server's own span of it is lost
/// with the process, as in production.
fn cut_off_attempts(run: &Run) -> Vec<Violation> {
    let by_id: super::Lookup<(TraceId, SpanId), &SpanRecord> = run
        .spans
        .iter()
        .map(|span| ((span.trace_id, span.span_id), span))
        .collect();
    // Each offending span once (a duplicated request can be cut off twice),
    // in the order the requests arrived, with why.
    let mut hidden: Vec<&SpanRecord> = Vec::new();
    let mut why: BTreeMap<(TraceId, SpanId), String> = BTreeMap::new();
    for request in &run.requests {
        let Some(crashed_at) = run
            .incarnations
            .iter()
            .find(|i| *i.node == *request.node && i.number == request.incarnation)
            .and_then(|incarnation| incarnation.ended_at)
        else {
            continue; // never crashed: still serving when the run ended
        };
        let Some(call) = run.calls.get(request.call as usize) else {
            continue;
        };
        let Some(attempt) = call.attempts.iter().find(|a| a.number == request.attempt) else {
            continue;
        };
        // Cut off: the crash came while the attempt waited for its reply
        // (the request being handled, or its reply held by the network),
        // and no reply came.
        let waiting = attempt.ended_at.is_some_and(|ended| crashed_at <= ended);
        let no_reply = waiting
            && request.received_at <= crashed_at
            && matches!(attempt.outcome.as_deref(), Some(TIMEOUT | NETWORK_ERROR));
        let Some(sent_by) = attempt.span.as_ref().filter(|_| no_reply) else {
            continue;
        };
        // A span that sent several attempts stands for the call, which a
        // retry may have saved: only an attempt's own span is judged.
        let shared = call
            .attempts
            .iter()
            .filter(|other| other.span.as_ref() == Some(sent_by))
            .count()
            > 1;
        let Some(span) = by_id.get(&(sent_by.trace_id, sent_by.span_id)) else {
            continue; // lost with a crashed caller, or never ended: reported elsewhere
        };
        if shared || span.status.code() == "error" {
            continue;
        }
        let key = (span.trace_id, span.span_id);
        if why.contains_key(&key) {
            continue;
        }
        hidden.push(span);
        why.insert(
            key,
            format!(
                "sent attempt {} of call {} ({} {}) to {}, whose incarnation {} crashed at \
                 {:.9}s while the attempt waited, and the attempt got {}, but the span ended with \
                 status {}: the client span of a request a crash cut off must end in error, or \
                 the trace shows a success that never happened",
                attempt.number,
                call.id,
                attempt.method,
                call.operation,
                request.node,
                request.incarnation,
                crashed_at.as_secs_f64(),
                attempt.outcome.as_deref().unwrap_or("?"),
                span.status.code()
            ),
        );
    }
    span_violations(Check::SpanCompletion, hidden.into_iter(), |span| {
        why[&(span.trace_id, span.span_id)].clone()
    })
}
