//! `traces.otlp.json` and `logs.otlp.json` read back with
//! opentelemetry-proto's own types: the page shows what was exported.

use std::fmt::Write as _;
use std::path::Path;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::model::{Log, Seed, Span, Status};
use super::read::text;

/// A value longer than this is cut on the page: the file keeps all of it.
const VALUE_CHARS_MAX: usize = 300;

/// The OTLP/JSON request in `folder/name`, or None with a note saying why.
fn request<T: serde::de::DeserializeOwned>(
    folder: &Path,
    name: &str,
    notes: &mut Vec<String>,
) -> Option<T> {
    let json = text(folder, name, notes)?;
    serde_json::from_str(&json)
        .map_err(|error| notes.push(format!("{name} is not OTLP/JSON: {error}")))
        .ok()
}

pub(super) fn read_traces(folder: &Path, seed: &mut Seed) {
    let Some(request) =
        request::<ExportTraceServiceRequest>(folder, "traces.otlp.json", &mut seed.notes)
    else {
        return;
    };
    for resource in request.resource_spans {
        let node = instance(resource.resource.as_ref());
        for scope in resource.scope_spans {
            for span in scope.spans {
                let status = match span.status {
                    Some(status) if status.code == 2 => Status::Error(status.message),
                    Some(status) if status.code == 1 => Status::Ok,
                    _ => Status::Unset,
                };
                seed.spans.push(Span {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
                    name: span.name,
                    kind: kind(span.kind),
                    node: node.clone(),
                    start_ns: i128::from(span.start_time_unix_nano),
                    end_ns: i128::from(span.end_time_unix_nano),
                    status,
                    attributes: attributes(&span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|event| (i128::from(event.time_unix_nano), event.name))
                        .collect(),
                });
            }
        }
    }
}

pub(super) fn read_logs(folder: &Path, seed: &mut Seed) {
    let Some(request) =
        request::<ExportLogsServiceRequest>(folder, "logs.otlp.json", &mut seed.notes)
    else {
        return;
    };
    for resource in request.resource_logs {
        let node = instance(resource.resource.as_ref());
        for scope in resource.scope_logs {
            let target = scope.scope.map(|scope| scope.name).unwrap_or_default();
            for record in scope.log_records {
                let at = if record.time_unix_nano != 0 {
                    record.time_unix_nano
                } else {
                    record.observed_time_unix_nano
                };
                seed.logs.push(Log {
                    at_ns: i128::from(at),
                    node: node.clone(),
                    severity: record.severity_text,
                    target: target.clone(),
                    body: record.body.as_ref().map(value).unwrap_or_default(),
                    trace_id: (!record.trace_id.is_empty()).then(|| hex(&record.trace_id)),
                    span_id: (!record.span_id.is_empty()).then(|| hex(&record.span_id)),
                    attributes: attributes(&record.attributes),
                });
            }
        }
    }
}

/// The resource's `service.instance.id`: the node.
fn instance(resource: Option<&Resource>) -> Option<String> {
    resource?
        .attributes
        .iter()
        .find(|kv| kv.key == "service.instance.id")
        .and_then(|kv| kv.value.as_ref())
        .map(value)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn kind(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

fn attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(value).unwrap_or_default(),
            )
        })
        .collect()
}

fn value(any: &AnyValue) -> String {
    let text = match &any.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(n)) => n.to_string(),
        Some(any_value::Value::DoubleValue(x)) => x.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => hex(bytes),
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<String> = array.values.iter().map(value).collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    obsim_rules::input::shortened(&text, VALUE_CHARS_MAX).into_owned()
}
