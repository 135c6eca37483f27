//! `alerts/` read back: each alert's firing spans on both timelines
//! (`timelines.txt`), and the alerts the claims name that never pended.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::model::{Alert, Firing, Seed};
use super::read::{seconds, text};

/// Blocks of an alert's name, then `  scraped  …` and `  truth    …`.
pub(super) fn read_alerts(text: &str) -> Vec<Alert> {
    let mut out = Vec::new();
    let mut name: Option<&str> = None;
    let mut scraped: Option<Firing> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("  scraped ") {
            scraped = Some(firing(rest.trim()));
        } else if let Some(rest) = line.strip_prefix("  truth ") {
            if let (Some(alert), Some(scraped)) = (name, scraped.take()) {
                out.push(Alert {
                    name: alert.to_string(),
                    scraped,
                    truth: firing(rest.trim()),
                });
            }
        } else if !line.starts_with(' ') && !line.is_empty() {
            name = Some(line);
        }
    }
    out
}

/// `9m15s`, `15m` or `2.5s`, as the alert files write times
/// (`checks::alerts::clock`).
fn clock(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (minutes, rest) = match text.split_once('m') {
        Some((minutes, rest)) => (minutes.parse::<u64>().ok()?, rest),
        None => (0, text),
    };
    let rest = if rest.is_empty() {
        Duration::ZERO
    } else {
        seconds(rest)?
    };
    Some(Duration::from_secs(minutes * 60) + rest)
}

/// The alerts the claims name that `timelines.txt` leaves out: they were
/// never pending or firing on either timeline. Their names come from the
/// rule files' `- alert: Name` lines.
pub(super) fn quiet_alerts(folder: &Path, seed: &Seed) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder.join("alerts/rules")) else {
        return Vec::new();
    };
    let mut names = BTreeSet::new();
    for entry in entries.flatten() {
        let name = format!("alerts/rules/{}", entry.file_name().to_string_lossy());
        let Some(rules) = text(folder, &name, &mut Vec::new()) else {
            continue;
        };
        names.extend(rules.lines().filter_map(|line| {
            let name = line.trim().strip_prefix("- alert:")?.trim();
            Some(name.trim_matches(['"', '\'']).to_string())
        }));
    }
    let words: String = seed
        .claims
        .iter()
        .map(|claim| format!("{} {} ", claim.subject, claim.message))
        .collect();
    names
        .into_iter()
        .filter(|name| {
            !seed
                .alerts
                .iter()
                .any(|alert| alert.name.split('{').next() == Some(name))
        })
        .filter(|name| {
            words
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .any(|word| word == name)
        })
        .collect()
}

/// `firing 2s–4s, 6m–end (9m13.5s)` into its spans.
fn firing(text: &str) -> Firing {
    let spans = text
        .strip_prefix("firing ")
        .map(|list| {
            list.split(", ")
                .filter_map(|span| {
                    let (from, until) = span.split_once('–')?;
                    let until = if until.starts_with("end") {
                        None
                    } else {
                        Some(clock(until)?)
                    };
                    Some((clock(from)?, until))
                })
                .collect()
        })
        .unwrap_or_default();
    Firing {
        text: text.to_string(),
        spans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_spans_are_read_in_seconds_and_minutes_with_an_open_end() {
        let seconds = firing("firing 2s–4.5s, 6s–end (9.23s)");
        assert_eq!(
            seconds.spans,
            [
                (Duration::from_secs(2), Some(Duration::from_millis(4500))),
                (Duration::from_secs(6), None)
            ]
        );
        assert!(firing("never fired (pending only)").spans.is_empty());
        let minutes = firing("firing 9m15s–15m, 20m–end (26m43.538s)");
        assert_eq!(
            minutes.spans,
            [
                (Duration::from_secs(555), Some(Duration::from_secs(900))),
                (Duration::from_secs(1200), None)
            ]
        );
    }
}
