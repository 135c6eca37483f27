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
//! - **Request/response is obsim's** (`obsim::Network::call`,
//!   `Call::attempt`, `Call::finish`; `Network::accept`, `Responder::reply`),
//!   so obsim records every call, attempt and request with exact times, the
//!   reply's status and the span at each end: the ground truth its request
//!   and call counters, duration histograms and server spans are checked
//!   against.
//! - **The client** makes each request one call of one attempt, sent under
//!   the RPC's client span with that span's W3C trace context in the request
//!   body, with a timeout and bounded concurrency, and records every outcome
//!   as ground truth.
//! - **The server** accepts each request and, in that same poll, starts its
//!   duration clock and opens its server span, then handles it on a task of
//!   its own and replies inside that span. A crash loses the spans still
//!   open on the node, as it would in production: nothing obsim-specific
//!   ends them.
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
