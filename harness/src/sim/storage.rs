use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use obsim_faults::{FaultEvent, FaultKind, FaultLog, Hit, StorageDecision, StorageFaults};

use super::capture::current_span;
use super::clock::Clock;
use super::ledger::Ledger;
use super::triggers::CrashRequests;
use crate::run::{server_name, SpanRef, StorageLatency, StorageOp};

/// A node's simulated key-value store. It is durable: the data survives the
/// node's crashes, like a disk. Faults are decided at this boundary, from the
/// node's own storage stream.
///
/// A write is a transaction of two steps, the data and then its commit. A
/// crash between the two leaves a torn write: the data is on disk with no
/// commit. Reading a torn key fails until [`Storage::recover`] rolls it back,
/// so a system that skips recovery after a restart sees errors.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    node: usize,
    disk: Mutex<Disk>,
    faults: Mutex<StorageFaults>,
    log: FaultLog,
    clock: Clock,
    latency: StorageLatency,
    crash_requests: CrashRequests,
    ledger: Arc<Ledger>,
}

#[derive(Default)]
struct Disk {
    committed: BTreeMap<String, Vec<u8>>,
    /// Written but never committed: what a crash during a transaction
    /// leaves. None is a delete.
    torn: BTreeMap<String, Option<Vec<u8>>>,
}

/// A storage operation that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The fault injector failed this write; nothing was written.
    WriteFailed { key: String },
    /// The fault injector failed this read.
    ReadFailed { key: String },
    /// The disk is full; nothing was written. Writes succeed again once the
    /// disk-full window ends.
    DiskFull { key: String },
    /// The key holds a torn write from a crash during a transaction, and
    /// recovery has not run since.
    Torn { key: String },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::WriteFailed { key } => write!(f, "write of {key:?} failed (injected)"),
            StorageError::ReadFailed { key } => write!(f, "read of {key:?} failed (injected)"),
            StorageError::DiskFull { key } => {
                write!(
                    f,
                    "write of {key:?} failed: no space left on device (injected)"
                )
            }
            StorageError::Torn { key } => write!(
                f,
                "{key:?} holds an uncommitted write from a crash: recovery has not run"
            ),
        }
    }
}

impl std::error::Error for StorageError {}

impl Storage {
    pub(crate) fn new(
        node: usize,
        faults: StorageFaults,
        log: FaultLog,
        clock: Clock,
        latency: StorageLatency,
        crash_requests: CrashRequests,
        ledger: Arc<Ledger>,
    ) -> Storage {
        Storage {
            inner: Arc::new(Inner {
                node,
                disk: Mutex::new(Disk::default()),
                faults: Mutex::new(faults),
                log,
                clock,
                latency,
                crash_requests,
                ledger,
            }),
        }
    }

    /// How many keys the disk holds committed now. A metadata read a
    /// service makes at boot (to set a gauge of what it stores, say): it
    /// takes no time and no fault, and is no operation in the ledger. It is
    /// also the harness's ground truth for `Contract::stored_keys`.
    pub fn len(&self) -> u64 {
        self.disk().committed.len() as u64
    }

    /// Whether the disk holds no committed key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads `key` after the read latency and any injected latency.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let started = (self.inner.clock.elapsed(), current_span());
        let result = self.read(key).await;
        self.record("get", started, result.as_ref().err());
        result
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let decision = self.decide(false);
        self.serve(self.inner.latency.read, &decision, key).await;
        if decision.failure.is_some() {
            return Err(StorageError::ReadFailed { key: key.into() });
        }
        let disk = self.disk();
        if disk.torn.contains_key(key) {
            return Err(StorageError::Torn { key: key.into() });
        }
        Ok(disk.committed.get(key).cloned())
    }

    /// Ground truth for one completed operation, in the incarnation that
    /// gets the result.
    fn record(
        &self,
        operation: &'static str,
        (started_at, span): (Duration, Option<SpanRef>),
        error: Option<&StorageError>,
    ) {
        let node = server_name(self.inner.node);
        let incarnation = self.inner.ledger.incarnation_of(&node);
        self.inner.ledger.record_storage(StorageOp {
            node: self.inner.ledger.intern(&node),
            incarnation,
            operation,
            started_at,
            ended_at: self.inner.clock.elapsed(),
            failure: error.map(|error| self.inner.ledger.intern(&error.to_string())),
            span,
        });
    }

    /// Writes `value` after the write latency and any injected latency. A
    /// crash during the latency drops this future and nothing is written, as
    /// with a lost fsync. A crash during the transaction writes the data,
    /// never commits it, and never returns: the node is killed first.
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        let started = (self.inner.clock.elapsed(), current_span());
        let result = self.write(key, Some(value)).await;
        self.record("put", started, result.as_ref().err());
        result
    }

    /// Deletes `key` (a missing key is no error), as a write: the write
    /// latency, and the faults aimed at writes (`operation = "put"`): a
    /// failure leaves the key, a crash during the transaction leaves the
    /// delete uncommitted for recovery to roll back. Recorded in the ledger
    /// as operation `delete`.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let started = (self.inner.clock.elapsed(), current_span());
        let result = self.write(key, None).await;
        self.record("delete", started, result.as_ref().err());
        result
    }

    /// Writes `value`, or deletes with None.
    async fn write(&self, key: &str, value: Option<Vec<u8>>) -> Result<(), StorageError> {
        let decision = self.decide(true);
        self.serve(self.inner.latency.write, &decision, key).await;
        match decision.failure {
            Some(FaultKind::DiskFull) => return Err(StorageError::DiskFull { key: key.into() }),
            Some(_) => return Err(StorageError::WriteFailed { key: key.into() }),
            None => {}
        }
        if let Some(crash) = decision.crash {
            self.disk().torn.insert(key.to_string(), value);
            let kind = FaultKind::CrashDuringTransaction;
            self.log(kind, format!("key={key}"), &decision.fired.of(kind));
            // The node stops here: frozen now, so nothing else of it runs,
            // and killed by the supervisor at its next poll.
            let node = self.inner.node;
            self.inner.crash_requests.request(node, crash.restart_after);
            return futures::future::pending().await;
        }
        let mut disk = self.disk();
        disk.torn.remove(key);
        match value {
            Some(value) => disk.committed.insert(key.to_string(), value),
            None => disk.committed.remove(key),
        };
        Ok(())
    }

    /// Rolls back every torn write, as a database replaying its log at start
    /// would, and returns how many there were. A system calls it when a node
    /// boots.
    pub fn recover(&self) -> usize {
        let torn = std::mem::take(&mut self.disk().torn);
        let node = server_name(self.inner.node);
        self.inner.ledger.record_recovered(&node, torn.len() as u64);
        torn.len()
    }

    fn decide(&self, write: bool) -> StorageDecision {
        let now = self.inner.clock.elapsed();
        let mut faults = self.inner.faults.lock().expect("storage faults lock");
        if write {
            faults.write(now)
        } else {
            faults.read(now)
        }
    }

    /// Waits out the service time and logs what the decision injected.
    async fn serve(&self, base: Duration, decision: &StorageDecision, key: &str) {
        if let Some(extra) = decision.latency {
            let kind = FaultKind::StorageLatency;
            let fired = decision.fired.of(kind);
            self.log(kind, format!("key={key} extra={extra:?}"), &fired);
        }
        madsim::time::sleep(base + decision.latency.unwrap_or_default()).await;
        if let Some(kind) = decision.failure {
            self.log(kind, format!("key={key}"), &decision.fired.of(kind));
        }
    }

    /// Logs what took effect and counts the firing of the plan entries
    /// behind it.
    fn log(&self, kind: FaultKind, detail: String, fired: &[Hit]) {
        self.inner.log.fired(fired);
        self.inner.log.record(FaultEvent {
            at: self.inner.clock.elapsed(),
            kind,
            target: server_name(self.inner.node),
            detail,
        });
    }

    fn disk(&self) -> MutexGuard<'_, Disk> {
        self.inner.disk.lock().expect("storage lock poisoned")
    }
}
