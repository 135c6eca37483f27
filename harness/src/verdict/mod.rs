//! Seeds in, verdicts out: run a seed twice, check it, and word any failure
//! for the person who has to replay it.
//!
//! The verdict layer, on top: it runs the simulation (`sim`), applies the
//! checks (`checks`) to what it captured (`run`), and words the verdict,
//! the report and the failure artifacts. Nothing below reads it.

mod alert_artifacts;
mod artifacts;
mod check_seed;
mod dashboard_artifacts;
mod failure;
mod log_artifacts;
mod page;
mod report;
mod reruns;
mod seeds;
mod shrink;
mod sweep;
mod truth_artifacts;

pub use artifacts::{otlp_json, otlp_request, seed_dir, write_failure, Artifacts};
pub use check_seed::Verdict;
pub use failure::{Failure, Problem};
pub use log_artifacts::{otlp_logs_json, otlp_logs_request};
pub use page::{page_html, write_page, PAGE};
pub use reruns::{Determinism, DETERMINISM_ONE_IN_MAX};
pub use seeds::{seeds_from_env, seeds_from_env_at, SeedsError};
pub use shrink::{FaultShrink, ShrinkError, ShrinkShape, ShrinkStop, ShrinkTarget};
pub use sweep::{Sweep, SweepOptions, FAILURES_KEPT_DEFAULT, RUN_TWICE_LISTED};
