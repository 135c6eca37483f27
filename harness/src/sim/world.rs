//! The shared state of one run: what the harness knows that the system under
//! test does not. It is the privileged channel for ground truth, and it lives
//! exactly as long as the run.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc;
use obsim_faults::{
    DependencyFaults, FaultEvent, FaultKind, FaultLog, FaultPlan, HandlerPanics, Hit, Injector,
    NetworkFaults, Partition,
};
use obsim_scenario::Fate;

use super::capture::NodeNames;
use super::clock::Clock;
use super::endpoint::{MetricsResponse, MetricsSlot};
use super::ledger::Ledger;
use super::limits::{Bound, Limits};
use super::storage::Storage;
use super::triggers::{CrashRequests, Triggers};
use crate::run::{server_name, Config, MessageCounts, Scrape};

/// One life of one server node, from boot to crash (or the end of the run).
#[derive(Clone)]
pub(crate) struct Incarnation {
    pub node: usize,
    pub number: u32,
    pub started_at: Duration,
    pub ended_at: Option<Duration>,
    /// The registry the incarnation's context hands the system.
    pub registry: prometheus::Registry,
    /// Its metrics endpoint, kept by the harness after the node loses it in
    /// a crash: its final values are ground truth for what it counted.
    pub metrics: MetricsSlot,
    /// What the endpoint answered the instant the incarnation crashed: its
    /// final values, read then, so that nothing done after the crash (by a
    /// handler the next incarnation shares, say) counts as this one's.
    pub final_render: Option<MetricsResponse>,
    /// Keys its storage held at that same instant.
    pub final_stored_keys: Option<u64>,
    /// Its probes, read in that same poll.
    pub final_probes: Option<std::collections::BTreeMap<String, f64>>,
}

/// A node's request, from inside the run, to be killed now (a crash during a
/// transaction) and restarted after the delay, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CrashRequest {
    pub node: usize,
    pub restart_after: Option<Duration>,
}

/// One (server, dependency) fault stream, shared by its incarnations.
type SharedDependencyFaults = Arc<Mutex<DependencyFaults>>;

pub(crate) struct World {
    pub seed: u64,
    pub clock: Clock,
    pub faults: FaultLog,
    pub injector: Injector,
    pub node_names: NodeNames,
    /// One durable store per server node: it survives crashes, like a disk.
    pub storages: Vec<Storage>,
    /// One handler-fault stream per server, kept across restarts.
    pub handler_faults: Vec<Arc<Mutex<HandlerPanics>>>,
    /// The client's registry: it never restarts, so it has just one.
    pub client_registry: prometheus::Registry,
    /// The client's metrics endpoint: its registry unless the system
    /// installs its own.
    pub client_metrics: MetricsSlot,
    /// The run's faults, fixed and drawn: the plan this seed honours.
    pub plan: FaultPlan,
    /// Ground truth the checks compare telemetry with.
    pub ledger: Arc<Ledger>,
    crash_inbox: Mutex<Option<mpsc::UnboundedReceiver<CrashRequest>>>,
    /// Servers whose serving endpoint has been bound, and the channel that
    /// tells the client: it starts only once every server can receive.
    bound: Mutex<BTreeSet<usize>>,
    bound_tx: mpsc::UnboundedSender<usize>,
    bound_rx: Mutex<Option<mpsc::UnboundedReceiver<usize>>>,
    /// The partitions in force, by id, each with its plan index.
    partitions: Mutex<BTreeMap<usize, (usize, Partition)>>,
    /// Typed messages handed to madsim's network (`Network::send` and its
    /// kin, a duplicate twice): what of madsim's packet count is obsim's
    /// own, so that the rest is the sockets' (see [`World::typed_sends`]).
    typed_sends: AtomicU64,
    messages: Mutex<BTreeMap<String, MessageCounts>>,
    incarnations: Mutex<Vec<Incarnation>>,
    outcomes: Mutex<BTreeMap<String, u64>>,
    amounts: Mutex<BTreeMap<String, u64>>,
    scrapes: Mutex<Vec<Scrape>>,
    /// One fault stream per sending endpoint, kept across restarts so that a
    /// reboot continues its stream instead of replaying it.
    network_faults: Mutex<BTreeMap<String, Arc<Mutex<NetworkFaults>>>>,
    /// One fault stream per (server, dependency), kept across restarts.
    dependency_faults: Mutex<BTreeMap<(usize, String), SharedDependencyFaults>>,
    /// The run's bounds: crossing one stops the run.
    pub limits: Arc<Limits>,
    /// Crashes set off by events on the nodes, and what they watch.
    pub(crate) triggers: Triggers,
    /// How a node asks to be crashed where its current poll ends.
    pub(crate) crash_requests: CrashRequests,
    /// The secrets the contract declares, and those the system asked for
    /// (with whether each was declared).
    secrets: Mutex<Secrets>,
}

#[derive(Default)]
struct Secrets {
    declared: Vec<String>,
    asked: BTreeMap<String, bool>,
}

impl World {
    pub(crate) fn new(
        seed: u64,
        config: &Config,
        plan: FaultPlan,
        limits: Arc<Limits>,
    ) -> Arc<World> {
        let clock = Clock::default();
        let faults = FaultLog::new(config.fault_log_capacity);
        let injector = Injector::new(seed, plan.clone());
        let (crash_requests, crash_inbox) = mpsc::unbounded();
        let (bound_tx, bound_rx) = mpsc::unbounded();
        let ledger = Arc::new(Ledger::default());
        // The client never restarts: one incarnation for the whole run.
        ledger.node_up("client", 0);
        let node_names = NodeNames::default();
        let crash_requests = CrashRequests::new(crash_requests, node_names.clone());
        let storages = (0..config.servers)
            .map(|node| {
                Storage::new(
                    node,
                    injector.storage(node),
                    faults.clone(),
                    clock.clone(),
                    config.storage_latency,
                    crash_requests.clone(),
                    ledger.clone(),
                )
            })
            .collect();
        let handler_faults = (0..config.servers)
            .map(|node| Arc::new(Mutex::new(injector.handler(node))))
            .collect();
        let client_registry = prometheus::Registry::new();
        let triggers = Triggers::new(&injector, &plan, config.servers);
        Arc::new(World {
            seed,
            clock,
            faults,
            injector,
            node_names,
            storages,
            handler_faults,
            client_metrics: MetricsSlot::new(Arc::new(client_registry.clone())),
            client_registry,
            plan,
            ledger,
            crash_inbox: Mutex::new(Some(crash_inbox)),
            bound: Mutex::new(BTreeSet::new()),
            bound_tx,
            bound_rx: Mutex::new(Some(bound_rx)),
            partitions: Mutex::new(BTreeMap::new()),
            typed_sends: AtomicU64::new(0),
            messages: Mutex::new(BTreeMap::new()),
            incarnations: Mutex::new(Vec::new()),
            outcomes: Mutex::new(BTreeMap::new()),
            amounts: Mutex::new(BTreeMap::new()),
            scrapes: Mutex::new(Vec::new()),
            network_faults: Mutex::new(BTreeMap::new()),
            dependency_faults: Mutex::new(BTreeMap::new()),
            limits,
            triggers,
            crash_requests,
            secrets: Mutex::new(Secrets::default()),
        })
    }

    /// The secrets the contract declares: the ones [`World::secret`] hands
    /// out without complaint.
    pub(crate) fn set_secrets(&self, declared: &[String]) {
        self.secrets.lock().expect("secrets lock").declared = declared.to_vec();
    }

    /// Secret `name`'s canary for this run, noting that the system asked.
    pub(crate) fn secret(&self, name: &str) -> String {
        let mut secrets = self.secrets.lock().expect("secrets lock");
        let declared = secrets.declared.iter().any(|declared| declared == name);
        // A name the contract does not declare still gets its canary, so the
        // service runs on; `secret_leaks` reports the name. Bounded: the
        // names asked beyond the declared ones are kept up to a limit.
        if declared || secrets.asked.len() < crate::run::SECRETS_MAX * 2 {
            secrets.asked.insert(name.to_string(), declared);
        }
        crate::run::canary(self.seed, name)
    }

    /// The secrets the system asked for, by name, with whether each was declared.
    pub(crate) fn secrets_asked(&self) -> BTreeMap<String, bool> {
        self.secrets.lock().expect("secrets lock").asked.clone()
    }

    /// Logs plan entries `fired` taking effect, and counts each one's firing:
    /// `faults_fired` judges every entry by its own count.
    pub(crate) fn log_firing(&self, kind: FaultKind, target: &str, detail: String, fired: &[Hit]) {
        self.faults.fired(fired);
        self.log_fault(kind, target, detail);
    }

    /// Logs an event that is no plan entry's firing: the second half of one
    /// (a restart, a resume, a heal).
    pub(crate) fn log_fault(&self, kind: FaultKind, target: &str, detail: String) {
        self.faults.record(FaultEvent {
            at: self.clock.elapsed(),
            kind,
            target: target.to_string(),
            detail,
        });
    }

    /// Starts a new incarnation of `node` with a fresh registry.
    pub(crate) fn begin_incarnation(&self, node: usize) -> Incarnation {
        let mut incarnations = self.incarnations.lock().expect("incarnations lock");
        let number = incarnations.iter().filter(|i| i.node == node).count() as u32;
        let registry = prometheus::Registry::new();
        let incarnation = Incarnation {
            node,
            number,
            started_at: self.clock.elapsed(),
            ended_at: None,
            metrics: MetricsSlot::new(Arc::new(registry.clone())),
            final_render: None,
            final_stored_keys: None,
            final_probes: None,
            registry,
        };
        incarnations.push(incarnation.clone());
        self.ledger.node_up(&server_name(node), number);
        incarnation
    }

    /// Server `node` can receive: its serving endpoint is bound. Only its
    /// first time counts.
    pub(crate) fn server_bound(&self, node: usize) {
        let first = self.bound.lock().expect("bound lock").insert(node);
        if first {
            // The receiver lives as long as the run's client: a send can
            // only fail after the client has stopped waiting.
            let _ = self.bound_tx.unbounded_send(node);
        }
    }

    /// Waits until every one of `servers` servers can receive, or `within`
    /// has passed. Without it, the client's first requests could reach a
    /// server whose endpoint is not bound yet, and vanish where no fault
    /// log or message count sees them. The bound keeps a server that never
    /// boots (crashed at once, never restarted) from stalling the run.
    pub(crate) async fn servers_bound(&self, servers: usize, within: std::time::Duration) {
        let Some(mut bound) = self.bound_rx.lock().expect("bound lock").take() else {
            return;
        };
        let all = async {
            let mut seen = 0;
            while seen < servers {
                match futures::StreamExt::next(&mut bound).await {
                    Some(_) => seen += 1,
                    None => return,
                }
            }
        };
        let _ = madsim::time::timeout(within, all).await;
    }

    pub(crate) fn end_incarnation(&self, node: usize) {
        let now = self.clock.elapsed();
        let mut incarnations = self.incarnations.lock().expect("incarnations lock");
        if let Some(last) = incarnations.iter_mut().rev().find(|i| i.node == node) {
            last.ended_at.get_or_insert(now);
            if last.final_render.is_none() {
                let (render, probes) = last.metrics.render_with_probes();
                last.final_render = Some(render);
                last.final_probes = Some(probes);
                last.final_stored_keys = Some(self.storages[node].len());
            }
        }
        self.ledger.node_down(&server_name(node));
        self.triggers.node_down(node);
        self.crash_requests.node_down(node);
    }

    pub(crate) fn incarnations(&self) -> Vec<Incarnation> {
        self.incarnations.lock().expect("incarnations lock").clone()
    }

    pub(crate) fn record_outcome(&self, outcome: &str) {
        let mut outcomes = self.outcomes.lock().expect("outcomes lock");
        *outcomes.entry(outcome.to_string()).or_default() += 1;
    }

    pub(crate) fn record_amount(&self, name: &str, amount: u64) {
        let mut amounts = self.amounts.lock().expect("amounts lock");
        let total = amounts.entry(name.to_string()).or_default();
        // Saturating: an amount past u64 is a client bug, and a wrapped
        // total would read as a small, plausible number.
        *total = total.saturating_add(amount);
    }

    pub(crate) fn amounts(&self) -> BTreeMap<String, u64> {
        self.amounts.lock().expect("amounts lock").clone()
    }

    pub(crate) fn outcomes(&self) -> BTreeMap<String, u64> {
        self.outcomes.lock().expect("outcomes lock").clone()
    }

    /// Keeps `scrape`, unless the run's scrape bound is crossed: then the
    /// run stops, and the scrape is not kept.
    pub(crate) fn record_scrape(&self, scrape: Scrape) {
        if self.limits.take(Bound::Scrapes, self.clock.elapsed()) {
            self.scrapes.lock().expect("scrapes lock").push(scrape);
        }
    }

    /// Takes the scrapes, as the run becomes a `Run`: moved, not copied.
    pub(crate) fn take_scrapes(&self) -> Vec<Scrape> {
        std::mem::take(&mut *self.scrapes.lock().expect("scrapes lock"))
    }

    pub(crate) fn network_faults(
        &self,
        node: Option<usize>,
        endpoint: &str,
    ) -> Arc<Mutex<NetworkFaults>> {
        let mut streams = self.network_faults.lock().expect("network faults lock");
        streams
            .entry(endpoint.to_string())
            .or_insert_with(|| Arc::new(Mutex::new(self.injector.network(node, endpoint))))
            .clone()
    }

    pub(crate) fn dependency_faults(
        &self,
        node: usize,
        dependency: &str,
    ) -> Arc<Mutex<DependencyFaults>> {
        let mut streams = self
            .dependency_faults
            .lock()
            .expect("dependency faults lock");
        streams
            .entry((node, dependency.to_string()))
            .or_insert_with(|| Arc::new(Mutex::new(self.injector.dependency(node, dependency))))
            .clone()
    }

    /// The supervisor's end of the crash requests; there is exactly one.
    pub(crate) fn take_crash_inbox(&self) -> Option<mpsc::UnboundedReceiver<CrashRequest>> {
        self.crash_inbox.lock().expect("crash inbox lock").take()
    }

    /// Starts (Some: the plan index and the partition) or ends (None)
    /// partition `id` on obsim's typed messages.
    pub(crate) fn set_partition(&self, id: usize, partition: Option<(usize, Partition)>) {
        let mut partitions = self.partitions.lock().expect("partitions lock");
        match partition {
            Some(partition) => partitions.insert(id, partition),
            None => partitions.remove(&id),
        };
    }

    /// The plan indices of the partitions in force that cut messages from
    /// node `src` to `dst`: empty when the message goes through.
    pub(crate) fn cutting(&self, src: &str, dst: &str) -> Vec<usize> {
        let partitions = self.partitions.lock().expect("partitions lock");
        partitions
            .values()
            .filter(|(_, partition)| partition.cuts(src, dst))
            .map(|(index, _)| *index)
            .collect()
    }

    /// Counts a typed message handed to madsim's network, once madsim has
    /// decided its fate there (counted it delivered, or not).
    pub(crate) fn count_typed_send(&self) {
        self.typed_sends.fetch_add(1, Ordering::Relaxed);
    }

    /// Typed messages handed to madsim's network so far.
    pub(crate) fn typed_sends(&self) -> u64 {
        self.typed_sends.load(Ordering::Relaxed)
    }

    pub(crate) fn count_message(&self, message: &str, fate: Fate) {
        let mut messages = self.messages.lock().expect("messages lock");
        *messages
            .entry(message.to_string())
            .or_default()
            .count_mut(fate) += 1;
    }

    pub(crate) fn messages(&self) -> BTreeMap<String, MessageCounts> {
        self.messages.lock().expect("messages lock").clone()
    }

    /// Counts one message against the run's bound; false once it is
    /// crossed, which stops the run.
    pub(crate) fn take_message_budget(&self) -> bool {
        self.limits.take(Bound::Messages, self.clock.elapsed())
    }
}

/// The simulated address plan: servers on 10.0.0.<index + 1>, the client on
/// 10.0.1.1 and the scraper on 10.0.2.1.
pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
pub(crate) const SCRAPER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);

pub(crate) fn server_ip(index: usize) -> IpAddr {
    // Validation caps servers at 200, so the last octet never overflows.
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + index as u8))
}

/// The node name an address belongs to, as partitions and reports name it.
pub(crate) fn node_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) if v4 == CLIENT_IP => "client".into(),
        IpAddr::V4(v4) if v4 == SCRAPER_IP => "scraper".into(),
        IpAddr::V4(v4) if v4.octets()[..3] == [10, 0, 0] && v4.octets()[3] > 0 => {
            server_name(usize::from(v4.octets()[3]) - 1)
        }
        other => other.to_string(),
    }
}
