//! The messages between the client and a server. They travel as obsim's
//! request/response: the client sends each request with `Call::attempt`,
//! the server takes it with `Network::accept` and answers through its
//! `Responder`, and obsim matches the reply to its attempt. obsim's network
//! carries Rust values; the trace context travels in the request as a real
//! RPC would carry it in headers.

use obsim::ReplyStatus;
use obsim::TraceHeaders;

use crate::vectors::Vector;

/// One request; obsim counts it as message `vector_request`. Clone: the
/// network may deliver a message twice.
#[derive(Clone, Debug)]
pub(crate) struct VectorRequest {
    pub collection: u64,
    pub op: Op,
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

    /// The RPC method it is sent as (`rpc.method` on its spans), the method
    /// obsim's records of requests and attempts name.
    pub fn rpc_method(&self) -> &'static str {
        match self {
            Op::Insert { .. } => "Insert",
            Op::Search { .. } => "Search",
        }
    }
}

/// The answer to one request; obsim counts it as message `vector_reply`.
#[derive(Clone, Debug)]
pub(crate) struct VectorReply {
    pub result: Result<Answer, String>,
}

impl ReplyStatus for VectorReply {
    /// `ok` or `error`, as `vectordb_requests_total{status}` counts it.
    fn status(&self) -> String {
        self.result.status()
    }
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
