//! The series production Prometheus would hold: every up scrape's samples
//! at the scrape's start time, `up` for every scrape, and staleness markers
//! where Prometheus writes them (a series a scrape no longer has, every
//! series of a target whose scrape failed).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use obsim_rules::{Labels, SeriesStore, StoreError, METRIC_NAME};

use crate::run::{Run, Scrape};

/// Builds the scraped series of `run`, every target labelled with `job` and
/// its node as `instance`, each scrape stamped at its scheduled instant on
/// the `step_ms` grid (see [`millis`]).
pub(super) fn scraped_series(
    run: &Run,
    job: &str,
    step_ms: i64,
    samples_max: usize,
) -> Result<SeriesStore, StoreError> {
    let mut store = SeriesStore::new(samples_max);
    // Each sample's series id, by where it came from: built once per series,
    // not once per sample (a label map per sample cost more than the rules).
    type Key<'r> = (&'r str, &'r str, &'r [(String, String)]);
    let mut ids: HashMap<Key<'_>, usize> = HashMap::new();
    // Each target's series in its previous scrape: what goes stale next.
    let mut previous: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for scrape in in_time_order(run) {
        let t_ms = millis(scrape, step_ms);
        let mut up = target(job, &scrape.node);
        up.insert(METRIC_NAME.into(), "up".into());
        store.push(&up, t_ms, if scrape.up { 1.0 } else { 0.0 })?;
        let mut now = BTreeSet::new();
        if let Some(exposition) = scrape.exposition.as_ref().filter(|_| scrape.up) {
            for (_, sample) in exposition.samples() {
                let key = (
                    scrape.node.as_str(),
                    sample.name.as_str(),
                    sample.labels.as_slice(),
                );
                let id = *ids.entry(key).or_insert_with(|| {
                    store.series_id(&series(job, &scrape.node, &sample.name, &sample.labels))
                });
                // A series twice in one exposition: Prometheus keeps the
                // first and reports the duplicate; the lint reports it here.
                if !now.insert(id) {
                    continue;
                }
                store.push_at(id, t_ms, sample.value)?;
            }
        }
        let before = previous.entry(&scrape.node).or_default();
        for &gone in before.difference(&now) {
            store.mark_stale_at(gone, t_ms)?;
        }
        *before = now;
    }
    Ok(store)
}

/// Scrapes by start time; the run's record order among equal times.
pub(super) fn in_time_order(run: &Run) -> Vec<&Scrape> {
    let mut scrapes: Vec<&Scrape> = run.scrapes.iter().collect();
    scrapes.sort_by_key(|scrape| scrape.at);
    scrapes
}

/// The instant a scrape's samples are stamped with: the scrape interval's
/// grid point nearest its start. Each target's scrape loop starts a few
/// milliseconds into the run (as nodes boot), so scrapes run that much off
/// the grid; stamping them on it loses nothing a rule can tell, and lets a
/// promtool test file, whose `input_series` can only express a grid, hold
/// the very samples obsim evaluated.
pub(super) fn millis(scrape: &Scrape, step_ms: i64) -> i64 {
    let at = scrape.at.as_millis() as i64;
    let step = step_ms.max(1);
    (at + step / 2) / step * step
}

/// A target's labels: `job` and `instance`.
pub(super) fn target(job: &str, node: &str) -> Labels {
    let mut labels = Labels::new();
    labels.insert("job".into(), job.into());
    labels.insert("instance".into(), node.into());
    labels
}

/// A sample's series as Prometheus stores it: its name and labels, then the
/// target's. A label of the sample's own that clashes with `job` or
/// `instance` is kept as `exported_job` (`honor_labels: false`).
pub(super) fn series(job: &str, node: &str, name: &str, own: &[(String, String)]) -> Labels {
    let mut labels = target(job, node);
    labels.insert(METRIC_NAME.into(), name.into());
    for (key, value) in own {
        if value.is_empty() {
            continue;
        }
        let key = match key.as_str() {
            "job" | "instance" => format!("exported_{key}"),
            _ => key.clone(),
        };
        labels.insert(key, value.clone());
    }
    labels
}
