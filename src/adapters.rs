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
