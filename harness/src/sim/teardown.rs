//! How a run ends: stopped the moment a bound is crossed, its supervisor's
//! last task stopped however its body ends, and every task it left released
//! once what it captured has been read.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use madsim::runtime::Handle;
use madsim::task::NodeId;

use super::lifecycle::Supervisor;
use super::simulation::RunError;
use super::world::World;

/// Stops the supervisor's crash-request task when dropped.
pub(super) struct StopOnDrop(pub(super) Supervisor);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// `run`, stopped the moment a bound is crossed.
pub(super) async fn stop_at_bound(
    run: impl std::future::Future<Output = Result<Duration, RunError>>,
    crossed: futures::channel::oneshot::Receiver<()>,
    world: &World,
) -> Result<Duration, RunError> {
    let run = std::pin::pin!(run);
    match futures::future::select(run, crossed).await {
        futures::future::Either::Left((result, _)) => result,
        futures::future::Either::Right(_) => match world.limits.crossed() {
            Some(crossed) => Err(RunError::Bound(crossed)),
            // The signal's sender was dropped without a crossing: only at
            // the end of a run, whose body then decides.
            None => Err(RunError::Panicked {
                message: "obsim: the bound signal closed with no bound crossed".into(),
            }),
        },
    }
}

/// Kills every node the run made, which drops every task still pending on
/// it. madsim's runtime does not drop pending tasks when it is dropped, so
/// without this each run would leak its tasks, and through them its world,
/// its spans and its system: a sweep's memory would grow with every seed.
/// Called after everything is read: what the teardown closes is not part of
/// the run.
pub(super) fn release_tasks(runtime: &madsim::runtime::Runtime, world: &World) {
    let nodes: Vec<NodeId> = world
        .node_names
        .lock()
        .expect("node names lock")
        .keys()
        .copied()
        .collect();
    // A panic in a task's drop is the system's, and the run is over: it
    // must not turn a finished run into a failure.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async move {
            let handle = Handle::current();
            for node in nodes {
                handle.kill(node);
            }
            // The executor drops a killed node's tasks as it next runs.
            madsim::time::sleep(Duration::from_millis(1)).await;
        })
    }));
}
