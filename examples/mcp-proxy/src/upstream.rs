//! server-1: the upstream MCP server. Stateful per connection, as an MCP
//! server is: a connection must `initialize` before it calls tools. Its
//! tools are `echo` (the text back) and `count` (characters and words of
//! the text). Each `tools/call` takes `tool_latency_ms`, and longer while
//! the scenario's slow window is open.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use obsim::adapters::OpenTelemetryMetrics;
use obsim::deps::futures::channel::mpsc;
use obsim::deps::futures::StreamExt;
use obsim::deps::madsim;
use obsim::deps::madsim::net::{TcpListener, TcpStream};
use obsim::deps::madsim::time::{Instant, TimeHandle};
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::tracing::Span;
use obsim::NodeContext;
use serde_json::{json, Value};

use crate::jsonrpc::{code, parse_request, response_line, split, LineWriter, Method, Request};
use crate::jsonrpc::{RpcError, PROTOCOL_VERSION};
use crate::metrics::UpstreamMetrics;
use crate::spans::{fail, in_server_span};
use crate::McpProxyConfig;

/// The upstream's tools: what the workload's operations may name.
pub const TOOLS: [&str; 2] = ["count", "echo"];
/// Requests of one connection in flight at once; past it the upstream stops
/// reading that connection until one finishes.
const REQUESTS_IN_FLIGHT_MAX: usize = 16;

pub(crate) async fn serve(node: NodeContext, config: Arc<McpProxyConfig>) {
    let telemetry = OpenTelemetryMetrics::new("mcp-upstream");
    node.serve_metrics(telemetry.clone());
    let metrics = UpstreamMetrics::new(&telemetry.meter("mcp-upstream"));
    let listener = TcpListener::bind(node.addr)
        .await
        .unwrap_or_else(|error| panic!("the upstream cannot listen on {}: {error}", node.addr));
    obsim::deps::tracing::info!(
        target: crate::spans::STARTUP_TARGET,
        node = %node.name,
        incarnation = node.incarnation,
        addr = %node.addr,
        "upstream listening"
    );
    let upstream = Arc::new(Upstream { config, metrics });
    // Runs for the life of this incarnation: a crash drops it.
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            return;
        };
        madsim::task::spawn(connection(upstream.clone(), stream, peer));
    }
}

struct Upstream {
    config: Arc<McpProxyConfig>,
    metrics: UpstreamMetrics,
}

/// One connection's MCP state.
struct Conn {
    peer: SocketAddr,
    writer: LineWriter,
    initialized: AtomicBool,
    in_flight: AtomicUsize,
}

/// Reads one connection's requests until it closes; each runs as a task.
async fn connection(upstream: Arc<Upstream>, stream: TcpStream, peer: SocketAddr) {
    upstream.metrics.connections.add(1, &[]);
    upstream.metrics.connections_active.add(1, &[]);
    let (mut lines, writer) = split(stream);
    let conn = Arc::new(Conn {
        peer,
        writer,
        initialized: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
    });
    let (done, mut finished) = mpsc::unbounded::<()>();
    // Once per request line; ends with the connection.
    let reason = loop {
        while conn.in_flight.load(Ordering::Relaxed) >= REQUESTS_IN_FLIGHT_MAX {
            let _ = finished.next().await;
        }
        match lines.next_line().await {
            Ok(Some(line)) => {
                conn.in_flight.fetch_add(1, Ordering::Relaxed);
                madsim::task::spawn(request_task(
                    upstream.clone(),
                    conn.clone(),
                    line,
                    done.clone(),
                ));
            }
            Ok(None) => break "peer_closed",
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                break "protocol_error"
            }
            Err(_) => break "peer_closed",
        }
    };
    drop(lines);
    upstream
        .metrics
        .connections_closed
        .add(1, &[KeyValue::new("reason", reason)]);
    upstream.metrics.connections_active.add(-1, &[]);
}

async fn request_task(
    upstream: Arc<Upstream>,
    conn: Arc<Conn>,
    line: Vec<u8>,
    done: mpsc::UnboundedSender<()>,
) {
    let started = Instant::now();
    match parse_request(&line) {
        Ok(request) => {
            in_server_span(request, conn.peer, |request, span| {
                handle(upstream.clone(), conn.clone(), request, started, span)
            })
            .await;
        }
        Err(not_a_request) => {
            let error = RpcError {
                code: not_a_request.code,
                message: not_a_request.message,
            };
            // A peer that sent garbage may be gone: nothing more to do.
            let _ = answer(
                &upstream,
                &conn,
                &not_a_request.id,
                Method::Other,
                Err(error),
                started,
            )
            .await;
        }
    }
    conn.in_flight.fetch_sub(1, Ordering::Relaxed);
    let _ = done.unbounded_send(());
}

async fn handle(
    upstream: Arc<Upstream>,
    conn: Arc<Conn>,
    request: Request,
    started: Instant,
    span: Span,
) {
    let outcome = match request.method {
        Method::Initialize => {
            conn.initialized.store(true, Ordering::Relaxed);
            Ok(json!({
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {"tools": {"listChanged": false}},
                "serverInfo": {"name": "obsim-upstream", "version": "0.1.0"},
            }))
        }
        Method::Ping => Ok(json!({})),
        Method::ToolsCall if !conn.initialized.load(Ordering::Relaxed) => Err(RpcError {
            code: code::NOT_INITIALIZED,
            message: "tools/call before initialize".into(),
        }),
        Method::ToolsCall => call_tool(&upstream.config, &request).await,
        Method::Other => Err(RpcError {
            code: code::METHOD_NOT_FOUND,
            message: format!("method {:?} not found", request.method_name),
        }),
    };
    if let Err(error) = &outcome {
        fail(&span, "", Some(error), "");
    }
    if let Err(error) = answer(
        &upstream,
        &conn,
        &request.id,
        request.method,
        outcome,
        started,
    )
    .await
    {
        let description = format!("the answer was not delivered: {error}");
        fail(&span, "connection_lost", None, &description);
    }
}

/// Counts the answer, then writes it.
async fn answer(
    upstream: &Upstream,
    conn: &Conn,
    id: &Value,
    method: Method,
    outcome: Result<Value, RpcError>,
    started: Instant,
) -> std::io::Result<()> {
    let status = if outcome.is_ok() { "ok" } else { "error" };
    let by_method = KeyValue::new("method", method.as_str());
    upstream
        .metrics
        .requests
        .add(1, &[by_method.clone(), KeyValue::new("status", status)]);
    upstream
        .metrics
        .request_duration
        .record(started.elapsed().as_secs_f64(), &[by_method]);
    conn.writer.send(&response_line(id, &outcome)).await
}

/// Runs a tool after its latency (and the slow window's, if open now).
async fn call_tool(config: &McpProxyConfig, request: &Request) -> Result<Value, RpcError> {
    madsim::time::sleep(tool_delay(config)).await;
    let text = request
        .params
        .get("arguments")
        .and_then(|arguments| arguments.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reply = match request.tool() {
        Some("echo") => text.to_string(),
        Some("count") => format!(
            "{} characters, {} words",
            text.chars().count(),
            text.split_whitespace().count()
        ),
        other => {
            return Err(RpcError {
                code: code::INVALID_PARAMS,
                message: format!(
                    "unknown tool {other:?}: this server has {}",
                    TOOLS.join(", ")
                ),
            })
        }
    };
    Ok(json!({"content": [{"type": "text", "text": reply}], "isError": false}))
}

/// The tool's latency now: the slow window counts from the start of the
/// simulation, which is the start of the run.
fn tool_delay(config: &McpProxyConfig) -> Duration {
    let latency = Duration::from_millis(config.tool_latency_ms);
    if config.upstream_slow_for_ms == 0 {
        return latency;
    }
    let now = TimeHandle::current().elapsed();
    let from = Duration::from_millis(config.upstream_slow_at_ms);
    let until = from + Duration::from_millis(config.upstream_slow_for_ms);
    if (from..until).contains(&now) {
        latency + Duration::from_millis(config.upstream_slow_delay_ms)
    } else {
        latency
    }
}
