//! A server node: accepts requests over obsim's request/response
//! (`Network::accept`, answered through the request's `Responder`), keeps a
//! hot tier of collections loaded from durable storage, inserts and
//! searches, and replies.

use std::collections::BTreeMap;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use obsim::deps::futures::lock::Mutex as AsyncMutex;
use obsim::deps::futures::FutureExt;
// Simulated time: durations are a function of the seed.
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::prometheus_client::registry::Registry;
use obsim::deps::tracing::{error, info, info_span, warn, Instrument, Span};
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::{HandlerFaults, NodeContext, SpanFutureExt, Storage};
use obsim::{IncomingRequest, InjectedPanic, Responder, StorageError};

use crate::metrics::Metrics;
use crate::protocol::{collection_key, Answer, Op, VectorReply, VectorRequest};
use crate::vectors::{decode, encode, nearest, Entry, Vector};
use crate::{Bug, VectorDbConfig};

/// One collection's slot. `entries` is None while the collection is cold
/// (only in storage); a request holds the slot's lock for its whole run, so
/// requests to one collection never interleave their read-modify-write.
struct Collection {
    entries: Option<Vec<Entry>>,
}

type Slot = Arc<AsyncMutex<Collection>>;

/// The node's collections. Touched only between awaits, never across one.
#[derive(Default)]
struct Tier {
    slots: BTreeMap<u64, Slot>,
    /// The hot collections, by the tick of their last use.
    hot: BTreeMap<u64, u64>,
    tick: u64,
}

struct Node {
    storage: Storage,
    network: obsim::Network,
    faults: HandlerFaults,
    metrics: Metrics,
    config: Arc<VectorDbConfig>,
    tier: Mutex<Tier>,
}

pub(crate) async fn serve(context: NodeContext, config: Arc<VectorDbConfig>) {
    // This incarnation's own registry, as a new process would build it: a
    // restart starts every metric from zero.
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry, &config);
    context.serve_metrics(obsim::adapters::prometheus_client(Arc::new(registry)));
    let recovered = recover(&context.storage, &metrics);
    info!(
        target: STARTUP_TARGET,
        node = %context.name,
        incarnation = context.incarnation,
        recovered,
        "vector database started"
    );
    // What the disk holds outlives the process: count it back in at boot,
    // once recovery has rolled back any torn write.
    if !config.has(Bug::StoredGaugeRestartsAtZero) {
        metrics.stored_collections.set(context.storage.len() as i64);
    }
    let node = Arc::new(Node {
        storage: context.storage,
        network: context.network,
        faults: context.faults,
        metrics,
        config,
        tier: Mutex::new(Tier::default()),
    });
    loop {
        match node.network.accept::<VectorRequest>().await {
            Ok(request) => {
                // The request's time starts as it is taken off the network,
                // on the poll obsim records its receipt, not when its task
                // is first polled.
                let received = Instant::now();
                // Counted in the same poll as the network counts it received.
                node.metrics
                    .requests_received
                    .get_or_create(&[("method", request.body.op.method())])
                    .inc();
                // The server span opens as the request is taken too, so that
                // it covers the whole of it, the wait for a task included.
                let span = server_span(&request.body);
                let received = Received {
                    request,
                    received,
                    span,
                };
                obsim::deps::madsim::task::spawn(handle(node.clone(), received));
            }
            // The endpoint is gone: the node is going down.
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => return,
            // A message of another type was consumed; wait for the next.
            Err(_) => continue,
        }
    }
}

/// Rolls back torn writes before serving, as a database replays its log at
/// start: a crash during a write leaves one behind.
fn recover(storage: &Storage, metrics: &Metrics) -> usize {
    let span = info_span!("storage.recover", db.system.name = "obsim_kv");
    let _entered = span.enter();
    let rolled_back = storage.recover();
    metrics.recovered.inc_by(rolled_back as u64);
    rolled_back
}

/// The `tracing` target of start-up lines: background work, declared in
/// the contract, with no request to belong to.
pub(crate) const STARTUP_TARGET: &str = "vectordb::startup";

/// A request as the accept loop took it, with its clock and span started.
struct Received {
    request: IncomingRequest<VectorRequest>,
    received: Instant,
    span: Span,
}

/// One request under its server span, which joins the client's trace. The
/// span covers the reply's send too. A crash before it ends loses it with
/// the process, as in production.
async fn handle(node: Arc<Node>, received: Received) {
    let Received {
        request,
        received,
        span,
    } = received;
    let (request, responder) = request.into_parts();
    respond(&node, request, responder, received, &span)
        .instrument(span.clone())
        .await;
}

/// Runs the request and replies, inside its server span: obsim takes the
/// span current at the reply for the request's.
async fn respond(
    node: &Node,
    request: VectorRequest,
    responder: Responder,
    received: Instant,
    span: &Span,
) {
    let method = request.op.method();
    let result = execute(node, &request).await;
    let status = if result.is_ok() { "ok" } else { "error" };
    node.metrics
        .requests
        .get_or_create(&[("method", method), ("status", status)])
        .inc();
    // Observed on the poll the reply is sent from: from accept to reply,
    // exactly the duration obsim records for the request.
    node.metrics
        .request_duration
        .get_or_create(&[("method", method)])
        .observe(received.elapsed().as_secs_f64());
    match &result {
        Ok(_) => info!(
            rpc.method = method,
            duration_ms = received.elapsed().as_millis() as u64,
            "request served"
        ),
        Err(error) => {
            warn!(rpc.method = method, error = %error, "request failed");
            span.set_status(Status::error(error.clone()));
        }
    }
    // obsim records the reply, and the network counts it sent, on this same
    // poll, before any delay: the request counter and the reply never
    // disagree across a crash.
    let _ = responder.reply(VectorReply { result }).await;
}

/// The server span of one request, continuing the caller's trace.
fn server_span(request: &VectorRequest) -> Span {
    let collection = collection_key(request.collection);
    let span = match &request.op {
        Op::Insert { .. } => info_span!(
            "VectorService/Insert",
            otel.kind = "server",
            rpc.system = "obsim",
            rpc.service = "VectorService",
            rpc.method = "Insert",
            vectordb.collection = %collection,
        ),
        Op::Search { k, .. } => info_span!(
            "VectorService/Search",
            otel.kind = "server",
            rpc.system = "obsim",
            rpc.service = "VectorService",
            rpc.method = "Search",
            vectordb.collection = %collection,
            vectordb.top_k = *k as i64,
        ),
    };
    // Before the span is first entered: OpenTelemetry fixes the parent then.
    request.headers.set_parent_of(&span);
    span
}

/// Runs the request's handler on its collection, behind `catch_unwind`: a
/// panic fails this request only, never the node.
async fn execute(node: &Node, request: &VectorRequest) -> Result<Answer, String> {
    let id = request.collection;
    let slot = node.slot(id);
    let mut collection = slot.lock().await;
    node.touch(id);
    let key = collection_key(id);
    let handler = async {
        node.faults.before_handle(request.op.method(), &key);
        run(node, id, &request.op, &mut collection).await
    };
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(isolate_panic(node, request, &mut collection, &*panic)),
    }
}

async fn run(node: &Node, id: u64, op: &Op, collection: &mut Collection) -> Result<Answer, String> {
    if collection.entries.is_none() {
        let entries = load(node, id).await?;
        node.admit(id, collection, entries);
    }
    let entries = collection
        .entries
        .as_mut()
        .ok_or_else(|| format!("{} is not loaded", collection_key(id)))?;
    match op {
        Op::Insert {
            id: vector_id,
            vector,
        } => insert(node, id, entries, *vector_id, vector).await,
        Op::Search { query, k } => Ok(Answer::Found {
            ids: nearest(entries, query, *k),
        }),
    }
}

async fn load(node: &Node, id: u64) -> Result<Vec<Entry>, String> {
    let stored = storage_read(node, id)
        .await
        .map_err(|error| format!("loading {}: {error}", collection_key(id)))?;
    decode(stored.as_deref().unwrap_or_default())
        .map_err(|error| format!("loading {}: {error}", collection_key(id)))
}

/// Writes the collection with the vector appended; memory changes only once
/// storage has it.
async fn insert(
    node: &Node,
    id: u64,
    entries: &mut Vec<Entry>,
    vector_id: u64,
    vector: &Vector,
) -> Result<Answer, String> {
    let mut next = entries.clone();
    next.push(Entry {
        id: vector_id,
        vector: *vector,
    });
    storage_write(node, id, encode(&next))
        .await
        .map_err(|error| format!("vector {vector_id} not stored: {error}"))?;
    // A stored collection holds at least one vector (every write appends
    // one), so an empty hot copy means storage had no key for it: this write
    // created it. Counted in the same poll as the commit, so no scrape sees
    // the disk and the gauge disagree.
    if entries.is_empty() {
        node.metrics.stored_collections.inc();
    }
    *entries = next;
    node.metrics.vectors.inc();
    node.metrics.vectors_indexed.inc();
    node.collection_size(id, entries.len());
    Ok(Answer::Inserted {
        vectors: entries.len(),
    })
}

/// After a handler panicked, its collection's in-memory copy cannot be
/// trusted: evict it, so the next request loads it afresh from storage.
fn isolate_panic(
    node: &Node,
    request: &VectorRequest,
    collection: &mut Collection,
    panic: &(dyn std::any::Any + Send),
) -> String {
    let message = if let Some(injected) = panic.downcast_ref::<InjectedPanic>() {
        injected.to_string()
    } else if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_string()
    };
    let method = request.op.method();
    error!(rpc.method = method, panic = %message, "handler panicked");
    node.metrics
        .panics
        .get_or_create(&[("method", method)])
        .inc();
    if let Some(entries) = collection.entries.take() {
        node.tier
            .lock()
            .expect("tier lock")
            .hot
            .remove(&request.collection);
        node.evicted(entries.len(), "panic");
    }
    format!("handler panicked: {message}")
}

impl Node {
    /// The collection's slot, made on first use.
    fn slot(&self, id: u64) -> Slot {
        let mut tier = self.tier.lock().expect("tier lock");
        tier.slots
            .entry(id)
            .or_insert_with(|| Arc::new(AsyncMutex::new(Collection { entries: None })))
            .clone()
    }

    /// Marks a hot collection as just used.
    fn touch(&self, id: u64) {
        let mut tier = self.tier.lock().expect("tier lock");
        tier.tick += 1;
        let tick = tier.tick;
        if let Some(last_used) = tier.hot.get_mut(&id) {
            *last_used = tick;
        }
    }

    /// A collection just loaded joins the hot tier, which then evicts past
    /// its capacity.
    fn admit(&self, id: u64, collection: &mut Collection, entries: Vec<Entry>) {
        let added = entries.len();
        collection.entries = Some(entries);
        self.metrics.collection_loads.inc();
        self.metrics.hot_collections.inc();
        self.metrics.vectors.inc_by(added as i64);
        self.metrics.vectors_indexed.inc_by(added as u64);
        self.collection_size(id, added);
        let mut tier = self.tier.lock().expect("tier lock");
        tier.tick += 1;
        let tick = tier.tick;
        tier.hot.insert(id, tick);
        self.make_room(&mut tier);
    }

    /// Evicts least recently used idle collections until the hot tier fits
    /// its capacity. A collection some request holds or waits for is not
    /// idle; if every one is busy, the tier stays over capacity until the
    /// next load.
    fn make_room(&self, tier: &mut Tier) {
        while tier.hot.len() > self.config.hot_tier_capacity {
            let mut by_age: Vec<(u64, u64)> = tier.hot.iter().map(|(id, t)| (*t, *id)).collect();
            by_age.sort_unstable();
            let victim = by_age.into_iter().find_map(|(_, id)| {
                let slot = tier.slots.get(&id)?;
                // Only the tier holds an idle slot.
                if Arc::strong_count(slot) != 1 {
                    return None;
                }
                let entries = slot.try_lock()?.entries.take()?;
                Some((id, entries.len()))
            });
            let Some((id, size)) = victim else { return };
            tier.hot.remove(&id);
            tier.slots.remove(&id);
            self.evicted(size, "capacity");
        }
    }

    /// The metrics of one eviction of `size` vectors.
    fn evicted(&self, size: usize, reason: &'static str) {
        let planted = reason == "panic" && self.config.has(Bug::GaugeNotDecrementedOnPanic);
        if !planted {
            self.metrics.hot_collections.dec();
        }
        self.metrics
            .collection_evictions
            .get_or_create(&[("reason", reason)])
            .inc();
        self.metrics.vectors.dec_by(size as i64);
        if self.config.has(Bug::CounterResetFromLiveState) {
            // The planted bug: the "total" is resynchronized with what is
            // live now, and falls by the vectors just evicted. A
            // prometheus-client `Counter` has no `reset` or `set`, so the
            // resync goes through the escape hatch whose docs say the caller
            // must keep the value monotonic: its inner atomic.
            let live = self.metrics.vectors.get().max(0) as u64;
            self.metrics
                .vectors_indexed
                .inner()
                .store(live, Ordering::Relaxed);
        }
    }

    /// Only with [`Bug::CollectionIdLabel`]: the collection's size, in a
    /// series of its own that stays after the collection leaves the hot tier.
    fn collection_size(&self, id: u64, size: usize) {
        if let Some(gauge) = &self.metrics.vectors_by_collection {
            gauge
                .get_or_create(&[("collection", collection_key(id))])
                .set(size as i64);
        }
    }
}

async fn storage_read(node: &Node, id: u64) -> Result<Option<Vec<u8>>, StorageError> {
    let span = storage_span("read", id);
    let started = Instant::now();
    let result = node
        .storage
        .get(&collection_key(id))
        .in_span(span.clone())
        .await;
    record_storage(node, "read", &span, started, result.as_ref().err());
    result
}

async fn storage_write(node: &Node, id: u64, value: Vec<u8>) -> Result<(), StorageError> {
    let span = storage_span("write", id);
    let counted_early = node.config.has(Bug::CounterBeforeWrite);
    if counted_early {
        // The planted bug: counted as a success before the write is tried.
        node.metrics
            .storage_operations
            .get_or_create(&[("operation", "write"), ("status", "ok")])
            .inc();
    }
    let started = Instant::now();
    let result = node
        .storage
        .put(&collection_key(id), value)
        .in_span(span.clone())
        .await;
    if counted_early {
        record_storage_time(node, "write", &span, started, result.as_ref().err());
    } else {
        record_storage(node, "write", &span, started, result.as_ref().err());
    }
    result
}

/// Storage spans follow OpenTelemetry's database conventions: the name is
/// `{db.operation.name} {db.collection.name}`, the operation in the
/// database's own words.
fn storage_span(operation: &'static str, id: u64) -> Span {
    let name = if operation == "read" {
        "read collections"
    } else {
        "write collections"
    };
    info_span!(
        "storage",
        otel.name = name,
        otel.kind = "client",
        db.system.name = "obsim_kv",
        db.operation.name = operation,
        db.collection.name = "collections",
        vectordb.collection = %collection_key(id),
    )
}

fn record_storage(
    node: &Node,
    operation: &'static str,
    span: &Span,
    started: Instant,
    error: Option<&StorageError>,
) {
    let status = if error.is_some() { "error" } else { "ok" };
    node.metrics
        .storage_operations
        .get_or_create(&[("operation", operation), ("status", status)])
        .inc();
    record_storage_time(node, operation, span, started, error);
}

/// The duration and the span status of one storage operation.
fn record_storage_time(
    node: &Node,
    operation: &'static str,
    span: &Span,
    started: Instant,
    error: Option<&StorageError>,
) {
    let elapsed = started.elapsed();
    let observed = if node.config.has(Bug::MillisecondsAsSeconds) {
        // The planted bug: milliseconds into a `_seconds` histogram.
        elapsed.as_millis() as f64
    } else {
        elapsed.as_secs_f64()
    };
    node.metrics
        .storage_duration
        .get_or_create(&[("operation", operation)])
        .observe(observed);
    let Some(error) = error else { return };
    if node.config.has(Bug::SpanLeftOkOnFailure) {
        // The planted bug: the error is kept as an event, the status says OK.
        let message = KeyValue::new("error.message", error.to_string());
        span.add_event("storage error", vec![message]);
        span.set_status(Status::Ok);
    } else {
        span.set_status(Status::error(error.to_string()));
    }
}
