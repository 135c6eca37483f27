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

/// A scenario file of the skeleton's shape in a folder of its own, with
/// `extra` lines and a dashboard of its own beside it.
fn scenario_file(name: &str, expect: &str) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    let dashboard = r#"{"title": "Another", "panels": [{"title": "Error rate", "targets": [{"refId": "A", "expr": "sum(rate(actors_invocations_total[1m]))"}]}]}"#;
    std::fs::write(dir.join("another.json"), dashboard).expect("written");
    let text = format!(
        "name = \"{name}\"\ndescription = \"d\"\nexpect = [{expect:?}]\n\n[run]\nduration = \"2s\"\n\n[dashboards]\nfiles = [\"another.json\"]\n"
    );
    let path = dir.join("t.toml");
    std::fs::write(&path, text).expect("written");
    (dir, path)
}

#[test]
fn a_panel_claim_naming_no_panel_or_an_ambiguous_one_is_refused_at_its_expect_line() {
    let suite = obsim_fixtures::suite().artifacts_dir(None);
    let (dir, path) = scenario_file(
        "panel-claim-none",
        r#"panel "Eror rate" within 10% of truth"#,
    );
    let error = suite.load(&path, "unused").map(|_| ()).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("expect[0]"), "{error}");
    assert_eq!(error.line, Some(3), "{error}");
    assert!(
        error
            .message
            .contains(r#"no dashboard panel is titled "Eror rate", so it could never be read. The dashboards have "Error rate", "Invocation latency""#),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let (dir, path) = scenario_file(
        "panel-claim-two",
        r#"panel "Error rate" within 10% of truth"#,
    );
    let error = suite.load(&path, "unused").map(|_| ()).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("expect[0]"), "{error}");
    assert!(
        error
            .message
            .contains(r#"2 panels are titled "Error rate" (fixtures/dashboards/actors.json:"#),
        "{error}"
    );
    assert!(error.message.contains("the claim is ambiguous"), "{error}");
    let (_, path) = scenario_file(
        "panel-claim-two",
        r#"panel "Invocation latency" within 10% of truth"#,
    );
    let error = suite.load(&path, "unused").map(|_| ()).unwrap_err();
    assert!(
        error
            .message
            .contains(r#"panel "Invocation latency" has 2 targets: a claim reads a panel of one"#),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let (dir, path) = scenario_file(
        "panel-claim-constant",
        r#"panel "Another one" within 10% of truth"#,
    );
    let constant = r#"{"title": "Another", "panels": [{"title": "Another one", "targets": [{"refId": "A", "expr": "vector(1)"}]}]}"#;
    std::fs::write(dir.join("another.json"), constant).expect("written");
    let error = suite.load(&path, "unused").map(|_| ()).unwrap_err();
    assert!(
        error
            .message
            .contains(r#"panel "Another one"'s query `vector(1)` selects no series"#),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_contract_dashboard_that_does_not_load_is_refused_when_the_sim_is_built() {
    use obsim::deps::futures::future::BoxFuture;
    struct Broken;
    impl obsim::System for Broken {
        fn serve(&self, _node: obsim::NodeContext) -> BoxFuture<'static, ()> {
            Box::pin(async {})
        }
        fn drive(&self, _client: obsim::ClientContext) -> BoxFuture<'static, ()> {
            Box::pin(async {})
        }
        fn contract(&self) -> obsim::Contract {
            obsim::Contract::new().dashboard(
                "broken.json",
                r#"{"panels": [{"title": "Latency", "targets": [{"refId": "A", "expr": "topk(3, up)"}]}]}"#,
            )
        }
    }
    let error = obsim::Sim::builder("broken")
        .build(|| Broken)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error.field, "contract dashboard \"broken.json\"");
    assert!(
        error.problem.starts_with(
            "broken.json:1: panel \"Latency\": `topk(3, up)`: target A: the aggregation `topk` is outside the PromQL subset"
        ),
        "{error}"
    );
}

/// A panel whose query selects real series but never returns one fails
/// too; and a panel claim that does not hold says what each side read.
#[test]
fn a_panel_that_never_shows_data_and_a_claim_truth_contradicts_both_fail() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("panel-never");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    let dashboard = r#"{
  "title": "Checks",
  "panels": [
    {"title": "Never", "targets": [{"refId": "A", "expr": "up{job=\"actors\"} > 5"}]},
    {"title": "Active", "targets": [{"refId": "A", "expr": "sum(actors_active)"}]}
  ]
}"#;
    std::fs::write(dir.join("checks.json"), dashboard).expect("written");
    let text = "name = \"panel-never\"\ndescription = \"d\"\nexpect = ['panel \"Active\" within 1 of truth']\n\n[run]\nduration = \"2s\"\n\n[dashboards]\nfiles = [\"checks.json\"]\n";
    let path = dir.join("t.toml");
    std::fs::write(&path, text).expect("written");
    let suite = obsim_fixtures::suite().artifacts_dir(None);
    let (_, sim) = suite
        .load(&path, "unused")
        .unwrap_or_else(|error| panic!("{error}"));
    let failure = sim.check_seed(0).failure.expect("both fail");
    let message = failure.to_string();
    assert!(
        message.contains("[dashboard_queries] dashboard \"Checks\" panel \"Never\" target A: ("),
        "{message}"
    );
    assert!(
        message.contains(
            "checks.json:4) `up{job=\"actors\"} > 5` returned no series at any of the run's"
        ),
        "{message}"
    );
    assert!(
        message.contains("the panel shows no data for the whole run"),
        "{message}"
    );
    assert!(
        message.contains(
            "[expectation] `panel \"Active\" within 1 of truth`: does not hold: at the last instant"
        ),
        "{message}"
    );
    assert!(
        message.contains("on the scraped timeline and no series on the ground-truth timeline"),
        "{message}"
    );
    assert_eq!(
        failure.checks(),
        [Check::DashboardQueries, Check::Expectation],
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
