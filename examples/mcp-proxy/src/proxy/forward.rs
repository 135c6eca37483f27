//! Forwarding to the upstream: a session's upstream connection, opened
//! (with retries) and reconnected with the client's `initialize` replayed,
//! and one request on it under the proxy's client span.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use obsim::deps::madsim;
use obsim::deps::madsim::net::TcpStream;
use obsim::deps::opentelemetry::KeyValue;
use obsim::{SpanFutureExt, TraceHeaders};
use serde_json::{Map, Value};

use super::request::Failure;
use super::session::Session;
use super::Proxy;
use crate::jsonrpc::{code, set_meta, strip_meta, Method, Request, RpcError};
use crate::metrics::SIDE_UPSTREAM;
use crate::rpc::{CallResult, CloseReason, Hooks, RpcConnection};
use crate::spans::{client_span, fail};
use crate::system::{UPSTREAM_CONNECT_ATTEMPTS_MAX, UPSTREAM_CONNECT_BACKOFF_MS};
use crate::Bug;

pub(super) enum UpstreamFailure {
    ConnectFailed(String),
    Timeout,
    Lost(String),
    /// The upstream answered with a JSON-RPC error.
    Rpc(RpcError),
}

impl UpstreamFailure {
    pub(super) fn reason(&self) -> &'static str {
        match self {
            UpstreamFailure::ConnectFailed(_) => "connect_failed",
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Lost(_) => "connection_lost",
            UpstreamFailure::Rpc(_) => "rpc_error",
        }
    }

    pub(super) fn error(&self, timeout: Duration) -> RpcError {
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

/// Forwards a `tools/call` on the session's upstream connection,
/// reconnecting first if it has none.
pub(super) async fn forward(
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
pub(super) async fn open_upstream(
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
