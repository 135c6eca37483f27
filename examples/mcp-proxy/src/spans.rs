//! Spans as OpenTelemetry's MCP semantic conventions name them: the span is
//! `{mcp.method.name} {gen_ai.tool.name}` (`tools/call echo`) or just the
//! method (`initialize`, `ping`), with `mcp.method.name`,
//! `jsonrpc.request.id`, `mcp.session.id`, `mcp.protocol.version`,
//! `network.transport`, the peer's address and, on failure, `error.type`
//! and `rpc.response.status_code`. The conventions recommend them over the
//! generic RPC ones (`rpc.system`, `rpc.method`) for MCP, which is JSON-RPC.
//! The session id is an attribute, never a metric label.

use std::future::Future;
use std::net::SocketAddr;

use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::tracing::field::Empty;
use obsim::deps::tracing::{info_span, warn, Span};
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::SpanFutureExt;

use crate::jsonrpc::{Method, Request, RpcError, PROTOCOL_VERSION};

/// The span name the conventions give a request.
pub(crate) fn span_name(method: Method, tool: Option<&str>) -> String {
    match tool {
        Some(tool) => format!("{} {tool}", method.as_str()),
        None => method.as_str().to_string(),
    }
}

/// The caller's span of one request to `server`.
pub(crate) fn client_span(
    method: Method,
    tool: Option<&str>,
    id: &str,
    server: SocketAddr,
) -> Span {
    let span = info_span!(
        "mcp",
        otel.name = %span_name(method, tool),
        otel.kind = "client",
        mcp.method.name = method.as_str(),
        gen_ai.tool.name = Empty,
        gen_ai.operation.name = Empty,
        jsonrpc.request.id = %id,
        mcp.session.id = Empty,
        mcp.protocol.version = PROTOCOL_VERSION,
        network.transport = "tcp",
        server.address = %server.ip(),
        server.port = server.port() as i64,
        error.type = Empty,
        rpc.response.status_code = Empty,
    );
    record_tool(&span, tool);
    span
}

/// The receiver's span of one request from `client`.
pub(crate) fn server_span(
    method: Method,
    tool: Option<&str>,
    id: &str,
    client: SocketAddr,
) -> Span {
    let span = info_span!(
        "mcp",
        otel.name = %span_name(method, tool),
        otel.kind = "server",
        mcp.method.name = method.as_str(),
        gen_ai.tool.name = Empty,
        gen_ai.operation.name = Empty,
        jsonrpc.request.id = %id,
        mcp.session.id = Empty,
        mcp.protocol.version = PROTOCOL_VERSION,
        network.transport = "tcp",
        client.address = %client.ip(),
        client.port = client.port() as i64,
        error.type = Empty,
        rpc.response.status_code = Empty,
    );
    record_tool(&span, tool);
    span
}

/// Runs `work` for `request` from `client` under the request's server
/// span, which joins the caller's trace (its context in `params._meta`):
/// the proxy and the upstream serve each request this way.
pub(crate) async fn in_server_span<W, F>(request: Request, client: SocketAddr, work: W)
where
    W: FnOnce(Request, Span) -> F,
    F: Future<Output = ()>,
{
    let span = server_span(request.method, request.tool(), &request.id_text(), client);
    // Before the span is first entered: OpenTelemetry fixes the parent
    // then. A crash cuts this work off; `in_span` ends the span in error
    // then.
    request.trace_headers().set_parent_of(&span);
    let work = work(request, span.clone());
    work.in_span(span).await;
}

fn record_tool(span: &Span, tool: Option<&str>) {
    if let Some(tool) = tool {
        span.record("gen_ai.tool.name", tool);
        span.record("gen_ai.operation.name", "execute_tool");
    }
}

pub(crate) fn record_session(span: &Span, session_id: &str) {
    span.record("mcp.session.id", session_id);
}

/// The `tracing` target of start-up lines: background work, declared in
/// the contract, with no request to belong to.
pub(crate) const STARTUP_TARGET: &str = "mcp::startup";

/// Ends `span` in error: a JSON-RPC error (its code is `error.type` and
/// `rpc.response.status_code`, its message the description, as the
/// conventions say), or a failure without one (`error.type` as given).
pub(crate) fn fail(span: &Span, error_type: &str, error: Option<&RpcError>, description: &str) {
    // Every failure is logged where it ends its span, in that span.
    span.in_scope(|| match error {
        Some(error) => warn!(
            error.r#type = error.code,
            error = %error.message,
            "JSON-RPC request failed"
        ),
        None => warn!(error.r#type = error_type, error = %description, "request failed"),
    });
    match error {
        Some(error) => {
            let code = error.code.to_string();
            span.record("error.type", code.as_str());
            span.record("rpc.response.status_code", code.as_str());
            span.set_status(Status::error(error.message.clone()));
        }
        None => {
            span.record("error.type", error_type);
            span.set_status(Status::error(description.to_string()));
        }
    }
}
