//! Each bug file's failing seed writes a `report.html` that loads in
//! headless Chromium with nothing on the console, and shows the claims and
//! the timeline with each claim's instant marked (`tests/browser` of the
//! workspace, shared by every reference system).

#[path = "../../../tests/browser/mod.rs"]
mod browser;

#[path = "gateway/mod.rs"]
mod gateway;

use obsim_example_http_gateway::Config;

#[test]
fn every_bug_files_failing_seed_writes_a_page_that_loads_in_chromium() {
    browser::assert_every_bug_files_page_loads(
        "obsim-example-http-gateway",
        |scenario, builder| {
            let config: Config = scenario.system_config().expect("a valid [system]");
            builder
                .build(move || gateway::new(config.clone()))
                .expect("the bug file builds")
        },
    );
}
