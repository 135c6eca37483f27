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
use crate::run::{FmtJson, Level, LogRecord, OtelLog, SpanRef};

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
            original: None,
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
    /// Kept so the logger lives as long as the run; none for JSON lines.
    _provider: Option<SdkLoggerProvider>,
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
            _provider: Some(provider),
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
        let otel = logged.otel.as_mut().map(std::mem::take).unwrap_or_default();
        (records, otel)
    }
}

/// The fmt layer writing JSON lines into the run's capture, as the service
/// would write them to stdout, with the service's settings.
pub(crate) type JsonLayer<S, W = JsonSink> = tracing_subscriber::filter::Filtered<
    tracing_subscriber::fmt::Layer<
        S,
        tracing_subscriber::fmt::format::JsonFields,
        tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
        W,
    >,
    Targets,
    S,
>;

/// The fmt layer's JSON lines with the service's `settings` and level
/// `filter`, written to `writer`.
pub(crate) fn json_layer<S, W>(settings: FmtJson, writer: W, filter: Targets) -> JsonLayer<S, W>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_ansi(false)
        .flatten_event(settings.flatten_event)
        .with_current_span(settings.current_span)
        .with_span_list(settings.span_list)
        .with_writer(writer)
        .with_filter(filter)
}

impl LogsCapture {
    /// The capture of a service that logs JSON lines through
    /// `tracing-subscriber`'s fmt layer ([`FmtJson`]): the layer, with the
    /// service's settings and level filter, writes each line into the run's
    /// capture, which parses it into a record.
    pub(crate) fn json<S>(
        settings: FmtJson,
        filter: Targets,
        nodes: NodeNames,
        clock: Clock,
        ledger: Arc<Ledger>,
        limits: Arc<Limits>,
    ) -> (LogsCapture, JsonLayer<S>)
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        let logged = Arc::new(Mutex::new(Logged::default()));
        let sink = JsonSink(Arc::new(LogCapture {
            nodes,
            ledger,
            logged: logged.clone(),
            limits,
            clock,
        }));
        let layer = json_layer(settings, sink, filter);
        let capture = LogsCapture {
            _provider: None,
            logged,
        };
        (capture, layer)
    }
}

/// Where the fmt layer writes: one [`JsonLine`] per event.
pub(crate) struct JsonSink(Arc<LogCapture>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for JsonSink {
    type Writer = JsonLine<'a>;

    fn make_writer(&'a self) -> JsonLine<'a> {
        JsonLine {
            sink: &self.0,
            name: "",
            line: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> JsonLine<'a> {
        JsonLine {
            sink: &self.0,
            name: meta.name(),
            line: Vec::new(),
        }
    }
}

/// Longest JSON line kept whole; a longer one is cut (and says so), so one
/// huge event cannot hold the run's memory.
const JSON_LINE_BYTES_MAX: usize = 64 * 1024;

/// One event's line, recorded when the fmt layer is done writing it.
pub(crate) struct JsonLine<'a> {
    sink: &'a LogCapture,
    /// The event's call site name (`event src/x.rs:12`).
    name: &'static str,
    line: Vec<u8>,
}

impl std::io::Write for JsonLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = JSON_LINE_BYTES_MAX.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for JsonLine<'_> {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            let line = String::from_utf8_lossy(&self.line).trim_end().to_string();
            self.sink.record_json(&line, self.name);
        }
    }
}

impl LogCapture {
    /// Records a JSON line as the service wrote it: its level, target,
    /// message and fields read back from the JSON, its trace the span
    /// current now if the line carries that span's trace id.
    fn record_json(&self, line: &str, name: &'static str) {
        let now = self.clock.elapsed();
        if !self.limits.take(Bound::Logs, now) {
            return;
        }
        let node = super::capture::current_node_name(&self.nodes);
        let incarnation = self.ledger.live(&node);
        let parsed: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(line).ok();
        let parsed = parsed.unwrap_or_default();
        let fields = match parsed.get("fields") {
            Some(serde_json::Value::Object(fields)) => fields.clone(),
            _ => parsed.clone(),
        };
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        // OpenTelemetry's current context, as `tracing-opentelemetry`
        // activates it on each span's entry (what the bridge reads too):
        // asking tracing for its current span from inside its own event
        // would get none.
        let current = {
            use opentelemetry::trace::TraceContextExt as _;
            let context = opentelemetry::Context::current();
            let span = context.span();
            let span_context = span.span_context();
            span_context.is_valid().then(|| SpanRef {
                trace_id: span_context.trace_id().into(),
                span_id: span_context.span_id().into(),
            })
        };
        let trace = current.filter(|span| line.contains(&span.trace_id.to_string()));
        let mut logged = self.logged.lock().expect("log capture lock");
        let strings = &mut logged.strings;
        let mut attributes: Vec<(Arc<str>, Arc<str>)> = fields
            .iter()
            .filter(|(key, _)| key.as_str() != "message")
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    "timestamp" | "level" | "target" | "span" | "spans"
                )
            })
            .map(|(key, value)| (strings.get(key), strings.get(&text(value))))
            .collect();
        attributes.sort();
        let level = parsed
            .get("level")
            .and_then(|level| level.as_str())
            .and_then(Level::parse)
            .unwrap_or(Level::Info);
        let log = LogRecord {
            at_ns: now.as_nanos() as i64,
            node,
            incarnation,
            level,
            target: strings.get(parsed.get("target").and_then(|t| t.as_str()).unwrap_or("")),
            name: strings.get(name),
            body: strings.get(&fields.get("message").map(text).unwrap_or_default()),
            attributes,
            trace,
            original: Some(Arc::from(line)),
        };
        logged.records.push(log);
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
