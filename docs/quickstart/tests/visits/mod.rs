//! The visit counter as an obsim system: servers count visits in their
//! storage, the client visits keys and records what happened to each call.

use std::sync::Arc;
use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::madsim;
use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use obsim::deps::rand::Rng;
use obsim::deps::serde::Deserialize;
use obsim::deps::tracing::{self, info_span, Instrument};
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::{ClientContext, Contract, NodeContext, SpanFutureExt, System, TraceHeaders};

/// The `[system]` table of a scenario file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(crate = "obsim::deps::serde", default, deny_unknown_fields)]
pub struct VisitsConfig {
    /// A planted bug: count a write as ok before making it, and never count
    /// a failed one. `metric_accuracy` catches it.
    pub count_before_write: bool,
}

pub struct Visits {
    config: Arc<VisitsConfig>,
}

impl Visits {
    pub fn new(config: VisitsConfig) -> Visits {
        Visits {
            config: Arc::new(config),
        }
    }
}

/// A visit to `key`, with the trace context of the client's call.
#[derive(Clone)]
struct Visit {
    call: u64,
    key: String,
    headers: TraceHeaders,
}

#[derive(Clone)]
struct VisitReply {
    call: u64,
    result: Result<u64, String>,
}

const VISIT: u64 = 1;
const REPLY: u64 = 2;

/// Storage durations from 1 ms to 1 s.
const BUCKETS_SECONDS: [f64; 8] = [0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];

impl System for Visits {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        Box::pin(serve(node, self.config.clone()))
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(drive(client))
    }

    fn contract(&self) -> Contract {
        Contract::new()
            // What `visit` can return.
            .outcomes(["ok", "error", "timeout"])
            .operations(["visit"])
            .accurate(r#"final(visits_total) == messages.sent{message="visit_reply"}"#)
            .accurate(r#"final(visits_total{status="error"}) == storage.failed"#)
            .accurate(r#"final(visit_storage_operations_total{operation="get",status="ok"}) == storage.ok{operation="get"}"#)
            .accurate(r#"final(visit_storage_operations_total{operation="put",status="ok"}) == storage.ok{operation="put"}"#)
            .accurate(r#"final(visit_storage_operations_total{status="error"}) == storage.failed"#)
            .accurate("final(visit_client_calls_total) == outcomes.total")
            .accurate(r#"final(visit_client_calls_total{outcome="ok"}) == outcomes.ok"#)
            .storage_timing("visit_storage_operation_duration_seconds", "operation")
            .storage_spans("db.operation.name")
            .request_span("visit")
    }
}

struct Metrics {
    visits: IntCounterVec,
    storage: IntCounterVec,
    storage_seconds: HistogramVec,
}

impl Metrics {
    fn register(registry: &Registry) -> Metrics {
        let visits = IntCounterVec::new(
            Opts::new("visits_total", "Visits answered, by status."),
            &["status"],
        )
        .unwrap();
        let storage = IntCounterVec::new(
            Opts::new(
                "visit_storage_operations_total",
                "Storage operations, by operation and status.",
            ),
            &["operation", "status"],
        )
        .unwrap();
        let storage_seconds = HistogramVec::new(
            HistogramOpts::new(
                "visit_storage_operation_duration_seconds",
                "Time a storage operation took.",
            )
            .buckets(BUCKETS_SECONDS.to_vec()),
            &["operation"],
        )
        .unwrap();
        registry.register(Box::new(visits.clone())).unwrap();
        registry.register(Box::new(storage.clone())).unwrap();
        registry
            .register(Box::new(storage_seconds.clone()))
            .unwrap();
        Metrics {
            visits,
            storage,
            storage_seconds,
        }
    }
}

async fn serve(node: NodeContext, config: Arc<VisitsConfig>) {
    let node = Arc::new(node);
    let metrics = Arc::new(Metrics::register(&node.registry));
    // Roll back a write a crash tore, before serving.
    node.storage.recover();
    // Ends when the node goes down, and its endpoint with it.
    while let Ok((visit, from)) = node.network.recv::<Visit>(VISIT).await {
        let span = info_span!(
            "VisitService/Visit",
            otel.kind = "server",
            rpc.service = "VisitService",
            rpc.method = "Visit"
        );
        visit.headers.set_parent_of(&span);
        let (node, metrics, config) = (node.clone(), metrics.clone(), config.clone());
        madsim::task::spawn(
            async move {
                node.faults.before_handle("visit", &visit.key);
                let result = count_visit(&node, &metrics, &config, &visit.key).await;
                let status = if result.is_ok() { "ok" } else { "error" };
                if let Err(error) = &result {
                    tracing::Span::current().set_status(Status::error(error.clone()));
                }
                metrics.visits.with_label_values(&[status]).inc();
                let reply = VisitReply {
                    call: visit.call,
                    result,
                };
                let _ = node.network.send(from, REPLY, reply).await;
            }
            // A crash drops this task: the span then ends in error.
            .in_span(span),
        );
    }
}

async fn count_visit(
    node: &NodeContext,
    metrics: &Metrics,
    config: &VisitsConfig,
    key: &str,
) -> Result<u64, String> {
    let stored = storage_op(metrics, "get", node.storage.get(key), true).await?;
    let count = quickstart::next_count(stored.as_deref());
    let write = node.storage.put(key, count.to_le_bytes().to_vec());
    if config.count_before_write {
        metrics.storage.with_label_values(&["put", "ok"]).inc();
    }
    storage_op(metrics, "put", write, !config.count_before_write).await?;
    Ok(count)
}

/// One storage operation, counted, timed and traced.
async fn storage_op<T, E: std::fmt::Display>(
    metrics: &Metrics,
    operation: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
    count: bool,
) -> Result<T, String> {
    let span = info_span!("visits storage", db.operation.name = operation);
    let started = madsim::time::Instant::now();
    let result = work.in_span(span.clone()).await;
    metrics
        .storage_seconds
        .with_label_values(&[operation])
        .observe(started.elapsed().as_secs_f64());
    let status = if result.is_ok() { "ok" } else { "error" };
    if count {
        metrics
            .storage
            .with_label_values(&[operation, status])
            .inc();
    }
    result.map_err(|error| {
        span.set_status(Status::error(error.to_string()));
        error.to_string()
    })
}

async fn drive(mut client: ClientContext) {
    let calls = IntCounterVec::new(
        Opts::new("visit_client_calls_total", "Calls made, by outcome."),
        &["outcome"],
    )
    .unwrap();
    client.registry.register(Box::new(calls.clone())).unwrap();
    let workload = client.workload.clone();
    for call in 0..workload.invocations {
        let key = format!("page-{}", client.rng.random_range(0..workload.keys));
        let server = client.servers[call as usize % client.servers.len()];
        let span = info_span!("visit", otel.kind = "client");
        let outcome = visit(&client, server, call, key)
            .instrument(span.clone())
            .await;
        if outcome != "ok" {
            span.set_status(Status::error(outcome));
        }
        calls.with_label_values(&[outcome]).inc();
        client.record_outcome(outcome);
        madsim::time::sleep(workload.think_time).await;
    }
}

/// One call: `ok`, `error` or `timeout`.
async fn visit(
    client: &ClientContext,
    server: std::net::SocketAddr,
    call: u64,
    key: String,
) -> &'static str {
    let headers = TraceHeaders::of(&tracing::Span::current());
    let request = Visit { call, key, headers };
    if client.network.send(server, VISIT, request).await.is_err() {
        return "error";
    }
    let reply = async {
        loop {
            match client.network.recv::<VisitReply>(REPLY).await {
                // A late reply to an earlier call that timed out: skip it.
                Ok((reply, _)) if reply.call != call => continue,
                Ok((reply, _)) => return reply.result.is_ok(),
                Err(_) => return false,
            }
        }
    };
    match madsim::time::timeout(Duration::from_secs(1), reply).await {
        Ok(true) => "ok",
        Ok(false) => "error",
        Err(_) => "timeout",
    }
}
