//! The harness's own record of what happened, kept through its privileged
//! channel (the storage it simulates, the node lifecycle it drives), never
//! through the system's metrics. Checks compare the telemetry with it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::interner::Interner;

use crate::run::{AttemptRecord, CallRecord, DependencyCall, RequestRecord, SpanRef, StorageOp};

/// Shared by the world, every storage and the span capture of one run.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// The live incarnation of each node; absent while a node is down.
    live: Mutex<BTreeMap<String, u32>>,
    /// The incarnation each node that is down now died in.
    dead: Mutex<BTreeMap<String, u32>>,
    storage_ops: Mutex<Vec<StorageOp>>,
    /// Torn transactions rolled back by recovery, per node.
    recovered: Mutex<BTreeMap<String, u64>>,
    /// Every call, indexed by its id.
    calls: Mutex<Vec<CallRecord>>,
    /// Every request received, in receipt order.
    requests: Mutex<Vec<RequestRecord>>,
    /// Every completed dependency call, in completion order.
    dependency_calls: Mutex<Vec<DependencyCall>>,
    /// Node names, methods, operations and outcomes, held once each.
    strings: Mutex<Interner>,
}

impl Ledger {
    /// The run's one copy of `text`, for the records above.
    pub(crate) fn intern(&self, text: &str) -> Arc<str> {
        self.strings.lock().expect("ledger lock").get(text)
    }

    pub(crate) fn node_up(&self, node: &str, incarnation: u32) {
        self.live_map().insert(node.to_string(), incarnation);
        self.dead.lock().expect("ledger lock").remove(node);
    }

    pub(crate) fn node_down(&self, node: &str) {
        if let Some(incarnation) = self.live_map().remove(node) {
            let mut dead = self.dead.lock().expect("ledger lock");
            dead.insert(node.to_string(), incarnation);
        }
    }

    /// The incarnation `node` died in, while it is down: what runs on it
    /// then is the killed process's tasks being dropped.
    pub(crate) fn dead(&self, node: &str) -> Option<u32> {
        self.dead.lock().expect("ledger lock").get(node).copied()
    }

    /// The live incarnation of `node`, None while it is down.
    pub(crate) fn live(&self, node: &str) -> Option<u32> {
        self.live_map().get(node).copied()
    }

    /// The incarnation an operation of `node` finishing now belongs to;
    /// `u32::MAX` while the node is down (no incarnation had it).
    pub(crate) fn incarnation_of(&self, node: &str) -> u32 {
        self.live(node).unwrap_or(u32::MAX)
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

    /// Takes the records: read once, as the run becomes a `Run`, so they
    /// are moved, not copied (a copy doubled the run's peak memory).
    pub(crate) fn take_storage_ops(&self) -> Vec<StorageOp> {
        std::mem::take(&mut *self.storage_ops.lock().expect("ledger lock"))
    }

    pub(crate) fn recovered(&self) -> BTreeMap<String, u64> {
        self.recovered.lock().expect("ledger lock").clone()
    }

    /// Starts a call's record and returns its id.
    pub(crate) fn begin_call(&self, mut call: CallRecord) -> u64 {
        let mut calls = self.calls.lock().expect("ledger lock");
        let id = calls.len() as u64;
        call.id = id;
        calls.push(call);
        id
    }

    pub(crate) fn end_call(&self, id: u64, at: std::time::Duration, outcome: &str) {
        let outcome = self.intern(outcome);
        if let Some(call) = self.calls.lock().expect("ledger lock").get_mut(id as usize) {
            call.ended_at = Some(at);
            call.outcome = Some(outcome);
        }
    }

    pub(crate) fn begin_attempt(&self, id: u64, attempt: AttemptRecord) {
        if let Some(call) = self.calls.lock().expect("ledger lock").get_mut(id as usize) {
            // Most calls make one attempt: a plain push would reserve four,
            // which was the largest single share of a run's memory.
            call.attempts.reserve_exact(1);
            call.attempts.push(attempt);
        }
    }

    pub(crate) fn end_attempt(&self, id: u64, number: u32, at: std::time::Duration, outcome: &str) {
        let outcome = self.intern(outcome);
        let mut calls = self.calls.lock().expect("ledger lock");
        let Some(call) = calls.get_mut(id as usize) else {
            return;
        };
        if let Some(attempt) = call.attempts.iter_mut().find(|a| a.number == number) {
            attempt.ended_at = Some(at);
            attempt.outcome = Some(outcome);
        }
    }

    /// Records a request's receipt and returns its index, for its reply.
    pub(crate) fn record_request(&self, request: RequestRecord) -> usize {
        let mut requests = self.requests.lock().expect("ledger lock");
        requests.push(request);
        requests.len() - 1
    }

    pub(crate) fn record_reply(
        &self,
        index: usize,
        at: std::time::Duration,
        status: &str,
        span: Option<SpanRef>,
    ) {
        let status = self.intern(status);
        if let Some(request) = self.requests.lock().expect("ledger lock").get_mut(index) {
            request.replied_at = Some(at);
            request.status = Some(status);
            request.span = span;
        }
    }

    /// The request at `index`, for the fault log: `request Invoke
    /// (increment) of call 17, attempt 0, received at 1.000123456s`.
    pub(crate) fn describe_request(&self, index: usize) -> String {
        let requests = self.requests.lock().expect("ledger lock");
        let Some(request) = requests.get(index) else {
            return format!("request #{index}");
        };
        format!(
            "request {} ({}) of call {}, attempt {}, received at {:.9}s",
            request.method,
            request.operation,
            request.call,
            request.attempt,
            request.received_at.as_secs_f64()
        )
    }

    pub(crate) fn record_dependency(&self, call: DependencyCall) {
        self.dependency_calls
            .lock()
            .expect("ledger lock")
            .push(call);
    }

    /// Takes the records: read once, as the run becomes a `Run`, so they
    /// are moved, not copied (a copy doubled the run's peak memory).
    pub(crate) fn take_dependency_calls(&self) -> Vec<DependencyCall> {
        std::mem::take(&mut *self.dependency_calls.lock().expect("ledger lock"))
    }

    /// Takes the records: read once, as the run becomes a `Run`, so they
    /// are moved, not copied (a copy doubled the run's peak memory).
    pub(crate) fn take_calls(&self) -> Vec<CallRecord> {
        std::mem::take(&mut *self.calls.lock().expect("ledger lock"))
    }

    /// Takes the records: read once, as the run becomes a `Run`, so they
    /// are moved, not copied (a copy doubled the run's peak memory).
    pub(crate) fn take_requests(&self) -> Vec<RequestRecord> {
        std::mem::take(&mut *self.requests.lock().expect("ledger lock"))
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u32>> {
        self.live.lock().expect("ledger lock")
    }
}
