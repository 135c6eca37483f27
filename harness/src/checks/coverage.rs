//! Every operation has its span, covering it. The ledger keeps, with each
//! storage operation, dependency call and answered request, the span that
//! was current as it ran. That span must be the operation's own (a storage
//! span naming the operation, a dependency span naming it, a server span),
//! used by no other operation, open from before the operation started until
//! after it ended, and for dependency calls and requests, in error exactly
//! when the operation failed. A code path that forgets its span, or a span
//! that closes before its write commits, fails here with the operation's
//! node and time.

use std::time::Duration;

use super::{Check, Lookup, Violation};
use crate::run::{
    Contract, Run, SpanId, SpanRecord, SpanRef, SpanStatus, TraceId, SCHEDULING_SLACK,
};

/// How many uncovered operations of one kind are described before the rest
/// are counted.
const LISTED_MAX: usize = 5;

/// What an operation is, worded only for a violation: every operation of
/// a run is judged, and few are reported.
#[derive(Clone, Copy)]
enum What<'a> {
    /// `storage put`.
    Storage(&'a str),
    /// `dependency llm complete`.
    Dependency(&'a str, &'a str),
    /// `request Invoke (get)`.
    Request(&'a str, &'a str),
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Storage(word) => write!(f, "storage {word}"),
            What::Dependency(dependency, operation) => {
                write!(f, "dependency {dependency} {operation}")
            }
            What::Request(method, operation) => write!(f, "request {method} ({operation})"),
        }
    }
}

/// One operation from the ledger, as this check needs it.
struct Op<'a> {
    what: What<'a>,
    node: &'a str,
    started: Duration,
    ended: Duration,
    /// Some(failed) when the span's status must say so; None: not judged.
    failed: Option<bool>,
    /// How long after `started` the span may start: [`SCHEDULING_SLACK`]
    /// for a request, whose handler runs on a later poll than its receipt.
    slack: Duration,
    span: Option<&'a SpanRef>,
}

/// Exported spans by (trace, span id), and their children by (trace,
/// parent id).
struct Spans<'a> {
    by_id: Lookup<(TraceId, SpanId), &'a SpanRecord>,
    children: Lookup<(TraceId, SpanId), Vec<&'a SpanRecord>>,
}

impl<'a> Spans<'a> {
    fn new(run: &'a Run) -> Spans<'a> {
        let mut spans = Spans {
            by_id: Lookup::with_capacity_and_hasher(run.spans.len(), Default::default()),
            children: Lookup::default(),
        };
        for span in &run.spans {
            let trace = span.trace_id;
            spans.by_id.insert((trace, span.span_id), span);
            if let Some(parent) = &span.parent_span_id {
                let siblings = spans.children.entry((trace, *parent));
                siblings.or_default().push(span);
            }
        }
        spans
    }
}

pub(super) fn span_coverage(run: &Run, contract: &Contract) -> Vec<Violation> {
    let spans = Spans::new(run);
    let mut violations = Vec::new();
    if let Some(attribute) = &contract.storage_span_operation {
        let ops = run.storage_ops.iter().map(|op| {
            let word = contract.storage_word(op.operation);
            let own = move |span: &SpanRecord| span.attribute(attribute) == Some(word);
            let op = Op {
                what: What::Storage(word),
                node: &op.node,
                started: op.started_at,
                ended: op.ended_at,
                // span_status already matches storage spans to failures.
                failed: None,
                slack: Duration::ZERO,
                span: op.span.as_ref(),
            };
            (op, own)
        });
        violations.extend(judge(&spans, ops));
    }
    if let Some(attribute) = &contract.dependency_span_operation {
        let ops = run.dependency_calls.iter().map(|call| {
            let operation = call.operation.as_str();
            let own = move |span: &SpanRecord| span.attribute(attribute) == Some(operation);
            let op = Op {
                what: What::Dependency(&call.dependency, operation),
                node: &call.node,
                started: call.started_at,
                ended: call.ended_at,
                failed: Some(call.failure.is_some()),
                slack: Duration::ZERO,
                span: call.span.as_ref(),
            };
            (op, own)
        });
        violations.extend(judge(&spans, ops));
    }
    if contract.request_span.is_some() {
        let answered = run.requests.iter().filter_map(|request| {
            let replied = request.replied_at?;
            let failed = match request.status.as_deref() {
                Some("ok") => Some(false),
                Some("error") => Some(true),
                _ => None,
            };
            let op = Op {
                what: What::Request(&request.method, &request.operation),
                node: &request.node,
                started: request.received_at,
                ended: replied,
                failed,
                slack: SCHEDULING_SLACK,
                span: request.span.as_ref(),
            };
            Some((op, |span: &SpanRecord| span.kind == "server"))
        });
        violations.extend(judge(&spans, answered));
    }
    violations
}

/// The violations of one kind of operation, at most [`LISTED_MAX`] described.
fn judge<'a, F: Fn(&SpanRecord) -> bool>(
    spans: &Spans<'a>,
    ops: impl Iterator<Item = (Op<'a>, F)>,
) -> Vec<Violation> {
    let mut claimed: Lookup<&SpanRef, Duration> = Lookup::default();
    let mut violations = Vec::new();
    let mut found = 0usize;
    let mut first_what = String::new();
    for (op, own) in ops {
        let Some(problem) = problem(spans, &mut claimed, &op, &own) else {
            continue;
        };
        found += 1;
        if found == 1 {
            first_what = op.what.to_string();
        }
        if found <= LISTED_MAX {
            violations.push(Violation {
                check: Check::SpanCompletion,
                subject: op.what.to_string(),
                node: Some(op.node.to_string()),
                at: Some(op.started),
                message: problem,
            });
        }
    }
    if found > LISTED_MAX {
        violations.push(Violation {
            check: Check::SpanCompletion,
            subject: first_what,
            node: None,
            at: None,
            message: format!(
                "and {} more operations like these without a span that covers them",
                found - LISTED_MAX
            ),
        });
    }
    violations
}

/// What is wrong with `op`'s span; None if it is its own, alone, covers it
/// and says how it went.
fn problem<'a>(
    spans: &Spans<'a>,
    claimed: &mut Lookup<&'a SpanRef, Duration>,
    op: &Op<'a>,
    own: &impl Fn(&SpanRecord) -> bool,
) -> Option<String> {
    // Formatted only into a violation: every operation of a run is judged.
    let interval = Interval(op.started, op.ended);
    let Some(current) = op.span else {
        return Some(format!(
            "ran {interval} outside any span: this code path has no span for it"
        ));
    };
    let key = (current.trace_id, current.span_id);
    // A span never exported is span_completion's to report.
    let span = spans.by_id.get(&key)?;
    if !own(span) {
        return Some(not_own(spans, span, op, own, &interval));
    }
    if let Some(other) = claimed.insert(current, op.started) {
        return Some(format!(
            "ran {interval} inside span `{}`, which already stood for another operation (at \
             {:.9}s): each operation needs a span of its own",
            span.name,
            other.as_secs_f64()
        ));
    }
    let (start, end) = (seconds(span.start_ns), seconds(span.end_ns));
    if span.end_ns < op.ended.as_nanos() as i64 {
        return Some(format!(
            "ran {interval}, but its span `{}` closed at {end:.9}s, before the operation \
             finished: the span times less than the work",
            span.name
        ));
    }
    let late_ns = span.start_ns - op.started.as_nanos() as i64;
    if late_ns > op.slack.as_nanos() as i64 {
        return Some(format!(
            "ran {interval}, but its span `{}` only started at {start:.9}s, {} after the \
             operation began{}",
            span.name,
            nanos(late_ns),
            if op.slack.is_zero() {
                String::new()
            } else {
                format!(
                    " (a handler's span may start up to {} after obsim received the request, \
                     for the tasks madsim polls in between)",
                    nanos(op.slack.as_nanos() as i64)
                )
            }
        ));
    }
    let in_error = matches!(span.status, SpanStatus::Error(_));
    match op.failed {
        Some(true) if !in_error => Some(format!(
            "failed ({interval}), but its span `{}` ended with status {}",
            span.name,
            span.status.code()
        )),
        Some(false) if in_error => Some(format!(
            "succeeded ({interval}), but its span `{}` ended in error",
            span.name
        )),
        _ => None,
    }
}

/// Why a span that is not the operation's own was current: the operation's
/// span closed before it ran, or there was none.
fn not_own(
    spans: &Spans<'_>,
    current: &SpanRecord,
    op: &Op<'_>,
    own: &impl Fn(&SpanRecord) -> bool,
    interval: &Interval,
) -> String {
    let started = op.started.as_nanos() as i64;
    let ended = op.ended.as_nanos() as i64;
    let key = (current.trace_id, current.span_id);
    let children = spans.children.get(&key).map_or(&[][..], Vec::as_slice);
    let closed_early = children
        .iter()
        // Closed by the time the operation began, and before it ended: a
        // span still open at its end merely was not entered around it.
        .find(|span| {
            own(span) && span.start_ns <= started && span.end_ns <= started && span.end_ns < ended
        });
    match closed_early {
        Some(early) => format!(
            "ran {interval} under `{}`: its own span `{}` had already closed at {:.9}s, before \
             the operation ran (created and ended around building the work, not around \
             awaiting it)",
            current.name,
            early.name,
            seconds(early.end_ns)
        ),
        None => format!(
            "ran {interval} directly under span `{}`, with no span of its own: this code path \
             has no span for it",
            current.name
        ),
    }
}

/// `from 1.000000000s to 1.250000000s`: when an operation ran.
struct Interval(Duration, Duration);

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Interval(started, ended) = self;
        write!(
            f,
            "from {:.9}s to {:.9}s",
            started.as_secs_f64(),
            ended.as_secs_f64()
        )
    }
}

fn seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// `340 ns`, `12.5 µs`, `3.2 ms`: a gap a person can read.
fn nanos(ns: i64) -> String {
    let abs = ns.unsigned_abs() as f64;
    if abs < 1e3 {
        format!("{ns} ns")
    } else if abs < 1e6 {
        format!("{} µs", ns as f64 / 1e3)
    } else {
        format!("{} ms", ns as f64 / 1e6)
    }
}
