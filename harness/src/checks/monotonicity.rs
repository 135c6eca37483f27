use std::collections::BTreeMap;
use std::time::Duration;

use obsim_faults::FaultKind;

use super::{Check, Violation};
use crate::run::{Run, Scrape};

/// Counters, and the `_count`, `_sum` and `_bucket` samples of histograms,
/// never go down between two scrapes of one node incarnation. A lower value
/// in a later incarnation is a reset, allowed only across a restart that the
/// fault log recorded in between.
pub fn counter_monotonicity(run: &Run) -> Vec<Violation> {
    let mut by_node: BTreeMap<&str, Vec<&Scrape>> = BTreeMap::new();
    for scrape in run.scrapes.iter().filter(|scrape| scrape.up) {
        by_node.entry(&scrape.node).or_default().push(scrape);
    }
    let mut violations = Vec::new();
    for scrapes in by_node.values() {
        check_node_counters(run, scrapes, &mut violations);
    }
    violations
}

/// The last value seen of each cumulative series, and where it was seen.
struct Seen {
    value: f64,
    at: Duration,
}

/// A series by its name and labels, borrowed from the scrape: every sample
/// of every scrape is looked up, and a key that allocates would cost more
/// than the check. Its text is built only for a violation.
type SeriesKey<'a> = (&'a str, &'a [(String, String)]);

fn check_node_counters(run: &Run, scrapes: &[&Scrape], violations: &mut Vec<Violation>) {
    let mut seen: super::Lookup<SeriesKey<'_>, Seen> = super::Lookup::default();
    let mut previous: Option<&Scrape> = None;
    for scrape in scrapes {
        if let Some(before) = previous.filter(|before| before.incarnation != scrape.incarnation) {
            // Up to when the answer came: a delayed request can be answered
            // by an incarnation that booted after the scrape was sent.
            if !restart_recorded(run, &scrape.node, before.at, scrape.ended_at) {
                violations.push(Violation {
                    check: Check::CounterMonotonicity,
                    subject: "node incarnation".into(),
                    node: Some(scrape.node.clone()),
                    at: Some(scrape.at),
                    message: format!(
                        "counters reset (incarnation {:?} -> {:?}) with no restart recorded since {:.3}s",
                        before.incarnation,
                        scrape.incarnation,
                        before.at.as_secs_f64()
                    ),
                });
            }
            seen.clear();
        }
        let Some(exposition) = &scrape.exposition else {
            continue;
        };
        for (kind, sample) in exposition.samples() {
            if !kind.is_cumulative() || sample.label("quantile").is_some() {
                continue;
            }
            let series: SeriesKey<'_> = (&sample.name, &sample.labels);
            if let Some(last) = seen.get(&series).filter(|last| sample.value < last.value) {
                violations.push(Violation {
                    check: Check::CounterMonotonicity,
                    subject: sample.series(),
                    node: Some(scrape.node.clone()),
                    at: Some(scrape.at),
                    message: format!(
                        "went down from {} to {} since the scrape at {:.3}s, within incarnation {}",
                        last.value,
                        sample.value,
                        last.at.as_secs_f64(),
                        scrape.incarnation.map_or("?".into(), |n| n.to_string())
                    ),
                });
            }
            seen.insert(
                series,
                Seen {
                    value: sample.value,
                    at: scrape.at,
                },
            );
        }
        previous = Some(scrape);
    }
}

fn restart_recorded(run: &Run, node: &str, after: Duration, until: Duration) -> bool {
    run.faults.iter().any(|fault| {
        fault.kind == FaultKind::NodeRestart
            && fault.target == node
            && fault.at >= after
            && fault.at <= until
    })
}
