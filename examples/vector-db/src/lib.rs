//! A second obsim reference system: a small vector database modelled on
//! AkiDB's observability plan, written only against obsim's public API, as a
//! user's crate would be.
//!
//! - **Collections of vectors.** Each server node owns the collections whose
//!   id maps to it (`collection % servers`). A collection is a list of
//!   4-dimensional vectors with ids, stored as one value in the node's durable
//!   storage under `collection-<n>`.
//! - **A hot tier.** A node keeps up to `hot_tier_capacity` collections in
//!   memory. A request for a cold collection first loads it with a storage
//!   `read`; loading past capacity evicts the least recently used idle
//!   collection.
//! - **Operations** (the workload's operation names): `insert` stores one
//!   vector (a storage `write` of the collection with the vector appended) and
//!   `search` returns the ids of the `top_k` nearest vectors to a query, by
//!   brute force over the hot copy.
//! - **The client** sends each request over the simulated network with the
//!   W3C trace context of its client span, with a timeout, bounded
//!   concurrency, and records every outcome as ground truth.
//! - **Telemetry:** see [`metrics`] for the metrics and the contract that
//!   ties them to obsim's ground truth; spans are `vectordb.request` (the
//!   client's root), `VectorService/Insert` and `VectorService/Search`
//!   (client and server kinds), `read collections` and `write collections`
//!   (storage, with `db.operation.name`), and `storage.recover` at boot.
//! - **Bug switches** ([`Bug`]) plant realistic instrumentation bugs, one
//!   check each.

mod bugs;
mod client;
pub mod metrics;
mod protocol;
mod server;
mod system;
pub mod vectors;

pub use bugs::Bug;
pub use system::{VectorDb, VectorDbConfig};
