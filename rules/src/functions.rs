//! The PromQL functions in obsim's subset, each as Prometheus 2.42 computes
//! it (`promql/functions.go`), so that promtool agrees with every value.

use std::collections::BTreeMap;
use std::sync::Arc;

use promql_parser::parser::{Call, Expr};

use crate::eval::{drop_name, error, Element, Evaluator, Range, Result, Value};
use crate::series::{Labels, Sample, METRIC_NAME};

/// The functions the loader admits.
pub const FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "present_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "changes",
    "resets",
    "histogram_quantile",
    "abs",
    "ceil",
    "floor",
    "exp",
    "sqrt",
    "ln",
    "log2",
    "log10",
    "sgn",
    "round",
    "clamp",
    "clamp_min",
    "clamp_max",
    "absent",
    "absent_over_time",
    "vector",
    "scalar",
    "time",
    "sort",
    "sort_desc",
    "label_replace",
];

pub(crate) fn call(evaluator: &Evaluator<'_>, call: &Call, t_ms: i64) -> Result<Value> {
    let args = &call.args.args;
    let name = call.func.name;
    if name == "time" {
        return Ok(Value::Scalar(t_ms as f64 / 1000.0));
    }
    if name == "absent" || name == "absent_over_time" {
        return absent(evaluator, &args[0], t_ms);
    }
    let values = args
        .iter()
        .map(|arg| evaluator.eval(arg, t_ms))
        .collect::<Result<Vec<Value>>>()?;
    let scalar = |at: usize| match values.get(at) {
        Some(Value::Scalar(value)) => Ok(*value),
        _ => error(format!("{name}: argument {} must be a scalar", at + 1)),
    };
    let string = |at: usize| match values.get(at) {
        Some(Value::String(value)) => Ok(value.clone()),
        _ => error(format!("{name}: argument {} must be a string", at + 1)),
    };
    let matrix_at = |at: usize| match values.get(at) {
        Some(Value::Matrix(ranges)) => Ok(ranges.clone()),
        _ => error(format!(
            "{name}: argument {} must be a range vector",
            at + 1
        )),
    };
    let vector_at = |at: usize| match values.get(at) {
        Some(Value::Vector(elements)) => Ok(elements.clone()),
        _ => error(format!(
            "{name}: argument {} must be an instant vector",
            at + 1
        )),
    };
    let range_ms = || match args.first().map(|arg| &**arg) {
        Some(Expr::MatrixSelector(matrix)) => matrix.range.as_millis() as i64,
        _ => 0,
    };
    Ok(Value::Vector(match name {
        "rate" | "increase" | "delta" => {
            let range_ms = range_ms();
            over_ranges(evaluator, matrix_at(0)?, false, |samples| {
                extrapolated_rate(samples, t_ms, range_ms, name != "delta", name == "rate")
            })
        }
        "irate" | "idelta" => over_ranges(evaluator, matrix_at(0)?, false, |samples| {
            instant_rate(samples, name == "irate")
        }),
        "avg_over_time" => over_ranges(evaluator, matrix_at(0)?, false, |s| {
            Some(incremental_mean(s.iter().map(|s| s.value)))
        }),
        "min_over_time" => over_ranges(evaluator, matrix_at(0)?, false, |s| {
            Some(
                s.iter()
                    .map(|s| s.value)
                    .fold(f64::NAN, |a, v| if a.is_nan() || v < a { v } else { a }),
            )
        }),
        "max_over_time" => over_ranges(evaluator, matrix_at(0)?, false, |s| {
            Some(
                s.iter()
                    .map(|s| s.value)
                    .fold(f64::NAN, |a, v| if a.is_nan() || v > a { v } else { a }),
            )
        }),
        "sum_over_time" => over_ranges(evaluator, matrix_at(0)?, false, |s| {
            Some(kahan_sum(s.iter().map(|s| s.value)))
        }),
        "count_over_time" => over_ranges(evaluator, matrix_at(0)?, false, |s| Some(s.len() as f64)),
        "last_over_time" => over_ranges(evaluator, matrix_at(0)?, true, |s| {
            s.last().map(|s| s.value)
        }),
        "present_over_time" => over_ranges(evaluator, matrix_at(0)?, false, |_| Some(1.0)),
        "stddev_over_time" | "stdvar_over_time" => {
            over_ranges(evaluator, matrix_at(0)?, false, |s| {
                let var = kahan_variance(s.iter().map(|s| s.value));
                Some(if name == "stddev_over_time" {
                    var.sqrt()
                } else {
                    var
                })
            })
        }
        "quantile_over_time" => {
            let q = scalar(0)?;
            over_ranges(evaluator, matrix_at(1)?, false, |s| {
                let values: Vec<f64> = s.iter().map(|s| s.value).collect();
                Some(quantile(q, &values))
            })
        }
        "changes" | "resets" => over_ranges(evaluator, matrix_at(0)?, false, |s| {
            let counted = s.windows(2).filter(|pair| {
                let (prev, next) = (pair[0].value, pair[1].value);
                if name == "resets" {
                    next < prev
                } else {
                    // NaN to NaN is no change.
                    prev != next && !(prev.is_nan() && next.is_nan())
                }
            });
            Some(counted.count() as f64)
        }),
        "histogram_quantile" => histogram_quantile(scalar(0)?, vector_at(1)?),
        "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sgn" => {
            simple(vector_at(0)?, |v| match name {
                "abs" => v.abs(),
                "ceil" => v.ceil(),
                "floor" => v.floor(),
                "exp" => v.exp(),
                "sqrt" => v.sqrt(),
                "ln" => v.ln(),
                "log2" => v.log2(),
                "log10" => v.log10(),
                _ => sgn(v),
            })
        }
        "round" => {
            let to_nearest = if values.len() > 1 { scalar(1)? } else { 1.0 };
            // Go rounds half up here: floor(v/n + 0.5) * n, by the inverse.
            let inverse = 1.0 / to_nearest;
            simple(vector_at(0)?, |v| (v * inverse + 0.5).floor() / inverse)
        }
        "clamp" => {
            let (min, max) = (scalar(1)?, scalar(2)?);
            if max < min {
                Vec::new()
            } else {
                simple(vector_at(0)?, |v| v.max(min).min(max))
            }
        }
        "clamp_min" => {
            let min = scalar(1)?;
            simple(vector_at(0)?, |v| v.max(min))
        }
        "clamp_max" => {
            let max = scalar(1)?;
            simple(vector_at(0)?, |v| v.min(max))
        }
        "vector" => vec![Element {
            labels: Arc::default(),
            value: scalar(0)?,
        }],
        "scalar" => {
            let elements = vector_at(0)?;
            return Ok(Value::Scalar(match elements.as_slice() {
                [one] => one.value,
                _ => f64::NAN,
            }));
        }
        "sort" | "sort_desc" => vector_at(0)?,
        "label_replace" => label_replace(
            vector_at(0)?,
            &string(1)?,
            &string(2)?,
            &string(3)?,
            &string(4)?,
        )?,
        _ => return error(format!("{name} is not in obsim's PromQL subset")),
    }))
}

/// One step of Neumaier's compensated summation, as Prometheus's
/// `kahanSumInc`: the running sum and the compensation for lost low bits.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A compensated sum, as Prometheus's `sum` and `sum_over_time`. An
/// infinite sum is returned as it is: its compensation is NaN.
pub(crate) fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, c) = values.fold((0.0, 0.0), |(sum, c), v| kahan_inc(v, sum, c));
    if sum.is_infinite() {
        sum
    } else {
        sum + c
    }
}

/// A mean taken one value at a time, compensated, as `avg_over_time`.
pub(crate) fn incremental_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut mean, mut c, mut count) = (0.0f64, 0.0, 0.0);
    for v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() {
        mean
    } else {
        mean + c
    }
}

/// Population variance by Welford's method, compensated, as
/// `stdvar_over_time`.
pub(crate) fn kahan_variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for v in values {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Go's NaN-aware sign: NaN stays NaN, as does `math.Signbit`'s use there.
fn sgn(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v
    }
}

fn simple(elements: Vec<Element>, f: impl Fn(f64) -> f64) -> Vec<Element> {
    elements
        .into_iter()
        .map(|element| Element {
            labels: drop_name(element.labels),
            value: f(element.value),
        })
        .collect()
}

/// One element per range with a value; the name dropped unless `keep_name`
/// (Prometheus keeps it for `last_over_time` only).
fn over_ranges(
    evaluator: &Evaluator<'_>,
    ranges: Vec<Range>,
    keep_name: bool,
    f: impl Fn(&[Sample]) -> Option<f64>,
) -> Vec<Element> {
    ranges
        .into_iter()
        .filter_map(|range| {
            let value = f(&evaluator.range_samples(&range))?;
            // The series' own label set (or its set without the name, made
            // once per series), shared: copying it per series per instant
            // was most of what a `rate` over many series cost (perf).
            let labels = evaluator.range_labels_shared(&range, keep_name);
            Some(Element { labels, value })
        })
        .collect()
}

/// `rate`, `increase` and `delta`: the change over the samples in the range,
/// counter resets added back for counters, extrapolated towards the range's
/// edges (never below a counter's zero), per second for `rate`.
fn extrapolated_rate(
    samples: &[Sample],
    t_ms: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let range_start = t_ms - range_ms;
    let range_end = t_ms;
    let mut result = last.value - first.value;
    if is_counter {
        let mut last_value = 0.0;
        for sample in samples {
            if sample.value < last_value {
                result += last_value;
            }
            last_value = sample.value;
        }
    }
    let mut duration_to_start = (first.t_ms - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.t_ms) as f64 / 1000.0;
    let sampled_interval = (last.t_ms - first.t_ms) as f64 / 1000.0;
    let average_between = sampled_interval / (samples.len() - 1) as f64;
    if is_counter && result > 0.0 && first.value >= 0.0 {
        let duration_to_zero = sampled_interval * (first.value / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    extrapolate_to += if duration_to_start < threshold {
        duration_to_start
    } else {
        average_between / 2.0
    };
    extrapolate_to += if duration_to_end < threshold {
        duration_to_end
    } else {
        average_between / 2.0
    };
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` and `idelta`: from the last two samples.
fn instant_rate(samples: &[Sample], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (prev, last) = (samples[samples.len() - 2], samples[samples.len() - 1]);
    let result = if is_rate && last.value < prev.value {
        // A counter reset: the last value is the increase since.
        last.value
    } else {
        last.value - prev.value
    };
    let interval_ms = last.t_ms - prev.t_ms;
    if interval_ms == 0 {
        return None;
    }
    Some(if is_rate {
        result / (interval_ms as f64 / 1000.0)
    } else {
        result
    })
}

/// The φ-quantile of `values`, interpolated as Prometheus's `quantile`.
pub(crate) fn quantile(q: f64, values: &[f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    sorted[lower as usize] * (1.0 - weight) + sorted[upper as usize] * weight
}

/// `histogram_quantile(q, buckets)`: the buckets grouped by their labels
/// without `le`, each group's quantile interpolated within its bucket.
fn histogram_quantile(q: f64, elements: Vec<Element>) -> Vec<Element> {
    let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    for element in elements {
        let Some(bound) = element.labels.get("le").and_then(|le| parse_bound(le)) else {
            continue;
        };
        let labels: Labels = element
            .labels
            .iter()
            .filter(|(key, _)| key.as_str() != METRIC_NAME && key.as_str() != "le")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        groups
            .entry(labels)
            .or_default()
            .push((bound, element.value));
    }
    groups
        .into_iter()
        .map(|(labels, buckets)| Element {
            labels: Arc::new(labels),
            value: bucket_quantile(q, buckets),
        })
        .collect()
}

fn parse_bound(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// Prometheus's `bucketQuantile`, as of 2.42.
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce equal bounds (`le="1"` and `le="1.0"`), summing counts.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (bound, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == bound => last.1 += count,
            _ => merged.push((bound, count)),
        }
    }
    // Make counts monotonic: rates of separately scraped buckets can dip.
    let mut max = f64::NEG_INFINITY;
    for bucket in &mut merged {
        if bucket.1 > max {
            max = bucket.1;
        } else {
            bucket.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1]
        .iter()
        .position(|bucket| bucket.1 >= rank)
        .unwrap_or(merged.len() - 1);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let mut bucket_start = 0.0;
    let bucket_end = merged[b].0;
    let mut count = merged[b].1;
    if b > 0 {
        bucket_start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// `absent(v)`: nothing when `v` has elements; else one element of value 1,
/// labelled with the selector's equality matchers.
fn absent(evaluator: &Evaluator<'_>, arg: &Expr, t_ms: i64) -> Result<Value> {
    let present = match evaluator.eval(arg, t_ms)? {
        Value::Vector(elements) => !elements.is_empty(),
        Value::Matrix(ranges) => !ranges.is_empty(),
        _ => return error("absent needs a vector"),
    };
    if present {
        return Ok(Value::Vector(Vec::new()));
    }
    let selector = match arg {
        Expr::VectorSelector(selector) => Some(selector),
        Expr::MatrixSelector(matrix) => Some(&matrix.vs),
        _ => None,
    };
    let mut labels = Labels::new();
    if let Some(selector) = selector {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for matcher in &selector.matchers.matchers {
            *seen.entry(&matcher.name).or_default() += 1;
        }
        for matcher in &selector.matchers.matchers {
            let equal = matches!(matcher.op, promql_parser::label::MatchOp::Equal);
            if equal && matcher.name != METRIC_NAME && seen[matcher.name.as_str()] == 1 {
                labels.insert(matcher.name.clone(), matcher.value.clone());
            }
        }
    }
    Ok(Value::Vector(vec![Element {
        labels: Arc::new(labels),
        value: 1.0,
    }]))
}

fn label_replace(
    elements: Vec<Element>,
    dst: &str,
    replacement: &str,
    src: &str,
    pattern: &str,
) -> Result<Vec<Element>> {
    let regex = regex::Regex::new(&format!("^(?s:{pattern})$")).or_else(|_| {
        error(format!(
            "label_replace: invalid regular expression {pattern:?}"
        ))
    })?;
    let mut out = Vec::with_capacity(elements.len());
    let mut seen = std::collections::BTreeSet::new();
    for mut element in elements {
        let value = element.labels.get(src).cloned().unwrap_or_default();
        if let Some(captures) = regex.captures(&value) {
            let mut replaced = String::new();
            captures.expand(replacement, &mut replaced);
            if replaced.is_empty() {
                Arc::make_mut(&mut element.labels).remove(dst);
            } else {
                Arc::make_mut(&mut element.labels).insert(dst.to_string(), replaced);
            }
        }
        if !seen.insert(element.labels.clone()) {
            return error("vector cannot contain metrics with the same labelset");
        }
        out.push(element);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points
            .iter()
            .map(|&(t_ms, value)| Sample { t_ms, value })
            .collect()
    }

    #[test]
    fn rate_extrapolates_to_the_range_edges_as_prometheus_does() {
        // 0, 10, 20 ... at 15 s steps: 5m window at 300 s sees 21 samples.
        let points: Vec<(i64, f64)> = (0..=20).map(|i| (i * 15_000, i as f64 * 10.0)).collect();
        let rate = extrapolated_rate(&samples(&points), 300_000, 300_000, true, true).unwrap();
        // 200 over 300 s sampled, the start is the counter's own zero.
        assert!((rate - 200.0 / 300.0).abs() < 1e-12, "{rate}");
    }

    #[test]
    fn a_counter_reset_is_added_back() {
        let points = [(0, 5.0), (15_000, 10.0), (30_000, 2.0), (45_000, 6.0)];
        let increase = extrapolated_rate(&samples(&points), 45_000, 45_000, true, false).unwrap();
        // 10 - 5, then 2 after the reset, then 4; the samples span the
        // whole range, so nothing is extrapolated.
        assert_eq!(increase, 11.0);
    }

    #[test]
    fn histogram_quantile_answers_the_largest_finite_bound_past_it() {
        let q = bucket_quantile(0.99, vec![(0.1, 0.0), (0.5, 1.0), (f64::INFINITY, 100.0)]);
        assert_eq!(q, 0.5);
        let q = bucket_quantile(0.5, vec![(1.0, 50.0), (2.0, 100.0), (f64::INFINITY, 100.0)]);
        assert_eq!(q, 1.0);
        assert!(bucket_quantile(0.5, vec![(1.0, 0.0), (f64::INFINITY, 0.0)]).is_nan());
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(1.0, &[1.0, 2.0]), 2.0);
    }
}
