use std::fmt;

/// Why `OBSIM_SEED` or `OBSIM_SEEDS` could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedsError {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for SeedsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} is not valid: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for SeedsError {}

/// The seeds to run, from the environment:
/// - `OBSIM_SEED=<n>` runs exactly seed n (it wins over `OBSIM_SEEDS`);
/// - `OBSIM_SEEDS=<count>` sweeps seeds `0..count`;
/// - neither: seeds `0..default_count`.
pub fn seeds_from_env(default_count: u64) -> Result<Vec<u64>, SeedsError> {
    seeds_from_env_at(0, default_count)
}

/// As [`seeds_from_env`], for a sweep that starts at seed `start`: a
/// scenario file's `[seeds]`. `OBSIM_SEEDS` then sweeps `start..start+count`.
pub fn seeds_from_env_at(start: u64, default_count: u64) -> Result<Vec<u64>, SeedsError> {
    let seeds = seeds_from(
        std::env::var("OBSIM_SEED").ok().as_deref(),
        std::env::var("OBSIM_SEEDS").ok().as_deref(),
        default_count,
    )?;
    if std::env::var_os("OBSIM_SEED").is_some() {
        return Ok(seeds);
    }
    Ok(seeds.into_iter().map(|n| n.saturating_add(start)).collect())
}

fn seeds_from(
    seed: Option<&str>,
    count: Option<&str>,
    default_count: u64,
) -> Result<Vec<u64>, SeedsError> {
    if let Some(seed) = seed {
        let parsed = seed.trim().parse::<u64>().map_err(|_| SeedsError {
            variable: "OBSIM_SEED",
            value: seed.to_string(),
            expected: "an unsigned 64-bit integer, e.g. OBSIM_SEED=42",
        })?;
        return Ok(vec![parsed]);
    }
    let count = match count {
        None => default_count,
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| SeedsError {
                variable: "OBSIM_SEEDS",
                value: text.to_string(),
                expected: "a seed count from 1 to 1000000, e.g. OBSIM_SEEDS=100",
            })?,
    };
    Ok((0..count).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_wins_over_a_count() {
        assert_eq!(seeds_from(Some("42"), Some("9"), 4), Ok(vec![42]));
    }

    #[test]
    fn count_sweeps_from_zero_and_default_applies_without_either() {
        assert_eq!(seeds_from(None, Some("3"), 8), Ok(vec![0, 1, 2]));
        assert_eq!(seeds_from(None, None, 2), Ok(vec![0, 1]));
    }

    #[test]
    fn garbage_names_the_variable_and_the_expected_form() {
        let error = seeds_from(Some("forty-two"), None, 1).unwrap_err();
        assert_eq!(error.variable, "OBSIM_SEED");
        let error = seeds_from(None, Some("0"), 1).unwrap_err();
        assert!(error.to_string().contains("OBSIM_SEEDS=\"0\""), "{error}");
    }
}
