//! What a system promises about its logs: the level filter it runs with in
//! production, which targets are background work, how much it may log, and
//! which secrets it holds.

use super::config::ConfigError;
use super::contract::Contract;

/// The level filter a service runs with unless its contract names its own:
/// `info`, as `tracing-subscriber`'s `fmt()` defaults to.
pub const LOG_FILTER_DEFAULT: &str = "info";
/// Log events one request (one trace) may leave, unless the contract says
/// otherwise: a few lines per hop and per attempt.
pub const LOG_EVENTS_PER_REQUEST_MAX_DEFAULT: u64 = 16;
/// Log events one node incarnation may emit in one simulated second, unless
/// the contract says otherwise.
pub const LOG_EVENTS_PER_NODE_SECOND_MAX_DEFAULT: u64 = 10_000;
/// Secrets one contract may name.
pub const SECRETS_MAX: usize = 64;

/// The log promises of a [`Contract`].
#[derive(Clone, Debug)]
pub(crate) struct LogPromises {
    pub(crate) filter: String,
    /// Targets of background work (start-up, timers): their events belong to
    /// no request, so they carry no trace.
    pub(crate) background: Vec<String>,
    pub(crate) per_request_max: u64,
    pub(crate) per_node_second_max: u64,
    pub(crate) secrets: Vec<String>,
    pub(crate) format: super::logs::LogFormat,
}

impl Default for LogPromises {
    fn default() -> Self {
        LogPromises {
            filter: LOG_FILTER_DEFAULT.to_string(),
            background: Vec::new(),
            per_request_max: LOG_EVENTS_PER_REQUEST_MAX_DEFAULT,
            per_node_second_max: LOG_EVENTS_PER_NODE_SECOND_MAX_DEFAULT,
            secrets: Vec::new(),
            format: super::logs::LogFormat::default(),
        }
    }
}

impl LogPromises {
    /// Whether `target` is background work: it is one of the declared
    /// targets, or a module under one (`actors::timers` covers
    /// `actors::timers::reaper`).
    pub(crate) fn is_background(&self, target: &str) -> bool {
        self.background.iter().any(|declared| {
            target == declared
                || target
                    .strip_prefix(declared.as_str())
                    .is_some_and(|rest| rest.starts_with("::"))
        })
    }
}

impl Contract {
    /// How the service ships its logs: through the OpenTelemetry logs
    /// bridge (the default), or as JSON lines from `tracing-subscriber`'s
    /// fmt layer ([`LogFormat::FmtJson`](super::logs::LogFormat::FmtJson)), which obsim then writes, parses
    /// and checks the same way, and keeps as `logs.jsonl` for a failing
    /// seed.
    pub fn log_format(mut self, format: super::logs::LogFormat) -> Self {
        self.logs.format = format;
        self
    }

    /// The level filter the service runs with in production, in
    /// `tracing-subscriber`'s `Targets` syntax (`"info"`,
    /// `"info,hyper=warn,my_service::db=debug"`): obsim puts it in front of
    /// the logs bridge, so the events checked are the ones the service
    /// would ship. Spans are not filtered by it. Default:
    /// [`LOG_FILTER_DEFAULT`]. A filter that does not parse is an error
    /// when the simulation is built.
    pub fn log_filter(mut self, directives: &str) -> Self {
        self.logs.filter = directives.to_string();
        self
    }

    /// Events with this `tracing` target (or a module under it) are
    /// background work, such as start-up and timers: they belong to no
    /// request, so `log_correlation` does not ask them for a trace. Name
    /// such a target on the event (`info!(target: "actors::startup", ...)`).
    /// Default: none, so every event on a server node must be in a span.
    pub fn background_logs(mut self, target: &str) -> Self {
        self.logs.background.push(target.to_string());
        self
    }

    /// How much the service may log: at most `per_request` events in one
    /// request's trace, and at most `per_node_second` events from one server
    /// node incarnation in any one simulated second (the client node stands
    /// for every user at once, so its own volume is not bounded). `log_volume` fails a run
    /// that logs more: a retry loop that logs every attempt, an error
    /// logged once per layer it passes. Defaults:
    /// [`LOG_EVENTS_PER_REQUEST_MAX_DEFAULT`] and
    /// [`LOG_EVENTS_PER_NODE_SECOND_MAX_DEFAULT`].
    pub fn log_budget(mut self, per_request: u64, per_node_second: u64) -> Self {
        self.logs.per_request_max = per_request;
        self.logs.per_node_second_max = per_node_second;
        self
    }

    /// A secret the service holds (an API key, a token), by name. The
    /// system asks for its value with `NodeContext::secret` or
    /// `ClientContext::secret` and uses it as it uses the real one; obsim
    /// hands it a canary drawn from the seed. `secret_leaks` fails a run
    /// whose logs, spans or metrics contain a canary, naming where. A
    /// secret the system never asks for is an error, not a pass. Default:
    /// none.
    pub fn secret(mut self, name: &str) -> Self {
        self.logs.secrets.push(name.to_string());
        self
    }

    /// The level filter, parsed; an error names the contract's field.
    pub(crate) fn log_targets(&self) -> Result<tracing_subscriber::filter::Targets, ConfigError> {
        self.logs.filter.parse().map_err(|error| ConfigError {
            field: "contract log_filter".into(),
            problem: format!(
                "{:?} is not a level filter: {error}. Expected directives such as \
                     \"info\" or \"info,hyper=warn\"",
                self.logs.filter
            ),
        })
    }

    /// Ok unless the log promises cannot be kept: a budget of zero, a
    /// secret named twice or with an empty name, too many secrets.
    pub(crate) fn check_logs(&self) -> Result<(), ConfigError> {
        self.log_targets()?;
        let error = |field: &str, problem: String| ConfigError {
            field: format!("contract {field}"),
            problem,
        };
        if self.logs.per_request_max == 0 || self.logs.per_node_second_max == 0 {
            return Err(error(
                "log_budget",
                "a budget of 0 events forbids every log line; expected at least 1".into(),
            ));
        }
        if self.logs.secrets.len() > SECRETS_MAX {
            return Err(error(
                "secret",
                format!(
                    "{} secrets, more than the {SECRETS_MAX} allowed",
                    self.logs.secrets.len()
                ),
            ));
        }
        for (index, name) in self.logs.secrets.iter().enumerate() {
            if name.is_empty() || name.len() > 64 {
                return Err(error(
                    "secret",
                    format!("secret name {name:?}: expected 1 to 64 characters"),
                ));
            }
            if self.logs.secrets[..index].contains(name) {
                return Err(error("secret", format!("secret {name:?} is named twice")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_background_target_covers_its_modules_and_nothing_beside_it() {
        let contract = Contract::new().background_logs("actors::timers");
        assert!(contract.logs.is_background("actors::timers"));
        assert!(contract.logs.is_background("actors::timers::reaper"));
        assert!(!contract.logs.is_background("actors::timersx"));
        assert!(!contract.logs.is_background("actors"));
    }

    #[test]
    fn a_filter_that_does_not_parse_names_the_contract_field() {
        let error = Contract::new()
            .log_filter("info,x=loud")
            .check_logs()
            .unwrap_err();
        assert_eq!(error.field, "contract log_filter");
        assert!(
            error.problem.contains("\"info,x=loud\""),
            "{}",
            error.problem
        );
    }
}
