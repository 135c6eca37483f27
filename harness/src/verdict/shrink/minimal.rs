//! `minimal.toml`: a failing seed's shrunk faults, written into its
//! artifacts folder as a scenario file that fails the same way.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use obsim_scenario::{duration_text, Rewrite, Scenario};

use super::{FaultShrink, ShrinkStop};
use crate::checks::Check;
use crate::sim::Sim;
use crate::verdict::{Failure, Problem};

/// Shrinks `failure`'s seed and writes `minimal.toml` into `folder`.
/// Returns the line the failure message shows about it; None when
/// shrinking is off or does not apply (a run that did not complete, or a
/// sim built in code, with no scenario file to rewrite).
pub(crate) fn minimal_file(sim: &Sim, failure: &Failure, folder: &Path) -> Option<String> {
    let config = sim.config();
    let budget = config.shrink?;
    let source = config.scenario_source.as_ref()?;
    if !matches!(failure.problem, Problem::Violations(_)) {
        return None;
    }
    let path = config
        .scenario_path
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.toml", config.scenario)));
    let scenario = match Scenario::parse(&path, source, &Check::invariant_names()) {
        Ok(scenario) => scenario,
        Err(error) => {
            return Some(format!(
                "not possible: the scenario no longer loads: {error}"
            ))
        }
    };
    let shrunk = match sim.shrink_faults(failure.seed, budget) {
        Ok(shrunk) => shrunk,
        Err(error) => return Some(format!("not possible: {error}")),
    };
    if !shrunk.reproduced {
        return Some(format!(
            "not possible: seed {}'s faults, written down as {} fixed events, do not fail \
             {} again, so the seed's own scenario stands",
            shrunk.seed,
            shrunk.schedule.len(),
            shrunk.target
        ));
    }
    let rewrite = Rewrite {
        name: format!("{}-seed-{}-minimal", scenario.name, shrunk.seed),
        seed: shrunk.seed,
        faults: shrunk.minimal.clone(),
        servers: changed(shrunk.before.servers, shrunk.after.servers),
        invocations: changed(shrunk.before.invocations, shrunk.after.invocations),
        concurrency: changed(shrunk.before.concurrency, shrunk.after.concurrency),
        duration: changed(shrunk.before.duration, shrunk.after.duration),
    };
    let text = match scenario.rewritten(&rewrite) {
        Ok(text) => text,
        Err(problem) => return Some(format!("not possible: {problem}")),
    };
    let file = folder.join("minimal.toml");
    let sizes = sizes(&shrunk);
    let written = header(&shrunk, &sizes) + &text;
    match std::fs::write(&file, written) {
        Ok(()) => Some(format!(
            "{sizes}; still fails {}: {}",
            shrunk.target,
            file.display()
        )),
        Err(error) => Some(format!(
            "{sizes}, but {} could not be written: {error}",
            file.display()
        )),
    }
}

fn changed<T: PartialEq>(before: T, after: T) -> Option<T> {
    (before != after).then_some(after)
}

/// Faults, invocations, simulated time and servers, before and after, and
/// what the shrink spent.
fn sizes(shrunk: &FaultShrink) -> String {
    let (before, after) = (shrunk.before, shrunk.after);
    let mut out = format!(
        "faults {} -> {} (the {} planned, as {} fixed events), invocations {} -> {}, \
         simulated {} -> {}, servers {} -> {}, in {} candidate runs",
        shrunk.schedule.len(),
        shrunk.minimal.len(),
        shrunk.planned.len(),
        shrunk.schedule.len(),
        before.invocations,
        after.invocations,
        duration_text(before.duration),
        duration_text(after.duration),
        before.servers,
        after.servers,
        shrunk.runs
    );
    match shrunk.stopped {
        Some(ShrinkStop::Runs) => {
            out.push_str(" (stopped by the run budget: OBSIM_SHRINK=<runs> allows more)")
        }
        Some(ShrinkStop::Wall) => out.push_str(
            " (stopped by the real-time budget, so another machine may stop elsewhere: \
             OBSIM_SHRINK=<runs> bounds by runs alone)",
        ),
        None => {}
    }
    out
}

fn header(shrunk: &FaultShrink, sizes: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# The smallest scenario obsim's shrinker found that still fails\n\
         # {} on seed {}: {sizes}.\n\
         # Run it as any scenario file.\n",
        shrunk.target, shrunk.seed
    );
    out
}
