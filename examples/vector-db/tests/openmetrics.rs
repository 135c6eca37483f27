//! The vector database's metrics are prometheus-client's, served through
//! `obsim::adapters::prometheus_client` as OpenMetrics text: every node
//! incarnation and the client answer `/metrics` with it, counters are
//! declared without `_total` and sampled with it (never `_total_total`), the
//! duration histograms carry `# UNIT seconds`, and obsim finds every series
//! under the names the contract and the scenarios use.

use std::time::Duration;

use obsim::faults::{Effect, Fault};
use obsim::{Sim, Workload, OPENMETRICS_TEXT_CONTENT_TYPE};
use obsim_example_vector_db::{VectorDb, VectorDbConfig};

/// Write failures and a crash with a restart: every family has samples, and
/// server-1 has two incarnations, each with its own registry.
fn sim() -> Sim {
    Sim::builder("vector-db-openmetrics")
        .servers(2)
        .workload(Workload {
            invocations: 200,
            concurrency: 4,
            keys: 16,
            operations: vec![("insert".into(), 3), ("search".into(), 1)],
            think_time: Duration::from_millis(10),
        })
        .duration(Duration::from_secs(2))
        .drain(Duration::from_secs(1))
        .fault(Fault::new(Effect::StorageWriteFailure).with_probability(0.1))
        .fault(
            Fault::new(Effect::NodeCrash {
                restart_after: Some(Duration::from_millis(300)),
            })
            .on_node(1)
            .at(Duration::from_millis(700)),
        )
        .artifacts_dir(None)
        .build(|| VectorDb::new(VectorDbConfig::default()))
        .expect("a valid scenario")
}

const SERVER_FAMILIES: [(&str, &str, Option<&str>); 11] = [
    (
        "vectordb_requests_received_total",
        "vectordb_requests_received",
        None,
    ),
    ("vectordb_requests_total", "vectordb_requests", None),
    (
        "vectordb_request_duration_seconds",
        "vectordb_request_duration_seconds",
        Some("seconds"),
    ),
    (
        "vectordb_storage_operations_total",
        "vectordb_storage_operations",
        None,
    ),
    (
        "vectordb_storage_operation_duration_seconds",
        "vectordb_storage_operation_duration_seconds",
        Some("seconds"),
    ),
    (
        "vectordb_storage_recovered_transactions_total",
        "vectordb_storage_recovered_transactions",
        None,
    ),
    (
        "vectordb_stored_collections",
        "vectordb_stored_collections",
        None,
    ),
    ("vectordb_hot_collections", "vectordb_hot_collections", None),
    (
        "vectordb_collection_loads_total",
        "vectordb_collection_loads",
        None,
    ),
    ("vectordb_vectors", "vectordb_vectors", None),
    (
        "vectordb_vectors_indexed_total",
        "vectordb_vectors_indexed",
        None,
    ),
];

const CLIENT_FAMILIES: [(&str, &str, Option<&str>); 2] = [
    (
        "vectordb_client_requests_total",
        "vectordb_client_requests",
        None,
    ),
    (
        "vectordb_client_request_duration_seconds",
        "vectordb_client_request_duration_seconds",
        Some("seconds"),
    ),
];

#[test]
fn every_node_serves_prometheus_client_openmetrics_under_the_contracts_names() {
    let verdict = sim().check_seed(0);
    if let Some(failure) = &verdict.failure {
        panic!("{failure}");
    }
    let run = verdict.run.expect("a run");
    let server_1 = run
        .incarnations
        .iter()
        .filter(|incarnation| incarnation.node == "server-1")
        .count();
    assert_eq!(server_1, 2, "server-1 restarted once");
    for incarnation in &run.incarnations {
        let place = format!("{} incarnation {}", incarnation.node, incarnation.number);
        let text = &incarnation.final_exposition;
        assert_eq!(
            incarnation.final_content_type, OPENMETRICS_TEXT_CONTENT_TYPE,
            "{place}"
        );
        assert!(text.ends_with("# EOF\n"), "{place}:\n{text}");
        assert!(!text.contains("_total_total"), "{place}:\n{text}");
        let exposition = incarnation
            .final_parsed()
            .unwrap_or_else(|error| panic!("{place}: {error}"));
        let expected: &[_] = if incarnation.node == "client" {
            &CLIENT_FAMILIES
        } else {
            &SERVER_FAMILIES
        };
        for (name, declared, unit) in expected {
            let family = exposition
                .family(name)
                .unwrap_or_else(|| panic!("{place}: no family `{name}` in:\n{text}"));
            assert_eq!(family.declared_name, *declared, "{place}");
            assert_eq!(family.unit.as_deref(), *unit, "{place}: `{name}`");
            assert!(!family.samples.is_empty(), "{place}: `{name}`");
            assert!(family.created.is_empty(), "{place}: `{name}`");
        }
    }
    for scrape in run.scrapes.iter().filter(|scrape| scrape.up) {
        assert_eq!(
            scrape.content_type, OPENMETRICS_TEXT_CONTENT_TYPE,
            "scrape of {} at {:?}",
            scrape.node, scrape.at
        );
    }
    // Write failures happened and were counted under the contract's labels.
    let failed_writes: f64 = run
        .incarnations
        .iter()
        .filter_map(|incarnation| {
            let exposition = incarnation.final_parsed().ok()?;
            let family = exposition.family("vectordb_storage_operations_total")?;
            Some(
                family
                    .samples
                    .iter()
                    .filter(|sample| {
                        sample.label("operation") == Some("write")
                            && sample.label("status") == Some("error")
                    })
                    .map(|sample| sample.value)
                    .sum::<f64>(),
            )
        })
        .sum();
    assert!(failed_writes >= 1.0, "no failed write counted");
}
