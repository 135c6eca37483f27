//! Evaluates a scenario's expectations against a finished run. The parser
//! lives in `obsim-scenario`; this is where each quantity gets its meaning,
//! from the run's ground truth (fault log, outcomes, network counts) and its
//! telemetry (spans, scrapes, final expositions).

use std::collections::{BTreeMap, BTreeSet};

use obsim_scenario::{
    Decimal, Expectation, MetricSelector, Quantity, Selector, Sign, StorageResult, Sum, Term,
};

use super::judged::{Judgements, Miss};
use super::selects::{known_labels, produced};
use super::Violation;
use crate::run::exposition::Exposition;
use crate::run::{Contract, Run, SpanRecord};

/// One violation per expectation that does not hold (or cannot be
/// evaluated), with the value of every quantity it read.
pub fn expectations(
    run: &Run,
    contract: &Contract,
    expectations: &[Expectation],
) -> Vec<Violation> {
    judge_expectations(run, contract, expectations, &mut Judgements::default())
}

/// [`expectations`], recording what the run says of each in `judged`.
pub(crate) fn judge_expectations(
    run: &Run,
    contract: &Contract,
    expectations: &[Expectation],
    judged: &mut Judgements,
) -> Vec<Violation> {
    expectations
        .iter()
        .filter_map(|expectation| {
            judged.expectation(&expectation.text, check(run, contract, expectation))
        })
        .collect()
}

/// Ok when `expectation` holds in `run`; otherwise what it read and why it
/// does not hold, or why it could not be evaluated.
pub(crate) fn check(run: &Run, contract: &Contract, expectation: &Expectation) -> Result<(), Miss> {
    check_as(run, contract, expectation, Absent::Error)
}

/// What a `final(...)` of a metric no node exported means.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Absent {
    /// An error: in a scenario's expectation it is most likely a typo.
    Error,
    /// Zero: a labelled counter that never counted is not exported at all,
    /// and a ground-truth rule must still hold when nothing happened.
    Zero,
}

pub(crate) fn check_as(
    run: &Run,
    contract: &Contract,
    expectation: &Expectation,
    absent: Absent,
) -> Result<(), Miss> {
    let mut values = BTreeMap::new();
    // A side that cannot be read is no value: the claim is not evaluated.
    let left =
        sum(run, contract, &expectation.left, absent, &mut values).map_err(Miss::Unevaluable)?;
    let right =
        sum(run, contract, &expectation.right, absent, &mut values).map_err(Miss::Unevaluable)?;
    if expectation.comparison.holds_for(left.compare(right)) {
        return Ok(());
    }
    let read: Vec<String> = values
        .iter()
        .map(|(quantity, value)| format!("{quantity} = {value}"))
        .collect();
    Err(Miss::False(format!(
        "does not hold: {left} {} {right} is false, where {}",
        expectation.comparison.as_str(),
        read.join(", ")
    )))
}

/// A side's value: exact while every term is a count or a literal, so that
/// integers compare as integers; a float once a metric's value is in it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    Exact(Decimal),
    Float(f64),
}

impl Value {
    fn as_f64(self) -> f64 {
        match self {
            Value::Exact(exact) => exact.to_f64(),
            Value::Float(value) => value,
        }
    }

    fn plus(self, other: Value) -> Value {
        if let (Value::Exact(a), Value::Exact(b)) = (self, other) {
            if let Some(sum) = a.checked_add(b) {
                return Value::Exact(sum);
            }
        }
        // An exact sum past 38 digits, or a metric's float: f64 from here.
        Value::Float(self.as_f64() + other.as_f64())
    }

    fn negated(self) -> Value {
        match self {
            Value::Exact(exact) => Value::Exact(exact.negated()),
            Value::Float(value) => Value::Float(-value),
        }
    }

    fn compare(self, other: Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::Exact(a), Value::Exact(b)) => a.checked_cmp(b),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Exact(exact) => write!(f, "{exact}"),
            // An empty f64 sum is -0.0, which would print as "-0".
            Value::Float(value) => write!(f, "{}", value + 0.0),
        }
    }
}

fn sum(
    run: &Run,
    contract: &Contract,
    sum: &Sum,
    absent: Absent,
    values: &mut BTreeMap<String, Value>,
) -> Result<Value, String> {
    let mut total = Value::Exact(Decimal::from_u64(0));
    for (sign, term) in &sum.terms {
        let value = match term {
            Term::Number(number) => Value::Exact(*number),
            Term::Quantity(Quantity::Final(metric)) if absent == Absent::Zero => {
                // A contract rule must hold when nothing happened, so an
                // unseen label value reads 0; an unknown label name cannot.
                known_labels(run, metric, false)?;
                let value = Value::Float(exported_final_sum(run, metric)?.unwrap_or(0.0));
                values.insert(format!("final({metric})"), value);
                value
            }
            Term::Quantity(quantity) => {
                let value = exact_value(run, contract, quantity)?;
                values.insert(quantity.to_string(), value);
                value
            }
        };
        total = total.plus(if *sign == Sign::Minus {
            value.negated()
        } else {
            value
        });
    }
    Ok(total)
}

/// One quantity's value: counts are exact, a metric's value is a float.
fn exact_value(run: &Run, contract: &Contract, quantity: &Quantity) -> Result<Value, String> {
    let value = quantity_value(run, contract, quantity)?;
    Ok(match quantity {
        Quantity::Final(_) | Quantity::Max(_) => Value::Float(value),
        // Every other quantity counts something, in u64, exactly as f64
        // holds it below 2^53; past that, the float is still what it is.
        _ if value.fract() == 0.0 && value >= 0.0 && value < 2f64.powi(53) => {
            Value::Exact(Decimal::from_u64(value as u64))
        }
        _ => Value::Float(value),
    })
}

/// The value of one quantity in `run`. A selector that names what the run
/// never produced (a status, a span or message name, a label) is an error
/// that names it, not a 0 that passes.
pub fn quantity_value(run: &Run, contract: &Contract, quantity: &Quantity) -> Result<f64, String> {
    let count = |n: usize| Ok(n as f64);
    produced(run, contract, quantity)?;
    match quantity {
        // The counts, not the log: the log stops keeping events at its cap.
        Quantity::Faults(kind) => Ok(run.fault_counts.get(kind).copied().unwrap_or(0) as f64),
        Quantity::Outcomes(None) => Ok(run.outcomes.values().sum::<u64>() as f64),
        Quantity::Outcomes(Some(status)) => {
            Ok(run.outcomes.get(status).copied().unwrap_or(0) as f64)
        }
        Quantity::Amounts(name) => match run.amounts.get(name) {
            Some(amount) => Ok(*amount as f64),
            None => Err(format!(
                "amounts.{name} was never recorded by the client ({}): \
                 ClientContext::record_amount({name:?}, 0) declares one that may stay zero",
                if run.amounts.is_empty() {
                    "it recorded no amounts".to_string()
                } else {
                    format!(
                        "it recorded {}",
                        run.amounts.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            )),
        },
        Quantity::Spans(selector) => count(spans(run, selector).count()),
        Quantity::Logs(selector) => count(
            run.logs
                .iter()
                .filter(|log| {
                    matches(selector, |key| match key {
                        "level" => Some(log.level.as_str().to_string()),
                        "target" => Some(log.target.to_string()),
                        "message" => Some(log.body.to_string()),
                        "node" => Some(log.node.clone()),
                        _ => None,
                    })
                })
                .count(),
        ),
        Quantity::SpanLost(selector) => count(
            run.lifecycle
                .lost
                .iter()
                .filter(|span| {
                    matches(selector, |key| match key {
                        "name" => Some(span.name.clone()),
                        "node" => Some(span.node.clone()),
                        _ => None,
                    })
                })
                .count(),
        ),
        Quantity::SpanRoots(selector) => count(
            spans(run, selector)
                .filter(|span| span.parent_span_id.is_none())
                .count(),
        ),
        Quantity::SpanOrphans(selector) => {
            let exported: BTreeSet<(crate::run::TraceId, crate::run::SpanId)> = run
                .spans
                .iter()
                .map(|span| (span.trace_id, span.span_id))
                .collect();
            count(
                spans(run, selector)
                    .filter(|span| {
                        span.parent_span_id
                            .is_some_and(|parent| !exported.contains(&(span.trace_id, parent)))
                    })
                    .count(),
            )
        }
        Quantity::Scrapes(selector) => count(
            run.scrapes
                .iter()
                .filter(|scrape| {
                    matches(selector, |key| match key {
                        "node" => Some(scrape.node.clone()),
                        "up" => Some(if scrape.up { "1" } else { "0" }.to_string()),
                        _ => None,
                    })
                })
                .count(),
        ),
        Quantity::ScrapeRecoveries(selector) => count(recoveries(run, selector)),
        Quantity::Messages { fate, selector } => Ok(run
            .messages
            .iter()
            .filter(|(message, _)| {
                matches(selector, |key| {
                    (key == "message").then(|| message.to_string())
                })
            })
            .map(|(_, counts)| counts.count(*fate))
            .sum::<u64>() as f64),
        Quantity::Storage { result, selector } => Ok(storage_count(run, *result, selector) as f64),
        Quantity::Requests { .. }
        | Quantity::Calls { .. }
        | Quantity::Attempts { .. }
        | Quantity::Dependencies { .. } => {
            Ok(super::calls::count(run, quantity).unwrap_or(0) as f64)
        }
        Quantity::Final(metric) => final_sum(run, metric),
        Quantity::Max(metric) => scraped_max(run, metric),
    }
}

/// Storage operations (or recovered transactions) the harness recorded.
fn storage_count(run: &Run, result: StorageResult, selector: &Selector) -> u64 {
    if result == StorageResult::Recovered {
        return run
            .recovered
            .iter()
            .filter(|(node, _)| matches(selector, |key| (key == "node").then(|| node.to_string())))
            .map(|(_, n)| n)
            .sum();
    }
    run.storage_ops
        .iter()
        .filter(|op| match result {
            StorageResult::Ok => op.failure.is_none(),
            StorageResult::Failed => op.failure.is_some(),
            _ => true,
        })
        .filter(|op| {
            matches(selector, |key| match key {
                "node" => Some(op.node.to_string()),
                "incarnation" => Some(op.incarnation.to_string()),
                "operation" => Some(op.operation.to_string()),
                _ => None,
            })
        })
        .count() as u64
}

/// The exported spans that `selector` picks by name, kind and status.
fn spans<'a>(run: &'a Run, selector: &'a Selector) -> impl Iterator<Item = &'a SpanRecord> {
    run.spans.iter().filter(move |span| {
        matches(selector, |key| match key {
            "name" => Some(span.name.clone()),
            "kind" => Some(span.kind.clone()),
            "status" => Some(span.status.code().to_string()),
            _ => None,
        })
    })
}

/// Whether every label of `selector` equals what `value_of` gives for it.
pub(super) fn matches(selector: &Selector, value_of: impl Fn(&str) -> Option<String>) -> bool {
    selector
        .labels
        .iter()
        .all(|(key, want)| value_of(key).is_some_and(|have| same_label_value(key, &have, want)))
}

/// `le` and `quantile` hold numbers, which libraries write differently
/// (`prometheus` writes `le="1"`, `prometheus-client` `le="1.0"`): they
/// match by value, as Prometheus normalizes them. Every other label matches
/// as text.
fn same_label_value(key: &str, have: &str, want: &str) -> bool {
    if have == want {
        return true;
    }
    if key != "le" && key != "quantile" {
        return false;
    }
    let number = |text: &str| match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        _ => text.parse::<f64>().ok(),
    };
    matches!((number(have), number(want)), (Some(a), Some(b)) if a == b)
}

/// Up scrapes that directly follow a down scrape of the same node.
fn recoveries(run: &Run, selector: &Selector) -> usize {
    let mut last_up: BTreeMap<&str, bool> = BTreeMap::new();
    let mut recovered = 0;
    for scrape in &run.scrapes {
        let was_up = last_up.insert(&scrape.node, scrape.up);
        let wanted = matches(selector, |key| (key == "node").then(|| scrape.node.clone()));
        if wanted && scrape.up && was_up == Some(false) {
            recovered += 1;
        }
    }
    recovered
}

/// Sums the samples of `metric` in one exposition that match its selector;
/// `node` and `incarnation` match the pseudo-labels of where it came from.
/// None when the exposition has no sample of that name at all.
pub(crate) fn exposition_sum(
    exposition: &Exposition,
    metric: &MetricSelector,
    node: &str,
    incarnation: Option<u32>,
) -> Option<f64> {
    let mut named = exposition
        .samples()
        .map(|(_, sample)| sample)
        .filter(|sample| sample.name == metric.metric)
        .peekable();
    named.peek()?;
    let total = named
        .filter(|sample| {
            matches(&metric.selector, |key| match key {
                "node" => Some(node.to_string()),
                "incarnation" => incarnation.map(|n| n.to_string()),
                label => sample.label(label).map(str::to_string),
            })
        })
        .map(|sample| sample.value)
        .sum::<f64>();
    // An empty f64 sum is -0.0, which would print as "-0".
    Some(total + 0.0)
}

fn final_sum(run: &Run, metric: &MetricSelector) -> Result<f64, String> {
    exported_final_sum(run, metric)?.ok_or_else(|| not_exported(metric))
}

/// The sum over every final exposition; None when no node exported a sample
/// of that name at all.
fn exported_final_sum(run: &Run, metric: &MetricSelector) -> Result<Option<f64>, String> {
    let mut sums = Vec::new();
    for incarnation in &run.incarnations {
        // A final exposition that does not parse is reported, never read as
        // empty: an empty one would pass `== 0` by accident.
        let exposition = incarnation.final_parsed().map_err(|error| {
            format!(
                "cannot be evaluated: the final exposition of {} incarnation {} does not parse: {error}",
                incarnation.node, incarnation.number
            )
        })?;
        sums.extend(exposition_sum(
            exposition,
            metric,
            &incarnation.node,
            Some(incarnation.number),
        ));
    }
    if sums.is_empty() {
        return Ok(None);
    }
    Ok(Some(sums.iter().sum()))
}

fn scraped_max(run: &Run, metric: &MetricSelector) -> Result<f64, String> {
    run.scrapes
        .iter()
        .filter_map(|scrape| {
            let exposition = scrape.exposition.as_ref()?;
            exposition_sum(exposition, metric, &scrape.node, scrape.incarnation)
        })
        .reduce(f64::max)
        .ok_or_else(|| not_exported(metric))
}

fn not_exported(metric: &MetricSelector) -> String {
    format!(
        "cannot be evaluated: no node exported a sample named `{}`. Check the name: a \
         histogram's samples are `_bucket`, `_sum` and `_count`",
        metric.metric
    )
}

#[cfg(test)]
mod tests {
    use super::same_label_value;

    #[test]
    fn bucket_bounds_match_by_value_whatever_the_library_wrote() {
        assert!(same_label_value("le", "1.0", "1"));
        assert!(same_label_value("le", "+Inf", "+Inf"));
        assert!(same_label_value("quantile", "0.50", "0.5"));
        assert!(!same_label_value("le", "5.0", "0.5"));
        assert!(!same_label_value("status", "1.0", "1"));
    }
}

#[cfg(test)]
mod value_tests {
    use super::*;
    use crate::checks::judged::{Claim, Judgement};
    use crate::checks::lint::tests::run_with_finals;

    #[test]
    fn an_amount_reads_its_total_and_an_unrecorded_one_is_an_error_not_zero() {
        let mut run = run_with_finals(&[]);
        run.amounts.insert("request_bytes".into(), 4096);
        let recorded = Quantity::Amounts("request_bytes".into());
        let contract = Contract::new();
        assert_eq!(quantity_value(&run, &contract, &recorded), Ok(4096.0));
        let typo = Quantity::Amounts("request_byts".into());
        let error = quantity_value(&run, &contract, &typo).unwrap_err();
        assert!(error.contains("never recorded"), "{error}");
        assert!(error.contains("it recorded request_bytes"), "{error}");
    }

    #[test]
    fn a_claim_that_reads_nothing_cannot_be_evaluated_and_one_that_reads_a_wrong_value_fails() {
        let mut run = run_with_finals(&[]);
        run.outcomes.insert("ok".into(), 3);
        let expectations: Vec<Expectation> = [
            "outcomes.ok == 3",
            "outcomes.ok == 4",
            // Never recorded, and no contract declares it.
            "outcomes.timeout == 0",
            "amounts.request_bytes == 0",
        ]
        .iter()
        .map(|text| obsim_scenario::parse_expectation(text).unwrap())
        .collect();
        let mut judged = Judgements::default();
        let violations = judge_expectations(&run, &Contract::new(), &expectations, &mut judged);
        let judgement = |text: &str| judged.get(&Claim::Expectation(text.into()));
        assert_eq!(judgement("outcomes.ok == 3"), Some(Judgement::Holds));
        assert_eq!(judgement("outcomes.ok == 4"), Some(Judgement::Fails));
        assert_eq!(
            judgement("outcomes.timeout == 0"),
            Some(Judgement::Unevaluable)
        );
        assert_eq!(
            judgement("amounts.request_bytes == 0"),
            Some(Judgement::Unevaluable)
        );
        // Each violation leads back to its claim.
        assert_eq!(violations.len(), 3);
        let claims: Vec<Option<&Claim>> = violations.iter().map(|v| judged.claim_of(v)).collect();
        assert_eq!(
            claims,
            [
                Some(&Claim::Expectation("outcomes.ok == 4".into())),
                Some(&Claim::Expectation("outcomes.timeout == 0".into())),
                Some(&Claim::Expectation("amounts.request_bytes == 0".into())),
            ]
        );
    }

    #[test]
    fn counts_and_literals_compare_exactly_not_as_rounded_floats() {
        let mut run = run_with_finals(&[]);
        run.outcomes.insert("ok".into(), 1000);
        let holds = |text: &str| {
            let expectation = obsim_scenario::parse_expectation(text).unwrap();
            check(&run, &Contract::new(), &expectation).is_ok()
        };
        assert!(!holds("outcomes.total == 1000.000000000000000000001"));
        assert!(holds("outcomes.total < 1000.000000000000000000001"));
        assert!(holds("outcomes.total == 1000"));
        assert!(holds("outcomes.ok - 999.9 == 0.1"));
        let error = {
            let expectation =
                obsim_scenario::parse_expectation("outcomes.total == 1000.5").unwrap();
            check(&run, &Contract::new(), &expectation)
                .unwrap_err()
                .to_string()
        };
        assert!(error.contains("1000 == 1000.5 is false"), "{error}");
    }
}
