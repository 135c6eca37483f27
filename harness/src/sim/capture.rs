//! Per-run span capture. Nothing here is global: each run builds its own
//! subscriber, tracer provider, exporter and id generator, and installs the
//! subscriber with `set_default` for the run's thread only, so several seeds
//! can run in one process, in parallel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::{IdGenerator, SdkTracerProvider, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use tracing::span;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::clock::Clock;
use super::interner::Interner;
use super::ledger::Ledger;
use super::limits::{Bound, Limits};
use super::logs::{json_layer, service_logs, LogsCapture};
use crate::run::{
    LogFormat, LogRecord, LostSpan, OpenSpan, OtelLog, SpanDigest, SpanDigester, SpanLifecycle,
    SpanOrigin, SpanRecord,
};

/// Trace and span ids drawn from the run's own stream. The SDK's default
/// generator uses a thread-local RNG seeded once per thread, so a second run
/// on the same thread would get different ids.
#[derive(Debug)]
struct SeededIds(Mutex<ChaCha8Rng>);

impl IdGenerator for SeededIds {
    fn new_trace_id(&self) -> TraceId {
        let mut rng = self.0.lock().expect("id generator lock poisoned");
        // Zero is the invalid id; `max(1)` keeps the draw valid and repeatable.
        TraceId::from(rng.random::<u128>().max(1))
    }

    fn new_span_id(&self) -> SpanId {
        let mut rng = self.0.lock().expect("id generator lock poisoned");
        SpanId::from(rng.next_u64().max(1))
    }
}

// Keyed by the span id's bytes. Inserted at each span's start and removed
// at its end, never iterated: a hash map with fixed keys rather than the
// BTreeMap whose inserts and removes showed in every profile.
type Origins = std::collections::HashMap<[u8; 8], SpanOrigin, foldhash::fast::FixedState>;

/// What a run keeps of each span as it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Its record: what the checks read.
    Records,
    /// Its record and the SDK's data, for an OTLP file.
    RecordsAndOtel,
    /// Only its share of a digest of all of them: a determinism rerun
    /// compares the digest, and holds no span.
    Digest,
}

/// What the run's spans became as the SDK ended them.
#[derive(Default)]
struct Exported {
    /// Every span that ended, in the order it ended.
    records: Vec<SpanRecord>,
    /// With [`Keep::Digest`], the spans folded instead of kept.
    digest: Option<SpanDigester>,
    /// The same spans as the SDK handed them over, kept only when asked
    /// ([`Capture::new`]'s `keep_otel`): an artifacts folder's OTLP file
    /// needs them, a check never does, and they cost more than the records.
    otel: Option<Vec<SpanData>>,
    /// Where each span still open started, until it ends.
    origins: Origins,
    /// Spans that ended after their incarnation went down: a killed
    /// process exports none, so they go here instead of `records`.
    lost: Vec<LostSpan>,
    strings: Interner,
}

/// The run's one span processor: it tags each span with where it started
/// and whether a crash ended it, and records it as the SDK ends it. A
/// processor sees the OpenTelemetry span id, which a tracing layer does not.
/// It reads the ledger, which the harness updates as nodes go down and up,
/// so "cancelled" is a fact of the lifecycle, not a guess from timestamps.
///
/// One processor rather than a tagger plus `InMemorySpanExporter`: the SDK
/// clones every span's data once per extra processor, and the in-memory
/// exporter clones each batch again and once more when read. Here each span
/// is converted as it ends, and its `SpanData` dropped unless kept.
#[derive(Debug)]
struct CaptureProcessor {
    nodes: NodeNames,
    ledger: Arc<Ledger>,
    exported: Arc<Mutex<Exported>>,
    /// Every span opened counts against the run's span bound.
    limits: Arc<Limits>,
    clock: Clock,
}

impl std::fmt::Debug for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Exported({} spans)", self.records.len())
    }
}

impl SpanProcessor for CaptureProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {
        use opentelemetry::trace::Span as _;
        // Past the bound the run is stopping; the span is still tagged, so
        // that what was captured stays consistent.
        let _ = self.limits.take(Bound::Spans, self.clock.elapsed());
        let node = current_node_name(&self.nodes);
        // On a node that is down, a span starts only as madsim drops a
        // killed task (OpenTelemetry starts a span lazily: one created and
        // never entered starts when its guard ends it on drop). It belongs
        // to the dead process, which never exports it: it is lost.
        let incarnation = self.ledger.live(&node).or_else(|| self.ledger.dead(&node));
        let origin = SpanOrigin {
            incarnation,
            node: Some(node),
        };
        let id = span.span_context().span_id().to_bytes();
        let mut exported = self.exported.lock().expect("capture lock");
        exported.origins.insert(id, origin);
    }

    fn on_end(&self, span: SpanData) {
        let mut exported = self.exported.lock().expect("capture lock");
        // A span that started outside every node has no origin: the default.
        let origin = exported
            .origins
            .remove(&span.span_context.span_id().to_bytes())
            .unwrap_or_default();
        if let (Some(node), Some(incarnation)) = (&origin.node, origin.incarnation) {
            if self.ledger.live(node) != Some(incarnation) {
                // The process that held it is gone: the real SDK would never
                // export it (see `LostSpan`).
                let lost = LostSpan {
                    trace_id: span.span_context.trace_id().into(),
                    span_id: span.span_context.span_id().into(),
                    parent_span_id: (span.parent_span_id != opentelemetry::trace::SpanId::INVALID)
                        .then(|| span.parent_span_id.into()),
                    name: span.name.to_string(),
                    kind: crate::run::span_kind_name(&span.span_kind).to_string(),
                    node: node.clone(),
                    incarnation,
                    start_ns: self.clock.offset_ns(span.start_time),
                };
                exported.lost.push(lost);
                return;
            }
        }
        let record = SpanRecord::from_data(&span, origin, &self.clock, &mut exported.strings);
        match exported.digest.as_mut() {
            Some(digest) => digest.add(&record),
            None => exported.records.push(record),
        }
        if let Some(otel) = exported.otel.as_mut() {
            otel.push(span);
        }
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

#[derive(Default)]
struct LifecycleState {
    opened: u64,
    closed: u64,
    /// Keyed by open order, so the report lists leaks in the order they began.
    open: BTreeMap<u64, Opened>,
}

/// A span still open, as cheaply as it can be kept: nearly every span
/// closes, so its name and node are made text only if it never does.
struct Opened {
    name: &'static str,
    node: Option<madsim::task::NodeId>,
    at: Duration,
}

/// Which simulated node a madsim node id is, so leaks name the node.
pub(crate) type NodeNames = Arc<Mutex<BTreeMap<madsim::task::NodeId, String>>>;

/// Counts spans opened and closed. It hooks tracing's `on_new_span` and
/// `on_close`, not OpenTelemetry's processor: OTel starts a span lazily, so a
/// span that is created but never entered would be invisible to a processor.
#[derive(Clone)]
struct LifecycleLayer {
    state: Arc<Mutex<LifecycleState>>,
    clock: Clock,
}

/// The sequence number a span got when it opened, kept in its extensions
/// because tracing reuses span ids once a span closes.
struct OpenSeq(u64);

impl<S> Layer<S> for LifecycleLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        // Spans are created inside simulated tasks; outside one there is no node.
        let node = super::clock::in_simulation().then(madsim::plugin::node);
        let mut state = self.state.lock().expect("lifecycle lock poisoned");
        let seq = state.opened;
        state.opened += 1;
        state.open.insert(
            seq,
            Opened {
                name: attrs.metadata().name(),
                node,
                at: self.clock.elapsed(),
            },
        );
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(OpenSeq(seq));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(seq) = span.extensions().get::<OpenSeq>().map(|seq| seq.0) else {
            return;
        };
        let mut state = self.state.lock().expect("lifecycle lock poisoned");
        state.closed += 1;
        state.open.remove(&seq);
    }
}

pub(crate) fn current_node_name(nodes: &NodeNames) -> String {
    // Spans are created inside simulated tasks; outside one there is no node.
    let node = super::clock::in_simulation().then(madsim::plugin::node);
    node_name(nodes, node)
}

/// The name of a madsim node (None: outside the simulation); a node the
/// harness never named is madsim's main node, where the supervisor runs.
fn node_name(nodes: &NodeNames, node: Option<madsim::task::NodeId>) -> String {
    let Some(id) = node else {
        return "<outside the simulation>".into();
    };
    let names = nodes.lock().expect("node names lock poisoned");
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| "supervisor".into())
}

/// The capture side of one run: read it after the run to get what was exported.
pub(crate) struct Capture {
    /// Kept so the tracer's provider lives as long as the run.
    _provider: SdkTracerProvider,
    /// To name the node of a span still open.
    nodes: NodeNames,
    exported: Arc<Mutex<Exported>>,
    lifecycle: Arc<Mutex<LifecycleState>>,
    logs: LogsCapture,
}

impl Capture {
    /// Builds the run's subscriber. The caller installs it with
    /// `tracing::subscriber::set_default` around the run. `keep` says what
    /// of each span is kept ([`Capture::finish`]); `log_filter` is the
    /// service's own level filter in front of the logs bridge.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        keep: Keep,
        service_name: &str,
        ids: ChaCha8Rng,
        (log_format, log_filter): (LogFormat, Targets),
        nodes: NodeNames,
        clock: Clock,
        ledger: Arc<Ledger>,
        limits: Arc<Limits>,
    ) -> (Capture, impl tracing::Subscriber + Send + Sync) {
        let exported = Arc::new(Mutex::new(Exported {
            otel: (keep == Keep::RecordsAndOtel).then(Vec::new),
            digest: (keep == Keep::Digest).then(SpanDigester::new),
            ..Exported::default()
        }));
        let (logs, bridge, json) = match log_format {
            LogFormat::OtelBridge => {
                let (logs, bridge) = LogsCapture::new(
                    keep == Keep::RecordsAndOtel,
                    service_name,
                    log_filter,
                    nodes.clone(),
                    clock.clone(),
                    ledger.clone(),
                    limits.clone(),
                );
                (logs, Some(bridge), None)
            }
            LogFormat::FmtJson(settings) => {
                let (logs, json) = LogsCapture::json(
                    settings,
                    log_filter,
                    nodes.clone(),
                    clock.clone(),
                    ledger.clone(),
                    limits.clone(),
                );
                (logs, None, Some(json))
            }
        };
        let processor = CaptureProcessor {
            nodes: nodes.clone(),
            ledger,
            exported: exported.clone(),
            limits,
            clock: clock.clone(),
        };
        let provider = provider(
            SdkTracerProvider::builder().with_span_processor(processor),
            service_name,
            ids,
        );
        let lifecycle = Arc::new(Mutex::new(LifecycleState::default()));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::filter_fn(not_madsim))
            .with(LifecycleLayer {
                state: lifecycle.clone(),
                clock,
            })
            .with(otel_layer(&provider, "obsim"))
            .with(bridge)
            .with(json);
        let capture = Capture {
            _provider: provider,
            nodes,
            exported,
            lifecycle,
            logs,
        };
        (capture, subscriber)
    }

    /// Takes the spans that ended so far, in the order they ended: their
    /// records, the SDK's data when kept, and with [`Keep::Digest`] their
    /// digest. Spans still open are not included: they never ended.
    pub(crate) fn finish(&self) -> (Vec<SpanRecord>, Vec<SpanData>, Option<SpanDigest>) {
        let mut exported = self.exported.lock().expect("capture lock");
        let records = std::mem::take(&mut exported.records);
        let otel = exported
            .otel
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let digest = exported.digest.as_ref().map(SpanDigester::finish);
        (records, otel, digest)
    }

    /// Takes the log events emitted so far, in the order emitted, and the
    /// SDK's records of them when kept.
    pub(crate) fn logs(&self) -> (Vec<LogRecord>, Vec<OtelLog>) {
        self.logs.finish()
    }

    pub(crate) fn lifecycle(&self) -> SpanLifecycle {
        let lost = self.exported.lock().expect("capture lock").lost.clone();
        let state = self.lifecycle.lock().expect("lifecycle lock poisoned");
        let open = state.open.values().map(|opened| OpenSpan {
            name: opened.name.to_string(),
            node: node_name(&self.nodes, opened.node),
            opened_at: opened.at,
        });
        SpanLifecycle {
            opened: state.opened,
            closed: state.closed,
            open: open.collect(),
            lost,
        }
    }
}

/// For measurement only: the tracing pipeline a service runs in
/// production, without obsim. The same registry, `tracing-opentelemetry`
/// layer and SDK provider as [`Capture::new`], but each span goes to an
/// exporter that drops it, through the SDK's simple processor, and nothing
/// counts, tags or records a span. What [`Capture::new`]'s subscriber costs
/// beyond this one is obsim's own share of capture (`obsim bench`).
pub(crate) fn service_pipeline(
    service_name: &str,
    ids: ChaCha8Rng,
    (log_format, log_filter): (LogFormat, Targets),
) -> (
    (SdkTracerProvider, SdkLoggerProvider),
    impl tracing::Subscriber + Send + Sync,
) {
    let builder = SdkTracerProvider::builder().with_simple_exporter(DroppingExporter);
    let provider = provider(builder, service_name, ids);
    let (logger, bridge) = service_logs(service_name, log_filter.clone());
    // The service's own logs pipeline: the bridge, or JSON lines written to
    // where nobody reads them.
    let (bridge, json) = match log_format {
        LogFormat::OtelBridge => (Some(bridge), None),
        LogFormat::FmtJson(settings) => {
            (None, Some(json_layer(settings, std::io::sink, log_filter)))
        }
    };
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::filter_fn(not_madsim))
        .with(otel_layer(&provider, "service"))
        .with(bridge)
        .with(json);
    ((provider, logger), subscriber)
}

/// A run's SDK provider: span ids from the run's own stream, the scenario
/// as the service's name.
fn provider(
    builder: opentelemetry_sdk::trace::TracerProviderBuilder,
    service_name: &str,
    ids: ChaCha8Rng,
) -> SdkTracerProvider {
    builder
        .with_id_generator(SeededIds(Mutex::new(ids)))
        .with_resource(
            Resource::builder_empty()
                .with_service_name(service_name.to_string())
                .build(),
        )
        .build()
}

/// The `tracing-opentelemetry` layer over `provider`'s tracer `scope`.
/// Busy/idle times and thread ids are real-machine facts, not simulated
/// ones: they would differ between two runs of a seed, so both are off.
fn otel_layer<S>(
    provider: &SdkTracerProvider,
    scope: &'static str,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(scope))
        .with_tracked_inactivity(false)
        .with_threads(false)
}

/// Every span but madsim's: madsim wraps each task poll in spans of its
/// own, which would become the parents of every span the system makes (and
/// a service on a real runtime has none of them).
fn not_madsim(metadata: &tracing::Metadata<'_>) -> bool {
    !metadata.target().starts_with("madsim")
}

/// An exporter that drops every span: a real exporter's serialization and
/// sending are the service's cost, not obsim's, and differ by exporter.
#[derive(Debug)]
struct DroppingExporter;

impl opentelemetry_sdk::trace::SpanExporter for DroppingExporter {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        drop(batch);
        Ok(())
    }
}

/// The span current on this task now, by the ids it is exported with; None
/// outside any span. The ledger keeps it with each operation, so that a
/// check can tell which span covered which operation.
pub(crate) fn current_span() -> Option<crate::run::SpanRef> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::Span::current();
    if span.is_none() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| crate::run::SpanRef {
        trace_id: span_context.trace_id().into(),
        span_id: span_context.span_id().into(),
    })
}
