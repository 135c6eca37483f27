//! The traces a failure involves as waterfalls, as Jaeger draws them: each
//! span a row, indented under its parent, its bar placed on the trace's own
//! time axis, with node, kind, status and attributes. The spans the claims
//! name are highlighted, and a claim's instant within the trace is marked.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use maud::{html, Markup};

use super::model::{Seed, Span, Status};
use super::timeline::secs;

/// Rows per trace; the page says how many were left out.
pub(super) const SPANS_MAX: usize = 300;
/// Attributes listed per span.
const ATTRIBUTES_MAX: usize = 40;

/// The trace's spans in tree order (each parent before its children, both
/// by start time), with their depth. Spans whose parent is not in the
/// trace (lost, or on a node that exported nothing) start trees of their
/// own.
fn tree<'a>(spans: &[&'a Span]) -> Vec<(usize, &'a Span)> {
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: BTreeMap<Option<&str>, Vec<&'a Span>> = BTreeMap::new();
    for span in spans {
        let parent = span.parent_id.as_deref().filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(span);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| (a.start_ns, &a.span_id).cmp(&(b.start_ns, &b.span_id)));
    }
    let mut out = Vec::new();
    let mut stack: Vec<(usize, &'a Span)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|s| (0, *s)).collect())
        .unwrap_or_default();
    while let Some((depth, span)) = stack.pop() {
        out.push((depth, span));
        if let Some(kids) = children.get(&Some(span.span_id.as_str())) {
            stack.extend(kids.iter().rev().map(|kid| (depth + 1, *kid)));
        }
    }
    out
}

fn status(span: &Span) -> (&'static str, String) {
    match &span.status {
        Status::Unset => ("unset", "unset".into()),
        Status::Ok => ("ok", "ok".into()),
        Status::Error(message) if message.is_empty() => ("error", "error".into()),
        Status::Error(message) => ("error", format!("error: {message}")),
    }
}

fn relative(ns: i128, origin_ns: i128) -> Duration {
    Duration::from_nanos((ns - origin_ns).clamp(0, u64::MAX as i128) as u64)
}

pub(super) fn waterfalls(
    seed: &Seed,
    traces: &[String],
    highlighted: &BTreeSet<String>,
    claims: &[Option<Duration>],
    origin_ns: i128,
) -> Markup {
    html! {
        @for trace in traces {
            (waterfall(seed, trace, highlighted, claims, origin_ns))
        }
    }
}

fn waterfall(
    seed: &Seed,
    trace: &str,
    highlighted: &BTreeSet<String>,
    claims: &[Option<Duration>],
    origin_ns: i128,
) -> Markup {
    let spans: Vec<&Span> = seed.spans.iter().filter(|s| s.trace_id == trace).collect();
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans
        .iter()
        .map(|s| s.end_ns)
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let width = (end - start) as f64;
    let place = |ns: i128| ((ns - start) as f64 / width * 100.0).clamp(0.0, 100.0);
    let rows = tree(&spans);
    let marks: Vec<(usize, f64)> = claims
        .iter()
        .enumerate()
        .filter_map(|(index, at)| {
            let ns = origin_ns + at.as_ref()?.as_nanos() as i128;
            (start..=end).contains(&ns).then(|| (index, place(ns)))
        })
        .collect();
    html! {
        section.trace id=(format!("trace-{trace}")) {
            h3 {
                "trace " code { (trace) } " — " (spans.len()) " span(s), "
                (secs(relative(start, origin_ns))) " to " (secs(relative(end, origin_ns)))
            }
            @if rows.len() > SPANS_MAX {
                p.note { (rows.len() - SPANS_MAX) " more span(s) of this trace are in traces.otlp.json." }
            }
            div.waterfall {
                @for (depth, span) in rows.iter().take(SPANS_MAX) {
                    @let (status_class, status_text) = status(span);
                    @let at_fault = highlighted.contains(&span.span_id);
                    div class={"span-row " (status_class) @if at_fault { " at-fault" }} id=(format!("span-{}", span.span_id)) {
                        div.span-name style=(format!("padding-left:{}px", 6 + 14 * depth.min(&30))) {
                            details {
                                summary {
                                    @if at_fault { strong { "▶ " } }
                                    (span.name)
                                    span.muted { " " (span.node.as_deref().unwrap_or("?")) " · " (span.kind) " · " (status_text) }
                                }
                                table.attributes {
                                    tr { th { "span id" } td { code { (span.span_id) } } }
                                    @for (key, value) in span.attributes.iter().take(ATTRIBUTES_MAX) {
                                        tr { th { (key) } td { (value) } }
                                    }
                                    @for (at, name) in &span.events {
                                        tr { th { "event at " (secs(relative(*at, origin_ns))) } td { (name) } }
                                    }
                                }
                            }
                        }
                        div.span-track {
                            @for (index, left) in &marks {
                                a.span-violation href=(format!("#claim-{index}")) style=(format!("left:{left:.3}%")) {}
                            }
                            div.span-bar style=(format!("left:{:.3}%;width:{:.3}%", place(span.start_ns), (place(span.end_ns) - place(span.start_ns)).max(0.3)))
                                title=(format!("{} to {}", secs(relative(span.start_ns, origin_ns)), secs(relative(span.end_ns, origin_ns)))) {}
                            span.span-duration { (duration(span)) }
                        }
                    }
                }
            }
        }
    }
}

fn duration(span: &Span) -> String {
    let ns = (span.end_ns - span.start_ns).max(0) as f64;
    if ns >= 1e9 {
        format!("{:.3}s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.1}µs", ns / 1e3)
    }
}
