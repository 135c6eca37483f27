//! `truth.txt` read back: the ground-truth series of the charted families.

use std::collections::BTreeSet;

use super::model::Truth;
use super::read::seconds;
use crate::run::exposition;

/// Histogram and summary sample suffixes.
const SUFFIXES: [&str; 5] = ["_bucket", "_count", "_sum", "_gcount", "_gsum"];

fn charted_name(name: &str, charted: &BTreeSet<String>) -> bool {
    charted.contains(name)
        || SUFFIXES
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .any(|stem| charted.contains(stem))
}

/// `name{instance="server-0",job="x",a="1"}` as (series without the
/// target's labels, node), read by the exposition parser that reads
/// `scrapes.txt`, so both name a series alike (`Sample::series`).
fn header(line: &str) -> Option<(String, String)> {
    let parsed = exposition::parse(&format!("{line} 0\n")).ok()?;
    let mut sample = parsed
        .families
        .into_iter()
        .next()?
        .samples
        .into_iter()
        .next()?;
    let node = sample.label("instance")?.to_string();
    sample
        .labels
        .retain(|(key, _)| key != "instance" && key != "job");
    Some((sample.series(), node))
}

pub(super) fn read_truth(text: &str, charted: &BTreeSet<String>) -> Vec<Truth> {
    let mut out: Vec<Truth> = Vec::new();
    let mut current: Option<Truth> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            out.extend(current.take());
            let wanted = charted_name(name.split('{').next().unwrap_or(name), charted);
            current = header(name).filter(|_| wanted).map(|(series, node)| Truth {
                series,
                node,
                points: Vec::new(),
            });
        } else if let Some(truth) = current.as_mut() {
            let Some((at, value)) = line.split_once(' ') else {
                continue;
            };
            let Some(at) = seconds(&format!("{at}s")) else {
                continue;
            };
            truth.points.push((at, value.parse().ok()));
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truth_series_is_named_as_its_scraped_series_on_its_node() {
        let text = "# head\n\n=== calls_total{instance=\"server-1\",job=\"actors\",outcome=\"a\\\"b\"}\n1.000 3\n2.000 stale\n\n=== other_total{instance=\"server-1\",job=\"actors\"}\n1.000 1\n";
        let charted: BTreeSet<String> = ["calls_total".to_string()].into();
        let truth = read_truth(text, &charted);
        assert_eq!(truth.len(), 1);
        assert_eq!(truth[0].series, "calls_total{outcome=\"a\\\"b\"}");
        assert_eq!(truth[0].node, "server-1");
        assert_eq!(
            truth[0].points,
            [
                (std::time::Duration::from_secs(1), Some(3.0)),
                (std::time::Duration::from_secs(2), None)
            ]
        );
    }
}
