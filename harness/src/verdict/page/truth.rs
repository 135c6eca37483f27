//! `truth.txt` read back: the ground-truth series of the charted families.

use std::collections::BTreeSet;

use super::model::Truth;
use super::read::seconds;

/// Histogram and summary sample suffixes.
const SUFFIXES: [&str; 5] = ["_bucket", "_count", "_sum", "_gcount", "_gsum"];

fn charted_name(name: &str, charted: &BTreeSet<String>) -> bool {
    charted.contains(name)
        || SUFFIXES
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .any(|stem| charted.contains(stem))
}

/// `a="1",b="x\"y"` into its pairs, values unescaped; None if malformed.
fn pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (index, c) = chars.next()?;
            match c {
                '\\' => value.push(match chars.next()?.1 {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                }),
                '"' => break index,
                c => value.push(c),
            }
        };
        out.push((key.to_string(), value));
        rest = after[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&after[end + 1..]);
    }
    Some(out)
}

/// `name{instance="server-0",job="x",a="1"}` as (series without the
/// target's labels, node).
fn header(line: &str) -> Option<(String, String)> {
    let (name, labels) = match line.split_once('{') {
        Some((name, labels)) => (name, labels.strip_suffix('}')?),
        None => (line, ""),
    };
    let mut node = None;
    let mut own = Vec::new();
    for (key, value) in pairs(labels)? {
        match key.as_str() {
            "instance" => node = Some(value),
            "job" => {}
            _ => own.push(format!("{key}={value:?}")),
        }
    }
    let series = if own.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", own.join(","))
    };
    Some((series, node?))
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
