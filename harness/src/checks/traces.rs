//! Trace integrity: every exported span's parent exists in its trace, a
//! server span continues its caller's trace rather than starting one, and
//! each client request is exactly one connected trace under one request span.

use std::collections::BTreeMap;
use std::time::Duration;

use super::pauses::Pauses;
use super::{Check, Violation};
use crate::run::{Contract, Run, SpanId, SpanRecord, TraceId};

/// How many offending spans of one kind a violation lists before it counts.
const SPANS_LISTED_MAX: usize = 5;

pub fn trace_integrity(run: &Run, contract: &Contract) -> Vec<Violation> {
    // A parent a crash lost is known, not missing: the real SDK in the
    // killed process never exported it, and its children exported before
    // the crash still name it (see `LostSpan`).
    let exported: super::LookupSet<(TraceId, SpanId)> = run
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
        run.spans.iter().filter(|span| {
            span.kind == "server" && span.parent_span_id.is_none() && !is_scrape(span, contract)
        }),
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
    violations.extend(client_server(run, contract));
    violations
}

/// A server span of a scrape of the service's own metrics route:
/// Prometheus sends no trace context, so it may start a trace.
fn is_scrape(span: &SpanRecord, contract: &Contract) -> bool {
    let Some(route) = &contract.metrics_route else {
        return false;
    };
    ["http.route", "url.path"]
        .iter()
        .any(|key| span.attribute(key) == Some(route.path.as_str()))
}

/// Each client span and the server spans under it, on any transport:
/// - one request reaches one server, so a client span has at most one
///   server-kind child, unless the contract says it fans out;
/// - the server work starts after the client span that sent it started;
/// - when the client span got its answer (it ended without error), the
///   server work ended before it, within the scheduling slack: the reply
///   is sent when the work is done. An attempt that timed out or failed may
///   well be outlived by its server work (the request arrived late, or the
///   reply was lost), so its end says nothing. Time the server's node spent
///   paused after the answer does not count: a process frozen between
///   sending its reply and closing its span closes it when it resumes.
///
/// A retry that reuses the first attempt's trace context breaks the first
/// rule whenever the first attempt reached a server, and the third when the
/// first attempt succeeded in all but its answer.
fn client_server(run: &Run, contract: &Contract) -> Vec<Violation> {
    let clients: super::Lookup<(TraceId, SpanId), &SpanRecord> = run
        .spans
        .iter()
        .filter(|span| span.kind == "client")
        .map(|span| ((span.trace_id, span.span_id), span))
        .collect();
    let delivered = deliveries(run);
    let pauses = Pauses::of(run);
    // Server children by client parent: exported ones, and the ones a crash
    // lost, by where they ran and when they started.
    let mut children: BTreeMap<(TraceId, SpanId), Vec<(String, i64)>> = BTreeMap::new();
    let mut misplaced: Vec<&SpanRecord> = Vec::new();
    let slack = crate::run::SCHEDULING_SLACK.as_nanos() as i64;
    for span in run.spans.iter().filter(|span| span.kind == "server") {
        let Some(parent) = span.parent_span_id else {
            continue;
        };
        let Some(client) = clients.get(&(span.trace_id, parent)) else {
            continue;
        };
        let node = span.origin.node.as_deref().unwrap_or_default();
        children
            .entry((span.trace_id, parent))
            .or_default()
            .push((node.to_string(), span.start_ns));
        let answered = !matches!(client.status, crate::run::SpanStatus::Error(_));
        let copies = delivered
            .get(&(span.trace_id, parent))
            .copied()
            .unwrap_or(1);
        let paused = pauses.within_ns(node, client.end_ns, span.end_ns);
        let overdue_ns = span.end_ns - client.end_ns - paused;
        let late = answered && copies < 2 && overdue_ns > slack;
        if span.start_ns < client.start_ns || late {
            misplaced.push(span);
        }
    }
    for lost in run
        .lifecycle
        .lost
        .iter()
        .filter(|lost| lost.kind == "server")
    {
        if let Some(parent) = lost.parent_span_id {
            if clients.contains_key(&(lost.trace_id, parent)) {
                let entry = children.entry((lost.trace_id, parent)).or_default();
                entry.push((format!("{} (lost with a crash)", lost.node), lost.start_ns));
            }
        }
    }
    let mut violations = listed(misplaced.into_iter(), |span| {
        let parent = span.parent_span_id.map(|parent| (span.trace_id, parent));
        parent
            .and_then(|key| clients.get(&key))
            .map_or_else(String::new, |client| misplacement(span, client))
    });
    let crowded = children.iter().filter(|(key, servers)| {
        let copies = delivered.get(*key).copied().unwrap_or(1).max(1);
        servers.len() > copies && !contract.fan_out.contains(&clients[*key].name)
    });
    violations.extend(listed(
        crowded.clone().map(|(key, _)| clients[key]),
        |client| {
            let servers = &children[&(client.trace_id, client.span_id)];
            let list: Vec<String> = servers
                .iter()
                .map(|(node, start)| format!("{node} at {}", seconds(*start)))
                .collect();
            format!(
                "has {} server spans under it ({}), but one request reaches one server: the \
                 others are work of other requests filed under this one. A retry that reuses \
                 the first attempt's trace context does this. A client span that really sends \
                 to several servers is declared with `Contract::fan_out(\"{}\")`",
                servers.len(),
                list.join(", "),
                client.name
            )
        },
    ));
    violations
}

/// Why server work `span` does not fit in time in its parent `client`:
/// it started before the client span, or outlived its answer.
fn misplacement(span: &SpanRecord, client: &SpanRecord) -> String {
    if span.start_ns < client.start_ns {
        format!(
            "started at {}, before its parent client span `{}` {} started at {}: work cannot \
             start before the request that asked for it was sent. Its trace context came from \
             another request",
            seconds(span.start_ns),
            client.name,
            client.span_id,
            seconds(client.start_ns)
        )
    } else {
        format!(
            "ended at {}, after its parent client span `{}` {} had its answer and ended ok at \
             {}: a server replies when its work is done, so this work answered some other \
             request. A retry that reuses an earlier attempt's trace context files its work \
             here; or the server span ends long after it replied",
            seconds(span.end_ns),
            client.name,
            client.span_id,
            seconds(client.end_ns)
        )
    }
}

/// How many times obsim's typed network delivered the request each client
/// span sent, where it delivered one more than once (a duplicated
/// message): each copy is served, so each may have its server span.
fn deliveries(run: &Run) -> BTreeMap<(TraceId, SpanId), usize> {
    let mut copies: BTreeMap<(u64, u32), usize> = BTreeMap::new();
    for request in &run.requests {
        *copies.entry((request.call, request.attempt)).or_default() += 1;
    }
    let mut delivered = BTreeMap::new();
    for call in &run.calls {
        for attempt in &call.attempts {
            let n = copies.get(&(call.id, attempt.number)).copied().unwrap_or(0);
            if let (Some(span), true) = (&attempt.span, n > 1) {
                let entry = delivered.entry((span.trace_id, span.span_id)).or_default();
                *entry += n;
            }
        }
    }
    delivered
}

/// `1.234567890s`.
fn seconds(ns: i64) -> String {
    format!("{:.9}s", ns as f64 / 1e9)
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
    use obsim_faults::FaultKind;

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

    /// A client attempt `id` on the client and the server span under it,
    /// with times in ms.
    fn attempt(id: u64, parent: u64, client: (i64, i64), server: (i64, i64)) -> Vec<SpanRecord> {
        let mut sent = span(1, id, Some(parent), "GET", "client");
        (sent.start_ns, sent.end_ns) = (client.0 * 1_000_000, client.1 * 1_000_000);
        let mut served = span(1, id + 1, Some(id), "GET /x", "server");
        (served.start_ns, served.end_ns) = (server.0 * 1_000_000, server.1 * 1_000_000);
        vec![sent, served]
    }

    #[test]
    fn a_retry_that_reuses_the_first_attempts_context_gives_it_two_server_spans() {
        let mut spans = vec![span(1, 1, None, "task", "internal")];
        spans.extend(attempt(10, 1, (0, 300), (5, 400)));
        spans[1].status = SpanStatus::Error("timed out".into());
        // The retry's own client span, but its server work names attempt 10.
        let mut retry = attempt(20, 1, (300, 320), (305, 315));
        retry[1].parent_span_id = Some(SpanId(10));
        spans.extend(retry);
        let violations = client_server(&run(spans, 1), &Contract::new());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("has 2 server spans under it"));
        let fanned = Contract::new().fan_out("GET");
        assert_eq!(client_server(&run(run_spans_again(), 1), &fanned), []);
    }

    fn run_spans_again() -> Vec<SpanRecord> {
        let mut spans = attempt(10, 1, (0, 300), (5, 250));
        let mut second = attempt(20, 1, (0, 300), (6, 200));
        second[1].parent_span_id = Some(SpanId(10));
        spans.push(second.remove(1));
        spans
    }

    #[test]
    fn server_work_that_outlives_an_answered_client_span_answered_another_request() {
        let late = attempt(10, 1, (0, 20), (5, 25));
        let violations = client_server(&run(late, 1), &Contract::new());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("had its answer and ended ok"));
        // A timed-out attempt may be outlived: the request arrived late.
        let mut timed_out = attempt(10, 1, (0, 20), (5, 25));
        timed_out[0].status = SpanStatus::Error("timed out".into());
        assert_eq!(client_server(&run(timed_out, 1), &Contract::new()), []);
        // Work that starts before its request was sent is never right.
        let early = attempt(10, 1, (10, 20), (5, 15));
        let violations = client_server(&run(early, 1), &Contract::new());
        assert!(violations[0]
            .message
            .contains("before its parent client span"));
    }

    /// A fault log entry pausing (or resuming) `node` at `ms`.
    fn pause_event(kind: FaultKind, node: &str, ms: u64) -> obsim_faults::FaultEvent {
        obsim_faults::FaultEvent {
            at: Duration::from_millis(ms),
            kind,
            target: node.into(),
            detail: String::new(),
        }
    }

    /// Swarm seeds 3861 and 5487 of the actor runtime: the server sent its
    /// reply, its node paused before the span closed, and the span closed
    /// at the resume, 0.7 s after the client had its answer.
    #[test]
    fn server_work_that_outlives_its_answer_only_while_its_node_was_paused_is_in_place() {
        let mut spans = attempt(10, 1, (0, 20), (5, 700));
        spans[1].origin.node = Some("server-0".into());
        let mut paused = run(spans.clone(), 1);
        paused.faults = vec![
            pause_event(FaultKind::NodePause, "server-0", 6),
            pause_event(FaultKind::NodeResume, "server-0", 700),
        ];
        assert_eq!(client_server(&paused, &Contract::new()), []);
        // Still paused when the run ended: the same.
        paused.faults.pop();
        paused.ended_at = Duration::from_millis(700);
        assert_eq!(client_server(&paused, &Contract::new()), []);
        // A pause shorter than the overrun leaves the rest of it unexplained.
        let mut short = run(spans.clone(), 1);
        short.faults = vec![
            pause_event(FaultKind::NodePause, "server-0", 100),
            pause_event(FaultKind::NodeResume, "server-0", 200),
        ];
        let violations = client_server(&short, &Contract::new());
        assert_eq!(violations.len(), 1, "{violations:?}");
        // Another node's pause explains nothing.
        let mut elsewhere = run(spans, 1);
        elsewhere.faults = vec![pause_event(FaultKind::NodePause, "server-1", 6)];
        elsewhere.ended_at = Duration::from_millis(700);
        assert_eq!(client_server(&elsewhere, &Contract::new()).len(), 1);
    }
}
