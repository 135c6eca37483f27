//! The names of the checks: what a scenario's `checks` list and a config
//! select, parsed and printed by their stable names.

use std::fmt;
use std::str::FromStr;

// Moved here from checks: `Config` selects checks by name, and run may not reach checks.
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
    /// Every span closes; failed work, and the client span of an attempt a
    /// crash cut off, end in error.
    SpanCompletion,
    /// Parents exist in the same trace; one client request, one trace.
    TraceIntegrity,
    /// Prometheus naming, HELP, label cardinality, and `promtool check metrics`.
    ExpositionLint,
    SeedDeterminism,
    /// The system's alert rules fire over what was scraped when, and only
    /// when, they fire over ground truth.
    AlertCorrectness,
    /// Every fault of the plan fired: the run really tested what it claims.
    FaultsFired,
    /// Every panel target of the system's dashboards, its variables filled,
    /// matches series over what was scraped at some instant of the run.
    DashboardQueries,
    /// A scenario's own expectation held.
    Expectation,
    /// Every event a server emits carries the trace and span of its work,
    /// unless its target is declared background work.
    LogCorrelation,
    /// Failed work leaves an event at WARN or above in its trace; a request
    /// that succeeded leaves none at ERROR.
    ErrorLogging,
    /// Events per request and per node per second stay within budget.
    LogVolume,
    /// No secret the contract names appears in logs, spans or metrics.
    SecretLeaks,
}

impl Check {
    /// The invariants of instrumentation: what a scenario's `checks` picks from.
    pub const INVARIANTS: [Check; 14] = [
        Check::CounterMonotonicity,
        Check::GaugeConsistency,
        Check::MetricAccuracy,
        Check::HistogramCorrectness,
        Check::SpanCompletion,
        Check::TraceIntegrity,
        Check::ExpositionLint,
        Check::SeedDeterminism,
        Check::AlertCorrectness,
        Check::DashboardQueries,
        Check::LogCorrelation,
        Check::ErrorLogging,
        Check::LogVolume,
        Check::SecretLeaks,
    ];

    pub const ALL: [Check; 16] = [
        Check::CounterMonotonicity,
        Check::GaugeConsistency,
        Check::MetricAccuracy,
        Check::HistogramCorrectness,
        Check::SpanCompletion,
        Check::TraceIntegrity,
        Check::ExpositionLint,
        Check::SeedDeterminism,
        Check::AlertCorrectness,
        Check::FaultsFired,
        Check::Expectation,
        Check::DashboardQueries,
        Check::LogCorrelation,
        Check::ErrorLogging,
        Check::LogVolume,
        Check::SecretLeaks,
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
            Check::AlertCorrectness => "alert_correctness",
            Check::FaultsFired => "faults_fired",
            Check::Expectation => "expectation",
            Check::DashboardQueries => "dashboard_queries",
            Check::LogCorrelation => "log_correlation",
            Check::ErrorLogging => "error_logging",
            Check::LogVolume => "log_volume",
            Check::SecretLeaks => "secret_leaks",
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
