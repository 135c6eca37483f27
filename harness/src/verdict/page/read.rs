//! Reading a seed's artifact folder back into a [`Seed`]. Each file is read
//! within a size bound; a file that is missing (older obsim wrote fewer),
//! too large or unreadable leaves its part of the page empty and a note
//! saying why, so a page is always written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::focus;
use super::model::{Claim, FaultEvent, Incarnation, Scrape, Seed};
use super::otlp;
use crate::run::exposition;

/// Text files larger than this are not read: report, faults, scrapes and
/// finals of the largest runs obsim allows stay well within it.
const TEXT_BYTES_MAX: u64 = 256 << 20;

/// Reads `folder`. Only an unreadable `report.txt` is an error: without it
/// there is no failure to show.
pub(crate) fn read(folder: &Path) -> Result<Seed, String> {
    let mut seed = Seed::default();
    let report = text(folder, "report.txt", &mut seed.notes)
        .ok_or_else(|| format!("{}: no readable report.txt", folder.display()))?;
    read_report(&report, &mut seed);
    if let Some(timebase) = text(folder, "timebase.txt", &mut Vec::new()) {
        seed.timebase_ns = timebase
            .lines()
            .find(|line| !line.starts_with('#') && !line.trim().is_empty())
            .and_then(|line| line.trim().parse().ok());
    }
    if let Some(scenario) = text(folder, "scenario.toml", &mut seed.notes) {
        seed.planned = planned(&scenario);
    }
    if let Some(faults) = text(folder, "faults.txt", &mut seed.notes) {
        read_faults(&faults, &mut seed);
    }
    let finals = text(folder, "finals.txt", &mut seed.notes).unwrap_or_default();
    let scrapes = text(folder, "scrapes.txt", &mut seed.notes).unwrap_or_default();
    let families = family_names(&finals, &scrapes);
    seed.charted = focus::families(&seed.claims, &families);
    let charted: BTreeSet<String> = seed.charted.iter().cloned().collect();
    seed.incarnations = incarnations(&finals, &charted);
    seed.scrapes = read_scrapes(&scrapes, &charted);
    if let Some(truth) = text(folder, "truth.txt", &mut Vec::new()) {
        seed.truth = super::truth::read_truth(&truth, &charted);
    }
    otlp::read_traces(folder, &mut seed);
    otlp::read_logs(folder, &mut seed);
    if let Some(alerts) = text(folder, "alerts/timelines.txt", &mut Vec::new()) {
        seed.alerts = super::alerts::read_alerts(&alerts);
        seed.quiet_alerts = super::alerts::quiet_alerts(folder, &seed);
    }
    if seed.ended_at.is_none() {
        seed.ended_at = latest(&seed);
    }
    Ok(seed)
}

/// A text file of the folder, or None with a note saying why.
pub(super) fn text(folder: &Path, name: &str, notes: &mut Vec<String>) -> Option<String> {
    let path = folder.join(name);
    if !path.exists() {
        notes.push(format!("{name} is not in the folder"));
        return None;
    }
    match obsim_rules::input::read_text(&path, TEXT_BYTES_MAX, "an artifact file") {
        Ok(text) => Some(text),
        Err(error) => {
            notes.push(format!("{name} was not read: {error}"));
            None
        }
    }
}

/// `12.5s` or `0.006185s` as a duration; None if it is not one.
pub(super) fn seconds(text: &str) -> Option<Duration> {
    let number = text.trim().strip_suffix('s')?;
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value))
}

fn read_report(report: &str, seed: &mut Seed) {
    let mut lines = report.lines();
    seed.headline = lines.next().unwrap_or_default().to_string();
    if let Some(rest) = seed.headline.strip_prefix("obsim: scenario `") {
        if let Some((scenario, rest)) = rest.split_once("` seed ") {
            seed.scenario = scenario.to_string();
            let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
            seed.seed = number.parse().ok();
            if let Some((_, error)) = rest.split_once(" did not complete: ") {
                seed.run_error = Some(error.to_string());
            }
        }
    }
    // The claims come first, a line each (a long message may run over);
    // the first line that is not indented ends them.
    let mut in_claims = true;
    for line in lines {
        in_claims &= line.starts_with("  ");
        if let Some(claim) = line.strip_prefix("  [").filter(|_| in_claims) {
            seed.claims.push(claim_of(claim));
        } else if let Some(replay) = line.strip_prefix("replay: ") {
            seed.replay = Some(replay.to_string());
        } else if let Some(at) = line.strip_prefix("ended at: ") {
            seed.ended_at = seconds(at);
        } else if in_claims {
            // A claim's message that ran over a line.
            if let Some(last) = seed.claims.last_mut() {
                last.message.push('\n');
                last.message.push_str(line.trim());
            }
        }
    }
}

/// `check] subject[ on node][ at 1.234s]: message`, as `Violation` words it.
/// The subject ends at the first `: ` outside quotes and backticks.
pub(super) fn claim_of(line: &str) -> Claim {
    let Some((check, rest)) = line.split_once("] ") else {
        return Claim {
            message: line.to_string(),
            ..Claim::default()
        };
    };
    let split = head_end(rest);
    let (mut head, message) = match split {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, ""),
    };
    let mut claim = Claim {
        check: check.to_string(),
        message: message.to_string(),
        ..Claim::default()
    };
    if let Some((before, at)) = head.rsplit_once(" at ") {
        if let Some(at) = seconds(at) {
            claim.at = Some(at);
            head = before;
        }
    }
    if let Some((before, node)) = head.rsplit_once(" on ") {
        if !node.is_empty() && !node.contains([' ', '`', '"']) {
            claim.node = Some(node.to_string());
            head = before;
        }
    }
    claim.subject = head.to_string();
    claim
}

fn head_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let bytes = text.as_bytes();
    for (index, c) in text.char_indices() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '`' || c == '"' => quote = Some(c),
            None if c == ':' && bytes.get(index + 1) == Some(&b' ') => return Some(index),
            None => {}
        }
    }
    None
}

/// The planned faults from `scenario.toml`'s closing comments.
fn planned(scenario: &str) -> Vec<String> {
    let Some((_, tail)) = scenario.split_once("# --- the run behind these artifacts ---") else {
        return Vec::new();
    };
    tail.lines()
        .filter_map(|line| line.strip_prefix("#   "))
        .filter(|line| *line != "(none)")
        .map(str::to_string)
        .collect()
}

/// `    1.500000s node_crash server-1`, one event a line.
fn read_faults(faults: &str, seed: &mut Seed) {
    for line in faults.lines() {
        if let Some(dropped) = line.strip_prefix("dropped: ") {
            seed.faults_dropped = dropped.trim().parse().unwrap_or(0);
            continue;
        }
        let mut words = line.trim_start().splitn(3, ' ');
        let (Some(at), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(at) = seconds(at) else { continue };
        seed.faults.push(FaultEvent {
            at,
            kind: kind.to_string(),
            target: words.next().unwrap_or_default().to_string(),
        });
    }
}

/// Each `=== ` header of `text` with the body below it.
fn blocks(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split("\n=== ").skip(1).map(|block| {
        let (header, body) = block.split_once('\n').unwrap_or((block, ""));
        (header, body)
    })
}

fn family_names(finals: &str, scrapes: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (_, body) in blocks(finals).chain(blocks(scrapes)) {
        if let Ok(parsed) = exposition::parse(body) {
            names.extend(parsed.families.into_iter().map(|family| family.name));
        }
    }
    names
}

/// The samples of `body` in the charted families, by series.
fn samples(body: &str, charted: &BTreeSet<String>) -> BTreeMap<String, f64> {
    let Ok(parsed) = exposition::parse(body) else {
        return BTreeMap::new();
    };
    parsed
        .families
        .iter()
        .filter(|family| charted.contains(&family.name))
        .flat_map(|family| &family.samples)
        .map(|sample| (sample.series(), sample.value))
        .collect()
}

/// `server-1 incarnation 0: booted at 0.000000s, lived until crash at 1.5s`.
fn incarnations(finals: &str, charted: &BTreeSet<String>) -> Vec<Incarnation> {
    let mut out = Vec::new();
    for (header, body) in blocks(finals) {
        let Some((node, rest)) = header.split_once(" incarnation ") else {
            continue;
        };
        let Some((number, rest)) = rest.split_once(": booted at ") else {
            continue;
        };
        let Some((started, until)) = rest.split_once(", lived until ") else {
            continue;
        };
        let (Ok(number), Some(started_at)) = (number.parse(), seconds(started)) else {
            continue;
        };
        out.push(Incarnation {
            node: node.to_string(),
            number,
            started_at,
            crashed_at: until.strip_prefix("crash at ").and_then(seconds),
            finals: samples(body, charted),
        });
    }
    out
}

/// `scrape #0 server-0 at 1.001001s (ended 1.008512s) incarnation 0 up`.
fn read_scrapes(scrapes: &str, charted: &BTreeSet<String>) -> Vec<Scrape> {
    let mut out = Vec::new();
    for (header, body) in blocks(scrapes) {
        let mut words = header.split(' ');
        let (Some(_), Some(_), Some(node), Some(_), Some(at)) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            continue;
        };
        let Some(at) = seconds(at) else { continue };
        let Some((_, health)) = header.split_once(" incarnation ") else {
            continue;
        };
        let (incarnation, health) = health.split_once(' ').unwrap_or((health, ""));
        let down = match health {
            "up" => None,
            "down" => Some("down".to_string()),
            other => Some(other.strip_prefix("down: ").unwrap_or(other).to_string()),
        };
        out.push(Scrape {
            node: node.to_string(),
            at,
            incarnation: incarnation.parse().ok(),
            samples: if down.is_none() {
                samples(body, charted)
            } else {
                BTreeMap::new()
            },
            down,
        });
    }
    out
}

/// The latest instant anything was recorded at, for a report with no end.
fn latest(seed: &Seed) -> Option<Duration> {
    let faults = seed.faults.iter().map(|fault| fault.at);
    let scrapes = seed.scrapes.iter().map(|scrape| scrape.at);
    faults.chain(scrapes).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_line_splits_into_check_subject_node_time_and_message() {
        let claim = claim_of(
            "gauge_consistency] actors_active on server-2 at 1.001s: is 24: the gauge drifted",
        );
        assert_eq!(claim.check, "gauge_consistency");
        assert_eq!(claim.subject, "actors_active");
        assert_eq!(claim.node.as_deref(), Some("server-2"));
        assert_eq!(claim.at, Some(Duration::from_millis(1001)));
        assert_eq!(claim.message, "is 24: the gauge drifted");
    }

    #[test]
    fn a_quoted_colon_stays_in_the_subject() {
        let claim =
            claim_of("log_correlation] log event \"write failed: disk\" on client: no trace");
        assert_eq!(claim.subject, "log event \"write failed: disk\"");
        assert_eq!(claim.node.as_deref(), Some("client"));
        assert_eq!(claim.at, None);
        assert_eq!(claim.message, "no trace");
    }
}
