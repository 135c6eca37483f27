//! A node's metrics endpoint: what its `/metrics` answers, from whatever
//! library the service uses. obsim scrapes it over the simulated network, and
//! reads each incarnation's final values through it when the incarnation
//! ends, as a privileged channel that no fault can cut.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The Prometheus text format 0.0.4, what the `prometheus` crate writes.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics 1.0 text, what `prometheus-client` writes.
pub const OPENMETRICS_TEXT_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One answer of a metrics endpoint, as an HTTP `/metrics` sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsResponse {
    pub content_type: String,
    pub body: String,
}

impl MetricsResponse {
    /// `body` in the Prometheus text format 0.0.4: what the `prometheus`
    /// crate's `TextEncoder` and `metrics-exporter-prometheus`'s
    /// `PrometheusHandle::render` write.
    pub fn prometheus_text(body: impl Into<String>) -> MetricsResponse {
        MetricsResponse {
            content_type: PROMETHEUS_TEXT_CONTENT_TYPE.into(),
            body: body.into(),
        }
    }

    /// `body` in OpenMetrics 1.0 text: what `prometheus-client`'s
    /// `encoding::text::encode` writes.
    pub fn openmetrics(body: impl Into<String>) -> MetricsResponse {
        MetricsResponse {
            content_type: OPENMETRICS_TEXT_CONTENT_TYPE.into(),
            body: body.into(),
        }
    }
}

/// What a service's `/metrics` handler does: render its metrics now. Called
/// for every scrape and once more for the final values of an incarnation, so
/// it must only read (a render that resets or drains a metric would show up
/// as a counter going backwards).
///
/// A `prometheus::Registry` is one; so is any closure returning a
/// [`MetricsResponse`], which is how other libraries plug in:
///
/// ```ignore
/// node.serve_metrics(move || MetricsResponse {
///     content_type: OPENMETRICS_TEXT_CONTENT_TYPE.into(),
///     body: render_my_registry(&registry),
/// });
/// ```
pub trait MetricsHandler: Send + Sync + 'static {
    fn render(&self) -> MetricsResponse;
}

impl MetricsHandler for prometheus::Registry {
    /// The text format 0.0.4, from the prometheus crate's own encoder.
    fn render(&self) -> MetricsResponse {
        let body = prometheus::TextEncoder::new()
            .encode_to_string(&self.gather())
            .unwrap_or_else(|error| format!("# encode error: {error}\n"));
        MetricsResponse {
            content_type: PROMETHEUS_TEXT_CONTENT_TYPE.into(),
            body,
        }
    }
}

impl<F> MetricsHandler for F
where
    F: Fn() -> MetricsResponse + Send + Sync + 'static,
{
    fn render(&self) -> MetricsResponse {
        self()
    }
}

/// A reading of the service's real state, for [`NodeContext::probe`].
///
/// [`NodeContext::probe`]: super::NodeContext::probe
pub(crate) type Probe = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The handler one node incarnation's endpoint answers with: the context's
/// registry until the system installs its own. The harness keeps it after a
/// crash, to read what the incarnation had counted. It also holds the
/// incarnation's probes, read in the same poll as every render.
#[derive(Clone)]
pub(crate) struct MetricsSlot {
    handler: Arc<Mutex<Arc<dyn MetricsHandler>>>,
    probes: Arc<Mutex<BTreeMap<String, Probe>>>,
    /// Whether the system installed a handler of its own.
    installed: Arc<std::sync::atomic::AtomicBool>,
}

impl MetricsSlot {
    pub(crate) fn new(handler: Arc<dyn MetricsHandler>) -> MetricsSlot {
        MetricsSlot {
            handler: Arc::new(Mutex::new(handler)),
            probes: Arc::default(),
            installed: Arc::default(),
        }
    }

    pub(crate) fn set(&self, handler: Arc<dyn MetricsHandler>) {
        *self.handler.lock().expect("metrics handler lock") = handler;
        let installed = &self.installed;
        installed.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the system installed a handler of its own: an in-process
    /// handle to its metrics.
    pub(crate) fn installed(&self) -> bool {
        self.installed.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn add_probe(&self, name: &str, probe: Probe) {
        let mut probes = self.probes.lock().expect("probes lock");
        probes.insert(name.to_string(), probe);
    }

    pub(crate) fn render(&self) -> MetricsResponse {
        // Cloned out first: a handler that takes long (or locks its own
        // registry) must not hold the slot's lock while it renders.
        let handler = self.handler.lock().expect("metrics handler lock").clone();
        handler.render()
    }

    /// Renders, then reads every probe, in one poll: no work of the service
    /// can land between the exposition and the state it is checked against.
    pub(crate) fn render_with_probes(&self) -> (MetricsResponse, BTreeMap<String, f64>) {
        let response = self.render();
        let probes: Vec<(String, Probe)> = {
            let probes = self.probes.lock().expect("probes lock");
            probes.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let read = probes
            .into_iter()
            .map(|(name, probe)| (name, probe()))
            .collect();
        (response, read)
    }
}
