//! Scenario files to simulations: a [`Scenario`] (plain data from
//! `obsim-scenario`) becomes a harness [`Sim`] running the reference actor
//! system, with the file's `[system]` table as the actor runtime's settings.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use obsim_fixtures::{ActorConfig, ActorSystem, Bug};
use obsim_harness::{Check, Sim, Workload};
use obsim_scenario::{parse_duration, Scenario, ScenarioError, SettingValue};

/// The directory `cargo test --test scenarios` discovers scenario files in.
pub const SCENARIOS_DIR: &str = "scenarios";

/// The `[system]` keys the reference actor system understands.
const SYSTEM_KEYS: [&str; 6] = [
    "request_timeout",
    "max_attempts",
    "retry_backoff",
    "idle_timeout",
    "reap_interval",
    "bugs",
];

/// Loads one scenario file, with the harness's invariant names as the checks
/// a file may pick.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    Scenario::load(path, &Check::invariant_names())
}

/// The simulation a scenario describes. `replay_command` follows
/// `OBSIM_SEED=<seed>` in every failure message.
pub fn scenario_sim(scenario: &Scenario, replay_command: &str) -> Result<Sim, ScenarioError> {
    let actor_config = actor_config(scenario)?;
    let mut builder = Sim::builder(&scenario.name)
        .servers(scenario.servers)
        .workload(Workload {
            invocations: scenario.workload.invocations,
            concurrency: scenario.workload.concurrency,
            actors: scenario.actors,
            operations: scenario.workload.operations.clone(),
            think_time: scenario.workload.think_time,
        })
        .duration(scenario.run.duration)
        .time_limit(scenario.run.time_limit)
        .drain(scenario.run.drain)
        .scrape(scenario.run.scrape_interval, scenario.run.scrape_timeout)
        .message_limit(scenario.run.message_limit)
        .checks(
            scenario
                .checks
                .iter()
                .filter_map(|name| Check::from_str(name).ok()),
        )
        .every_fault_fires(scenario.every_fault_fires)
        .label_values_max(scenario.label_values_max)
        .replay_command(replay_command);
    // Kept beside a failure's artifacts; a file that cannot be read again
    // (moved since loading) only loses that copy.
    if let Ok(text) = std::fs::read_to_string(&scenario.path) {
        builder = builder.scenario_source(&text);
    }
    for fault in &scenario.faults {
        builder = builder.fault(fault.clone());
    }
    if let Some(kinds) = &scenario.swarm {
        builder = builder.swarm(kinds.clone());
    }
    for expectation in &scenario.expectations {
        builder = builder.expect(expectation.clone());
    }
    // The loader checks everything the builder does, so this error means the
    // two disagree; it still names the file and the field.
    builder
        .build(move || ActorSystem::new(actor_config.clone()))
        .map_err(|error| ScenarioError {
            path: scenario.path.clone(),
            line: None,
            column: None,
            field: Some(error.field),
            message: error.problem,
        })
}

/// The actor runtime's settings from the scenario's `[system]` table.
fn actor_config(scenario: &Scenario) -> Result<ActorConfig, ScenarioError> {
    let mut config = ActorConfig::default();
    for (key, setting) in &scenario.system {
        let bad = |message: &str| scenario.setting_error(key, message);
        let duration = || {
            let text = setting
                .value
                .as_str()
                .ok_or_else(|| bad("expected a duration string such as \"1s\""))?;
            parse_duration(text).map_err(|message| bad(&message))
        };
        match key.as_str() {
            "request_timeout" => config.request_timeout = positive(duration()?, &bad)?,
            "retry_backoff" => config.retry_backoff = duration()?,
            "idle_timeout" => config.idle_timeout = positive(duration()?, &bad)?,
            "reap_interval" => config.reap_interval = positive(duration()?, &bad)?,
            "max_attempts" => {
                config.max_attempts = setting
                    .value
                    .as_integer()
                    .filter(|n| (1..=16).contains(n))
                    .ok_or_else(|| bad("expected an integer from 1 to 16"))?
                    as u32
            }
            "bugs" => config.bugs = bugs(&setting.value).map_err(|message| bad(&message))?,
            _ => {
                return Err(bad(&format!(
                    "unknown setting of the reference actor system: expected one of {}",
                    SYSTEM_KEYS.join(", ")
                )))
            }
        }
    }
    Ok(config)
}

fn positive(
    duration: Duration,
    bad: &impl Fn(&str) -> ScenarioError,
) -> Result<Duration, ScenarioError> {
    if duration.is_zero() {
        return Err(bad("expected a duration > 0"));
    }
    Ok(duration)
}

fn bugs(value: &SettingValue) -> Result<std::collections::BTreeSet<Bug>, String> {
    let list = value
        .as_list()
        .ok_or("expected a list of bug names, e.g. [\"span_leak_on_crash\"]")?;
    list.iter()
        .map(|item| {
            let name = item.as_str().ok_or("expected bug names as strings")?;
            Bug::from_str(name)
        })
        .collect()
}
