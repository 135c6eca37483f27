//! The vector database's metrics, modelled on AkiDB's, on the
//! `prometheus-client` crate (OpenMetrics text), used through
//! `obsim::deps::prometheus_client`. Each server incarnation builds its own
//! [`Registry`] and serves it as its `/metrics` with
//! `node.serve_metrics(obsim::adapters::prometheus_client(Arc::new(registry)))`;
//! the client does the same with its own.
//!
//! prometheus-client adds the suffixes itself: a counter is registered
//! without `_total` (registering `vectordb_requests` exports the samples
//! `vectordb_requests_total`; a name ending in `_total` fails a
//! `debug_assert!` at registration, and would export `_total_total`) and a histogram registered with `Unit::Seconds` gets
//! `_seconds` (and a `# UNIT` line). The names below are what `/metrics`
//! exports and what the contract, the scenarios and obsim's checks use:
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
//! | `vectordb_stored_collections` | gauge | |
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
//!
//! Label sets are fixed-size arrays of `(name, value)` pairs, which
//! prometheus-client encodes as they are: its `#[derive(EncodeLabelSet)]`
//! writes `::prometheus_client::` paths, which a crate that reaches the
//! library only through `obsim::deps` cannot resolve.

use obsim::deps::prometheus_client::metrics::counter::Counter;
use obsim::deps::prometheus_client::metrics::family::Family;
use obsim::deps::prometheus_client::metrics::gauge::Gauge;
use obsim::deps::prometheus_client::metrics::histogram::Histogram;
use obsim::deps::prometheus_client::registry::{Registry, Unit};
use obsim::Contract;

use crate::{Bug, VectorDbConfig};

/// Bucket bounds in seconds, as AkiDB's gRPC buckets, from 0.5 ms (a fast
/// read) to 5 s (past the client's timeout).
const DURATION_BUCKETS_SECONDS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The database's Prometheus rules: error ratio, p99 search latency, node
/// down, and a 99.9% availability SLO in Sloth's shape.
pub const ALERT_RULES: &str = include_str!("../rules/vectordb.yml");

/// One label, bounded: a `&'static str` value.
pub(crate) type Label = [(&'static str, &'static str); 1];
/// Two bounded labels.
pub(crate) type Labels = [(&'static str, &'static str); 2];
/// A counter per label set.
pub(crate) type CounterFamily<L> = Family<L, Counter>;
/// A duration histogram per label set, each with [`DURATION_BUCKETS_SECONDS`].
pub(crate) type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// One server incarnation's metrics.
pub(crate) struct Metrics {
    pub requests_received: CounterFamily<Label>,
    pub requests: CounterFamily<Labels>,
    pub request_duration: HistogramFamily<Label>,
    pub panics: CounterFamily<Label>,
    pub storage_operations: CounterFamily<Labels>,
    pub storage_duration: HistogramFamily<Label>,
    pub recovered: Counter,
    /// Collections this node's storage holds: one storage key each.
    pub stored_collections: Gauge,
    pub hot_collections: Gauge,
    pub collection_loads: Counter,
    pub collection_evictions: CounterFamily<Label>,
    pub vectors: Gauge,
    pub vectors_indexed: Counter,
    /// Only with [`Bug::CollectionIdLabel`]: each collection's size, with the
    /// collection id (unbounded) as its label value.
    pub vectors_by_collection: Option<Family<[(&'static str, String); 1], Gauge>>,
}

impl Metrics {
    /// The metrics of one incarnation, registered in its own `registry`.
    /// Families are registered in name order, which is the order `/metrics`
    /// lists them in. prometheus-client adds the full stop to each HELP.
    pub(crate) fn register(registry: &mut Registry, config: &VectorDbConfig) -> Metrics {
        let metrics = Metrics {
            requests_received: Family::default(),
            requests: Family::default(),
            request_duration: durations(),
            panics: Family::default(),
            storage_operations: Family::default(),
            storage_duration: durations(),
            recovered: Counter::default(),
            stored_collections: Gauge::default(),
            hot_collections: Gauge::default(),
            collection_loads: Counter::default(),
            collection_evictions: Family::default(),
            vectors: Gauge::default(),
            vectors_indexed: Counter::default(),
            vectors_by_collection: config.has(Bug::CollectionIdLabel).then(Family::default),
        };
        // Both reasons exist from boot, at zero, as Prometheus advises: a
        // series that appears only once something happens cannot be read
        // (or selected by an expectation) before it does.
        for reason in ["capacity", "panic"] {
            // Creating the series is the point; the guard it returns is not.
            let _created = metrics
                .collection_evictions
                .get_or_create(&[("reason", reason)]);
        }
        // Every request series exists from boot, at zero, for the same
        // reason: an error series that appears with the first error hides
        // it from `rate()`, and the SLO's ratio is undefined until then.
        for method in ["insert", "search"] {
            for status in ["ok", "error"] {
                let _created = metrics
                    .requests
                    .get_or_create(&[("method", method), ("status", status)]);
            }
        }
        registry.register(
            "vectordb_collection_evictions",
            "Collections evicted from the hot tier, by reason (capacity, panic)",
            metrics.collection_evictions.clone(),
        );
        registry.register(
            "vectordb_collection_loads",
            "Collections loaded from storage into the hot tier",
            metrics.collection_loads.clone(),
        );
        if let Some(gauge) = &metrics.vectors_by_collection {
            registry.register(
                "vectordb_collection_vectors",
                "Vectors in each hot collection, by collection id",
                gauge.clone(),
            );
        }
        registry.register(
            "vectordb_handler_panics",
            "Request handlers that panicked and were isolated, by method",
            metrics.panics.clone(),
        );
        registry.register(
            "vectordb_hot_collections",
            "Collections held in memory (the hot tier) by this process",
            metrics.hot_collections.clone(),
        );
        registry.register_with_unit(
            "vectordb_request_duration",
            "Time from a request's arrival to its reply, hot-tier load included",
            Unit::Seconds,
            metrics.request_duration.clone(),
        );
        registry.register(
            "vectordb_requests_received",
            "Requests received, by method",
            metrics.requests_received.clone(),
        );
        registry.register(
            "vectordb_requests",
            "Requests answered, by method and status",
            metrics.requests.clone(),
        );
        registry.register_with_unit(
            "vectordb_storage_operation_duration",
            "Time a storage operation took, by operation (read, write)",
            Unit::Seconds,
            metrics.storage_duration.clone(),
        );
        registry.register(
            "vectordb_storage_operations",
            "Storage operations, by operation (read, write) and status",
            metrics.storage_operations.clone(),
        );
        registry.register(
            "vectordb_storage_recovered_transactions",
            "Torn storage transactions rolled back by recovery at boot",
            metrics.recovered.clone(),
        );
        registry.register(
            "vectordb_stored_collections",
            "Collections this node's storage holds, one storage key each",
            metrics.stored_collections.clone(),
        );
        registry.register(
            "vectordb_vectors",
            "Vectors held in memory by the hot tier's collections",
            metrics.vectors.clone(),
        );
        registry.register(
            "vectordb_vectors_indexed",
            "Vectors added to the in-memory index, by loads and by inserts",
            metrics.vectors_indexed.clone(),
        );
        metrics
    }
}

/// The client's metrics. `method` is the workload's operation name, which
/// the client only knows as a `String`.
pub(crate) struct ClientMetrics {
    pub requests: Family<[(&'static str, String); 2], Counter>,
    pub request_duration: HistogramFamily<[(&'static str, String); 1]>,
}

impl ClientMetrics {
    pub(crate) fn register(registry: &mut Registry) -> ClientMetrics {
        let metrics = ClientMetrics {
            requests: Family::default(),
            request_duration: durations(),
        };
        registry.register_with_unit(
            "vectordb_client_request_duration",
            "Time from sending a request to its outcome, as the client saw it",
            Unit::Seconds,
            metrics.request_duration.clone(),
        );
        registry.register(
            "vectordb_client_requests",
            "Requests the client finished, by method and outcome (ok, error, timeout)",
            metrics.requests.clone(),
        );
        metrics
    }
}

/// A family of duration histograms, every series with the same buckets.
fn durations<L: Clone + std::hash::Hash + Eq>() -> HistogramFamily<L> {
    Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS_SECONDS))
}

/// What each counter means in obsim's ground truth, summed over every node
/// incarnation. The relations are the database's own: every request it
/// receives it answers once (unless a crash cuts it off first); a request
/// fails on its first failed storage operation or on a panic, and on nothing
/// else; every storage read is a hot-tier load. Storage selectors use obsim's
/// words (`get`, `put`), the metrics the database's own (`read`, `write`).
/// The request and call counters are tied twice: to the messages and
/// outcomes, and to obsim's own record of requests and calls.
pub const ACCURACY_RULES: [&str; 21] = [
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
    // The same, from obsim's record of requests and calls.
    r#"final(vectordb_requests_received_total) == requests.total"#,
    r#"final(vectordb_requests_total{status="ok"}) == requests.ok"#,
    r#"final(vectordb_requests_total{status="error"}) == requests.error"#,
    r#"final(vectordb_client_requests_total) == calls.total"#,
    r#"final(vectordb_client_requests_total{outcome="ok"}) == calls.ok"#,
    r#"final(vectordb_client_requests_total{outcome="error"}) == calls.error"#,
    r#"final(vectordb_client_requests_total{outcome="timeout"}) == calls.timeout"#,
];

/// The vector database's telemetry contract: every counter tied to ground
/// truth or said why not, the hot-tier gauge balanced by the counters that
/// move it, the stored-collections gauge tied to what storage holds, storage,
/// requests and calls timed by their histograms (storage in the database's
/// own words), and the spans that root requests, serve them and cover
/// storage.
pub fn contract() -> Contract {
    let contract = ACCURACY_RULES
        .iter()
        .fold(Contract::new(), |contract, rule| contract.accurate(rule));
    contract
        // What a request can end in, as the client records it.
        .outcomes(["ok", "error", "timeout"])
        .operations(["insert", "search"])
        // Both histograms label by `method`, whose values are the workload
        // operations (`insert`, `search`), not the RPC methods obsim records
        // (`Insert`, `Search`): timed by operation.
        .request_timing("vectordb_request_duration_seconds", "method")
        .call_timing("vectordb_client_request_duration_seconds", "method")
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
        // One storage key per collection that holds a vector.
        .stored_keys("vectordb_stored_collections")
        .storage_operation_names("read", "write")
        .storage_timing("vectordb_storage_operation_duration_seconds", "operation")
        .storage_spans("db.operation.name")
        .request_span("vectordb.request")
        // Its operators' alerting rules and SLO, evaluated over every run.
        .scrape_job("vectordb")
        // Start-up lines belong to no request.
        .background_logs(crate::server::STARTUP_TARGET)
        .alert_rules("examples/vector-db/rules/vectordb.yml", ALERT_RULES)
}
