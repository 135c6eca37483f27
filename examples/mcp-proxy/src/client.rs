//! The client: MCP sessions through the proxy, `concurrency` at a time.
//! Each session connects, sends `initialize`, keeps a `ping` heartbeat
//! going, makes its `tools/call` requests (the workload's operations are
//! tool names) and closes, or, if the plan says so, stops halfway without
//! closing, for the proxy to evict. Every request is its own trace, rooted
//! at an `mcp.request` span. The client counts what it does in its own
//! metrics and records it in obsim's ground-truth ledger (see
//! [`crate::metrics::ledger`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use obsim::adapters::OpenTelemetryMetrics;
use obsim::deps::futures::channel::oneshot;
use obsim::deps::futures::future::{join_all, select, Either};
use obsim::deps::madsim;
use obsim::deps::madsim::net::TcpStream;
use obsim::deps::madsim::task::JoinHandle;
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::rand::Rng;
use obsim::deps::tracing::{info_span, Instrument};
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::{ClientContext, TraceHeaders, Workload};
use serde_json::{json, Map, Value};

use crate::jsonrpc::{code, set_meta, Method, Response, PROTOCOL_VERSION, SESSION_META_KEY};
use crate::metrics::{ledger, ClientMetrics};
use crate::rpc::{CallResult, CloseReason, Hooks, RpcConnection, Timing};
use crate::spans::{client_span, fail, record_session};
use crate::system::{check_topology, ARGUMENT_BYTES_MIN, OVERSIZE_BYTES_MAX, PROXY_INDEX};
use crate::upstream::TOOLS;
use crate::McpProxyConfig;

/// Connects per session, and the pause before the second (doubling): the
/// first sessions may start before the proxy has bound its listener.
const CONNECT_ATTEMPTS_MAX: u32 = 5;
const CONNECT_BACKOFF_MS: u64 = 10;
/// Pings one session may send: far more than any session here lives for,
/// a bound on the heartbeat loop all the same.
const PINGS_PER_SESSION_MAX: usize = 10_000;
/// Tries at `initialize` while the proxy is full, and the pause before the
/// second (doubling).
const INITIALIZE_ATTEMPTS_MAX: u32 = 5;
const INITIALIZE_BACKOFF_MS: u64 = 50;
/// The text tool arguments are cut from.
const ARGUMENT_TEXT: &str = "the quick brown fox jumps over the lazy dog ";

/// One planned `tools/call`.
struct CallPlan {
    tool: String,
    argument_bytes: usize,
}

/// One planned session.
struct SessionPlan {
    calls: Vec<CallPlan>,
    /// Stop (without closing) after this many calls.
    abandon_after: Option<usize>,
}

/// The whole plan, drawn up front from the workload's seeded stream, so how
/// sessions interleave can never change what they do.
fn plan(client: &mut ClientContext, config: &McpProxyConfig) -> VecDeque<SessionPlan> {
    let workload = client.workload.clone();
    let rng = &mut client.rng;
    let mut sessions = VecDeque::new();
    let mut remaining = workload.invocations;
    // Each pass plans at least one call.
    while remaining > 0 {
        let count = remaining.min(config.session_calls as u64);
        remaining -= count;
        let calls: Vec<CallPlan> = (0..count)
            .map(|_| {
                let tool = workload.choose_operation(rng).to_string();
                let argument_bytes = if rng.random_bool(config.request_oversized_ratio) {
                    config.request_bytes_max + rng.random_range(1..=OVERSIZE_BYTES_MAX)
                } else {
                    rng.random_range(ARGUMENT_BYTES_MIN..=config.argument_bytes_max)
                };
                CallPlan {
                    tool,
                    argument_bytes,
                }
            })
            .collect();
        let abandon_after = rng
            .random_bool(config.session_abandon_ratio)
            .then(|| calls.len().div_ceil(2));
        sessions.push_back(SessionPlan {
            calls,
            abandon_after,
        });
    }
    sessions
}

/// Panics, failing the run with its seed, if an operation names no tool.
fn check_operations(workload: &Workload) {
    for (operation, weight) in &workload.operations {
        assert!(
            *weight == 0 || TOOLS.contains(&operation.as_str()),
            "obsim-example-mcp-proxy: workload operation {operation:?} is not a tool of the \
             upstream: the operations are tool names, one of {}",
            TOOLS.join(", ")
        );
    }
}

struct Driver {
    client: ClientContext,
    config: Arc<McpProxyConfig>,
    metrics: ClientMetrics,
    proxy: SocketAddr,
    plans: Mutex<VecDeque<SessionPlan>>,
    /// The abandoned sessions, each waiting for its eviction.
    abandoned: Mutex<Vec<JoinHandle<()>>>,
}

impl Driver {
    /// Adds to one of the ledger's running totals (not a call's outcome).
    fn record(&self, entry: &str, amount: u64) {
        self.client.record_amount(entry, amount);
    }
}

pub(crate) async fn drive(mut client: ClientContext, config: Arc<McpProxyConfig>) {
    check_topology(client.servers.len());
    check_operations(&client.workload);
    for amount in ledger::AMOUNTS {
        client.record_amount(amount, 0);
    }
    let plans = plan(&mut client, &config);
    let telemetry = OpenTelemetryMetrics::new("mcp-client");
    client.serve_metrics(telemetry.clone());
    let metrics = ClientMetrics::new(&telemetry.meter("mcp-client"));
    let concurrency = client.workload.concurrency;
    let proxy = client.servers[PROXY_INDEX];
    let driver = Arc::new(Driver {
        client,
        config,
        metrics,
        proxy,
        plans: Mutex::new(plans),
        abandoned: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> = (0..concurrency)
        .map(|_| madsim::task::spawn(worker(driver.clone())))
        .collect();
    join_all(workers).await;
    let abandoned = std::mem::take(&mut *driver.abandoned.lock().expect("abandoned lock"));
    join_all(abandoned).await;
}

async fn worker(driver: Arc<Driver>) {
    loop {
        let next = driver.plans.lock().expect("plans lock").pop_front();
        let Some(plan) = next else { return };
        run_session(&driver, plan).await;
    }
}

/// The client's side of one session.
struct ClientSession {
    /// The session id, once the proxy handed it over (in time or late).
    id: Mutex<Option<String>>,
}

impl ClientSession {
    fn id(&self) -> Option<String> {
        self.id.lock().expect("session id lock").clone()
    }
}

async fn run_session(driver: &Arc<Driver>, plan: SessionPlan) {
    let Some(stream) = connect(driver.proxy).await else {
        driver.record(ledger::CONNECTIONS_REFUSED, 1);
        return;
    };
    driver.record(ledger::CONNECTIONS_OPENED, 1);
    let session = Arc::new(ClientSession {
        id: Mutex::new(None),
    });
    let hooks = session_hooks(driver, &session);
    let conn = Arc::new(RpcConnection::open(stream, driver.proxy, hooks));
    let params = json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "obsim-client", "version": "0.1.0"},
    });
    // A proxy at its session bound refuses `initialize`: try again later,
    // on the same connection (it has no session yet), a bounded number of
    // times.
    let mut attempt = 0;
    let initialized = loop {
        let outcome = request(
            driver,
            &conn,
            &session,
            Method::Initialize,
            None,
            params.clone(),
        )
        .await;
        let full = outcome.code == Some(code::TOO_MANY_SESSIONS);
        attempt += 1;
        if !full || attempt == INITIALIZE_ATTEMPTS_MAX {
            break outcome.entry;
        }
        let backoff = INITIALIZE_BACKOFF_MS << (attempt - 1);
        madsim::time::sleep(Duration::from_millis(backoff)).await;
    };
    if initialized != ledger::OK {
        close(driver, &conn, &session).await;
        return;
    }
    let (stop, stopped) = oneshot::channel();
    let heartbeat = madsim::task::spawn(heartbeat(
        driver.clone(),
        conn.clone(),
        session.clone(),
        stopped,
    ));
    let mut failed_last = false;
    let mut abandoned = false;
    for (index, call) in plan.calls.iter().enumerate() {
        madsim::time::sleep(driver.client.workload.think_time).await;
        let text: String = ARGUMENT_TEXT
            .chars()
            .cycle()
            .take(call.argument_bytes)
            .collect();
        let params = json!({"name": call.tool, "arguments": {"text": text}});
        let outcome = request(
            driver,
            &conn,
            &session,
            Method::ToolsCall,
            Some(&call.tool),
            params,
        )
        .await
        .entry;
        if outcome == ledger::OK && failed_last {
            driver.record(ledger::RECOVERIES, 1);
        }
        failed_last = outcome != ledger::OK;
        if plan.abandon_after == Some(index + 1) {
            abandoned = true;
            break;
        }
    }
    let _ = stop.send(());
    let _ = heartbeat.await;
    if !abandoned {
        close(driver, &conn, &session).await;
        return;
    }
    // Abandoned: no more requests, no heartbeat, the connection left open.
    // The proxy must evict it; the client waits (bounded) to see it go.
    driver.record(ledger::SESSIONS_ABANDONED, 1);
    let bound = driver.config.eviction_bound();
    let waiting = madsim::task::spawn(async move {
        conn.wait_closed(bound).await;
        // If the proxy never evicted it, closing now makes the proxy count
        // a client close instead: the ledger then disagrees, as it should.
        conn.close(CloseReason::Done);
    });
    driver
        .abandoned
        .lock()
        .expect("abandoned lock")
        .push(waiting);
}

/// Closes a session: first every late answer is read (bounded by the
/// longest the proxy can take), so that each answer the proxy gave is
/// counted on both sides.
async fn close(driver: &Driver, conn: &RpcConnection, session: &ClientSession) {
    conn.settle(driver.config.proxy_answer_bound()).await;
    if session.id().is_some() {
        driver.record(ledger::SESSIONS_CLOSED, 1);
    }
    conn.close(CloseReason::Done);
}

async fn connect(addr: SocketAddr) -> Option<TcpStream> {
    for attempt in 0..CONNECT_ATTEMPTS_MAX {
        if attempt > 0 {
            let backoff = CONNECT_BACKOFF_MS << (attempt - 1);
            madsim::time::sleep(Duration::from_millis(backoff)).await;
        }
        if let Ok(stream) = TcpStream::connect(addr).await {
            return Some(stream);
        }
    }
    None
}

/// The ledger of every answer read: its bytes, the session id an
/// `initialize` result carries, and late answers.
fn session_hooks(driver: &Arc<Driver>, session: &Arc<ClientSession>) -> Hooks {
    let (driver, session) = (driver.clone(), session.clone());
    Hooks {
        on_response: Box::new(move |response: &Response, method, timing, bytes| {
            driver.record(ledger::RESPONSE_BYTES, bytes as u64);
            let session_id = match (&response.outcome, method) {
                (Ok(result), Method::Initialize) => result
                    .get("_meta")
                    .and_then(|meta| meta.get(SESSION_META_KEY))
                    .and_then(Value::as_str),
                _ => None,
            };
            if let Some(id) = session_id {
                *session.id.lock().expect("session id lock") = Some(id.to_string());
                driver.record(ledger::SESSIONS_INITIALIZED, 1);
            }
            if timing == Timing::Late {
                let (entry, status) = match response.outcome {
                    Ok(_) => (ledger::LATE_OK, "ok"),
                    Err(_) => (ledger::LATE_ERROR, "error"),
                };
                driver.record(entry, 1);
                let labels = [
                    KeyValue::new("method", method.as_str()),
                    KeyValue::new("status", status),
                ];
                driver.metrics.late_responses.add(1, &labels);
            }
        }),
        on_close: Box::new(|_| {}),
    }
}

/// The heartbeat: a `ping` every interval until the session stops it. A
/// stop waits for the ping in flight.
async fn heartbeat(
    driver: Arc<Driver>,
    conn: Arc<RpcConnection>,
    session: Arc<ClientSession>,
    mut stopped: oneshot::Receiver<()>,
) {
    for _ in 0..PINGS_PER_SESSION_MAX {
        let tick = Box::pin(madsim::time::sleep(driver.config.heartbeat_interval()));
        if let Either::Right(_) = select(tick, &mut stopped).await {
            return;
        }
        request(&driver, &conn, &session, Method::Ping, None, json!({})).await;
    }
}

/// How one request ended for the client.
struct Outcome {
    /// Its ledger entry: `ok`, `error` or `timeout`.
    entry: &'static str,
    /// The JSON-RPC error code, if the answer was an error.
    code: Option<i64>,
    /// What went wrong, for the spans.
    description: Option<String>,
}

impl Outcome {
    fn ok() -> Outcome {
        Outcome {
            entry: ledger::OK,
            code: None,
            description: None,
        }
    }

    fn failed(entry: &'static str, code: Option<i64>, description: String) -> Outcome {
        Outcome {
            entry,
            code,
            description: Some(description),
        }
    }
}

/// One request in a trace of its own: an `mcp.request` span roots it, the
/// MCP client span under it carries its context in `params._meta`.
async fn request(
    driver: &Driver,
    conn: &RpcConnection,
    session: &ClientSession,
    method: Method,
    tool: Option<&str>,
    params: Value,
) -> Outcome {
    let root = info_span!("mcp.request", mcp.method.name = method.as_str());
    let started = Instant::now();
    let outcome = exchange(driver, conn, session, method, tool, params)
        .instrument(root.clone())
        .await;
    if let Some(description) = &outcome.description {
        root.set_status(Status::error(description.clone()));
    }
    driver.client.record_outcome(outcome.entry);
    let method_label = KeyValue::new("method", method.as_str());
    driver.metrics.requests.add(
        1,
        &[
            method_label.clone(),
            KeyValue::new("outcome", outcome.entry),
        ],
    );
    driver
        .metrics
        .request_duration
        .record(started.elapsed().as_secs_f64(), &[method_label]);
    outcome
}

async fn exchange(
    driver: &Driver,
    conn: &RpcConnection,
    session: &ClientSession,
    method: Method,
    tool: Option<&str>,
    params: Value,
) -> Outcome {
    let id = conn.next_id();
    let span = client_span(method, tool, &id.to_string(), conn.peer());
    let session_id = session.id();
    if let Some(session_id) = &session_id {
        record_session(&span, session_id);
    }
    let mut params: Map<String, Value> = match params {
        Value::Object(params) => params,
        _ => Map::new(),
    };
    set_meta(&mut params, &TraceHeaders::of(&span), session_id.as_deref());
    let timeout = driver.config.request_timeout();
    let exchange = conn
        .call(id, method, params, timeout)
        .instrument(span.clone())
        .await;
    if let Some(bytes) = exchange.sent_bytes {
        driver.record(ledger::REQUEST_BYTES, bytes as u64);
        if method == Method::ToolsCall && bytes > driver.config.request_bytes_max {
            driver.record(ledger::REQUESTS_OVERSIZED, 1);
        }
    }
    match exchange.result {
        CallResult::Answered(Ok(_)) => {
            if let (Method::Initialize, Some(id)) = (method, session.id()) {
                record_session(&span, &id);
            }
            Outcome::ok()
        }
        CallResult::Answered(Err(error)) => {
            fail(&span, "", Some(&error), "");
            Outcome::failed(ledger::ERROR, Some(error.code), error.message)
        }
        CallResult::TimedOut => {
            let description = format!("no answer within {timeout:?}");
            fail(&span, "timeout", None, &description);
            Outcome::failed(ledger::TIMEOUT, None, description)
        }
        CallResult::Lost(why) => {
            fail(&span, "connection_lost", None, &why);
            Outcome::failed(ledger::ERROR, None, why)
        }
    }
}
