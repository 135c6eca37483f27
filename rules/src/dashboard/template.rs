//! Filling a dashboard's template variables, as Grafana's Prometheus data
//! source does.
//!
//! - References: `$var`, `${var}`, `${var:format}`, `[[var]]` and
//!   `[[var:format]]`. A name of digits alone (`$1`, a `label_replace`
//!   capture) is left as written, as Grafana leaves it. Any other name the
//!   dashboard does not define is an error at load.
//! - Values: a `label_values(selector, label)` query takes the label's
//!   distinct values over the run's series that match the selector (over
//!   every series for `label_values(label)`), sorted, as Prometheus's
//!   series API returns them; `custom` and `interval` take their list,
//!   `constant` and `textbox` their query.
//! - Selection: a variable with `multi` or `includeAll` is filled with
//!   every value, as Grafana's "All": its `allValue` when it has one, else
//!   the values regex-escaped and joined as `(a|b)`, which a `=~` matcher
//!   reads. Any other variable takes its saved `current` value when the run
//!   has it, else the first value, as Grafana does when a dashboard opens.
//! - Formats: `regex`, `pipe`, `csv`, `raw`, `text`, `json`, `glob`,
//!   `doublequote`, `singlequote`; no format is Prometheus's own (above).
//! - Built-ins, from the run's intervals: `$__interval` is the evaluation
//!   interval (obsim evaluates a panel at every rule evaluation instant);
//!   `$__rate_interval` is max(`$__interval` + the scrape interval, 4 ×
//!   the scrape interval), Grafana's rule; `$__range` is the run's length in
//!   seconds; `_ms` (and `$__range_s`) give the same as numbers.

use std::collections::BTreeSet;

use promql_parser::parser::Expr;

use super::load::selector_of;
use super::{Dashboard, Source, Variable, VARIABLE_VALUES_MAX};
use crate::eval::selects_series;
use crate::series::SeriesStore;

/// The run's intervals Grafana's built-in variables stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Builtins {
    /// `$__interval`: the evaluation interval.
    pub interval_ms: u64,
    /// Prometheus's scrape interval, for `$__rate_interval`.
    pub scrape_ms: u64,
    /// `$__range`: the run's length.
    pub range_ms: u64,
}

impl Builtins {
    /// What load-time checks fill with: a minute's interval, 15 s scrapes,
    /// an hour's range.
    pub const PLACEHOLDER: Builtins = Builtins {
        interval_ms: 60_000,
        scrape_ms: 15_000,
        range_ms: 3_600_000,
    };

    /// max(interval + scrape interval, 4 × scrape interval).
    pub fn rate_interval_ms(&self) -> u64 {
        (self.interval_ms + self.scrape_ms).max(4 * self.scrape_ms)
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "__interval" => duration(self.interval_ms),
            "__interval_ms" => self.interval_ms.to_string(),
            "__rate_interval" => duration(self.rate_interval_ms()),
            "__rate_interval_ms" => self.rate_interval_ms().to_string(),
            "__range" => format!("{}s", self.range_ms / 1000),
            "__range_s" => (self.range_ms / 1000).to_string(),
            "__range_ms" => self.range_ms.to_string(),
            _ => return None,
        })
    }
}

/// A Prometheus duration: whole seconds as `15s`, else milliseconds.
fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// One variable's values in one run, as selected.
#[derive(Clone, Debug, PartialEq)]
pub struct VariableValues {
    pub name: String,
    /// The values selected: every value for "All", else one (none when the
    /// run gave the variable none).
    pub values: Vec<String>,
    /// Selected as "All" (`multi` or `includeAll`).
    pub all: bool,
    pub all_value: Option<String>,
}

/// A dashboard with every target filled for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct FilledDashboard {
    pub path: String,
    pub title: String,
    pub variables: Vec<VariableValues>,
    /// What went wrong filling the variables, one line each: a variable the
    /// run gave no value, or too many.
    pub problems: Vec<String>,
    pub panels: Vec<FilledPanel>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FilledPanel {
    pub title: String,
    pub line: Option<usize>,
    pub targets: Vec<FilledTarget>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FilledTarget {
    pub ref_id: String,
    /// As written.
    pub written: String,
    pub line: Option<usize>,
    /// Filled, when it could be.
    pub text: Option<String>,
    /// Parsed, or why not.
    pub expr: Result<Expr, String>,
}

impl Dashboard {
    /// Every target filled with the values `store`'s series give the
    /// variables, and parsed.
    pub fn fill(&self, store: &SeriesStore, builtins: &Builtins) -> FilledDashboard {
        let mut problems = Vec::new();
        let mut variables: Vec<VariableValues> = Vec::new();
        for variable in &self.variables {
            let values = values_of(variable, &variables, store, builtins, &mut problems);
            variables.push(select(variable, values));
        }
        let mut regexes = 0;
        let panels = self
            .panels
            .iter()
            .map(|panel| FilledPanel {
                title: panel.title.clone(),
                line: panel.line,
                targets: panel
                    .targets
                    .iter()
                    .map(|target| {
                        let text = fill(&target.expr, &variables, builtins);
                        let expr = text.clone().and_then(|text| {
                            crate::file::check_expression_within(
                                &text,
                                (
                                    crate::bounds::FILLED_EXPR_CHARS_MAX,
                                    crate::bounds::FILLED_REGEX_BYTES_MAX,
                                ),
                                &mut regexes,
                            )
                        });
                        FilledTarget {
                            ref_id: target.ref_id.clone(),
                            written: target.expr.clone(),
                            line: target.line,
                            text: text.ok(),
                            expr,
                        }
                    })
                    .collect(),
            })
            .collect();
        FilledDashboard {
            path: self.path.clone(),
            title: self.title.clone(),
            variables,
            problems,
            panels,
        }
    }
}

/// Every value a variable can take in this run, sorted for a query.
fn values_of(
    variable: &Variable,
    before: &[VariableValues],
    store: &SeriesStore,
    builtins: &Builtins,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let (selector, label) = match &variable.source {
        Source::Fixed(values) => return values.clone(),
        Source::LabelValues { selector, label } => (selector, label),
    };
    let selector = match selector {
        None => None,
        Some(text) => match fill(text, before, builtins).and_then(|text| selector_of(&text)) {
            Ok(selector) => Some(selector),
            Err(problem) => {
                problems.push(format!(
                    "variable {:?}: its selector `{text}` {problem}",
                    variable.name
                ));
                return Vec::new();
            }
        },
    };
    let mut found = BTreeSet::new();
    let series = store.named(selector.as_ref().and_then(|s| s.name.as_deref()));
    for series in series {
        if selector
            .as_ref()
            .is_some_and(|selector| !selects_series(selector, &series.labels))
        {
            continue;
        }
        if let Some(value) = series.labels.get(label).filter(|v| !v.is_empty()) {
            found.insert(value.clone());
        }
    }
    if found.is_empty() {
        problems.push(format!(
            "variable {:?}: `label_values({}{label})` found no value in the run's series",
            variable.name,
            selector.map_or(String::new(), |s| format!("{s}, "))
        ));
    }
    if found.len() > VARIABLE_VALUES_MAX {
        problems.push(format!(
            "variable {:?}: the run gave it {} values, more than the {VARIABLE_VALUES_MAX} a \
             variable may have: its label is unbounded",
            variable.name,
            found.len()
        ));
    }
    found.into_iter().take(VARIABLE_VALUES_MAX).collect()
}

/// The values a variable is filled with: all of them for "All", else the
/// saved one if the run has it, else the first.
fn select(variable: &Variable, values: Vec<String>) -> VariableValues {
    let values = if variable.all {
        values
    } else {
        let saved = variable
            .current
            .as_ref()
            .filter(|current| values.contains(current));
        saved.or(values.first()).into_iter().cloned().collect()
    };
    VariableValues {
        name: variable.name.clone(),
        values,
        all: variable.all,
        all_value: variable.all_value.clone(),
    }
}

/// What a load-time check fills each variable with: its first fixed value,
/// or a word for a `label_values` query.
pub(crate) fn placeholders(variables: &[Variable]) -> Vec<VariableValues> {
    variables
        .iter()
        .map(|variable| {
            let value = match &variable.source {
                Source::Fixed(values) => values.first().cloned().unwrap_or_default(),
                Source::LabelValues { .. } => "obsim_placeholder".to_string(),
            };
            VariableValues {
                name: variable.name.clone(),
                values: vec![value],
                all: false,
                all_value: None,
            }
        })
        .collect()
}

/// `text` with every variable reference filled. Err names the first
/// reference to a variable that is neither defined nor built in, or a
/// format obsim does not know.
pub fn fill(
    text: &str,
    variables: &[VariableValues],
    builtins: &Builtins,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['$', '[']) {
        out.push_str(&rest[..at]);
        let from = &rest[at..];
        let Some((name, format, length)) = reference(from) else {
            let c = from.chars().next().unwrap_or('$');
            out.push(c);
            rest = &from[c.len_utf8()..];
            continue;
        };
        let written = &from[..length];
        rest = &from[length..];
        // `$1`: a capture group in a replacement, not a variable.
        if name.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(written);
            continue;
        }
        if let Some(value) = builtins.value(name) {
            out.push_str(&value);
            continue;
        }
        let Some(variable) = variables.iter().find(|v| v.name == name) else {
            let known: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
            return Err(format!(
                "uses the variable `{written}`, which the dashboard does not define (it defines \
                 {}; built in: $__interval, $__rate_interval, $__range and their _ms forms)",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        out.push_str(&formatted(variable, format)?);
    }
    out.push_str(rest);
    Ok(out)
}

/// The variable reference at the start of `text`: its name, its format,
/// and its length in bytes.
fn reference(text: &str) -> Option<(&str, Option<&str>, usize)> {
    let name_end = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let is_name = |name: &str| !name.is_empty() && name_end(name) == name.len();
    for (open, close) in [("${", "}"), ("[[", "]]")] {
        let Some(inner) = text.strip_prefix(open) else {
            continue;
        };
        let end = inner.find(close)?;
        let (name, format) = match inner[..end].split_once(':') {
            Some((name, format)) => (name, Some(format)),
            None => (&inner[..end], None),
        };
        return is_name(name).then_some((name, format, open.len() + end + close.len()));
    }
    let inner = text.strip_prefix('$')?;
    let end = name_end(inner);
    (end > 0).then_some((&inner[..end], None, 1 + end))
}

/// A variable's values as `format` writes them.
fn formatted(variable: &VariableValues, format: Option<&str>) -> Result<String, String> {
    let values = &variable.values;
    if variable.all {
        if let Some(all) = &variable.all_value {
            return Ok(all.clone());
        }
    }
    let regex = || {
        let escaped: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
        match escaped.len() {
            1 => escaped[0].clone(),
            0 => String::new(),
            _ => format!("({})", escaped.join("|")),
        }
    };
    let quoted = |quote: char| {
        let items: Vec<String> = values
            .iter()
            .map(|v| format!("{quote}{}{quote}", v.replace(quote, &format!("\\{quote}"))))
            .collect();
        items.join(",")
    };
    Ok(match format {
        None if !variable.all => values.first().map_or(String::new(), |v| plain_escape(v)),
        None | Some("regex") => regex(),
        Some("pipe") => values.join("|"),
        Some("csv" | "raw" | "text") => values.join(","),
        Some("json") if variable.all => serde_json::to_string(values).unwrap_or_default(),
        Some("json") => {
            serde_json::to_string(values.first().map_or("", String::as_str)).unwrap_or_default()
        }
        Some("glob") if values.len() > 1 => format!("{{{}}}", values.join(",")),
        Some("glob") => values.join(","),
        Some("doublequote") => quoted('"'),
        Some("singlequote") => quoted('\''),
        Some(other) => {
            return Err(format!(
                "formats `{}` as {other:?}: obsim knows regex, pipe, csv, raw, text, json, \
                 glob, doublequote and singlequote",
                variable.name
            ))
        }
    })
}

/// A value as Grafana escapes one of several for a `=~` matcher: each
/// regular-expression character behind a backslash, doubled for the PromQL
/// string it goes into.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\\\\\"),
            '$' | '^' | '*' | '{' | '}' | '[' | ']' | '\'' | '+' | '?' | '.' | '(' | ')' | '|' => {
                out.push_str("\\\\");
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A single value as Grafana writes it into a query: backslashes and
/// quotes escaped for the PromQL string it goes into.
fn plain_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}
