//! Per-run log capture: the service's `tracing` events through the real
//! OpenTelemetry logs bridge (`opentelemetry-appender-tracing`) into the
//! SDK's logger provider, and from there into a log processor of obsim's,
//! which records each one with the node incarnation that emitted it. The
//! trace and span a record carries are the ones the SDK attached, from the
//! OpenTelemetry context `tracing-opentelemetry` activates as each span is
//! entered: exactly what a service running this pipeline would export.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::InstrumentationScope;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::capture::NodeNames;
use super::clock::Clock;
use super::interner::Interner;
use super::ledger::Ledger;
use super::limits::{Bound, Limits};
use crate::run::{Level, LogRecord, OtelLog, SpanRef};

/// What the run's log events became.
#[derive(Default)]
struct Logged {
    records: Vec<LogRecord>,
    /// Kept only when a failure's artifacts ask for them.
    otel: Option<Vec<OtelLog>>,
    strings: Interner,
}

impl std::fmt::Debug for Logged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logged({} records)", self.records.len())
    }
}

/// The run's one log processor: it records each event as the SDK emits it,
/// in the order emitted. Synchronous, as the SDK's simple processor is: a
/// killed process has exported every event it emitted before the crash.
#[derive(Debug)]
struct LogCapture {
    nodes: NodeNames,
    ledger: Arc<Ledger>,
    logged: Arc<Mutex<Logged>>,
    limits: Arc<Limits>,
    clock: Clock,
}

impl LogProcessor for LogCapture {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        let now = self.clock.elapsed();
        // Past the bound the run is stopping: what comes after is not kept.
        if !self.limits.take(Bound::Logs, now) {
            return;
        }
        let node = super::capture::current_node_name(&self.nodes);
        let incarnation = self.ledger.live(&node);
        let at_ns = record
            .observed_timestamp()
            .map_or(now.as_nanos() as i64, |at| self.clock.offset_ns(at));
        let mut logged = self.logged.lock().expect("log capture lock");
        let strings = &mut logged.strings;
        let mut attributes: Vec<(Arc<str>, Arc<str>)> = record
            .attributes_iter()
            .map(|(key, value)| (strings.get(key.as_str()), strings.get(&text(value))))
            .collect();
        attributes.sort();
        let log = LogRecord {
            at_ns,
            node: node.clone(),
            incarnation,
            level: level(record.severity_number()),
            target: strings.get(record.target().map_or("", |target| target.as_ref())),
            name: strings.get(record.event_name().unwrap_or("")),
            body: strings.get(&record.body().map(text).unwrap_or_default()),
            attributes,
            trace: record.trace_context().map(|trace| SpanRef {
                trace_id: trace.trace_id.into(),
                span_id: trace.span_id.into(),
            }),
        };
        logged.records.push(log);
        if let Some(otel) = logged.otel.as_mut() {
            otel.push(OtelLog {
                node,
                record: record.clone(),
            });
        }
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// A value as text: strings as they are, anything else as its debug form.
fn text(value: &AnyValue) -> String {
    match value {
        AnyValue::String(text) => text.as_str().to_string(),
        AnyValue::Int(n) => n.to_string(),
        AnyValue::Double(x) => x.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// The bridge maps tracing's five levels onto OpenTelemetry's first
/// severity of each range; a record with another number falls in its range.
fn level(severity: Option<Severity>) -> Level {
    let number = severity.map_or(Severity::Info as i32, |severity| severity as i32);
    match number {
        ..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        _ => Level::Error,
    }
}

/// The capture side of a run's logs: read after the run.
pub(crate) struct LogsCapture {
    /// Kept so the logger lives as long as the run.
    _provider: SdkLoggerProvider,
    logged: Arc<Mutex<Logged>>,
}

/// The bridge layer, behind the service's own level filter.
pub(crate) type BridgeLayer<S> = tracing_subscriber::filter::Filtered<
    OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>,
    Targets,
    S,
>;

impl LogsCapture {
    /// The run's logger provider and the bridge layer over it, with
    /// `filter` (the service's production level filter) in front of it.
    pub(crate) fn new<S>(
        keep_otel: bool,
        service_name: &str,
        filter: Targets,
        nodes: NodeNames,
        clock: Clock,
        ledger: Arc<Ledger>,
        limits: Arc<Limits>,
    ) -> (LogsCapture, BridgeLayer<S>)
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        let logged = Arc::new(Mutex::new(Logged {
            otel: keep_otel.then(Vec::new),
            ..Logged::default()
        }));
        let processor = LogCapture {
            nodes,
            ledger,
            logged: logged.clone(),
            limits,
            clock,
        };
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(processor)
            .with_resource(resource(service_name))
            .build();
        let layer = OpenTelemetryTracingBridge::new(&provider).with_filter(filter);
        let capture = LogsCapture {
            _provider: provider,
            logged,
        };
        (capture, layer)
    }

    /// Takes the events logged so far, in the order emitted, and the SDK's
    /// records of them when kept.
    pub(crate) fn finish(&self) -> (Vec<LogRecord>, Vec<OtelLog>) {
        let mut logged = self.logged.lock().expect("log capture lock");
        let mut records = std::mem::take(&mut logged.records);
        records.shrink_to_fit();
        let otel = logged
            .otel
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        (records, otel)
    }
}

/// For measurement only: the logs pipeline a service runs in production,
/// the bridge and the SDK's provider, with every record dropped by a no-op
/// processor (see `capture::service_pipeline`).
pub(crate) fn service_logs<S>(
    service_name: &str,
    filter: Targets,
) -> (SdkLoggerProvider, BridgeLayer<S>)
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(DroppingProcessor)
        .with_resource(resource(service_name))
        .build();
    let layer = OpenTelemetryTracingBridge::new(&provider).with_filter(filter);
    (provider, layer)
}

fn resource(service_name: &str) -> Resource {
    Resource::builder_empty()
        .with_service_name(service_name.to_string())
        .build()
}

/// A processor that drops every record: a real exporter's cost is the
/// service's, not obsim's.
#[derive(Debug)]
struct DroppingProcessor;

impl LogProcessor for DroppingProcessor {
    fn emit(&self, _record: &mut SdkLogRecord, _scope: &InstrumentationScope) {}

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}
