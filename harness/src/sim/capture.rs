//! Per-run span capture. Nothing here is global: each run builds its own
//! subscriber, tracer provider, exporter and id generator, and installs the
//! subscriber with `set_default` for the run's thread only, so several seeds
//! can run in one process, in parallel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanId, Status, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{
    IdGenerator, InMemorySpanExporter, SdkTracerProvider, SpanData, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use tracing::span;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::clock::Clock;
use super::ledger::Ledger;
use super::limits::{Bound, Limits};
use crate::run::{OpenSpan, SpanEventRecord, SpanLifecycle, SpanOrigin, SpanRecord, SpanStatus};

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

// Keyed by the span id's bytes: `SpanId` is not `Ord`.
pub(crate) type Origins = Arc<Mutex<BTreeMap<[u8; 8], SpanOrigin>>>;

/// Tags each span with where it started and whether a crash ended it. A
/// processor sees the OpenTelemetry span id, which a tracing layer does not.
/// It reads the ledger, which the harness updates as nodes go down and up,
/// so "cancelled" is a fact of the lifecycle, not a guess from timestamps.
#[derive(Debug)]
struct OriginTagger {
    nodes: NodeNames,
    ledger: Arc<Ledger>,
    origins: Origins,
    /// Every span opened counts against the run's span bound.
    limits: Arc<Limits>,
    clock: Clock,
}

impl SpanProcessor for OriginTagger {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {
        use opentelemetry::trace::Span as _;
        // Past the bound the run is stopping; the span is still tagged, so
        // that what was captured stays consistent.
        let _ = self.limits.take(Bound::Spans, self.clock.elapsed());
        let node = current_node_name(&self.nodes);
        let origin = SpanOrigin {
            incarnation: self.ledger.live(&node),
            node: Some(node),
            cancelled: false,
        };
        let id = span.span_context().span_id().to_bytes();
        self.origins
            .lock()
            .expect("origins lock")
            .insert(id, origin);
    }

    fn on_end(&self, span: SpanData) {
        let mut origins = self.origins.lock().expect("origins lock");
        let Some(origin) = origins.get_mut(&span.span_context.span_id().to_bytes()) else {
            return;
        };
        if let (Some(node), Some(incarnation)) = (&origin.node, origin.incarnation) {
            origin.cancelled = self.ledger.live(node) != Some(incarnation);
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
    open: BTreeMap<u64, OpenSpan>,
}

/// Which simulated node a madsim node id is, so leaks name the node.
pub(crate) type NodeNames = Arc<Mutex<BTreeMap<madsim::task::NodeId, String>>>;

/// Counts spans opened and closed. It hooks tracing's `on_new_span` and
/// `on_close`, not OpenTelemetry's processor: OTel starts a span lazily, so a
/// span that is created but never entered would be invisible to a processor.
#[derive(Clone)]
struct LifecycleLayer {
    state: Arc<Mutex<LifecycleState>>,
    nodes: NodeNames,
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
        let node = current_node_name(&self.nodes);
        let mut state = self.state.lock().expect("lifecycle lock poisoned");
        let seq = state.opened;
        state.opened += 1;
        state.open.insert(
            seq,
            OpenSpan {
                name: attrs.metadata().name().to_string(),
                node,
                opened_at: self.clock.elapsed(),
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

fn current_node_name(nodes: &NodeNames) -> String {
    // Spans are created inside simulated tasks; outside one there is no node.
    if madsim::runtime::Handle::try_current().is_err() {
        return "<outside the simulation>".into();
    }
    let id = madsim::plugin::node();
    let names = nodes.lock().expect("node names lock poisoned");
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| "supervisor".into())
}

/// The capture side of one run: read it after the run to get what was exported.
pub(crate) struct Capture {
    provider: SdkTracerProvider,
    exporter: InMemorySpanExporter,
    lifecycle: Arc<Mutex<LifecycleState>>,
    origins: Origins,
}

impl Capture {
    /// Builds the run's subscriber. The caller installs it with
    /// `tracing::subscriber::set_default` around the run.
    pub(crate) fn new(
        service_name: &str,
        ids: ChaCha8Rng,
        nodes: NodeNames,
        clock: Clock,
        ledger: Arc<Ledger>,
        limits: Arc<Limits>,
    ) -> (Capture, impl tracing::Subscriber + Send + Sync) {
        let exporter = InMemorySpanExporter::default();
        let origins = Origins::default();
        let provider = SdkTracerProvider::builder()
            // Before the exporter: the origin is tagged by the time a span
            // is exported.
            .with_span_processor(OriginTagger {
                nodes: nodes.clone(),
                ledger,
                origins: origins.clone(),
                limits,
                clock: clock.clone(),
            })
            .with_simple_exporter(exporter.clone())
            .with_id_generator(SeededIds(Mutex::new(ids)))
            .with_resource(
                Resource::builder_empty()
                    .with_service_name(service_name.to_string())
                    .build(),
            )
            .build();
        let lifecycle = Arc::new(Mutex::new(LifecycleState::default()));
        let otel = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("obsim"))
            // Busy/idle times and thread ids are real-machine facts, not
            // simulated ones: they would differ between two runs of a seed.
            .with_tracked_inactivity(false)
            .with_threads(false);
        let subscriber = tracing_subscriber::registry()
            // madsim wraps every task poll in its own spans; kept, they would
            // become the parents of every span the system makes.
            .with(tracing_subscriber::filter::filter_fn(|metadata| {
                !metadata.target().starts_with("madsim")
            }))
            .with(LifecycleLayer {
                state: lifecycle.clone(),
                nodes,
                clock,
            })
            .with(otel);
        let capture = Capture {
            provider,
            exporter,
            lifecycle,
            origins,
        };
        (capture, subscriber)
    }

    /// Spans exported so far, in export order.
    pub(crate) fn finished_spans(&self) -> Vec<SpanData> {
        // The simple processor exports inside `end()`, so flushing is a no-op
        // kept for the day the processor changes.
        let _ = self.provider.force_flush();
        self.exporter.get_finished_spans().unwrap_or_default()
    }

    /// Where `span` ran; the default (nothing known) for a span that started
    /// outside every node.
    pub(crate) fn origin(&self, span: &SpanData) -> SpanOrigin {
        let origins = self.origins.lock().expect("origins lock");
        origins
            .get(&span.span_context.span_id().to_bytes())
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn lifecycle(&self) -> SpanLifecycle {
        let state = self.lifecycle.lock().expect("lifecycle lock poisoned");
        SpanLifecycle {
            opened: state.opened,
            closed: state.closed,
            open: state.open.values().cloned().collect(),
        }
    }
}

// Moved here from run's record: it reads the simulated `Clock`, which belongs to sim.
impl SpanRecord {
    pub(crate) fn from_data(data: &SpanData, origin: SpanOrigin, clock: &Clock) -> SpanRecord {
        let parent = data.parent_span_id;
        SpanRecord {
            trace_id: data.span_context.trace_id().to_string(),
            span_id: data.span_context.span_id().to_string(),
            parent_span_id: (parent != opentelemetry::trace::SpanId::INVALID)
                .then(|| parent.to_string()),
            name: data.name.to_string(),
            kind: format!("{:?}", data.span_kind).to_lowercase(),
            origin,
            start_ns: clock.offset_ns(data.start_time),
            end_ns: clock.offset_ns(data.end_time),
            status: match &data.status {
                Status::Unset => SpanStatus::Unset,
                Status::Ok => SpanStatus::Ok,
                Status::Error { description } => SpanStatus::Error(description.to_string()),
            },
            attributes: sorted(data.attributes.iter()),
            events: data
                .events
                .iter()
                .map(|event| SpanEventRecord {
                    name: event.name.to_string(),
                    at_ns: clock.offset_ns(event.timestamp),
                    attributes: sorted(event.attributes.iter()),
                })
                .collect(),
        }
    }
}

fn sorted<'a>(
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = attributes
        .map(|kv| (kv.key.to_string(), kv.value.as_str().into_owned()))
        .collect();
    pairs.sort();
    pairs
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
        trace_id: span_context.trace_id().to_string(),
        span_id: span_context.span_id().to_string(),
    })
}
