//! Swarm seeds that once broke the harness itself, kept as regressions.
//!
//! - Seeds 20 and 46 crashed a node that was already down (a crash during a
//!   transaction, then a scheduled crash inside its restart delay): the node
//!   was restarted twice and its second boot found its ports still bound.
//!   Now only the crash that took a node down restarts it.
//! - Seed 43 delayed a scrape request past a restart: the new incarnation
//!   answered a scrape sent before the restart was logged, and the counter
//!   check called the reset unexplained. Now the check looks for the restart
//!   up to when the scrape was answered.

use std::path::Path;

#[test]
fn overlapping_crashes_and_delayed_scrapes_across_restarts_pass() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/swarm.toml");
    let scenario = obsim::load_scenario(&path).unwrap_or_else(|error| panic!("{error}"));
    let sim = obsim_fixtures::suite()
        .sim(&scenario, "cargo test --test swarm_regressions")
        .unwrap_or_else(|error| panic!("{error}"));
    sim.sweep(&[20, 43, 46]).assert_passed();
}
