//! Reading a dashboard's JSON and checking every Prometheus target before
//! a run.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::template::{self, Builtins};
use super::{
    Dashboard, DashboardError, Panel, Source, Target, Variable, DASHBOARD_FILE_BYTES_MAX,
    PANELS_MAX, TARGETS_PER_PANEL_MAX, VARIABLES_MAX, VARIABLE_VALUES_MAX,
};

#[derive(Deserialize)]
struct RawDashboard {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    panels: Vec<RawPanel>,
    /// Grafana before 5.0: panels in rows.
    #[serde(default)]
    rows: Vec<RawRow>,
    #[serde(default)]
    templating: RawTemplating,
}

#[derive(Deserialize)]
struct RawRow {
    #[serde(default)]
    panels: Vec<RawPanel>,
}

#[derive(Deserialize)]
struct RawPanel {
    #[serde(default)]
    title: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    datasource: Option<Value>,
    #[serde(default)]
    targets: Vec<RawTarget>,
    /// A row's panels (a collapsed row keeps them here).
    #[serde(default)]
    panels: Vec<RawPanel>,
}

#[derive(Deserialize)]
struct RawTarget {
    #[serde(default, rename = "refId")]
    ref_id: String,
    #[serde(default)]
    expr: Option<String>,
    #[serde(default)]
    datasource: Option<Value>,
}

#[derive(Deserialize, Default)]
struct RawTemplating {
    #[serde(default)]
    list: Vec<RawVariable>,
}

#[derive(Deserialize)]
struct RawVariable {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    query: Option<Value>,
    #[serde(default)]
    definition: Option<String>,
    #[serde(default)]
    multi: bool,
    #[serde(default, rename = "includeAll")]
    include_all: bool,
    #[serde(default, rename = "allValue")]
    all_value: Option<String>,
    #[serde(default)]
    current: Option<Value>,
    #[serde(default)]
    regex: Option<String>,
}

/// Reads and checks the dashboard at `path`.
pub fn load_dashboard(path: &Path) -> Result<Dashboard, DashboardError> {
    let shown = path.display().to_string();
    let text = crate::input::read_text(path, DASHBOARD_FILE_BYTES_MAX, "a dashboard file")
        .map_err(|error| DashboardError {
            file: shown.clone(),
            line: error.place.map(|(line, _)| line),
            panel: None,
            expr: None,
            problem: error.problem,
        })?;
    parse_dashboard(&shown, &text)
}

/// Checks the dashboard JSON `text`, named `file` in errors.
pub fn parse_dashboard(file: &str, text: &str) -> Result<Dashboard, DashboardError> {
    let error = |line: Option<usize>, problem: String| DashboardError {
        file: file.to_string(),
        line,
        panel: None,
        expr: None,
        problem,
    };
    // serde reads a struct from an array too: only an object is a dashboard.
    if !text.trim_start().starts_with('{') {
        let line = crate::input::line_column(text, text.len() - text.trim_start().len()).0;
        let problem = "is not a Grafana dashboard: expected a JSON object with `panels` at the top";
        return Err(error(Some(line), problem.into()));
    }
    // serde_json stops at 128 levels of nesting: a deep file costs no more.
    let raw: RawDashboard = serde_json::from_str(text)
        .map_err(|e| error(Some(e.line()).filter(|l| *l > 0), json_problem(&e)))?;
    let title = raw.title.clone().unwrap_or_else(|| {
        Path::new(file)
            .file_stem()
            .map_or("dashboard".into(), |s| s.to_string_lossy().into_owned())
    });
    if raw.templating.list.len() > VARIABLES_MAX {
        let problem = format!(
            "defines {} template variables: a dashboard may define at most {VARIABLES_MAX}",
            raw.templating.list.len()
        );
        return Err(error(None, problem));
    }
    let mut places = Places::new(text);
    let mut variables: Vec<Variable> = Vec::new();
    for (index, raw) in raw.templating.list.iter().enumerate() {
        let line = places.line_of("name", &raw.name);
        let variable = variable(raw).map_err(|problem| {
            error(
                line,
                format!(
                    "templating.list[{index}] (variable {:?}): {problem}",
                    crate::input::excerpt(&raw.name)
                ),
            )
        })?;
        if variables.iter().any(|known| known.name == variable.name) {
            let problem = format!("variable {:?} is defined twice", variable.name);
            return Err(error(line, problem));
        }
        variables.push(variable);
    }
    check_variable_queries(file, &mut places, &variables)?;
    let mut loaded = Dashboard {
        path: file.to_string(),
        text: text.to_string(),
        title,
        panels: Vec::new(),
        variables,
        skipped: Vec::new(),
    };
    let mut walker = Walker {
        file,
        places,
        dashboard: &mut loaded,
        seen: 0,
        regexes: 0,
    };
    let rows = raw.rows.iter().flat_map(|row| &row.panels);
    for panel in raw.panels.iter().chain(rows) {
        walker.panel(panel, None)?;
    }
    Ok(loaded)
}

/// serde_json's message without its trailing place, which the error
/// carries, in a dashboard's words.
fn json_problem(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => &message,
    };
    if message.starts_with("invalid type") && message.ends_with("expected struct RawDashboard") {
        return "is not a Grafana dashboard: expected a JSON object with `panels` at the top"
            .into();
    }
    let worded = crate::input::in_words(
        message,
        &[
            ("expected struct RawDashboard", "expected a dashboard"),
            ("expected struct RawPanel", "expected a panel: an object"),
            (
                "expected struct RawTarget",
                "expected a target: an object with `expr`",
            ),
            (
                "expected struct RawVariable",
                "expected a template variable: an object with `name` and `type`",
            ),
            ("expected struct RawRow", "expected a row: an object"),
            ("expected a sequence", "expected a JSON array"),
        ],
    );
    if error.is_syntax() || error.is_eof() {
        return format!("is not valid JSON: {worded}");
    }
    worded
}

fn variable(raw: &RawVariable) -> Result<Variable, String> {
    if !is_name(&raw.name) {
        return Err("expected a name of letters, digits and `_`".into());
    }
    if raw.regex.as_deref().is_some_and(|r| !r.is_empty()) {
        return Err(
            "has a `regex` filter, which obsim does not apply: remove it, or select \
                    the values in the query's own matchers"
                .into(),
        );
    }
    let query = query_text(raw);
    let source = match raw.kind.as_str() {
        "query" => label_values(&query)?,
        "custom" => Source::Fixed(custom_values(&query)),
        "interval" => Source::Fixed(custom_values(&query)),
        "constant" | "textbox" => Source::Fixed(vec![query.clone()]),
        "datasource" => Source::Fixed(vec![current(raw).unwrap_or_else(|| "Prometheus".into())]),
        other => {
            return Err(format!(
                "is of type {:?}: obsim fills `query` (label_values), `custom`, `constant`, \
                 `interval`, `textbox` and `datasource` variables",
                crate::input::excerpt(other)
            ))
        }
    };
    if let Source::Fixed(values) = &source {
        if values.len() > VARIABLE_VALUES_MAX {
            return Err(format!(
                "has {} values: a variable may have at most {VARIABLE_VALUES_MAX}",
                values.len()
            ));
        }
    }
    Ok(Variable {
        name: raw.name.clone(),
        kind: raw.kind.clone(),
        source,
        all: raw.multi || raw.include_all,
        all_value: raw.all_value.clone().filter(|v| !v.is_empty()),
        current: current(raw),
    })
}

/// A variable's query: a string, or (Grafana 10's editor) an object with a
/// `query` string; else its `definition`.
fn query_text(raw: &RawVariable) -> String {
    let from_query = match &raw.query {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Object(object)) => object
            .get("query")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    };
    from_query
        .filter(|text| !text.trim().is_empty())
        .or_else(|| raw.definition.clone())
        .unwrap_or_default()
}

/// The single value saved as selected, if there is one and it is not "All".
fn current(raw: &RawVariable) -> Option<String> {
    let value = raw.current.as_ref()?.get("value")?;
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Array(values) if values.len() == 1 => values[0].as_str()?.to_string(),
        _ => return None,
    };
    (text != "$__all" && !text.is_empty()).then_some(text)
}

/// `label_values(selector, label)` or `label_values(label)`.
fn label_values(query: &str) -> Result<Source, String> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| {
            format!(
                "its query {:?} is not `label_values(metric, label)` or `label_values(label)`, \
                 the queries obsim answers from the run's series",
                crate::input::excerpt(query)
            )
        })?;
    let (selector, label) = match inner.rfind(',') {
        Some(at) => (Some(inner[..at].trim().to_string()), inner[at + 1..].trim()),
        None => (None, inner.trim()),
    };
    if !is_name(label) {
        return Err(format!(
            "`{}` in its query is not a label name",
            crate::input::excerpt(label)
        ));
    }
    Ok(Source::LabelValues {
        selector,
        label: label.to_string(),
    })
}

/// A `custom` or `interval` list: comma-separated, `text : value` pairs
/// giving their value.
fn custom_values(query: &str) -> Vec<String> {
    query
        .split(',')
        .map(|item| match item.split_once(" : ") {
            Some((_, value)) => value.trim(),
            None => item.trim(),
        })
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Each `label_values` selector fills and parses with the variables before
/// it.
fn check_variable_queries(
    file: &str,
    places: &mut Places<'_>,
    variables: &[Variable],
) -> Result<(), DashboardError> {
    for (index, variable) in variables.iter().enumerate() {
        let Source::LabelValues {
            selector: Some(selector),
            ..
        } = &variable.source
        else {
            continue;
        };
        let before = &variables[..index];
        let placeholders = template::placeholders(before);
        let parsed = template::fill(selector, &placeholders, &Builtins::PLACEHOLDER)
            .and_then(|filled| selector_of(&filled));
        if let Err(problem) = parsed {
            return Err(DashboardError {
                file: file.to_string(),
                line: places.line_of("name", &variable.name),
                panel: None,
                expr: None,
                problem: format!(
                    "variable {:?}: the selector `{}` of its query {problem}",
                    variable.name,
                    crate::input::excerpt(selector)
                ),
            });
        }
    }
    Ok(())
}

/// A `label_values` selector, parsed: a plain series selector.
pub(crate) fn selector_of(text: &str) -> Result<promql_parser::parser::VectorSelector, String> {
    match promql_parser::parser::parse(text) {
        Ok(promql_parser::parser::Expr::VectorSelector(selector)) => Ok(selector),
        Ok(_) => Err("is not a series selector such as `up{job=\"api\"}`".into()),
        Err(problem) => Err(format!("does not parse as PromQL: {problem}")),
    }
}

/// Walks the panels in document order.
struct Walker<'a> {
    file: &'a str,
    places: Places<'a>,
    dashboard: &'a mut Dashboard,
    /// Panels seen so far, rows and panels without targets included.
    seen: usize,
    /// Regular expressions compiled so far, over the whole file.
    regexes: usize,
}

impl Walker<'_> {
    fn panel(&mut self, raw: &RawPanel, inherited: Option<&Value>) -> Result<(), DashboardError> {
        self.seen += 1;
        let line = self.places.line_of("title", &raw.title);
        let error = |problem: String| DashboardError {
            file: self.file.to_string(),
            line,
            panel: Some(raw.title.clone()),
            expr: None,
            problem,
        };
        if self.seen > PANELS_MAX {
            return Err(error(format!(
                "is past the {PANELS_MAX} panels obsim evaluates a dashboard"
            )));
        }
        if raw.targets.len() > TARGETS_PER_PANEL_MAX {
            return Err(error(format!(
                "has {} targets: a panel may have at most {TARGETS_PER_PANEL_MAX}",
                raw.targets.len()
            )));
        }
        let datasource = raw.datasource.as_ref().or(inherited);
        for inner in &raw.panels {
            self.panel(inner, datasource)?;
        }
        let mut targets = Vec::new();
        for (index, target) in raw.targets.iter().enumerate() {
            let source = target.datasource.as_ref().or(datasource);
            if let Some(kind) = other_source(source) {
                self.dashboard.skipped.push(format!(
                    "panel {:?} target {}: data source type {kind:?}, not Prometheus",
                    raw.title,
                    ref_id(target, index)
                ));
                continue;
            }
            targets.push(self.target(raw, target, index)?);
        }
        if raw.title.trim().is_empty() && !targets.is_empty() {
            return Err(error(
                "has no title: a panel with queries needs one, to be named in failures and \
                 claims"
                    .into(),
            ));
        }
        if !targets.is_empty() {
            self.dashboard.panels.push(Panel {
                title: raw.title.clone(),
                kind: raw.kind.clone(),
                targets,
                line,
            });
        }
        Ok(())
    }

    fn target(
        &mut self,
        panel: &RawPanel,
        raw: &RawTarget,
        index: usize,
    ) -> Result<Target, DashboardError> {
        let expr = raw.expr.clone().unwrap_or_default();
        let line = if expr.is_empty() {
            self.places.line_of("title", &panel.title)
        } else {
            self.places.line_of("expr", &expr)
        };
        let ref_id = ref_id(raw, index);
        let error = |problem: String| DashboardError {
            file: self.file.to_string(),
            line,
            panel: Some(panel.title.clone()),
            expr: (!expr.is_empty()).then(|| expr.clone()),
            problem: format!("target {ref_id}: {problem}"),
        };
        if expr.trim().is_empty() {
            return Err(error(
                "has no `expr`: give it a PromQL query, or remove the target".into(),
            ));
        }
        let placeholders = template::placeholders(&self.dashboard.variables);
        let filled =
            template::fill(&expr, &placeholders, &Builtins::PLACEHOLDER).map_err(&error)?;
        let parsed = crate::file::check_expression(&filled, &mut self.regexes).map_err(error)?;
        Ok(Target {
            ref_id,
            expr,
            line,
            reads_series: !crate::eval::selectors(&parsed).is_empty(),
        })
    }
}

fn ref_id(raw: &RawTarget, index: usize) -> String {
    if raw.ref_id.is_empty() {
        format!("#{index}")
    } else {
        raw.ref_id.clone()
    }
}

/// The type of a data source that is not Prometheus, if `source` names one.
/// A data source given by name only (`"datasource": "Prometheus"`), or by
/// a variable (`${DS_PROMETHEUS}`), is taken to be Prometheus.
fn other_source(source: Option<&Value>) -> Option<String> {
    let kind = source?.get("type")?.as_str()?;
    (kind != "prometheus" && !kind.is_empty()).then(|| kind.to_string())
}

/// Finds where keys and values are in a dashboard's text, for errors.
/// Every lookup scans the text, so all of them together may scan at most
/// [`Places::SCANS_MAX`] times its length: a file of 32,000 targets whose
/// values are found only near its end costs no more than that, and the
/// lookups past it give no line.
pub(crate) struct Places<'t> {
    text: &'t str,
    /// The byte offset each line starts at.
    starts: Vec<usize>,
    /// Bytes all lookups may still scan.
    budget: usize,
}

impl<'t> Places<'t> {
    const SCANS_MAX: usize = 64;

    pub(crate) fn new(text: &'t str) -> Places<'t> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Places {
            text,
            starts,
            budget: text.len().saturating_mul(Self::SCANS_MAX),
        }
    }

    /// The 1-based line of the first `"key": "value"`, the value as JSON
    /// writes it, whatever the space around the colon.
    pub(crate) fn line_of(&mut self, key: &str, value: &str) -> Option<usize> {
        let encoded = serde_json::to_string(value).ok()?;
        let quoted_key = format!("\"{key}\"");
        let text = self.text;
        let mut from = 0;
        while let Some(at) = text[from..].find(&encoded) {
            let start = from + at;
            let scanned = start + encoded.len() - from;
            self.budget = self.budget.checked_sub(scanned)?;
            let before = text[..start].trim_end();
            let keyed = before
                .strip_suffix(':')
                .is_some_and(|rest| rest.trim_end().ends_with(&quoted_key));
            if keyed {
                return Some(self.starts.partition_point(|&line| line <= start));
            }
            from = start + encoded.len().max(1);
        }
        self.budget = self.budget.saturating_sub(text.len() - from);
        None
    }
}
