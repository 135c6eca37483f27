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
    // A lookup table only, never iterated; foldhash because SipHash over
    // every sample's label slice was most of this function's cost (perf).
    let mut ids: HashMap<Key<'_>, usize, foldhash::fast::FixedState> = HashMap::default();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use obsim_rules::{is_stale, labels};

    use super::*;
    use crate::checks::lint::tests::run_with_finals;
    use crate::run::exposition;

    fn scrape(at_ms: u64, body: Option<&str>) -> Scrape {
        let parsed = body.map(|text| exposition::parse(text).expect("parses"));
        Scrape {
            node: "server-1".into(),
            at: Duration::from_millis(at_ms),
            ended_at: Duration::from_millis(at_ms + 3),
            up: body.is_some(),
            incarnation: body.map(|_| 0),
            body: body.unwrap_or_default().to_string(),
            content_type: String::new(),
            exposition: parsed,
            error: body.is_none().then(|| "scrape timed out".to_string()),
            finding: None,
            stored_keys: None,
            probes: Default::default(),
            rendered_at: None,
        }
    }

    #[test]
    fn a_down_scrape_writes_up_zero_and_marks_every_series_stale_on_the_grid() {
        let mut run = run_with_finals(&[]);
        let body = "# TYPE requests_total counter\nrequests_total{status=\"ok\"} 3\n";
        // Scrapes start a few milliseconds off the 1 s grid, as targets boot.
        run.scrapes = vec![scrape(1_002, Some(body)), scrape(2_002, None)];
        let store = scraped_series(&run, "svc", 1_000, 1_000).unwrap();
        let up = labels([("__name__", "up"), ("job", "svc"), ("instance", "server-1")]);
        let requests = labels([
            ("__name__", "requests_total"),
            ("job", "svc"),
            ("instance", "server-1"),
            ("status", "ok"),
        ]);
        let find = |wanted: &Labels| {
            store
                .series()
                .iter()
                .find(|series| *series.labels == *wanted)
                .unwrap_or_else(|| panic!("no series {wanted:?}"))
        };
        let up = &find(&up).samples;
        assert_eq!(
            (up[0].t_ms, up[0].value, up[1].t_ms, up[1].value),
            (1_000, 1.0, 2_000, 0.0)
        );
        let requests = &find(&requests).samples;
        assert_eq!((requests[0].t_ms, requests[0].value), (1_000, 3.0));
        assert!(requests[1].t_ms == 2_000 && is_stale(requests[1].value));
    }

    #[test]
    fn a_target_label_clashing_with_the_samples_own_is_kept_as_exported() {
        let labels = series("svc", "server-1", "m", &[("job".into(), "other".into())]);
        assert_eq!(labels.get("job").map(String::as_str), Some("svc"));
        assert_eq!(
            labels.get("exported_job").map(String::as_str),
            Some("other")
        );
    }
}
