//! `cargo run --release`: the skeleton scenario over a sweep of seeds, one
//! summary line per seed, every failure in full, and exit code 1 if any seed
//! failed.
//!
//! Seeds: `OBSIM_SEED=<n>` runs one seed, `OBSIM_SEEDS=<count>` sweeps
//! `0..count`; the flags `--seed <n>` and `--seeds <count>` say the same and
//! win over the environment. Default: `obsim::CLI_SEEDS_DEFAULT` seeds.

use std::process::ExitCode;
use std::time::Instant;

use obsim::fixtures::ActorConfig;
use obsim::harness::{seeds_from_env, Verdict};

const USAGE: &str = "usage: obsim [--seed <n> | --seeds <count>]";

fn main() -> ExitCode {
    match seeds_from_args(std::env::args().skip(1).collect()) {
        Ok(seeds) => sweep(&seeds),
        Err(error) => {
            eprintln!("obsim: {error}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn seeds_from_args(args: Vec<String>) -> Result<Vec<u64>, String> {
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => seeds_from_env(obsim::CLI_SEEDS_DEFAULT).map_err(|error| error.to_string()),
        ["--seed", seed] => seed
            .parse()
            .map(|seed| vec![seed])
            .map_err(|_| format!("--seed {seed:?}: expected an unsigned 64-bit integer")),
        ["--seeds", count] => count
            .parse::<u64>()
            .ok()
            .filter(|count| (1..=1_000_000).contains(count))
            .map(|count| (0..count).collect())
            .ok_or_else(|| format!("--seeds {count:?}: expected a count from 1 to 1000000")),
        other => Err(format!("unexpected arguments {other:?}")),
    }
}

fn sweep(seeds: &[u64]) -> ExitCode {
    let sim = match obsim::skeleton_sim(ActorConfig::default(), "cargo run --release") {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("obsim: {error}");
            return ExitCode::from(2);
        }
    };
    println!(
        "obsim: scenario `skeleton`, {} seed(s), each run twice for the determinism check",
        seeds.len()
    );
    // Real time, measured outside every run: it reports how long the sweep
    // took on this machine and never enters a simulation.
    let started = Instant::now();
    let result = sim.sweep(seeds);
    let wall = started.elapsed();
    for verdict in &result.verdicts {
        println!("{}", summary_line(verdict));
    }
    let failures: Vec<_> = result.failures().collect();
    for failure in &failures {
        println!("\n{failure}");
    }
    println!(
        "\n{} passed, {} failed in {:.1}s wall time",
        result.verdicts.len() - failures.len(),
        failures.len(),
        wall.as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn summary_line(verdict: &Verdict) -> String {
    let status = if verdict.failure.is_some() {
        "FAIL"
    } else {
        "ok"
    };
    let Some(run) = &verdict.run else {
        return format!(
            "seed {:>6}: {status} (the run did not complete)",
            verdict.seed
        );
    };
    let outcomes: Vec<String> = run
        .outcomes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let faults: Vec<String> = run
        .fault_counts()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let down = run.scrapes.iter().filter(|scrape| !scrape.up).count();
    format!(
        "seed {:>6}: {status:<4} calls[{}] spans={} scrapes={} (down {down}) faults[{}] simulated={:.3}s",
        verdict.seed,
        outcomes.join(" "),
        run.spans.len(),
        run.scrapes.len(),
        faults.join(" "),
        run.ended_at.as_secs_f64()
    )
}
