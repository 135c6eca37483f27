//! The gateway's settings: in production from its configuration file, in a
//! simulation test from the scenario's settings table (both with serde).

use std::time::Duration;

use serde::Deserialize;

use crate::Bugs;

/// Settings of the gateway and of its client. Durations are whole
/// milliseconds, their unit last in the key.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Attempts per logical request, the first included (at least 1).
    pub max_attempts: u32,
    /// How long the client waits for one attempt's whole answer.
    pub attempt_timeout_ms: u64,
    /// The client's pause before a retry, times the retry's number.
    pub retry_backoff_ms: u64,
    /// Planted instrumentation bugs, all off by default.
    pub bugs: Bugs,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_attempts: 3,
            attempt_timeout_ms: 250,
            retry_backoff_ms: 10,
            bugs: Bugs::default(),
        }
    }
}

impl Config {
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    pub fn retry_backoff(&self) -> Duration {
        Duration::from_millis(self.retry_backoff_ms)
    }
}
