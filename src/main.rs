//! `cargo run --release`: every scenario file under `scenarios/` (or the
//! files named on the command line) over a deep seed sweep; one summary line
//! per scenario, every failure in full, and exit code 1 if any seed failed.
//!
//! Seeds: `OBSIM_SEED=<n>` runs one seed, `OBSIM_SEEDS=<count>` sweeps
//! `count` seeds from each scenario's `[seeds] start`; the flags `--seed <n>`
//! and `--seeds <count>` say the same and win over the environment. Default:
//! `obsim::CLI_SEEDS_DEFAULT` seeds per scenario, deeper than `cargo test`.
//! `OBSIM_SCENARIO=<name>` keeps only the scenario of that name.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use obsim::harness::{seeds_from_env_at, Sweep};
use obsim::scenario::Scenario;

const USAGE: &str = "usage: obsim [--seed <n> | --seeds <count>] [scenario.toml ...]";

/// The sweep the command line asks for.
enum Seeds {
    One(u64),
    Count(u64),
    FromEnv,
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1).collect()) {
        Ok((seeds, files)) => run_all(&seeds, files),
        Err(error) => {
            eprintln!("obsim: {error}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<(Seeds, Vec<PathBuf>), String> {
    let mut seeds = Seeds::FromEnv;
    let mut files = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => {
                let value = args.next().ok_or("--seed needs a value")?;
                let seed = value.parse().map_err(|_| {
                    format!("--seed {value:?}: expected an unsigned 64-bit integer")
                })?;
                seeds = Seeds::One(seed);
            }
            "--seeds" => {
                let value = args.next().ok_or("--seeds needs a value")?;
                let count = value
                    .parse::<u64>()
                    .ok()
                    .filter(|count| (1..=1_000_000).contains(count))
                    .ok_or_else(|| {
                        format!("--seeds {value:?}: expected a count from 1 to 1000000")
                    })?;
                seeds = Seeds::Count(count);
            }
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag:?}")),
            file => files.push(PathBuf::from(file)),
        }
    }
    Ok((seeds, files))
}

fn run_all(seeds: &Seeds, files: Vec<PathBuf>) -> ExitCode {
    let files = if files.is_empty() {
        match obsim::scenario::discover(Path::new(obsim::SCENARIOS_DIR)) {
            Ok(found) => found,
            Err(error) => {
                eprintln!("obsim: cannot read {}/: {error}", obsim::SCENARIOS_DIR);
                return ExitCode::from(2);
            }
        }
    } else {
        files
    };
    let only = std::env::var("OBSIM_SCENARIO").ok();
    let mut failed = 0;
    for file in &files {
        let scenario = match obsim::load_scenario(file) {
            Ok(scenario) => scenario,
            Err(error) => {
                eprintln!("obsim: {error}");
                return ExitCode::from(2);
            }
        };
        if only.as_deref().is_some_and(|name| name != scenario.name) {
            continue;
        }
        match run_scenario(&scenario, seeds) {
            Ok(failures) => failed += failures,
            Err(error) => {
                eprintln!("obsim: {error}");
                return ExitCode::from(2);
            }
        }
    }
    println!("\nobsim: {failed} failing seed(s) in all");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Sweeps one scenario; returns how many seeds failed.
fn run_scenario(scenario: &Scenario, seeds: &Seeds) -> Result<usize, String> {
    let replay = format!("cargo run --release -- {}", scenario.path.display());
    let sim = obsim::scenario_sim(scenario, &replay).map_err(|error| error.to_string())?;
    let start = scenario.seeds.start;
    let seeds: Vec<u64> = match seeds {
        Seeds::One(seed) => vec![*seed],
        Seeds::Count(count) => (start..start.saturating_add(*count)).collect(),
        Seeds::FromEnv => {
            seeds_from_env_at(start, obsim::CLI_SEEDS_DEFAULT).map_err(|e| e.to_string())?
        }
    };
    // Real time, measured outside every run: it reports how long the sweep
    // took on this machine and never enters a simulation.
    let started = Instant::now();
    let sweep = sim.sweep(&seeds);
    let failures: Vec<_> = sweep.failures().collect();
    for failure in &failures {
        println!("\n{failure}");
    }
    println!(
        "{}",
        summary_line(scenario, &sweep, started.elapsed().as_secs_f64())
    );
    Ok(failures.len())
}

fn summary_line(scenario: &Scenario, sweep: &Sweep, wall_seconds: f64) -> String {
    let failed = sweep.failures().count();
    let simulated: f64 = sweep
        .verdicts
        .iter()
        .filter_map(|verdict| verdict.run.as_ref())
        .map(|run| run.ended_at.as_secs_f64())
        .sum();
    format!(
        "{:<4} {:<26} {} seed(s), each run twice: {} passed, {failed} failed; {simulated:.0}s simulated in {wall_seconds:.1}s wall",
        if failed == 0 { "ok" } else { "FAIL" },
        scenario.name,
        sweep.verdicts.len(),
        sweep.verdicts.len() - failed,
    )
}
