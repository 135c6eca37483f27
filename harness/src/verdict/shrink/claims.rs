//! Claims about a fault's window (`alert X fires during faults[I]`) in a
//! shrink's candidates: they follow their fault, or go with it.

use obsim_faults::Fault;
use obsim_scenario::{AlertClaim, AlertExpectation};

/// `claims` for a run of `faults`: each claim that names a fault of
/// `planned` by index is moved to where that fault is in `faults` (each
/// entry answering for one at most, as the file rewrite counts), and
/// dropped when it is not there.
pub(super) fn claims_under(
    claims: &[AlertExpectation],
    planned: &[Fault],
    faults: &[Fault],
) -> Vec<AlertExpectation> {
    let moved = obsim_scenario::fault_moves(planned, faults);
    let mut kept = Vec::new();
    for claim in claims {
        let mut claim = claim.clone();
        if let AlertClaim::FiresDuring { fault, .. } | AlertClaim::Resolves { fault, .. } =
            &mut claim.claim
        {
            match moved.get(*fault).copied().flatten() {
                Some(new) => *fault = new,
                None => continue,
            }
        }
        kept.push(claim);
    }
    kept
}
