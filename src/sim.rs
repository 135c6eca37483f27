//! A scenario file's settings as a harness [`Builder`]: everything but the
//! system, which the suite's factory supplies.

use std::str::FromStr;

use obsim_harness::{Builder, Check, Sim, Workload};
use obsim_scenario::Scenario;

/// The builder for `scenario`, with `replay` after `OBSIM_SEED=<seed>` in
/// every failure message.
pub(crate) fn builder(scenario: &Scenario, replay: &str) -> Builder {
    let mut builder = Sim::builder(&scenario.name)
        .servers(scenario.servers)
        .workload(Workload {
            invocations: scenario.workload.invocations,
            concurrency: scenario.workload.concurrency,
            keys: scenario.workload.keys,
            operations: scenario.workload.operations.clone(),
            think_time: scenario.workload.think_time,
        })
        .duration(scenario.run.duration)
        .time_limit(scenario.run.time_limit)
        .drain(scenario.run.drain)
        .scrape(scenario.run.scrape_interval, scenario.run.scrape_timeout)
        .message_limit(scenario.run.message_limit)
        .span_limit(scenario.run.span_limit)
        .log_limit(scenario.run.log_limit)
        .scrape_limit(scenario.run.scrape_limit)
        .wall_limit(scenario.run.wall_limit)
        // The loader accepts only the harness's own check names.
        .checks(
            scenario
                .checks
                .iter()
                .filter_map(|name| Check::from_str(name).ok()),
        )
        .every_fault_fires(scenario.every_fault_fires)
        .label_values_max(scenario.label_values_max)
        .replay_command(replay)
        .scenario_source(&scenario.source)
        .scenario_file(&scenario.path);
    for fault in &scenario.faults {
        builder = builder.fault(fault.clone());
    }
    if let Some(kinds) = &scenario.swarm {
        builder = builder.swarm(kinds.clone());
    }
    for expectation in &scenario.expectations {
        builder = builder.expect(expectation.clone());
    }
    for file in &scenario.alerts.rule_files {
        builder = builder.alert_rules(file.clone());
    }
    if let Some(interval) = scenario.alerts.evaluation_interval {
        builder = builder.evaluation_interval(interval);
    }
    for dashboard in &scenario.dashboards {
        builder = builder.dashboard(dashboard.clone());
    }
    for claim in &scenario.alert_expectations {
        builder = builder.expect_alert(claim.clone());
    }
    builder
}
