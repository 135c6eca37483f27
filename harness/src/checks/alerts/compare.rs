//! Where the two timelines disagree: an alert firing at an instant on one
//! while the other has it firing at no instant within the tolerance.

use std::collections::BTreeSet;

use obsim_rules::{AlertState, Labels, Timeline, ALERT_NAME};

/// Which timeline an alert fired on alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Scraped,
    Truth,
}

/// One stretch of instants at which an alert fired on `side` alone.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Disagreement {
    pub labels: Labels,
    pub side: Side,
    /// The first and last instant of the stretch.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Instants in all such stretches of this alert on this side.
    pub instants: usize,
    pub tolerance_ms: i64,
}

/// Every alert's disagreements, the first stretch of each (alert, side).
pub(super) fn disagreements(
    scraped: &Timeline,
    truth: &Timeline,
    instants: &[i64],
    tolerance_ms: impl Fn(&str) -> i64,
) -> Vec<Disagreement> {
    let keys: BTreeSet<&Labels> = scraped.alerts.keys().chain(truth.alerts.keys()).collect();
    let mut found = Vec::new();
    for key in keys {
        let name = key.get(ALERT_NAME).map_or("", String::as_str);
        let tolerance = tolerance_ms(name);
        let firing = |timeline: &Timeline| -> Vec<bool> {
            let alert = timeline.alerts.get(key);
            instants
                .iter()
                .map(|t| alert.is_some_and(|a| a.state_at(*t) == AlertState::Firing))
                .collect()
        };
        let (on_scraped, on_truth) = (firing(scraped), firing(truth));
        for (side, alone, other) in [
            (Side::Scraped, &on_scraped, &on_truth),
            (Side::Truth, &on_truth, &on_scraped),
        ] {
            if let Some(disagreement) = first_stretch(key, side, alone, other, instants, tolerance)
            {
                found.push(disagreement);
            }
        }
    }
    found
}

/// The first stretch of instants where `alone` fires and `other` fires at
/// no instant within `tolerance`, with the count of all such instants.
fn first_stretch(
    key: &Labels,
    side: Side,
    alone: &[bool],
    other: &[bool],
    instants: &[i64],
    tolerance: i64,
) -> Option<Disagreement> {
    // Firing instants of `other` counted up to each index.
    let mut before = Vec::with_capacity(other.len() + 1);
    before.push(0usize);
    for (at, firing) in other.iter().enumerate() {
        before.push(before[at] + usize::from(*firing));
    }
    let mut stretch: Option<(i64, i64)> = None;
    let mut first: Option<(i64, i64)> = None;
    let mut count = 0;
    for (at, t) in instants.iter().enumerate() {
        let lonely = alone[at] && {
            let lo = instants.partition_point(|s| *s < t - tolerance);
            let hi = instants.partition_point(|s| *s <= t + tolerance);
            before[hi] == before[lo]
        };
        if lonely {
            count += 1;
            stretch = Some(stretch.map_or((*t, *t), |(from, _)| (from, *t)));
        } else if let Some(done) = stretch.take() {
            first.get_or_insert(done);
        }
    }
    if let Some(done) = stretch {
        first.get_or_insert(done);
    }
    let (from_ms, to_ms) = first?;
    Some(Disagreement {
        labels: key.clone(),
        side,
        from_ms,
        to_ms,
        instants: count,
        tolerance_ms: tolerance,
    })
}

/// `2m15s`, `45s`, `1.5s`: an instant or span for a person.
pub fn clock(ms: i64) -> String {
    let (minutes, rest_ms) = (ms / 60_000, ms % 60_000);
    let seconds = if rest_ms % 1000 == 0 {
        format!("{}s", rest_ms / 1000)
    } else {
        format!("{}s", rest_ms as f64 / 1000.0)
    };
    match (minutes, rest_ms) {
        (0, _) => seconds,
        (m, 0) => format!("{m}m"),
        (m, _) => format!("{m}m{seconds}"),
    }
}

/// An alert's firing spans, `2m15s–6m`, at most `shown_max` of them.
pub(super) fn firing_spans(timeline: &Timeline, key: &Labels, end_ms: i64) -> String {
    let Some(alert) = timeline.alerts.get(key) else {
        return "never fired".into();
    };
    let spans = alert.firing();
    if spans.is_empty() {
        return "never fired (pending only)".into();
    }
    const SHOWN_MAX: usize = 5;
    let mut parts: Vec<String> = spans
        .iter()
        .take(SHOWN_MAX)
        .map(|(from, until)| match until {
            Some(until) => format!("{}–{}", clock(*from), clock(*until)),
            None => format!("{}–end ({})", clock(*from), clock(end_ms)),
        })
        .collect();
    if spans.len() > SHOWN_MAX {
        parts.push(format!("and {} more", spans.len() - SHOWN_MAX));
    }
    format!("firing {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_within_tolerance_agrees_and_a_lonely_stretch_does_not() {
        let instants: Vec<i64> = (0..10).map(|k| k * 15_000).collect();
        let key = Labels::new();
        let alone = [
            false, true, true, false, false, false, false, true, true, false,
        ];
        let other = [
            false, false, true, true, false, false, false, false, false, false,
        ];
        let found = first_stretch(&key, Side::Scraped, &alone, &other, &instants, 15_000);
        let found = found.unwrap();
        assert_eq!(
            (found.from_ms, found.to_ms, found.instants),
            (105_000, 120_000, 2)
        );
        assert!(first_stretch(&key, Side::Truth, &other, &alone, &instants, 15_000).is_none());
    }

    #[test]
    fn clock_reads_as_a_person_writes_it() {
        assert_eq!(clock(135_000), "2m15s");
        assert_eq!(clock(120_000), "2m");
        assert_eq!(clock(45_000), "45s");
        assert_eq!(clock(1_500), "1.5s");
    }
}
