//! The fault supervisor: it runs outside every node and carries out what the
//! plan schedules (crashes, restarts, pauses, partitions) and the crashes a
//! node asks for mid-transaction. Every action is logged with its simulated
//! time, so a counter reset can be matched to the restart that caused it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use madsim::runtime::Handle;
use madsim::task::{JoinHandle, NodeId};
use obsim_faults::{
    FaultKind, Hit, Lifecycle, LifecycleEvent, PartitionWindow, SocketCondition, SocketWindow,
    Transport,
};

use super::sockets::{self, SocketFaults, CLOG_LAG};
use super::world::{CrashRequest, World};
use crate::run::server_name;

/// Shared by the supervisor's tasks. Single-threaded (madsim runs every task
/// on one thread), hence `Rc`.
#[derive(Clone)]
pub(crate) struct Supervisor {
    handle: Handle,
    world: Arc<World>,
    nodes: Vec<NodeId>,
    /// Restarts still to come, so that the run waits for them.
    restarts: Rc<RefCell<Vec<JoinHandle<()>>>>,
    /// Server nodes that are down now. A crash or pause of a node that is
    /// already down is skipped: only the crash that took a node down restarts
    /// it, so overlapping crash windows never restart a node twice.
    down: Rc<RefCell<BTreeSet<usize>>>,
    /// Partitions, delays and losses as madsim's sockets get them.
    sockets: Rc<RefCell<SocketFaults>>,
    /// The task that serves crash requests until the run ends.
    crash_task: Rc<RefCell<Option<JoinHandle<()>>>>,
}

impl Supervisor {
    /// Must run inside the simulation, once every node is built.
    pub(crate) fn new(handle: Handle, world: Arc<World>, nodes: Vec<NodeId>) -> Supervisor {
        let names = world.node_names.lock().expect("node names lock").clone();
        Supervisor {
            handle,
            world,
            nodes,
            restarts: Rc::default(),
            down: Rc::default(),
            sockets: Rc::new(RefCell::new(SocketFaults::new(&names))),
            crash_task: Rc::default(),
        }
    }

    /// Ends the crash-request task as the run ends. It lives on the main
    /// node, which is never killed, and it holds the runtime's handle: left
    /// waiting, it would keep the whole runtime, world and capture of the
    /// run alive after the run, a leak per seed.
    pub(crate) fn stop(&self) {
        if let Some(task) = self.crash_task.borrow_mut().take() {
            task.abort();
        }
    }

    /// Waits for every pending restart, including ones scheduled while
    /// waiting. The run's time limit bounds the wait.
    pub(crate) async fn restarts_done(&self) {
        loop {
            let next = self.restarts.borrow_mut().pop();
            let Some(restart) = next else {
                return;
            };
            let _ = restart.await;
        }
    }

    fn log(&self, kind: FaultKind, target: &str, detail: String) {
        self.world.log_fault(kind, target, detail);
    }

    async fn sleep_until(&self, at: Duration) {
        madsim::time::sleep(at.saturating_sub(self.world.clock.elapsed())).await;
    }

    /// Kills `node` now and, with a delay, schedules its restart. Skipped if
    /// the node is already down.
    /// `index` is the plan entry of a scheduled crash, counted as fired if
    /// the node was up; a crash during a transaction was counted where it
    /// was decided, in storage.
    fn crash(
        &self,
        node: usize,
        kind: FaultKind,
        restart_after: Option<Duration>,
        index: Option<usize>,
    ) {
        if !self.down.borrow_mut().insert(node) {
            return;
        }
        let name = server_name(node);
        self.world.end_incarnation(node);
        if let Some(index) = index {
            self.world
                .log_firing(kind, &name, String::new(), &[Hit::planned(index, kind)]);
        }
        self.handle.kill(self.nodes[node]);
        let Some(delay) = restart_after else {
            return;
        };
        let supervisor = self.clone();
        let restart = madsim::task::spawn_local(async move {
            madsim::time::sleep(delay).await;
            supervisor.log(FaultKind::NodeRestart, &name, format!("after={delay:?}"));
            supervisor.down.borrow_mut().remove(&node);
            supervisor.handle.restart(supervisor.nodes[node]);
        });
        self.restarts.borrow_mut().push(restart);
    }

    async fn lifecycle(self, event: LifecycleEvent) {
        self.sleep_until(event.at).await;
        match event.action {
            Lifecycle::Crash { restart_after } => {
                let index = Some(event.index);
                self.crash(event.node, FaultKind::NodeCrash, restart_after, index);
            }
            Lifecycle::Pause { resume_after } => {
                if self.down.borrow().contains(&event.node) {
                    return;
                }
                let (name, id) = (server_name(event.node), self.nodes[event.node]);
                let detail = format!("for={resume_after:?}");
                let fired = [Hit::planned(event.index, FaultKind::NodePause)];
                self.world
                    .log_firing(FaultKind::NodePause, &name, detail, &fired);
                self.handle.pause(id);
                madsim::time::sleep(resume_after).await;
                self.log(FaultKind::NodeResume, &name, String::new());
                self.handle.resume(id);
            }
        }
    }

    async fn partition(self, id: usize, window: PartitionWindow) {
        self.sleep_until(window.at).await;
        let partition = &window.partition;
        let target = format!(
            "[{}] {} [{}]",
            partition.from.join(","),
            if partition.one_way { "->" } else { "<->" },
            if partition.to.is_empty() {
                "everyone else".to_string()
            } else {
                partition.to.join(",")
            }
        );
        let links = self.sockets.borrow().link_count(partition);
        self.world.set_partition(id, Some(partition.clone()));
        // The clog waits one lag and the heal at least one more (madsim's
        // shortest sleep), so a partition shorter than two never reaches the
        // sockets, and the heal is never late.
        let clogs = window
            .heal_after
            .is_none_or(|heal_after| heal_after >= 2 * CLOG_LAG);
        let detail = if clogs {
            format!("sockets: {links} links clogged from +{CLOG_LAG:?}")
        } else {
            format!(
                "sockets: untouched, the partition is shorter than {:?}",
                2 * CLOG_LAG
            )
        };
        let fired = [Hit::planned(window.index, FaultKind::NetworkPartition)];
        self.world
            .log_firing(FaultKind::NetworkPartition, &target, detail, &fired);
        if clogs {
            madsim::time::sleep(CLOG_LAG).await;
            let socket_side = Some(partition.clone());
            self.sockets.borrow_mut().set_partition(id, socket_side);
        }
        let Some(heal_after) = window.heal_after else {
            return;
        };
        self.sleep_until(window.at + heal_after).await;
        self.world.set_partition(id, None);
        self.sockets.borrow_mut().set_partition(id, None);
        let detail = if clogs {
            format!("sockets: {links} links unclogged")
        } else {
            String::new()
        };
        self.log(FaultKind::NetworkHeal, &target, detail);
    }

    /// Applies a socket delay or loss to madsim's network for its window.
    async fn socket_window(self, window: SocketWindow) {
        self.sleep_until(window.at).await;
        let kind = match window.condition {
            SocketCondition::Latency { .. } => FaultKind::NetworkDelay,
            SocketCondition::Loss { .. } => FaultKind::PacketLoss,
        };
        let until = window.duration.map(|length| window.at + length);
        let detail = sockets::describe(&window.condition, until);
        self.sockets
            .borrow_mut()
            .set_condition(window.index, Some(window.condition));
        // Network-wide, so the target is the transport itself.
        let fired = [Hit::planned(window.index, kind)];
        self.world
            .log_firing(kind, Transport::Sockets.as_str(), detail, &fired);
        let Some(length) = window.duration else {
            return;
        };
        madsim::time::sleep(length).await;
        self.sockets.borrow_mut().set_condition(window.index, None);
    }

    /// Kills each node that asks, at the moment it asks: a crash during a
    /// transaction happens inside the node's own write.
    async fn crash_requests(self) {
        let Some(mut inbox) = self.world.take_crash_inbox() else {
            return;
        };
        while let Some(CrashRequest {
            node,
            restart_after,
        }) = inbox.next().await
        {
            self.crash(node, FaultKind::CrashDuringTransaction, restart_after, None);
        }
    }
}

/// Runs the plan's schedule; returns when every scheduled event (not every
/// restart: see [`Supervisor::restarts_done`]) has happened.
pub(crate) async fn supervise(supervisor: Supervisor) {
    // Requests can come until the run ends; `Supervisor::stop` ends it.
    let crash_task = madsim::task::spawn_local(supervisor.clone().crash_requests());
    *supervisor.crash_task.borrow_mut() = Some(crash_task);
    let mut tasks: Vec<JoinHandle<()>> = supervisor
        .world
        .plan
        .lifecycle()
        .into_iter()
        .map(|event| madsim::task::spawn_local(supervisor.clone().lifecycle(event)))
        .collect();
    let partitions = supervisor.world.plan.partitions().into_iter().enumerate();
    tasks.extend(
        partitions.map(|(id, window)| {
            madsim::task::spawn_local(supervisor.clone().partition(id, window))
        }),
    );
    let socket_windows = supervisor.world.plan.socket_windows().into_iter();
    tasks.extend(
        socket_windows
            .map(|window| madsim::task::spawn_local(supervisor.clone().socket_window(window))),
    );
    futures::future::join_all(tasks).await;
}
