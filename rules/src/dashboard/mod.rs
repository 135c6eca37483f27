//! Grafana dashboards (the classic JSON model): the panels a system's
//! operators look at, each target's PromQL checked at load and filled with
//! the run's real label values before obsim evaluates it.
//!
//! - [`load_dashboard`]/[`parse_dashboard`] read a dashboard's JSON: its
//!   `panels` (the panels of `row` panels, and of an old-style `rows` list,
//!   included), each target's `expr` and `refId`, and its
//!   `templating.list` variables. Every Prometheus target's expression is
//!   filled with placeholder values and parsed, and refused at load when it
//!   does not parse or is outside the PromQL subset obsim evaluates. An
//!   error names the file, the line, the panel and the expression.
//! - [`Dashboard::fill`] fills every target with the values a run gives its
//!   variables ([`template`]): `label_values(...)` read from the run's
//!   series, `custom`, `constant`, `interval` and `textbox` lists, and
//!   Grafana's built-ins from the run's intervals.
//!
//! Targets of another data source (`"datasource": {"type": "loki"}`, a
//! server-side expression) are not PromQL: they are listed in
//! [`Dashboard::skipped`], not evaluated.

mod load;
pub mod template;

pub use load::{load_dashboard, parse_dashboard};
pub use template::{Builtins, FilledDashboard, FilledPanel, FilledTarget, VariableValues};

use std::fmt;

/// The largest dashboard file obsim reads. Large real dashboards (the
/// kube-prometheus mixins' biggest) are a few hundred KiB.
pub const DASHBOARD_FILE_BYTES_MAX: u64 = 4 << 20;

/// Panels one dashboard may hold, those inside rows included: a bound on
/// the evaluation work per instant.
pub const PANELS_MAX: usize = 500;

/// Targets (queries) one panel may hold. Grafana names them `A` to `Z`,
/// then `AA`...; real panels hold a handful.
pub const TARGETS_PER_PANEL_MAX: usize = 64;

/// Template variables one dashboard may define.
pub const VARIABLES_MAX: usize = 100;

/// Values one variable may take: a `custom` list at load, the label values
/// a run gives a `label_values(...)` query at run time. Past it the
/// variable's values are an unbounded label, and the check says so.
pub const VARIABLE_VALUES_MAX: usize = 1_000;

/// One loaded dashboard.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    /// The name it was loaded by (a path, or a contract's name).
    pub path: String,
    /// Its text, exactly.
    pub text: String,
    /// Its `title`; the file's stem when it has none.
    pub title: String,
    /// Every panel with at least one Prometheus target, in document order,
    /// the panels of rows included.
    pub panels: Vec<Panel>,
    /// `templating.list`, in order: a variable's query may use the ones
    /// before it.
    pub variables: Vec<Variable>,
    /// Targets not evaluated, and why: another data source's.
    pub skipped: Vec<String>,
}

/// A panel and its Prometheus targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub title: String,
    /// Its `type`: `timeseries`, `stat`, `graph`, ...
    pub kind: String,
    pub targets: Vec<Target>,
    /// The 1-based line of its title, when it could be found.
    pub line: Option<usize>,
}

/// One query of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Its `refId` (`A`, `B`, ...).
    pub ref_id: String,
    /// The expression as written, variables and all.
    pub expr: String,
    /// The 1-based line of its `expr`, when it could be found.
    pub line: Option<usize>,
    /// Whether it selects any series: `vector(1)` does not, and reads the
    /// same whatever the run does.
    pub reads_series: bool,
}

/// A template variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    /// Its `type`, as written.
    pub kind: String,
    pub source: Source,
    /// `multi` or `includeAll`: the panels see every value, as Grafana's
    /// "All" (see [`template`]).
    pub all: bool,
    /// `allValue`: what "All" stands for instead of every value (`.*`).
    pub all_value: Option<String>,
    /// The value saved as selected (`current.value`), if one.
    pub current: Option<String>,
}

/// Where a variable's values come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `label_values(selector, label)`, or `label_values(label)` (selector
    /// None): the label's distinct values over the run's series. The
    /// selector is text: it may use variables defined before.
    LabelValues {
        selector: Option<String>,
        label: String,
    },
    /// A fixed list: `custom`, `constant`, `interval`, `textbox`,
    /// `datasource`.
    Fixed(Vec<String>),
}

/// A dashboard that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardError {
    pub file: String,
    /// 1-based; None when the error has no single place.
    pub line: Option<usize>,
    /// The panel's title, when the error is a panel's.
    pub panel: Option<String>,
    /// The expression as written, when the error is a target's.
    pub expr: Option<String>,
    pub problem: String,
}

impl fmt::Display for DashboardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = crate::input::path_excerpt(&self.file);
        match self.line {
            Some(line) => write!(f, "{file}:{line}: ")?,
            None => write!(f, "{file}: ")?,
        }
        if let Some(panel) = &self.panel {
            write!(f, "panel {:?}: ", crate::input::excerpt(panel))?;
        }
        if let Some(expr) = &self.expr {
            write!(f, "`{}`: ", crate::input::excerpt(expr))?;
        }
        f.write_str(&crate::input::bounded_message(&self.problem))
    }
}

impl std::error::Error for DashboardError {}

impl Dashboard {
    /// The panels titled `title`.
    pub fn panels_titled<'a>(&'a self, title: &'a str) -> impl Iterator<Item = &'a Panel> {
        self.panels.iter().filter(move |panel| panel.title == title)
    }
}

#[cfg(test)]
mod tests;
