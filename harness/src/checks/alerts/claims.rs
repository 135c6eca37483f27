//! A scenario's claims about alerts (`alert X fires during faults[0]
//! within 3m`), held against the scraped timeline: what production would
//! page on. Each failure shows both timelines.

use std::time::Duration;

use obsim_rules::{AlertHistory, Evaluator, Timeline, Value, ALERT_NAME};
use obsim_scenario::{AlertClaim, AlertExpectation, AlertSelector};

use super::compare::{clock, firing_spans};
use super::{alert_name, Timelines};
use crate::checks::judged::{Judgements, Miss};
use crate::checks::Violation;
use crate::run::{fault_window_end, promql_series, Config, Run};

/// One violation per claim that does not hold, recording what the run says
/// of each claim in `judged`.
pub(super) fn claims(
    run: &Run,
    config: &Config,
    timelines: &Timelines,
    judged: &mut Judgements,
) -> Vec<Violation> {
    config
        .alerts
        .expectations
        .iter()
        // A panel's claim is the dashboards' to judge.
        .filter(|claim| !matches!(claim.claim, AlertClaim::Panel { .. }))
        .filter_map(|claim| judged.expectation(&claim.text, held(run, timelines, claim)))
        .collect()
}

fn held(run: &Run, timelines: &Timelines, claim: &AlertExpectation) -> Result<(), Miss> {
    let end_ms = run.ended_at.as_millis() as i64;
    match &claim.claim {
        AlertClaim::Fires(alert) => {
            let fired = chosen(&timelines.scraped, alert).any(|a| !a.firing().is_empty());
            if fired {
                return Ok(());
            }
            Err(Miss::False(format!(
                "does not hold: {alert} never fired on the scraped timeline.{}",
                both(timelines, alert, end_ms)
            )))
        }
        AlertClaim::NeverFires(alert) => {
            let fired = chosen(&timelines.scraped, alert).any(|a| !a.firing().is_empty());
            if !fired {
                return Ok(());
            }
            Err(Miss::False(format!(
                "does not hold: {alert} fired on the scraped timeline.{}",
                both(timelines, alert, end_ms)
            )))
        }
        AlertClaim::FiresDuring {
            alert,
            fault,
            within,
        } => {
            let opens = window_start(run, *fault)?;
            let latest = opens + *within;
            let started = chosen(&timelines.scraped, alert)
                .flat_map(|a| a.firing())
                .map(|(from, _)| from)
                .any(|from| from >= ms(opens) && from <= ms(latest));
            if started {
                return Ok(());
            }
            Err(Miss::False(format!(
                "does not hold: faults[{fault}]'s window opened at {}, and {alert} did not start \
                 firing on the scraped timeline from then to {}.{}",
                clock(ms(opens)),
                clock(ms(latest)),
                both(timelines, alert, end_ms)
            )))
        }
        AlertClaim::Resolves {
            alert,
            fault,
            within,
        } => {
            let opens = window_start(run, *fault)?;
            let closes = run
                .plan
                .get(*fault)
                .and_then(fault_window_end)
                .ok_or_else(|| {
                    Miss::Unevaluable(format!("faults[{fault}]'s window never closes"))
                })?;
            let deadline = ms(closes + *within);
            let alerts: Vec<&AlertHistory> = chosen(&timelines.scraped, alert).collect();
            let fired_since = alerts
                .iter()
                .flat_map(|a| a.firing())
                .any(|(_, until)| until.is_none_or(|until| until > ms(opens)));
            if !fired_since {
                // Nothing to resolve: the claim is not tested, not false.
                return Err(Miss::Unevaluable(format!(
                    "cannot hold: {alert} never fired on the scraped timeline after faults[{fault}]'s \
                     window opened at {}, so it had nothing to resolve.{}",
                    clock(ms(opens)),
                    both(timelines, alert, end_ms)
                )));
            }
            let at = timelines
                .schedule
                .instants()
                .find(|t| *t >= deadline)
                .unwrap_or(end_ms);
            let still: Vec<String> = alerts
                .iter()
                .filter(|a| a.state_at(at) == obsim_rules::AlertState::Firing)
                .map(|a| alert_name(&a.labels))
                .collect();
            if still.is_empty() {
                return Ok(());
            }
            Err(Miss::False(format!(
                "does not hold: faults[{fault}]'s window closed at {}, and at {} ({} later) {} \
                 still fired on the scraped timeline.{}",
                clock(ms(closes)),
                clock(at),
                clock(ms(*within)),
                still.join(", "),
                both(timelines, alert, end_ms)
            )))
        }
        AlertClaim::Panel { .. } => Ok(()),
        AlertClaim::Slo { series, tolerance } => {
            let selector = promql_series(series).map_err(Miss::Unevaluable)?;
            let expr = obsim_rules::Expr::VectorSelector(selector);
            let last = timelines.schedule.instants().last().unwrap_or(0);
            let value = |store| -> Result<f64, String> {
                match Evaluator::new(store).eval(&expr, last) {
                    Ok(Value::Vector(elements)) if elements.len() == 1 => Ok(elements[0].value),
                    Ok(Value::Vector(elements)) => Err(format!(
                        "`{series}` selects {} series at the last instant ({}), not one",
                        elements.len(),
                        clock(last)
                    )),
                    Ok(_) => Err(format!("`{series}` is not a series")),
                    Err(error) => Err(error.0),
                }
            };
            let scraped = value(&timelines.scraped_series).map_err(Miss::Unevaluable)?;
            let truth = value(&timelines.truth_series).map_err(Miss::Unevaluable)?;
            if tolerance.allows(scraped, truth) {
                return Ok(());
            }
            Err(Miss::False(format!(
                "does not hold: at the last instant ({}) `{series}` is {scraped} on the scraped \
                 timeline and {truth} on the ground-truth timeline",
                clock(last)
            )))
        }
    }
}

fn ms(duration: Duration) -> i64 {
    duration.as_millis() as i64
}

fn window_start(run: &Run, fault: usize) -> Result<Duration, Miss> {
    run.plan
        .get(fault)
        .map(|fault| fault.at)
        .ok_or_else(|| Miss::Unevaluable(format!("faults[{fault}] is not in this run's plan")))
}

/// The alerts `selector` picks: its name, and at least its labels.
fn chosen<'a>(
    timeline: &'a Timeline,
    selector: &'a AlertSelector,
) -> impl Iterator<Item = &'a AlertHistory> {
    timeline.alerts.values().filter(move |alert| {
        alert.labels.get(ALERT_NAME) == Some(&selector.name)
            && selector
                .labels
                .iter()
                .all(|(key, value)| alert.labels.get(key) == Some(value))
    })
}

/// Both timelines of the alerts `selector` picks, for a message.
fn both(timelines: &Timelines, selector: &AlertSelector, end_ms: i64) -> String {
    let mut lines = String::new();
    for (side, timeline) in [("scraped", &timelines.scraped), ("truth", &timelines.truth)] {
        let picked: Vec<&AlertHistory> = chosen(timeline, selector).collect();
        if picked.is_empty() {
            lines.push_str(&format!("\n    {side}: never pending or firing"));
        }
        for alert in picked {
            lines.push_str(&format!(
                "\n    {side}: {} {}",
                alert_name(&alert.labels),
                firing_spans(timeline, &alert.labels, end_ms)
            ));
        }
    }
    lines
}
