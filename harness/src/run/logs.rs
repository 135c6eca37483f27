//! Log events as a run records them: each `tracing` event the service
//! emitted, as the OpenTelemetry logs bridge (`opentelemetry-appender-tracing`)
//! handed it to the SDK, with the node incarnation it ran on and the trace
//! and span the SDK attached.

use std::fmt;
use std::sync::Arc;

/// A log record's severity, as the bridge maps `tracing`'s levels onto
/// OpenTelemetry's severity numbers. Ordered: `Warn < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// `trace`, `debug`, `info`, `warn` or `error`: the words a scenario's
    /// `logs{level="..."}` and every message use.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// The level a word names, in any case (`WARN`, `warn`).
    pub fn parse(word: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log event, with its time in nanoseconds since the run's start.
#[derive(Clone, Debug, PartialEq, Hash)]
pub struct LogRecord {
    pub at_ns: i64,
    /// The node it was emitted on: `server-<i>`, `client`, or `supervisor`.
    pub node: String,
    /// The node's incarnation then; None on the client and the supervisor.
    pub incarnation: Option<u32>,
    pub level: Level,
    /// The event's `tracing` target (the module path unless the event names
    /// its own: `target: "actors::startup"`).
    pub target: Arc<str>,
    /// `tracing`'s name of the event's call site: `event src/server.rs:42`.
    pub name: Arc<str>,
    /// The event's message: its `message` field, as the bridge sets the body.
    pub body: Arc<str>,
    /// Every other field, as text, sorted by key.
    pub attributes: Vec<(Arc<str>, Arc<str>)>,
    /// The trace and span current when it was emitted, as the SDK attached
    /// them; None outside every span. For a JSON line
    /// ([`LogFormat::FmtJson`]), the span current when it was written, and
    /// only if the line carries that span's trace id: an operator who finds
    /// the line can find the request only then.
    pub trace: Option<crate::run::SpanRef>,
    /// The line exactly as the service wrote it, for a JSON line; None for
    /// a record of the OpenTelemetry bridge.
    pub original: Option<Arc<str>>,
}

/// How a service ships its logs, which is how obsim captures them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Through the OpenTelemetry logs bridge (`opentelemetry-appender-tracing`)
    /// into the SDK, which attaches the current span's trace and span ids.
    #[default]
    OtelBridge,
    /// As JSON lines written by `tracing-subscriber`'s fmt layer
    /// (`fmt::layer().json()`), with these of its settings. Such a line
    /// carries no trace id of its own: a service that wants its lines
    /// found by trace records the id in a field of its span (or the event)
    /// itself, and `log_correlation` checks that it did.
    FmtJson(FmtJson),
}

/// The fmt layer's JSON settings a service runs with; the defaults are
/// `tracing-subscriber`'s own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FmtJson {
    /// `flatten_event`: the event's fields at the top level rather than
    /// under `fields` (default false).
    pub flatten_event: bool,
    /// `with_current_span`: the current span's name and fields under `span`
    /// (default true).
    pub current_span: bool,
    /// `with_span_list`: every span in scope under `spans` (default true).
    pub span_list: bool,
}

impl Default for FmtJson {
    fn default() -> Self {
        FmtJson {
            flatten_event: false,
            current_span: true,
            span_list: true,
        }
    }
}

impl LogRecord {
    /// Where the event came from, for messages: its level, target, call site
    /// and node.
    pub fn describe(&self) -> String {
        let node = match self.incarnation {
            Some(incarnation) => format!("{}#{incarnation}", self.node),
            None => self.node.clone(),
        };
        format!(
            "{} event {:?} (target {}, {}) on {node} at {:.6}s",
            self.level.as_str().to_uppercase(),
            obsim_rules::input::excerpt(&self.body),
            self.target,
            self.name.strip_prefix("event ").unwrap_or(&self.name),
            self.at_ns as f64 / 1e9
        )
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }
}

/// A log record as the SDK handed it over, with the node that emitted it:
/// what a failing seed's `logs.otlp.json` is written from.
#[derive(Clone, Debug)]
pub struct OtelLog {
    pub node: String,
    pub record: opentelemetry_sdk::logs::SdkLogRecord,
}

/// A run's line for one log record, in its fingerprint.
pub(crate) fn log_line(log: &LogRecord) -> String {
    let attributes: Vec<String> = log
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    let trace = log.trace.as_ref().map_or("-".to_string(), |trace| {
        format!("{}/{}", trace.trace_id, trace.span_id)
    });
    let original = log.original.as_deref().unwrap_or("-");
    format!(
        "log {} {}#{:?} {} {} {:?} trace={} {:?} attrs=[{}] original={original}",
        log.at_ns,
        log.node,
        log.incarnation,
        log.level,
        log.target,
        log.name,
        trace,
        log.body,
        attributes.join(" ")
    )
}
