use super::{Check, Violation};
use crate::run::{server_name, Run};

/// Every fixed fault of the run's plan fired at least once, and so did at
/// least one fault of a swarm draw. A fault that never fired tested nothing,
/// and a run that passes without it passes vacuously. A swarm draw is random,
/// so one drawn fault that finds no traffic is not a failure; a draw of which
/// nothing fired is.
///
/// Each entry is judged by its own firings, counted where it took effect:
/// inside its own window, on its own node and operation. Another entry of
/// the same kind firing does not count for it.
pub fn faults_fired(run: &Run) -> Vec<Violation> {
    let fired = |index: usize| run.fired_by_entry.get(&index).copied().unwrap_or(0) > 0;
    let fixed_count = run.fixed_faults.min(run.plan.len());
    let ended = run.ended_at.as_secs_f64();
    let mut violations: Vec<Violation> = run.plan[..fixed_count]
        .iter()
        .enumerate()
        .filter(|(index, _)| !fired(*index))
        .map(|(index, fault)| Violation {
            check: Check::FaultsFired,
            subject: format!("fault #{index} `{fault}`"),
            node: fault.node.map(server_name),
            at: None,
            message: format!(
                "never fired by the end of the run at {ended:.3}s: the run tested nothing \
                 about it. Widen its window, raise its probability, or aim it where the traffic is"
            ),
        })
        .collect();
    let drawn = fixed_count..run.plan.len();
    if !drawn.is_empty() && !drawn.clone().any(fired) {
        violations.push(Violation {
            check: Check::FaultsFired,
            subject: "swarm draw".into(),
            node: None,
            at: None,
            message: format!(
                "none of the {} faults this seed drew fired by the end of the run at {ended:.3}s",
                drawn.len()
            ),
        });
    }
    violations
}
