//! obsim's scenario files: one TOML file is one simulated test. This crate
//! loads a file into plain data ([`Scenario`]) and checks everything that can
//! be checked without running it; `scenarios/README.md` documents the format.
//!
//! Every error names the file, the 1-based line and column, the field as a
//! dotted path (`faults[2].probability`) and what was expected there. The
//! loader never panics and never quietly replaces a bad value by a default.
//!
//! The crate knows nothing about running: the harness turns a [`Scenario`]
//! into a run and evaluates its [`Expectation`]s.

pub mod alerts;
pub mod de;
mod decimal;
mod duration;
mod error;
mod expect;
mod faults;
mod limits;
mod raw;
mod rewrite;
mod scenario;
mod system;
mod vacuous;

pub use alerts::{AlertClaim, AlertExpectation, AlertSelector, Tolerance};
pub use decimal::Decimal;
pub use duration::parse_duration;
pub use error::ScenarioError;
pub use expect::{
    parse_expectation, Comparison, Expectation, ExpectationError, Fate, MetricSelector, NodeScope,
    Quantity, Selector, Sign, StorageResult, Sum, Term,
};
pub use limits::{ARRAY_LEN_MAX, NAME_CHARS_MAX, SCENARIO_FILE_BYTES_MAX, STRING_CHARS_MAX};
/// Reading an input file with a bound (regular files only, UTF-8), and
/// quoting input with a bound.
pub use obsim_rules::input;
pub use rewrite::{duration_text, fault_moves, Rewrite};
pub use scenario::{
    discover, AlertsSpec, RunSpec, Scenario, SeedSpec, WorkloadSpec, INVOCATIONS_MAX,
    LOG_LIMIT_MAX, MESSAGE_LIMIT_MAX, SCRAPE_LIMIT_MAX, SPAN_LIMIT_MAX, SWEEP_SEEDS_DEFAULT,
    SWEEP_SEEDS_MAX, WALL_LIMIT_MAX,
};

#[cfg(test)]
mod dashboards_tests;
#[cfg(test)]
mod tests;
