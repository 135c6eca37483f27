use super::{Check, Violation};
use crate::run::Run;

/// Lines of context shown around the first divergence.
const DIVERGENCE_CONTEXT_LINES: usize = 3;

/// Two runs of one seed captured the same thing, line for line.
pub fn seed_determinism(first: &Run, second: &Run) -> Vec<Violation> {
    let (a, b) = (first.fingerprint(), second.fingerprint());
    let Some(index) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) else {
        return Vec::new();
    };
    // Lines before the first divergence are equal by definition: show them
    // once, then the two lines that differ.
    let shared: Vec<String> = (index.saturating_sub(DIVERGENCE_CONTEXT_LINES)..index)
        .map(|i| format!("      {:>6}: {}", i + 1, a[i]))
        .collect();
    vec![Violation {
        check: Check::SeedDeterminism,
        subject: format!("fingerprint line {}", index + 1),
        node: None,
        at: None,
        message: format!(
            "two runs of seed {} diverge.\n    same in both runs:\n{}\n    first run:\n{}\n    second run:\n{}",
            first.seed,
            if shared.is_empty() { "      (nothing: line 1 differs)".to_string() } else { shared.join("\n") },
            from_divergence(&a, index),
            from_divergence(&b, index),
        ),
    }]
}

/// The diverging line of one run and a few after it, so the reader sees
/// whether the runs differ in one value or went separate ways.
fn from_divergence(lines: &[String], index: usize) -> String {
    let shown: Vec<String> = (index..index + 1 + DIVERGENCE_CONTEXT_LINES)
        .filter_map(|i| Some(format!("      {:>6}: {}", i + 1, lines.get(i)?)))
        .collect();
    if shown.is_empty() {
        return "      <no line: the run ended before it>".into();
    }
    shown.join("\n")
}
