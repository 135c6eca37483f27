use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use obsim_faults::{FaultEvent, FaultKind, FaultLog, StorageFaults};

use crate::clock::Clock;

/// A node's simulated key-value store. It is durable: the data survives the
/// node's crashes, like a disk. Faults are decided at this boundary, from the
/// node's own storage stream.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    data: Mutex<BTreeMap<String, Vec<u8>>>,
    faults: Mutex<StorageFaults>,
    log: FaultLog,
    clock: Clock,
    latency: StorageLatency,
}

/// The simulated service time of each operation, before any fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageLatency {
    pub read: Duration,
    pub write: Duration,
}

impl Default for StorageLatency {
    fn default() -> Self {
        StorageLatency {
            read: Duration::from_millis(1),
            write: Duration::from_millis(3),
        }
    }
}

/// A storage operation that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// The fault injector failed this write; nothing was written.
    WriteFailed { key: String },
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::WriteFailed { key } => write!(f, "write of {key:?} failed (injected)"),
        }
    }
}

impl std::error::Error for StorageError {}

impl Storage {
    pub(crate) fn new(
        node: String,
        faults: StorageFaults,
        log: FaultLog,
        clock: Clock,
        latency: StorageLatency,
    ) -> Storage {
        Storage {
            inner: Arc::new(Inner {
                node,
                data: Mutex::new(BTreeMap::new()),
                faults: Mutex::new(faults),
                log,
                clock,
                latency,
            }),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        madsim::time::sleep(self.inner.latency.read).await;
        Ok(self.data().get(key).cloned())
    }

    /// Writes `value` after the write latency. A crash during the latency
    /// drops this future and nothing is written, as with a lost fsync.
    pub async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        madsim::time::sleep(self.inner.latency.write).await;
        if self
            .inner
            .faults
            .lock()
            .expect("storage faults lock")
            .write_fails()
        {
            self.inner.log.record(FaultEvent {
                at: self.inner.clock.elapsed(),
                kind: FaultKind::StorageWriteFailure,
                target: self.inner.node.clone(),
                detail: format!("key={key}"),
            });
            return Err(StorageError::WriteFailed {
                key: key.to_string(),
            });
        }
        self.data().insert(key.to_string(), value);
        Ok(())
    }

    fn data(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.inner.data.lock().expect("storage lock poisoned")
    }
}
