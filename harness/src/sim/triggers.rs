//! Crashes set off by an event on a node instead of at a time (a scenario
//! file's `on`): the request a node accepts, a message it receives, a reply
//! it sends, a request it holds in flight.
//!
//! Where a crash lands decides whether correct code can look wrong. A crash
//! an event sets off lands at the `.await` the node reaches next, never in
//! the synchronous code between two, because that is all madsim can stop
//! and all the harness reads: the node is frozen at once (madsim's pause,
//! so no other task of it runs), the poll that met the event runs on to its
//! next `.await`, and the supervisor kills the frozen node, reading its
//! final metrics, at its own next poll. Code that counts an event in the
//! poll that takes it has counted it by then; code that counts it in a task
//! of its own (the request's handler, spawned by the accept loop) has not,
//! as that task never runs. A crash during a transaction lands the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use obsim_faults::{FaultPlan, Injector, NodeTriggers, Trigger, TriggeredCrash};

use super::capture::NodeNames;
use super::world::CrashRequest;
use crate::run::server_name;

/// How a node asks, from inside one of its own polls, to be crashed where
/// that poll ends: frozen now, killed by the supervisor at its next poll.
#[derive(Clone)]
pub(crate) struct CrashRequests {
    sender: mpsc::UnboundedSender<CrashRequest>,
    names: NodeNames,
    /// Servers frozen and waiting for the supervisor to kill them.
    frozen: Arc<Mutex<BTreeSet<usize>>>,
}

impl CrashRequests {
    pub(crate) fn new(sender: mpsc::UnboundedSender<CrashRequest>, names: NodeNames) -> Self {
        CrashRequests {
            sender,
            names,
            frozen: Arc::default(),
        }
    }

    /// Whether server `node` is frozen, about to be killed: it meets no
    /// further event, and nothing may resume it.
    pub(crate) fn is_frozen(&self, node: usize) -> bool {
        self.frozen.lock().expect("frozen lock").contains(&node)
    }

    /// Server `node`'s incarnation ended: a frozen one is killed now.
    pub(crate) fn node_down(&self, node: usize) {
        self.frozen.lock().expect("frozen lock").remove(&node);
    }

    /// Freezes server `node` and asks the supervisor to kill it, restarting
    /// it after `restart_after`. Must be called from a task of that node.
    /// The supervisor's task is already woken when this poll ends, and runs
    /// before any timer fires, so nothing the node waits on comes in between.
    pub(crate) fn request(&self, node: usize, restart_after: Option<Duration>) {
        let name = server_name(node);
        let id = self
            .names
            .lock()
            .expect("node names lock")
            .iter()
            .find(|(_, named)| **named == name)
            .map(|(id, _)| *id);
        if let Some(id) = id {
            madsim::runtime::Handle::current().pause(id);
        }
        self.frozen.lock().expect("frozen lock").insert(node);
        // The supervisor outlives every node; if it is gone the run is over.
        let _ = self.sender.unbounded_send(CrashRequest {
            node,
            restart_after,
        });
    }
}

/// The run's event triggers, and what the `in_flight` trigger watches.
pub(crate) struct Triggers {
    /// Per server: its event decisions, kept across restarts so that a
    /// reboot continues the stream; None for a server no trigger aims at.
    decisions: Vec<Option<Mutex<NodeTriggers>>>,
    /// Per server: whether an `in_flight` crash watches it, so that
    /// requests are tracked only where something reads them.
    watched: Vec<bool>,
    /// Per watched server: the ledger indices of the requests its live
    /// incarnation accepted and has not answered.
    in_flight: Mutex<BTreeMap<usize, BTreeSet<usize>>>,
    /// Per watched server: the supervisor's watchers waiting for the next
    /// request it accepts (one each at most, so bounded by the plan).
    waiting: Mutex<BTreeMap<usize, Vec<oneshot::Sender<()>>>>,
}

impl Triggers {
    pub(crate) fn new(injector: &Injector, plan: &FaultPlan, servers: usize) -> Triggers {
        let decisions = (0..servers)
            .map(|node| {
                let triggers = injector.triggers(node);
                (!triggers.is_empty()).then(|| Mutex::new(triggers))
            })
            .collect();
        let mut watched = vec![false; servers];
        for crash in plan.in_flight_crashes() {
            watched[crash.node] = true;
        }
        Triggers {
            decisions,
            watched,
            in_flight: Mutex::new(BTreeMap::new()),
            waiting: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether a crash an event sets off is aimed at server `node`: if not,
    /// its events cost nothing.
    pub(crate) fn aim_at(&self, node: usize) -> bool {
        self.decisions.get(node).is_some_and(Option::is_some)
    }

    /// Whether `event` on server `node` at `now` sets a crash off.
    pub(crate) fn decide(
        &self,
        node: usize,
        event: Trigger,
        now: Duration,
    ) -> Option<TriggeredCrash> {
        let decisions = self.decisions.get(node)?.as_ref()?;
        decisions.lock().expect("triggers lock").decide(event, now)
    }

    /// Server `node` accepted the request at ledger index `record`: it is
    /// in flight, and the watchers waiting for one wake.
    pub(crate) fn accepted(&self, node: usize, record: usize) {
        if !self.watched.get(node).copied().unwrap_or(false) {
            return;
        }
        let mut in_flight = self.in_flight.lock().expect("in flight lock");
        in_flight.entry(node).or_default().insert(record);
        let waiting = self.waiting.lock().expect("waiting lock").remove(&node);
        for waiter in waiting.into_iter().flatten() {
            // A watcher that stopped waiting dropped its end.
            let _ = waiter.send(());
        }
    }

    /// The request at `record` is answered, or will never be (its responder
    /// was dropped).
    pub(crate) fn answered(&self, node: usize, record: usize) {
        if !self.watched.get(node).copied().unwrap_or(false) {
            return;
        }
        let mut in_flight = self.in_flight.lock().expect("in flight lock");
        if let Some(records) = in_flight.get_mut(&node) {
            records.remove(&record);
        }
    }

    /// Server `node`'s incarnation ended: what it held in flight is cut off.
    pub(crate) fn node_down(&self, node: usize) {
        self.in_flight.lock().expect("in flight lock").remove(&node);
    }

    /// The oldest request server `node` holds in flight now, and how many
    /// it holds.
    pub(crate) fn in_flight(&self, node: usize) -> Option<(usize, usize)> {
        let in_flight = self.in_flight.lock().expect("in flight lock");
        let records = in_flight.get(&node)?;
        Some((*records.first()?, records.len()))
    }

    /// Resolves when server `node` next accepts a request.
    pub(crate) fn next_accept(&self, node: usize) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        let mut waiting = self.waiting.lock().expect("waiting lock");
        waiting.entry(node).or_default().push(sender);
        receiver
    }
}
