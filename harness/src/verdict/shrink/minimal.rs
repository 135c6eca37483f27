//! `minimal.toml`: a failing seed's shrunk faults, written into its
//! artifacts folder as a scenario file that fails the same way.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use obsim_scenario::{duration_text, Rewrite, Scenario};

use super::{FaultShrink, ShrinkStop};
use crate::checks::Check;
use crate::run::ShrinkBudget;
use crate::sim::Sim;
use crate::verdict::{Failure, Problem};

/// Fault lines a code-built sim's shrink line shows at most.
const SHOWN_FAULTS_MAX: usize = 8;

/// What shrinking made of a failure, for its artifacts: the line its
/// message shows, and for a scenario file the `minimal.toml` to write
/// beside the other files.
pub(crate) struct Shrunk {
    pub(crate) line: String,
    pub(crate) minimal_toml: Option<String>,
}

/// Shrinks `failure`'s seed for artifacts written into `folder`, the seed's
/// folder, which the line names `minimal.toml` in. None when shrinking is
/// off or does not apply (a run that did not complete). A sim built in
/// code has no scenario file to rewrite: its line lists the minimal faults
/// and sizes instead, for [`Sim::minimal`] or the builder.
pub(crate) fn for_artifacts(sim: &Sim, failure: &Failure, folder: &Path) -> Option<Shrunk> {
    let config = sim.config();
    let budget = config.shrink?;
    if !matches!(failure.problem, Problem::Violations(_)) {
        return None;
    }
    let line_only = |line| {
        Some(Shrunk {
            line,
            minimal_toml: None,
        })
    };
    if config.scenario_source.is_none() {
        return line_only(code_built_line(sim, failure, budget));
    }
    let shrunk = match shrunk(sim, failure, budget) {
        Ok(shrunk) => shrunk,
        Err(line) => return line_only(line),
    };
    match sim.minimal_scenario(&shrunk) {
        Ok(text) => Some(Shrunk {
            line: format!(
                "{}; still fails {}: {}",
                sizes(&shrunk),
                shrunk.target,
                folder.join(MINIMAL_TOML).display()
            ),
            minimal_toml: Some(text),
        }),
        Err(problem) => line_only(format!("not possible: {problem}")),
    }
}

/// What the failure of a seed that a sweep does not shrink as it checks it
/// says instead: that the sweep shrinks its lowest failing seed, and how
/// to shrink this one. None where [`for_artifacts`] would not shrink.
pub(crate) fn deferred(sim: &Sim, failure: &Failure) -> Option<Shrunk> {
    sim.config().shrink?;
    if !matches!(failure.problem, Problem::Violations(_)) {
        return None;
    }
    Some(Shrunk {
        line: DEFERRED.into(),
        minimal_toml: None,
    })
}

/// The `shrunk:` line of a failing seed a sweep left to the end: true of
/// the lowest one too, which the sweep then shrinks.
pub(crate) const DEFERRED: &str = "a sweep shrinks only its lowest failing seed, after \
     checking every seed; the replay below runs this seed alone, and shrinks it";

/// The shrunk scenario's file name in a seed's artifacts folder.
pub(crate) const MINIMAL_TOML: &str = "minimal.toml";

impl Sim {
    /// The scenario file `shrunk` describes, as text: this sim's own file
    /// rewritten with the minimal faults, the smaller shape and the one
    /// seed, under a comment that says what it still fails. What a failing
    /// seed writes as `minimal.toml`. An error when the sim was built in
    /// code (no file to rewrite) or its file no longer parses. A claim
    /// about the window of a fault the shrink removed is dropped, and a
    /// comment at the top says so.
    pub fn minimal_scenario(&self, shrunk: &FaultShrink) -> Result<String, String> {
        let config = self.config();
        let source = config
            .scenario_source
            .as_ref()
            .ok_or("the sim was built in code: there is no scenario file to rewrite")?;
        let path = config
            .scenario_path
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.toml", config.scenario)));
        let scenario = Scenario::parse(&path, source, &Check::invariant_names())
            .map_err(|error| format!("the scenario no longer loads: {error}"))?;
        let rewrite = Rewrite {
            name: format!("{}-seed-{}-minimal", scenario.name, shrunk.seed),
            seed: shrunk.seed,
            faults: shrunk.minimal.clone(),
            servers: changed(shrunk.before.servers, shrunk.after.servers),
            invocations: changed(shrunk.before.invocations, shrunk.after.invocations),
            concurrency: changed(shrunk.before.concurrency, shrunk.after.concurrency),
            duration: changed(shrunk.before.duration, shrunk.after.duration),
            operations: changed(&shrunk.before.operations, &shrunk.after.operations).cloned(),
        };
        let text = scenario.rewritten(&rewrite)?;
        Ok(header(shrunk, &sizes(shrunk)) + &text)
    }
}

/// `failure`'s seed shrunk within `budget`; Err: the line that says why it
/// could not be, and that the original failure stands.
fn shrunk(sim: &Sim, failure: &Failure, budget: ShrinkBudget) -> Result<FaultShrink, String> {
    let shrunk = sim
        .shrink_faults(failure.seed, budget)
        .map_err(|error| format!("not possible: {error}"))?;
    if !shrunk.reproduced {
        return Err(format!(
            "not possible: seed {}'s faults, written down as {} fixed events, do not fail {} \
             again, so the seed's own run stands",
            shrunk.seed,
            shrunk.schedule.len(),
            shrunk.target
        ));
    }
    Ok(shrunk)
}

/// The shrink line of a sim built in code: sizes, the check it still
/// fails, and the minimal faults as the builder's `faults` would take them.
fn code_built_line(sim: &Sim, failure: &Failure, budget: ShrinkBudget) -> String {
    let shrunk = match shrunk(sim, failure, budget) {
        Ok(shrunk) => shrunk,
        Err(line) => return line,
    };
    let mut line = format!(
        "{}; still fails {} with these faults (`Sim::shrink_faults` then `Sim::minimal` \
         rebuild it in code):",
        sizes(&shrunk),
        shrunk.target
    );
    if shrunk.minimal.is_empty() {
        line.push_str(" none");
    }
    for fault in shrunk.minimal.iter().take(SHOWN_FAULTS_MAX) {
        let _ = write!(line, "\n  {fault}");
    }
    if shrunk.minimal.len() > SHOWN_FAULTS_MAX {
        let _ = write!(
            line,
            "\n  ... and {} more",
            shrunk.minimal.len() - SHOWN_FAULTS_MAX
        );
    }
    line
}

fn changed<T: PartialEq>(before: T, after: T) -> Option<T> {
    (before != after).then_some(after)
}

/// Faults, invocations, simulated time and servers, before and after, and
/// what the shrink spent.
fn sizes(shrunk: &FaultShrink) -> String {
    let (before, after) = (&shrunk.before, &shrunk.after);
    let mut out = format!(
        "faults {} -> {} (the {} planned, as {} fixed events), invocations {} -> {}, \
         simulated {} -> {}, servers {} -> {}",
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
    );
    // The mix is named only when it changed: most shrinks keep it.
    if before.operations != after.operations {
        let _ = write!(
            out,
            ", operations {} -> {}",
            operation_names(&before.operations),
            operation_names(&after.operations)
        );
    }
    let _ = write!(out, ", in {} candidate runs", shrunk.runs);
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

/// `get+increment`: the operations' names, in the workload's order.
fn operation_names(operations: &[(String, u32)]) -> String {
    let names: Vec<&str> = operations.iter().map(|(name, _)| name.as_str()).collect();
    names.join("+")
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
