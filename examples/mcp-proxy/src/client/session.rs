//! The client's side of one session: connect, `initialize`, the
//! heartbeat, the planned calls, then a close or an abandonment.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use obsim::deps::futures::channel::oneshot;
use obsim::deps::futures::future::{select, Either};
use obsim::deps::madsim;
use obsim::deps::madsim::net::TcpStream;
use obsim::deps::opentelemetry::KeyValue;
use serde_json::{json, Value};

use super::plan::SessionPlan;
use super::request::request;
use super::Driver;
use crate::jsonrpc::{code, Method, Response, PROTOCOL_VERSION, SESSION_META_KEY};
use crate::metrics::ledger;
use crate::rpc::{CloseReason, Hooks, RpcConnection, Timing};

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

/// The client's side of one session.
pub(super) struct ClientSession {
    /// The session id, once the proxy handed it over (in time or late).
    id: Mutex<Option<String>>,
}

impl ClientSession {
    pub(super) fn id(&self) -> Option<String> {
        self.id.lock().expect("session id lock").clone()
    }
}

pub(super) async fn run_session(driver: &Arc<Driver>, plan: SessionPlan) {
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
