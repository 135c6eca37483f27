//! Loader tests of `[dashboards]` and of `panel` claims.

use std::path::Path;

use crate::*;

const CHECKS: &[&str] = &["counter_monotonicity", "dashboard_queries"];

const DASHBOARD: &str = r#"{
  "title": "Svc",
  "panels": [
    { "title": "Error rate", "type": "timeseries", "targets": [ { "refId": "A", "expr": "rate(errors_total[1m])" } ] }
  ]
}
"#;

/// A folder of its own, removed when dropped.
struct Folder(std::path::PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!("obsim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse(dir: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(&dir.join("t.toml"), text, CHECKS)
}

#[test]
fn a_scenario_loads_its_dashboards_relative_to_itself() {
    let folder = Folder::new("scenario-dashboards");
    std::fs::write(folder.0.join("svc.json"), DASHBOARD).unwrap();
    let text = "name = \"t\"\ndescription = \"d\"\nexpect = ['panel \"Error rate\" within 10% of truth']\n\n[dashboards]\nfiles = [\"svc.json\"]\n";
    let scenario = parse(&folder.0, text).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.dashboards.len(), 1);
    assert_eq!(scenario.dashboards[0].panels[0].title, "Error rate");
    assert_eq!(scenario.alert_expectations.len(), 1);
    assert!(scenario.expectations.is_empty());
}

#[test]
fn a_bad_dashboard_names_the_field_the_file_the_line_and_the_panel() {
    let folder = Folder::new("scenario-bad-dashboard");
    let bad = DASHBOARD.replace("rate(errors_total[1m])", "rate(errors_total[1m]");
    std::fs::write(folder.0.join("svc.json"), bad).unwrap();
    let text = "name = \"t\"\ndescription = \"d\"\n\n[dashboards]\nfiles = [\"svc.json\"]\n";
    let error = parse(&folder.0, text).unwrap_err();
    assert_eq!(
        error.field.as_deref(),
        Some("dashboards.files[0]"),
        "{error}"
    );
    assert_eq!(error.line, Some(5), "{error}");
    assert!(
        error
            .message
            .contains(r#"svc.json:4: panel "Error rate": `rate(errors_total[1m]`: target A: does not parse as PromQL"#),
        "{error}"
    );
    let missing = text.replace("svc.json", "nowhere.json");
    let error = parse(&folder.0, &missing).unwrap_err();
    assert!(
        error.message.contains("nowhere.json cannot be read"),
        "{error}"
    );
}

#[test]
fn a_panel_claim_needs_the_dashboard_check_when_checks_are_listed() {
    let folder = Folder::new("scenario-panel-check");
    let text = "name = \"t\"\ndescription = \"d\"\nchecks = [\"counter_monotonicity\"]\nexpect = ['panel \"Error rate\" within 1 of truth']\n";
    let error = parse(&folder.0, text).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("checks"), "{error}");
    assert!(
        error.message.contains("list \"dashboard_queries\""),
        "{error}"
    );
    let error = parse(&folder.0, &text.replace("\"Error rate\"", "Error")).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("expect[0]"), "{error}");
    assert!(error.message.contains("in double quotes"), "{error}");
}

#[test]
fn dashboards_that_no_check_reads_are_refused() {
    let folder = Folder::new("scenario-dashboards-unread");
    std::fs::write(folder.0.join("svc.json"), DASHBOARD).unwrap();
    let text = "name = \"t\"\ndescription = \"d\"\nchecks = [\"counter_monotonicity\"]\n\n[dashboards]\nfiles = [\"svc.json\"]\n";
    let error = parse(&folder.0, text).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("dashboards.files"), "{error}");
    assert_eq!(error.line, Some(6), "{error}");
    assert!(
        error
            .message
            .starts_with("nothing would read these dashboards"),
        "{error}"
    );
}
