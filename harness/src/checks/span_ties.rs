//! Metrics checked against the spans of the same work, on any transport.
//! Spans carry exact simulated times, their node incarnation and their
//! attributes, so they are ground truth for the metrics that describe the
//! same work: a histogram of request durations must hold the request spans'
//! durations, a request counter must count them by the attribute behind
//! each label, and an in-flight gauge must show how many are open.
//!
//! What a render can see of a span depends on when the span ran:
//! - one that ended before the render (by more than
//!   [`SCHEDULING_SLACK`](crate::run::SCHEDULING_SLACK)) must be in it;
//! - one still open, lost with a crash, or ending within the slack of the
//!   render may or may not be, and its attributes may not be set yet: it
//!   counts toward every series' upper bound, never its lower;
//! - one that started after the render cannot be in it.
//!
//! An incarnation's final exposition at the end of the run has every span
//! ended, so there the metric must match exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::sources::{sources, Source};
use super::timing::{compare_with_open, Series, Truth};
use super::{Check, Violation};
use crate::run::exposition::Exposition;
use crate::run::{Contract, Run, Shows, SpanTie, SCHEDULING_SLACK};

/// The checks of every tie that shows `shows`, as the check that owns them.
pub(crate) fn span_ties(run: &Run, contract: &Contract, shows: Shows) -> Vec<Violation> {
    let mut violations = Vec::new();
    for tie in contract.span_ties.iter().filter(|tie| tie.shows == shows) {
        let tie = &with_conventional_labels(run, tie);
        let spans = TiedSpans::of(run, tie);
        if let Some(vacuous) = vacuous(run, tie, &spans) {
            violations.push(vacuous);
            continue;
        }
        let found = match shows {
            Shows::Count | Shows::Durations => finals(run, tie, &spans),
            Shows::InFlight => in_flight(run, tie, &spans),
        };
        violations.extend(found);
    }
    violations
}

/// `tie` with every label of its metric that it does not map itself mapped
/// to the span attribute of the same name by OpenTelemetry's Prometheus
/// naming (`http.route` is the label `http_route`), where a span of the
/// tie carries one: the labels an OpenTelemetry exporter writes, or a
/// service that names its labels after its attributes, need no mapping.
fn with_conventional_labels(run: &Run, tie: &SpanTie) -> SpanTie {
    let mapped: BTreeSet<&str> = tie.spans.labels.iter().map(|(l, _)| l.as_str()).collect();
    let mut labels: BTreeSet<&str> = BTreeSet::new();
    for record in &run.incarnations {
        let Ok(exposition) = record.final_parsed() else {
            continue;
        };
        for (_, sample) in exposition.samples() {
            let ours = sample
                .name
                .strip_prefix(tie.metric.as_str())
                .is_some_and(|rest| {
                    rest.is_empty() || matches!(rest, "_bucket" | "_count" | "_sum")
                });
            if ours {
                labels.extend(sample.labels.iter().map(|(name, _)| name.as_str()));
            }
        }
    }
    let mut attributes: BTreeSet<&str> = BTreeSet::new();
    for span in run.spans.iter().filter(|span| tie.spans.matches(span)) {
        attributes.extend(span.attributes.iter().map(|(key, _)| &**key));
    }
    let mut tie = tie.clone();
    for label in labels
        .into_iter()
        .filter(|label| !mapped.contains(label) && *label != "le")
    {
        let attribute = attributes
            .iter()
            .find(|attribute| attribute.replace('.', "_") == label);
        if let Some(attribute) = attribute {
            tie.spans = tie.spans.label(label, attribute);
        }
    }
    tie
}

fn check_of(shows: Shows) -> Check {
    match shows {
        Shows::Durations => Check::HistogramCorrectness,
        Shows::Count => Check::MetricAccuracy,
        Shows::InFlight => Check::GaugeConsistency,
    }
}

/// A span's place in time, with unknown ends as `i64::MAX`.
struct Timed {
    start_ns: i64,
    end_ns: i64,
    /// The label values, when the span was exported; None for one a crash
    /// lost or still open at the end, whose attributes are unknown.
    key: Option<Vec<String>>,
}

/// A tie's spans by (node, incarnation).
struct TiedSpans {
    by_place: BTreeMap<(String, u32), Vec<Timed>>,
    exported: usize,
}

impl TiedSpans {
    fn of(run: &Run, tie: &SpanTie) -> TiedSpans {
        let mut by_place: BTreeMap<(String, u32), Vec<Timed>> = BTreeMap::new();
        let mut exported = 0;
        for span in run.spans.iter().filter(|span| tie.spans.matches(span)) {
            let Some(node) = &span.origin.node else {
                continue;
            };
            exported += 1;
            let place = (node.clone(), span.origin.incarnation.unwrap_or(0));
            by_place.entry(place).or_default().push(Timed {
                start_ns: span.start_ns,
                end_ns: span.end_ns,
                key: Some(tie.spans.key(span)),
            });
        }
        for lost in &run.lifecycle.lost {
            if tie.spans.may_match(&lost.name, &lost.kind) {
                let place = (lost.node.clone(), lost.incarnation);
                by_place.entry(place).or_default().push(Timed {
                    start_ns: lost.start_ns,
                    end_ns: i64::MAX,
                    key: None,
                });
            }
        }
        // Open when the run ended: on the node's last incarnation.
        for open in &run.lifecycle.open {
            if tie
                .spans
                .name
                .as_ref()
                .is_some_and(|name| name != &open.name)
            {
                continue;
            }
            let last = run
                .incarnations
                .iter()
                .filter(|record| record.node == open.node)
                .map(|record| record.number)
                .max()
                .unwrap_or(0);
            by_place
                .entry((open.node.clone(), last))
                .or_default()
                .push(Timed {
                    start_ns: open.opened_at.as_nanos() as i64,
                    end_ns: i64::MAX,
                    key: None,
                });
        }
        TiedSpans { by_place, exported }
    }

    fn at(&self, node: &str, incarnation: u32) -> &[Timed] {
        self.by_place
            .get(&(node.to_string(), incarnation))
            .map_or(&[], Vec::as_slice)
    }
}

/// A tie that checks nothing: no span matched in the whole run, or a label
/// reads an attribute no matched span carries.
fn vacuous(run: &Run, tie: &SpanTie, spans: &TiedSpans) -> Option<Violation> {
    let problem = if spans.exported == 0 {
        format!(
            "is tied to {}, and the run exported none: the tie checks nothing. Is the span \
             name, kind or filter right, and does the workload reach that code?",
            tie.spans.describe()
        )
    } else {
        let (label, attribute) = tie.spans.attributes().find(|(_, attribute)| {
            !run.spans
                .iter()
                .any(|span| tie.spans.matches(span) && span.attribute(attribute).is_some())
        })?;
        format!(
            "takes label `{label}` from attribute `{attribute}`, which none of the {} {} \
             carries: every span would count under an empty `{label}`. Is the attribute named \
             right?",
            spans.exported,
            tie.spans.describe()
        )
    };
    Some(Violation {
        check: check_of(tie.shows),
        subject: format!("`{}`", tie.metric),
        node: None,
        at: None,
        message: problem,
    })
}

/// Ends and starts around a render seen between `lo` and `hi`.
#[derive(Clone, Copy)]
struct Window {
    lo_ns: i64,
    hi_ns: i64,
}

impl Window {
    fn between(lo: Duration, hi: Duration) -> Window {
        let slack = SCHEDULING_SLACK.as_nanos() as i64;
        Window {
            lo_ns: lo.as_nanos() as i64 - slack,
            hi_ns: hi.as_nanos() as i64 + slack,
        }
    }

    /// Surely ended before the render: it must be in it.
    fn ended(&self, span: &Timed) -> bool {
        span.end_ns <= self.lo_ns
    }

    /// Started by the render and not surely ended: it may be in it.
    fn maybe(&self, span: &Timed) -> bool {
        span.start_ns <= self.hi_ns && !self.ended(span)
    }

    /// Open across the whole window: an in-flight gauge must count it.
    fn surely_open(&self, span: &Timed) -> bool {
        span.start_ns <= self.lo_ns && span.end_ns > self.hi_ns
    }
}

/// A counter or histogram against each incarnation's final exposition.
fn finals(run: &Run, tie: &SpanTie, spans: &TiedSpans) -> Vec<Violation> {
    let mut violations = Vec::new();
    for record in &run.incarnations {
        let Ok(exposition) = record.final_parsed() else {
            continue; // the lint reports it
        };
        let ended = record.ended_at.unwrap_or(run.ended_at);
        let Some((lo, hi)) = record.final_source.rendered(ended) else {
            continue; // no values to compare
        };
        let window = Window::between(lo, hi);
        let here = spans.at(&record.node, record.number);
        let what = if record.final_source.exact() {
            format!("the final exposition of incarnation {}", record.number)
        } else {
            format!(
                "the last scrape of incarnation {} (at {:.3}s; it gave no in-process handle, so \
                 its values after that are unknown)",
                record.number,
                lo.as_secs_f64()
            )
        };
        let place = Place {
            node: &record.node,
            what,
            at: Some(hi),
        };
        let found = match tie.shows {
            Shows::Count => counts(tie, exposition, here, window, &place),
            _ => durations(tie, exposition, here, window, &place),
        };
        violations.extend(found);
    }
    violations
}

/// Where a render was read, for messages.
struct Place<'a> {
    node: &'a str,
    what: String,
    at: Option<Duration>,
}

impl Place<'_> {
    fn violation(&self, tie: &SpanTie, series: String, message: String) -> Violation {
        Violation {
            check: check_of(tie.shows),
            subject: if series.is_empty() {
                format!("`{}`", tie.metric)
            } else {
                format!("`{}{{{series}}}`", tie.metric)
            },
            node: Some(self.node.to_string()),
            at: self.at,
            message: format!("in {}: {message}", self.what),
        }
    }
}

/// The metric's samples named `name` summed by the tie's label values, only
/// the series the tie's filters admit.
fn sums(tie: &SpanTie, exposition: &Exposition, name: &str) -> Option<BTreeMap<Vec<String>, f64>> {
    let mut sums: BTreeMap<Vec<String>, f64> = BTreeMap::new();
    let mut exported = false;
    for (_, sample) in exposition.samples() {
        if sample.name != name {
            continue;
        }
        exported = true;
        let key = label_key(tie, sample);
        if tie.spans.admits(&key) {
            *sums.entry(key).or_default() += sample.value;
        }
    }
    exported.then_some(sums)
}

fn label_key(tie: &SpanTie, sample: &crate::run::exposition::Sample) -> Vec<String> {
    tie.spans
        .labels
        .iter()
        .map(|(label, _)| sample.label(label).unwrap_or_default().to_string())
        .collect()
}

/// How many spans each series must count: `(ended, maybe)` by key, and the
/// spans of unknown key that may count anywhere.
fn tally(here: &[Timed], window: Window) -> (BTreeMap<Vec<String>, (u64, u64)>, u64) {
    let mut by_key: BTreeMap<Vec<String>, (u64, u64)> = BTreeMap::new();
    let mut unknown = 0;
    for span in here {
        let (ended, maybe) = (window.ended(span), window.maybe(span));
        match &span.key {
            Some(key) if ended || maybe => {
                let entry = by_key.entry(key.clone()).or_default();
                entry.0 += u64::from(ended);
                entry.1 += u64::from(maybe);
            }
            None if maybe => unknown += 1,
            _ => {}
        }
    }
    (by_key, unknown)
}

fn counts(
    tie: &SpanTie,
    exposition: &Exposition,
    here: &[Timed],
    window: Window,
    place: &Place<'_>,
) -> Vec<Violation> {
    let (by_key, unknown) = tally(here, window);
    let values = sums(tie, exposition, &tie.metric).unwrap_or_default();
    let keys: BTreeSet<&Vec<String>> = by_key.keys().chain(values.keys()).collect();
    let mut violations = Vec::new();
    for key in keys {
        let value = values.get(key).copied().unwrap_or(0.0);
        let (ended, maybe) = by_key.get(key).copied().unwrap_or((0, 0));
        let most = ended + maybe + unknown;
        if value >= ended as f64 && value <= most as f64 {
            continue;
        }
        let shown = if values.contains_key(key) {
            format!("is {value}")
        } else {
            "is not exported".to_string()
        };
        let expected = if most == ended {
            format!("{ended}")
        } else {
            format!("between {ended} and {most}")
        };
        let why = if value > most as f64 {
            "it counted more than the work that ran (counted once per attempt or retry, or \
             under the wrong label?)"
        } else {
            "work that ran was not counted here (a path that skips the counter, or counts \
             under another label?)"
        };
        let which = if key.is_empty() {
            tie.spans.describe()
        } else {
            format!("{} (as {})", tie.spans.describe(), tie.spans.series(key))
        };
        let flight = in_flight_words(maybe + unknown);
        let message = format!(
            "{shown}, but {ended} {which} ended in this incarnation{flight}, so it must be \
             {expected}: {why}"
        );
        violations.push(place.violation(tie, tie.spans.series(key), message));
    }
    violations
}

fn in_flight_words(maybe: u64) -> String {
    if maybe == 0 {
        String::new()
    } else {
        format!(" ({maybe} more were in flight, lost with a crash, or ended within 100 µs of the render, and may count)")
    }
}

fn durations(
    tie: &SpanTie,
    exposition: &Exposition,
    here: &[Timed],
    window: Window,
    place: &Place<'_>,
) -> Vec<Violation> {
    let mut truth: BTreeMap<Vec<String>, Vec<f64>> = BTreeMap::new();
    let mut maybe: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut unknown = 0;
    for span in here {
        match &span.key {
            Some(key) if window.ended(span) => {
                let seconds = (span.end_ns - span.start_ns).max(0) as f64 / 1e9;
                truth.entry(key.clone()).or_default().push(seconds);
            }
            Some(key) if window.maybe(span) => *maybe.entry(key.clone()).or_default() += 1,
            None if window.maybe(span) => unknown += 1,
            _ => {}
        }
    }
    let mut series: BTreeMap<Vec<String>, Series> = BTreeMap::new();
    for (_, sample) in exposition.samples() {
        let Some(suffix) = sample.name.strip_prefix(tie.metric.as_str()) else {
            continue;
        };
        if !matches!(suffix, "_bucket" | "_count" | "_sum") {
            continue;
        }
        let key = label_key(tie, sample);
        if tie.spans.admits(&key) {
            series.entry(key).or_default().add(&tie.metric, sample);
        }
    }
    let series: BTreeMap<Vec<String>, Series> =
        series.into_iter().map(|(k, s)| (k, s.sorted())).collect();
    let keys: BTreeSet<&Vec<String>> = truth.keys().chain(series.keys()).collect();
    let what = format!("{} of this incarnation", tie.spans.describe());
    let slack = SCHEDULING_SLACK.as_secs_f64();
    let mut violations = Vec::new();
    for key in keys {
        let durations = truth.get(key).map_or(&[][..], Vec::as_slice);
        let open = maybe.get(key).copied().unwrap_or(0) + unknown;
        let Some(problem) =
            compare_with_open(durations, series.get(key), &what, slack, open, Truth::Spans)
        else {
            continue;
        };
        let message = format!(
            "{problem}. The spans' own durations are the truth here: either the histogram times \
             something else (a unit, a clock started late), or the span ends before the work it \
             stands for"
        );
        violations.push(place.violation(tie, tie.spans.series(key), message));
    }
    violations
}

/// An in-flight gauge against the spans open at every render of it.
fn in_flight(run: &Run, tie: &SpanTie, spans: &TiedSpans) -> Vec<Violation> {
    let mut violations = Vec::new();
    // One report per node: a leaked gauge stays leaked, and the first
    // reading that shows it is the one to read.
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for source in sources(run) {
        if reported.contains(source.node) {
            continue;
        }
        let Ok(exposition) = &source.exposition else {
            continue; // the lint reports it
        };
        let Some(incarnation) = source.incarnation else {
            continue;
        };
        let (lo, hi) = source.rendered;
        let window = Window::between(lo, hi);
        let here = spans.at(source.node, incarnation);
        if let Some(violation) = gauge_reading(tie, exposition, here, window, &source) {
            reported.insert(source.node.to_string());
            violations.push(violation);
        }
    }
    violations
}

fn gauge_reading(
    tie: &SpanTie,
    exposition: &Exposition,
    here: &[Timed],
    window: Window,
    source: &Source<'_>,
) -> Option<Violation> {
    let mut sure: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    let mut possible: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    let mut unknown = 0;
    for span in here {
        let may = window.maybe(span);
        match &span.key {
            Some(key) => {
                *sure.entry(key.clone()).or_default() += u64::from(window.surely_open(span));
                *possible.entry(key.clone()).or_default() += u64::from(may);
            }
            None => unknown += u64::from(may),
        }
    }
    // Statuses are unknown while a span is open: an in-flight gauge has no
    // status label, so keys differ only by the attributes it maps.
    let values = sums(tie, exposition, &tie.metric)?;
    let keys: BTreeSet<&Vec<String>> = possible.keys().chain(values.keys()).collect();
    for key in keys {
        let value = values.get(key).copied().unwrap_or(0.0);
        let least = sure.get(key).copied().unwrap_or(0);
        let most = possible.get(key).copied().unwrap_or(0) + unknown;
        if value >= least as f64 && value <= most as f64 {
            continue;
        }
        let expected = if least == most {
            format!("{least}")
        } else {
            format!("between {least} and {most}")
        };
        let why = if value > most as f64 {
            "it counts work that already ended (a path that never decrements it?)"
        } else {
            "open work is missing from it (a path that never increments it, or decrements twice?)"
        };
        let place = Place {
            node: source.node,
            what: source.place(),
            at: source.at.or(Some(source.rendered.0)),
        };
        let message = format!(
            "is {value}, but {expected} {} were open on this incarnation when it was rendered: \
             {why}",
            tie.spans.describe()
        );
        return Some(place.violation(tie, tie.spans.series(key), message));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::checks::lint::tests::run_with_finals;
    use crate::run::{SpanId, SpanOrigin, SpanRecord, SpanStatus, Spans, TraceId};

    /// A server span on server-1 incarnation 0, from `start_ms` for `ms`.
    fn span(id: u64, start_ms: i64, ms: i64, route: &str, failed: bool) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId(u128::from(id)),
            span_id: SpanId(id),
            parent_span_id: Some(SpanId(1000 + id)),
            name: format!("GET {route}"),
            kind: "server".into(),
            origin: SpanOrigin {
                node: Some("server-1".into()),
                incarnation: Some(0),
            },
            start_ns: start_ms * 1_000_000,
            end_ns: (start_ms + ms) * 1_000_000,
            status: if failed {
                SpanStatus::Error("503".into())
            } else {
                SpanStatus::Unset
            },
            attributes: vec![(Arc::from("http.route"), Arc::from(route))],
            events: Vec::new(),
        }
    }

    fn run(final_text: &str, spans: Vec<SpanRecord>) -> Run {
        let mut run = run_with_finals(&[final_text]);
        run.spans = spans;
        run
    }

    fn requests() -> Spans {
        Spans::of_kind("server")
            .label("route", "http.route")
            .status_label("status")
    }

    const COUNTER: &str = "# TYPE requests_total counter
requests_total{route=\"/a\",status=\"ok\"} 2
requests_total{route=\"/a\",status=\"error\"} 1
";

    #[test]
    fn a_counter_that_counts_each_span_once_by_route_and_status_passes() {
        let spans = vec![
            span(1, 0, 5, "/a", false),
            span(2, 10, 5, "/a", false),
            span(3, 20, 5, "/a", true),
        ];
        let contract = Contract::new().span_counter("requests_total", requests());
        assert_eq!(span_ties(&run(COUNTER, spans), &contract, Shows::Count), []);
    }

    #[test]
    fn an_error_counted_as_ok_fails_on_both_series() {
        let spans = vec![
            span(1, 0, 5, "/a", false),
            span(2, 10, 5, "/a", true),
            span(3, 20, 5, "/a", true),
        ];
        let contract = Contract::new().span_counter("requests_total", requests());
        let violations = span_ties(&run(COUNTER, spans), &contract, Shows::Count);
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert_eq!(violations[0].check, Check::MetricAccuracy);
        assert_eq!(
            violations[0].subject,
            r#"`requests_total{route="/a",status="error"}`"#
        );
        assert!(violations[0]
            .message
            .contains("is 1, but 2 spans of kind server"));
        assert!(violations[1].message.contains("counted more than the work"));
    }

    #[test]
    fn a_span_a_crash_lost_may_or_may_not_have_been_counted() {
        let mut run = run(
            COUNTER,
            vec![span(1, 0, 5, "/a", false), span(3, 20, 5, "/a", true)],
        );
        run.incarnations[0].ended_at = Some(Duration::from_millis(40));
        let contract = Contract::new().span_counter("requests_total", requests());
        let short = span_ties(&run, &contract, Shows::Count);
        assert_eq!(short.len(), 1, "{short:?}");
        run.lifecycle.lost.push(crate::run::LostSpan {
            trace_id: TraceId(2),
            span_id: SpanId(2),
            parent_span_id: None,
            name: "GET /a".into(),
            kind: "server".into(),
            node: "server-1".into(),
            incarnation: 0,
            start_ns: 30_000_000,
        });
        assert_eq!(span_ties(&run, &contract, Shows::Count), []);
    }

    const HISTOGRAM: &str = "# TYPE duration_seconds histogram
duration_seconds_bucket{route=\"/a\",le=\"0.01\"} 2
duration_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2
duration_seconds_sum{route=\"/a\"} 0.01
duration_seconds_count{route=\"/a\"} 2
";

    #[test]
    fn span_durations_land_in_the_histograms_buckets_and_milliseconds_do_not() {
        let spans = vec![span(1, 0, 5, "/a", false), span(2, 10, 5, "/a", false)];
        let tie = Spans::of_kind("server").label("route", "http.route");
        let contract = Contract::new().span_histogram("duration_seconds", tie);
        let passing = run(HISTOGRAM, spans.clone());
        assert_eq!(span_ties(&passing, &contract, Shows::Durations), []);
        let in_ms = HISTOGRAM
            .replace("le=\"0.01\"} 2", "le=\"0.01\"} 0")
            .replace("0.01\n", "10\n");
        let violations = span_ties(&run(&in_ms, spans), &contract, Shows::Durations);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].check, Check::HistogramCorrectness);
        assert!(
            violations[0]
                .message
                .contains("bucket le=0.01 holds 0, but 2"),
            "{}",
            violations[0].message
        );
        assert!(violations[0]
            .message
            .contains("milliseconds recorded as seconds"));
    }

    #[test]
    fn an_in_flight_gauge_must_show_the_spans_open_when_it_was_rendered() {
        let spans = vec![span(1, 0, 5, "/a", false), span(2, 10, 5, "/a", true)];
        let tie = Spans::of_kind("server").label("route", "http.route");
        let contract = Contract::new().span_gauge("active", tie);
        let drained = "# TYPE active gauge\nactive{route=\"/a\"} 0\n";
        assert_eq!(
            span_ties(&run(drained, spans.clone()), &contract, Shows::InFlight),
            []
        );
        let leaked = "# TYPE active gauge\nactive{route=\"/a\"} 1\n";
        let violations = span_ties(&run(leaked, spans), &contract, Shows::InFlight);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("is 1, but 0 spans of kind server"));
        assert!(violations[0].message.contains("never decrements"));
    }

    #[test]
    fn a_tie_that_matches_no_span_or_reads_a_missing_attribute_checks_nothing() {
        let contract = Contract::new().span_counter("requests_total", Spans::named("nope"));
        let violations = span_ties(
            &run(COUNTER, vec![span(1, 0, 5, "/a", false)]),
            &contract,
            Shows::Count,
        );
        assert!(
            violations[0].message.contains("the run exported none"),
            "{violations:?}"
        );
        let typo = Contract::new().span_counter(
            "requests_total",
            Spans::of_kind("server").label("route", "http.rout"),
        );
        let violations = span_ties(
            &run(COUNTER, vec![span(1, 0, 5, "/a", false)]),
            &typo,
            Shows::Count,
        );
        assert!(
            violations[0].message.contains("which none of the 1 spans"),
            "{violations:?}"
        );
    }

    #[test]
    fn a_label_named_after_a_span_attribute_needs_no_mapping() {
        let text = COUNTER.replace("route=", "http_route=");
        let spans = vec![
            span(1, 0, 5, "/a", false),
            span(2, 10, 5, "/a", false),
            span(3, 20, 5, "/a", true),
        ];
        let tie = Spans::of_kind("server").status_label("status");
        let contract = Contract::new().span_counter("requests_total", tie);
        assert_eq!(
            span_ties(&run(&text, spans.clone()), &contract, Shows::Count),
            []
        );
        // Counted under another route, which the spans never carried.
        let other = text.replacen(
            "http_route=\"/a\",status=\"ok\"",
            "http_route=\"/b\",status=\"ok\"",
            1,
        );
        let violations = span_ties(&run(&other, spans), &contract, Shows::Count);
        assert!(
            violations
                .iter()
                .any(|v| v.subject == r#"`requests_total{status="ok",http_route="/b"}`"#),
            "{violations:?}"
        );
    }
}
