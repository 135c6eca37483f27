//! The invariants. Each check reads a finished [`Run`] (determinism reads
//! two) and says exactly what broke: the series or span, the node, the
//! simulated time. The seed and the replay command are added by the verdict.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use obsim_faults::{Fault, FaultEvent, FaultKind};

use crate::run::Run;
use crate::scraper::Scrape;

/// The checks obsim runs, by their stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    CounterMonotonicity,
    /// Gauges that count things never go negative and balance with the
    /// counters that move them.
    GaugeConsistency,
    /// Final counter values equal the harness's own record of what happened,
    /// and no scrape saw more than the final values.
    MetricAccuracy,
    /// Histograms are internally consistent, and each timed operation lands
    /// in the bucket the harness's clock says it should.
    HistogramCorrectness,
    /// Every span closes; failed and crash-cancelled work ends in error.
    SpanCompletion,
    /// Parents exist in the same trace; one client request, one trace.
    TraceIntegrity,
    /// Prometheus naming, HELP, label cardinality, and `promtool check metrics`.
    ExpositionLint,
    SeedDeterminism,
    /// Every fault of the plan fired: the run really tested what it claims.
    FaultsFired,
    /// A scenario's own expectation held.
    Expectation,
}

impl Check {
    /// The invariants of instrumentation: what a scenario's `checks` picks from.
    pub const INVARIANTS: [Check; 8] = [
        Check::CounterMonotonicity,
        Check::GaugeConsistency,
        Check::MetricAccuracy,
        Check::HistogramCorrectness,
        Check::SpanCompletion,
        Check::TraceIntegrity,
        Check::ExpositionLint,
        Check::SeedDeterminism,
    ];

    pub const ALL: [Check; 10] = [
        Check::CounterMonotonicity,
        Check::GaugeConsistency,
        Check::MetricAccuracy,
        Check::HistogramCorrectness,
        Check::SpanCompletion,
        Check::TraceIntegrity,
        Check::ExpositionLint,
        Check::SeedDeterminism,
        Check::FaultsFired,
        Check::Expectation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::CounterMonotonicity => "counter_monotonicity",
            Check::GaugeConsistency => "gauge_consistency",
            Check::MetricAccuracy => "metric_accuracy",
            Check::HistogramCorrectness => "histogram_correctness",
            Check::SpanCompletion => "span_completion",
            Check::TraceIntegrity => "trace_integrity",
            Check::ExpositionLint => "exposition_lint",
            Check::SeedDeterminism => "seed_determinism",
            Check::FaultsFired => "faults_fired",
            Check::Expectation => "expectation",
        }
    }

    /// The names a scenario's `checks` list may use.
    pub fn invariant_names() -> Vec<&'static str> {
        Check::INVARIANTS.into_iter().map(Check::as_str).collect()
    }
}

impl FromStr for Check {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Check::ALL
            .into_iter()
            .find(|check| check.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown check {text:?}: expected one of {}",
                    Check::invariant_names().join(", ")
                )
            })
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub check: Check,
    /// The metric series or span the violation is about.
    pub subject: String,
    pub node: Option<String>,
    /// Simulated time since the run started.
    pub at: Option<Duration>,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.check, self.subject)?;
        if let Some(node) = &self.node {
            write!(f, " on {node}")?;
        }
        if let Some(at) = self.at {
            write!(f, " at {:.3}s", at.as_secs_f64())?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Counters, and the `_count`, `_sum` and `_bucket` samples of histograms,
/// never go down between two scrapes of one node incarnation. A lower value
/// in a later incarnation is a reset, allowed only across a restart that the
/// fault log recorded in between.
pub fn counter_monotonicity(run: &Run) -> Vec<Violation> {
    let mut by_node: BTreeMap<&str, Vec<&Scrape>> = BTreeMap::new();
    for scrape in run.scrapes.iter().filter(|scrape| scrape.up) {
        by_node.entry(&scrape.node).or_default().push(scrape);
    }
    let mut violations = Vec::new();
    for scrapes in by_node.values() {
        check_node_counters(run, scrapes, &mut violations);
    }
    violations
}

/// The last value seen of each cumulative series, and where it was seen.
struct Seen {
    value: f64,
    at: Duration,
}

fn check_node_counters(run: &Run, scrapes: &[&Scrape], violations: &mut Vec<Violation>) {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut previous: Option<&Scrape> = None;
    for scrape in scrapes {
        if let Some(before) = previous.filter(|before| before.incarnation != scrape.incarnation) {
            // Up to when the answer came: a delayed request can be answered
            // by an incarnation that booted after the scrape was sent.
            if !restart_recorded(run, &scrape.node, before.at, scrape.ended_at) {
                violations.push(Violation {
                    check: Check::CounterMonotonicity,
                    subject: "node incarnation".into(),
                    node: Some(scrape.node.clone()),
                    at: Some(scrape.at),
                    message: format!(
                        "counters reset (incarnation {:?} -> {:?}) with no restart recorded since {:.3}s",
                        before.incarnation,
                        scrape.incarnation,
                        before.at.as_secs_f64()
                    ),
                });
            }
            seen.clear();
        }
        let Some(exposition) = &scrape.exposition else {
            continue;
        };
        for (kind, sample) in exposition.samples() {
            if !kind.is_cumulative() || sample.label("quantile").is_some() {
                continue;
            }
            let series = sample.series();
            if let Some(last) = seen.get(&series).filter(|last| sample.value < last.value) {
                violations.push(Violation {
                    check: Check::CounterMonotonicity,
                    subject: series.clone(),
                    node: Some(scrape.node.clone()),
                    at: Some(scrape.at),
                    message: format!(
                        "went down from {} to {} since the scrape at {:.3}s, within incarnation {}",
                        last.value,
                        sample.value,
                        last.at.as_secs_f64(),
                        scrape.incarnation.map_or("?".into(), |n| n.to_string())
                    ),
                });
            }
            seen.insert(
                series,
                Seen {
                    value: sample.value,
                    at: scrape.at,
                },
            );
        }
        previous = Some(scrape);
    }
}

fn restart_recorded(run: &Run, node: &str, after: Duration, until: Duration) -> bool {
    run.faults.iter().any(|fault| {
        fault.kind == FaultKind::NodeRestart
            && fault.target == node
            && fault.at >= after
            && fault.at <= until
    })
}

/// How many leaked spans a violation lists by name before it summarizes.
const LEAKS_LISTED_MAX: usize = 10;

/// Every span opened is closed by the end of the run, and every exported
/// span ends at or after its start.
pub fn span_completion(run: &Run) -> Vec<Violation> {
    let mut violations: Vec<Violation> = run
        .lifecycle
        .open
        .iter()
        .take(LEAKS_LISTED_MAX)
        .map(|open| Violation {
            check: Check::SpanCompletion,
            subject: format!("span `{}`", open.name),
            node: Some(open.node.clone()),
            at: Some(open.opened_at),
            message: format!(
                "opened here and never closed by the end of the run at {:.3}s",
                run.ended_at.as_secs_f64()
            ),
        })
        .collect();
    let unlisted = run.lifecycle.open.len().saturating_sub(LEAKS_LISTED_MAX);
    if unlisted > 0 {
        violations.push(Violation {
            check: Check::SpanCompletion,
            subject: "spans".into(),
            node: None,
            at: None,
            message: format!("{unlisted} more spans were never closed"),
        });
    }
    violations.extend(
        run.spans
            .iter()
            .filter(|span| span.end_ns < span.start_ns)
            .map(|span| Violation {
                check: Check::SpanCompletion,
                subject: format!("span `{}` {}", span.name, span.span_id),
                node: None,
                at: Some(Duration::from_nanos(span.end_ns.max(0) as u64)),
                message: format!(
                    "ends at {} ns, before its start at {} ns",
                    span.end_ns, span.start_ns
                ),
            }),
    );
    violations
}

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

/// Every fixed fault of the run's plan fired at least once, and so did at
/// least one fault of a swarm draw. A fault that never fired tested nothing,
/// and a run that passes without it passes vacuously. A swarm draw is random,
/// so one drawn fault that finds no traffic is not a failure; a draw of which
/// nothing fired is.
pub fn faults_fired(run: &Run) -> Vec<Violation> {
    let fired_any = |fault: &Fault| run.faults.iter().any(|event| fired(fault, event));
    let (fixed, drawn) = run.plan.split_at(run.fixed_faults.min(run.plan.len()));
    let ended = run.ended_at.as_secs_f64();
    let mut violations: Vec<Violation> = fixed
        .iter()
        .enumerate()
        .filter(|(_, fault)| !fired_any(fault))
        .map(|(index, fault)| Violation {
            check: Check::FaultsFired,
            subject: format!("fault #{index} `{fault}`"),
            node: fault.node.map(crate::world::server_name),
            at: None,
            message: format!(
                "never fired by the end of the run at {ended:.3}s: the run tested nothing \
                 about it. Widen its window, raise its probability, or aim it where the traffic is"
            ),
        })
        .collect();
    if !drawn.is_empty() && !drawn.iter().any(fired_any) {
        violations.push(Violation {
            check: Check::FaultsFired,
            subject: "swarm draw".into(),
            node: None,
            at: None,
            message: format!(
                "none of the {} faults this seed drew fired by the end of the run at {ended:.3}s",
                drawn.len()
            ),
        });
    }
    violations
}

/// Whether `event` is one of `fault`'s firings: the same kind, on its node if
/// it is aimed at one. Targets start with the node name (`server-1`,
/// `server-1:app -> ...`).
fn fired(fault: &Fault, event: &FaultEvent) -> bool {
    if event.kind != fault.kind() {
        return false;
    }
    let Some(node) = fault.node else {
        return true;
    };
    let name = crate::world::server_name(node);
    event
        .target
        .strip_prefix(&name)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ']))
}

/// The checks a config enables that read one run (determinism reads two, so
/// the verdict runs it), with the system's contract for the ones that
/// compare telemetry with ground truth.
pub fn check_run(
    run: &Run,
    config: &crate::Config,
    contract: &crate::Contract,
    rules: &[obsim_scenario::Expectation],
) -> Vec<Violation> {
    let on = |check: Check| config.checks.contains(&check);
    let mut violations = Vec::new();
    if on(Check::CounterMonotonicity) {
        violations.extend(counter_monotonicity(run));
    }
    if on(Check::GaugeConsistency) {
        violations.extend(crate::gauges::gauge_consistency(run, contract));
    }
    if on(Check::MetricAccuracy) {
        violations.extend(crate::accuracy::metric_accuracy(run, contract, rules));
    }
    if on(Check::HistogramCorrectness) {
        violations.extend(crate::histograms::histogram_consistency(run));
        violations.extend(crate::timing::histogram_placement(run, contract));
    }
    if on(Check::SpanCompletion) {
        violations.extend(span_completion(run));
        violations.extend(crate::status::span_status(run, contract));
    }
    if on(Check::TraceIntegrity) {
        violations.extend(crate::traces::trace_integrity(run, contract));
    }
    if on(Check::ExpositionLint) {
        violations.extend(crate::lint::exposition_lint(run, config.label_values_max));
        violations.extend(crate::lint::promtool_check(run));
    }
    if config.every_fault_fires {
        violations.extend(faults_fired(run));
    }
    violations
}
