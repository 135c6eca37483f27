use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::serde::{self, Deserialize, Deserializer};
use obsim::scenario::de::positive_duration;
use obsim::{ClientContext, Contract, NodeContext, System};

use crate::Bug;

/// The vector database's settings: a scenario file's `[system]` table.
///
/// ```toml
/// [system]
/// request_timeout = "500ms"
/// hot_tier_capacity = 4
/// top_k = 3
/// bugs = ["milliseconds_as_seconds"]
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(crate = "obsim::deps::serde", default, deny_unknown_fields)]
pub struct VectorDbConfig {
    /// How long the client waits for the reply to a request (default 1 s).
    #[serde(deserialize_with = "positive_duration")]
    pub request_timeout: Duration,
    /// Collections a node keeps in memory before it evicts the least
    /// recently used idle one (default 4, at least 1).
    #[serde(deserialize_with = "at_least_one")]
    pub hot_tier_capacity: usize,
    /// Nearest neighbours a search returns (default 3, at least 1).
    #[serde(deserialize_with = "at_least_one")]
    pub top_k: usize,
    /// Bugs to plant (default none); one listed twice is an error.
    #[serde(deserialize_with = "obsim::scenario::de::unique")]
    pub bugs: BTreeSet<Bug>,
}

/// An integer of at least 1.
fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let value = usize::deserialize(deserializer)?;
    if value == 0 {
        return Err(serde::de::Error::custom(
            "0 is out of range: expected an integer >= 1",
        ));
    }
    Ok(value)
}

impl Default for VectorDbConfig {
    fn default() -> Self {
        VectorDbConfig {
            request_timeout: Duration::from_secs(1),
            hot_tier_capacity: 4,
            top_k: 3,
            bugs: BTreeSet::new(),
        }
    }
}

impl VectorDbConfig {
    pub fn with_bug(mut self, bug: Bug) -> Self {
        self.bugs.insert(bug);
        self
    }

    pub(crate) fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }
}

/// One run's vector database: obsim builds a fresh one for every run.
pub struct VectorDb {
    config: Arc<VectorDbConfig>,
}

impl VectorDb {
    pub fn new(config: VectorDbConfig) -> Self {
        VectorDb {
            config: Arc::new(config),
        }
    }
}

impl System for VectorDb {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        Box::pin(crate::server::serve(node, self.config.clone()))
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(crate::client::drive(client, self.config.clone()))
    }

    fn contract(&self) -> Contract {
        crate::metrics::contract()
    }
}
