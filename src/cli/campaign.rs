//! Campaigns: a sweep placed and bounded by the flags a batch engine can
//! pass as a fixed command. `--seed-start N` moves every file's sequence,
//! `--for DURATION` runs fresh seeds until the time is up, and `--shard-of
//! N` reads the shard's index from the environment (a Kubernetes Indexed
//! Job's `JOB_COMPLETION_INDEX`, or `OBSIM_SHARD_INDEX`).
//!
//! The time budget is shared fairly between files: each file, in order,
//! gets the time left divided by the files left, so every file gets an
//! equal share, and time one does not use (it ran out of seeds, or a seed
//! in flight ended early) passes on to the ones after it. No seed starts
//! after its file's share is up; the seeds in flight finish, and a file
//! whose seeds failed then shrinks its lowest failing seed (bounded by
//! `OBSIM_SHRINK`), so the command may end that much after the budget.

use std::time::{Duration, Instant};

use super::args::{RunArgs, Shard};
use super::coverage::{covered, describe, next_seed_start};
use super::report::FileReport;
use super::seeds::SeedPlan;
use obsim_scenario::SeedSpec;

/// The longest `--for`: 30 days.
pub(super) const BUDGET_MAX: Duration = Duration::from_secs(30 * 24 * 3600);

const BUDGET_EXPECTED: &str =
    "expected a duration from 1s to 720h (30 days) with a unit (s, m or h), e.g. 90s, 30m or 1h";

/// Parses `--for`: a scenario-file duration (`90s`, `30m`, `1.5h`), at
/// least a second and at most [`BUDGET_MAX`]; clap names the flag.
pub(super) fn parse_budget(text: &str) -> Result<Duration, String> {
    let budget = obsim_scenario::parse_duration(text.trim()).map_err(|error| {
        // The reason, without the scenario files' own list of units.
        let reason = error.split(": ").next().unwrap_or(&error);
        format!("{reason}: {BUDGET_EXPECTED}")
    })?;
    if budget < Duration::from_secs(1) {
        return Err(format!("{text:?} is under a second: {BUDGET_EXPECTED}"));
    }
    if budget > BUDGET_MAX {
        return Err(format!(
            "{text:?} is longer than 30 days: {BUDGET_EXPECTED}"
        ));
    }
    Ok(budget)
}

/// The variables `--shard-of` reads, the first one set winning.
const SHARD_INDEX_VARIABLES: [&str; 2] = ["OBSIM_SHARD_INDEX", "JOB_COMPLETION_INDEX"];

/// How the flags place and bound each file's sweep.
pub(super) struct Campaign {
    pub shard: Shard,
    /// `--seed-start`: every file's sequence starts here.
    seed_start: Option<u64>,
    /// `--for`: the moment no seed may start after.
    deadline: Option<Instant>,
    /// With `--for`, the most seeds a file runs (`--seeds`, else
    /// `OBSIM_SEEDS` when set); None: up to the end of the u64 space.
    cap: Option<u64>,
}

impl Campaign {
    /// Reads the campaign flags (and, for `--shard-of`, the environment).
    /// The budget's clock starts now.
    pub fn new(args: &RunArgs, plan: SeedPlan) -> Result<Campaign, String> {
        let shard = match (args.shard, args.shard_of) {
            (_, Some(count)) => shard_from_env(count, |name| std::env::var(name).ok())?,
            (Some(shard), None) => shard,
            (None, None) => Shard::ALL,
        };
        let campaign_flag = match (args.seed_start, args.budget) {
            (_, Some(_)) => Some("--for"),
            (Some(_), None) => Some("--seed-start"),
            (None, None) => None,
        };
        if let (Some(flag), SeedPlan::One(seed), None) = (campaign_flag, plan, args.seed) {
            return Err(format!(
                "OBSIM_SEED={seed} runs one seed, which {flag} cannot place or extend: unset \
                 OBSIM_SEED for a campaign (or use --seed alone to replay one seed)"
            ));
        }
        let cap = match (args.seeds, plan) {
            (Some(seeds), _) => Some(seeds),
            (None, SeedPlan::Count(seeds)) if std::env::var_os("OBSIM_SEEDS").is_some() => {
                Some(seeds)
            }
            _ => None,
        };
        Ok(Campaign {
            shard,
            seed_start: args.seed_start,
            deadline: args.budget.map(|budget| Instant::now() + budget),
            cap,
        })
    }

    /// A file's whole sequence, `(first seed, how many)`, before sharding:
    /// from `--seed-start` or the file's `[seeds] start`; with `--for`, up
    /// to the cap or the end of the u64 space (which it never wraps).
    pub fn sequence(&self, plan: SeedPlan, file: &SeedSpec) -> (u64, u64) {
        let start = self.seed_start.unwrap_or(file.start);
        if self.deadline.is_none() {
            return plan.sequence(&SeedSpec {
                start,
                ..file.clone()
            });
        }
        let room = u64::MAX - start;
        (start, self.cap.map_or(room, |cap| cap.min(room)))
    }

    /// Whether a person's output says what each file covered and where the
    /// next campaign starts: with `--for`, `--seed-start` or a shard.
    pub fn reports_coverage(&self) -> bool {
        self.deadline.is_some() || self.seed_start.is_some() || self.shard.count > 1
    }

    /// Whether the sweep runs until its time is up (`--for`), with no
    /// count of seeds for a progress bar to end at.
    pub fn is_endless(&self) -> bool {
        self.deadline.is_some()
    }

    /// `seeds`, ending once this file's share of the budget is up, with
    /// `files_left` files (this one included) still to run: the share is
    /// fixed now, as the file's sweep starts.
    pub fn until<I>(&self, seeds: I, files_left: usize) -> impl Iterator<Item = u64> + Send
    where
        I: Iterator<Item = u64> + Send,
    {
        let share_ends = self.deadline.map(|deadline| {
            let now = Instant::now();
            now + share(deadline.saturating_duration_since(now), files_left)
        });
        // Real time, read between seeds outside every simulation.
        seeds.take_while(move |_| share_ends.is_none_or(|ends| Instant::now() < ends))
    }

    /// `     covered: seeds 0 to 99 (100)`, under a file's summary line.
    pub fn covered_line(&self, report: &FileReport) -> Option<String> {
        self.reports_coverage().then(|| {
            format!(
                "     covered: {}",
                describe(&covered(std::slice::from_ref(&report.shard_run)), 8)
            )
        })
    }

    /// The last line of a person's output: where the next campaign starts,
    /// or, for one shard, that merging the shards says so. Files a stop
    /// came before have no say in it.
    pub fn closing_line(&self, reports: &[FileReport]) -> Option<String> {
        if !self.reports_coverage() || !reports.iter().any(|report| report.ran) {
            return None;
        }
        if self.shard.count > 1 {
            return Some(format!(
                "obsim: this is shard {}: `merge` every shard's --format json to learn which seeds \
                 the campaign covered and where the next one starts",
                self.shard
            ));
        }
        let next = reports
            .iter()
            .filter(|report| report.ran)
            .map(|report| next_seed_start(std::slice::from_ref(&report.shard_run)))
            .max()?;
        Some(format!(
            "obsim: next campaign: --seed-start {next} (one past the highest seed run in any \
             file, so every seed it runs is fresh)"
        ))
    }
}

/// An equal share of `left` for each of `files_left` files.
fn share(left: Duration, files_left: usize) -> Duration {
    let files = u32::try_from(files_left.max(1)).unwrap_or(u32::MAX);
    left / files
}

/// `--shard-of count`: shard `index + 1` of `count`, the 0-based index read
/// with `read` from the first of [`SHARD_INDEX_VARIABLES`] that is set.
fn shard_from_env(count: u64, read: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let expected = format!(
        "expected this shard's 0-based index, from 0 to {}",
        count - 1
    );
    let Some((variable, value)) = SHARD_INDEX_VARIABLES
        .iter()
        .find_map(|name| read(name).map(|value| (*name, value)))
    else {
        return Err(format!(
            "--shard-of {count} reads the shard's index from OBSIM_SHARD_INDEX or \
             JOB_COMPLETION_INDEX (which a Kubernetes Indexed Job sets), and neither is set: \
             {expected} (or pass --shard K/N)"
        ));
    };
    let index = value.trim().parse::<u64>().map_err(|_| {
        format!("{variable}={value:?} (read by --shard-of {count}) is not a number: {expected}")
    })?;
    if index >= count {
        return Err(format!(
            "{variable}={index} (read by --shard-of {count}) is not a shard of {count}: \
             {expected}; a Kubernetes Job's completions must equal --shard-of"
        ));
    }
    Ok(Shard {
        index: index + 1,
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::coverage::ShardRun;
    use crate::cli::seeds::shard_len;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    fn campaign(seed_start: Option<u64>, budget: bool, cap: Option<u64>) -> Campaign {
        Campaign {
            shard: Shard::ALL,
            seed_start,
            deadline: budget.then(|| Instant::now() + Duration::from_secs(60)),
            cap,
        }
    }

    #[test]
    fn shard_of_reads_a_zero_based_index_as_shard_k_of_n() {
        let shard = shard_from_env(4, env(&[("JOB_COMPLETION_INDEX", "0")]));
        assert_eq!(shard, Ok(Shard { index: 1, count: 4 }));
        let shard = shard_from_env(4, env(&[("JOB_COMPLETION_INDEX", " 3\n")]));
        assert_eq!(shard, Ok(Shard { index: 4, count: 4 }));
        // OBSIM_SHARD_INDEX wins over the engine's variable.
        let both = env(&[("JOB_COMPLETION_INDEX", "0"), ("OBSIM_SHARD_INDEX", "2")]);
        assert_eq!(shard_from_env(4, both), Ok(Shard { index: 3, count: 4 }));
    }

    #[test]
    fn shard_of_refuses_a_missing_or_bad_index_naming_the_variable() {
        let error = shard_from_env(4, env(&[])).unwrap_err();
        assert!(
            error.contains("OBSIM_SHARD_INDEX or JOB_COMPLETION_INDEX"),
            "{error}"
        );
        assert!(
            error.contains("neither is set: expected this shard's 0-based index, from 0 to 3"),
            "{error}"
        );
        let error = shard_from_env(4, env(&[("JOB_COMPLETION_INDEX", "x")])).unwrap_err();
        assert!(
            error.starts_with("JOB_COMPLETION_INDEX=\"x\" (read by --shard-of 4) is not a number"),
            "{error}"
        );
        let error = shard_from_env(4, env(&[("OBSIM_SHARD_INDEX", "4")])).unwrap_err();
        assert!(
            error.starts_with("OBSIM_SHARD_INDEX=4 (read by --shard-of 4) is not a shard of 4"),
            "{error}"
        );
        for bad in ["", "-1", "1.0"] {
            assert!(
                shard_from_env(4, env(&[("OBSIM_SHARD_INDEX", bad)])).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_budget_is_a_second_to_thirty_days() {
        assert_eq!(parse_budget("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_budget("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_budget("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_budget("720h"), Ok(BUDGET_MAX));
        for (bad, says) in [
            ("721h", "longer than 30 days"),
            ("0s", "under a second"),
            ("500ms", "under a second"),
            ("1d", "unknown unit \"d\""),
            ("10", "has no unit"),
            ("-5m", "is negative"),
            ("soon", "does not start with a number"),
        ] {
            let error = parse_budget(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
            assert!(error.contains("e.g. 90s, 30m or 1h"), "{bad}: {error}");
        }
    }

    /// A file whose `[seeds] start` is `start`.
    fn at(start: u64) -> SeedSpec {
        SeedSpec {
            start,
            ..SeedSpec::default()
        }
    }

    #[test]
    fn seed_start_moves_every_files_sequence() {
        let plan = SeedPlan::Count(10);
        assert_eq!(
            campaign(None, false, None).sequence(plan, &at(40)),
            (40, 10)
        );
        assert_eq!(
            campaign(Some(1234), false, None).sequence(plan, &at(40)),
            (1234, 10)
        );
        // Cut short at the end of the u64 space, never wrapped.
        let top = campaign(Some(u64::MAX - 3), false, None);
        assert_eq!(top.sequence(plan, &at(0)), (u64::MAX - 3, 3));
    }

    #[test]
    fn a_budget_runs_to_the_end_of_the_u64_space_or_its_cap() {
        let plan = SeedPlan::Count(crate::CLI_SEEDS_DEFAULT);
        let open = campaign(Some(1000), true, None);
        assert_eq!(open.sequence(plan, &at(0)), (1000, u64::MAX - 1000));
        assert!(open.is_endless());
        assert_eq!(
            campaign(None, true, None).sequence(plan, &at(7)),
            (7, u64::MAX - 7)
        );
        let capped = campaign(Some(1000), true, Some(50));
        assert_eq!(capped.sequence(plan, &at(0)), (1000, 50));
        let top = campaign(Some(u64::MAX), true, None);
        assert_eq!(top.sequence(plan, &at(0)), (u64::MAX, 0));
        // The last seed a budget can reach is u64::MAX - 1, and its shards'
        // counts add up to the whole sequence without overflow.
        let (start, count) = campaign(Some(0), true, None).sequence(plan, &at(0));
        let total: u128 = (1..=4)
            .map(|index| u128::from(shard_len(count, Shard { index, count: 4 })))
            .sum();
        assert_eq!(total, u128::from(count));
        assert_eq!(start, 0);
    }

    #[test]
    fn a_campaign_refuses_the_one_seed_obsim_seed_asks_for() {
        let args = RunArgs {
            seed_start: Some(10),
            ..RunArgs::default()
        };
        let error = Campaign::new(&args, SeedPlan::One(5)).err().unwrap();
        assert!(
            error.starts_with("OBSIM_SEED=5 runs one seed, which --seed-start cannot"),
            "{error}"
        );
        let args = RunArgs {
            budget: Some(Duration::from_secs(60)),
            seeds: Some(30),
            ..RunArgs::default()
        };
        let error = Campaign::new(&args, SeedPlan::One(5)).err().unwrap();
        assert!(error.contains("which --for cannot"), "{error}");
        // --seeds caps a budget; the flags then say everything.
        let capped = Campaign::new(&args, SeedPlan::Count(30)).unwrap();
        assert_eq!(capped.sequence(SeedPlan::Count(30), &at(7)), (7, 30));
        assert!(capped.reports_coverage());
    }

    #[test]
    fn each_file_gets_an_equal_share_of_the_time_left() {
        assert_eq!(share(Duration::from_secs(90), 3), Duration::from_secs(30));
        assert_eq!(share(Duration::from_secs(60), 1), Duration::from_secs(60));
        assert_eq!(share(Duration::from_secs(60), 0), Duration::from_secs(60));
        assert_eq!(share(Duration::ZERO, 2), Duration::ZERO);
    }

    #[test]
    fn no_seed_starts_once_the_share_is_up() {
        let spent = Campaign {
            deadline: Some(Instant::now()),
            ..campaign(None, true, None)
        };
        assert_eq!(spent.until(0..u64::MAX, 1).count(), 0);
        let open = campaign(None, true, None);
        assert_eq!(open.until(0..5, 2).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(campaign(None, false, None).until(3..5, 1).count(), 2);
    }

    #[test]
    fn the_next_campaign_starts_past_the_highest_seed_any_file_ran() {
        let report = |seed_start, seeds_run| FileReport {
            file: "f.toml".into(),
            scenario: "s".into(),
            seeds_planned: u64::MAX,
            seeds_run,
            passed: seeds_run,
            failed: 0,
            failures_dropped: 0,
            simulated: Duration::ZERO,
            wall: Duration::ZERO,
            stopped: false,
            ran: true,
            failures: Vec::new(),
            determinism: "all".into(),
            run_twice: seeds_run,
            run_twice_seeds: Vec::new(),
            shard_run: ShardRun {
                seed_start,
                shard: Shard::ALL,
                seeds_run,
            },
        };
        let budget = campaign(Some(100), true, None);
        let reports = [report(100, 88), report(100, 120)];
        let line = budget.closing_line(&reports).unwrap();
        assert!(
            line.starts_with("obsim: next campaign: --seed-start 220 "),
            "{line}"
        );
        assert_eq!(
            budget.covered_line(&reports[0]).as_deref(),
            Some("     covered: seeds 100 to 187 (88)")
        );
        assert_eq!(campaign(None, false, None).closing_line(&reports), None);
        let shard = Campaign {
            shard: Shard { index: 2, count: 4 },
            ..campaign(None, true, None)
        };
        assert!(shard
            .closing_line(&reports)
            .unwrap()
            .contains("`merge` every shard's"));
    }
}
