//! The invariants. Each check reads a finished [`Run`] (determinism reads
//! two) and says exactly what broke: the series or span, the node, the
//! simulated time. The seed and the replay command are added by the verdict.

// The checks layer: pure functions of a `Run` and a `Contract`. It reads the
// `run` layer only, never the simulation or the verdict.

mod accuracy;
pub mod alerts;
mod attempts;
mod calls;
mod completion;
mod coverage;
pub(crate) mod dashboards;
pub(crate) mod determinism;
pub(crate) mod expect;
mod faults_fired;
mod gauges;
mod histograms;
pub(crate) mod judged;
pub(crate) mod lint;
mod logs;
mod monotonicity;
mod pauses;
pub(crate) mod promtool;
mod selects;
mod sources;
mod span_ties;
mod status;
mod timing;
mod traces;
mod violation;

pub use crate::run::Check;
use crate::run::{Config, Contract, Run, Shows};
pub use completion::span_completion;
pub use determinism::seed_determinism;
pub use faults_fired::faults_fired;
use judged::Judgements;

/// A map for lookups only, never iterated (so its order never reaches a
/// report): spans by id, say. foldhash with fixed keys, because the
/// BTreeMaps these were cost a few percent of every seed's checks (perf).
pub(crate) type Lookup<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
/// A set for membership tests only, never iterated: see [`Lookup`].
pub(crate) type LookupSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;
pub use judged::{Claim, Judgement};
pub use monotonicity::counter_monotonicity;
pub use promtool::{PromtoolMemo, PROMTOOL_SHAPES_MAX};
pub use violation::Violation;

/// The checks a config enables that read one run (determinism reads two, so
/// the verdict runs it), with the system's contract for the ones that
/// compare telemetry with ground truth.
pub fn check_run(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[obsim_scenario::Expectation],
) -> Vec<Violation> {
    check_run_with(run, config, contract, rules, &PromtoolMemo::default())
}

/// [`check_run`] with promtool's verdicts shared through `memo`, as a
/// sweep's seeds share them: the same violations, far fewer promtool runs.
pub fn check_run_with(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[obsim_scenario::Expectation],
    memo: &PromtoolMemo,
) -> Vec<Violation> {
    check_run_judged(
        run,
        config,
        contract,
        rules,
        memo,
        &mut Judgements::default(),
    )
}

/// [`check_run_with`], recording in `judged` what the run says of each
/// accuracy rule and alert claim it checks, one by one.
pub(crate) fn check_run_judged(
    run: &Run,
    config: &Config,
    contract: &Contract,
    rules: &[obsim_scenario::Expectation],
    memo: &PromtoolMemo,
    judged: &mut Judgements,
) -> Vec<Violation> {
    let on = |check: Check| config.checks.contains(&check);
    let mut violations = Vec::new();
    if on(Check::CounterMonotonicity) {
        violations.extend(counter_monotonicity(run));
    }
    if on(Check::GaugeConsistency) {
        violations.extend(gauges::gauge_consistency(run, contract));
        violations.extend(span_ties::span_ties(run, contract, Shows::InFlight));
    }
    if on(Check::MetricAccuracy) {
        violations.extend(accuracy::metric_accuracy(run, contract, rules, judged));
        violations.extend(span_ties::span_ties(run, contract, Shows::Count));
    }
    if on(Check::HistogramCorrectness) {
        violations.extend(histograms::histogram_consistency(run));
        violations.extend(timing::histogram_placement(run, contract));
        violations.extend(span_ties::span_ties(run, contract, Shows::Durations));
    }
    if on(Check::SpanCompletion) {
        violations.extend(span_completion(run));
        violations.extend(status::span_status(run, contract));
        violations.extend(coverage::span_coverage(run, contract));
    }
    if on(Check::TraceIntegrity) {
        violations.extend(traces::trace_integrity(run, contract));
        violations.extend(attempts::attempt_parentage(run));
    }
    if on(Check::ExpositionLint) {
        violations.extend(lint::exposition_lint(run, config.label_values_max));
        violations.extend(lint::route_unanswered(run, contract));
        violations.extend(promtool::promtool_check(run, memo));
    }
    // Built once: the dashboards read the rules' recorded series too.
    let read_dashboards = on(Check::DashboardQueries) && !config.dashboards.is_empty();
    let timelines = (on(Check::AlertCorrectness) || read_dashboards)
        .then(|| alerts::timelines(run, config, contract, rules))
        .flatten();
    if on(Check::AlertCorrectness) {
        violations.extend(alerts::judge_alerts(
            run,
            config,
            timelines.as_ref(),
            judged,
        ));
    }
    if read_dashboards {
        violations.extend(dashboards::dashboard_queries(
            run,
            config,
            contract,
            rules,
            timelines.as_ref(),
            judged,
        ));
    }
    if on(Check::LogCorrelation) {
        violations.extend(logs::log_correlation(run, contract));
    }
    if on(Check::ErrorLogging) {
        violations.extend(logs::error_logging(run, contract));
    }
    if on(Check::LogVolume) {
        violations.extend(logs::log_volume(run, contract));
    }
    if on(Check::SecretLeaks) {
        violations.extend(logs::secret_leaks(run, contract));
    }
    if config.every_fault_fires {
        violations.extend(faults_fired(run));
    }
    violations
}
