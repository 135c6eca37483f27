//! The file as serde reads it: every field optional where the format allows,
//! every value kept with its span so later checks can point at it, and
//! unknown fields rejected everywhere. Field order here is the order the
//! "expected one of" lists in unknown-field errors show.
//!
//! Integers are read as i64 (what TOML has) and range-checked afterwards, so
//! a negative count gets "expected an integer in 1..=200" rather than serde's
//! "expected usize".

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::duration::FileDuration;

pub(crate) type Int = Option<Spanned<i64>>;
pub(crate) type Dur = Option<Spanned<FileDuration>>;
pub(crate) type Names = Option<Spanned<Vec<Spanned<String>>>>;

/// The duration a file gave, if it gave one.
pub(crate) fn duration_of(value: &Dur) -> Option<std::time::Duration> {
    value.as_ref().map(|value| value.get_ref().0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Spanned<String>,
    pub description: Spanned<String>,
    pub checks: Names,
    pub every_fault_fires: Option<Spanned<bool>>,
    pub swarm: Option<Spanned<bool>>,
    pub swarm_kinds: Names,
    pub expect: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub topology: RawTopology,
    #[serde(default)]
    pub workload: RawWorkload,
    #[serde(default)]
    pub run: RawRun,
    #[serde(default)]
    pub seeds: RawSeeds,
    #[serde(default)]
    pub lint: RawLint,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub dashboards: RawDashboards,
    /// Read by the system under test into its own type; here only checked
    /// to be a table.
    #[serde(default)]
    #[allow(dead_code)]
    pub system: Option<toml::Table>,
    pub faults: Option<Spanned<Vec<Spanned<RawFault>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTopology {
    pub servers: Int,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub invocations: Int,
    pub keys: Int,
    pub concurrency: Int,
    pub think_time: Dur,
    pub operations: Option<Spanned<BTreeMap<Spanned<String>, Spanned<i64>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRun {
    pub duration: Dur,
    pub time_limit: Dur,
    pub drain: Dur,
    pub scrape_interval: Dur,
    pub scrape_timeout: Dur,
    pub message_limit: Int,
    pub span_limit: Int,
    pub scrape_limit: Int,
    pub log_limit: Int,
    pub wall_limit: Dur,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLint {
    pub label_values_max: Int,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    pub rule_files: Names,
    pub evaluation_interval: Dur,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDashboards {
    pub files: Names,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSeeds {
    pub count: Int,
    pub start: Int,
    pub sweep: Int,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub kind: Spanned<String>,
    pub node: Int,
    pub dependency: Option<Spanned<String>>,
    pub operation: Option<Spanned<String>>,
    pub probability: Option<Spanned<Probability>>,
    pub at: Dur,
    #[serde(rename = "for")]
    pub length: Dur,
    pub min: Dur,
    pub max: Dur,
    pub latency: Dur,
    pub restart_after: Dur,
    pub from: Names,
    pub to: Names,
    pub one_way: Option<Spanned<bool>>,
    pub transport: Option<Spanned<String>>,
    pub endpoint: Option<Spanned<String>>,
    pub nth: Int,
    pub on: Option<Spanned<String>>,
}

/// A probability as written: a float, or the integers 0 and 1 (any integer
/// is accepted here; the range is checked with the plan).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Probability(pub f64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_f64(ProbabilityVisitor)
    }
}

struct ProbabilityVisitor;

impl Visitor<'_> for ProbabilityVisitor {
    type Value = Probability;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a probability: a number in [0, 1] such as 0.1")
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Probability, E> {
        Ok(Probability(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Probability, E> {
        Ok(Probability(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Probability, E> {
        Ok(Probability(value as f64))
    }
}
