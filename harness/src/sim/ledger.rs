//! The harness's own record of what happened, kept through its privileged
//! channel (the storage it simulates, the node lifecycle it drives), never
//! through the system's metrics. Checks compare the telemetry with it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::run::StorageOp;

/// Shared by the world, every storage and the span capture of one run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// The live incarnation of each node; absent while a node is down.
    live: Mutex<BTreeMap<String, u32>>,
    storage_ops: Mutex<Vec<StorageOp>>,
    /// Torn transactions rolled back by recovery, per node.
    recovered: Mutex<BTreeMap<String, u64>>,
}

impl Ledger {
    pub(crate) fn node_up(&self, node: &str, incarnation: u32) {
        self.live_map().insert(node.to_string(), incarnation);
    }

    pub(crate) fn node_down(&self, node: &str) {
        self.live_map().remove(node);
    }

    /// The live incarnation of `node`, None while it is down.
    pub(crate) fn live(&self, node: &str) -> Option<u32> {
        self.live_map().get(node).copied()
    }

    pub(crate) fn record_storage(&self, op: StorageOp) {
        self.storage_ops.lock().expect("ledger lock").push(op);
    }

    pub(crate) fn record_recovered(&self, node: &str, transactions: u64) {
        *self
            .recovered
            .lock()
            .expect("ledger lock")
            .entry(node.to_string())
            .or_default() += transactions;
    }

    pub(crate) fn storage_ops(&self) -> Vec<StorageOp> {
        self.storage_ops.lock().expect("ledger lock").clone()
    }

    pub(crate) fn recovered(&self) -> BTreeMap<String, u64> {
        self.recovered.lock().expect("ledger lock").clone()
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u32>> {
        self.live.lock().expect("ledger lock")
    }
}
