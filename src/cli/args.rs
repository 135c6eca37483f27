//! The command line of [`Suite::cli`](crate::Suite::cli), on clap: `run`
//! (the default when no subcommand is given, so `cargo run --release --
//! <file>` keeps working), `list`, `bench` and `merge`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use obsim_harness::Determinism;

/// The sweep command's `--determinism`: one seed in four runs twice, so a
/// sweep checks nearly twice the seeds in the same time; a process-global
/// state that leaks from run to run shows on any of them.
pub(crate) const DETERMINISM_DEFAULT: &str = "1/4";

fn parse_determinism(text: &str) -> Result<Determinism, String> {
    text.parse()
}

/// Sweeps scenario files over many seeds, each seed run twice, with every
/// check on. With no subcommand, runs as `run`.
#[derive(Parser, Debug)]
#[command(after_help = crate::ENV_HELP, args_conflicts_with_subcommands = true)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    /// List the scenario files and exit (the same as `list`).
    #[arg(long, hide = true)]
    pub list: bool,
}

#[derive(Subcommand, Debug)]
pub(super) enum Command {
    /// Sweep the scenario files (what runs when no subcommand is given).
    #[command(after_help = crate::ENV_HELP)]
    Run(RunArgs),
    /// Print each scenario file's path, one per line, and exit.
    List(ListArgs),
    /// Measure where a sweep's time goes: the same seeds simulated bare
    /// (no tracing at all), with only the service's own tracing pipeline
    /// (no obsim capture, scrapes or checks), with capture, checked, and as
    /// whole seed verdicts (every seed twice, and sampled) on 1 to N cores.
    /// Prints Markdown tables.
    Bench(BenchArgs),
    /// Combine shards' `run --format json` documents into one result, as if
    /// one process had run their seeds.
    ///
    /// Counts, kept failures (the lowest ten failing seeds of each file) and
    /// covered seeds equal those of one process running the same seeds.
    /// Clocks cannot: `wall_seconds` is the slowest shard's (the maximum),
    /// and `simulated_seconds` the sum, equal up to floating-point
    /// rounding. Each shard shrinks its own lowest failing seed, so up to
    /// one kept failure per shard carries a `shrunk:` line where one process
    /// would shrink only the lowest. Files are matched by their path as
    /// given (`file`). Refused (exit 2): a file that is not obsim JSON, of
    /// another `format_version`, whose seeds overlap another's, or that
    /// names another scenario for the same file. Shards that are missing
    /// are not an error: the result says which seeds were covered. Exit 1
    /// when any seed failed, else 0.
    #[command(
        after_help = "The documents come from `run --format json` (a `merge --format json` result merges again)."
    )]
    Merge(MergeArgs),
    /// Build a failing seed's `report.html` again from its artifacts
    /// folder (the `artifacts:` line of its failure), for a folder an older
    /// obsim wrote without one, say. Prints the page's path; exit 2 when
    /// the folder holds no readable `report.txt`.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
pub(super) struct ReportArgs {
    /// The seed's artifacts folder: `<OBSIM_ARTIFACTS_DIR>/<scenario>/<seed>`.
    #[arg(value_name = "FOLDER")]
    pub folder: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct MergeArgs {
    /// What to print on stdout: human (the kept failures in full, then per
    /// file a summary line and the seeds covered), json (one document, which
    /// merge reads again) or junit (as `run --format junit`).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human, hide_possible_values = true)]
    pub format: Format,
    /// The shards' `--format json` documents (at most 10000).
    #[arg(value_name = "FILES", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub(super) struct BenchArgs {
    /// Seeds each measurement runs, from each file's `[seeds] start`, 1 to
    /// 100000.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub seeds: u64,
    /// The most cores the scaling table tries, 1 to 1024 [default: one per
    /// core].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// The sampled determinism rerun the verdicts are also timed with, next
    /// to every seed run twice.
    #[arg(long, value_name = "all|1/N", default_value = DETERMINISM_DEFAULT, value_parser = parse_determinism)]
    pub determinism: Determinism,
    /// Scenario files to measure [default: every file under the suite's
    /// folder].
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
pub(super) struct RunArgs {
    /// Run exactly this seed (wins over OBSIM_SEED and OBSIM_SEEDS)
    /// [default: OBSIM_SEED, else a sweep of --seeds].
    #[arg(long, value_name = "N", conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Sweep this many seeds from each file's `[seeds] start`, 1 to 1000000
    /// (wins over OBSIM_SEED, OBSIM_SEEDS and the file's own [seeds])
    /// [default: OBSIM_SEEDS, else each file's [seeds] sweep, else its
    /// [seeds] count, else 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub seeds: Option<u64>,
    /// Seeds checked at once, one thread each, 1 to 1024 [default: one per
    /// core].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Run shard K of N: of each file's seeds, the ones at positions i
    /// (counting from 0) with i % N == K-1, so shards 1/N to N/N together
    /// run every seed exactly once [default: 1/1, every seed].
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Which seeds run a second time for the determinism check: `all`, or
    /// `1/N` for about one seed in N (chosen by a hash of the seed, so the
    /// same ones whatever the shard or job count) and each file's first
    /// seed. The summary names the seeds that ran twice. `cargo test`
    /// always runs every seed twice.
    #[arg(long, value_name = "all|1/N", default_value = DETERMINISM_DEFAULT, value_parser = parse_determinism)]
    pub determinism: Determinism,
    /// What to print on stdout.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Human)]
    pub format: Format,
    /// Scenario files to run [default: every file under the suite's folder].
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Run shard K of N with K read from the environment: the 0-based
    /// index in OBSIM_SHARD_INDEX, else JOB_COMPLETION_INDEX (a Kubernetes
    /// Indexed Job sets it), as K = index + 1. For a fixed command line on
    /// every shard.
    #[arg(long, value_name = "N", conflicts_with = "shard", value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_of: Option<u64>,
    /// Start every file's seeds here instead of at its `[seeds] start`
    /// (a campaign's last line, `next campaign: --seed-start N`, says where
    /// the next one starts) [default: each file's `[seeds] start`].
    #[arg(long, value_name = "N", conflicts_with = "seed")]
    pub seed_start: Option<u64>,
    /// Run fresh seeds until this much time is up (90s, 30m, 1h; at most
    /// 720h): each file in turn gets an equal share of the time left, no
    /// seed starts after it, and the seeds in flight finish. --seeds (or
    /// OBSIM_SEEDS) caps the seeds per file; composes with --shard and
    /// --shard-of.
    #[arg(long = "for", value_name = "DURATION", conflicts_with = "seed", value_parser = super::campaign::parse_budget)]
    pub budget: Option<Duration>,
}

#[derive(Args, Debug)]
pub(super) struct ListArgs {
    /// Scenario files to list [default: every file under the suite's folder].
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// The `--format` of the output on stdout.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(super) enum Format {
    /// Each failure in full as its seed finishes, a summary line per file,
    /// and a progress bar on stderr when it is a terminal.
    #[default]
    Human,
    /// One JSON document, with every file's counts and kept failures.
    Json,
    /// JUnit XML: a testsuite per file, a testcase per kept failing seed and
    /// one for the passing seeds.
    Junit,
}

/// `--shard K/N`: the K-th of N shards, K counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// 1/1: every seed.
    pub const ALL: Shard = Shard { index: 1, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

const SHARD_EXPECTED: &str =
    "expected K/N with 1 <= K <= N, e.g. --shard 1/4 (shards count from 1)";

/// Parses `K/N`; the errors say what was expected, and clap names the flag.
pub(crate) fn parse_shard(text: &str) -> Result<Shard, String> {
    let number = |part: &str| part.trim().parse::<u64>().ok();
    let Some((index, count)) = text.split_once('/') else {
        return Err(SHARD_EXPECTED.to_string());
    };
    let (Some(index), Some(count)) = (number(index), number(count)) else {
        return Err(SHARD_EXPECTED.to_string());
    };
    if count == 0 {
        return Err(format!("there is no shard of 0 shards: {SHARD_EXPECTED}"));
    }
    if index == 0 || index > count {
        return Err(format!(
            "shard {index} of {count} does not exist: {SHARD_EXPECTED}"
        ));
    }
    Ok(Shard { index, count })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_shard_is_k_of_n_counted_from_one() {
        assert_eq!(parse_shard("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(parse_shard("1/1"), Ok(Shard::ALL));
        for bad in ["0/2", "3/2", "1/0", "0/0", "2", "a/b", "1/2/3", "-1/2", ""] {
            let error = parse_shard(bad).expect_err(bad);
            assert!(
                error.contains("expected K/N with 1 <= K <= N"),
                "{bad}: {error}"
            );
        }
        assert!(parse_shard("3/2")
            .unwrap_err()
            .contains("shard 3 of 2 does not exist"));
    }
}
