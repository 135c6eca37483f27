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
    FaultKind, Hit, InFlightCrash, Lifecycle, LifecycleEvent, PartitionWindow, SocketCondition,
    SocketWindow, Transport,
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
    /// The tasks that wait on the nodes until the run ends: the one that
    /// serves crash requests, and the watchers of requests in flight.
    waiting_tasks: Rc<RefCell<Vec<JoinHandle<()>>>>,
    /// Socket faults not yet known to have fired, with what must pass
    /// for them to: settled as their window closes, or as the run ends.
    watches: Rc<RefCell<Vec<Watch>>>,
}

/// A fault on madsim's sockets, fired once packets pass while it acts.
/// madsim counts only the packets it delivers, network-wide, so that is
/// the evidence: for a socket delay or loss, which act network-wide, any
/// packet; for a partition's clogged links, which obsim cannot watch one
/// by one, a socket packet (not one of obsim's typed messages, which the
/// partition fires on itself as it cuts them).
struct Watch {
    index: usize,
    kind: FaultKind,
    sockets_only: bool,
    /// The packet count as the fault began to act.
    mark: i128,
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
            waiting_tasks: Rc::default(),
            watches: Rc::default(),
        }
    }

    /// Packets delivered so far; with `sockets_only`, those that are not
    /// obsim's typed messages (each typed message is counted handed over
    /// once madsim decided its fate, so the difference never counts one).
    fn packets(&self, sockets_only: bool) -> i128 {
        let delivered = i128::from(self.sockets.borrow().delivered());
        if sockets_only {
            delivered - i128::from(self.world.typed_sends())
        } else {
            delivered
        }
    }

    /// Starts watching socket fault `index` of `kind` for packets.
    fn watch(&self, index: usize, kind: FaultKind, sockets_only: bool) {
        let mark = self.packets(sockets_only);
        self.watches.borrow_mut().push(Watch {
            index,
            kind,
            sockets_only,
            mark,
        });
    }

    /// Settles the watches of fault `index` (every one, with None): each
    /// counts as its fault's firing if packets passed since it began.
    fn settle(&self, index: Option<usize>) {
        let mut watches = self.watches.borrow_mut();
        let (settled, kept): (Vec<Watch>, Vec<Watch>) = watches
            .drain(..)
            .partition(|watch| index.is_none_or(|index| watch.index == index));
        *watches = kept;
        drop(watches);
        for watch in settled {
            if self.packets(watch.sockets_only) > watch.mark {
                self.world
                    .faults
                    .fired(&[Hit::planned(watch.index, watch.kind)]);
            }
        }
    }

    /// Ends the tasks that wait on the nodes as the run ends. They live on
    /// the main node, which is never killed, and hold the runtime's handle:
    /// left waiting, they would keep the whole runtime, world and capture
    /// of the run alive after the run, a leak per seed.
    /// Also settles the socket faults still watched: their windows stay
    /// open to the end of the run.
    pub(crate) fn stop(&self) {
        for task in self.waiting_tasks.borrow_mut().drain(..) {
            task.abort();
        }
        self.settle(None);
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
    /// `fired` is the plan entry of a crash the supervisor decided (a timed
    /// one, or one a request in flight set off), with what to log of it,
    /// counted as fired if the node was up; a crash a node asked for was
    /// logged and counted where it was decided (storage, the network).
    fn crash(&self, node: usize, restart_after: Option<Duration>, fired: Option<(usize, String)>) {
        if !self.down.borrow_mut().insert(node) {
            return;
        }
        let name = server_name(node);
        self.world.end_incarnation(node);
        if let Some((index, detail)) = fired {
            let kind = FaultKind::NodeCrash;
            self.world
                .log_firing(kind, &name, detail, &[Hit::planned(index, kind)]);
        }
        // A paused node (frozen by a triggered crash, or paused by the
        // plan) holds its tasks aside, and madsim's kill would drop them
        // here, on the supervisor: a span a dropped task ends would seem to
        // end outside the node. Handed back to the executor first, they are
        // dropped as the killed node's own, with nothing of it run between.
        self.handle.resume(self.nodes[node]);
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
                let fired = Some((event.index, String::new()));
                self.crash(event.node, restart_after, fired);
            }
            Lifecycle::Pause { resume_after } => {
                let dying = self.world.crash_requests.is_frozen(event.node);
                if dying || self.down.borrow().contains(&event.node) {
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
                // A node an event froze for a crash stays frozen until the
                // crash request, already queued, kills it.
                if !self.world.crash_requests.is_frozen(event.node) {
                    self.handle.resume(id);
                }
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
        self.world
            .set_partition(id, Some((window.index, partition.clone())));
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
        // Logged as it starts; it fires on what it cuts (`Network`), and on
        // sockets once socket packets pass after its links are clogged, up
        // to the run's end: what they held is delivered after the heal.
        self.log(FaultKind::NetworkPartition, &target, detail);
        if clogs {
            madsim::time::sleep(CLOG_LAG).await;
            let socket_side = Some(partition.clone());
            self.sockets.borrow_mut().set_partition(id, socket_side);
            self.watch(window.index, FaultKind::NetworkPartition, true);
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
        // Network-wide, so the target is the transport itself. Logged as it
        // opens; it fires once a packet crosses the network while it is.
        self.log(kind, Transport::Sockets.as_str(), detail);
        self.watch(window.index, kind, false);
        let Some(length) = window.duration else {
            return;
        };
        madsim::time::sleep(length).await;
        self.sockets.borrow_mut().set_condition(window.index, None);
        self.settle(Some(window.index));
    }

    /// Kills each node that asks, at the first poll after it asked: a crash
    /// during a transaction, or one an event set off, is decided inside the
    /// node, which froze itself then (see `triggers.rs`).
    async fn crash_requests(self) {
        let Some(mut inbox) = self.world.take_crash_inbox() else {
            return;
        };
        while let Some(CrashRequest {
            node,
            restart_after,
        }) = inbox.next().await
        {
            self.crash(node, restart_after, None);
        }
    }

    /// Crashes the node at `crash.at`, or at the first moment after it that
    /// the node holds a request in flight, unless `crash.until` comes
    /// first. Killed from here, between two of the node's polls, as a timed
    /// crash is: the requests in flight are cut off wherever they wait.
    async fn crash_in_flight(self, crash: InFlightCrash) {
        self.sleep_until(crash.at).await;
        loop {
            let now = self.world.clock.elapsed();
            if crash.until.is_some_and(|until| now >= until) {
                return;
            }
            if let Some(detail) = self.in_flight_detail(crash.node) {
                let fired = Some((crash.index, detail));
                self.crash(crash.node, crash.restart_after, fired);
                return;
            }
            // Woken by the next request it accepts: that one is in flight
            // until its handler answers it.
            let accepted = self.world.triggers.next_accept(crash.node);
            match crash.until {
                Some(until) => {
                    let left = until.saturating_sub(now);
                    if madsim::time::timeout(left, accepted).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = accepted.await;
                }
            }
        }
    }

    /// What an `in_flight` crash of `node` would cut off now; None when the
    /// node is down or holds no request in flight.
    fn in_flight_detail(&self, node: usize) -> Option<String> {
        let dying = self.world.crash_requests.is_frozen(node);
        if dying || self.down.borrow().contains(&node) {
            return None;
        }
        let (oldest, count) = self.world.triggers.in_flight(node)?;
        Some(format!(
            "on=in_flight: {} ({count} in flight)",
            self.world.ledger.describe_request(oldest)
        ))
    }
}

/// Runs the plan's schedule; returns when every scheduled event (not every
/// restart: see [`Supervisor::restarts_done`]) has happened.
pub(crate) async fn supervise(supervisor: Supervisor) {
    // Requests can come, and requests be in flight, until the run ends;
    // `Supervisor::stop` ends these tasks.
    let mut waiting = vec![madsim::task::spawn_local(
        supervisor.clone().crash_requests(),
    )];
    let in_flight = supervisor.world.plan.in_flight_crashes().into_iter();
    waiting.extend(
        in_flight.map(|crash| madsim::task::spawn_local(supervisor.clone().crash_in_flight(crash))),
    );
    *supervisor.waiting_tasks.borrow_mut() = waiting;
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
