use super::{Check, Violation};
use crate::run::Run;

/// Lines of context shown around the first divergence.
const DIVERGENCE_CONTEXT_LINES: usize = 3;

/// Two runs of one seed captured the same thing, line for line.
pub fn seed_determinism(first: &Run, second: &Run) -> Vec<Violation> {
    // Comparing as data is exact and cheap; the fingerprint's text (a line
    // per span, scrape sample and ledger entry) is built only to say where
    // two runs differ. Data that differs while its text does not (a series
    // order a library takes from a hash map) falls through to the text.
    if identical(first, second) {
        return Vec::new();
    }
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

/// Whether two runs hold equal data in every field the fingerprint reads.
/// It destructures `Run` so that a field added to it cannot be missed here.
fn identical(a: &Run, b: &Run) -> bool {
    let Run {
        scenario,
        seed,
        ended_at,
        spans,
        otel_spans: _,
        lifecycle,
        scrapes,
        faults,
        faults_dropped,
        fault_counts,
        fired_by_entry,
        incarnations,
        outcomes,
        amounts,
        messages,
        storage_ops,
        recovered,
        calls,
        requests,
        dependency_calls,
        plan,
        fixed_faults,
    } = a;
    *scenario == b.scenario
        && *seed == b.seed
        && *ended_at == b.ended_at
        && *spans == b.spans
        && *lifecycle == b.lifecycle
        && *scrapes == b.scrapes
        && *faults == b.faults
        && *faults_dropped == b.faults_dropped
        && *fault_counts == b.fault_counts
        && *fired_by_entry == b.fired_by_entry
        && *incarnations == b.incarnations
        && *outcomes == b.outcomes
        && *amounts == b.amounts
        && *messages == b.messages
        && *storage_ops == b.storage_ops
        && *recovered == b.recovered
        && *calls == b.calls
        && *requests == b.requests
        && *dependency_calls == b.dependency_calls
        && *plan == b.plan
        && *fixed_faults == b.fixed_faults
}
