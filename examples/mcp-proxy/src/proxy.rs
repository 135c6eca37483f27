//! server-0: the MCP proxy. It accepts client connections, runs each
//! request through its interceptor chain, creates a session on
//! `initialize` (with an upstream session of its own behind it), answers
//! `ping` itself (the session's heartbeat), forwards `tools/call` upstream,
//! and evicts sessions whose heartbeats stopped.
//!
//! **One upstream connection per session**, not a pool: an MCP server is
//! stateful per connection (its own `initialize`, its own session), so each
//! client session gets its own upstream session, as Shadowcat's forward
//! proxy does. A shared pool would mix sessions' state upstream. The price
//! is one upstream connection per live session, bounded by `sessions_max`.
//!
//! An upstream connection that misses a deadline is presumed dead and
//! closed; the next request of its session reconnects (a bounded number of
//! tries) and replays the client's `initialize` upstream first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use obsim::adapters::OpenTelemetryMetrics;
use obsim::deps::futures::channel::{mpsc, oneshot};
use obsim::deps::futures::future::{select, Either};
use obsim::deps::futures::lock::Mutex as AsyncMutex;
use obsim::deps::futures::StreamExt;
use obsim::deps::madsim;
use obsim::deps::madsim::net::{TcpListener, TcpStream};
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::tracing::Span;
use obsim::{NodeContext, SpanFutureExt, TraceHeaders};
use serde_json::{json, Map, Value};

use crate::jsonrpc::{
    code, parse_request, response_line, set_meta, split, strip_meta, LineWriter, Method, Request,
    RpcError, SESSION_META_KEY,
};
use crate::metrics::{ProxyMetrics, SIDE_CLIENT, SIDE_UPSTREAM};
use crate::rpc::{CallResult, CloseReason, Hooks, RpcConnection};
use crate::spans::{client_span, fail, record_session, server_span};
use crate::system::{UPSTREAM_CONNECT_ATTEMPTS_MAX, UPSTREAM_CONNECT_BACKOFF_MS, UPSTREAM_INDEX};
use crate::{Bug, McpProxyConfig};

/// Requests of one client connection in flight at once. Past it the proxy
/// stops reading that connection until one finishes: backpressure, not an
/// unbounded pile of tasks.
const REQUESTS_IN_FLIGHT_MAX: usize = 16;
/// Client connections open at once. Past it a new connection is closed as
/// it is accepted.
const CLIENT_CONNECTIONS_MAX: usize = 4_096;

pub(crate) async fn serve(node: NodeContext, config: Arc<McpProxyConfig>) {
    // This incarnation's own meter provider, as a new process would build
    // it: a restart starts every metric from zero.
    let telemetry = OpenTelemetryMetrics::new("mcp-proxy");
    node.serve_metrics(telemetry.clone());
    let metrics = ProxyMetrics::new(&telemetry.meter("mcp-proxy"));
    // madsim keys sockets by address and protocol: obsim's typed endpoint
    // on this address is UDP-like, so TCP can listen on the same one.
    let listener = TcpListener::bind(node.addr)
        .await
        .unwrap_or_else(|error| panic!("the proxy cannot listen on {}: {error}", node.addr));
    let proxy = Arc::new(Proxy {
        config,
        metrics,
        upstream: node.servers[UPSTREAM_INDEX],
        incarnation: node.incarnation,
        table: Mutex::new(SessionTable::default()),
        client_connections: AtomicUsize::new(0),
    });
    madsim::task::spawn(sweep(proxy.clone()));
    // Runs for the life of this incarnation: a crash drops it.
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            return;
        };
        madsim::task::spawn(client_connection(proxy.clone(), stream, peer));
    }
}

struct Proxy {
    config: Arc<McpProxyConfig>,
    metrics: ProxyMetrics,
    upstream: SocketAddr,
    incarnation: u32,
    table: Mutex<SessionTable>,
    client_connections: AtomicUsize,
}

/// The live sessions, by creation order. Touched only between awaits.
#[derive(Default)]
struct SessionTable {
    sessions: BTreeMap<u64, Arc<Session>>,
    /// Slots taken by `initialize` requests still setting their session up.
    reserved: usize,
    next_seq: u64,
}

/// A slot in the session table, taken as `initialize` passes the session
/// interceptor.
struct Reservation {
    seq: u64,
}

struct Session {
    seq: u64,
    id: String,
    /// The client's `initialize` params, replayed upstream on a reconnect.
    init_params: Map<String, Value>,
    conn: Weak<ClientConn>,
    /// The session's current upstream connection, if any.
    upstream: Mutex<Option<Arc<RpcConnection>>>,
    /// One reconnect at a time.
    connecting: AsyncMutex<()>,
}

/// One client connection, shared by its reading loop and its requests.
struct ClientConn {
    peer: SocketAddr,
    writer: Arc<LineWriter>,
    session: Mutex<Option<Arc<Session>>>,
    activity: Mutex<Activity>,
    /// Tells the reading loop to close: the session was evicted.
    evict: Mutex<Option<oneshot::Sender<()>>>,
}

struct Activity {
    in_flight: usize,
    /// The last message read from the client or answer written to it.
    last_seen: Instant,
    closed: bool,
}

impl ClientConn {
    fn activity(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.activity.lock().expect("activity lock")
    }

    fn begin_request(&self) {
        let mut activity = self.activity();
        activity.in_flight += 1;
        activity.last_seen = Instant::now();
    }

    fn end_request(&self) {
        let mut activity = self.activity();
        activity.in_flight -= 1;
        activity.last_seen = Instant::now();
    }

    fn session(&self) -> Option<Arc<Session>> {
        self.session.lock().expect("session lock").clone()
    }
}

/// How a session ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SessionEnd {
    /// Its client closed the connection.
    Client,
    /// It missed its heartbeats.
    Evicted,
}

impl Proxy {
    fn lock_table(&self) -> std::sync::MutexGuard<'_, SessionTable> {
        self.table.lock().expect("session table lock")
    }

    /// A session id: 32 hex digits, unique within this incarnation, and a
    /// pure function of the incarnation and the creation order (never of a
    /// clock or a global), so a seed replays it.
    fn session_id(&self, seq: u64) -> String {
        let first = splitmix64(seq ^ (u64::from(self.incarnation) << 48));
        format!("{first:016x}{:016x}", splitmix64(first))
    }

    /// Removes `session` from the table, once, with all its accounting in
    /// this one poll (so a scrape never sees the gauge apart from the
    /// counters), and closes its upstream connection.
    fn end_session(&self, session: &Arc<Session>, end: SessionEnd) {
        if self.lock_table().sessions.remove(&session.seq).is_none() {
            return;
        }
        let reason = match end {
            SessionEnd::Client => "client",
            SessionEnd::Evicted => "evicted",
        };
        self.metrics
            .sessions_closed
            .add(1, &[KeyValue::new("reason", reason)]);
        self.metrics.sessions_active.add(-1, &[]);
        if end == SessionEnd::Evicted {
            self.metrics.sessions_evicted.add(1, &[]);
        }
        let upstream = session.upstream.lock().expect("upstream lock").take();
        if let Some(upstream) = upstream {
            upstream.close(CloseReason::SessionEnded);
        }
        if end == SessionEnd::Evicted {
            let conn = session.conn.upgrade();
            let evict = conn.and_then(|conn| conn.evict.lock().expect("evict lock").take());
            if let Some(evict) = evict {
                let _ = evict.send(());
            }
        }
    }

    /// The labels of `mcp_proxy_requests_total`: bounded, unless the
    /// session-id bug is planted.
    fn request_labels(
        &self,
        method: Method,
        status: &'static str,
        session: Option<&str>,
    ) -> Vec<KeyValue> {
        let mut labels = vec![
            KeyValue::new("method", method.as_str()),
            KeyValue::new("status", status),
        ];
        if let (true, Some(session)) = (self.config.has(Bug::SessionIdLabel), session) {
            // The planted bug: one series per session, without bound.
            labels.push(KeyValue::new("mcp.session.id", session.to_string()));
        }
        labels
    }
}

/// A bijective mix of 64 bits (SplitMix64's finalizer).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Evicts sessions idle past the timeout: nothing in flight, and no
/// message from their client (their heartbeat) for that long. Runs for the
/// life of the incarnation, once per sweep interval.
async fn sweep(proxy: Arc<Proxy>) {
    let timeout = proxy.config.session_idle_timeout();
    loop {
        madsim::time::sleep(proxy.config.eviction_sweep_interval()).await;
        let now = Instant::now();
        let idle: Vec<Arc<Session>> = proxy
            .lock_table()
            .sessions
            .values()
            .filter(|session| is_idle(session, now, timeout))
            .cloned()
            .collect();
        for session in idle {
            proxy.end_session(&session, SessionEnd::Evicted);
        }
    }
}

fn is_idle(session: &Session, now: Instant, timeout: Duration) -> bool {
    // A session whose connection is gone is ended by that connection.
    let Some(conn) = session.conn.upgrade() else {
        return false;
    };
    let activity = conn.activity();
    activity.in_flight == 0 && now.duration_since(activity.last_seen) >= timeout
}

/// Why a client connection closed, as its metric label says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientClose {
    Closed,
    Evicted,
    ProtocolError,
    OverCapacity,
}

impl ClientClose {
    fn as_str(self) -> &'static str {
        match self {
            ClientClose::Closed => "client_closed",
            ClientClose::Evicted => "evicted",
            ClientClose::ProtocolError => "protocol_error",
            ClientClose::OverCapacity => "over_capacity",
        }
    }
}

/// Reads one client connection's requests until it closes or its session
/// is evicted; each request runs as a task of its own.
async fn client_connection(proxy: Arc<Proxy>, stream: TcpStream, peer: SocketAddr) {
    let side = [KeyValue::new("side", SIDE_CLIENT)];
    proxy.metrics.connections.add(1, &side);
    proxy.metrics.connections_active.add(1, &side);
    let (mut lines, writer) = split(stream);
    let (evict, mut evicted) = oneshot::channel();
    let conn = Arc::new(ClientConn {
        peer,
        writer: Arc::new(writer),
        session: Mutex::new(None),
        activity: Mutex::new(Activity {
            in_flight: 0,
            last_seen: Instant::now(),
            closed: false,
        }),
        evict: Mutex::new(Some(evict)),
    });
    let (done, mut finished) = mpsc::unbounded::<()>();
    let open = proxy.client_connections.fetch_add(1, Ordering::Relaxed) + 1;
    // The loop runs once per request line, and ends with the connection.
    let reason = loop {
        if open > CLIENT_CONNECTIONS_MAX {
            break ClientClose::OverCapacity;
        }
        while conn.activity().in_flight >= REQUESTS_IN_FLIGHT_MAX {
            // Every request in flight holds a sender: this cannot end first.
            let _ = finished.next().await;
        }
        let read = Box::pin(lines.next_line());
        match select(read, &mut evicted).await {
            Either::Left((Ok(Some(line)), _)) => {
                conn.begin_request();
                madsim::task::spawn(request_task(
                    proxy.clone(),
                    conn.clone(),
                    line,
                    done.clone(),
                ));
            }
            Either::Left((Ok(None), _)) => break ClientClose::Closed,
            Either::Left((Err(error), _)) if error.kind() == std::io::ErrorKind::InvalidData => {
                break ClientClose::ProtocolError
            }
            Either::Left((Err(_), _)) => break ClientClose::Closed,
            Either::Right(_) => break ClientClose::Evicted,
        }
    };
    conn.activity().closed = true;
    let session = conn.session.lock().expect("session lock").take();
    if let (Some(session), true) = (session, reason != ClientClose::Evicted) {
        proxy.end_session(&session, SessionEnd::Client);
    }
    conn.writer.close();
    drop(lines);
    proxy.client_connections.fetch_sub(1, Ordering::Relaxed);
    let labels = [
        KeyValue::new("side", SIDE_CLIENT),
        KeyValue::new("reason", reason.as_str()),
    ];
    proxy.metrics.connections_closed.add(1, &labels);
    proxy.metrics.connections_active.add(-1, &side);
}

/// One request: sized, run under its server span (which joins the client's
/// trace), answered, and counted.
async fn request_task(
    proxy: Arc<Proxy>,
    conn: Arc<ClientConn>,
    line: Vec<u8>,
    done: mpsc::UnboundedSender<()>,
) {
    let started = Instant::now();
    let bytes = line.len();
    let parsed = parse_request(&line);
    let method = parsed
        .as_ref()
        .map_or(Method::Other, |request| request.method);
    let observed = if proxy.config.has(Bug::RequestSizeInKb) {
        // The planted bug: kilobytes into a `_bytes` histogram.
        (bytes as u64).div_ceil(1024)
    } else {
        bytes as u64
    };
    proxy
        .metrics
        .request_size
        .record(observed, &[KeyValue::new("method", method.as_str())]);
    match parsed {
        Ok(request) => {
            let span = server_span(
                request.method,
                request.tool(),
                &request.id_text(),
                conn.peer,
            );
            // Before the span is first entered: OpenTelemetry fixes the
            // parent then.
            request.trace_headers().set_parent_of(&span);
            let work = respond(
                proxy.clone(),
                conn.clone(),
                request,
                bytes,
                started,
                span.clone(),
            );
            work.in_span(span).await;
        }
        Err(not_a_request) => {
            let error = RpcError {
                code: not_a_request.code,
                message: not_a_request.message,
            };
            let failure = Failure::Refused {
                interceptor: "protocol",
                error,
            };
            answer(
                &proxy,
                &conn,
                &not_a_request.id,
                Method::Other,
                Err(failure),
                started,
                None,
            )
            .await;
        }
    }
    conn.end_request();
    // The reading loop may be gone (the connection closed): nothing waits.
    let _ = done.unbounded_send(());
}

/// Why the proxy failed a request: an interceptor refused it, or the
/// upstream failed it. Each failed request is one of these, counted once.
enum Failure {
    Refused {
        interceptor: &'static str,
        error: RpcError,
    },
    Upstream(UpstreamFailure),
}

enum UpstreamFailure {
    ConnectFailed(String),
    Timeout,
    Lost(String),
    /// The upstream answered with a JSON-RPC error.
    Rpc(RpcError),
}

impl UpstreamFailure {
    fn reason(&self) -> &'static str {
        match self {
            UpstreamFailure::ConnectFailed(_) => "connect_failed",
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Lost(_) => "connection_lost",
            UpstreamFailure::Rpc(_) => "rpc_error",
        }
    }

    fn error(&self, timeout: Duration) -> RpcError {
        let (code, message) = match self {
            UpstreamFailure::ConnectFailed(why) => (
                code::UPSTREAM_UNAVAILABLE,
                format!("upstream unavailable: {why}"),
            ),
            UpstreamFailure::Timeout => (
                code::UPSTREAM_TIMEOUT,
                format!("the upstream did not answer within {timeout:?}"),
            ),
            UpstreamFailure::Lost(why) => (
                code::UPSTREAM_LOST,
                format!("upstream connection lost: {why}"),
            ),
            UpstreamFailure::Rpc(error) => return error.clone(),
        };
        RpcError { code, message }
    }
}

/// What the interceptor chain lets through.
enum Admitted {
    /// An `initialize`, with its slot in the session table.
    NewSession(Reservation),
    /// A request of an initialized session.
    Session(Arc<Session>),
}

/// The interceptor chain, in order: `method_filter` (only the methods the
/// proxy serves), `session` (an `initialize` needs a free slot and a
/// connection without a session; anything else needs the connection's
/// session, named in `_meta`), `size_limit` (a `tools/call` line of at most
/// `request_bytes_max`).
fn intercept(
    proxy: &Proxy,
    conn: &ClientConn,
    request: &Request,
    bytes: usize,
) -> Result<Admitted, Failure> {
    let refuse = |interceptor: &'static str, code: i64, message: String| Failure::Refused {
        interceptor,
        error: RpcError { code, message },
    };
    if request.method == Method::Other {
        let message = format!(
            "method {:?} is not served by this proxy",
            request.method_name
        );
        return Err(refuse("method_filter", code::METHOD_NOT_FOUND, message));
    }
    let session = conn.session();
    if request.method == Method::Initialize {
        if session.is_some() {
            let message = "this connection already has a session".to_string();
            return Err(refuse("session", code::INVALID_REQUEST, message));
        }
        let mut table = proxy.lock_table();
        if table.sessions.len() + table.reserved >= proxy.config.sessions_max {
            let message = format!(
                "too many sessions: the proxy holds {}",
                proxy.config.sessions_max
            );
            return Err(refuse("session", code::TOO_MANY_SESSIONS, message));
        }
        table.reserved += 1;
        table.next_seq += 1;
        return Ok(Admitted::NewSession(Reservation {
            seq: table.next_seq,
        }));
    }
    let Some(session) = session else {
        let message = "no session: send initialize first".to_string();
        return Err(refuse("session", code::SESSION_REQUIRED, message));
    };
    if request.session_id() != Some(session.id.as_str()) {
        let message = format!("unknown session {:?}", request.session_id());
        return Err(refuse("session", code::SESSION_REQUIRED, message));
    }
    if request.method == Method::ToolsCall && bytes > proxy.config.request_bytes_max {
        let message = format!(
            "request of {bytes} bytes is larger than the proxy's limit of {}",
            proxy.config.request_bytes_max
        );
        return Err(refuse("size_limit", code::INVALID_REQUEST, message));
    }
    Ok(Admitted::Session(session))
}

async fn respond(
    proxy: Arc<Proxy>,
    conn: Arc<ClientConn>,
    request: Request,
    bytes: usize,
    started: Instant,
    span: Span,
) {
    let session = conn.session();
    if let Some(session) = &session {
        record_session(&span, &session.id);
    }
    let outcome = match intercept(&proxy, &conn, &request, bytes) {
        Err(refused) => Err(refused),
        Ok(Admitted::NewSession(reservation)) => {
            initialize(&proxy, &conn, &request, reservation, &span).await
        }
        Ok(Admitted::Session(session)) => match request.method {
            // The heartbeat: answered here, it shows the session is alive.
            Method::Ping => Ok(json!({})),
            _ => forward(&proxy, &session, &request).await,
        },
    };
    if let Err(failure) = &outcome {
        let error = match failure {
            Failure::Refused { error, .. } => error.clone(),
            Failure::Upstream(upstream) => upstream.error(proxy.config.upstream_timeout()),
        };
        fail(&span, "", Some(&error), "");
    }
    let session_id = conn.session().map(|session| session.id.clone());
    answer(
        &proxy,
        &conn,
        &request.id,
        request.method,
        outcome,
        started,
        session_id.as_deref(),
    )
    .await;
}

/// Counts and writes the answer to one request.
async fn answer(
    proxy: &Proxy,
    conn: &ClientConn,
    id: &Value,
    method: Method,
    outcome: Result<Value, Failure>,
    started: Instant,
    session: Option<&str>,
) {
    let outcome = outcome.map_err(|failure| match failure {
        Failure::Refused { interceptor, error } => {
            proxy
                .metrics
                .interceptor_errors
                .add(1, &[KeyValue::new("interceptor", interceptor)]);
            error
        }
        Failure::Upstream(upstream) => {
            proxy
                .metrics
                .upstream_errors
                .add(1, &[KeyValue::new("reason", upstream.reason())]);
            upstream.error(proxy.config.upstream_timeout())
        }
    });
    let status = if outcome.is_ok() { "ok" } else { "error" };
    let line = response_line(id, &outcome);
    let metrics = &proxy.metrics;
    metrics
        .requests
        .add(1, &proxy.request_labels(method, status, session));
    let by_method = KeyValue::new("method", method.as_str());
    metrics.request_duration.record(
        started.elapsed().as_secs_f64(),
        &[by_method.clone(), KeyValue::new("status", status)],
    );
    metrics
        .response_size
        .record(line.len() as u64, &[by_method]);
    // A client that went away reads nothing; the answer was still given.
    let _ = conn.writer.send(&line).await;
}

/// Creates a session: an upstream connection and session first (the
/// client's `initialize` forwarded), then the proxy's own session id.
async fn initialize(
    proxy: &Arc<Proxy>,
    conn: &Arc<ClientConn>,
    request: &Request,
    reservation: Reservation,
    span: &Span,
) -> Result<Value, Failure> {
    let id = proxy.session_id(reservation.seq);
    record_session(span, &id);
    let opened = open_upstream(proxy, request.params.clone()).await;
    let (upstream, mut result) = match opened {
        Ok(opened) => opened,
        Err(failure) => {
            proxy.lock_table().reserved -= 1;
            return Err(Failure::Upstream(failure));
        }
    };
    let session = Arc::new(Session {
        seq: reservation.seq,
        id: id.clone(),
        init_params: request.params.clone(),
        conn: Arc::downgrade(conn),
        upstream: Mutex::new(Some(upstream)),
        connecting: AsyncMutex::new(()),
    });
    {
        let mut table = proxy.lock_table();
        table.reserved -= 1;
        table.sessions.insert(session.seq, session.clone());
    }
    proxy.metrics.sessions_created.add(1, &[]);
    proxy.metrics.sessions_active.add(1, &[]);
    *conn.session.lock().expect("session lock") = Some(session.clone());
    if conn.activity().closed {
        // The client left while the session was being set up.
        proxy.end_session(&session, SessionEnd::Client);
    }
    if let Some(result) = result.as_object_mut() {
        result.remove("_meta");
        result.insert("_meta".into(), json!({ SESSION_META_KEY: id }));
    }
    Ok(result)
}

/// Forwards a `tools/call` on the session's upstream connection,
/// reconnecting first if it has none.
async fn forward(
    proxy: &Arc<Proxy>,
    session: &Arc<Session>,
    request: &Request,
) -> Result<Value, Failure> {
    let upstream = session_upstream(proxy, session)
        .await
        .map_err(Failure::Upstream)?;
    call_upstream(
        proxy,
        &upstream,
        request.method,
        request.tool(),
        request.params.clone(),
    )
    .await
    .map_err(Failure::Upstream)
}

/// The session's open upstream connection, or a new one (with the client's
/// `initialize` replayed on it).
async fn session_upstream(
    proxy: &Arc<Proxy>,
    session: &Arc<Session>,
) -> Result<Arc<RpcConnection>, UpstreamFailure> {
    let _one_at_a_time = session.connecting.lock().await;
    let current = session.upstream.lock().expect("upstream lock").clone();
    if let Some(upstream) = current.filter(|upstream| !upstream.is_closed()) {
        return Ok(upstream);
    }
    let (upstream, _) = open_upstream(proxy, session.init_params.clone()).await?;
    if !proxy.lock_table().sessions.contains_key(&session.seq) {
        // The session ended while its upstream was being set up.
        upstream.close(CloseReason::SessionEnded);
        return Err(UpstreamFailure::Lost("the session ended".into()));
    }
    *session.upstream.lock().expect("upstream lock") = Some(upstream.clone());
    Ok(upstream)
}

/// Connects to the upstream (a bounded number of tries) and initializes an
/// upstream session on the new connection.
async fn open_upstream(
    proxy: &Arc<Proxy>,
    init_params: Map<String, Value>,
) -> Result<(Arc<RpcConnection>, Value), UpstreamFailure> {
    let stream = connect(proxy.upstream).await?;
    let side = [KeyValue::new("side", SIDE_UPSTREAM)];
    proxy.metrics.connections.add(1, &side);
    proxy.metrics.connections_active.add(1, &side);
    let upstream = Arc::new(RpcConnection::open(
        stream,
        proxy.upstream,
        upstream_hooks(proxy),
    ));
    match call_upstream(proxy, &upstream, Method::Initialize, None, init_params).await {
        Ok(result) => Ok((upstream, result)),
        Err(failure) => {
            upstream.close(CloseReason::InitFailed);
            Err(failure)
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, UpstreamFailure> {
    let mut last_error = String::new();
    for attempt in 0..UPSTREAM_CONNECT_ATTEMPTS_MAX {
        if attempt > 0 {
            let backoff = UPSTREAM_CONNECT_BACKOFF_MS << (attempt - 1);
            madsim::time::sleep(Duration::from_millis(backoff)).await;
        }
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(UpstreamFailure::ConnectFailed(format!(
        "{UPSTREAM_CONNECT_ATTEMPTS_MAX} connects to {addr} failed, the last with: {last_error}"
    )))
}

/// The accounting of an upstream connection's close: once, whoever closed
/// it.
fn upstream_hooks(proxy: &Arc<Proxy>) -> Hooks {
    let proxy = proxy.clone();
    Hooks {
        on_response: Box::new(|_, _, _, _| {}),
        on_close: Box::new(move |reason| {
            let labels = [
                KeyValue::new("side", SIDE_UPSTREAM),
                KeyValue::new("reason", reason.as_str()),
            ];
            proxy.metrics.connections_closed.add(1, &labels);
            let dropped = reason == CloseReason::PeerLost;
            if dropped && proxy.config.has(Bug::ActiveNotDecrementedOnDrop) {
                // The planted bug: the close the proxy did not decide is
                // counted, and the gauge left as it was.
                return;
            }
            proxy
                .metrics
                .connections_active
                .add(-1, &[KeyValue::new("side", SIDE_UPSTREAM)]);
        }),
    }
}

/// One request to the upstream under the proxy's client span, whose context
/// replaces the client's in `params._meta`.
async fn call_upstream(
    proxy: &Arc<Proxy>,
    upstream: &Arc<RpcConnection>,
    method: Method,
    tool: Option<&str>,
    mut params: Map<String, Value>,
) -> Result<Value, UpstreamFailure> {
    let id = upstream.next_id();
    let span = client_span(method, tool, &id.to_string(), upstream.peer());
    // What the client's `_meta` said (its trace context, its session at
    // the proxy) is not this hop's.
    strip_meta(&mut params);
    if !proxy.config.has(Bug::NoTraceForwardUpstream) {
        set_meta(&mut params, &TraceHeaders::of(&span), None);
    }
    let timeout = proxy.config.upstream_timeout();
    let exchange = upstream
        .call(id, method, params, timeout)
        .in_span(span.clone())
        .await;
    match exchange.result {
        CallResult::Answered(Ok(result)) => Ok(result),
        CallResult::Answered(Err(error)) => {
            fail(&span, "", Some(&error), "");
            Err(UpstreamFailure::Rpc(error))
        }
        CallResult::TimedOut => {
            let description = format!("no answer within {timeout:?}");
            fail(&span, "timeout", None, &description);
            // Presumed dead: the next request reconnects.
            upstream.close(CloseReason::Timeout);
            Err(UpstreamFailure::Timeout)
        }
        CallResult::Lost(why) => {
            fail(&span, "connection_lost", None, &why);
            Err(UpstreamFailure::Lost(why))
        }
    }
}
