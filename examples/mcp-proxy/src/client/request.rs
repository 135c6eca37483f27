//! One client request, in a trace of its own, and how it ended.

use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::tracing::{info_span, warn, Instrument};
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::TraceHeaders;
use serde_json::{Map, Value};

use super::session::ClientSession;
use super::Driver;
use crate::jsonrpc::{set_meta, Method};
use crate::metrics::ledger;
use crate::rpc::{CallResult, RpcConnection};
use crate::spans::{client_span, fail, record_session};

/// How one request ended for the client.
pub(super) struct Outcome {
    /// Its ledger entry: `ok`, `error` or `timeout`.
    pub(super) entry: &'static str,
    /// The JSON-RPC error code, if the answer was an error.
    pub(super) code: Option<i64>,
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
pub(super) async fn request(
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
        root.in_scope(|| warn!(outcome = outcome.entry, error = %description, "request failed"));
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
