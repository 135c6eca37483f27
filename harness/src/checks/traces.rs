//! Trace integrity: every exported span's parent exists in its trace, a
//! server span continues its caller's trace rather than starting one, and
//! each client request is exactly one connected trace under one request span.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Check, Violation};
use crate::run::{Contract, Run, SpanId, SpanRecord, TraceId};

/// How many offending spans of one kind a violation lists before it counts.
const SPANS_LISTED_MAX: usize = 5;

pub fn trace_integrity(run: &Run, contract: &Contract) -> Vec<Violation> {
    // A parent a crash lost is known, not missing: the real SDK in the
    // killed process never exported it, and its children exported before
    // the crash still name it (see `LostSpan`).
    let exported: BTreeSet<(TraceId, SpanId)> = run
        .spans
        .iter()
        .map(|span| (span.trace_id, span.span_id))
        .chain(
            run.lifecycle
                .lost
                .iter()
                .map(|lost| (lost.trace_id, lost.span_id)),
        )
        .collect();
    let mut violations = Vec::new();
    violations.extend(listed(
        run.spans.iter().filter(|span| {
            span.parent_span_id
                .is_some_and(|parent| !exported.contains(&(span.trace_id, parent)))
        }),
        |span| {
            format!(
                "names parent {} in trace {}, and no such span was exported in that trace: \
                 the trace has a hole (a parent that never ended, or a context from elsewhere)",
                span.parent_span_id
                    .map_or("?".to_string(), |id| id.to_string()),
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

/// Where a span started, as a violation's time.
pub(crate) fn at(span: &SpanRecord) -> Duration {
    Duration::from_nanos(span.start_ns.max(0) as u64)
}

fn listed<'a>(
    spans: impl Iterator<Item = &'a SpanRecord>,
    message: impl Fn(&SpanRecord) -> String,
) -> Vec<Violation> {
    span_violations(Check::TraceIntegrity, spans, message)
}

/// One violation per span for the first few, then one that counts them all:
/// the first spans are the ones to read, and a hundred more would bury them.
pub(crate) fn span_violations<'a>(
    check: Check,
    spans: impl Iterator<Item = &'a SpanRecord>,
    message: impl Fn(&SpanRecord) -> String,
) -> Vec<Violation> {
    let spans: Vec<&SpanRecord> = spans.collect();
    let mut violations: Vec<Violation> = spans
        .iter()
        .take(SPANS_LISTED_MAX)
        .map(|span| Violation {
            check,
            subject: format!(
                "span `{}` {} ({})",
                span.name,
                span.span_id,
                span.status.code()
            ),
            node: span.origin.node.clone(),
            at: Some(at(span)),
            message: message(span),
        })
        .collect();
    if spans.len() > SPANS_LISTED_MAX {
        violations.push(Violation {
            check,
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
    let mut per_trace: BTreeMap<TraceId, usize> = BTreeMap::new();
    for span in &request_spans {
        *per_trace.entry(span.trace_id).or_default() += 1;
    }
    violations.extend(listed(
        request_spans.iter().copied().filter(|span| {
            span.parent_span_id.is_some() || per_trace.get(&span.trace_id) > Some(&1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::lint::tests::run_with_finals;
    use crate::run::SpanStatus;

    fn span(trace: u128, id: u64, parent: Option<u64>, name: &str, kind: &str) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId(trace),
            span_id: SpanId(id),
            parent_span_id: parent.map(SpanId),
            name: name.into(),
            kind: kind.into(),
            origin: Default::default(),
            start_ns: 0,
            end_ns: 1,
            status: SpanStatus::Unset,
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    /// A request's root span `root`, its client span `root + 1` and the
    /// server span `root + 2` under that.
    fn request(trace: u128, root: u64) -> Vec<SpanRecord> {
        vec![
            span(trace, root, None, "request", "internal"),
            span(trace, root + 1, Some(root), "invoke", "client"),
            span(trace, root + 2, Some(root + 1), "invoke", "server"),
        ]
    }

    fn run(spans: Vec<SpanRecord>, calls: u64) -> Run {
        let mut run = run_with_finals(&[]);
        run.spans = spans;
        run.outcomes.insert("ok".into(), calls);
        run
    }

    #[test]
    fn connected_request_traces_pass() {
        let spans = [request(1, 0xa0), request(2, 0xb0)].concat();
        let contract = Contract::new().request_span("request");
        assert_eq!(trace_integrity(&run(spans, 2), &contract), Vec::new());
    }

    #[test]
    fn a_parent_missing_from_the_trace_is_a_hole() {
        let mut spans = request(1, 0xa0);
        spans[2].trace_id = TraceId(9);
        let violations = trace_integrity(&run(spans, 1), &Contract::new());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("the trace has a hole"));
    }

    #[test]
    fn two_requests_in_one_trace_are_reported() {
        let spans = [request(1, 0xa0), request(1, 0xb0)].concat();
        let contract = Contract::new().request_span("request");
        let violations = trace_integrity(&run(spans, 2), &contract);
        assert!(
            violations
                .iter()
                .any(|v| v.message.contains("not the single root of its own trace")),
            "{violations:?}"
        );
    }
}
