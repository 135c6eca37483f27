//! Where tasks live: a store behind a trait of the gateway's own, so the
//! same handlers run on memory, on a real database, or on a test's simulated
//! disk.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// The gateway's task storage: a key-value store whose operations can fail.
pub trait TaskStore: Send + Sync + 'static {
    /// The task stored under `id`, if any.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Vec<u8>>, String>> + Send;
    /// Stores `task` under `id`, replacing what was there.
    fn put(&self, id: &str, task: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

/// Tasks kept in memory, for a gateway run without a database (and for the
/// unit tests).
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<BTreeMap<String, Vec<u8>>>);

impl MemoryStore {
    /// How many tasks it holds.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |tasks| tasks.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TaskStore for MemoryStore {
    async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.get(id).cloned())
    }

    async fn put(&self, id: &str, task: Vec<u8>) -> Result<(), String> {
        let mut tasks = self.0.lock().map_err(|e| e.to_string())?;
        tasks.insert(id.to_string(), task);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{MemoryStore, TaskStore};
    use crate::server::tests::block_on;

    #[test]
    fn the_memory_store_returns_what_was_put_and_nothing_else() {
        let store = MemoryStore::default();
        block_on(async {
            assert_eq!(store.get("a").await, Ok(None));
            store.put("a", b"one".to_vec()).await.unwrap();
            store.put("a", b"two".to_vec()).await.unwrap();
            assert_eq!(store.get("a").await, Ok(Some(b"two".to_vec())));
            assert_eq!(store.get("b").await, Ok(None));
        });
        assert_eq!(store.len(), 1);
    }
}
