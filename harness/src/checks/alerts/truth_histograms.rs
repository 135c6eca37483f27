//! Ground-truth histograms: each timed operation the ledger holds, in the
//! buckets the system exports, with bounds added above its largest where
//! real latencies went past it (so a quantile the system's buckets cannot
//! see is still seen on the truth timeline).

use std::collections::{BTreeMap, BTreeSet};

use obsim_rules::Labels;

use super::scraped::series;
use crate::run::{Contract, Run, Timing, TimingSource};

/// Bounds truth may add above a histogram's largest finite one.
const EXTRA_BOUNDS_MAX: usize = 64;

/// A timed histogram's truth: its bounds and each node incarnation's
/// observations by label value.
pub(super) struct Histogram {
    pub name: String,
    /// `<name>_bucket`.
    pub bucket_name: String,
    label: String,
    /// Finite bounds as the system writes them, then any truth added.
    pub bounds: Vec<(f64, String)>,
    /// By (node, incarnation, label value): (end instant in nanoseconds,
    /// seconds), by end.
    observed: BTreeMap<(String, u32, String), Vec<(i64, f64)>>,
}

impl Histogram {
    pub(super) fn new(run: &Run, contract: &Contract, timing: &Timing) -> Option<Histogram> {
        let mut bounds = exported_bounds(run, &timing.histogram)?;
        let mut observed: BTreeMap<(String, u32, String), Vec<(i64, f64)>> = BTreeMap::new();
        let mut observe =
            |node: &str, incarnation: u32, label: &str, end: std::time::Duration, seconds: f64| {
                let key = (node.to_string(), incarnation, label.to_string());
                observed
                    .entry(key)
                    .or_default()
                    .push((end.as_nanos() as i64, seconds));
            };
        match &timing.source {
            TimingSource::Storage => {
                for op in &run.storage_ops {
                    let word = contract.storage_word(op.operation);
                    observe(
                        &op.node,
                        op.incarnation,
                        word,
                        op.ended_at,
                        op.duration().as_secs_f64(),
                    );
                }
            }
            TimingSource::Requests | TimingSource::RequestsByMethod => {
                for request in &run.requests {
                    let (Some(end), Some(took)) = (request.replied_at, request.duration()) else {
                        continue;
                    };
                    let label = match timing.source {
                        TimingSource::Requests => &request.operation,
                        _ => &request.method,
                    };
                    observe(
                        &request.node,
                        request.incarnation,
                        label,
                        end,
                        took.as_secs_f64(),
                    );
                }
            }
            TimingSource::Calls => {
                for call in &run.calls {
                    let (Some(end), Some(took)) = (call.ended_at, call.duration()) else {
                        continue;
                    };
                    observe(
                        &call.node,
                        call.incarnation,
                        &call.operation,
                        end,
                        took.as_secs_f64(),
                    );
                }
            }
            TimingSource::Dependency(dependency) => {
                for call in run
                    .dependency_calls
                    .iter()
                    .filter(|c| &c.dependency == dependency)
                {
                    let took = call.duration().as_secs_f64();
                    observe(
                        &call.node,
                        call.incarnation,
                        &call.operation,
                        call.ended_at,
                        took,
                    );
                }
            }
        }
        for times in observed.values_mut() {
            times.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        }
        let slowest = observed
            .values()
            .flatten()
            .map(|(_, s)| *s)
            .fold(0.0, f64::max);
        while bounds.len() < EXTRA_BOUNDS_MAX + 1 {
            let Some(&(last, _)) = bounds.last() else {
                break;
            };
            if last >= slowest || last <= 0.0 {
                break;
            }
            bounds.push((last * 2.0, format!("{}", last * 2.0)));
        }
        Some(Histogram {
            name: timing.histogram.clone(),
            bucket_name: format!("{}_bucket", timing.histogram),
            label: timing.label.clone(),
            bounds,
            observed,
        })
    }

    /// Every label value `node` observed in the run, in any incarnation: a
    /// perfect registry exports them from the start, at zero.
    pub(super) fn label_values(&self, node: &str) -> BTreeSet<String> {
        self.observed
            .keys()
            .filter(|(n, _, _)| n == node)
            .map(|(_, _, value)| value.clone())
            .collect()
    }

    pub(super) fn observations(&self, node: &str, incarnation: u32, value: &str) -> &[(i64, f64)] {
        let key = (node.to_string(), incarnation, value.to_string());
        self.observed.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The labels of one series' `_bucket`s (each bound, then `+Inf`),
    /// `_sum` and `_count`, in the order [`Cursor::values`] gives values.
    pub(super) fn series_labels(&self, job: &str, node: &str, value: &str) -> Vec<Labels> {
        let own = |extra: Option<(&str, &str)>| {
            let mut labels: Vec<(String, String)> = Vec::new();
            if !self.label.is_empty() {
                labels.push((self.label.clone(), value.to_string()));
            }
            if let Some((key, value)) = extra {
                labels.push((key.to_string(), value.to_string()));
            }
            labels
        };
        let bucket = format!("{}_bucket", self.name);
        let mut out: Vec<Labels> = self
            .bounds
            .iter()
            .map(|(_, text)| series(job, node, &bucket, &own(Some(("le", text)))))
            .collect();
        out.push(series(job, node, &bucket, &own(Some(("le", "+Inf")))));
        out.push(series(job, node, &format!("{}_sum", self.name), &own(None)));
        out.push(series(
            job,
            node,
            &format!("{}_count", self.name),
            &own(None),
        ));
        out
    }
}

/// The finite bucket bounds the system exports for `histogram`, by value,
/// with the text it writes them in. None: it never exported a bucket.
fn exported_bounds(run: &Run, histogram: &str) -> Option<Vec<(f64, String)>> {
    let bucket = format!("{histogram}_bucket");
    let mut bounds: BTreeMap<u64, (f64, String)> = BTreeMap::new();
    for life in &run.incarnations {
        let Ok(exposition) = life.final_parsed() else {
            continue;
        };
        for (_, sample) in exposition.samples().filter(|(_, s)| s.name == bucket) {
            let Some(text) = sample.label("le") else {
                continue;
            };
            let Ok(bound) = text.parse::<f64>() else {
                continue;
            };
            if bound.is_finite() {
                bounds
                    .entry(bound.to_bits())
                    .or_insert((bound, text.to_string()));
            }
        }
    }
    let mut bounds: Vec<(f64, String)> = bounds.into_values().collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    (!bounds.is_empty()).then_some(bounds)
}

/// One histogram series' running state: how many observations it has
/// taken in, and their buckets, count and sum.
pub(super) struct Cursor {
    taken: usize,
    buckets: Vec<f64>,
    count: f64,
    sum: f64,
}

impl Cursor {
    pub(super) fn new(histogram: &Histogram) -> Cursor {
        Cursor {
            taken: 0,
            buckets: vec![0.0; histogram.bounds.len()],
            count: 0.0,
            sum: 0.0,
        }
    }

    /// The buckets, `+Inf`, sum and count, as [`Histogram::series_labels`]
    /// lists their series.
    pub(super) fn values(&self) -> impl Iterator<Item = f64> + '_ {
        let tail = [self.count, self.sum, self.count];
        self.buckets.iter().copied().chain(tail)
    }

    /// Takes in the observations that ended by `t_ns`, placing each in
    /// every bucket whose bound it does not exceed.
    pub(super) fn advance(
        &mut self,
        observations: &[(i64, f64)],
        bounds: &[(f64, String)],
        t_ns: i64,
    ) {
        while let Some(&(end, seconds)) = observations.get(self.taken) {
            if end > t_ns {
                break;
            }
            self.taken += 1;
            self.count += 1.0;
            self.sum += seconds;
            for (bucket, (bound, _)) in self.buckets.iter_mut().zip(bounds) {
                if seconds <= *bound {
                    *bucket += 1.0;
                }
            }
        }
    }
}
