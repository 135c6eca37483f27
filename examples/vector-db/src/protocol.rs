//! The messages between the client and a server. obsim's network carries
//! Rust values; the trace context travels in them as a real RPC would carry
//! it in headers.

use obsim::TraceHeaders;

use crate::vectors::Vector;

/// Requests go to a server's app endpoint under this tag.
pub(crate) const REQUEST_TAG: u64 = 1;
/// The reply to request number `n` comes back under `REPLY_TAG_BASE + n`, so
/// a late reply to a request that timed out is never taken for another's.
pub(crate) const REPLY_TAG_BASE: u64 = 1 << 32;

/// One request; obsim counts it as message `vector_request`. Clone: the
/// network may deliver a message twice.
#[derive(Clone, Debug)]
pub(crate) struct VectorRequest {
    pub collection: u64,
    pub op: Op,
    pub reply_tag: u64,
    pub headers: TraceHeaders,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Op {
    /// Store `vector` under `id` in the collection.
    Insert { id: u64, vector: Vector },
    /// The ids of the `k` vectors nearest to `query`.
    Search { query: Vector, k: usize },
}

impl Op {
    /// The workload operation, as metrics label it and handler faults aim.
    pub fn method(&self) -> &'static str {
        match self {
            Op::Insert { .. } => "insert",
            Op::Search { .. } => "search",
        }
    }
}

/// The answer to one request; obsim counts it as message `vector_reply`.
#[derive(Clone, Debug)]
pub(crate) struct VectorReply {
    pub result: Result<Answer, String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Answer {
    /// The collection's size after the insert.
    Inserted { vectors: usize },
    /// Nearest first.
    Found { ids: Vec<u64> },
}

/// The storage key, and the handler-fault key, of a collection.
pub(crate) fn collection_key(collection: u64) -> String {
    format!("collection-{collection}")
}
