//! Which seeds a file's sweep runs: from the flags, else the environment,
//! else the file's own `[seeds] sweep` (which the loader reads as its
//! `count` when only that is set, and as [`CLI_SEEDS_DEFAULT`] when
//! neither is: a file's own seeds win over the default, never over a flag
//! or variable);
//! then the shard's share of them. Seeds are
//! ranges and iterators, never lists: a sweep of a million seeds holds none
//! of them in memory.

use obsim_harness::SeedsError;
use obsim_scenario::SeedSpec;

use super::args::Shard;
#[cfg(doc)]
use crate::CLI_SEEDS_DEFAULT;

/// The seeds asked for, before a file's `[seeds] start` places them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SeedPlan {
    /// Exactly this seed, in every file.
    One(u64),
    /// This many seeds from each file's `[seeds] start`.
    Count(u64),
    /// Each file's own `[seeds] sweep` seeds from its `[seeds] start`.
    FileSweep,
}

impl SeedPlan {
    /// `--seed`, else `--seeds`, else `OBSIM_SEED`, else `OBSIM_SEEDS`, else
    /// each file's `[seeds] sweep`: the flags win over the environment.
    pub fn resolve(seed: Option<u64>, seeds: Option<u64>) -> Result<SeedPlan, String> {
        if let Some(seed) = seed {
            return Ok(SeedPlan::One(seed));
        }
        if let Some(count) = seeds {
            return Ok(SeedPlan::Count(count));
        }
        Self::from_env(
            std::env::var("OBSIM_SEED").ok().as_deref(),
            std::env::var("OBSIM_SEEDS").ok().as_deref(),
        )
        .map_err(|error| error.to_string())
    }

    /// The harness's reading of the two variables (`seeds_from_env_at`,
    /// whose errors these are), without listing the seeds.
    fn from_env(seed: Option<&str>, count: Option<&str>) -> Result<SeedPlan, SeedsError> {
        if let Some(text) = seed {
            return text
                .trim()
                .parse::<u64>()
                .map(SeedPlan::One)
                .map_err(|_| SeedsError {
                    variable: "OBSIM_SEED",
                    value: text.to_string(),
                    expected: "an unsigned 64-bit integer, e.g. OBSIM_SEED=42",
                });
        }
        match count {
            None => Ok(SeedPlan::FileSweep),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .map(SeedPlan::Count)
                .ok_or_else(|| SeedsError {
                    variable: "OBSIM_SEEDS",
                    value: text.to_string(),
                    expected: "a seed count from 1 to 1000000, e.g. OBSIM_SEEDS=100",
                }),
        }
    }

    /// A file's seed sequence, as `(first seed, how many)`: consecutive
    /// seeds, cut short rather than wrapped at `u64::MAX`.
    pub fn sequence(self, file: &SeedSpec) -> (u64, u64) {
        let from_start = |count: u64| (file.start, file.start.saturating_add(count) - file.start);
        match self {
            SeedPlan::One(seed) => (seed, 1),
            SeedPlan::Count(count) => from_start(count),
            SeedPlan::FileSweep => from_start(file.sweep),
        }
    }

    /// Whether the depth is each file's own: the summary then says how to
    /// sweep deeper.
    pub fn is_file_default(self) -> bool {
        self == SeedPlan::FileSweep
    }
}

/// The seeds shard `k` of `n` runs of the sequence `start..start + count`:
/// those at positions `i` with `i % n == k - 1`. Shards `1/n` to `n/n`
/// together run each seed of the sequence exactly once.
pub(crate) fn shard_seeds(
    start: u64,
    count: u64,
    shard: Shard,
) -> impl Iterator<Item = u64> + Send + Clone {
    let end = start.saturating_add(count);
    (start..end)
        .skip(to_usize(shard.index - 1))
        .step_by(to_usize(shard.count))
}

/// How many seeds [`shard_seeds`] yields, without counting them one by one.
pub(crate) fn shard_len(count: u64, shard: Shard) -> u64 {
    if count < shard.index {
        0
    } else {
        (count - shard.index) / shard.count + 1
    }
}

/// Positions and strides beyond `usize` cannot occur on a 64-bit machine;
/// on a smaller one they saturate, which yields the same seeds for any
/// sequence short enough to run.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn shard(index: u64, count: u64) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn shards_together_run_exactly_the_unsharded_seeds_each_once() {
        for (start, count) in [
            (0, 0),
            (0, 1),
            (0, 10),
            (7, 11),
            (100, 3),
            (u64::MAX - 4, 10),
        ] {
            let all: Vec<u64> = shard_seeds(start, count, Shard::ALL).collect();
            let (_, expected_count) = SeedPlan::Count(count).sequence(&spec(start, 1));
            assert_eq!(all.len() as u64, expected_count);
            for n in 1..=5 {
                let mut union = BTreeSet::new();
                let mut total = 0;
                for k in 1..=n {
                    let seeds: Vec<u64> = shard_seeds(start, count, shard(k, n)).collect();
                    assert_eq!(seeds.len() as u64, shard_len(expected_count, shard(k, n)));
                    total += seeds.len();
                    union.extend(seeds);
                }
                // As many seeds as the union holds: no seed in two shards.
                assert_eq!(total, union.len(), "start {start}, count {count}, n {n}");
                assert_eq!(union.into_iter().collect::<Vec<_>>(), all);
            }
        }
    }

    #[test]
    fn a_shard_takes_every_nth_position_from_its_own() {
        let first: Vec<u64> = shard_seeds(10, 7, shard(1, 2)).collect();
        let second: Vec<u64> = shard_seeds(10, 7, shard(2, 2)).collect();
        assert_eq!(first, [10, 12, 14, 16]);
        assert_eq!(second, [11, 13, 15]);
        assert_eq!(shard_seeds(0, 2, shard(3, 3)).count(), 0);
        assert_eq!(shard_len(2, shard(3, 3)), 0);
    }

    #[test]
    fn a_million_seed_shard_is_counted_not_listed() {
        let seeds = shard_seeds(0, 1_000_000, shard(3, 4));
        assert_eq!(shard_len(1_000_000, shard(3, 4)), 250_000);
        assert_eq!(seeds.clone().next(), Some(2));
        assert_eq!(seeds.last(), Some(999_998));
    }

    #[test]
    fn the_environment_reads_as_the_harness_reads_it() {
        assert_eq!(
            SeedPlan::from_env(Some("42"), Some("9")),
            Ok(SeedPlan::One(42))
        );
        assert_eq!(
            SeedPlan::from_env(None, Some(" 3 ")),
            Ok(SeedPlan::Count(3))
        );
        assert_eq!(SeedPlan::from_env(None, None), Ok(SeedPlan::FileSweep));
        let error = SeedPlan::from_env(None, Some("0")).unwrap_err();
        assert!(error.to_string().contains("OBSIM_SEEDS=\"0\""), "{error}");
        let error = SeedPlan::from_env(Some("x"), None).unwrap_err();
        assert_eq!(error.variable, "OBSIM_SEED");
    }

    fn spec(start: u64, sweep: u64) -> SeedSpec {
        SeedSpec {
            start,
            count: 16,
            sweep,
        }
    }

    #[test]
    fn one_seed_ignores_the_files_start_and_a_count_starts_there() {
        assert_eq!(SeedPlan::One(5).sequence(&spec(100, 7)), (5, 1));
        assert_eq!(SeedPlan::Count(3).sequence(&spec(100, 7)), (100, 3));
        assert_eq!(
            SeedPlan::Count(3).sequence(&spec(u64::MAX - 1, 7)),
            (u64::MAX - 1, 1)
        );
    }

    #[test]
    fn with_no_count_given_each_file_sweeps_its_own_depth() {
        assert_eq!(SeedPlan::FileSweep.sequence(&spec(10, 3)), (10, 3));
        assert_eq!(SeedPlan::FileSweep.sequence(&spec(0, 100)), (0, 100));
    }
}
