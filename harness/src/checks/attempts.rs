//! Each attempt's server work under that very attempt. obsim's network
//! records the span that sent each attempt and the span that replied to
//! each request it delivered. The reply's span must descend from the
//! attempt's client span: being somewhere in the same trace is not enough,
//! since a retry that reuses the first attempt's context files its server
//! work under the wrong attempt, and a reader of the trace then blames the
//! attempt that never reached the server.

use super::{Check, Violation};
use crate::run::{Run, SpanId, SpanRecord, SpanRef, TraceId};

/// How many misplaced attempts are described before the rest are counted.
const LISTED_MAX: usize = 5;
/// Each span's parent, by (trace, span id).
type Parents = super::Lookup<(TraceId, SpanId), Option<SpanId>>;

/// Ancestors walked from a reply's span before giving up: a trace deeper
/// than this is itself a bug, and a cycle must not hang the check.
const DEPTH_MAX: usize = 256;

pub(super) fn attempt_parentage(run: &Run) -> Vec<Violation> {
    let spans: super::Lookup<(TraceId, SpanId), &SpanRecord> = run
        .spans
        .iter()
        .map(|span| ((span.trace_id, span.span_id), span))
        .collect();
    // Every span's parent, the spans a crash lost included: a reply sent
    // just before a crash is under a server span that was never exported,
    // and its ancestry still says which attempt it served.
    let parents: Parents = run
        .spans
        .iter()
        .map(|span| ((span.trace_id, span.span_id), span.parent_span_id))
        .chain(
            run.lifecycle
                .lost
                .iter()
                .map(|lost| ((lost.trace_id, lost.span_id), lost.parent_span_id)),
        )
        .collect();
    // Which attempt each client span sent, to name a wrong one.
    let mut senders: super::Lookup<&SpanRef, (u64, u32)> = super::Lookup::default();
    for call in &run.calls {
        for attempt in &call.attempts {
            if let Some(span) = &attempt.span {
                senders.entry(span).or_insert((call.id, attempt.number));
            }
        }
    }
    let mut violations = Vec::new();
    let mut misplaced = 0usize;
    for request in &run.requests {
        let Some(reply_span) = &request.span else {
            continue; // span coverage reports a request served outside any span
        };
        let Some(call) = run.calls.get(request.call as usize) else {
            continue;
        };
        let attempt = call.attempts.iter().find(|a| a.number == request.attempt);
        let Some(sent_by) = attempt.and_then(|attempt| attempt.span.as_ref()) else {
            continue; // an attempt sent outside any span has nothing to be under
        };
        let Some(problem) = misplacement(&parents, &senders, reply_span, sent_by, request.call)
        else {
            continue;
        };
        misplaced += 1;
        if misplaced > LISTED_MAX {
            continue;
        }
        let server_span = spans.get(&(reply_span.trace_id, reply_span.span_id));
        violations.push(Violation {
            check: Check::TraceIntegrity,
            subject: server_span.map_or_else(
                || format!("span {}", reply_span.span_id),
                |span| format!("span `{}`", span.name),
            ),
            node: Some(request.node.to_string()),
            at: Some(request.received_at),
            message: format!(
                "served attempt {} of call {} ({} {} from {}), but {problem}",
                request.attempt, request.call, request.method, request.operation, call.node
            ),
        });
    }
    if misplaced > LISTED_MAX {
        violations.push(Violation {
            check: Check::TraceIntegrity,
            subject: "attempts".into(),
            node: None,
            at: None,
            message: format!(
                "and {} more requests served outside the attempt that sent them",
                misplaced - LISTED_MAX
            ),
        });
    }
    violations
}

/// Why the span that replied is not under the span that sent the attempt;
/// None when it is.
fn misplacement(
    parents: &Parents,
    senders: &super::Lookup<&SpanRef, (u64, u32)>,
    reply_span: &SpanRef,
    sent_by: &SpanRef,
    call: u64,
) -> Option<String> {
    if reply_span.trace_id != sent_by.trace_id {
        return Some(format!(
            "its server work is in trace {}, not in trace {} of the client span that sent it: \
             the trace context did not travel with this attempt",
            reply_span.trace_id, sent_by.trace_id
        ));
    }
    let trace = reply_span.trace_id;
    let mut current = reply_span.span_id;
    for _ in 0..DEPTH_MAX {
        if current == sent_by.span_id {
            return None;
        }
        let candidate = SpanRef {
            trace_id: trace,
            span_id: current,
        };
        if let Some((other_call, other_attempt)) = senders.get(&candidate) {
            let whose = if *other_call == call {
                format!("attempt {other_attempt} of the same call")
            } else {
                format!("attempt {other_attempt} of call {other_call}")
            };
            return Some(format!(
                "its server work is under client span {current}, which sent {whose}, not \
                 under span {} that sent this attempt: a retry reused an earlier attempt's \
                 trace context, so the trace shows the retry's work under the wrong attempt",
                sent_by.span_id
            ));
        }
        let parent = parents.get(&(trace, current)).copied().flatten();
        match parent {
            Some(parent) => current = parent,
            None => break,
        }
    }
    Some(format!(
        "its server work is not under span {} that sent the attempt, though in the same \
         trace {trace}",
        sent_by.span_id
    ))
}
