//! `dashboard_queries`: the system's Grafana dashboards, read as an
//! operator would read them during the run.
//!
//! Every panel target's PromQL, its template variables filled with the
//! run's real label values, is evaluated over what the scraper saw (the
//! recording rules' series included, as Prometheus would hold them) at
//! every rule evaluation instant. A target fails when it returns no series
//! at any instant, when one of its selectors matches no series at all (a
//! panel that hides it behind `or vector(0)` still shows a flat line for a
//! metric that is gone), when it fails to evaluate, or when its filled
//! expression no longer parses. A panel claim (`panel "Error rate" within
//! 10% of truth`) compares the panel's one target over the scraped series
//! and over ground truth at the last instant.

use std::collections::{BTreeMap, BTreeSet};

use obsim_rules::{
    selectors, selects_series, Builtins, Evaluator, FilledDashboard, FilledPanel, FilledTarget,
    Labels, Schedule, SeriesStore, Value,
};
use obsim_scenario::{AlertClaim, Expectation, Tolerance};

use super::alerts::{self, clock, Timelines};
use super::judged::{Judgements, Miss};
use super::{Check, Violation};
use crate::run::{Config, Contract, Run};

/// The dashboards of one run, filled, and the series they read.
pub(crate) struct Evaluated {
    pub dashboards: Vec<FilledDashboard>,
    /// What was scraped, recorded series included.
    pub scraped: SeriesStore,
    pub schedule: Schedule,
}

/// The built-in variables' values in `run`.
fn builtins(run: &Run, config: &Config, schedule: &Schedule) -> Builtins {
    Builtins {
        interval_ms: schedule.interval.as_millis() as u64,
        scrape_ms: config.scrape_interval.as_millis() as u64,
        range_ms: run.ended_at.as_millis() as u64,
    }
}

/// The config's dashboards filled over `run`, with the series they read,
/// for a failure's artifacts. None when there are no dashboards.
pub(crate) fn evaluated(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[Expectation],
) -> Option<Result<Evaluated, String>> {
    if config.dashboards.is_empty() {
        return None;
    }
    let scraped = match alerts::timelines(run, config, contract, rules) {
        Some(built) => built.map(|timelines| timelines.scraped_series),
        None => alerts::scraped_store(run, config, contract),
    };
    let schedule = alerts::schedule(run, config);
    let builtins = builtins(run, config, &schedule);
    Some(scraped.map(|scraped| {
        Evaluated {
            dashboards: config
                .dashboards
                .iter()
                .map(|dashboard| dashboard.fill(&scraped, &builtins))
                .collect(),
            scraped,
            schedule,
        }
    }))
}

/// The check, over the rules' timelines when the system has rules (their
/// recorded series are what a dashboard reads too), recording what the run
/// says of each panel claim in `judged`.
pub(crate) fn dashboard_queries(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[Expectation],
    built: Option<&Result<Timelines, String>>,
    judged: &mut Judgements,
) -> Vec<Violation> {
    if config.dashboards.is_empty() {
        return Vec::new();
    }
    let owned;
    let scraped = match built {
        Some(Ok(timelines)) => &timelines.scraped_series,
        Some(Err(problem)) => return vec![unevaluable(problem)],
        None => match alerts::scraped_store(run, config, contract) {
            Ok(store) => {
                owned = store;
                &owned
            }
            Err(problem) => return vec![unevaluable(&problem)],
        },
    };
    let schedule = alerts::schedule(run, config);
    let builtins = builtins(run, config, &schedule);
    let filled: Vec<FilledDashboard> = config
        .dashboards
        .iter()
        .map(|dashboard| dashboard.fill(scraped, &builtins))
        .collect();
    let mut violations = Vec::new();
    for dashboard in &filled {
        for panel in &dashboard.panels {
            for target in &panel.targets {
                let found = judge_target(dashboard, panel, target, scraped, &schedule);
                violations.extend(found);
            }
        }
    }
    let truth = || match built {
        Some(Ok(timelines)) => Ok(std::borrow::Cow::Borrowed(&timelines.truth_series)),
        _ => alerts::truth_store(run, config, contract, rules).map(std::borrow::Cow::Owned),
    };
    violations.extend(claims(config, &filled, scraped, truth, &schedule, judged));
    violations
}

fn unevaluable(problem: &str) -> Violation {
    Violation {
        check: Check::DashboardQueries,
        subject: "dashboards".into(),
        node: None,
        at: None,
        message: format!("cannot be evaluated: {problem}"),
    }
}

/// A target as a failure names it: the dashboard, the panel, the refId.
fn subject(dashboard: &FilledDashboard, panel: &FilledPanel, target: &FilledTarget) -> String {
    format!(
        "dashboard {:?} panel {:?} target {}",
        dashboard.title, panel.title, target.ref_id
    )
}

/// `(file:line) `expr as written`, filled as `expr filled``.
fn written(dashboard: &FilledDashboard, target: &FilledTarget) -> String {
    let place = match target.line {
        Some(line) => format!("{}:{line}", dashboard.path),
        None => dashboard.path.clone(),
    };
    match &target.text {
        Some(text) if *text != target.written => {
            format!("({place}) `{}`, filled as `{text}`,", target.written)
        }
        _ => format!("({place}) `{}`", target.written),
    }
}

/// One target's violation, if it has one.
fn judge_target(
    dashboard: &FilledDashboard,
    panel: &FilledPanel,
    target: &FilledTarget,
    scraped: &SeriesStore,
    schedule: &Schedule,
) -> Option<Violation> {
    let violation = |message: String| Violation {
        check: Check::DashboardQueries,
        subject: subject(dashboard, panel, target),
        node: None,
        at: None,
        message: format!("{message}{}", variable_problems(dashboard)),
    };
    let expr = match &target.expr {
        Ok(expr) => expr,
        Err(problem) => {
            return Some(violation(format!(
                "{} cannot be evaluated: it {problem}",
                written(dashboard, target)
            )))
        }
    };
    for selector in selectors(expr) {
        let seen = scraped
            .named(selector.name.as_deref())
            .any(|series| selects_series(selector, &series.labels));
        if !seen {
            return Some(violation(format!(
                "{} selects `{selector}`, which matched no series at any instant of the run: \
                 the panel shows no data for it. {}",
                written(dashboard, target),
                alerts::what_there_is(scraped, selector)
            )));
        }
    }
    let (mut instants, mut with_data) = (0u64, 0u64);
    let mut failed: Option<(i64, String, u64)> = None;
    for t in schedule.instants() {
        instants += 1;
        match Evaluator::new(scraped).eval(expr, t) {
            Ok(Value::Vector(elements)) if !elements.is_empty() => with_data += 1,
            Ok(Value::Scalar(_)) => with_data += 1,
            Ok(_) => {}
            Err(error) => match &mut failed {
                Some((_, _, count)) => *count += 1,
                None => failed = Some((t, error.0, 1)),
            },
        }
    }
    if let Some((t, message, count)) = failed {
        return Some(violation(format!(
            "{} failed to evaluate at {} and at {} more instants: {message}",
            written(dashboard, target),
            clock(t),
            count - 1
        )));
    }
    if with_data > 0 {
        return None;
    }
    Some(violation(format!(
        "{} returned no series at any of the run's {instants} evaluation instants (every {} \
         from 0s to {}): the panel shows no data for the whole run",
        written(dashboard, target),
        clock(schedule.interval.as_millis() as i64),
        clock(schedule.end.as_millis() as i64),
    )))
}

/// What went wrong filling the dashboard's variables, for a message.
fn variable_problems(dashboard: &FilledDashboard) -> String {
    if dashboard.problems.is_empty() {
        return String::new();
    }
    format!(
        " (filling the variables: {})",
        dashboard.problems.join("; ")
    )
}

/// The panel claims, each judged into `judged`.
fn claims<'s>(
    config: &Config,
    filled: &[FilledDashboard],
    scraped: &SeriesStore,
    truth: impl FnOnce() -> Result<std::borrow::Cow<'s, SeriesStore>, String>,
    schedule: &Schedule,
    judged: &mut Judgements,
) -> Vec<Violation> {
    let panel_claims: Vec<(&str, &str, Tolerance)> = config
        .alerts
        .expectations
        .iter()
        .filter_map(|claim| match &claim.claim {
            AlertClaim::Panel { title, tolerance } => {
                Some((claim.text.as_str(), title.as_str(), *tolerance))
            }
            _ => None,
        })
        .collect();
    if panel_claims.is_empty() {
        return Vec::new();
    }
    let truth = truth();
    let mut violations = Vec::new();
    for (text, title, tolerance) in panel_claims {
        let result = match &truth {
            Ok(truth) => held(filled, title, tolerance, scraped, truth, schedule),
            Err(problem) => Err(Miss::Unevaluable(format!(
                "the ground-truth series cannot be built: {problem}"
            ))),
        };
        violations.extend(judged.expectation(text, result));
    }
    violations
}

fn held(
    filled: &[FilledDashboard],
    title: &str,
    tolerance: Tolerance,
    scraped: &SeriesStore,
    truth: &SeriesStore,
    schedule: &Schedule,
) -> Result<(), Miss> {
    // The build made sure the title names one panel, of one target.
    let target = filled
        .iter()
        .flat_map(|dashboard| &dashboard.panels)
        .find(|panel| panel.title == title)
        .and_then(|panel| panel.targets.first())
        .ok_or_else(|| Miss::Unevaluable(format!("no panel is titled {title:?}")))?;
    let expr = target.expr.as_ref().map_err(|problem| {
        Miss::Unevaluable(format!(
            "the panel's query cannot be evaluated: it {problem}"
        ))
    })?;
    let shown = target.text.as_deref().unwrap_or(&target.written);
    let last = schedule.instants().last().unwrap_or(0);
    let read = |store: &SeriesStore| -> Result<BTreeMap<Labels, f64>, Miss> {
        match Evaluator::new(store).eval(expr, last) {
            Ok(Value::Vector(elements)) => Ok(elements
                .into_iter()
                .map(|element| (Labels::clone(&element.labels), element.value))
                .collect()),
            Ok(Value::Scalar(value)) => Ok(BTreeMap::from([(Labels::new(), value)])),
            Ok(_) => Err(Miss::Unevaluable(format!("`{shown}` is not a series"))),
            Err(error) => Err(Miss::Unevaluable(error.0)),
        }
    };
    let (on_scraped, on_truth) = (read(scraped)?, read(truth)?);
    if on_scraped.is_empty() && on_truth.is_empty() {
        return Err(Miss::Unevaluable(format!(
            "`{shown}` returns no series at the last instant ({}) on either timeline",
            clock(last)
        )));
    }
    let keys: BTreeSet<&Labels> = on_scraped.keys().chain(on_truth.keys()).collect();
    let mut off = Vec::new();
    for key in keys {
        let (s, t) = (on_scraped.get(key), on_truth.get(key));
        let agrees = matches!((s, t), (Some(s), Some(t)) if tolerance.allows(*s, *t));
        if !agrees {
            let value = |v: Option<&f64>| v.map_or("no series".to_string(), f64::to_string);
            off.push(format!(
                "{} is {} on the scraped timeline and {} on the ground-truth timeline",
                obsim_rules::format_series(key),
                value(s),
                value(t)
            ));
        }
    }
    if off.is_empty() {
        return Ok(());
    }
    const SHOWN_MAX: usize = 5;
    let more = off.len().saturating_sub(SHOWN_MAX);
    off.truncate(SHOWN_MAX);
    if more > 0 {
        off.push(format!("and {more} more series"));
    }
    Err(Miss::False(format!(
        "does not hold: at the last instant ({}) the panel's `{shown}`: {}",
        clock(last),
        off.join("; ")
    )))
}
