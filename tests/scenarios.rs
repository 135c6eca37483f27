//! Every file under `scenarios/` is a test: it runs across its seed sweep,
//! must keep its checks and expectations on every seed, and its first seed's
//! report is an insta snapshot. Adding a file adds a test; no Rust changes.
//!
//! This test has its own file because insta's `glob!` keeps a process-wide
//! failure tally that other tests in the same binary could disturb.
//!
//! `OBSIM_SEED` / `OBSIM_SEEDS` pick the seeds as everywhere else, and
//! `OBSIM_SCENARIO=<name>` runs only the scenario of that name.

use std::collections::BTreeMap;
use std::path::Path;

use obsim::harness::seeds_from_env_at;

#[test]
fn every_scenario_file_holds_across_its_seed_sweep() {
    let only = std::env::var("OBSIM_SCENARIO").ok();
    assert_names_unique();
    insta::glob!("../scenarios", "**/*.toml", |path| {
        let scenario = obsim::load_scenario(path).unwrap_or_else(|error| panic!("{error}"));
        if only.as_deref().is_some_and(|name| name != scenario.name) {
            return;
        }
        let replay = format!(
            "OBSIM_SCENARIO={} cargo test --test scenarios",
            scenario.name
        );
        let sim = obsim::scenario_sim(&scenario, &replay).unwrap_or_else(|error| panic!("{error}"));
        let seeds = seeds_from_env_at(scenario.seeds.start, scenario.seeds.count)
            .unwrap_or_else(|error| panic!("{error}"));
        // Wall time, read outside every run: it is reported, never compared.
        let started = std::time::Instant::now();
        let sweep = sim.sweep(&seeds);
        eprintln!(
            "scenario {}: {} seeds (each run twice) in {:.2}s wall",
            scenario.name,
            seeds.len(),
            started.elapsed().as_secs_f64()
        );
        sweep.assert_passed();
        // The snapshot is of the scenario's own first seed: a replay of some
        // other seed has nothing to compare with.
        if seeds.first() == Some(&scenario.seeds.start) {
            let run = sweep.verdicts[0]
                .run
                .as_ref()
                .expect("a passing seed has a run");
            insta::assert_snapshot!(run.report());
        }
    });
}

/// Snapshot names and `OBSIM_SCENARIO` go by name: two files must not share one.
fn assert_names_unique() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(obsim::SCENARIOS_DIR);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for path in obsim::scenario::discover(&dir).expect("scenarios/ is readable") {
        let scenario = obsim::load_scenario(&path).unwrap_or_else(|error| panic!("{error}"));
        let file = path.display().to_string();
        if let Some(other) = seen.insert(scenario.name.clone(), file.clone()) {
            panic!("{file} and {other} are both named {:?}", scenario.name);
        }
    }
}
