//! Metric accuracy: final counter values against the harness's own record of
//! what happened, and every scrape against the final values.
//!
//! - Each incarnation's final registry, summed across incarnations, must
//!   equal the ground truth the system's contract ties it to, exactly.
//! - Every counter the system exports must be tied to ground truth, or be
//!   listed as unchecked with a reason: an unlisted counter is untested.
//! - A scrape may see less than the final value (a crash loses what was not
//!   scraped yet) but never more, and never a series the final lacks:
//!   that is data invented between the registry and the scrape.

use std::collections::{BTreeMap, BTreeSet};

use obsim_scenario::{Expectation, MetricSelector};

use super::expect::{check_as, exposition_sum, Absent};
use super::judged::{Claim, Judgement, Judgements};
use super::{Check, Violation};
use crate::run::exposition::{Exposition, MetricKind, Sample};
use crate::run::{final_metrics, final_selectors, Contract, Run};

/// The check, recording what the run says of each rule in `judged`.
pub(crate) fn metric_accuracy(
    run: &Run,
    contract: &Contract,
    rules: &[Expectation],
    judged: &mut Judgements,
) -> Vec<Violation> {
    let finals = parsed_finals(run);
    let mut violations = Vec::new();
    // A rule sums every incarnation's final values, exactly; an incarnation
    // judged from its last scrape (no in-process handle) cannot take part,
    // and the report says so (see `FinalSource`).
    let exact = run.incarnations.iter().all(|i| i.final_source.exact());
    for rule in rules.iter().filter(|_| exact) {
        let claim = Claim::Rule(rule.text.clone());
        match rule_violation(run, contract, &finals, rule) {
            None => judged.record(claim, Judgement::Holds, None),
            Some((judgement, violation)) => {
                judged.record(claim, judgement, Some(&violation));
                violations.push(violation);
            }
        }
    }
    if !rules.is_empty() || !contract.span_ties.is_empty() {
        violations.extend(uncovered(&finals, contract, rules));
    }
    violations.extend(invented(run, &finals));
    violations
}

/// Each incarnation's final exposition by (node, incarnation). One that does
/// not parse is left out here: the lint and the rules report it.
type Finals<'a> = BTreeMap<(String, u32), &'a Exposition>;

fn parsed_finals(run: &Run) -> Finals<'_> {
    run.incarnations
        .iter()
        .filter_map(|incarnation| {
            let exposition = incarnation.final_parsed().ok()?;
            Some(((incarnation.node.clone(), incarnation.number), exposition))
        })
        .collect()
}

fn rule_violation(
    run: &Run,
    contract: &Contract,
    finals: &Finals<'_>,
    rule: &Expectation,
) -> Option<(Judgement, Violation)> {
    let miss = check_as(run, contract, rule, Absent::Zero).err()?;
    let metrics = final_metrics(rule);
    let subject = metrics.first().map_or_else(
        || format!("`{}`", rule.text),
        |metric| format!("`{metric}`"),
    );
    let breakdown: Vec<String> = final_selectors(rule)
        .into_iter()
        .map(|metric| per_incarnation(run, finals, metric))
        .collect();
    // A rule that could not be evaluated read no value to disagree with.
    let verb = match miss.judgement() {
        Judgement::Unevaluable => "cannot be checked against",
        _ => "disagrees with",
    };
    let violation = Violation {
        check: Check::MetricAccuracy,
        subject,
        node: None,
        at: None,
        message: format!(
            "{verb} the harness's ground truth: `{}` {miss}.{}",
            rule.text,
            breakdown.join("")
        ),
    };
    Some((miss.judgement(), violation))
}

/// `\n    final(x) by incarnation: server-0#0 = 3 (crashed at 1.153633s),
/// server-0#1 = 4`: an incarnation that crashed says when, since what a
/// process counts around its crash is where counts most often go missing.
fn per_incarnation(run: &Run, finals: &Finals<'_>, metric: &MetricSelector) -> String {
    let crashed_at = |node: &str, number: u32| {
        let incarnation = run.incarnations.iter();
        let mut ended = incarnation.filter(|i| i.node == node && i.number == number);
        ended.find_map(|i| i.ended_at)
    };
    let parts: Vec<String> = finals
        .iter()
        .filter_map(|((node, number), exposition)| {
            let value = exposition_sum(exposition, metric, node, Some(*number))?;
            Some(match crashed_at(node, *number) {
                Some(at) => format!(
                    "{node}#{number} = {value} (crashed at {:.6}s)",
                    at.as_secs_f64()
                ),
                None => format!("{node}#{number} = {value}"),
            })
        })
        .collect();
    format!(
        "\n    final({metric}) by incarnation: {}",
        if parts.is_empty() {
            "not exported anywhere".to_string()
        } else {
            parts.join(", ")
        }
    )
}

fn uncovered(finals: &Finals<'_>, contract: &Contract, rules: &[Expectation]) -> Vec<Violation> {
    let covered: BTreeSet<&str> = rules
        .iter()
        .flat_map(final_metrics)
        .chain(contract.unchecked.iter().map(|(name, _)| name.as_str()))
        .chain(contract.span_ties.iter().map(|tie| tie.metric.as_str()))
        .collect();
    let mut exported: BTreeMap<&str, &str> = BTreeMap::new();
    for ((node, _), exposition) in finals {
        for family in &exposition.families {
            if family.kind == MetricKind::Counter {
                exported.entry(&family.name).or_insert(node);
            }
        }
    }
    exported
        .into_iter()
        .filter(|(name, _)| !covered.contains(name))
        .map(|(name, node)| Violation {
            check: Check::MetricAccuracy,
            subject: format!("`{name}`"),
            node: Some(node.to_string()),
            at: None,
            message: "is a counter with no ground-truth rule in the system's contract, so \
                      nothing checks its value. Tie it to ground truth with \
                      `Contract::accurate`, or to the spans of the same work with \
                      `Contract::span_counter`, or list it with `Contract::unchecked` and say why"
                .into(),
        })
        .collect()
}

fn invented(run: &Run, finals: &Finals<'_>) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
    // Each final's values once, not once per scrape of its incarnation.
    let final_values: BTreeMap<(&str, u32), Cumulative<'_>> = finals
        .iter()
        .map(|((node, number), last)| ((node.as_str(), *number), cumulative_values(last)))
        .collect();
    for scrape in &run.scrapes {
        let (Some(exposition), Some(number)) = (&scrape.exposition, scrape.incarnation) else {
            continue;
        };
        let Some(final_values) = final_values.get(&(scrape.node.as_str(), number)) else {
            continue;
        };
        for (key, (value, sample)) in cumulative_values(exposition) {
            let ended_with = final_values.get(&key).map(|(end, _)| *end);
            if ended_with.is_some_and(|end| value <= end) {
                continue;
            }
            let series = sample.series();
            if !reported.insert((scrape.node.clone(), series.clone())) {
                continue;
            }
            let ended = ended_with.map_or("has no such series".to_string(), |end| {
                format!("ended at {end}")
            });
            violations.push(Violation {
                check: Check::MetricAccuracy,
                subject: series,
                node: Some(scrape.node.clone()),
                at: Some(scrape.at),
                message: format!(
                    "was scraped at {value}, but incarnation {number}'s final registry {ended}: \
                     a scrape may miss what a crash lost, never see more than was counted"
                ),
            });
        }
    }
    violations
}

/// Counter and histogram samples by series: keyed by name and labels as
/// the exposition holds them (a key that allocates, for every sample of
/// every scrape, cost more than the check), with the sample to name it.
type Cumulative<'a> = BTreeMap<(&'a str, &'a [(String, String)]), (f64, &'a Sample)>;

fn cumulative_values(exposition: &Exposition) -> Cumulative<'_> {
    exposition
        .samples()
        .filter(|(kind, sample)| kind.is_cumulative() && sample.label("quantile").is_none())
        .map(|(_, sample)| {
            let key = (sample.name.as_str(), sample.labels.as_slice());
            (key, (sample.value, sample))
        })
        .collect()
}
