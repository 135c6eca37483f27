//! What one run captured, in the order it happened.

use std::collections::BTreeMap;
use std::time::Duration;

use obsim_faults::{Fault, FaultEvent, FaultKind, ScheduleOverflow};
use opentelemetry_sdk::trace::SpanData;

use super::exposition::{Exposition, ParseError};
use super::logs::{log_line, LogRecord, OtelLog};
use super::requests::{CallRecord, RequestRecord};
use super::scrape::Scrape;
use super::spans::{SpanLifecycle, SpanRecord};
use super::truth::{DependencyCall, MessageCounts, StorageOp};

/// Everything one seed's run captured. A run is a pure function of its seed,
/// so two `Run`s of one seed must be equal, line for line.
#[derive(Clone, Debug)]
pub struct Run {
    pub scenario: String,
    pub seed: u64,
    /// Simulated time at which the run ended.
    pub ended_at: Duration,
    /// Exported spans, in export order.
    pub spans: Vec<SpanRecord>,
    /// The same spans as the SDK ended them, for OTLP files: absolute
    /// simulated timestamps, resource and scope included. Empty in a checked
    /// run, which keeps only the records above (the SDK's data is larger and
    /// no check reads it); a failure's artifacts replay the seed to fill it.
    pub otel_spans: Vec<SpanData>,
    /// Log events, in the order emitted: every `tracing` event that passed
    /// the contract's level filter, through the OpenTelemetry logs bridge.
    pub logs: Vec<LogRecord>,
    /// The same events as the SDK handed them over, with their nodes, for
    /// `logs.otlp.json`: empty unless asked for, as `otel_spans` is.
    pub otel_logs: Vec<OtelLog>,
    /// The secrets the system asked for (`NodeContext::secret`), by name,
    /// with whether the contract declares each.
    pub secrets_asked: BTreeMap<String, bool>,
    /// Spans opened and closed, as tracing saw them.
    pub lifecycle: SpanLifecycle,
    pub scrapes: Vec<Scrape>,
    pub faults: Vec<FaultEvent>,
    /// Fault events past the log's capacity: counted, not kept.
    pub faults_dropped: u64,
    /// Every fault event by kind, past the log's capacity too: what
    /// `faults.<kind>` reads.
    pub fault_counts: BTreeMap<FaultKind, u64>,
    /// Firings by plan entry (index into `plan`): opportunities inside the
    /// entry's own window, node and operation where it took effect. An
    /// entry that never fired is absent.
    pub fired_by_entry: BTreeMap<usize, u64>,
    pub incarnations: Vec<IncarnationRecord>,
    /// Invocation outcomes as the client recorded them: ground truth.
    pub outcomes: BTreeMap<String, u64>,
    /// Running totals the client recorded (`ClientContext::record_amount`):
    /// ground truth that is not one call's outcome, such as bytes sent.
    pub amounts: BTreeMap<String, u64>,
    /// Messages by type, as the network saw them: ground truth.
    pub messages: BTreeMap<String, MessageCounts>,
    /// Every storage operation that completed, in completion order: ground
    /// truth for storage counters, histograms and span status.
    pub storage_ops: Vec<StorageOp>,
    /// Torn transactions recovery rolled back, by node: ground truth.
    pub recovered: BTreeMap<String, u64>,
    /// Every call made with `Network::call`, with its attempts, by id:
    /// ground truth for call counters and call duration histograms.
    pub calls: Vec<CallRecord>,
    /// Every request a server accepted, in receipt order: ground truth for
    /// request counters, request duration histograms and which span served
    /// which attempt.
    pub requests: Vec<RequestRecord>,
    /// Every dependency call that completed, in completion order: ground
    /// truth for dependency counters, histograms and spans.
    pub dependency_calls: Vec<DependencyCall>,
    /// The faults this seed ran with: the fixed ones, then any swarm draw.
    pub plan: Vec<Fault>,
    /// How many of `plan` are fixed; the rest the swarm drew for this seed.
    pub fixed_faults: usize,
    /// The faults this run fired as a fixed schedule: each fault the seed
    /// drew (a chance below 1, a latency range) as one fixed event per
    /// firing, every other fault as itself. Run on the same seed, it replays
    /// this run's fault decisions exactly, and removing one of its faults
    /// moves no other: what shrinking works on. An error when the run fired
    /// more drawn faults than its fault log keeps.
    pub fault_schedule: Result<Vec<Fault>, ScheduleOverflow>,
}

/// One life of one server node, with its registry's final exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct IncarnationRecord {
    pub node: String,
    pub number: u32,
    pub started_at: Duration,
    /// When it crashed; None if it lived to the end of the run.
    pub ended_at: Option<Duration>,
    pub final_exposition: String,
    /// The content type its metrics endpoint served the final exposition
    /// with: it says which format the text is in.
    pub final_content_type: String,
    /// Keys its node's storage held committed when the final exposition was
    /// read (the crash, or the end of the run); None for the client.
    pub stored_keys: Option<u64>,
    /// Its probes, read with the final exposition.
    pub probes: BTreeMap<String, f64>,
    /// Where its final values come from.
    pub final_source: FinalSource,
    /// `final_exposition` parsed, once: several checks read it.
    pub(crate) parsed: ParsedOnce,
}

/// Where an incarnation's final values were read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FinalSource {
    /// Through the in-process handle the node gave
    /// (`NodeContext::serve_metrics`), the instant it ended: exact.
    #[default]
    InProcess,
    /// It gave no in-process handle, so its final values are its last
    /// answered scrape of its own metrics route, rendered somewhere between
    /// `at` and `ended_at`: what it counted after that is unknown.
    LastScrape { at: Duration, ended_at: Duration },
    /// It gave no in-process handle and no scrape of it was answered: its
    /// final values are unknown (an empty exposition stands for them).
    NoScrape,
}

impl FinalSource {
    /// Whether the final values are exact: read the instant it ended.
    pub fn exact(&self) -> bool {
        matches!(self, FinalSource::InProcess)
    }

    /// Between which instants the final values were rendered, given the
    /// instant the incarnation ended; None when there are none.
    pub fn rendered(&self, ended: Duration) -> Option<(Duration, Duration)> {
        match *self {
            FinalSource::InProcess => Some((ended, ended)),
            FinalSource::LastScrape { at, ended_at } => Some((at, ended_at)),
            FinalSource::NoScrape => None,
        }
    }
}

impl IncarnationRecord {
    /// The final exposition, parsed in the format it was served in (parsed
    /// on the first call, then kept).
    pub fn final_parsed(&self) -> Result<&Exposition, ParseError> {
        self.parsed
            .0
            .get_or_init(|| {
                super::exposition::parse_as(&self.final_exposition, &self.final_content_type)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A parse kept for later reads. It is derived from the text beside it, so
/// it takes no part in equality: two records are equal when their texts are,
/// parsed yet or not.
#[derive(Clone, Default)]
pub(crate) struct ParsedOnce(std::sync::OnceLock<Result<Exposition, ParseError>>);

impl PartialEq for ParsedOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for ParsedOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ParsedOnce")
    }
}

impl Run {
    /// Every captured fact as text lines: spans with ids, times, attributes
    /// and status; every scrape with its body; the fault log; outcomes; and
    /// each incarnation's final values. Two runs of a seed must match exactly.
    pub fn fingerprint(&self) -> Vec<String> {
        self.fingerprint_with(true)
    }

    /// [`Run::fingerprint`] without the span lines: what the determinism
    /// check compares of a rerun that folded its spans into a digest.
    pub(crate) fn fingerprint_without_spans(&self) -> Vec<String> {
        self.fingerprint_with(false)
    }

    fn fingerprint_with(&self, spans: bool) -> Vec<String> {
        let mut lines = vec![format!(
            "run {} seed={} ended_at={:?}",
            self.scenario, self.seed, self.ended_at
        )];
        lines.extend(self.plan.iter().map(|fault| format!("plan {fault}")));
        if spans {
            lines.extend(self.spans.iter().map(span_line));
        }
        lines.extend(self.logs.iter().map(log_line));
        lines.extend(
            self.secrets_asked
                .iter()
                .map(|(name, declared)| format!("secret {name} declared={declared}")),
        );
        lines.push(format!(
            "lifecycle opened={} closed={} open={:?}",
            self.lifecycle.opened, self.lifecycle.closed, self.lifecycle.open
        ));
        lines.extend(
            self.lifecycle
                .lost
                .iter()
                .map(|lost| format!("lost span {lost:?}")),
        );
        for scrape in &self.scrapes {
            lines.push(format!(
                "scrape {} at={:?} ended_at={:?} up={} incarnation={:?} error={:?} stored_keys={:?} probes={:?}",
                scrape.node,
                scrape.at,
                scrape.ended_at,
                scrape.up,
                scrape.incarnation,
                scrape.error,
                scrape.stored_keys,
                scrape.probes
            ));
            // In a fixed series order: the same values must match even when
            // the library writes its series in hash-map order.
            let body = super::exposition::canonical(&scrape.body);
            lines.extend(body.lines().map(|line| format!("  {line}")));
        }
        lines.extend(self.faults.iter().map(|fault| format!("fault {fault}")));
        lines.push(format!("faults_dropped {}", self.faults_dropped));
        lines.extend(
            self.fault_counts
                .iter()
                .map(|(kind, n)| format!("faults {kind}={n}")),
        );
        lines.extend(
            self.fired_by_entry
                .iter()
                .map(|(entry, n)| format!("fired #{entry}={n}")),
        );
        lines.extend(
            self.outcomes
                .iter()
                .map(|(outcome, n)| format!("outcome {outcome}={n}")),
        );
        lines.extend(
            self.amounts
                .iter()
                .map(|(name, n)| format!("amount {name}={n}")),
        );
        lines.extend(
            self.messages
                .iter()
                .map(|(message, counts)| format!("messages {message} {counts:?}")),
        );
        lines.extend(self.storage_ops.iter().map(|op| format!("storage {op:?}")));
        lines.extend(
            self.recovered
                .iter()
                .map(|(node, n)| format!("recovered {node}={n}")),
        );
        lines.extend(self.calls.iter().map(|call| format!("call {call:?}")));
        lines.extend(
            self.dependency_calls
                .iter()
                .map(|call| format!("dependency {call:?}")),
        );
        lines.extend(
            self.requests
                .iter()
                .map(|request| format!("request {request:?}")),
        );
        for incarnation in &self.incarnations {
            lines.push(format!(
                "incarnation {}#{} {:?}..{:?} stored_keys={:?} probes={:?} final={:?}",
                incarnation.node,
                incarnation.number,
                incarnation.started_at,
                incarnation.ended_at,
                incarnation.stored_keys,
                incarnation.probes,
                incarnation.final_source
            ));
            let text = super::exposition::canonical(&incarnation.final_exposition);
            lines.extend(text.lines().map(|line| format!("  {line}")));
        }
        lines
    }
}

fn span_line(span: &SpanRecord) -> String {
    let attributes: Vec<String> = span
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    let events: Vec<String> = span
        .events
        .iter()
        .map(|e| format!("{}@{}{:?}", e.name, e.at_ns, e.attributes))
        .collect();
    format!(
        "span {} {} parent={} {:?} kind={} origin={:?} {}..{} status={:?} attrs=[{}] events=[{}]",
        span.trace_id,
        span.span_id,
        span.parent_span_id
            .map_or("-".to_string(), |id| id.to_string()),
        span.name,
        span.kind,
        span.origin,
        span.start_ns,
        span.end_ns,
        span.status,
        attributes.join(" "),
        events.join(" ")
    )
}
