//! Zeller and Hildebrandt's delta debugging (ddmin), over any list: the
//! smallest sub-list, in order, that still makes `fails` true, within a
//! budget of calls.
//!
//! Deterministic: the same list and the same `fails` give the same answer.
//! The answer is 1-minimal when the budget allows: removing any one of its
//! items makes `fails` false. `fails` is only ever asked about sub-lists, so
//! what it returns is always a list it said fails (or the whole list).

use std::time::Instant;

pub use crate::run::ShrinkBudget;

/// Which bound stopped a shrink before it was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShrinkStop {
    Runs,
    Wall,
}

/// Counts what a shrink has spent against its [`ShrinkBudget`].
#[derive(Debug)]
pub(crate) struct Spend {
    budget: ShrinkBudget,
    started: Instant,
    pub(crate) runs: u32,
    pub(crate) stopped: Option<ShrinkStop>,
}

impl Spend {
    pub(crate) fn new(budget: ShrinkBudget) -> Spend {
        Spend {
            budget,
            started: Instant::now(),
            runs: 0,
            stopped: None,
        }
    }

    /// Takes one candidate run, or says which bound is spent.
    pub(crate) fn take(&mut self) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if self.runs >= self.budget.runs_max {
            self.stopped = Some(ShrinkStop::Runs);
            return false;
        }
        if self.started.elapsed() >= self.budget.wall_max {
            self.stopped = Some(ShrinkStop::Wall);
            return false;
        }
        self.runs += 1;
        true
    }
}

/// The smallest sub-list of `items` found for which `fails` holds, given
/// that it holds for `items`. Stops early, keeping the smallest so far, when
/// `spend` runs out.
pub(crate) fn ddmin<T: Clone>(
    items: Vec<T>,
    spend: &mut Spend,
    mut fails: impl FnMut(&[T]) -> bool,
) -> Vec<T> {
    // Many bugs need no fault at all: one run says so.
    if items.is_empty() || (spend.take() && fails(&[])) {
        return Vec::new();
    }
    let mut current = items;
    let mut parts = 2;
    while current.len() >= 2 && spend.stopped.is_none() {
        let chunks = split(&current, parts);
        if let Some(chunk) = first_failing(&chunks, spend, &mut fails, |i| chunks[i].clone()) {
            current = chunk;
            parts = 2;
            continue;
        }
        // With two parts, each complement is the other part: already tried.
        if parts > 2 {
            let complement = |i: usize| -> Vec<T> {
                let others = chunks.iter().enumerate().filter(|(j, _)| *j != i);
                others
                    .flat_map(|(_, chunk)| chunk.iter().cloned())
                    .collect()
            };
            if let Some(rest) = first_failing(&chunks, spend, &mut fails, complement) {
                current = rest;
                parts = (parts - 1).max(2);
                continue;
            }
        }
        if parts >= current.len() {
            break;
        }
        parts = (parts * 2).min(current.len());
    }
    current
}

/// The first of `candidate(0..chunks.len())` for which `fails` holds.
fn first_failing<T>(
    chunks: &[Vec<T>],
    spend: &mut Spend,
    fails: &mut impl FnMut(&[T]) -> bool,
    candidate: impl Fn(usize) -> Vec<T>,
) -> Option<Vec<T>> {
    for index in 0..chunks.len() {
        if !spend.take() {
            return None;
        }
        let list = candidate(index);
        if fails(&list) {
            return Some(list);
        }
    }
    None
}

/// `items` cut into `parts` runs of nearly equal length, in order.
fn split<T: Clone>(items: &[T], parts: usize) -> Vec<Vec<T>> {
    let parts = parts.clamp(1, items.len().max(1));
    let (size, extra) = (items.len() / parts, items.len() % parts);
    let mut chunks = Vec::with_capacity(parts);
    let mut start = 0;
    for part in 0..parts {
        let length = size + usize::from(part < extra);
        chunks.push(items[start..start + length].to_vec());
        start += length;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn budget(runs_max: u32) -> Spend {
        Spend::new(ShrinkBudget {
            runs_max,
            wall_max: Duration::from_secs(60),
        })
    }

    #[test]
    fn two_needles_in_a_hundred_are_found_and_nothing_else() {
        let items: Vec<u32> = (0..100).collect();
        let mut spend = budget(1_000);
        let found = ddmin(items, &mut spend, |list| {
            list.contains(&17) && list.contains(&83)
        });
        assert_eq!(found, [17, 83]);
        assert!(spend.stopped.is_none());
        assert!(spend.runs < 100, "{} runs", spend.runs);
    }

    #[test]
    fn a_failure_that_needs_no_item_shrinks_to_none_in_one_run() {
        let mut spend = budget(1_000);
        assert!(ddmin(vec![1, 2, 3], &mut spend, |_| true).is_empty());
        assert_eq!(spend.runs, 1);
    }

    #[test]
    fn the_result_is_one_minimal_and_keeps_order() {
        // Fails when at least three odd numbers are present.
        let fails = |list: &[u32]| list.iter().filter(|n| *n % 2 == 1).count() >= 3;
        let found = ddmin((0..40).collect(), &mut budget(10_000), fails);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.windows(2).all(|pair| pair[0] < pair[1]));
        for skip in 0..found.len() {
            let mut fewer = found.clone();
            fewer.remove(skip);
            assert!(!fails(&fewer), "{fewer:?} still fails");
        }
    }

    #[test]
    fn a_spent_budget_stops_with_a_list_that_still_fails() {
        let items: Vec<u32> = (0..1_000).collect();
        let fails = |list: &[u32]| list.contains(&999) && list.contains(&3);
        let mut spend = budget(5);
        let found = ddmin(items, &mut spend, fails);
        assert_eq!(spend.stopped, Some(ShrinkStop::Runs));
        assert_eq!(spend.runs, 5);
        assert!(fails(&found), "what a spent budget hands back still fails");
    }

    #[test]
    fn it_is_deterministic() {
        let fails = |list: &[u32]| list.iter().sum::<u32>() > 500;
        let once = ddmin((0..60).collect(), &mut budget(300), fails);
        let twice = ddmin((0..60).collect(), &mut budget(300), fails);
        assert_eq!(once, twice);
    }
}
