//! A failing seed's alert files, so that a person can check obsim's alert
//! verdict with promtool alone:
//!
//! - `alerts/rules/`: the rule files, as evaluated;
//! - `alerts/promtool-test.yml`: the scraped series as `input_series`, and
//!   as `exp_alerts` what the rules fired over ground truth, at the instants
//!   where the two timelines disagree (at every instant when they do not).
//!   `promtool test rules promtool-test.yml` then fails exactly where
//!   obsim's `alert_correctness` did;
//! - `alerts/timelines.txt`: every alert's firing spans on both timelines.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use obsim_rules::promtool::{expected_alerts, render, AlertTest, PromtoolTest};

use crate::checks::alerts::{alert_name, clock, disagreement_spans, Timelines};
use crate::run::Run;
use crate::sim::Sim;

/// The files, as (path in the seed's folder, contents). None: the config
/// has no rules.
pub(crate) fn alert_files(sim: &Sim, run: &Run) -> Option<Vec<(PathBuf, String)>> {
    let config = sim.config();
    let timelines = match sim.alert_timelines(run)? {
        Ok(timelines) => timelines,
        Err(problem) => {
            let note = format!("The rules could not be evaluated: {problem}\n");
            return Some(vec![(PathBuf::from("alerts/README.txt"), note)]);
        }
    };
    let mut files = Vec::new();
    let mut rule_paths = Vec::new();
    for (index, file) in config.alerts.rule_files.iter().enumerate() {
        let name = std::path::Path::new(&file.path)
            .file_name()
            .map_or("rules.yml".into(), |n| n.to_string_lossy().into_owned());
        let path = format!("rules/{index}-{name}");
        files.push((PathBuf::from("alerts").join(&path), file.text.clone()));
        rule_paths.push(path);
    }
    files.push((
        PathBuf::from("alerts/timelines.txt"),
        timelines_text(run, &timelines),
    ));
    let test = promtool_test(sim, run, &timelines, rule_paths);
    files.push((PathBuf::from("alerts/promtool-test.yml"), test));
    Some(files)
}

fn promtool_test(sim: &Sim, run: &Run, timelines: &Timelines, rule_files: Vec<String>) -> String {
    let config = sim.config();
    let spans = disagreement_spans(config, timelines);
    let names: BTreeSet<String> = config
        .alerts
        .rule_files
        .iter()
        .flat_map(|file| file.groups.iter().flat_map(|group| &group.rules))
        .filter(|rule| rule.is_alert())
        .map(|rule| rule.name().to_string())
        .collect();
    let mut alert_tests = Vec::new();
    for t in timelines.schedule.instants() {
        for name in &names {
            let disputed = spans
                .iter()
                .any(|(alert, from, to)| alert == name && (*from..=*to).contains(&t));
            if !spans.is_empty() && !disputed {
                continue;
            }
            alert_tests.push(AlertTest {
                eval_time: Duration::from_millis(t as u64),
                alertname: name.clone(),
                exp_alerts: expected_alerts(&timelines.truth, name, t),
            });
        }
    }
    let comment = format!(
        "obsim: scenario {:?}, seed {}. The rules over the series obsim's scraper saw \
         (input_series),\nexpecting the alerts they fired over ground truth{}.\n\n  \
         promtool test rules promtool-test.yml\n\nEach failure promtool reports is an \
         instant where what Prometheus would page on is\nnot what happened. replay: \
         OBSIM_SEED={} {}",
        run.scenario,
        run.seed,
        if spans.is_empty() {
            " at every instant (they agreed)"
        } else {
            " at the instants where obsim found they disagree"
        },
        run.seed,
        config.replay_command
    );
    let test = PromtoolTest {
        rule_files,
        evaluation_interval: timelines.schedule.interval,
        group_eval_order: config.alerts.group_names(),
        interval: config.scrape_interval,
        input: &timelines.scraped_series,
        alert_tests,
        expr_tests: Vec::new(),
        comment,
    };
    render(&test).unwrap_or_else(|problem| {
        format!("# obsim could not write a promtool test for this seed: {problem}\n")
    })
}

impl Sim {
    /// The alerts of `run` as text: each alert's firing spans over what was
    /// scraped and over ground truth. A scenario's snapshot ends with it.
    /// None when there are no rules.
    pub fn alerts_report(&self, run: &Run) -> Option<String> {
        Some(match self.alert_timelines(run)? {
            Ok(timelines) => timelines_text(run, &timelines),
            Err(problem) => format!("The alert rules could not be evaluated: {problem}\n"),
        })
    }
}

fn timelines_text(run: &Run, timelines: &Timelines) -> String {
    let end_ms = run.ended_at.as_millis() as i64;
    let keys: BTreeSet<_> = timelines
        .scraped
        .alerts
        .keys()
        .chain(timelines.truth.alerts.keys())
        .collect();
    let mut text = format!(
        "Alerts over what was scraped (scraped) and over ground truth (truth), evaluated every \
         {} from 0s to {}.\n",
        clock(timelines.schedule.interval.as_millis() as i64),
        clock(timelines.schedule.end.as_millis() as i64)
    );
    if keys.is_empty() {
        text.push_str("\nNo alert was ever pending or firing.\n");
    }
    for key in keys {
        text.push_str(&format!("\n{}\n", alert_name(key)));
        for (side, timeline) in [("scraped", &timelines.scraped), ("truth", &timelines.truth)] {
            let spans = crate::checks::alerts::firing_text(timeline, key, end_ms);
            text.push_str(&format!("  {side:<8} {spans}\n"));
        }
    }
    text
}
