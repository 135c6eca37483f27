//! [`Suite::cli`]: the same scenario files as a deep-sweep command, for
//! `cargo run --release --bin <yours>`. One summary line per file, every
//! failure in full, exit code 1 if any seed failed and 2 on bad input.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use obsim_harness::{seeds_from_env_at, Sweep};
use obsim_scenario::Scenario;

use crate::suite::{Suite, SuiteFile};
use crate::CLI_SEEDS_DEFAULT;

/// Sweeps scenario files over many seeds, each seed run twice, with every
/// check on.
#[derive(Parser, Debug)]
#[command(after_help = crate::ENV_HELP)]
struct Args {
    /// Run exactly this seed (wins over OBSIM_SEED and OBSIM_SEEDS).
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Sweep this many seeds from each file's `[seeds] start`, 1 to 1000000
    /// (wins over OBSIM_SEEDS) [default: OBSIM_SEEDS, else 100].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    seeds: Option<u64>,
    /// List the scenario files and exit.
    #[arg(long)]
    list: bool,
    /// Scenario files to run [default: every file under the suite's folder].
    files: Vec<PathBuf>,
}

impl Suite {
    /// Runs the command line and exits with its code. Call it from the `main`
    /// of a binary: `fn main() { my_suite().cli() }`.
    pub fn cli(self) -> ! {
        let args = Args::parse();
        let code = match self.run_cli(&args) {
            Ok(0) => 0,
            Ok(_) => 1,
            Err(error) => {
                eprintln!("obsim: {error}");
                2
            }
        };
        std::process::exit(code)
    }

    /// Returns how many seeds failed, or why nothing could run.
    fn run_cli(&self, args: &Args) -> Result<usize, String> {
        crate::suite::refuse_retired_variables()?;
        let files = if args.files.is_empty() {
            self.files()?
        } else {
            args.files
                .iter()
                .map(|path| SuiteFile {
                    name: path.display().to_string(),
                    path: path.clone(),
                })
                .collect()
        };
        if args.list {
            for file in &files {
                println!("{}", file.path.display());
            }
            return Ok(0);
        }
        let replay_base = replay_base();
        let mut failed = 0;
        for file in &files {
            let replay = format!("{replay_base} -- {}", file.path.display());
            let (scenario, sim) = self
                .load(&file.path, &replay)
                .map_err(|error| error.to_string())?;
            let seeds = seeds(&scenario, args)?;
            // Real time, measured outside every run: it reports how long the
            // sweep took here and never enters a simulation.
            let started = Instant::now();
            let sweep = sim.sweep(&seeds);
            for failure in sweep.failures() {
                println!("\n{failure}");
            }
            println!(
                "{}",
                summary_line(&scenario, &sweep, started.elapsed().as_secs_f64())
            );
            failed += sweep.failures().count();
        }
        println!("\nobsim: {failed} failing seed(s) in all");
        Ok(failed)
    }
}

fn seeds(scenario: &Scenario, args: &Args) -> Result<Vec<u64>, String> {
    let start = scenario.seeds.start;
    Ok(match (args.seed, args.seeds) {
        (Some(seed), _) => vec![seed],
        (None, Some(count)) => (start..start.saturating_add(count)).collect(),
        (None, None) => {
            seeds_from_env_at(start, CLI_SEEDS_DEFAULT).map_err(|error| error.to_string())?
        }
    })
}

/// `cargo run --release -p <package> --bin <this binary>`: what replays a
/// seed of this command, the files following.
fn replay_base() -> String {
    let exe = std::env::current_exe().ok();
    let package = std::env::var("CARGO_PKG_NAME").ok();
    replay_base_for(exe.as_deref(), package.as_deref())
}

/// Read from where cargo put the executable: `<target>/<profile>/<bin>` or
/// `<target>/<profile>/examples/<example>`.
fn replay_base_for(exe: Option<&Path>, package: Option<&str>) -> String {
    let name_of = |path: Option<&Path>| {
        path.and_then(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
    };
    let folder = exe.and_then(Path::parent);
    let example = name_of(folder).as_deref() == Some("examples");
    let profile_dir = if example {
        folder.and_then(Path::parent)
    } else {
        folder
    };
    let mut command = String::from("cargo run");
    match name_of(profile_dir).as_deref() {
        Some("debug") | None => {}
        Some("release") => command.push_str(" --release"),
        Some(profile) => command.push_str(&format!(" --profile {profile}")),
    }
    if let Some(package) = package {
        command.push_str(&format!(" -p {package}"));
    }
    if let Some(stem) = exe.and_then(Path::file_stem) {
        let kind = if example { "--example" } else { "--bin" };
        command.push_str(&format!(" {kind} {}", stem.to_string_lossy()));
    }
    command
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::replay_base_for;

    #[test]
    fn replay_names_the_profile_package_and_binary() {
        let release = Path::new("/p/target/release/sweep");
        assert_eq!(
            replay_base_for(Some(release), Some("svc")),
            "cargo run --release -p svc --bin sweep"
        );
        let debug = Path::new("/p/target/debug/sweep");
        assert_eq!(replay_base_for(Some(debug), None), "cargo run --bin sweep");
    }

    #[test]
    fn replay_of_an_example_says_example() {
        let example = Path::new("/p/target/release/examples/sweep");
        assert_eq!(
            replay_base_for(Some(example), Some("svc")),
            "cargo run --release -p svc --example sweep"
        );
        let custom = Path::new("/p/target/soak/examples/sweep");
        assert_eq!(
            replay_base_for(Some(custom), None),
            "cargo run --profile soak --example sweep"
        );
    }
}
