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
}

impl MetricsHandler for OpenTelemetryMetrics {
    fn render(&self) -> MetricsResponse {
        self.registry.render()
    }
}
