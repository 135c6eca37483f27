//! Prometheus alerting and recording rules, evaluated over in-memory series
//! the way Prometheus evaluates them. obsim runs a system's rules twice per
//! run, over what its scraper saw and over ground truth, and compares the
//! alerts; this crate is the plain-data part of that: no runtime, no
//! simulation.
//!
//! - [`load`]/[`parse`] read a rule file in Prometheus's YAML format and
//!   check everything that can be checked before a run. An error names the
//!   file, the line, the field (`groups[0].rules[2].expr`) and the problem.
//! - [`SeriesStore`] holds series with staleness markers.
//! - [`evaluate`] runs the rule groups at every instant of a [`Schedule`]
//!   and returns each alert's pending and firing history ([`Timeline`]).
//! - [`load_dashboard`]/[`parse_dashboard`] read a Grafana dashboard's JSON,
//!   check each panel target's PromQL, and [`Dashboard::fill`] fills its
//!   template variables with a run's label values ([`dashboard`]).
//! - [`promtool::render`] writes a `promtool test rules` file, so promtool
//!   can check the same rules over the same series.
//!
//! # Why evaluate in Rust
//!
//! No maintained crate evaluates PromQL over in-memory series, and promtool
//! cannot print an alert timeline, only check one given to it. Spawning it
//! per seed would cost a process start and a YAML round trip per rule file
//! per seed; evaluating in process costs microseconds an instant. So obsim
//! evaluates a documented subset itself (`promql-parser` parses), and its
//! tests cross-check every shipped rule against `promtool test rules`.
//!
//! # The subset
//!
//! Semantics are Prometheus 2.42's (the oracle's version):
//!
//! - selectors: instant and range, every matcher (`=`, `!=`, `=~`, `!~`),
//!   `offset`; a five-minute lookback; a range `[r]` includes both ends;
//!   staleness markers end a series;
//! - operators: `+ - * / % ^ atan2`, comparisons with and without `bool`,
//!   `and`, `or`, `unless`, `on`, `ignoring`, `group_left`, `group_right`;
//! - aggregations: `sum avg count min max group stddev stdvar quantile`,
//!   with `by` or `without`;
//! - functions: see [`FUNCTIONS`]: `rate`, `increase`, `irate`,
//!   `histogram_quantile`, the `_over_time` family, `absent`, `clamp`,
//!   `label_replace`, ...;
//! - templates in labels and annotations: `{{ $labels.<name> }}` and
//!   `{{ $value }}` only.
//!
//! Outside it, and refused at load with the rule's line: subqueries, `@`,
//! `topk`/`bottomk`/`count_values`, `predict_linear`, `holt_winters`,
//! `label_join`, native histograms, `humanize` and other template
//! functions. Alerts are not written back as `ALERTS` series.

mod bounds;
pub mod dashboard;
mod engine;
mod eval;
mod file;
mod functions;
pub mod input;
pub mod promtool;
mod series;
mod template;

pub use bounds::{EXPR_CHARS_MAX, EXPR_DEPTH_MAX, REGEXES_MAX, REGEX_BYTES_MAX, YAML_NESTING_MAX};
pub use dashboard::{
    load_dashboard, parse_dashboard, Builtins, Dashboard, DashboardError, FilledDashboard,
    FilledPanel, FilledTarget, Panel, Target, Variable, VariableValues, DASHBOARD_FILE_BYTES_MAX,
};
pub use engine::{evaluate, AlertHistory, AlertState, RuleFailure, Schedule, Timeline, ALERT_NAME};
pub use eval::{
    selectors, selects_series, Element, EvalError, Evaluator, Range, Value, LOOKBACK_MS,
};
pub use file::{
    duration, in_subset, load, parse, Group, Rule, RuleFile, RuleKind, RulesError, AGGREGATIONS,
    RULES_MAX, RULE_FILE_BYTES_MAX,
};
pub use functions::FUNCTIONS;
pub use promql_parser::parser::{parse as parse_promql, Expr, VectorSelector};
pub use series::{
    escape_label_value, format_series, is_stale, labels, stale_nan, Labels, Sample, Series,
    SeriesStore, StoreError, METRIC_NAME, SAMPLES_MAX_DEFAULT, STALE_NAN_BITS,
};
pub use template::{go_float, Template};
