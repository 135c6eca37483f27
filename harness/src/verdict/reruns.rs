//! Which seeds of a sweep run twice for the determinism check. Every seed,
//! by default; a deep sweep may sample them (`--determinism 1/N`) to spend
//! its time on new seeds rather than on second runs. The choice is a pure
//! function of the seed, so a seed runs twice or not whatever the shard, the
//! job count or the order the threads take seeds in, and shards' results
//! merge into the same result as one process's.

use std::fmt;
use std::str::FromStr;

/// Sampled sweeps run twice at most this many in 1: past it, a sweep would
/// almost never compare two runs of a seed.
pub const DETERMINISM_ONE_IN_MAX: u64 = 1_000;

/// How many of a sweep's seeds run twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Determinism {
    /// Every seed: the default of a sweep, and of `cargo test`.
    #[default]
    All,
    /// About one seed in `one_in`, drawn by a hash of the seed, and always
    /// the seed `first` (the file's first seed): a sweep of a few seeds
    /// still compares two runs, and a process-global state that carries
    /// from one run to the next shows on any seed that runs twice.
    Sampled { one_in: u64, first: u64 },
}

impl Determinism {
    /// Whether `seed` runs twice.
    pub fn runs_twice(self, seed: u64) -> bool {
        match self {
            Determinism::All => true,
            Determinism::Sampled { one_in, first } => {
                seed == first || splitmix64(seed).is_multiple_of(one_in.max(1))
            }
        }
    }

    /// The same sampling, always rerunning `first`.
    pub fn anchored_at(self, first: u64) -> Determinism {
        match self {
            Determinism::All => Determinism::All,
            Determinism::Sampled { one_in, .. } => Determinism::Sampled { one_in, first },
        }
    }
}

impl fmt::Display for Determinism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Determinism::All => f.write_str("all"),
            Determinism::Sampled { one_in, .. } => write!(f, "1/{one_in}"),
        }
    }
}

const EXPECTED: &str = "expected `all` (every seed runs twice) or `1/N` with N from 1 to 1000 \
                        (about one seed in N, and the first seed, run twice), e.g. 1/4";

impl FromStr for Determinism {
    type Err = String;

    /// `all` or `1/N`; `1/1` is `all`. The first seed is filled in by
    /// [`Determinism::anchored_at`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "all" {
            return Ok(Determinism::All);
        }
        let one_in = text
            .strip_prefix("1/")
            .and_then(|n| n.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("{text:?}: {EXPECTED}"))?;
        match one_in {
            1 => Ok(Determinism::All),
            2..=DETERMINISM_ONE_IN_MAX => Ok(Determinism::Sampled { one_in, first: 0 }),
            _ => Err(format!("{text:?}: {EXPECTED}")),
        }
    }
}

/// SplitMix64's finalizer: consecutive seeds land far apart, so the sample
/// has no stride that a shard's stride could line up with.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_reruns_every_seed_and_parses_from_all_or_one_in_one() {
        assert_eq!("all".parse(), Ok(Determinism::All));
        assert_eq!("1/1".parse(), Ok(Determinism::All));
        assert!((0..1000).all(|seed| Determinism::All.runs_twice(seed)));
    }

    #[test]
    fn a_sample_reruns_about_one_in_n_and_always_the_first_seed() {
        let sample = "1/4".parse::<Determinism>().unwrap().anchored_at(100);
        assert!(sample.runs_twice(100));
        let twice = (100..10_100)
            .filter(|&seed| sample.runs_twice(seed))
            .count();
        assert!((2_300..2_700).contains(&twice), "{twice} of 10000");
    }

    #[test]
    fn every_shard_of_a_sampled_sweep_gets_its_share_of_reruns() {
        let sample = Determinism::Sampled {
            one_in: 4,
            first: 0,
        };
        for shard in 0..4 {
            let twice = (shard..4_000)
                .step_by(4)
                .filter(|&seed| sample.runs_twice(seed))
                .count();
            assert!(
                (180..320).contains(&twice),
                "shard {shard}: {twice} of 1000"
            );
        }
    }

    #[test]
    fn a_bad_sample_says_what_was_expected() {
        for bad in ["", "none", "1/0", "2/4", "1/1001", "1/x", "1/-2"] {
            let error = bad.parse::<Determinism>().unwrap_err();
            assert!(error.contains("expected `all`"), "{bad}: {error}");
        }
    }
}
