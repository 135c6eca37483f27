//! `promtool test rules` files: the input series, the rule files, and the
//! alerts expected at given instants. A failing seed's artifacts hold one,
//! so that a person can check obsim's verdict with promtool alone.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{AlertState, Timeline, ALERT_NAME};
use crate::series::{format_series, is_stale, Labels, SeriesStore};

/// One `alert_rule_test`: the alerts of `alertname` firing at `eval_time`
/// (none: it must not fire).
#[derive(Clone, Debug, PartialEq)]
pub struct AlertTest {
    pub eval_time: Duration,
    pub alertname: String,
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One alert expected firing: its labels without `alertname`, and its
/// annotations as expanded then.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpectedAlert {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exp_labels: Labels,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub exp_annotations: BTreeMap<String, String>,
}

/// The alerts of `alertname` firing on `timeline` at `t_ms`, as an
/// `alert_rule_test` expects them: labels without `alertname`, annotations
/// as expanded then.
pub fn expected_alerts(timeline: &Timeline, alertname: &str, t_ms: i64) -> Vec<ExpectedAlert> {
    timeline
        .named(alertname)
        .filter(|alert| alert.state_at(t_ms) == AlertState::Firing)
        .map(|alert| {
            let mut labels = alert.labels.clone();
            labels.remove(ALERT_NAME);
            ExpectedAlert {
                exp_labels: labels,
                exp_annotations: alert.annotations_at(t_ms).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// One `promql_expr_test`: what `expr` evaluates to at `eval_time`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprTest {
    pub expr: String,
    pub eval_time: Duration,
    /// Each element's labels (name included) and value.
    pub exp_samples: Vec<(Labels, f64)>,
}

/// A whole test file.
#[derive(Clone, Debug)]
pub struct PromtoolTest<'a> {
    /// The rule files, as paths relative to the test file.
    pub rule_files: Vec<String>,
    pub evaluation_interval: Duration,
    /// Every rule group, in the order obsim evaluates them at an instant:
    /// in file order. Without it promtool orders groups by name, and a
    /// group that reads another's recordings would read them one
    /// evaluation late.
    pub group_eval_order: Vec<String>,
    /// The spacing of the input series' samples: every sample's time must be
    /// a multiple of it.
    pub interval: Duration,
    /// The series the rules read. Series a recording rule wrote are left
    /// out: promtool records them itself.
    pub input: &'a SeriesStore,
    pub alert_tests: Vec<AlertTest>,
    pub expr_tests: Vec<ExprTest>,
    /// A comment for the file's head: what it reproduces, how to run it.
    pub comment: String,
}

#[derive(Serialize)]
struct File {
    rule_files: Vec<String>,
    evaluation_interval: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_eval_order: Vec<String>,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    interval: String,
    input_series: Vec<Input>,
    alert_rule_test: Vec<AlertRuleTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promql_expr_test: Vec<PromqlExprTest>,
}

#[derive(Serialize)]
struct PromqlExprTest {
    expr: String,
    eval_time: String,
    exp_samples: Vec<ExpSample>,
}

#[derive(Serialize)]
struct ExpSample {
    labels: String,
    value: f64,
}

#[derive(Serialize)]
struct Input {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertRuleTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<ExpectedAlert>,
}

/// The test file's YAML. Err: a sample off the `interval` grid, which the
/// format cannot place.
pub fn render(test: &PromtoolTest<'_>) -> Result<String, String> {
    let step = test.interval.as_millis().max(1) as i64;
    let mut input_series = Vec::new();
    for series in test.input.series().iter().filter(|s| !s.recorded) {
        let mut slots: Vec<String> = Vec::new();
        for sample in &series.samples {
            if sample.t_ms % step != 0 {
                return Err(format!(
                    "{} has a sample at {} ms, off the {} ms grid of the test's interval",
                    format_series(&series.labels),
                    sample.t_ms,
                    step
                ));
            }
            let slot = (sample.t_ms / step) as usize;
            while slots.len() < slot {
                slots.push("_".into());
            }
            slots.push(if is_stale(sample.value) {
                "stale".into()
            } else {
                number(sample.value)
            });
        }
        input_series.push(Input {
            series: format_series(&series.labels),
            values: slots.join(" "),
        });
    }
    let file = File {
        rule_files: test.rule_files.clone(),
        evaluation_interval: duration(test.evaluation_interval),
        group_eval_order: test.group_eval_order.clone(),
        tests: vec![Test {
            interval: duration(test.interval),
            input_series,
            alert_rule_test: test
                .alert_tests
                .iter()
                .map(|alert| AlertRuleTest {
                    eval_time: duration(alert.eval_time),
                    alertname: alert.alertname.clone(),
                    exp_alerts: alert.exp_alerts.clone(),
                })
                .collect(),
            promql_expr_test: test
                .expr_tests
                .iter()
                .map(|test| PromqlExprTest {
                    expr: test.expr.clone(),
                    eval_time: duration(test.eval_time),
                    exp_samples: test
                        .exp_samples
                        .iter()
                        .map(|(labels, value)| ExpSample {
                            labels: format_series(labels),
                            value: *value,
                        })
                        .collect(),
                })
                .collect(),
        }],
    };
    let yaml = serde_norway::to_string(&file).map_err(|error| error.to_string())?;
    let comment: String = test
        .comment
        .lines()
        .map(|line| format!("# {line}\n").replace("# \n", "#\n"))
        .collect();
    Ok(format!("{comment}{yaml}"))
}

/// A Prometheus duration for `d`: whole seconds, else milliseconds.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A sample value as the series notation reads it back exactly.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Inf" } else { "-Inf" }.into()
    } else {
        // Rust prints the shortest digits that round-trip.
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::{labels, METRIC_NAME};

    #[test]
    fn gaps_and_staleness_are_written_in_promtool_notation() {
        let mut store = SeriesStore::default();
        let up = labels([(METRIC_NAME, "up"), ("instance", "server-0")]);
        store.push(&up, 0, 1.0).unwrap();
        store.push(&up, 30_000, 0.5).unwrap();
        store.mark_stale(&up, 45_000).unwrap();
        let test = PromtoolTest {
            rule_files: vec!["rules.yml".into()],
            evaluation_interval: Duration::from_secs(15),
            group_eval_order: vec![],
            interval: Duration::from_secs(15),
            input: &store,
            alert_tests: vec![AlertTest {
                eval_time: Duration::from_millis(1500),
                alertname: "NodeDown".into(),
                exp_alerts: vec![],
            }],
            expr_tests: vec![],
            comment: "replay:\n\npromtool test rules promtool-test.yml".into(),
        };
        let yaml = render(&test).unwrap();
        assert!(yaml.starts_with("# replay:\n#\n# promtool"), "{yaml}");
        assert!(yaml.contains("values: 1 _ 0.5 stale"), "{yaml}");
        assert!(yaml.contains("eval_time: 1500ms"), "{yaml}");
        assert!(yaml.contains("exp_alerts: []"), "{yaml}");
    }

    #[test]
    fn a_sample_off_the_grid_is_refused() {
        let mut store = SeriesStore::default();
        store
            .push(&labels([(METRIC_NAME, "up")]), 1_001, 1.0)
            .unwrap();
        let test = PromtoolTest {
            rule_files: vec![],
            evaluation_interval: Duration::from_secs(1),
            group_eval_order: vec![],
            interval: Duration::from_secs(1),
            input: &store,
            alert_tests: vec![],
            expr_tests: vec![],
            comment: String::new(),
        };
        assert!(render(&test).unwrap_err().contains("off the 1000 ms grid"));
    }
}
