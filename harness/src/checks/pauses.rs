//! When each node was paused: the fault log's pauses and resumes as
//! intervals, for checks whose timing a frozen process explains.

use std::collections::BTreeMap;

use obsim_faults::FaultKind;

use crate::run::Run;

/// Each node's paused intervals, in nanoseconds since the run started: a
/// pause lasts until the resume after it, or to the run's end.
pub(super) struct Pauses<'r>(BTreeMap<&'r str, Vec<(i64, i64)>>);

impl<'r> Pauses<'r> {
    pub(super) fn of(run: &'r Run) -> Pauses<'r> {
        let mut found: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
        let mut since: BTreeMap<&str, i64> = BTreeMap::new();
        for event in &run.faults {
            let at = event.at.as_nanos() as i64;
            match event.kind {
                FaultKind::NodePause => {
                    since.entry(&event.target).or_insert(at);
                }
                FaultKind::NodeResume => {
                    if let Some(from) = since.remove(event.target.as_str()) {
                        found.entry(&event.target).or_default().push((from, at));
                    }
                }
                _ => {}
            }
        }
        let end = run.ended_at.as_nanos() as i64;
        for (node, from) in since {
            found.entry(node).or_default().push((from, end));
        }
        Pauses(found)
    }

    /// How long `node` was paused within `[from_ns, to_ns]`.
    pub(super) fn within_ns(&self, node: &str, from_ns: i64, to_ns: i64) -> i64 {
        self.0.get(node).map_or(0, |intervals| {
            intervals
                .iter()
                .map(|&(start, end)| (end.min(to_ns) - start.max(from_ns)).max(0))
                .sum()
        })
    }
}
