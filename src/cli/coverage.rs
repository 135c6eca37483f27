//! Which seeds a sweep covered, in a form that never lists them: each shard
//! of a file's sweep runs a prefix of its own arithmetic progression
//! (`seed_start + (K-1) + i*N`), so `(shard, seed_start, seeds_run)` says
//! exactly which seeds it ran. The JSON records those ([`ShardRun`]), and
//! the seeds they cover as a canonical list of progressions
//! ([`covered`]): the same seeds give the same list, whether one process
//! ran them or shards merged.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::args::{parse_shard, Shard};

/// What one shard of one file's sweep ran: the first `seeds_run` seeds of
/// the progression `seed_start + (K-1) + i*N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShardRun {
    /// The first seed of the file's whole sequence (its `[seeds] start`, or
    /// `--seed-start`, or `--seed`), before sharding.
    pub seed_start: u64,
    pub shard: Shard,
    pub seeds_run: u64,
}

/// `count` seeds `first, first + step, ...`; `step` is 1 when `count` is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Progression {
    pub first: u64,
    pub last: u64,
    pub step: u64,
    pub count: u64,
}

/// By sequence, then shard count, then shard.
impl Ord for ShardRun {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |run: &ShardRun| {
            (
                run.seed_start,
                run.shard.count,
                run.shard.index,
                run.seeds_run,
            )
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for ShardRun {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl ShardRun {
    /// The seeds it ran, or why a document's numbers cannot be a shard's
    /// (its last seed would pass `u64::MAX`). None when it ran none.
    pub fn progression(&self) -> Result<Option<Progression>, String> {
        if self.seeds_run == 0 {
            return Ok(None);
        }
        let Shard { index, count } = self.shard;
        let first = self.seed_start.checked_add(index - 1);
        let span = (self.seeds_run - 1).checked_mul(count);
        let last = first
            .zip(span)
            .and_then(|(first, span)| first.checked_add(span));
        match (first, last) {
            (Some(first), Some(last)) => Ok(Some(Progression::new(first, count, self.seeds_run, last))),
            _ => Err(format!(
                "shard {} of the seeds from {} cannot have run {} seed(s): its last seed would pass \
                 the largest seed, {}",
                self.shard,
                self.seed_start,
                self.seeds_run,
                u64::MAX
            )),
        }
    }
}

impl Progression {
    fn new(first: u64, step: u64, count: u64, last: u64) -> Progression {
        let step = if count == 1 { 1 } else { step };
        Progression {
            first,
            last,
            step,
            count,
        }
    }

    /// Seeds `first..first + count`.
    fn range(first: u64, count: u64) -> Progression {
        Progression::new(first, 1, count, first + (count - 1))
    }

    pub fn contains(&self, seed: u64) -> bool {
        (self.first..=self.last).contains(&seed) && (seed - self.first).is_multiple_of(self.step)
    }

    /// The lowest seed both hold, if any: the two congruences solved
    /// together (Chinese remainder theorem), in 128-bit arithmetic.
    pub fn first_common(&self, other: &Progression) -> Option<u64> {
        let low = u128::from(self.first.max(other.first));
        let high = u128::from(self.last.min(other.last));
        if low > high {
            return None;
        }
        let (s1, s2) = (u128::from(self.step), u128::from(other.step));
        let (a, b) = (u128::from(self.first), u128::from(other.first));
        let (g, p) = gcd_and_inverse(s1, s2);
        let difference = if b >= a {
            b - a
        } else {
            s1 * s2 - (a - b) % (s1 * s2)
        };
        if difference % g != 0 {
            return None;
        }
        let modulus = s2 / g;
        // x = a + s1 * t with s1 * t ≡ b - a (mod s2): t ≡ (b-a)/g * p.
        let t = ((difference / g) % modulus) * (p % modulus) % modulus;
        let lcm = s1 / g * s2;
        let mut x = a + s1 * t;
        if x < low {
            x += (low - x).div_ceil(lcm) * lcm;
        }
        (x <= high).then(|| u64::try_from(x).expect("x <= high, a u64"))
    }
}

/// `gcd(a, b)` and `p` with `a * p ≡ gcd (mod b)`, `p` in `0..b`; `a` and
/// `b` at least 1 and at most `u64::MAX`, so every product fits.
fn gcd_and_inverse(a: u128, b: u128) -> (u128, u128) {
    let (mut old_r, mut r) = (a as i128, b as i128);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let quotient = old_r / r;
        (old_r, r) = (r, old_r - quotient * r);
        (old_s, s) = (s, old_s - quotient * s);
    }
    let b = b as i128;
    (old_r as u128, old_s.rem_euclid(b) as u128)
}

impl fmt::Display for Progression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.count, self.step) {
            (1, _) => write!(f, "seed {}", self.first),
            (count, 1) => write!(f, "seeds {} to {} ({count})", self.first, self.last),
            (count, step) => write!(
                f,
                "seeds {} to {}, step {step} ({count})",
                self.first, self.last
            ),
        }
    }
}

/// The seeds `runs` covered, as few progressions as this finds, sorted:
/// the shards of one sequence (same `seed_start` and shard count) that all
/// ran give one range for the seeds below the first one any of them
/// missed, then each shard's rest; ranges that touch are joined. Runs must
/// not overlap (merge checks that first); ones that cannot be are skipped.
pub(crate) fn covered(runs: &[ShardRun]) -> Vec<Progression> {
    let mut groups: BTreeMap<(u64, u64), BTreeMap<u64, u64>> = BTreeMap::new();
    for run in runs {
        let group = groups.entry((run.seed_start, run.shard.count)).or_default();
        *group.entry(run.shard.index).or_default() += run.seeds_run;
    }
    let mut items = Vec::new();
    for ((seed_start, count), ran) in groups {
        items.extend(group_covered(seed_start, count, &ran));
    }
    items.sort_unstable();
    join_ranges(items)
}

/// One sequence's shards, `ran[K] = seeds run`: a range for the positions
/// every shard reached, then what each ran beyond it.
fn group_covered(seed_start: u64, count: u64, ran: &BTreeMap<u64, u64>) -> Vec<Progression> {
    let all_present = u64::try_from(ran.len()).is_ok_and(|present| present == count);
    // Positions 0..prefix are all covered: position q is shard (q % N) + 1's
    // (q / N)-th seed.
    let prefix: u128 = if all_present {
        ran.iter()
            .map(|(&index, &n)| u128::from(index - 1) + u128::from(n) * u128::from(count))
            .min()
            .unwrap_or(0)
    } else {
        0
    };
    let mut items = Vec::new();
    if prefix > 0 {
        // Covered positions are seeds no run's progression passed.
        let prefix = u64::try_from(prefix).expect("positions of u64 seeds");
        items.push(Progression::range(seed_start, prefix));
    }
    for (&index, &n) in ran {
        let offset = u128::from(index - 1);
        let below = if prefix > offset {
            (prefix - offset).div_ceil(u128::from(count))
        } else {
            0
        };
        let below = u64::try_from(below).unwrap_or(u64::MAX).min(n);
        let rest = ShardRun {
            seed_start: seed_start.saturating_add(below.saturating_mul(count)),
            shard: Shard { index, count },
            seeds_run: n - below,
        };
        if let Ok(Some(progression)) = rest.progression() {
            items.push(progression);
        }
    }
    items
}

/// Sorted progressions with each pair of step-1 neighbours that touch
/// joined into one.
fn join_ranges(items: Vec<Progression>) -> Vec<Progression> {
    let mut joined: Vec<Progression> = Vec::with_capacity(items.len());
    for item in items {
        if let Some(previous) = joined.last_mut() {
            let touches = previous.step == 1
                && item.step == 1
                && previous.last.checked_add(1) == Some(item.first);
            if touches {
                *previous = Progression::range(previous.first, previous.count + item.count);
                continue;
            }
        }
        joined.push(item);
    }
    joined
}

/// Where a campaign after `runs` starts so that every seed it runs is
/// fresh: one past the highest seed covered, else (nothing covered) the
/// lowest sequence start.
pub(crate) fn next_seed_start(runs: &[ShardRun]) -> u64 {
    let highest = runs
        .iter()
        .filter_map(|run| run.progression().ok().flatten())
        .map(|progression| progression.last)
        .max();
    match highest {
        // The highest seed a sweep runs is u64::MAX - 1 (its sequence ends
        // before u64::MAX), so this never overflows.
        Some(last) => last.saturating_add(1),
        None => runs.iter().map(|run| run.seed_start).min().unwrap_or(0),
    }
}

/// `seeds 0 to 99 (100); seed 205`: at most `shown` progressions, then how
/// many more; `none` for none.
pub(crate) fn describe(covered: &[Progression], shown: usize) -> String {
    if covered.is_empty() {
        return "none".to_string();
    }
    let mut parts: Vec<String> = covered
        .iter()
        .take(shown)
        .map(ToString::to_string)
        .collect();
    if covered.len() > shown {
        parts.push(format!(
            "and {} more progression(s) (--format json lists them)",
            covered.len() - shown
        ));
    }
    parts.join("; ")
}

/// The shards of each sequence that no run covered, described for a
/// person: `shard 3/4 of the seeds from 0`, at most `shown` of them.
pub(crate) fn missing_shards(runs: &[ShardRun], shown: usize) -> Option<String> {
    let mut groups: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    for run in runs {
        groups
            .entry((run.seed_start, run.shard.count))
            .or_default()
            .push(run.shard.index);
    }
    let mut lines = Vec::new();
    for ((seed_start, count), mut present) in groups {
        present.sort_unstable();
        present.dedup();
        let missing = count - present.len() as u64;
        if missing == 0 {
            continue;
        }
        let mut named = Vec::new();
        let mut index = 1;
        let mut next_present = present.iter().peekable();
        while index <= count && named.len() < shown {
            if next_present.peek() == Some(&&index) {
                next_present.next();
            } else {
                named.push(format!("{index}/{count}"));
            }
            index += 1;
        }
        let more = missing - named.len() as u64;
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        lines.push(format!(
            "{missing} of {count} shard(s) of the seeds from {seed_start} ({}{tail})",
            named.join(", ")
        ));
    }
    (!lines.is_empty()).then(|| lines.join("; "))
}

impl Serialize for ShardRun {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ShardRunDoc {
            shard: self.shard.to_string(),
            seed_start: self.seed_start,
            seeds_run: self.seeds_run,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ShardRun {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let doc = ShardRunDoc::deserialize(deserializer)?;
        let shard = parse_shard(&doc.shard)
            .map_err(|error| serde::de::Error::custom(format!("shard {:?}: {error}", doc.shard)))?;
        Ok(ShardRun {
            seed_start: doc.seed_start,
            shard,
            seeds_run: doc.seeds_run,
        })
    }
}

/// A [`ShardRun`] as the JSON writes it: `{"shard": "2/4", "seed_start":
/// 0, "seeds_run": 25}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShardRunDoc {
    shard: String,
    seed_start: u64,
    seeds_run: u64,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::cli::seeds::{shard_len, shard_seeds};

    fn run(seed_start: u64, index: u64, count: u64, seeds_run: u64) -> ShardRun {
        ShardRun {
            seed_start,
            shard: Shard { index, count },
            seeds_run,
        }
    }

    fn seeds_of(covered: &[Progression]) -> BTreeSet<u64> {
        let mut seeds = BTreeSet::new();
        for progression in covered {
            let mut seed = progression.first;
            for _ in 0..progression.count {
                assert!(seeds.insert(seed), "{seed} twice in {covered:?}");
                seed += progression.step;
            }
        }
        seeds
    }

    #[test]
    fn shards_that_all_ran_cover_what_one_process_covers_in_the_same_words() {
        for (start, count, shards) in [(0, 8, 4), (40, 24, 4), (7, 11, 3), (0, 5, 4), (3, 2, 5)] {
            let one = covered(&[run(start, 1, 1, count)]);
            let runs: Vec<ShardRun> = (1..=shards)
                .map(|index| {
                    run(
                        start,
                        index,
                        shards,
                        shard_len(
                            count,
                            Shard {
                                index,
                                count: shards,
                            },
                        ),
                    )
                })
                .collect();
            assert_eq!(covered(&runs), one, "{start} {count} {shards}");
            assert_eq!(one, [Progression::range(start, count)]);
            assert_eq!(next_seed_start(&runs), start + count);
            assert_eq!(missing_shards(&runs, 8), None);
        }
    }

    #[test]
    fn a_ragged_or_missing_shard_leaves_its_gap_visible() {
        // Shards ran 3, 2, 3 and 2 seeds of 0, 4, 8, ...: 0..=8, 10, 11 is
        // missing 9.
        let runs = [
            run(0, 1, 4, 3),
            run(0, 2, 4, 2),
            run(0, 3, 4, 3),
            run(0, 4, 4, 2),
        ];
        let covered_now = covered(&runs);
        let expected: BTreeSet<u64> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10].into();
        assert_eq!(seeds_of(&covered_now), expected);
        assert_eq!(covered_now[0], Progression::range(0, 9));
        assert_eq!(next_seed_start(&runs), 11);
        // Shard 3/4 never came back.
        let missing = [run(0, 1, 4, 2), run(0, 2, 4, 2), run(0, 4, 4, 2)];
        let covered_now = covered(&missing);
        assert_eq!(seeds_of(&covered_now), [0, 1, 3, 4, 5, 7].into());
        assert_eq!(
            describe(&covered_now, 8),
            "seeds 0 to 4, step 4 (2); seeds 1 to 5, step 4 (2); seeds 3 to 7, step 4 (2)"
        );
        assert_eq!(
            missing_shards(&missing, 8).as_deref(),
            Some("1 of 4 shard(s) of the seeds from 0 (3/4)")
        );
    }

    #[test]
    fn one_shard_is_its_progression() {
        assert_eq!(
            covered(&[run(10, 2, 4, 3)]),
            [Progression {
                first: 11,
                last: 19,
                step: 4,
                count: 3
            }]
        );
        assert_eq!(covered(&[run(10, 2, 4, 0)]), []);
        assert_eq!(next_seed_start(&[run(10, 2, 4, 0)]), 10);
        assert_eq!(covered(&[run(10, 2, 4, 1)])[0].step, 1);
    }

    #[test]
    fn seeds_at_the_top_of_the_u64_space_do_not_overflow() {
        let top = run(u64::MAX - 4, 1, 1, 4);
        assert_eq!(covered(&[top]), [Progression::range(u64::MAX - 4, 4)]);
        assert_eq!(next_seed_start(&[top]), u64::MAX);
        assert!(run(u64::MAX - 1, 2, 2, 2).progression().is_err());
        assert!(run(u64::MAX, 1, 1, 1).progression().is_ok());
    }

    #[test]
    fn first_common_seed_matches_a_brute_force_search() {
        let all = |p: &Progression| -> BTreeSet<u64> { seeds_of(std::slice::from_ref(p)) };
        for a_first in 0..6 {
            for a_step in 1..5 {
                for b_first in 0..6 {
                    for b_step in 1..7 {
                        for (a_count, b_count) in [(1, 3), (4, 4), (2, 6)] {
                            let a = Progression::new(
                                a_first,
                                a_step,
                                a_count,
                                a_first + (a_count - 1) * a_step,
                            );
                            let b = Progression::new(
                                b_first,
                                b_step,
                                b_count,
                                b_first + (b_count - 1) * b_step,
                            );
                            let expected = all(&a).intersection(&all(&b)).next().copied();
                            assert_eq!(a.first_common(&b), expected, "{a:?} {b:?}");
                        }
                    }
                }
            }
        }
        let huge = Progression::new(u64::MAX - 1, u64::MAX - 2, 1, u64::MAX - 1);
        let steps = Progression::new(1, u64::MAX - 3, 2, u64::MAX - 2);
        assert_eq!(huge.first_common(&steps), None);
        assert_eq!(steps.first_common(&steps), Some(1));
    }

    #[test]
    fn shard_runs_read_back_as_written() {
        let written = serde_json::to_string(&run(5, 2, 3, 7)).unwrap();
        assert_eq!(written, r#"{"shard":"2/3","seed_start":5,"seeds_run":7}"#);
        let read: ShardRun = serde_json::from_str(&written).unwrap();
        assert_eq!(read, run(5, 2, 3, 7));
        let bad =
            serde_json::from_str::<ShardRun>(r#"{"shard":"5/3","seed_start":0,"seeds_run":1}"#);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("shard 5 of 3 does not exist"));
    }

    #[test]
    fn the_seeds_a_shard_runs_are_its_progression() {
        for (start, count, shard) in [(0, 10, Shard { index: 3, count: 4 }), (9, 1, Shard::ALL)] {
            let n = shard_len(count, shard);
            let listed: BTreeSet<u64> = shard_seeds(start, count, shard).collect();
            let progression = run(start, shard.index, shard.count, n)
                .progression()
                .unwrap();
            assert_eq!(
                seeds_of(&progression.into_iter().collect::<Vec<_>>()),
                listed
            );
        }
    }
}
