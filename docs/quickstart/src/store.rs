//! Where the counts live.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// The service's storage: a key-value store whose operations can fail.
pub trait Store: Send + Sync + 'static {
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, String>> + Send;
    fn put(&self, key: &str, value: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

/// Counts kept in memory, for a service run without a disk.
#[derive(Default)]
pub struct MemoryStore(Mutex<BTreeMap<String, Vec<u8>>>);

impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.lock().map_err(|e| e.to_string())?.get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), String> {
        let mut counts = self.0.lock().map_err(|e| e.to_string())?;
        counts.insert(key.to_string(), value);
        Ok(())
    }
}
