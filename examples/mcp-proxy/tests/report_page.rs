//! Each bug file's failing seed writes a `report.html` that loads in
//! headless Chromium with nothing on the console, and shows the claims and
//! the timeline with each claim's instant marked (`tests/browser` of the
//! workspace, shared by every reference system).

#[path = "../../../tests/browser/mod.rs"]
mod browser;

use std::path::{Path, PathBuf};

use obsim::harness::{Artifacts, PAGE};
use obsim::Suite;
use obsim_example_mcp_proxy::{McpProxy, McpProxyConfig};

/// Seeds tried for a bug file's first failure.
const SEEDS: u64 = 8;

fn bug_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("bugs")
        .expect("the bugs folder")
        .map(|entry| entry.expect("a bug file").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bug_files_failing_seed_writes_a_page_that_loads_in_chromium() {
    // Its own folder: two runs may share a target folder.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report_page-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let browser = browser::chromium();
    let files = bug_files();
    assert!(!files.is_empty(), "no bug files: nothing would be proven");
    for file in files {
        let scenario = obsim::load_scenario(&file).unwrap_or_else(|error| panic!("{error}"));
        let config: McpProxyConfig = scenario.system_config().expect("a valid [system]");
        // Not shrunk: the page does not read `minimal.toml`.
        let sim = Suite::new("scenarios")
            .builder(
                &scenario,
                "cargo test -p obsim-example-mcp-proxy --test report_page",
            )
            .artifacts_dir(Some(dir.clone()))
            .shrink(None)
            .build(move || McpProxy::new(config.clone()))
            .expect("the bug file builds");
        let start = scenario.seeds.start;
        let failure = (start..start + SEEDS)
            .find_map(|seed| sim.check_seed(seed).failure)
            .unwrap_or_else(|| panic!("{} went unnoticed on {SEEDS} seeds", file.display()));
        let Some(Artifacts::Written(folder)) = &failure.artifacts else {
            panic!(
                "{}: artifacts not written: {:?}",
                file.display(),
                failure.artifacts
            );
        };
        let page = folder.join(PAGE);
        let bytes = std::fs::metadata(&page).expect("the page").len();
        eprintln!("{}: {} KiB", file.display(), bytes / 1024);
        assert!(
            bytes < 2 << 20,
            "{}: the page is {bytes} bytes",
            file.display()
        );
        if let Some(browser) = &browser {
            browser::assert_page_loads(browser, &page, &file.display().to_string());
        }
    }
    // Passed: nothing to look at.
    let _ = std::fs::remove_dir_all(&dir);
}
