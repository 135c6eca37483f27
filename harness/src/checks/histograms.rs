//! Histogram consistency: every exported histogram series is internally
//! coherent. Buckets are cumulative and end in `+Inf`, which equals `_count`,
//! and `_sum` fits between what the buckets say the observations can add up
//! to. A `_sum` far above that bound is the classic milliseconds-recorded-
//! into-a-`_seconds`-histogram bug, which no single sample shows.

use std::collections::{BTreeMap, BTreeSet};

use super::sources::{sources, Source};
use super::{Check, Violation};
use crate::run::exposition::{Family, MetricKind, Sample};
use crate::run::Run;

/// Relative slack for float sums: `_sum` adds observations one by one.
const TOLERANCE: f64 = 1e-9;

/// One histogram series as exported.
#[derive(Default)]
struct Series {
    buckets: Vec<Bucket>,
    sum: Option<f64>,
    count: Option<f64>,
}

struct Bucket {
    /// As written, for messages.
    le_text: String,
    /// None when `le` is missing or not a number.
    le: Option<f64>,
    /// Cumulative: observations <= `le`.
    count: f64,
}

/// A broken rule: a stable name (to deduplicate) and what broke, with numbers.
type Broken = (&'static str, String);

/// Every histogram series of every up scrape and every final exposition.
/// Each (series, rule) is reported once per node: its first occurrence, so a
/// persistent bug reads as one line, not one per scrape.
pub fn histogram_consistency(run: &Run) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut reported: BTreeSet<(String, String, &'static str)> = BTreeSet::new();
    for source in sources(run) {
        // An unparseable final is the exposition lint's to report.
        let Ok(exposition) = &source.exposition else {
            continue;
        };
        let histograms = exposition.families.iter();
        for family in histograms.filter(|family| family.kind == MetricKind::Histogram) {
            for (series, data) in collect_series(family) {
                for (rule, problem) in check_series(&family.name, data) {
                    let key = (source.node.to_string(), series.clone(), rule);
                    if reported.insert(key) {
                        violations.push(violation(&source, &series, problem));
                    }
                }
            }
        }
    }
    violations
}

fn violation(source: &Source<'_>, series: &str, problem: String) -> Violation {
    let place = match source.at {
        Some(at) => format!(
            "scrape at {:.3}s, {}",
            at.as_secs_f64(),
            source.incarnation_text()
        ),
        None => format!("final exposition of {}", source.incarnation_text()),
    };
    Violation {
        check: Check::HistogramCorrectness,
        subject: series.to_string(),
        node: Some(source.node.to_string()),
        at: source.at,
        message: format!("{problem} (first seen in the {place})"),
    }
}

/// The family's samples grouped by series: labels without `le`.
fn collect_series(family: &Family) -> BTreeMap<String, Series> {
    let mut all: BTreeMap<String, Series> = BTreeMap::new();
    for sample in &family.samples {
        let suffix = sample.name.strip_prefix(family.name.as_str()).unwrap_or("");
        if !matches!(suffix, "_bucket" | "_sum" | "_count") {
            continue;
        }
        let labels = sample.labels.iter().filter(|(name, _)| name != "le");
        let key = Sample {
            name: family.name.clone(),
            labels: labels.cloned().collect(),
            value: 0.0,
        }
        .series();
        let series = all.entry(key).or_default();
        match suffix {
            "_bucket" => series.buckets.push(bucket(sample)),
            "_sum" => series.sum = Some(sample.value),
            _ => series.count = Some(sample.value),
        }
    }
    all
}

fn bucket(sample: &Sample) -> Bucket {
    let le_text = sample.label("le").unwrap_or("").to_string();
    // Rust's float parser reads `+Inf` as infinity; NaN is no bound.
    let le = le_text.parse::<f64>().ok().filter(|le| !le.is_nan());
    Bucket {
        le_text,
        le,
        count: sample.value,
    }
}

fn check_series(name: &str, mut series: Series) -> Vec<Broken> {
    if let Some(bad) = series.buckets.iter().find(|bucket| bucket.le.is_none()) {
        let problem = format!(
            "has a bucket with le={:?}, which is not a number: `le` is an upper bound, a float or `+Inf`",
            bad.le_text
        );
        return vec![("le", problem)];
    }
    let bound = |bucket: &Bucket| bucket.le.unwrap_or(f64::NAN);
    series.buckets.sort_by(|a, b| bound(a).total_cmp(&bound(b)));
    let mut broken: Vec<Broken> = cumulative(&series.buckets).into_iter().collect();
    broken.extend(inf_and_count(&series));
    // Bucket-based bounds on `_sum` mean nothing if the buckets are broken.
    if broken.iter().all(|(rule, _)| *rule != "cumulative") {
        broken.extend(sum_bounds(name, &series));
    }
    broken
}

/// Each bucket counts every observation <= its bound, so counts never fall.
fn cumulative(buckets: &[Bucket]) -> Option<Broken> {
    let mut previous: Option<&Bucket> = None;
    for bucket in buckets {
        let floor = previous.map_or(0.0, |previous| previous.count);
        // NaN is no count: it breaks the rule too.
        if bucket.count.is_nan() || bucket.count < floor {
            let below = previous.map_or("zero".to_string(), |previous| {
                format!(
                    "le={:?}, below it, holds {}",
                    previous.le_text, previous.count
                )
            });
            let problem = format!(
                "bucket le={:?} holds {} but {below}: buckets are cumulative, each counts \
                 every observation <= its bound, so counts never fall as `le` grows",
                bucket.le_text, bucket.count
            );
            return Some(("cumulative", problem));
        }
        previous = Some(bucket);
    }
    None
}

/// The `+Inf` bucket counts every observation, as `_count` does.
fn inf_and_count(series: &Series) -> Vec<Broken> {
    let mut broken = Vec::new();
    let inf = series
        .buckets
        .last()
        .filter(|bucket| bucket.le == Some(f64::INFINITY));
    match (inf, series.count) {
        (None, _) => broken.push((
            "inf_missing",
            "has no le=\"+Inf\" bucket: a histogram's last bucket is `+Inf`, counting every \
             observation, and equals `_count`"
                .to_string(),
        )),
        (Some(inf), Some(count)) if inf.count != count => broken.push((
            "inf_count",
            format!(
                "the +Inf bucket holds {} but `_count` is {count}: both count every \
                 observation and must be equal",
                inf.count
            ),
        )),
        _ => {}
    }
    if series.count.is_none() {
        broken.push(("count_missing", "has no `_count` sample".to_string()));
    }
    if series.sum.is_none() {
        broken.push(("sum_missing", "has no `_sum` sample".to_string()));
    }
    broken
}

/// What the buckets say `_sum` can be: each observation in bucket i lies
/// above the previous bound and at or below its own.
struct SumBounds {
    /// None when an observation may be unboundedly negative.
    lower: Option<f64>,
    /// None when an observation may be unboundedly large (+Inf bucket used,
    /// or no +Inf bucket at all).
    upper: Option<f64>,
    observations: f64,
}

fn bounds(buckets: &[Bucket], non_negative: bool) -> SumBounds {
    let mut lower = Some(0.0);
    let mut upper = 0.0;
    let mut previous: Option<&Bucket> = None;
    for bucket in buckets {
        let le = bucket.le.unwrap_or(f64::INFINITY);
        let floor = previous.map_or(0.0, |previous| previous.count);
        let in_bucket = bucket.count - floor;
        // Guarded: 0 × ∞ is NaN, and an empty bucket adds nothing.
        if in_bucket > 0.0 {
            let below = previous.and_then(|p| p.le).or(non_negative.then_some(0.0));
            lower = lower.zip(below).map(|(sum, below)| sum + in_bucket * below);
            upper += in_bucket * le;
        }
        previous = Some(bucket);
    }
    let has_inf = buckets.last().is_some_and(|b| b.le == Some(f64::INFINITY));
    SumBounds {
        lower,
        upper: (has_inf && upper.is_finite()).then_some(upper),
        observations: previous.map_or(0.0, |last| last.count),
    }
}

fn sum_bounds(name: &str, series: &Series) -> Vec<Broken> {
    let Some(sum) = series.sum else {
        return Vec::new();
    };
    // Durations and sizes are never negative.
    let non_negative = name.ends_with("_seconds") || name.ends_with("_bytes");
    if non_negative && (sum.is_nan() || sum < 0.0) {
        let problem =
            format!("`_sum` is {sum}, but `{name}` measures a quantity that is never negative");
        return vec![("sum_negative", problem)];
    }
    let SumBounds {
        lower,
        upper,
        observations,
    } = bounds(&series.buckets, non_negative);
    let slack = |bound: f64| TOLERANCE * bound.abs().max(sum.abs());
    let mut broken = Vec::new();
    if let Some(lower) = lower.filter(|&lower| sum < lower - slack(lower)) {
        broken.push(("sum_low", format!(
            "`_sum` is {sum} but the buckets place {observations} observations above their lower \
             bounds, which add up to at least {lower}: `_sum` must be the total of what was observed"
        )));
    }
    if let Some(upper) = upper.filter(|&upper| sum > upper + slack(upper)) {
        broken.push((
            "sum_high",
            format!(
            "`_sum` is {sum} but the buckets place all {observations} observations at or below \
             their bounds, so it can be at most {upper}: were values recorded in another unit \
             than the buckets (milliseconds into a `_seconds` histogram)?"
        ),
        ));
    }
    broken
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checks::lint::tests::run_with_finals;
    use crate::run::exposition::parse;
    use crate::run::Scrape;

    fn histogram(buckets: &[(&str, f64)], sum: f64, count: f64) -> String {
        let name = "storage_operation_duration_seconds";
        let mut text = format!("# HELP {name} Time.\n# TYPE {name} histogram\n");
        for (le, value) in buckets {
            text.push_str(&format!(
                "{name}_bucket{{operation=\"get\",le=\"{le}\"}} {value}\n"
            ));
        }
        text.push_str(&format!("{name}_sum{{operation=\"get\"}} {sum}\n"));
        text.push_str(&format!("{name}_count{{operation=\"get\"}} {count}\n"));
        text
    }

    fn check(text: &str) -> Vec<Violation> {
        histogram_consistency(&run_with_finals(&[text]))
    }

    fn rules(violations: &[Violation]) -> Vec<&str> {
        violations
            .iter()
            .map(|v| v.message.split(':').next().unwrap_or(""))
            .collect()
    }

    #[test]
    fn good_histogram_passes() {
        let text = histogram(&[("0.001", 1.0), ("0.01", 3.0), ("+Inf", 4.0)], 2.0125, 4.0);
        assert_eq!(check(&text), Vec::new());
        // Exactly at the bounds: 1 × 0.001 + 2 × 0.01, nothing above.
        let text = histogram(&[("0.001", 1.0), ("0.01", 3.0), ("+Inf", 3.0)], 0.021, 3.0);
        assert_eq!(check(&text), Vec::new());
        let empty = histogram(&[("0.001", 0.0), ("+Inf", 0.0)], 0.0, 0.0);
        assert_eq!(check(&empty), Vec::new());
    }

    #[test]
    fn non_cumulative_buckets_are_caught() {
        let text = histogram(&[("0.001", 5.0), ("0.01", 3.0), ("+Inf", 5.0)], 0.01, 5.0);
        let violations = check(&text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        let violation = &violations[0];
        assert_eq!(
            violation.subject,
            r#"storage_operation_duration_seconds{operation="get"}"#
        );
        assert!(
            violation.message.contains(r#"bucket le="0.01" holds 3"#),
            "{violation}"
        );
        assert!(violation
            .message
            .contains("final exposition of incarnation 0"));
        assert_eq!(violation.at, None);
    }

    #[test]
    fn inf_bucket_must_equal_count() {
        let text = histogram(&[("0.001", 1.0), ("+Inf", 2.0)], 0.5, 3.0);
        let violations = check(&text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0]
            .message
            .contains("+Inf bucket holds 2 but `_count` is 3"));
        let missing = histogram(&[("0.001", 1.0)], 0.0005, 1.0);
        assert!(rules(&check(&missing))[0].starts_with("has no le=\"+Inf\""));
    }

    #[test]
    fn milliseconds_in_a_seconds_histogram_are_caught() {
        let text = histogram(&[("0.001", 5.0), ("0.01", 5.0), ("+Inf", 5.0)], 5.0, 5.0);
        let violations = check(&text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0].message.contains("at most 0.005"),
            "{}",
            violations[0]
        );
    }

    #[test]
    fn sum_below_the_lower_bounds_is_caught() {
        // Two observations above 0.01 cannot add up to 0.001.
        let text = histogram(&[("0.01", 0.0), ("0.1", 2.0), ("+Inf", 2.0)], 0.001, 2.0);
        let violations = check(&text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0].message.contains("at least 0.02"),
            "{}",
            violations[0]
        );
        let negative = histogram(&[("0.01", 1.0), ("+Inf", 1.0)], -1.0, 1.0);
        assert!(check(&negative)[0].message.contains("never negative"));
    }

    #[test]
    fn bad_le_is_reported_without_panicking() {
        let text = histogram(&[("fast", 1.0), ("+Inf", 1.0)], 0.0, 1.0);
        let violations = check(&text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].message.contains("not a number"));
    }

    fn scrape(at_secs: u64, text: &str) -> Scrape {
        Scrape {
            node: "server-1".into(),
            at: Duration::from_secs(at_secs),
            ended_at: Duration::from_secs(at_secs),
            up: true,
            incarnation: Some(0),
            body: text.into(),
            content_type: String::new(),
            exposition: parse(text).ok(),
            error: None,
            finding: None,
            stored_keys: None,
            probes: Default::default(),
            rendered_at: None,
        }
    }

    #[test]
    fn a_persistent_bug_is_reported_once_per_node_where_first_seen() {
        let first = histogram(&[("0.001", 1.0), ("+Inf", 1.0)], 1.0, 1.0);
        let later = histogram(&[("0.001", 2.0), ("+Inf", 2.0)], 2.0, 2.0);
        let mut run = run_with_finals(&[&later]);
        run.scrapes = vec![scrape(1, &first), scrape(2, &later)];
        let violations = histogram_consistency(&run);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].at, Some(Duration::from_secs(1)));
        assert!(violations[0]
            .message
            .contains("scrape at 1.000s, incarnation 0"));
    }
}
