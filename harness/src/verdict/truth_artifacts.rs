//! `truth.txt`: the ground truth at each scrape, for a failing seed's page
//! to chart beside what was scraped. The same series `alert_correctness`
//! evaluates the rules over (`checks::alerts::truth_store`): counters the
//! contract's accuracy rules tie to the ledger, histograms of its timing
//! contracts, and `up`, each node incarnation counted from zero, as of the
//! instant the node rendered each answered scrape. Synthesized from the
//! ledger, never from the system's telemetry.

use std::fmt::Write as _;
use std::path::PathBuf;

use obsim_rules::{is_stale, METRIC_NAME};

use crate::checks::alerts::truth_store;
use crate::run::exposition::Sample;
use crate::run::Run;
use crate::sim::Sim;

/// The file's name in the seed's folder.
pub(crate) const TRUTH_TXT: &str = "truth.txt";

/// Samples written at most: a page charts a few series, and a person reads
/// fewer. The file says how many were left out.
const SAMPLES_MAX: usize = 200_000;

/// The file, as (path in the seed's folder, contents). None when the
/// system's contract ties no series to ground truth, or truth could not be
/// built (the alert and dashboard checks report why).
pub(crate) fn truth_file(sim: &Sim, run: &Run) -> Option<(PathBuf, String)> {
    let store = truth_store(run, sim.config(), sim.contract(), sim.rules()).ok()?;
    let mut out = String::from(
        "# Ground truth at each scrape: what a perfectly instrumented system would have shown a \
         perfect scraper, from obsim's ledger (counters its accuracy rules tie, histograms of its \
         timing contracts, `up`). Each node incarnation counts from zero. A `=== ` line names a \
         series; each line below it is `<seconds since the run's start> <value>`, `stale` where \
         a scrape failed or the node was down.\n",
    );
    let mut written = 0;
    let mut left_out = 0;
    for series in store.series().iter().filter(|s| !s.recorded) {
        let _ = writeln!(out, "\n=== {}", name(&series.labels));
        for sample in &series.samples {
            if written == SAMPLES_MAX {
                left_out += 1;
                continue;
            }
            written += 1;
            let seconds = sample.t_ms as f64 / 1000.0;
            if is_stale(sample.value) {
                let _ = writeln!(out, "{seconds:.3} stale");
            } else {
                let _ = writeln!(out, "{seconds:.3} {}", sample.value);
            }
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n# {left_out} more samples left out past {SAMPLES_MAX}"
        );
    }
    (written > 0).then(|| (PathBuf::from(TRUTH_TXT), out))
}

/// `name{a="1",b="2"}`, as the exposition parser names a sample's series
/// (`Sample::series`), with the target's `job` and `instance` kept.
fn name(labels: &obsim_rules::Labels) -> String {
    Sample {
        name: labels.get(METRIC_NAME).cloned().unwrap_or_default(),
        labels: labels
            .iter()
            .filter(|(key, _)| key.as_str() != METRIC_NAME)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        value: 0.0,
    }
    .series()
}
