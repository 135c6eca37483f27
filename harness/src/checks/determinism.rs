use super::{Check, Violation};
use crate::run::{Run, SpanDigest};

/// Lines of context shown around the first divergence.
const DIVERGENCE_CONTEXT_LINES: usize = 3;

/// Two runs of one seed captured the same thing, line for line.
pub fn seed_determinism(first: &Run, second: &Run) -> Vec<Violation> {
    // Comparing as data is exact and cheap; the fingerprint's text (a line
    // per span, scrape sample and ledger entry) is built only to say where
    // two runs differ. Data that differs while its text does not (a series
    // order a library takes from a hash map) falls through to the text.
    if identical(first, second, true) {
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

/// Whether `second`, a run of the same seed that folded its spans into
/// `digest` instead of keeping them, captured exactly what `first` did: the
/// same spans (by digest) and equal data in every other field.
pub(crate) fn same_as_first(first: &Run, second: &Run, digest: SpanDigest) -> Option<Divergence> {
    if crate::run::digest(&first.spans) != digest {
        return Some(Divergence::Spans);
    }
    // Data that differs while its text does not (a series order a library
    // takes from a hash map) is the same capture, as for two full runs.
    let same = identical(first, second, false)
        || first.fingerprint_without_spans() == second.fingerprint_without_spans();
    (!same).then_some(Divergence::Data)
}

/// What differed between two runs of a seed, when only one kept its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Divergence {
    Spans,
    Data,
}

/// The violation for a seed whose second run diverged from its first while
/// a third run, kept in full to show where, matched the first.
pub(crate) fn intermittent(first: &Run, divergence: Divergence) -> Violation {
    let what = match divergence {
        Divergence::Spans => "spans",
        Divergence::Data => "telemetry or ground truth (scrapes, finals, ledger or fault log)",
    };
    Violation {
        check: Check::SeedDeterminism,
        subject: format!("seed {}", first.seed),
        node: None,
        at: None,
        message: format!(
            "three runs of seed {} disagree: the second captured different {what} than the \
             first, and a third, kept in full to show where, matched the first. The \
             nondeterminism comes and goes: look for real time, thread timing, or state kept \
             between runs (a static, a global registry or provider)",
            first.seed
        ),
    }
}

/// Whether two runs hold equal data in every field the fingerprint reads
/// (spans too, with `spans`). It destructures `Run` so that a field added
/// to it cannot be missed here.
fn identical(a: &Run, b: &Run, with_spans: bool) -> bool {
    let Run {
        scenario,
        seed,
        ended_at,
        spans,
        otel_spans: _,
        logs,
        otel_logs: _,
        secrets_asked,
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
        fault_schedule,
    } = a;
    *scenario == b.scenario
        && *seed == b.seed
        && *ended_at == b.ended_at
        && (!with_spans || *spans == b.spans)
        && *logs == b.logs
        && *secrets_asked == b.secrets_asked
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
        && *fault_schedule == b.fault_schedule
        && *dependency_calls == b.dependency_calls
        && *plan == b.plan
        && *fixed_faults == b.fixed_faults
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::lint::tests::run_with_finals;
    use crate::run::{digest, SpanOrigin, SpanRecord, SpanStatus};

    fn span(name: &str) -> SpanRecord {
        SpanRecord {
            trace_id: crate::run::TraceId(0x0101_0101_0101_0101_0101_0101_0101_0101),
            span_id: crate::run::SpanId(0x0202_0202_0202_0202),
            parent_span_id: None,
            name: name.into(),
            kind: "internal".into(),
            origin: SpanOrigin::default(),
            start_ns: 1,
            end_ns: 2,
            status: SpanStatus::Unset,
            attributes: vec![("actor.id".into(), "7".into())],
            events: Vec::new(),
        }
    }

    fn run(span_name: &str, final_text: &str) -> Run {
        let mut run = run_with_finals(&[final_text]);
        run.spans = vec![span(span_name)];
        run
    }

    /// The second run as `Sim::run_for_determinism` hands it over.
    fn folded(run: Run) -> (Run, SpanDigest) {
        let digest = digest(&run.spans);
        (
            Run {
                spans: Vec::new(),
                ..run
            },
            digest,
        )
    }

    #[test]
    fn a_rerun_that_folded_its_spans_matches_only_the_same_capture() {
        let first = run("actor.invoke", "a 1\n");
        let (same, same_digest) = folded(run("actor.invoke", "a 1\n"));
        assert_eq!(same_as_first(&first, &same, same_digest), None);
        let (renamed, renamed_digest) = folded(run("actor.invok", "a 1\n"));
        assert_eq!(
            same_as_first(&first, &renamed, renamed_digest),
            Some(Divergence::Spans)
        );
        let (recounted, recounted_digest) = folded(run("actor.invoke", "a 2\n"));
        assert_eq!(
            same_as_first(&first, &recounted, recounted_digest),
            Some(Divergence::Data)
        );
        // One attribute value apart is apart.
        let mut other = run("actor.invoke", "a 1\n");
        other.spans[0].attributes[0].1 = "8".into();
        let (other, other_digest) = folded(other);
        assert_eq!(
            same_as_first(&first, &other, other_digest),
            Some(Divergence::Spans)
        );
    }

    #[test]
    fn a_rerun_whose_series_come_in_another_order_matches() {
        let first = run(
            "actor.invoke",
            "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 2\n",
        );
        let (reordered, digest) = folded(run(
            "actor.invoke",
            "# TYPE a gauge\na{x=\"2\"} 2\na{x=\"1\"} 1\n",
        ));
        assert_eq!(same_as_first(&first, &reordered, digest), None);
    }

    #[test]
    fn an_intermittent_divergence_names_the_seed_and_what_differed() {
        let first = run("actor.invoke", "a 1\n");
        let violation = intermittent(&first, Divergence::Spans);
        assert_eq!(violation.check, Check::SeedDeterminism);
        assert!(
            violation.message.starts_with(
                "three runs of seed 1 disagree: the second captured different spans than the first"
            ),
            "{}",
            violation.message
        );
    }
}
