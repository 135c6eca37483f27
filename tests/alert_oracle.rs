//! obsim's alert timelines over real runs, checked by the real rule engine:
//! for each alert scenario, the actor runtime's shipped rules over one
//! seed's scraped series (and, again, over its ground-truth series) go to
//! `promtool test rules`, told every alert obsim saw firing at every
//! instant. promtool fails the file on any difference.
//!
//! Without promtool the tests say so and pass, unless
//! `OBSIM_REQUIRE_PROMTOOL=1` (CI sets it).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use obsim::harness::checks::alerts::Timelines;
use obsim::harness::Sim;
use obsim::rules::promtool::{expected_alerts, render, AlertTest, PromtoolTest};
use obsim::rules::{SeriesStore, Timeline};

fn promtool() -> Option<String> {
    let program = std::env::var("OBSIM_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let found = Command::new(&program).arg("--version").output().is_ok();
    if !found && std::env::var("OBSIM_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("OBSIM_REQUIRE_PROMTOOL=1 but `{program}` cannot be run");
    }
    found.then_some(program)
}

/// Every alert of `timeline` firing at every instant, as promtool tests.
fn every_instant(sim: &Sim, timelines: &Timelines, timeline: &Timeline) -> Vec<AlertTest> {
    let names: Vec<String> = sim
        .config()
        .alerts
        .rule_files
        .iter()
        .flat_map(|file| file.groups.iter().flat_map(|group| &group.rules))
        .filter(|rule| rule.is_alert())
        .map(|rule| rule.name().to_string())
        .collect();
    let mut tests = Vec::new();
    for t in timelines.schedule.instants() {
        for name in &names {
            tests.push(AlertTest {
                eval_time: Duration::from_millis(t as u64),
                alertname: name.clone(),
                exp_alerts: expected_alerts(timeline, name, t),
            });
        }
    }
    tests
}

/// promtool's verdict on `input` and `timeline`; panics with its words on a
/// difference.
fn promtool_agrees(
    promtool: &str,
    sim: &Sim,
    timelines: &Timelines,
    input: &SeriesStore,
    timeline: &Timeline,
    name: &str,
) {
    let config = sim.config();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("alert-oracle-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rule_files = Vec::new();
    for (index, file) in config.alerts.rule_files.iter().enumerate() {
        let path = format!("rules-{index}.yml");
        std::fs::write(dir.join(&path), &file.text).unwrap();
        rule_files.push(path);
    }
    let test = PromtoolTest {
        rule_files,
        evaluation_interval: timelines.schedule.interval,
        group_eval_order: config.alerts.group_names(),
        interval: config.scrape_interval,
        input,
        alert_tests: every_instant(sim, timelines, timeline),
        expr_tests: Vec::new(),
        comment: format!("obsim's alert oracle: {name}"),
    };
    std::fs::write(dir.join("test.yml"), render(&test).unwrap()).unwrap();
    let output = Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let shown: String = said.chars().take(4000).collect();
    assert!(
        output.status.success(),
        "promtool disagrees with obsim on {name} (files in {}):\n{shown}",
        dir.display()
    );
}

fn cross_check(scenario: &str) {
    let Some(promtool) = promtool() else {
        eprintln!("promtool is not installed: {scenario} not cross-checked");
        return;
    };
    let path = obsim_fixtures::scenarios_dir().join(format!("{scenario}.toml"));
    let (_, sim) = obsim_fixtures::suite()
        .load(&path, "unused")
        .expect("the scenario loads");
    let run = sim.run(0).expect("the run completes");
    let timelines = sim
        .alert_timelines(&run)
        .expect("the actor runtime ships rules")
        .expect("the rules evaluate");
    let fired = timelines
        .scraped
        .alerts
        .values()
        .any(|a| !a.firing().is_empty());
    let (scraped, truth) = (&timelines.scraped_series, &timelines.truth_series);
    promtool_agrees(
        &promtool,
        &sim,
        &timelines,
        scraped,
        &timelines.scraped,
        &format!("{scenario}-scraped"),
    );
    promtool_agrees(
        &promtool,
        &sim,
        &timelines,
        truth,
        &timelines.truth,
        &format!("{scenario}-truth"),
    );
    if scenario != "alerts-calm" {
        assert!(
            fired,
            "{scenario}: no alert fired, so little was cross-checked"
        );
    }
}

#[test]
fn promtool_fires_what_obsim_fires_in_the_outage() {
    cross_check("alerts-outage");
}

#[test]
fn promtool_fires_what_obsim_fires_for_the_flapping_node() {
    cross_check("alerts-flapping");
}

#[test]
fn promtool_fires_nothing_where_obsim_fires_nothing_in_the_calm_run() {
    cross_check("alerts-calm");
}
