//! Rule evaluation over time, as Prometheus's rule manager does it: at each
//! instant, each group due then, its rules in order; a recording rule's
//! result is written back at once, so later rules read it; an alert is
//! pending from the first instant its expression returns it and fires once
//! it has been active for its `for`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::eval::{Element, Evaluator, Value};
use crate::file::{Rule, RuleFile, RuleKind};
use crate::series::{format_series, Labels, SeriesStore, StoreError, METRIC_NAME};

/// The label an alert's name is in.
pub const ALERT_NAME: &str = "alertname";

/// When rules are evaluated: at `interval`, `2 × interval`, ... up to and
/// including `end`, as promtool does from its first instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub end: Duration,
}

impl Schedule {
    /// Every evaluation instant, in milliseconds, starting at 0.
    pub fn instants(&self) -> impl Iterator<Item = i64> {
        let step = self.interval.as_millis().max(1) as i64;
        let end = self.end.as_millis() as i64;
        (0..).map(move |k| k * step).take_while(move |t| *t <= end)
    }
}

/// An alert's state at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert (one label set of one alerting rule) over the run: the
/// instants its state changed, oldest first, and what it said when it last
/// fired.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertHistory {
    /// Its labels: the expression's, the rule's, and `alertname`.
    pub labels: Labels,
    /// `(instant, state from then on)`; before the first, inactive.
    pub changes: Vec<(i64, AlertState)>,
    /// Its annotations while pending or firing: `(instant, annotations from
    /// then on)`, a new entry only when they changed.
    pub annotations: Vec<(i64, BTreeMap<String, String>)>,
}

impl AlertHistory {
    /// Its state at instant `t_ms`.
    pub fn state_at(&self, t_ms: i64) -> AlertState {
        let at = self.changes.partition_point(|(t, _)| *t <= t_ms);
        match at {
            0 => AlertState::Inactive,
            _ => self.changes[at - 1].1,
        }
    }

    /// Each span of time it was firing: `(from, until)`, until None when it
    /// still was at the last instant.
    pub fn firing(&self) -> Vec<(i64, Option<i64>)> {
        let mut spans = Vec::new();
        let mut since = None;
        for &(t, state) in &self.changes {
            match (state, since) {
                (AlertState::Firing, None) => since = Some(t),
                (AlertState::Firing, Some(_)) => {}
                (_, Some(from)) => {
                    spans.push((from, Some(t)));
                    since = None;
                }
                (_, None) => {}
            }
        }
        if let Some(from) = since {
            spans.push((from, None));
        }
        spans
    }

    /// Its annotations as of instant `t_ms`.
    pub fn annotations_at(&self, t_ms: i64) -> Option<&BTreeMap<String, String>> {
        let at = self.annotations.partition_point(|(t, _)| *t <= t_ms);
        at.checked_sub(1).map(|at| &self.annotations[at].1)
    }

    /// The alert's name.
    pub fn name(&self) -> &str {
        self.labels.get(ALERT_NAME).map_or("", String::as_str)
    }
}

/// A rule whose evaluation failed at some instant, as Prometheus would log
/// it; the first failure of each rule is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFailure {
    pub file: String,
    pub group: String,
    pub rule: String,
    pub line: Option<usize>,
    pub t_ms: i64,
    pub message: String,
    /// Instants at which it failed, the first included.
    pub failures: u64,
}

/// What the rules did over one timeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// Every alert that was ever pending or firing, by its labels.
    pub alerts: BTreeMap<Labels, AlertHistory>,
    pub failures: Vec<RuleFailure>,
    /// Instants evaluated.
    pub instants: u64,
    /// Rule evaluations done, over every instant.
    pub evaluations: u64,
}

impl Timeline {
    /// The alerts of the alerting rule `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a AlertHistory> {
        self.alerts
            .values()
            .filter(move |alert| alert.name() == name)
    }

    /// The alerts firing at `t_ms`.
    pub fn firing_at(&self, t_ms: i64) -> impl Iterator<Item = &AlertHistory> {
        self.alerts
            .values()
            .filter(move |alert| alert.state_at(t_ms) == AlertState::Firing)
    }
}

/// An alert the rule manager holds between instants.
struct Active {
    state: AlertState,
    active_at: i64,
    keep_firing_since: Option<i64>,
}

/// What one rule carries between instants.
#[derive(Default)]
struct RuleState {
    /// Alerting rule: its active alerts.
    active: BTreeMap<Labels, Active>,
    /// Recording rule: the series it wrote last time, to mark stale.
    written: BTreeSet<Labels>,
}

/// Evaluates `files` over `store` at every instant of `schedule`. Recording
/// rules write into `store`. Fails only when the store is full: a rule that
/// fails to evaluate is recorded in the timeline and evaluation goes on, as
/// in Prometheus.
pub fn evaluate(
    files: &[RuleFile],
    store: &mut SeriesStore,
    schedule: Schedule,
) -> Result<Timeline, StoreError> {
    let mut timeline = Timeline::default();
    let rules: Vec<(&RuleFile, &str, u128, &Rule)> = files
        .iter()
        .flat_map(|file| {
            file.groups.iter().flat_map(move |group| {
                let every = group
                    .interval
                    .unwrap_or(schedule.interval)
                    .as_millis()
                    .max(1);
                group
                    .rules
                    .iter()
                    .map(move |rule| (file, group.name.as_str(), every, rule))
            })
        })
        .collect();
    let mut states: Vec<RuleState> = rules.iter().map(|_| RuleState::default()).collect();
    for t in schedule.instants() {
        timeline.instants += 1;
        for ((file, group, every, rule), state) in rules.iter().zip(states.iter_mut()) {
            if !(t as u128).is_multiple_of(*every) {
                continue;
            }
            timeline.evaluations += 1;
            let result = Evaluator::new(store).eval(&rule.expr, t);
            let elements = match result.map(into_vector) {
                Ok(Some(elements)) => elements,
                Ok(None) => {
                    fail(
                        &mut timeline,
                        file,
                        group,
                        rule,
                        t,
                        "the result is not a vector or a scalar".into(),
                    );
                    continue;
                }
                Err(error) => {
                    fail(&mut timeline, file, group, rule, t, error.0);
                    continue;
                }
            };
            let outcome = match &rule.kind {
                RuleKind::Record { name } => record(store, state, rule, name, t, elements)?,
                RuleKind::Alert { .. } => alert(&mut timeline, state, rule, t, elements),
            };
            if let Err(message) = outcome {
                fail(&mut timeline, file, group, rule, t, message);
            }
        }
    }
    Ok(timeline)
}

/// A scalar result is a one-element vector without labels, as Prometheus's
/// rule manager takes it.
fn into_vector(value: Value) -> Option<Vec<Element>> {
    match value {
        Value::Vector(elements) => Some(elements),
        Value::Scalar(value) => Some(vec![Element {
            labels: Default::default(),
            value,
        }]),
        _ => None,
    }
}

fn fail(
    timeline: &mut Timeline,
    file: &RuleFile,
    group: &str,
    rule: &Rule,
    t_ms: i64,
    message: String,
) {
    let known = timeline.failures.iter_mut().find(|f| {
        f.file == file.path && f.group == group && f.rule == rule.name() && f.line == rule.line
    });
    match known {
        Some(failure) => failure.failures += 1,
        None => timeline.failures.push(RuleFailure {
            file: file.path.clone(),
            group: group.to_string(),
            rule: rule.name().to_string(),
            line: rule.line,
            t_ms,
            message,
            failures: 1,
        }),
    }
}

/// Writes a recording rule's result at `t_ms`, and staleness markers for
/// what it wrote last time and not now. Err: the result cannot be written
/// (two elements with one label set), as Prometheus refuses it.
fn record(
    store: &mut SeriesStore,
    state: &mut RuleState,
    rule: &Rule,
    name: &str,
    t_ms: i64,
    elements: Vec<Element>,
) -> Result<Result<(), String>, StoreError> {
    let mut written = BTreeSet::new();
    let mut out = Vec::with_capacity(elements.len());
    for element in elements {
        let mut labels = Labels::clone(&element.labels);
        labels.insert(METRIC_NAME.to_string(), name.to_string());
        for (key, template) in &rule.labels {
            labels.insert(key.clone(), template.expand(&element.labels, element.value));
        }
        if !written.insert(labels.clone()) {
            return Ok(Err(format!(
                "vector contains metrics with the same labelset after applying rule labels: {}",
                format_series(&labels)
            )));
        }
        out.push((labels, element.value));
    }
    for (labels, value) in &out {
        store.push_as(labels, t_ms, *value, true)?;
    }
    for gone in state.written.difference(&written) {
        store.mark_stale(gone, t_ms)?;
    }
    state.written = written;
    Ok(Ok(()))
}

/// Moves a rule's alerts on by one instant. Err: two elements became one
/// alert, which Prometheus refuses.
fn alert(
    timeline: &mut Timeline,
    state: &mut RuleState,
    rule: &Rule,
    t_ms: i64,
    elements: Vec<Element>,
) -> Result<(), String> {
    let RuleKind::Alert {
        name,
        hold,
        keep_firing_for,
    } = &rule.kind
    else {
        return Ok(());
    };
    let (hold, keep) = (hold.as_millis() as i64, keep_firing_for.as_millis() as i64);
    let mut returned: BTreeMap<Labels, BTreeMap<String, String>> = BTreeMap::new();
    for element in &elements {
        let mut labels = Labels::clone(&element.labels);
        labels.remove(METRIC_NAME);
        for (key, template) in &rule.labels {
            labels.insert(key.clone(), template.expand(&element.labels, element.value));
        }
        labels.insert(ALERT_NAME.to_string(), name.clone());
        let annotations = rule
            .annotations
            .iter()
            .map(|(key, template)| (key.clone(), template.expand(&element.labels, element.value)))
            .collect();
        if returned.insert(labels, annotations).is_some() {
            return Err(
                "vector contains metrics with the same labelset after applying alert labels".into(),
            );
        }
    }
    for labels in returned.keys() {
        let known = state
            .active
            .get(labels)
            .is_some_and(|active| active.state != AlertState::Inactive);
        if !known {
            state.active.insert(
                labels.clone(),
                Active {
                    state: AlertState::Pending,
                    active_at: t_ms,
                    keep_firing_since: None,
                },
            );
        }
    }
    let mut gone = Vec::new();
    for (labels, active) in state.active.iter_mut() {
        if returned.contains_key(labels) {
            active.keep_firing_since = None;
            if active.state == AlertState::Pending && t_ms - active.active_at >= hold {
                active.state = AlertState::Firing;
            }
        } else {
            let mut keep_firing = false;
            if active.state == AlertState::Firing && keep > 0 {
                let since = *active.keep_firing_since.get_or_insert(t_ms);
                keep_firing = t_ms - since < keep;
            }
            if !keep_firing {
                active.state = AlertState::Inactive;
                gone.push(labels.clone());
            }
        }
        // Looked up before inserting: `entry` would copy the label set at
        // every instant of every active alert.
        if !timeline.alerts.contains_key(labels) {
            timeline.alerts.insert(
                labels.clone(),
                AlertHistory {
                    labels: labels.clone(),
                    changes: Vec::new(),
                    annotations: Vec::new(),
                },
            );
        }
        let history = timeline.alerts.get_mut(labels).expect("inserted above");
        let last = history
            .changes
            .last()
            .map_or(AlertState::Inactive, |(_, s)| *s);
        if last != active.state {
            history.changes.push((t_ms, active.state));
        }
        if let Some(annotations) = returned.get(labels) {
            if history.annotations.last().map(|(_, a)| a) != Some(annotations) {
                history.annotations.push((t_ms, annotations.clone()));
            }
        }
    }
    for labels in gone {
        state.active.remove(&labels);
    }
    Ok(())
}
