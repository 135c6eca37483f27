//! A failing seed's `logs.otlp.json`: the run's log events as one OTLP
//! `ExportLogsServiceRequest` in OTLP's JSON mapping, as the collector's file
//! exporter writes it and Loki's and the collector's OTLP receivers read it.

use std::collections::BTreeMap;

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::logs::LogBatch;

use crate::run::OtelLog;

/// `logs` as an OTLP request: one resource per node (`service.name` =
/// `service`, `service.instance.id` = the node), in node order; within
/// each, one scope group per `tracing` target (the bridge exports the
/// target as the scope's name), in name order; records in the order they
/// were emitted. The same logs always give the same request.
pub fn otlp_logs_request(logs: &[OtelLog], service: &str) -> ExportLogsServiceRequest {
    let mut by_node: BTreeMap<&str, Vec<&OtelLog>> = BTreeMap::new();
    for log in logs {
        by_node.entry(&log.node).or_default().push(log);
    }
    // The bridge's logger has an empty scope: the target names it instead.
    let scope = InstrumentationScope::builder("").build();
    let resource_logs = by_node
        .into_iter()
        .flat_map(|(node, logs)| {
            let pairs: Vec<_> = logs.iter().map(|log| (&log.record, &scope)).collect();
            let batch = LogBatch::new(&pairs);
            let mut resources = group_logs_by_resource_and_scope(
                &batch,
                &super::artifacts::resource(service, Some(node)),
            );
            // Grouped through a hash map: put the scopes in a fixed order.
            for resource in &mut resources {
                resource.scope_logs.sort_by(|a, b| {
                    let name = |scope: &opentelemetry_proto::tonic::logs::v1::ScopeLogs| {
                        scope
                            .scope
                            .as_ref()
                            .map(|s| s.name.clone())
                            .unwrap_or_default()
                    };
                    name(a).cmp(&name(b))
                });
            }
            resources
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}

/// [`otlp_logs_request`] on one line of OTLP/JSON.
pub fn otlp_logs_json(logs: &[OtelLog], service: &str) -> serde_json::Result<String> {
    serde_json::to_string(&otlp_logs_request(logs, service))
}
