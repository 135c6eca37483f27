//! The dashboard bug switch: the actor runtime renames a metric in its code
//! and its contract, but its operators' dashboard still reads the old name.
//! `dashboard_queries` alone catches it, naming the dashboard, the panel and
//! the expression, with the seed, the replay line, the panel's series in the
//! artifacts and a shrunk `minimal.toml` that fails alone. And the bug-free
//! runtime's dashboard passes, its panels claimed against truth.

use std::path::PathBuf;

use obsim::harness::{Check, Problem};
use obsim_fixtures::{ActorSystem, Bug};

const REPLAY: &str = "cargo test --test dashboard_switches -- --exact";

#[test]
fn a_metric_renamed_under_the_dashboard_is_caught_by_dashboard_queries_alone() {
    let test = "a_metric_renamed_under_the_dashboard_is_caught_by_dashboard_queries_alone";
    let case = obsim_fixtures::bug_case(Bug::RenamedMetricOnDashboard);
    assert_eq!((case.seed, case.check), (1, Check::DashboardQueries));
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-switches");
    let _ = std::fs::remove_dir_all(&artifacts);
    let config = case.config();
    let sim = case
        .builder(&format!("{REPLAY} {test}"))
        .artifacts_dir(Some(artifacts.clone()))
        .build(move || ActorSystem::new(config.clone()))
        .expect("valid");
    let failure = sim
        .check_seed(case.seed)
        .failure
        .expect("the renamed metric goes unnoticed");
    assert!(
        matches!(failure.problem, Problem::Violations(_)),
        "{failure}"
    );
    let message = failure.to_string();
    assert!(
        message.contains(
            "[dashboard_queries] dashboard \"Actor runtime\" panel \"Active actors\" target A: \
             (fixtures/dashboards/actors.json:"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            r#"`sum by (instance) (actors_active{job="$job", instance=~"$instance"})`, filled as `sum by (instance) (actors_active{job="actors", instance=~"(client|server-0|server-1|server-2)"})`, selects `actors_active{instance=~"(client|server-0|server-1|server-2)",job="actors"}`, which matched no series at any instant of the run"#
        ),
        "{message}"
    );
    assert!(
        message.contains("No node exported `actors_active` at all."),
        "{message}"
    );
    assert_eq!(failure.checks(), [Check::DashboardQueries], "{message}");
    assert!(message.contains("seed 1"), "{message}");
    let replay = format!("replay: OBSIM_SEED=1 {REPLAY} {test}");
    assert!(message.ends_with(&replay), "no replay line in:\n{message}");

    // The panel as the run saw it: no series. Another panel: its series.
    let folder = artifacts.join("bug-renamed-metric-on-dashboard/1");
    let dashboards = folder.join("dashboards/Actor runtime");
    let panel = std::fs::read_to_string(dashboards.join("Active actors.txt")).expect("written");
    assert!(
        panel.contains("no series at any instant: the panel showed no data"),
        "{panel}"
    );
    let up = std::fs::read_to_string(dashboards.join("Targets up.txt")).expect("written");
    assert!(
        up.contains(r#"up{instance="server-1", job="actors"}"#),
        "{up}"
    );
    assert!(dashboards.join("dashboard.json").is_file());

    // The shrunk file fails the same check, alone, with no fault left.
    let minimal = folder.join("minimal.toml");
    let text = std::fs::read_to_string(&minimal).expect("a minimal.toml");
    assert!(!text.contains("[[faults]]"), "{text}");
    let suite = obsim_fixtures::suite().artifacts_dir(None);
    let (scenario, alone) = suite
        .load(&minimal, REPLAY)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(scenario.workload.invocations <= 10, "{text}");
    let failure = alone.check_seed(1).failure.expect("the minimal file fails");
    assert_eq!(failure.checks(), [Check::DashboardQueries], "{failure}");
    let _ = std::fs::remove_dir_all(&artifacts);
}

#[test]
fn the_bug_free_runtimes_dashboard_reads_every_panel_and_its_error_rate_matches_truth() {
    let path = obsim_fixtures::scenarios_dir().join("alerts-outage.toml");
    let mut scenario = obsim::load_scenario(&path).expect("the scenario loads");
    let claim =
        obsim::scenario::alerts::parse_alert_claim(r#"panel "Error rate" within 0.01 of truth"#)
            .expect("a claim");
    scenario.alert_expectations = vec![claim];
    let sim = obsim_fixtures::suite()
        .artifacts_dir(None)
        .sim(&scenario, "unused")
        .expect("valid");
    let verdict = sim.check_seed(0);
    assert!(verdict.failure.is_none(), "{}", verdict.failure.unwrap());
}
