//! The shared state of one run: what the harness knows that the system under
//! test does not. It is the privileged channel for ground truth, and it lives
//! exactly as long as the run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use obsim_faults::{FaultEvent, FaultKind, FaultLog, Injector, NetworkFaults};

use crate::clock::Clock;
use crate::config::Config;
use crate::scraper::Scrape;
use crate::storage::Storage;
use crate::telemetry::NodeNames;

/// One life of one server node, from boot to crash (or the end of the run).
#[derive(Clone)]
pub(crate) struct Incarnation {
    pub node: usize,
    pub number: u32,
    pub started_at: Duration,
    pub ended_at: Option<Duration>,
    /// Kept by the harness after the node loses it in a crash: its final
    /// values are ground truth for what the incarnation counted.
    pub registry: prometheus::Registry,
}

pub(crate) struct World {
    pub seed: u64,
    pub clock: Clock,
    pub faults: FaultLog,
    pub injector: Injector,
    pub node_names: NodeNames,
    /// One durable store per server node: it survives crashes, like a disk.
    pub storages: Vec<Storage>,
    incarnations: Mutex<Vec<Incarnation>>,
    outcomes: Mutex<BTreeMap<String, u64>>,
    scrapes: Mutex<Vec<Scrape>>,
    /// One fault stream per sending endpoint, kept across restarts so that a
    /// reboot continues its stream instead of replaying it.
    network_faults: Mutex<BTreeMap<String, Arc<Mutex<NetworkFaults>>>>,
    messages_sent: AtomicU64,
    message_limit: u64,
    message_limit_hit: AtomicBool,
}

impl World {
    pub(crate) fn new(seed: u64, config: &Config) -> Arc<World> {
        let clock = Clock::default();
        let faults = FaultLog::new(config.fault_log_capacity);
        let injector = Injector::new(seed, config.faults.clone());
        let storages = (0..config.servers)
            .map(|node| {
                Storage::new(
                    server_name(node),
                    injector.storage(node),
                    faults.clone(),
                    clock.clone(),
                    config.storage_latency,
                )
            })
            .collect();
        Arc::new(World {
            seed,
            clock,
            faults,
            injector,
            node_names: NodeNames::default(),
            storages,
            incarnations: Mutex::new(Vec::new()),
            outcomes: Mutex::new(BTreeMap::new()),
            scrapes: Mutex::new(Vec::new()),
            network_faults: Mutex::new(BTreeMap::new()),
            messages_sent: AtomicU64::new(0),
            message_limit: config.message_limit,
            message_limit_hit: AtomicBool::new(false),
        })
    }

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
        let incarnation = Incarnation {
            node,
            number,
            started_at: self.clock.elapsed(),
            ended_at: None,
            registry: prometheus::Registry::new(),
        };
        incarnations.push(incarnation.clone());
        incarnation
    }

    pub(crate) fn end_incarnation(&self, node: usize) {
        let now = self.clock.elapsed();
        let mut incarnations = self.incarnations.lock().expect("incarnations lock");
        if let Some(last) = incarnations.iter_mut().rev().find(|i| i.node == node) {
            last.ended_at.get_or_insert(now);
        }
    }

    pub(crate) fn incarnations(&self) -> Vec<Incarnation> {
        self.incarnations.lock().expect("incarnations lock").clone()
    }

    pub(crate) fn record_outcome(&self, outcome: &str) {
        let mut outcomes = self.outcomes.lock().expect("outcomes lock");
        *outcomes.entry(outcome.to_string()).or_default() += 1;
    }

    pub(crate) fn outcomes(&self) -> BTreeMap<String, u64> {
        self.outcomes.lock().expect("outcomes lock").clone()
    }

    pub(crate) fn record_scrape(&self, scrape: Scrape) {
        self.scrapes.lock().expect("scrapes lock").push(scrape);
    }

    pub(crate) fn scrapes(&self) -> Vec<Scrape> {
        self.scrapes.lock().expect("scrapes lock").clone()
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

    /// Counts one message against the run's bound; false once it is spent.
    pub(crate) fn take_message_budget(&self) -> bool {
        let sent = self.messages_sent.fetch_add(1, Ordering::Relaxed);
        let within = sent < self.message_limit;
        if !within {
            self.message_limit_hit.store(true, Ordering::Relaxed);
        }
        within
    }

    pub(crate) fn message_limit_hit(&self) -> Option<u64> {
        self.message_limit_hit
            .load(Ordering::Relaxed)
            .then_some(self.message_limit)
    }
}

pub(crate) fn server_name(node: usize) -> String {
    format!("server-{node}")
}
