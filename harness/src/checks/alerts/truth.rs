//! The series a perfectly instrumented system would have shown a perfect
//! scraper, at the instants obsim's scraper scraped: synthesized from the
//! ledger, never from the system's telemetry.
//!
//! - `up` is 1 while the node has a live incarnation that is not paused, 0
//!   while it is down or paused (a paused process answers no scrape, and
//!   serves nothing: for the rules it is down, and truth agrees).
//! - A counter series comes from the contract's accuracy rules:
//!   `final(m{labels}) == <ledger quantities>` makes `m{labels}` on each
//!   node that exports `m`, counting that node incarnation's events up to
//!   the instant, from zero at each start. Of a metric's rules, those with
//!   the most labels are used (`{status}` over none), so that the series
//!   partition the metric rather than overlap; each is split further by
//!   every label the real metric has that the ledger records (`operation`,
//!   `method`, `dependency`), since `rate()` extrapolates each series on its
//!   own and a sum of coarser series would not read the same.
//! - Values are as of the instant the node rendered each answered scrape;
//!   where a scrape failed, truth has no data either.
//! - A histogram comes from a timing contract: each node incarnation's
//!   timed operations that ended by the instant, in the buckets the system
//!   exports. Where the system's buckets stop below what really happened,
//!   truth adds bounds (doubling) until every observation has a finite one,
//!   so that a quantile the system's buckets cannot see is still seen.
//! - While a node is down its series go stale, as they would in Prometheus;
//!   so do they at a scrape that failed while the node was up (a lost or
//!   delayed scrape is the network's doing, and truth compares values, not
//!   availability: `up` alone says whether the node was there).

use std::collections::{BTreeMap, BTreeSet};

use obsim_rules::{SeriesStore, StoreError, METRIC_NAME};
use obsim_scenario::{Comparison, Expectation, MetricSelector, Quantity, Sign, Term};

use super::events;
use super::scraped::{in_time_order, millis, series, target};
use super::truth_histograms::{Cursor, Histogram};
use crate::run::{Contract, Run};

/// One counter series truth synthesizes: its name and labels, and the
/// signed events each node incarnation counts.
struct Counter {
    name: String,
    labels: Vec<(String, String)>,
    /// By (node, incarnation): event instants added, and subtracted.
    events: BTreeMap<(String, u32), (Vec<i64>, Vec<i64>)>,
}

pub(super) fn truth_series(
    run: &Run,
    contract: &Contract,
    rules: &[Expectation],
    job: &str,
    step_ms: i64,
    samples_max: usize,
) -> Result<SeriesStore, StoreError> {
    let exporters = exporters(run);
    let pauses = pauses(run);
    let counters = counters(run, contract, rules);
    let histograms: Vec<Histogram> = contract
        .timings
        .iter()
        .filter_map(|timing| Histogram::new(run, contract, timing))
        .collect();
    let mut store = SeriesStore::new(samples_max);
    // Series ids, looked up once per series rather than once per sample.
    let mut counter_ids: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    let mut histogram_ids: BTreeMap<(usize, &str, String), Vec<usize>> = BTreeMap::new();
    let mut shown: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    let mut cursors: BTreeMap<(usize, String, u32, String), Cursor> = BTreeMap::new();
    for scrape in in_time_order(run) {
        let (node, t_ms) = (scrape.node.as_str(), millis(scrape, step_ms));
        // The incarnation that answered this scrape, if one did: it was
        // there. A scrape sent into a pause is answered at the resume,
        // within its timeout, and reads the registry then.
        let answered = scrape.incarnation.filter(|_| scrape.up);
        let alive = answered.is_some()
            || (incarnation_at(run, node, t_ms).is_some() && !paused_at(&pauses, node, t_ms));
        let mut up = target(job, node);
        up.insert(METRIC_NAME.into(), "up".into());
        store.push(&up, t_ms, if alive { 1.0 } else { 0.0 })?;
        let shown = shown.entry(node).or_default();
        // A scrape that failed has no data on either timeline: truth is
        // what a perfect registry held, at the instants Prometheus got one.
        // (A lost scrape is the network's doing, not the instrumentation's;
        // `up` still says whether the node was there.)
        let Some(incarnation) = answered else {
            for &id in shown.iter() {
                store.mark_stale_at(id, t_ms)?;
            }
            continue;
        };
        // What had happened by the instant the node rendered its answer.
        // In nanoseconds, as the events are: swarm seed 4475 failed a read
        // 0.19 ms after a render in the same millisecond, and truth counted
        // it while the registry, rightly, had not yet.
        let upto_ns = scrape.rendered_at.unwrap_or(scrape.at).as_nanos() as i64;
        let exported = |name: &str| {
            exporters
                .get(node)
                .is_some_and(|names| names.contains(name))
        };
        for (at, counter) in counters.iter().enumerate() {
            if !exported(&counter.name) {
                continue;
            }
            let id = *counter_ids.entry((at, node)).or_insert_with(|| {
                store.series_id(&series(job, node, &counter.name, &counter.labels))
            });
            let key = (node.to_string(), incarnation);
            let value = counter.events.get(&key).map_or(0.0, |(plus, minus)| {
                let upto = |times: &Vec<i64>| times.partition_point(|t| *t <= upto_ns) as f64;
                upto(plus) - upto(minus)
            });
            store.push_at(id, t_ms, value)?;
            shown.insert(id);
        }
        for (at, histogram) in histograms.iter().enumerate() {
            if !exported(&histogram.bucket_name) {
                continue;
            }
            for value in histogram.label_values(node) {
                let ids = histogram_ids
                    .entry((at, node, value.clone()))
                    .or_insert_with(|| {
                        histogram
                            .series_labels(job, node, &value)
                            .iter()
                            .map(|labels| store.series_id(labels))
                            .collect()
                    });
                let key = (at, node.to_string(), incarnation, value.clone());
                let cursor = cursors.entry(key).or_insert_with(|| Cursor::new(histogram));
                cursor.advance(
                    histogram.observations(node, incarnation, &value),
                    &histogram.bounds,
                    upto_ns,
                );
                for (&id, sample) in ids.iter().zip(cursor.values()) {
                    store.push_at(id, t_ms, sample)?;
                    shown.insert(id);
                }
            }
        }
    }
    Ok(store)
}

/// By node, each pause and resume in the fault log: (instant, paused).
type Pauses<'r> = BTreeMap<&'r str, Vec<(i64, bool)>>;

fn pauses(run: &Run) -> Pauses<'_> {
    use obsim_faults::FaultKind;
    let mut found: Pauses<'_> = BTreeMap::new();
    for event in &run.faults {
        let paused = match event.kind {
            FaultKind::NodePause => true,
            FaultKind::NodeResume => false,
            _ => continue,
        };
        let at = event.at.as_millis() as i64;
        found.entry(&event.target).or_default().push((at, paused));
    }
    found
}

/// Whether `node` is paused at `t_ms`: its last pause or resume by then
/// was a pause.
fn paused_at(pauses: &Pauses<'_>, node: &str, t_ms: i64) -> bool {
    let Some(changes) = pauses.get(node) else {
        return false;
    };
    let upto = changes.partition_point(|(at, _)| *at <= t_ms);
    upto > 0 && changes[upto - 1].1
}

/// The incarnation of `node` alive at `t_ms`, if any.
fn incarnation_at(run: &Run, node: &str, t_ms: i64) -> Option<u32> {
    run.incarnations
        .iter()
        .filter(|life| life.node == node)
        .find(|life| {
            let started = life.started_at.as_millis() as i64 <= t_ms;
            let not_ended = life
                .ended_at
                .is_none_or(|end| t_ms < end.as_millis() as i64);
            started && not_ended
        })
        .map(|life| life.number)
}

/// By node, the name of every sample any of its final expositions holds:
/// a node gets truth series only of what it exports.
fn exporters(run: &Run) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut found: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for life in &run.incarnations {
        let Ok(exposition) = life.final_parsed() else {
            continue;
        };
        let names = found.entry(&life.node).or_default();
        for (_, sample) in exposition.samples() {
            names.insert(&sample.name);
        }
    }
    found
}

/// The counter series the accuracy rules define: of each metric, the rules
/// whose selectors name the most labels, the first rule of each selector.
fn counters(run: &Run, contract: &Contract, rules: &[Expectation]) -> Vec<Counter> {
    let labelled = metric_labels(run);
    let mut by_metric: BTreeMap<String, Chosen> = BTreeMap::new();
    for rule in rules {
        let Some((metric, series)) = counter(run, contract, rule, &labelled) else {
            continue;
        };
        let keys = metric.selector.labels.len();
        let mut selector = metric.selector.labels.clone();
        selector.sort();
        let chosen = by_metric.entry(metric.metric.clone()).or_default();
        if chosen.series.is_empty() || keys > chosen.keys {
            *chosen = Chosen {
                keys,
                selectors: vec![selector],
                series,
            };
        } else if keys == chosen.keys && !chosen.selectors.contains(&selector) {
            chosen.selectors.push(selector);
            chosen.series.extend(series);
        }
    }
    by_metric
        .into_values()
        .flat_map(|chosen| chosen.series)
        .collect()
}

/// A metric's rules chosen so far: how many labels their selectors name,
/// the selectors, and the series they make.
#[derive(Default)]
struct Chosen {
    keys: usize,
    selectors: Vec<Vec<(String, String)>>,
    series: Vec<Counter>,
}

/// By metric name, every label name its samples carry in any final
/// exposition: what a truth series may be split by.
fn metric_labels(run: &Run) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for life in &run.incarnations {
        let Ok(exposition) = life.final_parsed() else {
            continue;
        };
        for (_, sample) in exposition.samples() {
            let names = found.entry(sample.name.clone()).or_default();
            names.extend(sample.labels.iter().map(|(key, _)| key.clone()));
        }
    }
    found
}

/// `final(m{labels}) == q1 ± q2 ...` as series, when every `q` has events
/// and the selector names only real labels: one series per value of each
/// label the real metric has and every `q`'s records carry (`operation`,
/// `method`), so that truth is as fine-grained as the metric. `rate()`
/// extrapolates each series on its own, so a sum of coarser series would
/// not read the same.
fn counter(
    run: &Run,
    contract: &Contract,
    rule: &Expectation,
    labelled: &BTreeMap<String, BTreeSet<String>>,
) -> Option<(MetricSelector, Vec<Counter>)> {
    if rule.comparison != Comparison::Eq {
        return None;
    }
    let single_final = |terms: &[(Sign, Term)]| match terms {
        [(Sign::Plus, Term::Quantity(Quantity::Final(metric)))] => Some(metric.clone()),
        _ => None,
    };
    let (metric, other) = match single_final(&rule.left.terms) {
        Some(metric) => (metric, &rule.right.terms),
        None => (single_final(&rule.right.terms)?, &rule.left.terms),
    };
    let pseudo = |key: &str| key == "node" || key == "incarnation";
    if metric.selector.labels.iter().any(|(key, _)| pseudo(key)) {
        return None;
    }
    let quantities: Vec<(Sign, &Quantity)> = other
        .iter()
        .map(|(sign, term)| match term {
            Term::Quantity(quantity) => Some((*sign, quantity)),
            Term::Number(_) => None,
        })
        .collect::<Option<_>>()?;
    let fixed: BTreeSet<&str> = metric
        .selector
        .labels
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    let real = labelled.get(&metric.metric);
    let split: Vec<&'static str> = ["dependency", "method", "operation"]
        .into_iter()
        .filter(|label| !fixed.contains(label))
        .filter(|label| real.is_some_and(|names| names.contains(*label)))
        .filter(|label| {
            quantities
                .iter()
                .all(|(_, q)| events::fields_of(q).contains(label))
        })
        .collect();
    type Counted = BTreeMap<(String, u32), (Vec<i64>, Vec<i64>)>;
    let mut by_split: BTreeMap<Vec<(String, String)>, Counted> = BTreeMap::new();
    for (sign, quantity) in &quantities {
        for event in events::events(run, quantity)? {
            let key: Vec<(String, String)> = split
                .iter()
                .map(|label| {
                    let value = event
                        .fields
                        .iter()
                        .find(|(field, _)| field == label)
                        .map_or("", |(_, value)| value.as_str());
                    // Storage speaks obsim's words; the metric the system's.
                    let value = match quantity {
                        Quantity::Storage { .. } => contract.storage_word(value),
                        _ => value,
                    };
                    (label.to_string(), value.to_string())
                })
                .collect();
            let counted = by_split.entry(key).or_default();
            let (plus, minus) = counted.entry((event.node, event.incarnation)).or_default();
            match sign {
                Sign::Plus => plus.push(event.t_ns),
                Sign::Minus => minus.push(event.t_ns),
            }
        }
    }
    if by_split.is_empty() && split.is_empty() {
        // Nothing happened: the series still exists, at zero.
        by_split.insert(Vec::new(), BTreeMap::new());
    }
    let series = by_split
        .into_iter()
        .map(|(key, mut counted)| {
            for (plus, minus) in counted.values_mut() {
                plus.sort_unstable();
                minus.sort_unstable();
            }
            let mut labels = metric.selector.labels.clone();
            labels.extend(key);
            labels.sort();
            Counter {
                name: metric.metric.clone(),
                labels,
                events: counted,
            }
        })
        .collect();
    Some((metric, series))
}
