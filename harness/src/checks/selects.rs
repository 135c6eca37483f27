//! What a selector may name: only what the run produced, or what the
//! system's contract declares. Anything else could only ever read 0, so it
//! is an error that names it and what the run has instead.

use std::collections::{BTreeMap, BTreeSet};

use obsim_scenario::{MetricSelector, Quantity, Selector};

use crate::run::exposition::Exposition;
use crate::run::{Contract, Run};

/// Ok when every name `quantity` selects by is one the run produced (or,
/// for an outcome, one the contract declares); otherwise what it named and
/// what the run has instead.
pub(super) fn produced(run: &Run, contract: &Contract, quantity: &Quantity) -> Result<(), String> {
    if let Some(selector) = ground_truth_selector(quantity) {
        let numbers = run.incarnations.iter().map(|i| i.number.to_string());
        let numbers: BTreeSet<String> = numbers.collect();
        known_value(
            selector,
            "incarnation",
            "incarnation",
            numbers.iter().collect(),
        )?;
    }
    match quantity {
        Quantity::Outcomes(Some(status)) => {
            let declared = contract.outcomes.iter().any(|known| known == status);
            if declared || run.outcomes.contains_key(status) {
                return Ok(());
            }
            Err(format!(
                "cannot be evaluated: outcomes.{status} was never recorded in this run and the \
                 contract does not declare it, so it can only read 0: recorded here: {}. Declare \
                 every status the client can record with Contract::outcomes([..])",
                listed(run.outcomes.keys())
            ))
        }
        Quantity::Spans(selector)
        | Quantity::SpanRoots(selector)
        | Quantity::SpanOrphans(selector) => {
            if !selector.labels.iter().any(|(label, _)| label == "name") {
                return Ok(());
            }
            let names = run.spans.iter().map(|span| &span.name);
            known_value(selector, "name", "span named", names.collect())
        }
        Quantity::SpanLost(selector) => {
            if !selector.labels.iter().any(|(label, _)| label == "name") {
                return Ok(());
            }
            // A name the run exported or lost: either way the system makes
            // such spans, and a count of 0 lost is then a real answer.
            let exported = run.spans.iter().map(|span| &span.name);
            let lost = run.lifecycle.lost.iter().map(|span| &span.name);
            known_value(
                selector,
                "name",
                "span named",
                exported.chain(lost).collect(),
            )
        }
        Quantity::Logs(selector) => {
            // A target or message the run never logged could only read 0:
            // count by level instead (`logs{level="error"} == 0`).
            let targets = run.logs.iter().map(|log| log.target.to_string());
            let targets: BTreeSet<String> = targets.collect();
            known_value(selector, "target", "log target", targets.iter().collect())?;
            let messages = run.logs.iter().map(|log| log.body.to_string());
            let messages: BTreeSet<String> = messages.collect();
            known_value(
                selector,
                "message",
                "log message",
                messages.iter().collect(),
            )
        }
        Quantity::Messages { selector, .. } => known_value(
            selector,
            "message",
            "message type",
            run.messages.keys().collect(),
        ),
        Quantity::Final(metric) | Quantity::Max(metric) => known_labels(run, metric, true),
        Quantity::Requests { .. }
        | Quantity::Calls { .. }
        | Quantity::Attempts { .. }
        | Quantity::Dependencies { .. } => super::calls::produced(run, contract, quantity),
        _ => Ok(()),
    }
}

/// The selector of a ground-truth quantity that may name an incarnation.
fn ground_truth_selector(quantity: &Quantity) -> Option<&Selector> {
    match quantity {
        Quantity::Storage { selector, .. }
        | Quantity::Requests { selector, .. }
        | Quantity::Calls { selector, .. }
        | Quantity::Attempts { selector, .. }
        | Quantity::Dependencies { selector, .. } => Some(selector),
        _ => None,
    }
}

/// Ok unless `selector` asks for a `key` value outside `known`.
fn known_value(
    selector: &Selector,
    key: &str,
    what: &str,
    known: BTreeSet<&String>,
) -> Result<(), String> {
    let Some((_, wanted)) = selector.labels.iter().find(|(label, _)| label == key) else {
        return Ok(());
    };
    if known.contains(wanted) {
        return Ok(());
    }
    Err(format!(
        "cannot be evaluated: no {what} {wanted:?} in this run, so it selects nothing: \
         the run has {}",
        listed(known)
    ))
}

/// Ok unless `metric`'s selector names a label no sample of it carries in
/// any exposition of the run (`node` and `incarnation` say where a sample
/// came from and are always there), or, with `values`, a label value none
/// carries. A metric the run never exported is for the caller to judge: a
/// labelled counter that never counted is absent.
pub(super) fn known_labels(run: &Run, metric: &MetricSelector, values: bool) -> Result<(), String> {
    let named = |name: &str| !matches!(name, "node" | "incarnation");
    if !metric.selector.labels.iter().any(|(name, _)| named(name)) {
        // Nothing to look for: no need to read every sample of the run.
        return Ok(());
    }
    let finals: Vec<&Exposition> = run
        .incarnations
        .iter()
        .filter_map(|incarnation| incarnation.final_parsed().ok())
        .collect();
    let scraped = run
        .scrapes
        .iter()
        .filter_map(|scrape| scrape.exposition.as_ref());
    let mut exported = false;
    let mut labels: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for exposition in finals.into_iter().chain(scraped) {
        let samples = exposition.samples().map(|(_, sample)| sample);
        for sample in samples.filter(|sample| sample.name == metric.metric) {
            exported = true;
            for (name, value) in &sample.labels {
                labels.entry(name).or_default().insert(value);
            }
        }
    }
    if !exported {
        return Ok(());
    }
    let wanted = metric.selector.labels.iter();
    for (name, value) in wanted.filter(|(name, _)| named(name)) {
        let Some(seen) = labels.get(name.as_str()) else {
            return Err(format!(
                "cannot be evaluated: no sample of `{}` in this run has a label `{name}`, so it \
                 selects nothing: its labels are {}",
                metric.metric,
                listed(labels.keys())
            ));
        };
        // `le` and `quantile` match by number, whatever the text.
        let numeric = matches!(name.as_str(), "le" | "quantile");
        if values && !numeric && !seen.contains(value.as_str()) {
            return Err(format!(
                "cannot be evaluated: no sample of `{}` in this run has {name}={value:?}, so it \
                 selects nothing: its values are {}. A series that may stay at zero should be \
                 created at zero when the service starts (Prometheus: avoid missing metrics)",
                metric.metric,
                listed(seen)
            ));
        }
    }
    Ok(())
}

/// At most ten names, sorted, for a message; `none` when there are none.
fn listed<T: std::fmt::Display>(names: impl IntoIterator<Item = T>) -> String {
    let names: Vec<String> = names.into_iter().map(|name| name.to_string()).collect();
    match names.len() {
        0 => "none".into(),
        1..=10 => names.join(", "),
        more => format!("{}, and {} more", names[..10].join(", "), more - 10),
    }
}
