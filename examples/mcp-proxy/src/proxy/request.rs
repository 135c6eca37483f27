//! One client request: sized, run under its server span, through the
//! interceptor chain to its handler, then answered and counted.

use std::sync::Arc;

use obsim::deps::futures::channel::mpsc;
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::tracing::Span;
use serde_json::{json, Value};

use super::connection::ClientConn;
use super::forward::{forward, UpstreamFailure};
use super::intercept::{intercept, Admitted};
use super::session::initialize;
use super::Proxy;
use crate::jsonrpc::{parse_request, response_line, Method, Request, RpcError};
use crate::spans::{fail, in_server_span, record_session};
use crate::Bug;

impl Proxy {
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

/// One request: sized, run under its server span (which joins the client's
/// trace), answered, and counted.
pub(super) async fn request_task(
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
            in_server_span(request, conn.peer, |request, span| {
                respond(proxy.clone(), conn.clone(), request, bytes, started, span)
            })
            .await;
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
pub(super) enum Failure {
    Refused {
        interceptor: &'static str,
        error: RpcError,
    },
    Upstream(UpstreamFailure),
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
