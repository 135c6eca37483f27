//! Trace integrity: every exported span's parent exists in its trace, a
//! server span continues its caller's trace rather than starting one, and
//! each client request is exactly one connected trace under one request span.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::checks::{Check, Violation};
use crate::contract::Contract;
use crate::run::{Run, SpanRecord};

/// How many offending spans of one kind a violation lists before it counts.
const SPANS_LISTED_MAX: usize = 5;

pub fn trace_integrity(run: &Run, contract: &Contract) -> Vec<Violation> {
    let exported: BTreeSet<(&str, &str)> = run
        .spans
        .iter()
        .map(|span| (span.trace_id.as_str(), span.span_id.as_str()))
        .collect();
    let mut violations = Vec::new();
    violations.extend(listed(
        run.spans.iter().filter(|span| {
            span.parent_span_id
                .as_deref()
                .is_some_and(|parent| !exported.contains(&(span.trace_id.as_str(), parent)))
        }),
        |span| {
            format!(
                "names parent {} in trace {}, and no such span was exported in that trace: \
                 the trace has a hole (a parent that never ended, or a context from elsewhere)",
                span.parent_span_id.as_deref().unwrap_or("?"),
                span.trace_id
            )
        },
    ));
    violations.extend(listed(
        run.spans
            .iter()
            .filter(|span| span.kind == "server" && span.parent_span_id.is_none()),
        |span| {
            format!(
                "starts a new trace {}: a server span must continue its caller's trace. The \
                 trace context was lost across the network hop (not injected into, or not \
                 extracted from, the message)",
                span.trace_id
            )
        },
    ));
    if let Some(name) = &contract.request_span {
        violations.extend(requests(run, name));
    }
    violations
}

fn at(span: &SpanRecord) -> Duration {
    Duration::from_nanos(span.start_ns.max(0) as u64)
}

fn listed<'a>(
    spans: impl Iterator<Item = &'a SpanRecord>,
    message: impl Fn(&SpanRecord) -> String,
) -> Vec<Violation> {
    let spans: Vec<&SpanRecord> = spans.collect();
    let mut violations: Vec<Violation> = spans
        .iter()
        .take(SPANS_LISTED_MAX)
        .map(|span| Violation {
            check: Check::TraceIntegrity,
            subject: format!("span `{}` {}", span.name, span.span_id),
            node: span.origin.node.clone(),
            at: Some(at(span)),
            message: message(span),
        })
        .collect();
    if spans.len() > SPANS_LISTED_MAX {
        violations.push(Violation {
            check: Check::TraceIntegrity,
            subject: "spans".into(),
            node: None,
            at: None,
            message: format!("{} spans like these in all", spans.len()),
        });
    }
    violations
}

/// One trace per client request: as many request spans as the client
/// recorded calls, each the single root of its own trace.
fn requests(run: &Run, name: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    let calls: u64 = run.outcomes.values().sum();
    let request_spans: Vec<&SpanRecord> = run.spans.iter().filter(|s| s.name == name).collect();
    if request_spans.len() as u64 != calls {
        violations.push(Violation {
            check: Check::TraceIntegrity,
            subject: format!("spans `{name}`"),
            node: Some("client".into()),
            at: None,
            message: format!(
                "{} were exported, but the client recorded {calls} calls: each request must \
                 be exactly one request span",
                request_spans.len()
            ),
        });
    }
    let mut per_trace: BTreeMap<&str, usize> = BTreeMap::new();
    for span in &request_spans {
        *per_trace.entry(&span.trace_id).or_default() += 1;
    }
    violations.extend(listed(
        request_spans.iter().copied().filter(|span| {
            span.parent_span_id.is_some() || per_trace.get(span.trace_id.as_str()) > Some(&1)
        }),
        |span| {
            format!(
                "is not the single root of its own trace {}: two requests would read as one",
                span.trace_id
            )
        },
    ));
    violations
}
