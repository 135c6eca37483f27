//! A failing seed's dashboard files: each panel's series as the run saw
//! them, so that a person can see what the operator's dashboard showed.
//!
//! - `dashboards/<dashboard>/dashboard.json`: the dashboard, as loaded;
//! - `dashboards/<dashboard>/<panel>.txt`: per target, the expression as
//!   written and as filled, then each series it returned with its value at
//!   every evaluation instant, ordered by labels and time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use obsim_rules::{format_series, Evaluator, FilledPanel, Labels, Value};

use crate::checks::alerts::clock;
use crate::checks::dashboards::{evaluated, Evaluated};
use crate::run::Run;
use crate::sim::Sim;

/// Series one target's file shows at most; the rest are counted.
const SERIES_SHOWN_MAX: usize = 50;

/// The files, as (path in the seed's folder, contents). None: the config
/// has no dashboards.
pub(crate) fn dashboard_files(sim: &Sim, run: &Run) -> Option<Vec<(PathBuf, String)>> {
    let config = sim.config();
    let evaluated = match evaluated(run, config, sim.contract(), sim.rules())? {
        Ok(evaluated) => evaluated,
        Err(problem) => {
            let note = format!("The dashboards could not be evaluated: {problem}\n");
            return Some(vec![(PathBuf::from("dashboards/README.txt"), note)]);
        }
    };
    let mut files = Vec::new();
    for (dashboard, filled) in config.dashboards.iter().zip(&evaluated.dashboards) {
        let folder = PathBuf::from("dashboards").join(file_name(&dashboard.title));
        files.push((folder.join("dashboard.json"), dashboard.text.clone()));
        let mut used: BTreeMap<String, usize> = BTreeMap::new();
        for panel in &filled.panels {
            let name = file_name(&panel.title);
            let count = used.entry(name.clone()).or_default();
            *count += 1;
            let name = match *count {
                1 => format!("{name}.txt"),
                n => format!("{name}-{n}.txt"),
            };
            let header = format!(
                "Dashboard {:?} ({}), panel {:?}{}, as the run saw it: evaluated over the \
                 scraped series every {} from 0s to {}.\nVariables: {}\n",
                filled.title,
                filled.path,
                panel.title,
                panel
                    .line
                    .map_or(String::new(), |line| format!(" (line {line})")),
                clock(evaluated.schedule.interval.as_millis() as i64),
                clock(evaluated.schedule.end.as_millis() as i64),
                variables_text(filled),
            );
            files.push((folder.join(name), header + &panel_text(panel, &evaluated)));
        }
    }
    Some(files)
}

fn variables_text(filled: &obsim_rules::FilledDashboard) -> String {
    if filled.variables.is_empty() {
        return "none".into();
    }
    let mut parts: Vec<String> = filled
        .variables
        .iter()
        .map(|variable| {
            let all = if variable.all { " (All)" } else { "" };
            format!("{} = {}{all}", variable.name, variable.values.join(", "))
        })
        .collect();
    parts.extend(filled.problems.iter().cloned());
    parts.join("; ")
}

/// Each target's series, value by value.
fn panel_text(panel: &FilledPanel, evaluated: &Evaluated) -> String {
    let mut text = String::new();
    for target in &panel.targets {
        // A query of several lines keeps its lines, indented under the first.
        let indent = |query: &str| query.replace('\n', "\n              ");
        text.push_str(&format!(
            "\ntarget {}\n  as written: {}\n",
            target.ref_id,
            indent(&target.written)
        ));
        if let Some(filled) = &target.text {
            text.push_str(&format!("  filled:     {}\n", indent(filled)));
        }
        let expr = match &target.expr {
            Ok(expr) => expr,
            Err(problem) => {
                text.push_str(&format!("  cannot be evaluated: it {problem}\n"));
                continue;
            }
        };
        let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
        let mut failures = Vec::new();
        for t in evaluated.schedule.instants() {
            match Evaluator::new(&evaluated.scraped).eval(expr, t) {
                Ok(Value::Vector(elements)) => {
                    for element in elements {
                        let key = Labels::clone(&element.labels);
                        series.entry(key).or_default().push((t, element.value));
                    }
                }
                Ok(Value::Scalar(value)) => {
                    series.entry(Labels::new()).or_default().push((t, value))
                }
                Ok(_) => {}
                Err(error) => failures.push(format!("  at {}: {}\n", clock(t), error.0)),
            }
        }
        text.extend(failures);
        if series.is_empty() {
            text.push_str("  no series at any instant: the panel showed no data\n");
        }
        let total = series.len();
        for (labels, points) in series.into_iter().take(SERIES_SHOWN_MAX) {
            text.push_str(&format!("  {}\n", format_series(&labels)));
            for (t, value) in points {
                text.push_str(&format!("    {:>10} {value}\n", clock(t)));
            }
        }
        if total > SERIES_SHOWN_MAX {
            text.push_str(&format!(
                "  and {} more series, not shown\n",
                total - SERIES_SHOWN_MAX
            ));
        }
    }
    text
}

/// A title as a file name: letters, digits, `-`, `_` and spaces kept,
/// anything else `_` (so no panel's file is `dashboard.json`), at most 100
/// characters.
fn file_name(title: &str) -> String {
    let name: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "untitled".into()
    } else {
        name.to_string()
    }
}
