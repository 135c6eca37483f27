//! The vector database's metrics, modelled on AkiDB's, each registered in the
//! registry obsim hands the node incarnation (or the client).
//!
//! | name | type | labels |
//! |---|---|---|
//! | `vectordb_requests_received_total` | counter | `method` |
//! | `vectordb_requests_total` | counter | `method`, `status` |
//! | `vectordb_request_duration_seconds` | histogram | `method` |
//! | `vectordb_handler_panics_total` | counter | `method` |
//! | `vectordb_storage_operations_total` | counter | `operation`, `status` |
//! | `vectordb_storage_operation_duration_seconds` | histogram | `operation` |
//! | `vectordb_storage_recovered_transactions_total` | counter | |
//! | `vectordb_hot_collections` | gauge | |
//! | `vectordb_collection_loads_total` | counter | |
//! | `vectordb_collection_evictions_total` | counter | `reason` |
//! | `vectordb_vectors` | gauge | |
//! | `vectordb_vectors_indexed_total` | counter | |
//!
//! The client's, in the client's registry:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `vectordb_client_requests_total` | counter | `method`, `outcome` |
//! | `vectordb_client_request_duration_seconds` | histogram | `method` |
//!
//! Every label has a bounded set of values: `method` is `insert` or `search`,
//! `status` is `ok` or `error`, `operation` is `read` or `write` (the
//! database's own words for obsim's storage `get` and `put`), `reason` is
//! `capacity` or `panic`, `outcome` is `ok`, `error` or `timeout`. Never a
//! collection id.

use obsim::deps::prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use obsim::Contract;

use crate::{Bug, VectorDbConfig};

/// Bucket bounds in seconds, as AkiDB's gRPC buckets, from 0.5 ms (a fast
/// read) to 5 s (past the client's timeout).
const DURATION_BUCKETS_SECONDS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One server incarnation's metrics.
pub(crate) struct Metrics {
    pub requests_received: IntCounterVec,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub panics: IntCounterVec,
    pub storage_operations: IntCounterVec,
    pub storage_duration: HistogramVec,
    pub recovered: IntCounter,
    pub hot_collections: IntGauge,
    pub collection_loads: IntCounter,
    pub collection_evictions: IntCounterVec,
    pub vectors: IntGauge,
    pub vectors_indexed: IntCounter,
    /// Only with [`Bug::CollectionIdLabel`]: each collection's size.
    pub vectors_by_collection: Option<IntGaugeVec>,
}

impl Metrics {
    pub(crate) fn register(
        registry: &Registry,
        config: &VectorDbConfig,
    ) -> Result<Metrics, obsim::deps::prometheus::Error> {
        let metrics = Metrics {
            requests_received: counter_vec(
                "vectordb_requests_received_total",
                "Requests received, by method.",
                &["method"],
            )?,
            requests: counter_vec(
                "vectordb_requests_total",
                "Requests answered, by method and status.",
                &["method", "status"],
            )?,
            request_duration: histogram(
                "vectordb_request_duration_seconds",
                "Time from a request's arrival to its reply, hot-tier load included.",
                "method",
            )?,
            panics: counter_vec(
                "vectordb_handler_panics_total",
                "Request handlers that panicked and were isolated, by method.",
                &["method"],
            )?,
            storage_operations: counter_vec(
                "vectordb_storage_operations_total",
                "Storage operations, by operation (read, write) and status.",
                &["operation", "status"],
            )?,
            storage_duration: histogram(
                "vectordb_storage_operation_duration_seconds",
                "Time a storage operation took, by operation (read, write).",
                "operation",
            )?,
            recovered: IntCounter::new(
                "vectordb_storage_recovered_transactions_total",
                "Torn storage transactions rolled back by recovery at boot.",
            )?,
            hot_collections: IntGauge::new(
                "vectordb_hot_collections",
                "Collections held in memory (the hot tier) by this process.",
            )?,
            collection_loads: IntCounter::new(
                "vectordb_collection_loads_total",
                "Collections loaded from storage into the hot tier.",
            )?,
            collection_evictions: counter_vec(
                "vectordb_collection_evictions_total",
                "Collections evicted from the hot tier, by reason (capacity, panic).",
                &["reason"],
            )?,
            vectors: IntGauge::new(
                "vectordb_vectors",
                "Vectors held in memory by the hot tier's collections.",
            )?,
            vectors_indexed: IntCounter::new(
                "vectordb_vectors_indexed_total",
                "Vectors added to the in-memory index, by loads and by inserts.",
            )?,
            vectors_by_collection: config
                .has(Bug::CollectionIdLabel)
                .then(|| {
                    IntGaugeVec::new(
                        Opts::new(
                            "vectordb_collection_vectors",
                            "Vectors in each hot collection, by collection id.",
                        ),
                        &["collection"],
                    )
                })
                .transpose()?,
        };
        registry.register(Box::new(metrics.requests_received.clone()))?;
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        registry.register(Box::new(metrics.panics.clone()))?;
        registry.register(Box::new(metrics.storage_operations.clone()))?;
        registry.register(Box::new(metrics.storage_duration.clone()))?;
        registry.register(Box::new(metrics.recovered.clone()))?;
        registry.register(Box::new(metrics.hot_collections.clone()))?;
        registry.register(Box::new(metrics.collection_loads.clone()))?;
        registry.register(Box::new(metrics.collection_evictions.clone()))?;
        registry.register(Box::new(metrics.vectors.clone()))?;
        registry.register(Box::new(metrics.vectors_indexed.clone()))?;
        if let Some(gauge) = &metrics.vectors_by_collection {
            registry.register(Box::new(gauge.clone()))?;
        }
        Ok(metrics)
    }
}

/// The client's metrics.
pub(crate) struct ClientMetrics {
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
}

impl ClientMetrics {
    pub(crate) fn register(
        registry: &Registry,
    ) -> Result<ClientMetrics, obsim::deps::prometheus::Error> {
        let metrics = ClientMetrics {
            requests: counter_vec(
                "vectordb_client_requests_total",
                "Requests the client finished, by method and outcome (ok, error, timeout).",
                &["method", "outcome"],
            )?,
            request_duration: histogram(
                "vectordb_client_request_duration_seconds",
                "Time from sending a request to its outcome, as the client saw it.",
                "method",
            )?,
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        Ok(metrics)
    }
}

fn counter_vec(
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, obsim::deps::prometheus::Error> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn histogram(
    name: &str,
    help: &str,
    label: &str,
) -> Result<HistogramVec, obsim::deps::prometheus::Error> {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(DURATION_BUCKETS_SECONDS.to_vec()),
        &[label],
    )
}

/// What each counter means in obsim's ground truth, summed over every node
/// incarnation. The relations are the database's own: every request it
/// receives it answers once (unless a crash cuts it off first); a request
/// fails on its first failed storage operation or on a panic, and on nothing
/// else; every storage read is a hot-tier load. Storage selectors use obsim's
/// words (`get`, `put`), the metrics the database's own (`read`, `write`).
pub const ACCURACY_RULES: [&str; 14] = [
    r#"final(vectordb_requests_received_total) == messages.received{message="vector_request"}"#,
    r#"final(vectordb_requests_total) == messages.sent{message="vector_reply"}"#,
    r#"final(vectordb_requests_total{status="error"}) == storage.failed + faults.handler_panic"#,
    r#"final(vectordb_handler_panics_total) == faults.handler_panic"#,
    r#"final(vectordb_storage_operations_total{operation="read",status="ok"}) == storage.ok{operation="get"}"#,
    r#"final(vectordb_storage_operations_total{operation="read",status="error"}) == storage.failed{operation="get"}"#,
    r#"final(vectordb_storage_operations_total{operation="write",status="ok"}) == storage.ok{operation="put"}"#,
    r#"final(vectordb_storage_operations_total{operation="write",status="error"}) == storage.failed{operation="put"}"#,
    r#"final(vectordb_storage_recovered_transactions_total) == storage.recovered"#,
    r#"final(vectordb_collection_loads_total) == storage.ok{operation="get"}"#,
    r#"final(vectordb_client_requests_total) == outcomes.total"#,
    r#"final(vectordb_client_requests_total{outcome="ok"}) == outcomes.ok"#,
    r#"final(vectordb_client_requests_total{outcome="error"}) == outcomes.error"#,
    r#"final(vectordb_client_requests_total{outcome="timeout"}) == outcomes.timeout"#,
];

/// The vector database's telemetry contract: every counter tied to ground
/// truth or said why not, the hot-tier gauge balanced by the counters that
/// move it, storage timed by its histogram in the database's own words, and
/// the spans that root requests and cover storage.
pub fn contract() -> Contract {
    let contract = ACCURACY_RULES
        .iter()
        .fold(Contract::new(), |contract, rule| contract.accurate(rule));
    contract
        .unchecked(
            "vectordb_collection_evictions_total",
            "evictions have no harness-side record; gauge_consistency balances it against \
             vectordb_hot_collections and vectordb_collection_loads_total",
        )
        .unchecked(
            "vectordb_vectors_indexed_total",
            "the harness keeps no record of what a collection holds; counter_monotonicity \
             still checks that it never goes down",
        )
        .balance(
            "vectordb_hot_collections",
            "vectordb_collection_loads_total",
            "vectordb_collection_evictions_total",
        )
        .non_negative("vectordb_vectors")
        .storage_operation_names("read", "write")
        .storage_timing("vectordb_storage_operation_duration_seconds", "operation")
        .storage_spans("db.operation.name")
        .request_span("vectordb.request")
}
