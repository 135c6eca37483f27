//! Gauge consistency: gauges that count things never go negative, and a
//! gauge balances with the counters that move it (`active == activations -
//! deactivations`) at every scrape and in every final exposition of an
//! incarnation. Registries are per incarnation, so a restart starts all
//! three from zero; a gauge carried over from the old process shows up as an
//! imbalance at the new incarnation's first scrape.

use std::collections::BTreeSet;

use super::sources::{sources, Source};
use super::{Check, Violation};
use crate::run::exposition::{Exposition, MetricKind};
use crate::run::{Balance, Contract, Run};

pub fn gauge_consistency(run: &Run, contract: &Contract) -> Vec<Violation> {
    let mut violations = Vec::new();
    // One report per (gauge, node, rule): a drifted gauge stays drifted, and
    // a hundred identical lines would bury the first, which is the useful one.
    let mut reported: BTreeSet<(String, String, &str)> = BTreeSet::new();
    for reading in sources(run) {
        let Ok(exposition) = &reading.exposition else {
            continue; // the lint reports it
        };
        for gauge in &contract.non_negative {
            if let Some(v) = negative(&reading, exposition, gauge) {
                if reported.insert((gauge.clone(), reading.node.to_string(), "negative")) {
                    violations.push(v);
                }
            }
        }
        for balance in &contract.balances {
            if let Some(v) = imbalance(&reading, exposition, balance) {
                if reported.insert((balance.gauge.clone(), reading.node.to_string(), "balance")) {
                    violations.push(v);
                }
            }
        }
        for (gauge, probe) in &contract.probes {
            if let Some(v) = unlike_probe(&reading, exposition, gauge, probe) {
                if reported.insert((gauge.clone(), reading.node.to_string(), "probe")) {
                    violations.push(v);
                }
            }
        }
        for gauge in &contract.stored_keys {
            if let Some(v) = unlike_storage(&reading, exposition, gauge) {
                if reported.insert((gauge.clone(), reading.node.to_string(), "stored")) {
                    violations.push(v);
                }
            }
        }
    }
    violations.extend(unregistered_probes(run, contract));
    violations
}

/// The gauge against what its node's probe read when it was rendered. A
/// reading without that probe (the client, or a node that never
/// registered it) says nothing; [`unregistered_probes`] reports a probe no
/// node registered.
fn unlike_probe(
    reading: &Source,
    exposition: &Exposition,
    gauge: &str,
    probe: &str,
) -> Option<Violation> {
    let truth = *reading.probes.get(probe)?;
    unlike(reading, exposition, gauge, truth, |shown, place| {
        format!(
            "{shown} in {place}, but probe `{probe}` of the service's state read {truth} in the \
             same poll: the gauge lost track of the state it reports (moved on a path that never \
             changed it, or missed one that did?)"
        )
    })
}

/// The gauge (summed over its series) against `truth`, what ground truth
/// says it shows in this reading; `explain` words a difference from what it
/// showed (`is 3`, or `not exported`) and where it was seen.
fn unlike(
    reading: &Source,
    exposition: &Exposition,
    gauge: &str,
    truth: f64,
    explain: impl FnOnce(String, String) -> String,
) -> Option<Violation> {
    let value = total(exposition, gauge, MetricKind::Gauge);
    if value == Some(truth) {
        return None;
    }
    let shown = value.map_or("not exported".to_string(), |value| format!("is {value}"));
    Some(violation(
        reading,
        gauge.to_string(),
        explain(shown, reading.place()),
    ))
}

/// A probe the contract names that no server incarnation registered: the
/// gauge would be checked against nothing, so it is an error.
fn unregistered_probes(run: &Run, contract: &Contract) -> Vec<Violation> {
    let registered = |probe: &str| {
        let finals = run.incarnations.iter().map(|i| &i.probes);
        let scrapes = run.scrapes.iter().map(|s| &s.probes);
        finals
            .chain(scrapes)
            .any(|probes| probes.contains_key(probe))
    };
    contract
        .probes
        .iter()
        .filter(|(_, probe)| !registered(probe))
        .map(|(gauge, probe)| Violation {
            check: Check::GaugeConsistency,
            subject: gauge.clone(),
            node: None,
            at: None,
            message: format!(
                "is tied to probe `{probe}`, which no server incarnation registered: register it \
                 in `serve` with `node.probe(\"{probe}\", ..)`, or the gauge is checked against \
                 nothing"
            ),
        })
        .collect()
}

fn violation(reading: &Source, subject: String, message: String) -> Violation {
    Violation {
        check: Check::GaugeConsistency,
        subject,
        node: Some(reading.node.to_string()),
        at: reading.at,
        message,
    }
}

fn negative(reading: &Source, exposition: &Exposition, gauge: &str) -> Option<Violation> {
    let family = exposition.family(gauge)?;
    let sample = family.samples.iter().find(|sample| sample.value < 0.0)?;
    Some(violation(
        reading,
        sample.series(),
        format!(
            "is {} in {}: a gauge that counts things can never be negative \
             (decremented twice, or on a path that never incremented it?)",
            sample.value,
            reading.place()
        ),
    ))
}

/// The sum of every sample of `name`; None when it is not exported.
fn total(exposition: &Exposition, name: &str, kind: MetricKind) -> Option<f64> {
    let family = exposition.family(name).filter(|f| f.kind == kind)?;
    Some(family.samples.iter().map(|sample| sample.value).sum())
}

/// The gauge against the keys its node's storage held when it was read. A
/// server incarnation that does not export the gauge is reported too: a
/// gauge of stored state that is missing says nothing about the state.
fn unlike_storage(reading: &Source, exposition: &Exposition, gauge: &str) -> Option<Violation> {
    let stored = reading.stored_keys?;
    unlike(reading, exposition, gauge, stored as f64, |shown, place| {
        format!(
            "{shown} in {place}, but the node's storage held {stored} keys then: the gauge lost \
             track of what is stored (reset at a restart, or moved on a write that failed?)"
        )
    })
}

fn imbalance(reading: &Source, exposition: &Exposition, balance: &Balance) -> Option<Violation> {
    let gauge = total(exposition, &balance.gauge, MetricKind::Gauge)?;
    let up = total(exposition, &balance.up, MetricKind::Counter).unwrap_or(0.0);
    let down = total(exposition, &balance.down, MetricKind::Counter).unwrap_or(0.0);
    if gauge == up - down {
        return None;
    }
    Some(violation(
        reading,
        balance.gauge.clone(),
        format!(
            "is {gauge} in {}, but {} - {} = {up} - {down} = {}: the gauge drifted from \
             the counters that move it. Look for a path that changes one and not the other \
             (an error or crash path, say)",
            reading.place(),
            balance.up,
            balance.down,
            up - down
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::lint::tests::run_with_finals;

    fn contract() -> Contract {
        Contract::new().balance(
            "sessions_active",
            "sessions_opened_total",
            "sessions_closed_total",
        )
    }

    fn text(active: i64, activations: u64, deactivations: u64) -> String {
        format!(
            "# HELP sessions_active a\n# TYPE sessions_active gauge\nsessions_active {active}\n\
             # HELP sessions_opened_total a\n# TYPE sessions_opened_total counter\n\
             sessions_opened_total {activations}\n\
             # HELP sessions_closed_total d\n# TYPE sessions_closed_total counter\n\
             sessions_closed_total {deactivations}\n"
        )
    }

    #[test]
    fn a_gauge_of_stored_state_must_equal_the_keys_stored_when_it_was_read() {
        let gauge = "# HELP items_stored a\n# TYPE items_stored gauge\nitems_stored 0\n";
        let mut run = run_with_finals(&[gauge]);
        run.incarnations[0].stored_keys = Some(5);
        let contract = Contract::new().stored_keys("items_stored");
        let violations = gauge_consistency(&run, &contract);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].message.starts_with(
                "is 0 in server-1 incarnation 0, final exposition, but the node's storage held 5 keys then"
            ),
            "{}",
            violations[0].message
        );
        run.incarnations[0].stored_keys = Some(0);
        assert_eq!(gauge_consistency(&run, &contract), Vec::new());
        // Not exported while the disk holds keys says nothing: reported too.
        let mut silent = run_with_finals(&["# HELP other a\n# TYPE other gauge\nother 1\n"]);
        silent.incarnations[0].stored_keys = Some(2);
        let violations = gauge_consistency(&silent, &contract);
        assert!(
            violations[0]
                .message
                .starts_with("not exported in server-1"),
            "{violations:?}"
        );
    }

    #[test]
    fn a_gauge_tied_to_a_probe_must_show_what_the_probe_read_in_the_same_poll() {
        let gauge = "# HELP cache_entries a\n# TYPE cache_entries gauge\ncache_entries 7\n";
        let mut run = run_with_finals(&[gauge]);
        run.incarnations[0].probes.insert("cache_len".into(), 6.0);
        let contract = Contract::new().probe("cache_entries", "cache_len");
        let violations = gauge_consistency(&run, &contract);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].message.starts_with(
                "is 7 in server-1 incarnation 0, final exposition, but probe `cache_len` of the \
                 service's state read 6 in the same poll"
            ),
            "{}",
            violations[0].message
        );
        run.incarnations[0].probes.insert("cache_len".into(), 7.0);
        assert_eq!(gauge_consistency(&run, &contract), Vec::new());
        // A probe no incarnation registered checks nothing: an error.
        let unknown = Contract::new().probe("cache_entries", "cache_size");
        let violations = gauge_consistency(&run, &unknown);
        assert!(
            violations[0]
                .message
                .contains("is tied to probe `cache_size`, which no server incarnation registered"),
            "{violations:?}"
        );
    }

    #[test]
    fn a_balanced_gauge_passes() {
        let run = run_with_finals(&[&text(3, 5, 2)]);
        assert_eq!(gauge_consistency(&run, &contract()), Vec::new());
    }

    #[test]
    fn a_gauge_that_drifted_from_its_counters_is_reported() {
        let run = run_with_finals(&[&text(4, 5, 2)]);
        let violations = gauge_consistency(&run, &contract());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("is 4 in server-1 incarnation 0, final exposition, but sessions_opened_total - sessions_closed_total = 5 - 2 = 3"));
    }

    #[test]
    fn a_negative_gauge_is_reported_even_when_it_balances() {
        // Decremented twice on some path, and the deactivation counted twice
        // too: it balances, and is still impossible.
        let run = run_with_finals(&[&text(-1, 1, 2)]);
        let violations = gauge_consistency(&run, &contract());
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].subject, "sessions_active");
        assert!(violations[0].message.contains("can never be negative"));
    }

    #[test]
    fn without_a_contract_nothing_is_checked() {
        let run = run_with_finals(&[&text(-1, 5, 2)]);
        assert_eq!(gauge_consistency(&run, &Contract::new()), Vec::new());
    }
}
