//! Metrics libraries other than the `prometheus` crate, each as a `/metrics`
//! handler for [`NodeContext::serve_metrics`](crate::NodeContext::serve_metrics).
//! A `prometheus::Registry` needs no adapter: it is a handler itself.

use std::sync::Arc;

use obsim_harness::{MetricsHandler, MetricsResponse, OPENMETRICS_TEXT_CONTENT_TYPE};

/// A `prometheus-client` registry, served as OpenMetrics text, as its own
/// `encoding::text::encode` writes it. Register every metric first, then
/// share the registry:
///
/// ```ignore
/// use obsim::deps::prometheus_client::{metrics::counter::Counter, registry::Registry};
///
/// let mut registry = Registry::default();
/// let requests = Counter::<u64>::default();
/// registry.register("requests", "Requests handled", requests.clone());
/// node.serve_metrics(obsim::adapters::prometheus_client(Arc::new(registry)));
/// ```
///
/// Use `prometheus_client` through [`crate::deps`]: a second copy of the
/// crate makes a `Registry` this function does not take.
pub fn prometheus_client(
    registry: Arc<prometheus_client::registry::Registry>,
) -> impl MetricsHandler {
    move || {
        let mut body = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut body, &registry) {
            // Not valid OpenMetrics: the scrape fails to parse and the lint
            // says why, as a real Prometheus would mark the target down.
            body = format!("# encode error: {error}\n");
        }
        MetricsResponse {
            content_type: OPENMETRICS_TEXT_CONTENT_TYPE.into(),
            body,
        }
    }
}

/// OpenTelemetry metrics for one node incarnation: an `SdkMeterProvider` of
/// its own (never the global one) whose reader is the `opentelemetry-prometheus`
/// exporter, writing into a private `prometheus::Registry` that obsim scrapes.
/// It is the metrics handler itself, and it keeps the provider alive for as
/// long as obsim holds it, so an incarnation's final values can still be read
/// after a crash has dropped the service's own handles.
///
/// ```ignore
/// let metrics = obsim::adapters::OpenTelemetryMetrics::new("my-service");
/// node.serve_metrics(metrics.clone());
/// let meter = metrics.meter("my-service");
/// let requests = meter.u64_counter("requests").build();   // requests_total
/// let seconds = meter.f64_histogram("request.duration").with_unit("s").build(); // request_duration_seconds
/// ```
///
/// What it exports beyond your instruments, and why it is kept:
/// - `target_info`, a gauge with the resource's attributes as labels, as the
///   exporter writes it for a real Prometheus. The resource is built from
///   `service_name` alone, not from the environment (`OTEL_SERVICE_NAME`,
///   `OTEL_RESOURCE_ATTRIBUTES`), so what a run exports cannot depend on the
///   machine it ran on.
/// - `otel_scope_name` (and version, if the meter has one) labels on every
///   series, which say which meter recorded it. They are constant per meter,
///   so they cannot explode cardinality, and a selector that does not name
///   them matches every scope: checks and expectations work unchanged.
#[derive(Clone, Debug)]
pub struct OpenTelemetryMetrics {
    provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    registry: prometheus::Registry,
}

impl OpenTelemetryMetrics {
    /// A provider exporting into a fresh private registry, with
    /// `service.name` = `service_name` as its only resource attribute.
    pub fn new(service_name: &str) -> OpenTelemetryMetrics {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            // Building fails only if the registry already holds the
            // exporter's collector, and this registry is new.
            .expect("the Prometheus exporter registers in a fresh registry");
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_service_name(service_name.to_string())
            .build();
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(exporter)
            .with_resource(resource)
            .build();
        OpenTelemetryMetrics { provider, registry }
    }

    /// A meter of this provider, for `scope` (the instrumenting library).
    pub fn meter(&self, scope: &'static str) -> opentelemetry::metrics::Meter {
        use opentelemetry::metrics::MeterProvider as _;
        self.provider.meter(scope)
    }

    /// The provider itself, e.g. to build meters with a version or schema.
    pub fn provider(&self) -> &opentelemetry_sdk::metrics::SdkMeterProvider {
        &self.provider
    }

    /// The `prometheus::Registry` the exporter writes into: the library's
    /// own handle, for a service whose `/metrics` route encodes it itself
    /// (`prometheus::TextEncoder`). Serving this adapter serves the same.
    pub fn registry(&self) -> &prometheus::Registry {
        &self.registry
    }
}

impl MetricsHandler for OpenTelemetryMetrics {
    fn render(&self) -> MetricsResponse {
        self.registry.render()
    }
}

/// The `metrics` crate's macros (`counter!`, `gauge!`, `histogram!`) routed
/// to one `metrics-exporter-prometheus` recorder per node incarnation, never
/// the global recorder.
///
/// madsim runs every node on the thread that runs the seed, so a thread-local
/// recorder alone cannot tell nodes apart. This one is installed for the
/// whole run (as the thread's local recorder, by [`System::run_scope`]) and
/// routes each registration to the recorder of the simulated node it happens
/// on (madsim's current node). Build one per run, in the system's factory:
///
/// ```ignore
/// struct MyService { metrics: MetricsRecorders }
/// impl System for MyService {
///     fn run_scope(&self, run: &mut dyn FnMut()) { self.metrics.scope(run) }
///     fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
///         // The exporter's own handle: give it to the service, whose own
///         // `/metrics` route renders it, and serve what that route renders.
///         let handle = self.metrics.for_this_node();
///         let service = MyService::new(handle);
///         node.serve_metrics(move || MetricsResponse::prometheus_text(service.metrics_body()));
///         // ... metrics::counter!("requests_total").increment(1) anywhere on the node
///     }
///     // drive: let handle = self.metrics.for_this_node(); client.serve_metrics(..)
/// }
/// ```
///
/// Histograms need bucket bounds ([`MetricsRecorders::with_buckets`]):
/// without them the exporter renders summaries, whose quantile windows run
/// on `quanta`'s clock, which reads the CPU's time-stamp counter rather than
/// simulated time, so they would differ from run to run. A metric recorded
/// on a node before that node called [`MetricsRecorders::for_this_node`]
/// would be lost: it panics instead, naming the metric, and the run fails
/// with its seed.
///
/// [`System::run_scope`]: crate::System::run_scope
#[derive(Clone)]
pub struct MetricsRecorders {
    inner: Arc<RecordersInner>,
}

struct RecordersInner {
    buckets: Vec<f64>,
    /// The current incarnation's recorder of each simulated node.
    by_node:
        std::sync::Mutex<std::collections::BTreeMap<madsim::task::NodeId, Arc<ExporterRecorder>>>,
}

type ExporterRecorder = metrics_exporter_prometheus::PrometheusRecorder;

impl std::fmt::Debug for MetricsRecorders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRecorders")
            .field("buckets", &self.inner.buckets)
            .finish_non_exhaustive()
    }
}

impl Default for MetricsRecorders {
    fn default() -> Self {
        MetricsRecorders::with_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0])
    }
}

impl MetricsRecorders {
    /// Recorders whose histograms have these upper bounds (default: 1 ms to
    /// 5 s, for durations in seconds). Build them outside the simulation, in
    /// the system's factory: see below.
    pub fn with_buckets(buckets: &[f64]) -> MetricsRecorders {
        // Every exporter recorder builds a `quanta::Clock`, and the first one
        // in a process calibrates the CPU's time-stamp counter against the
        // monotonic clock in a loop that waits for that clock to move. Inside
        // a simulation it never moves within one poll (madsim's clock is
        // simulated), so the loop spins forever. The calibration is kept
        // process-wide: doing it here, where time is real, makes every later
        // clock, in any run, skip it. It touches no metric value.
        let _ = quanta::Clock::new();
        MetricsRecorders {
            inner: Arc::new(RecordersInner {
                buckets: buckets.to_vec(),
                by_node: Default::default(),
            }),
        }
    }

    /// Runs `run` with these recorders as the thread's `metrics` recorder:
    /// the body of [`System::run_scope`](crate::System::run_scope).
    pub fn scope(&self, run: &mut dyn FnMut()) {
        metrics::with_local_recorder(self, run)
    }

    /// A fresh recorder for the node incarnation this is called on, and the
    /// exporter's own `PrometheusHandle` for it: the handle a service's own
    /// `/metrics` route renders (`handle.render()`, the text format 0.0.4).
    /// Serve what that route renders with
    /// [`NodeContext::serve_metrics`](crate::NodeContext::serve_metrics)
    /// (`move || MetricsResponse::prometheus_text(handle.render())` at its
    /// simplest), or the client's. Call it as `serve` (or `drive`) starts:
    /// from then on, the `metrics` macros on this node record into it.
    pub fn for_this_node(&self) -> metrics_exporter_prometheus::PrometheusHandle {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&self.inner.buckets)
            // Only an empty list is refused, and the default has bounds.
            .expect("histogram buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let node = current_node();
        self.inner
            .by_node
            .lock()
            .expect("recorders lock")
            .insert(node, Arc::new(recorder));
        handle
    }

    /// The current incarnation's recorder of the node this runs on, if it
    /// has one yet.
    fn current(&self) -> Option<Arc<ExporterRecorder>> {
        let by_node = self.inner.by_node.lock().expect("recorders lock");
        by_node.get(&current_node()).cloned()
    }

    /// As [`MetricsRecorders::current`], for a registration: without a
    /// recorder its values would be lost, so it panics, naming the metric.
    fn recorder(&self, what: &str, key: &metrics::Key) -> Arc<ExporterRecorder> {
        self.current().unwrap_or_else(|| {
            panic!(
                "obsim: the {what} `{}` was recorded on simulated node {:?} before it called \
                 MetricsRecorders::for_this_node(): its values would be lost",
                key.name(),
                current_node()
            )
        })
    }
}

/// madsim's id of the node whose task is running.
fn current_node() -> madsim::task::NodeId {
    madsim::plugin::node()
}

impl metrics::Recorder for MetricsRecorders {
    // A description before the node has a recorder describes nothing yet:
    // it is dropped, as the exporter drops one for a metric never recorded.
    fn describe_counter(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        if let Some(recorder) = self.current() {
            recorder.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        if let Some(recorder) = self.current() {
            recorder.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(
        &self,
        key: metrics::KeyName,
        unit: Option<metrics::Unit>,
        description: metrics::SharedString,
    ) {
        if let Some(recorder) = self.current() {
            recorder.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Counter {
        self.recorder("counter", key)
            .register_counter(key, metadata)
    }

    fn register_gauge(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Gauge {
        self.recorder("gauge", key).register_gauge(key, metadata)
    }

    fn register_histogram(
        &self,
        key: &metrics::Key,
        metadata: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        self.recorder("histogram", key)
            .register_histogram(key, metadata)
    }
}
