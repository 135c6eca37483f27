//! The client: issues the workload's requests with bounded concurrency, each
//! under its own trace, as one call over obsim's request/response
//! (`Network::call`, `Call::attempt` with a timeout, `Call::finish`); counts
//! them in its own prometheus-client registry, served as the client's
//! `/metrics`, and records every outcome as obsim's ground truth.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use obsim::deps::madsim;
// Simulated time: request durations are a function of the seed.
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::prometheus_client::registry::Registry;
use obsim::deps::rand::Rng;
use obsim::deps::tracing::{info_span, warn, Instrument, Span};
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::Call as CallRecord;
use obsim::{ClientContext, TraceHeaders};

use crate::metrics::ClientMetrics;
use crate::protocol::{collection_key, Answer, Op, VectorReply, VectorRequest};
use crate::vectors::{Vector, DIMENSION};
use crate::{Bug, VectorDbConfig};

/// One planned request. The vector is the one inserted, or the query.
struct Call {
    number: u64,
    collection: u64,
    operation: String,
    vector: Vector,
}

pub(crate) async fn drive(mut client: ClientContext, config: Arc<VectorDbConfig>) {
    // The whole plan is drawn up front from the workload's stream, so how the
    // requests interleave can never change which requests are made.
    let workload = client.workload.clone();
    let calls: VecDeque<Call> = (0..workload.invocations)
        .map(|number| Call {
            number,
            collection: client.rng.random_range(0..workload.keys),
            operation: workload.choose_operation(&mut client.rng).to_string(),
            vector: std::array::from_fn::<f32, DIMENSION, _>(|_| {
                client.rng.random_range(-1.0..1.0)
            }),
        })
        .collect();
    let queue = Arc::new(Mutex::new(calls));
    let mut registry = Registry::default();
    let metrics = ClientMetrics::register(&mut registry);
    client.serve_metrics(obsim::adapters::prometheus_client(Arc::new(registry)));
    let (client, metrics) = (Arc::new(client), Arc::new(metrics));
    let workers: Vec<_> = (0..workload.concurrency)
        .map(|_| {
            madsim::task::spawn(work(
                client.clone(),
                config.clone(),
                metrics.clone(),
                queue.clone(),
            ))
        })
        .collect();
    obsim::deps::futures::future::join_all(workers).await;
}

async fn work(
    client: Arc<ClientContext>,
    config: Arc<VectorDbConfig>,
    metrics: Arc<ClientMetrics>,
    queue: Arc<Mutex<VecDeque<Call>>>,
) {
    loop {
        let Some(call) = queue.lock().expect("call queue lock").pop_front() else {
            return;
        };
        let started = Instant::now();
        // obsim's record of the call starts on the same poll as its clock,
        // and ends on the same poll as the duration is observed: the
        // histogram must hold exactly the durations obsim timed.
        let mut record = client.network.call(&call.operation);
        let outcome = request(&client, &config, &call, &mut record).await;
        let method = ("method", call.operation.clone());
        metrics
            .requests
            .get_or_create(&[method.clone(), ("outcome", outcome.to_string())])
            .inc();
        metrics
            .request_duration
            .get_or_create(&[method])
            .observe(started.elapsed().as_secs_f64());
        record.finish(outcome);
        client.record_outcome(outcome);
        madsim::time::sleep(client.workload.think_time).await;
    }
}

/// How one request ended, as the client saw it.
enum Outcome {
    Ok,
    /// The server answered with an error.
    Error(String),
    /// No answer in time: the request or the reply was lost, late or cut off.
    Timeout(String),
}

/// One request: a `vectordb.request` span that roots its trace, around the
/// RPC's client span whose context travels in the message.
async fn request(
    client: &ClientContext,
    config: &VectorDbConfig,
    call: &Call,
    record: &mut CallRecord,
) -> &'static str {
    let root = info_span!(
        "vectordb.request",
        vectordb.operation = %call.operation,
        vectordb.collection = %collection_key(call.collection),
    );
    let outcome = exchange(client, config, call, record)
        .instrument(root.clone())
        .await;
    let (name, error) = match outcome {
        Outcome::Ok => ("ok", None),
        Outcome::Error(error) => ("error", Some(error)),
        Outcome::Timeout(error) => ("timeout", Some(error)),
    };
    if let Some(description) = error {
        root.in_scope(|| warn!(outcome = name, error = %description, "request failed"));
        root.set_status(Status::error(description));
    }
    name
}

/// The request's one attempt, under the RPC's client span: the attempt is
/// made inside it, and its trace context travels in the request.
async fn exchange(
    client: &ClientContext,
    config: &VectorDbConfig,
    call: &Call,
    record: &mut CallRecord,
) -> Outcome {
    let op = match call.operation.as_str() {
        "insert" => Op::Insert {
            id: call.number,
            vector: call.vector,
        },
        "search" => Op::Search {
            query: call.vector,
            k: config.top_k,
        },
        other => {
            return Outcome::Error(format!(
                "unknown operation {other:?}: the vector database serves insert and search"
            ))
        }
    };
    let server = client.servers[(call.collection % client.servers.len() as u64) as usize];
    let span = client_span(&op, server, call.collection);
    let method = op.rpc_method();
    let headers = if config.has(Bug::TraceContextDroppedOnSearch) && op.method() == "search" {
        // The planted bug: the fast path for reads forgets the context.
        TraceHeaders::default()
    } else {
        // The attempt's own span, whose child the server span becomes.
        TraceHeaders::of(&span)
    };
    let message = VectorRequest {
        collection: call.collection,
        op,
        headers,
    };
    let reply = record
        .attempt::<VectorRequest, VectorReply>(server, method, message, config.request_timeout)
        .instrument(span.clone())
        .await;
    let outcome = match reply {
        Ok(VectorReply { result: Ok(answer) }) => match answer {
            Answer::Inserted { .. } | Answer::Found { .. } => Outcome::Ok,
        },
        Ok(VectorReply { result: Err(error) }) => Outcome::Error(error),
        // No reply within the timeout, or the network refused the send:
        // `no reply within 1s`, `network: ...`.
        Err(error) => Outcome::Timeout(error.to_string()),
    };
    match &outcome {
        Outcome::Ok => {}
        Outcome::Error(error) | Outcome::Timeout(error) => {
            span.set_status(Status::error(error.clone()))
        }
    }
    outcome
}

/// The RPC's client span, named as OpenTelemetry's RPC conventions say:
/// `{rpc.service}/{rpc.method}`.
fn client_span(op: &Op, server: SocketAddr, collection: u64) -> Span {
    let collection = collection_key(collection);
    match op {
        Op::Insert { .. } => info_span!(
            "VectorService/Insert",
            otel.kind = "client",
            rpc.system = "obsim",
            rpc.service = "VectorService",
            rpc.method = "Insert",
            server.address = %server.ip(),
            server.port = server.port() as i64,
            vectordb.collection = %collection,
        ),
        Op::Search { k, .. } => info_span!(
            "VectorService/Search",
            otel.kind = "client",
            rpc.system = "obsim",
            rpc.service = "VectorService",
            rpc.method = "Search",
            server.address = %server.ip(),
            server.port = server.port() as i64,
            vectordb.collection = %collection,
            vectordb.top_k = *k as i64,
        ),
    }
}
