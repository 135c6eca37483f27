//! The visit server: a task per connection, a server span per visit, a
//! storage span per store operation, and metrics in a registry of its own.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::Status;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tracing::{info_span, warn, Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{trace, Store, TcpListener, TcpStream};

/// The server's settings (a scenario file's `[system]` table under obsim).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A planted bug, for the guide's first failing seed: count a write as
    /// ok before making it, and never count a failed one.
    pub count_before_write: bool,
}

/// Storage durations from 1 ms to 1 s.
const BUCKETS_SECONDS: [f64; 8] = [0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

/// One process of the visit service.
pub struct VisitServer<S> {
    store: S,
    config: Config,
    metrics: Metrics,
    /// The count of every page visited since this process started: what a
    /// "top pages" page would show, and what `visit_cache_entries` counts.
    recent: Mutex<BTreeMap<String, u64>>,
}

struct Metrics {
    registry: Registry,
    visits: IntCounterVec,
    storage: IntCounterVec,
    storage_seconds: HistogramVec,
    cached: IntGauge,
}

impl<S: Store> VisitServer<S> {
    pub fn new(store: S, config: Config) -> Arc<VisitServer<S>> {
        Arc::new(VisitServer {
            store,
            config,
            metrics: Metrics::new(),
            recent: Mutex::default(),
        })
    }

    /// What `GET /metrics` answers: the Prometheus text format 0.0.4.
    pub fn metrics_body(&self) -> String {
        let families = self.metrics.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_else(|error| format!("# encode error: {error}\n"))
    }

    /// How many pages this process has counted.
    pub fn cached_keys(&self) -> usize {
        self.recent.lock().map_or(0, |recent| recent.len())
    }

    /// Serves visits on `addr` until the listener fails.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let server = self.clone();
            madsim::task::spawn(async move {
                let _ = server.connection(stream).await;
            });
        }
    }

    async fn connection(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        while stream.read_line(&mut line).await? > 0 {
            let reply = self.handle(line.trim()).await;
            line.clear();
            stream.get_mut().write_all(reply.as_bytes()).await?;
            stream.get_mut().flush().await?;
        }
        Ok(())
    }

    /// One request line, answered.
    async fn handle(&self, line: &str) -> String {
        let mut words = line.split(' ');
        let (Some("VISIT"), Some(page), Some(traceparent)) =
            (words.next(), words.next(), words.next())
        else {
            return "ERR bad request\n".into();
        };
        let span = info_span!(
            "VisitService/Visit",
            otel.kind = "server",
            rpc.system = "quickstart",
            rpc.service = "VisitService",
            rpc.method = "Visit",
        );
        trace::set_parent(&span, traceparent);
        let visit = async {
            let result = self.count_visit(page).await;
            let status = if result.is_ok() { "ok" } else { "error" };
            self.metrics.visits.with_label_values(&[status]).inc();
            match result {
                Ok(count) => format!("OK {count}\n"),
                Err(error) => {
                    // Logged where it is handled, inside the request's span,
                    // so the line carries the request's trace.
                    warn!(page, error = %error, "visit failed");
                    Span::current().set_status(Status::error(error.clone()));
                    format!("ERR {error}\n")
                }
            }
        };
        visit.instrument(span).await
    }

    async fn count_visit(&self, page: &str) -> Result<u64, String> {
        let stored = self.timed("get", self.store.get(page), true).await?;
        let count = crate::next_count(stored.as_deref());
        let write = self.store.put(page, count.to_le_bytes().to_vec());
        let counted = !self.config.count_before_write;
        if !counted {
            let ok = self.metrics.storage.with_label_values(&["put", "ok"]);
            ok.inc();
        }
        self.timed("put", write, counted).await?;
        let mut recent = self.recent.lock().map_err(|e| e.to_string())?;
        if recent.insert(page.to_string(), count).is_none() {
            self.metrics.cached.inc();
        }
        Ok(count)
    }

    /// One store operation, counted (unless `count` is false), timed and
    /// traced under a span of its own.
    async fn timed<T>(
        &self,
        operation: &str,
        work: impl std::future::Future<Output = Result<T, String>>,
        count: bool,
    ) -> Result<T, String> {
        let span = info_span!("visits storage", db.operation.name = operation);
        let started = madsim::time::Instant::now();
        let result = work.instrument(span.clone()).await;
        let seconds = self.metrics.storage_seconds.with_label_values(&[operation]);
        seconds.observe(started.elapsed().as_secs_f64());
        let status = if result.is_ok() { "ok" } else { "error" };
        if count {
            let counter = self.metrics.storage.with_label_values(&[operation, status]);
            counter.inc();
        }
        if let Err(error) = &result {
            span.set_status(Status::error(error.clone()));
        }
        result
    }
}

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let visits = IntCounterVec::new(
            Opts::new("visits_total", "Visits answered, by status."),
            &["status"],
        )
        .expect("valid metric");
        let storage = IntCounterVec::new(
            Opts::new(
                "visit_storage_operations_total",
                "Storage operations, by operation and status.",
            ),
            &["operation", "status"],
        )
        .expect("valid metric");
        let storage_seconds = HistogramVec::new(
            HistogramOpts::new(
                "visit_storage_operation_duration_seconds",
                "Time a storage operation took.",
            )
            .buckets(BUCKETS_SECONDS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let cached = IntGauge::new("visit_cache_entries", "Pages counted since start.")
            .expect("valid metric");
        registry.register(Box::new(visits.clone())).expect("fresh");
        registry.register(Box::new(storage.clone())).expect("fresh");
        let boxed = Box::new(storage_seconds.clone());
        registry.register(boxed).expect("fresh");
        registry.register(Box::new(cached.clone())).expect("fresh");
        Metrics {
            registry,
            visits,
            storage,
            storage_seconds,
            cached,
        }
    }
}
