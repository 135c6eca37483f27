//! `alert_correctness`: the system's alerting and recording rules, run
//! twice over one run, compared.
//!
//! - The scraped timeline: the rules over what obsim's scraper saw, as
//!   production Prometheus would hold it (`up`, staleness, counter resets
//!   across restarts).
//! - The truth timeline: the same rules, at the same instants, over series
//!   synthesized from the ledger through the contract (see `truth`).
//!
//! An alert firing at an instant on one timeline while the other has it
//! firing at no instant within the tolerance is a violation: a page for
//! nothing, or an outage nobody was paged for. The tolerance is the scrape
//! interval, plus the evaluation interval (an instant can shift by one
//! evaluation), plus the alert's own `for` and `keep_firing_for`. A rule
//! whose selector matches no series on either timeline is a violation too:
//! it can never see data, so it passes any comparison vacuously.

mod claims;
mod compare;
mod events;
mod scraped;
mod truth;
mod truth_histograms;

use std::collections::BTreeMap;
use std::time::Duration;

use obsim_rules::{
    evaluate, format_series, selectors, selects_series, Labels, Schedule, SeriesStore, Timeline,
    ALERT_NAME, METRIC_NAME, SAMPLES_MAX_DEFAULT,
};
use obsim_scenario::Expectation;

use super::judged::Judgements;
use super::{Check, Violation};
use crate::run::{Config, Contract, Run};
pub use compare::clock;
use compare::{disagreements, firing_spans, Side};

/// Both timelines of one run, and what they were evaluated over.
pub struct Timelines {
    pub scraped: Timeline,
    pub truth: Timeline,
    /// The scraped series, recorded ones included: what a promtool test
    /// file's `input_series` is written from.
    pub scraped_series: SeriesStore,
    pub truth_series: SeriesStore,
    pub schedule: Schedule,
}

/// Evaluates the config's rules over both timelines of `run`. None when
/// there are no rules; Err when the series do not fit the store's bound.
pub fn timelines(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[Expectation],
) -> Option<Result<Timelines, String>> {
    let files = &config.alerts.rule_files;
    if files.is_empty() {
        return None;
    }
    let schedule = schedule(run, config);
    let job = contract.job();
    let step_ms = config.scrape_interval.as_millis() as i64;
    let build = || -> Result<Timelines, obsim_rules::StoreError> {
        let mut scraped_series = scraped::scraped_series(run, job, step_ms, SAMPLES_MAX_DEFAULT)?;
        let mut truth_series =
            truth::truth_series(run, contract, rules, job, step_ms, SAMPLES_MAX_DEFAULT)?;
        let scraped = evaluate(files, &mut scraped_series, schedule)?;
        let truth = evaluate(files, &mut truth_series, schedule)?;
        Ok(Timelines {
            scraped,
            truth,
            scraped_series,
            truth_series,
            schedule,
        })
    };
    Some(build().map_err(|error| error.to_string()))
}

/// The scraped series of `run`, with no rule evaluated over them: what a
/// dashboard reads when the system has no rules.
pub(crate) fn scraped_store(
    run: &Run,
    config: &Config,
    contract: &Contract,
) -> Result<SeriesStore, String> {
    let step_ms = config.scrape_interval.as_millis() as i64;
    scraped::scraped_series(run, contract.job(), step_ms, SAMPLES_MAX_DEFAULT)
        .map_err(|error| error.to_string())
}

/// The ground-truth series of `run`, with no rule evaluated over them.
pub(crate) fn truth_store(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[Expectation],
) -> Result<SeriesStore, String> {
    let step_ms = config.scrape_interval.as_millis() as i64;
    truth::truth_series(
        run,
        contract,
        rules,
        contract.job(),
        step_ms,
        SAMPLES_MAX_DEFAULT,
    )
    .map_err(|error| error.to_string())
}

/// When rules are evaluated: every evaluation interval (default: the
/// scrape interval) from the run's start to its end.
pub fn schedule(run: &Run, config: &Config) -> Schedule {
    Schedule {
        interval: config
            .alerts
            .evaluation_interval
            .unwrap_or(config.scrape_interval),
        end: run.ended_at,
    }
}

/// The check: one violation per disagreement, rule failure, and selector
/// that can see nothing.
pub fn alert_correctness(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[Expectation],
) -> Vec<Violation> {
    let built = timelines(run, config, contract, rules);
    judge_alerts(run, config, built.as_ref(), &mut Judgements::default())
}

/// [`alert_correctness`] over the timelines `built`, recording what the run
/// says of each alert claim in `judged`. Claims go unjudged when the rules
/// cannot be evaluated.
pub(crate) fn judge_alerts(
    run: &Run,
    config: &Config,
    built: Option<&Result<Timelines, String>>,
    judged: &mut Judgements,
) -> Vec<Violation> {
    let Some(built) = built else {
        return Vec::new();
    };
    let timelines = match built {
        Ok(timelines) => timelines,
        Err(problem) => {
            return vec![violation(
                "alert rules".into(),
                None,
                format!("cannot be evaluated: {problem}"),
            )]
        }
    };
    let mut violations = failures(timelines);
    violations.extend(blind_selectors(config, timelines));
    violations.extend(disagreeing(run, config, timelines));
    violations.extend(claims::claims(run, config, timelines, judged));
    violations
}

fn violation(subject: String, at: Option<Duration>, message: String) -> Violation {
    Violation {
        check: Check::AlertCorrectness,
        subject,
        node: None,
        at,
        message,
    }
}

/// Rules that failed to evaluate, on either timeline.
fn failures(timelines: &Timelines) -> Vec<Violation> {
    let sides = [("scraped", &timelines.scraped), ("truth", &timelines.truth)];
    sides
        .into_iter()
        .flat_map(|(side, timeline)| {
            timeline.failures.iter().map(move |failure| {
                let place = match failure.line {
                    Some(line) => format!("{}:{line}", failure.file),
                    None => failure.file.clone(),
                };
                violation(
                    format!("rule `{}`", failure.rule),
                    Some(Duration::from_millis(failure.t_ms as u64)),
                    format!(
                        "({place}, group {:?}) failed to evaluate on the {side} timeline at {} \
                         and at {} more instants: {}",
                        failure.group,
                        clock(failure.t_ms),
                        failure.failures - 1,
                        failure.message
                    ),
                )
            })
        })
        .collect()
}

/// Selectors that matched no series, scraped or true, at any instant. A
/// selector of what a recording rule writes is left out: that rule's own
/// selectors say whether it could see anything, and a recording that is
/// empty because its inputs were (a run too short for its window) is not a
/// typo.
fn blind_selectors(config: &Config, timelines: &Timelines) -> Vec<Violation> {
    let stores = [&timelines.scraped_series, &timelines.truth_series];
    let recorded: std::collections::BTreeSet<&str> = config
        .alerts
        .rule_files
        .iter()
        .flat_map(|file| file.groups.iter().flat_map(|group| &group.rules))
        .filter(|rule| !rule.is_alert())
        .map(|rule| rule.name())
        .collect();
    let mut violations = Vec::new();
    for file in &config.alerts.rule_files {
        for rule in file.groups.iter().flat_map(|group| &group.rules) {
            for selector in selectors(&rule.expr) {
                if selector
                    .name
                    .as_deref()
                    .is_some_and(|name| recorded.contains(name))
                {
                    continue;
                }
                let seen = stores.iter().any(|store| {
                    store
                        .named(selector.name.as_deref())
                        .any(|series| selects_series(selector, &series.labels))
                });
                if seen {
                    continue;
                }
                let place = match rule.line {
                    Some(line) => format!("{}:{line}", file.path),
                    None => file.path.clone(),
                };
                violations.push(violation(
                    format!("rule `{}`", rule.name()),
                    None,
                    format!(
                        "({place}) selects `{selector}`, which matched no series at any instant, \
                         scraped or true: the rule can never see data, so it can never fire. {}",
                        what_there_is(&timelines.scraped_series, selector)
                    ),
                ));
            }
        }
    }
    violations
}

/// What the series of the selector's metric do carry, for the message.
pub(crate) fn what_there_is(store: &SeriesStore, selector: &obsim_rules::VectorSelector) -> String {
    let Some(name) = selector.name.as_deref() else {
        return String::new();
    };
    let mut values: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    let mut any = false;
    for series in store.named(Some(name)) {
        any = true;
        for matcher in &selector.matchers.matchers {
            if matcher.name == METRIC_NAME {
                continue;
            }
            let value = series.labels.get(&matcher.name).map_or("", String::as_str);
            values.entry(&matcher.name).or_default().insert(value);
        }
    }
    if !any {
        return format!("No node exported `{name}` at all.");
    }
    let parts: Vec<String> = values
        .iter()
        .map(|(label, seen)| {
            let seen: Vec<String> = seen.iter().map(|v| format!("{v:?}")).collect();
            format!("`{label}` is one of {}", seen.join(", "))
        })
        .collect();
    format!("In the scrapes, `{name}` has {}.", parts.join("; "))
}

/// An alert's tolerance: scrape interval + evaluation interval + `for` +
/// `keep_firing_for`.
fn tolerance_ms<'c>(config: &'c Config, schedule: &Schedule) -> impl Fn(&str) -> i64 + 'c {
    let base = config.scrape_interval + schedule.interval;
    let held: BTreeMap<&str, Duration> = config
        .alerts
        .rule_files
        .iter()
        .flat_map(|file| file.groups.iter().flat_map(|group| &group.rules))
        .filter_map(|rule| match &rule.kind {
            obsim_rules::RuleKind::Alert {
                name,
                hold,
                keep_firing_for,
            } => Some((name.as_str(), *hold + *keep_firing_for)),
            obsim_rules::RuleKind::Record { .. } => None,
        })
        .collect();
    move |name| (base + held.get(name).copied().unwrap_or_default()).as_millis() as i64
}

/// Each alert that fires on one timeline alone beyond its tolerance: its
/// name, and the first and last instant (ms) of its first such stretch.
pub fn disagreement_spans(config: &Config, timelines: &Timelines) -> Vec<(String, i64, i64)> {
    let instants: Vec<i64> = timelines.schedule.instants().collect();
    let tolerance = tolerance_ms(config, &timelines.schedule);
    disagreements(&timelines.scraped, &timelines.truth, &instants, tolerance)
        .into_iter()
        .map(|found| {
            let name = found.labels.get(ALERT_NAME).cloned().unwrap_or_default();
            (name, found.from_ms, found.to_ms)
        })
        .collect()
}

fn disagreeing(run: &Run, config: &Config, timelines: &Timelines) -> Vec<Violation> {
    let instants: Vec<i64> = timelines.schedule.instants().collect();
    let end_ms = run.ended_at.as_millis() as i64;
    let tolerance = tolerance_ms(config, &timelines.schedule);
    disagreements(&timelines.scraped, &timelines.truth, &instants, tolerance)
        .into_iter()
        .map(|found| {
            let (alone, other, meaning) = match found.side {
                Side::Scraped => (
                    "the scraped timeline (what Prometheus would see)",
                    "the ground-truth timeline (what happened)",
                    "a page for nothing: the telemetry says so, reality does not",
                ),
                Side::Truth => (
                    "the ground-truth timeline (what happened)",
                    "the scraped timeline (what Prometheus would see)",
                    "an outage nobody is paged for: reality says so, the telemetry does not",
                ),
            };
            let stretch = if found.from_ms == found.to_ms {
                format!("at {}", clock(found.from_ms))
            } else {
                format!("from {} to {}", clock(found.from_ms), clock(found.to_ms))
            };
            violation(
                format!("alert `{}`", alert_name(&found.labels)),
                Some(Duration::from_millis(found.from_ms as u64)),
                format!(
                    "fires on {alone} {stretch} ({} instants in all), but on {other} it fires at \
                     no instant within {} of that: {meaning}.\n    scraped: {}\n    truth:   {}\n    \
                     faults then: {}",
                    found.instants,
                    clock(found.tolerance_ms),
                    firing_spans(&timelines.scraped, &found.labels, end_ms),
                    firing_spans(&timelines.truth, &found.labels, end_ms),
                    faults_between(run, found.from_ms - found.tolerance_ms, found.to_ms),
                ),
            )
        })
        .collect()
}

/// An alert's firing spans on `timeline`, for a file or a message.
pub fn firing_text(timeline: &Timeline, key: &Labels, end_ms: i64) -> String {
    firing_spans(timeline, key, end_ms)
}

/// `HighErrorRate{job="actors", severity="page"}`.
pub fn alert_name(labels: &Labels) -> String {
    let mut named = labels.clone();
    let name = named.remove(ALERT_NAME).unwrap_or_default();
    named.insert(METRIC_NAME.into(), name);
    format_series(&named)
}

/// The faults injected between two instants, by kind and target.
fn faults_between(run: &Run, from_ms: i64, to_ms: i64) -> String {
    let mut seen: BTreeMap<(String, String), (u64, Duration, Duration)> = BTreeMap::new();
    for event in &run.faults {
        let t = event.at.as_millis() as i64;
        if t < from_ms || t > to_ms {
            continue;
        }
        let key = (event.kind.to_string(), event.target.clone());
        let entry = seen.entry(key).or_insert((0, event.at, event.at));
        entry.0 += 1;
        entry.2 = event.at;
    }
    if seen.is_empty() {
        return "none injected".into();
    }
    const SHOWN_MAX: usize = 6;
    let mut parts: Vec<String> = seen
        .iter()
        .take(SHOWN_MAX)
        .map(|((kind, target), (count, first, last))| {
            let ms = |d: &Duration| d.as_millis() as i64;
            format!(
                "{kind} on {target} ×{count} ({}–{})",
                clock(ms(first)),
                clock(ms(last))
            )
        })
        .collect();
    if seen.len() > SHOWN_MAX {
        parts.push(format!("and {} more", seen.len() - SHOWN_MAX));
    }
    parts.join(", ")
}
