//! What the failure is about: the metric families, traces and spans its
//! claims name. Only names and ids the run really exported count, so a
//! word in a message that happens to look like an id picks nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::model::{Claim, Log, Seed, Span};

/// At most this many families get a chart.
pub(super) const FAMILIES_MAX: usize = 4;
/// At most this many traces get a waterfall.
pub(super) const TRACES_MAX: usize = 4;
/// At most this many log events are listed.
pub(super) const LOGS_MAX: usize = 200;
/// Log events this close to a claim's instant on its node are listed.
const LOG_WINDOW: Duration = Duration::from_secs(1);

/// Histogram and summary sample suffixes: a sample name with one names its
/// family without it.
const SUFFIXES: [&str; 5] = ["_bucket", "_count", "_sum", "_gcount", "_gsum"];

/// Words that could be metric names, in order, each once.
fn words(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    for word in text.split(|c: char| !is_word(c)) {
        if !word.is_empty() && !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

fn family_of<'a>(word: &'a str, names: &BTreeSet<String>) -> Option<&'a str> {
    if names.contains(word) {
        return Some(word);
    }
    SUFFIXES
        .iter()
        .filter_map(|suffix| word.strip_suffix(suffix))
        .find(|stem| names.contains(*stem))
}

/// The families the claims name: those in a claim's subject first, then
/// those its message names, at most [`FAMILIES_MAX`], in that order.
pub(super) fn families(claims: &[Claim], names: &BTreeSet<String>) -> Vec<String> {
    let mut picked: Vec<&str> = Vec::new();
    let texts = claims
        .iter()
        .map(|claim| claim.subject.as_str())
        .chain(claims.iter().map(|claim| claim.message.as_str()));
    for text in texts {
        for word in words(text) {
            if let Some(family) = family_of(word, names) {
                if !picked.contains(&family) && picked.len() < FAMILIES_MAX {
                    picked.push(family);
                }
            }
        }
    }
    picked.into_iter().map(str::to_string).collect()
}

/// Hex words of `len` characters in `text`.
fn hex_words(text: &str, len: usize) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(move |word| word.len() == len)
}

/// Where a claim points in the traces: the traces it names, the spans it
/// names by id, and spans it names by name near its node and instant.
#[derive(Debug, Default)]
pub(super) struct TraceFocus {
    /// Trace ids in the order the claims name them, at most [`TRACES_MAX`].
    pub traces: Vec<String>,
    /// Span ids to highlight.
    pub spans: BTreeSet<String>,
    /// Traces the claims tie to beyond [`TRACES_MAX`]: counted, not drawn.
    pub left_out: BTreeSet<String>,
}

pub(super) fn traces(seed: &Seed, origin_ns: i128) -> TraceFocus {
    let trace_ids: BTreeSet<&str> = seed.spans.iter().map(|s| s.trace_id.as_str()).collect();
    let by_span: BTreeMap<&str, &Span> =
        seed.spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut focus = TraceFocus::default();
    let add = |focus: &mut TraceFocus, trace: &str| {
        if focus.traces.iter().any(|t| t == trace) {
            return;
        }
        if focus.traces.len() < TRACES_MAX {
            focus.traces.push(trace.to_string());
        } else {
            focus.left_out.insert(trace.to_string());
        }
    };
    for claim in &seed.claims {
        let text = format!("{} {}", claim.subject, claim.message);
        for word in hex_words(&text, 32).filter(|w| trace_ids.contains(w)) {
            add(&mut focus, word);
        }
        for span in hex_words(&text, 16).filter_map(|w| by_span.get(w)) {
            focus.spans.insert(span.span_id.clone());
            add(&mut focus, &span.trace_id);
        }
        if let Some(span) = named_span(seed, claim, origin_ns) {
            if focus.spans.is_empty() || focus.traces.contains(&span.trace_id) {
                focus.spans.insert(span.span_id.clone());
            }
            add(&mut focus, &span.trace_id);
        }
    }
    if focus.traces.is_empty() {
        for span in spans_at_claims(seed, origin_ns) {
            add(&mut focus, &span.trace_id);
        }
    }
    focus
}

/// The span a claim names as `span \`name\``: on its node, the one whose
/// time is nearest the claim's instant.
fn named_span<'a>(seed: &'a Seed, claim: &Claim, origin_ns: i128) -> Option<&'a Span> {
    let (_, rest) = claim.subject.split_once('`')?;
    let (name, _) = rest.split_once('`')?;
    let at = claim.at.map_or(0, |at| at.as_nanos() as i128) + origin_ns;
    seed.spans
        .iter()
        .filter(|span| span.name == name)
        .filter(|span| {
            claim
                .node
                .as_deref()
                .is_none_or(|node| on(span.node.as_deref(), node))
        })
        .min_by_key(|span| distance(span, at))
}

fn distance(span: &Span, at_ns: i128) -> i128 {
    if at_ns < span.start_ns {
        span.start_ns - at_ns
    } else if at_ns > span.end_ns {
        at_ns - span.end_ns
    } else {
        0
    }
}

/// With no trace named: for each claim, the span on its node running at its
/// instant, or the nearest one.
fn spans_at_claims(seed: &Seed, origin_ns: i128) -> Vec<&Span> {
    let mut out = Vec::new();
    for claim in &seed.claims {
        let (Some(node), Some(at)) = (&claim.node, claim.at) else {
            continue;
        };
        let at = origin_ns + at.as_nanos() as i128;
        let mut near: Vec<&Span> = seed
            .spans
            .iter()
            .filter(|span| on(span.node.as_deref(), node))
            .collect();
        near.sort_by_key(|span| (distance(span, at), span.start_ns));
        out.extend(near.into_iter().take(1));
    }
    out
}

/// The log events worth listing: those of the focused traces, then those
/// near a claim's instant on its node that are WARN and above or that the
/// claim names, at most [`LOGS_MAX`].
pub(super) fn logs<'a>(
    seed: &'a Seed,
    traces: &[String],
    origin_ns: i128,
) -> (Vec<&'a Log>, usize) {
    let window = LOG_WINDOW.as_nanos() as i128;
    let near_claim = |log: &Log| {
        seed.claims.iter().any(|claim| {
            let Some(at) = claim.at else { return false };
            let at = origin_ns + at.as_nanos() as i128;
            claim
                .node
                .as_deref()
                .is_some_and(|node| on(log.node.as_deref(), node))
                && (log.at_ns - at).abs() <= window
                && (matches!(log.severity.as_str(), "WARN" | "ERROR") || names_log(claim, log))
        })
    };
    let mut picked: Vec<&Log> = seed
        .logs
        .iter()
        .filter(|log| log.trace_id.as_ref().is_some_and(|t| traces.contains(t)) || near_claim(log))
        .collect();
    picked.sort_by_key(|log| log.at_ns);
    let total = picked.len();
    picked.truncate(LOGS_MAX);
    (picked, total)
}

/// Whether something exported by `exporter` is on a claim's `node`, which
/// may name an incarnation (`server-1#0`): exports name the node only.
fn on(exporter: Option<&str>, node: &str) -> bool {
    let node = match node.rsplit_once('#') {
        Some((name, number)) if number.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => node,
    };
    exporter == Some(node)
}

/// Whether `claim` is about `log`'s event: its subject is `log event
/// "<body>"`, the body perhaps cut short (`…`).
fn names_log(claim: &Claim, log: &Log) -> bool {
    let Some(quoted) = claim
        .subject
        .strip_prefix("log event \"")
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    match quoted.split_once('…') {
        Some((head, _)) => log.body.starts_with(head),
        None => log.body == quoted,
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::Status;
    use super::*;

    fn claim(subject: &str, message: &str) -> Claim {
        Claim {
            subject: subject.into(),
            message: message.into(),
            ..Claim::default()
        }
    }

    #[test]
    fn a_claims_node_incarnation_matches_its_nodes_exports() {
        assert!(on(Some("server-1"), "server-1#0"));
        assert!(on(Some("server-1"), "server-1"));
        assert!(!on(Some("server-10"), "server-1#0"));
        assert!(!on(None, "client"));
    }

    #[test]
    fn families_come_from_the_subject_first_and_only_if_exported() {
        let names: BTreeSet<String> = ["actors_active", "actors_activations_total", "lat_seconds"]
            .map(String::from)
            .into();
        let claims = [
            claim("actors_active", "actors_activations_total - up = 3"),
            claim("lat_seconds_bucket{le=\"0.1\"}", "no_such_metric"),
        ];
        let picked = families(&claims, &names);
        assert_eq!(
            picked,
            ["actors_active", "lat_seconds", "actors_activations_total"]
        );
        assert!(families(&[claim("spans", "none")], &names).is_empty());
    }

    fn span(trace: usize) -> Span {
        Span {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{trace:016x}"),
            parent_id: None,
            name: "work".into(),
            kind: "server",
            node: Some("server-0".into()),
            start_ns: 0,
            end_ns: 1,
            status: Status::Unset,
            attributes: Vec::new(),
            events: Vec::new(),
        }
    }

    #[test]
    fn traces_past_the_bound_are_counted_not_drawn() {
        let total = TRACES_MAX + 3;
        let mut seed = Seed {
            spans: (0..total).map(span).collect(),
            ..Seed::default()
        };
        let named: Vec<String> = (0..total).map(|t| format!("{t:032x}")).collect();
        seed.claims = vec![claim("spans", &named.join(" "))];
        let focus = traces(&seed, 0);
        assert_eq!(focus.traces, named[..TRACES_MAX]);
        assert_eq!(focus.left_out.len(), 3);
        assert!(!focus.left_out.contains(&named[0]));
    }
}
