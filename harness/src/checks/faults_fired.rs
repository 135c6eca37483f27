use obsim_faults::{Fault, FaultEvent, Transport};

use super::{Check, Violation};
use crate::run::{server_name, Run};

/// Every fixed fault of the run's plan fired at least once, and so did at
/// least one fault of a swarm draw. A fault that never fired tested nothing,
/// and a run that passes without it passes vacuously. A swarm draw is random,
/// so one drawn fault that finds no traffic is not a failure; a draw of which
/// nothing fired is.
pub fn faults_fired(run: &Run) -> Vec<Violation> {
    let fired_any = |fault: &Fault| run.faults.iter().any(|event| fired(fault, event));
    let (fixed, drawn) = run.plan.split_at(run.fixed_faults.min(run.plan.len()));
    let ended = run.ended_at.as_secs_f64();
    let mut violations: Vec<Violation> = fixed
        .iter()
        .enumerate()
        .filter(|(_, fault)| !fired_any(fault))
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
    if !drawn.is_empty() && !drawn.iter().any(fired_any) {
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

/// Whether `event` is one of `fault`'s firings: the same kind, on its node if
/// it is aimed at one. Targets start with the node name (`server-1`,
/// `server-1:app -> ...`).
fn fired(fault: &Fault, event: &FaultEvent) -> bool {
    if event.kind != fault.kind() {
        return false;
    }
    // A socket delay or loss is logged once, network-wide, with the
    // transport as its target; a message fault is logged per message, at
    // its sender. Neither counts as the other's firing.
    let on_sockets = event.target == Transport::Sockets.as_str();
    if on_sockets != (fault.transport == Transport::Sockets) {
        return false;
    }
    let Some(node) = fault.node else {
        return true;
    };
    let name = server_name(node);
    event
        .target
        .strip_prefix(&name)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ']))
}
