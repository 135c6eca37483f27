//! Histogram placement. Simulated time is exact, so the harness knows to the
//! nanosecond how long each storage operation, each request it carried and
//! each call took. Each incarnation's final histogram must hold exactly those
//! durations, bucket by bucket: a unit mistake (milliseconds observed into a
//! `_seconds` histogram) moves every observation up by a factor of a
//! thousand and fails here.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, Violation};
use crate::run::exposition::{Exposition, MetricKind};
use crate::run::{Contract, Run, Timing, TimingSource};

/// Seconds of each timed thing, by (node, incarnation, label value).
type Timed = BTreeMap<(String, u32, String), Vec<f64>>;

pub fn histogram_placement(run: &Run, contract: &Contract) -> Vec<Violation> {
    let mut violations = Vec::new();
    for timing in &contract.timings {
        let timed = timed(run, contract, &timing.source, &timing.label);
        // Only exact finals: the ledger's durations are those of the whole
        // incarnation (see `FinalSource`; the report says which were not).
        for incarnation in run.incarnations.iter().filter(|i| i.final_source.exact()) {
            let Ok(exposition) = incarnation.final_parsed() else {
                continue; // the lint reports it
            };
            let place = (incarnation.node.as_str(), incarnation.number);
            violations.extend(check_incarnation(exposition, timing, &timed, place));
        }
    }
    violations.extend(unplaced(run, contract));
    violations
}

/// The durations `source` times, from the run's ledger.
fn timed(run: &Run, contract: &Contract, source: &TimingSource, label: &str) -> Timed {
    let mut timed: Timed = BTreeMap::new();
    let mut add = |node: &str, incarnation: u32, key: &str, seconds: f64| {
        // An unlabelled histogram (label "") holds every one in one series.
        let key = if label.is_empty() { "" } else { key };
        let key = (node.to_string(), incarnation, key.to_string());
        timed.entry(key).or_default().push(seconds);
    };
    match source {
        TimingSource::Storage => {
            for op in &run.storage_ops {
                let word = contract.storage_word(op.operation);
                add(&op.node, op.incarnation, word, op.duration().as_secs_f64());
            }
        }
        TimingSource::Requests | TimingSource::RequestsByMethod => {
            for request in &run.requests {
                let Some(duration) = request.duration() else {
                    continue;
                };
                let key = if *source == TimingSource::Requests {
                    &request.operation
                } else {
                    &request.method
                };
                add(
                    &request.node,
                    request.incarnation,
                    key,
                    duration.as_secs_f64(),
                );
            }
        }
        TimingSource::Dependency(name) => {
            for call in run
                .dependency_calls
                .iter()
                .filter(|c| &c.dependency == name)
            {
                let seconds = call.duration().as_secs_f64();
                add(&call.node, call.incarnation, &call.operation, seconds);
            }
        }
        TimingSource::Calls => {
            for call in &run.calls {
                let Some(duration) = call.duration() else {
                    continue;
                };
                let seconds = duration.as_secs_f64();
                add(&call.node, call.incarnation, &call.operation, seconds);
            }
        }
    }
    timed
}

/// Every histogram the run exported that no placement check reads and the
/// contract does not list as unchecked: its buckets are tested by nothing,
/// so a unit mistake in it would pass. Only for a system whose contract ties
/// anything to ground truth; one that promises nothing is not held to it.
fn unplaced(run: &Run, contract: &Contract) -> Vec<Violation> {
    if contract.accuracy.is_empty() && contract.timings.is_empty() && contract.span_ties.is_empty()
    {
        return Vec::new();
    }
    let placed = contract
        .timings
        .iter()
        .map(|timing| timing.histogram.as_str())
        .chain(contract.span_ties.iter().map(|tie| tie.metric.as_str()));
    let listed = contract.unchecked.iter().map(|(name, _)| name.as_str());
    let covered: BTreeSet<&str> = placed.chain(listed).collect();
    let mut exported: BTreeMap<String, String> = BTreeMap::new();
    for incarnation in &run.incarnations {
        let Ok(exposition) = incarnation.final_parsed() else {
            continue; // the lint reports it
        };
        for family in &exposition.families {
            if family.kind == MetricKind::Histogram && !covered.contains(family.name.as_str()) {
                exported
                    .entry(family.name.clone())
                    .or_insert_with(|| incarnation.node.clone());
            }
        }
    }
    exported
        .into_iter()
        .map(|(name, node)| Violation {
            check: Check::HistogramCorrectness,
            subject: format!("`{name}`"),
            node: Some(node),
            at: None,
            message:
                "is a histogram whose buckets nothing checks against ground truth, so a \
                      unit mistake in it would pass. Tie it to the harness's timings with \
                      `Contract::storage_timing`, `request_timing`, `call_timing` or \
                      `dependency_timing`, or to the spans of the same work with \
                      `Contract::span_histogram`, or list it with `Contract::unchecked` and say why"
                    .into(),
        })
        .collect()
}

fn check_incarnation(
    exposition: &Exposition,
    timing: &Timing,
    timed: &Timed,
    (node, number): (&str, u32),
) -> Vec<Violation> {
    let exported = buckets_by_operation(exposition, timing);
    let operations: BTreeSet<String> = timed
        .keys()
        .filter(|(n, i, _)| n == node && *i == number)
        .map(|(_, _, op)| op.clone())
        .chain(exported.keys().cloned())
        .collect();
    operations
        .into_iter()
        .filter_map(|operation| {
            let key = (node.to_string(), number, operation.clone());
            let truth = timed.get(&key).map_or(&[][..], Vec::as_slice);
            let series = exported.get(&operation);
            let slack = timing.source.slack().as_secs_f64();
            let problem = compare(truth, series, timing.source.describe(), slack)?;
            Some(Violation {
                check: Check::HistogramCorrectness,
                subject: format!("{}{{{}={operation:?}}}", timing.histogram, timing.label),
                node: Some(node.to_string()),
                at: None,
                message: format!("in the final exposition of incarnation {number}: {problem}"),
            })
        })
        .collect()
}

/// What one series exported: buckets sorted by bound, count and sum.
#[derive(Default)]
pub(super) struct Series {
    pub(super) buckets: Vec<(f64, f64)>,
    pub(super) count: f64,
    pub(super) sum: f64,
}

impl Series {
    /// Adds one sample of a histogram family named `histogram`: a bucket,
    /// the count or the sum.
    pub(super) fn add(&mut self, histogram: &str, sample: &crate::run::exposition::Sample) {
        let suffix = sample.name.strip_prefix(histogram).unwrap_or_default();
        match (suffix, sample.label("le")) {
            ("_bucket", Some(le)) => {
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                self.buckets.push((bound, sample.value));
            }
            ("_count", _) => self.count = sample.value,
            ("_sum", _) => self.sum = sample.value,
            _ => {}
        }
    }

    /// Sorts the buckets by bound, once every sample is in.
    pub(super) fn sorted(mut self) -> Series {
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        self
    }
}

fn buckets_by_operation(exposition: &Exposition, timing: &Timing) -> BTreeMap<String, Series> {
    let mut series: BTreeMap<String, Series> = BTreeMap::new();
    let Some(family) = exposition.family(&timing.histogram) else {
        return series;
    };
    for sample in &family.samples {
        let operation = if timing.label.is_empty() {
            ""
        } else {
            match sample.label(&timing.label) {
                Some(operation) => operation,
                None => continue,
            }
        };
        let entry = series.entry(operation.to_string()).or_default();
        entry.add(&timing.histogram, sample);
    }
    series
        .into_iter()
        .map(|(operation, entry)| (operation, entry.sorted()))
        .collect()
}

/// Why the exported series does not hold `truth`; None if it does. With a
/// zero `slack` it must hold exactly those durations; with a slack, each
/// observation may lie up to `slack` either side of its true duration (see
/// [`crate::run::SCHEDULING_SLACK`]): every bucket then holds at least the
/// durations that are below its bound even plus the slack, and at most those
/// below it minus the slack, and `_sum` is within the slack per observation.
fn compare(truth: &[f64], series: Option<&Series>, what: &str, slack: f64) -> Option<String> {
    compare_with_open(truth, series, what, slack, 0, Truth::Ledger)
}

/// Where a comparison's true durations come from, for its words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Truth {
    /// The harness's own ledger: what it timed.
    Ledger,
    /// The spans of the same work: when each started and ended.
    Spans,
}

/// [`compare`] when `open` more may have been observed whose durations are
/// unknown (work a crash cut off, or that ended within the slack of the
/// render): each bucket and `_count` may hold up to `open` more, and `_sum`
/// is bounded only from below.
pub(super) fn compare_with_open(
    truth: &[f64],
    series: Option<&Series>,
    what: &str,
    slack: f64,
    open: usize,
    source: Truth,
) -> Option<String> {
    let timed = if source == Truth::Ledger {
        " the harness timed"
    } else {
        ""
    };
    let Some(series) = series else {
        return (!truth.is_empty()).then(|| {
            format!(
                "{}, but no such series was exported",
                happened(truth.len(), what, source)
            )
        });
    };
    let total: f64 = truth.iter().sum();
    let open_words = if open > 0 {
        format!(", and {open} more whose durations are unknown (in flight, or lost with a crash)")
    } else {
        String::new()
    };
    for &(bound, count) in &series.buckets {
        let (least, most) = allowed(truth, bound, slack);
        let most = most + open as f64;
        if count < least || count > most {
            let expected = if least == most {
                format!("{least}")
            } else {
                format!("between {least} and {most}")
            };
            return Some(format!(
                "bucket le={bound} holds {count}, but {expected} of the {} {what}{timed} took \
                 at most {bound}s{}{open_words} (exported sum {}s, true sum \
                 {total}s{}). Buckets by bound: {}",
                truth.len(),
                slack_words(slack),
                series.sum,
                unit_hint(series.sum, total),
                table(series, truth, slack)
            ));
        }
    }
    let counted = truth.len() as f64;
    if series.count < counted || series.count > counted + open as f64 {
        return Some(format!(
            "_count is {}, but {}{open_words}",
            series.count,
            happened(truth.len(), what, source)
        ));
    }
    let tolerance = 1e-9 * total.abs().max(1.0) + slack * truth.len() as f64;
    let off = if open > 0 {
        series.sum < total - tolerance
    } else {
        (series.sum - total).abs() > tolerance
    };
    off.then(|| {
        format!(
            "_sum is {}s, but the {what} took {total}s in all{}{}",
            series.sum,
            slack_words(slack),
            unit_hint(series.sum, total)
        )
    })
}

/// `the harness timed 3 requests answered`, or `3 spans ... ended`.
fn happened(n: usize, what: &str, source: Truth) -> String {
    match source {
        Truth::Ledger => format!("the harness timed {n} {what}"),
        Truth::Spans => format!("{n} {what} ended"),
    }
}

/// The fewest and the most of `truth` a bucket with upper bound `bound` may
/// hold when each observation may be off by up to `slack`.
fn allowed(truth: &[f64], bound: f64, slack: f64) -> (f64, f64) {
    let least = truth.iter().filter(|&&d| d + slack <= bound).count();
    let most = truth.iter().filter(|&&d| d - slack <= bound).count();
    (least as f64, most as f64)
}

/// `, each within 100 µs ...` when there is a slack.
fn slack_words(slack: f64) -> String {
    if slack > 0.0 {
        format!(
            ", each allowed {:.0} µs either way for when the service's clock starts",
            slack * 1e6
        )
    } else {
        String::new()
    }
}

/// Names the unit mistake when the exported sum is a power of 1000 off.
fn unit_hint(exported: f64, truth: f64) -> String {
    if truth <= 0.0 {
        return String::new();
    }
    let ratio = exported / truth;
    let near = |factor: f64| (ratio / factor - 1.0).abs() < 0.01;
    if near(1e3) {
        ": 1000x too much, milliseconds recorded as seconds?".into()
    } else if near(1e6) {
        ": 1000000x too much, microseconds recorded as seconds?".into()
    } else if near(1e-3) {
        ": 1000x too little, seconds divided by 1000 twice?".into()
    } else {
        String::new()
    }
}

/// `le=0.001: exported 0, true 12; ...` for the buckets that differ.
fn table(series: &Series, truth: &[f64], slack: f64) -> String {
    let rows: Vec<String> = series
        .buckets
        .iter()
        .filter_map(|&(bound, count)| {
            let (least, most) = allowed(truth, bound, slack);
            let expected = truth.iter().filter(|&&seconds| seconds <= bound).count() as f64;
            (count < least || count > most)
                .then(|| format!("le={bound}: exported {count}, true {expected}"))
        })
        .collect();
    rows.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::lint::tests::run_with_finals;

    const HISTOGRAM: &str = "# HELP request_duration_seconds Time to serve a request.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{le=\"0.1\"} 1
request_duration_seconds_bucket{le=\"+Inf\"} 1
request_duration_seconds_sum 0.05
request_duration_seconds_count 1
";

    /// A series of one observation, in buckets 1 ms and 10 ms.
    fn one(observed: f64) -> Series {
        let buckets = [0.001, 0.01, f64::INFINITY];
        Series {
            buckets: buckets
                .iter()
                .map(|&bound| (bound, f64::from(observed <= bound)))
                .collect(),
            count: 1.0,
            sum: observed,
        }
    }

    #[test]
    fn a_handler_that_starts_its_clock_a_few_polls_after_receipt_is_placed_within_the_slack() {
        let slack = crate::run::SCHEDULING_SLACK.as_secs_f64();
        // Received at t, answered 1.0002 ms later; the handler's own clock
        // started 300 ns after the receipt, so it observed 0.9999 ms.
        let truth = [0.0010002];
        let observed = one(0.0009999);
        assert!(compare(&truth, Some(&observed), "requests", slack).is_none());
        // Without the slack, the bucket is off by one.
        let exact = compare(&truth, Some(&observed), "requests", 0.0).unwrap();
        assert!(exact.contains("bucket le=0.001 holds 1, but 0"), "{exact}");
    }

    #[test]
    fn milliseconds_recorded_as_seconds_fail_within_the_slack_too() {
        let slack = crate::run::SCHEDULING_SLACK.as_secs_f64();
        let truth = [0.004];
        let problem = compare(&truth, Some(&one(4.0)), "requests", slack).unwrap();
        assert!(
            problem.contains("bucket le=0.01 holds 0, but 1"),
            "{problem}"
        );
        assert!(problem.contains("100 µs either way"), "{problem}");
        // A timer started 2 ms late is not scheduling: it skipped work.
        let late = compare(&truth, Some(&one(0.0005)), "requests", slack).unwrap();
        assert!(late.contains("bucket le=0.001 holds 1, but 0"), "{late}");
    }

    #[test]
    fn a_histogram_no_check_places_is_reported_until_the_contract_says_why() {
        let run = run_with_finals(&[HISTOGRAM]);
        let promising = Contract::new().accurate("outcomes.total == 0");
        let violations = unplaced(&run, &promising);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].subject, "`request_duration_seconds`");
        assert!(violations[0].message.contains("buckets nothing checks"));
        let listed = promising.unchecked("request_duration_seconds", "no request timings");
        assert!(unplaced(&run, &listed).is_empty());
        // A system that promises nothing is not held to it.
        assert!(unplaced(&run, &Contract::new()).is_empty());
    }
}
