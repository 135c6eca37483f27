//! `obsim::Suite`, the one entry a user's crate calls: files are tests named
//! by their path, a file's `[system]` table becomes the system's own settings
//! (or an error at its line), and a failing file says how to replay it.

use std::path::{Path, PathBuf};

use obsim::Suite;
use obsim_fixtures::ActorSystem;

/// A folder of scenario files, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!("obsim-suite-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Folder(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("sub-folder");
        std::fs::write(&path, text).expect("write scenario");
        path
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SMALL: &str = r#"
name = "small"
description = "A short run with write failures."
[workload]
invocations = 50
[run]
duration = "1s"
[[faults]]
kind = "storage_write_failure"
probability = 0.2
"#;

#[test]
fn each_scenario_file_is_a_test_named_by_its_path_under_the_folder() {
    let folder = Folder::new("names");
    folder.file("b.toml", SMALL);
    folder.file("deep/a.toml", &SMALL.replace("\"small\"", "\"deep-a\""));
    folder.file("notes.txt", "not a scenario");
    let suite = Suite::new(&folder.0).system(ActorSystem::new);
    let names: Vec<String> = suite.files().unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["b.toml", "deep/a.toml"]);
    let trials = suite.trials().unwrap();
    let trial_names: Vec<&str> = trials.iter().map(|trial| trial.name()).collect();
    assert_eq!(trial_names, ["b.toml", "deep/a.toml"]);
}

#[test]
fn a_folder_without_scenario_files_is_an_error_not_an_empty_pass() {
    let folder = Folder::new("empty");
    let error = Suite::new(&folder.0)
        .system(ActorSystem::new)
        .files()
        .unwrap_err();
    assert!(error.contains("no scenario files (*.toml)"), "{error}");
    let missing = Suite::new(folder.0.join("nope")).files().unwrap_err();
    assert!(
        missing.contains("cannot read the scenario folder"),
        "{missing}"
    );
}

#[test]
fn a_typo_in_system_settings_fails_with_its_line_and_the_known_keys() {
    let folder = Folder::new("typo");
    let path = folder.file("typo.toml", &format!("{SMALL}[system]\nmax_atempts = 3\n"));
    let suite = Suite::new(&folder.0).system(ActorSystem::new);
    let error = suite
        .load(&path, "replay")
        .err()
        .expect("a typo is an error");
    let message = error.to_string();
    assert!(
        message.contains("typo.toml:12:1: `system.max_atempts`"),
        "{message}"
    );
    assert!(
        message.contains("expected one of bugs, idle_timeout, max_attempts, reap_interval, request_timeout, retry_backoff"),
        "{message}"
    );
}

#[test]
fn a_system_setting_the_type_rejects_names_the_value_and_why() {
    let folder = Folder::new("range");
    let path = folder.file(
        "range.toml",
        &format!("{SMALL}[system]\nmax_attempts = 99\n"),
    );
    let suite = Suite::new(&folder.0).system(ActorSystem::new);
    let message = suite
        .load(&path, "replay")
        .err()
        .expect("99 attempts")
        .to_string();
    assert!(
        message.contains("range.toml:12:16: `system.max_attempts`"),
        "{message}"
    );
    assert!(
        message.contains("expected an integer from 1 to 16"),
        "{message}"
    );
}

#[test]
fn a_failing_file_reports_every_failing_seed_with_its_replay_line() {
    let folder = Folder::new("failing");
    let text = format!(
        "{}[seeds]\ncount = 2\n[system]\nbugs = [\"counter_before_write\"]\n",
        SMALL
    );
    let file = folder.file("bug.toml", &text);
    let suite = Suite::new(&folder.0)
        .system(ActorSystem::new)
        .snapshots(folder.0.join("snapshots"));
    let files = suite.files().unwrap();
    assert_eq!(files[0].path, file);
    let replay = "cargo test -p mine --test scenarios -- --exact bug.toml";
    let message = suite.run_file(&files[0], replay).unwrap_err();
    assert!(message.starts_with("2 of 2 seeds failed"), "{message}");
    assert!(message.contains("[metric_accuracy]"), "{message}");
    assert!(
        message.contains(&format!("replay: OBSIM_SEED=0 {replay}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("replay: OBSIM_SEED=1 {replay}")),
        "{message}"
    );
    // A failing file writes no snapshot: there is nothing right to keep.
    assert!(!Path::new(&folder.0.join("snapshots")).exists());
}

#[test]
fn a_suite_without_a_system_says_so() {
    let folder = Folder::new("nosystem");
    let path = folder.file("a.toml", SMALL);
    let error = Suite::new(&folder.0).load(&path, "replay").err().unwrap();
    assert!(error.to_string().contains("call `.system(..)`"), "{error}");
}
