//! JSON-RPC 2.0 as MCP uses it, one message per line over TCP
//! (newline-delimited JSON, as MCP's stdio transport frames it), with the
//! W3C trace context in each request's `params._meta`, as OpenTelemetry's
//! MCP conventions say (`traceparent`, `tracestate`, unprefixed).
//!
//! madsim's `TcpStream` implements tokio's `AsyncRead`/`AsyncWrite` and
//! sends nothing until `flush()`: every line is written and flushed whole.

use std::io;

use obsim::deps::futures::lock::Mutex as AsyncMutex;
use obsim::deps::madsim::net::TcpStream;
use obsim::deps::opentelemetry::propagation::{Extractor, Injector};
use obsim::deps::tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader, ReadHalf, WriteHalf,
};
use obsim::TraceHeaders;
use serde_json::{json, Map, Value};

/// The framing bound: a line longer than this is a protocol violation and
/// closes the connection. Every message this system sends is far smaller;
/// the bound keeps a peer that never sends a newline from growing a buffer
/// without end.
pub(crate) const MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// An upper bound on what a `tools/call` request adds around its argument
/// (method, ids, tool name, `_meta` with the trace context and session id).
pub(crate) const REQUEST_OVERHEAD_BYTES_MAX: usize = 512;
/// The MCP revision this system speaks.
pub(crate) const PROTOCOL_VERSION: &str = "2025-06-18";
/// Where a session id travels. MCP's Streamable HTTP carries it in the
/// `Mcp-Session-Id` header; a raw TCP transport has no headers, so it rides
/// in `_meta` under the header's name, as the trace context does.
pub(crate) const SESSION_META_KEY: &str = "mcp-session-id";

/// JSON-RPC error codes: the standard ones, then this proxy's own, in the
/// server range (-32000 to -32099).
pub(crate) mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const SESSION_REQUIRED: i64 = -32001;
    pub const NOT_INITIALIZED: i64 = -32002;
    pub const TOO_MANY_SESSIONS: i64 = -32003;
    pub const UPSTREAM_UNAVAILABLE: i64 = -32004;
    pub const UPSTREAM_TIMEOUT: i64 = -32005;
    pub const UPSTREAM_LOST: i64 = -32006;
}

/// The MCP methods this system knows, as metric labels and span names say
/// them. Anything else is `other`, so the label stays bounded whatever a
/// peer sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Method {
    Initialize,
    Ping,
    ToolsCall,
    Other,
}

impl Method {
    pub fn parse(name: &str) -> Method {
        match name {
            "initialize" => Method::Initialize,
            "ping" => Method::Ping,
            "tools/call" => Method::ToolsCall,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Initialize => "initialize",
            Method::Ping => "ping",
            Method::ToolsCall => "tools/call",
            Method::Other => "other",
        }
    }
}

/// A request as read off the wire.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub id: Value,
    pub method: Method,
    /// The method as sent, for the error that refuses an unknown one.
    pub method_name: String,
    pub params: Map<String, Value>,
}

impl Request {
    /// `params.name` of a `tools/call`: the tool.
    pub fn tool(&self) -> Option<&str> {
        (self.method == Method::ToolsCall)
            .then(|| self.params.get("name").and_then(Value::as_str))
            .flatten()
    }

    fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.get("_meta").and_then(Value::as_object)
    }

    /// The trace context the sender put in `params._meta`.
    pub fn trace_headers(&self) -> TraceHeaders {
        let mut headers = TraceHeaders::default();
        if let Some(meta) = self.meta() {
            for key in ["traceparent", "tracestate"] {
                if let Some(value) = meta.get(key).and_then(Value::as_str) {
                    headers.set(key, value.to_string());
                }
            }
        }
        headers
    }

    /// The session id the sender put in `params._meta`.
    pub fn session_id(&self) -> Option<&str> {
        self.meta()?.get(SESSION_META_KEY)?.as_str()
    }

    /// The id as the `jsonrpc.request.id` attribute writes it.
    pub fn id_text(&self) -> String {
        match &self.id {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }
}

/// Why a line is not a request.
#[derive(Debug)]
pub(crate) struct NotARequest {
    /// The id, when one could be read, for the error response.
    pub id: Value,
    pub code: i64,
    pub message: String,
}

pub(crate) fn parse_request(line: &[u8]) -> Result<Request, NotARequest> {
    let value: Value = serde_json::from_slice(line).map_err(|error| NotARequest {
        id: Value::Null,
        code: code::PARSE_ERROR,
        message: format!("parse error: {error}"),
    })?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let invalid = |message: &str| NotARequest {
        id: id.clone(),
        code: code::INVALID_REQUEST,
        message: message.to_string(),
    };
    if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("not JSON-RPC 2.0"));
    }
    if id.is_null() {
        return Err(invalid(
            "a request without an id (notifications are not served)",
        ));
    }
    let method_name = value
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no method"))?
        .to_string();
    let params = match value.get("params") {
        None => Map::new(),
        Some(Value::Object(params)) => params.clone(),
        Some(_) => return Err(invalid("params must be an object")),
    };
    Ok(Request {
        id,
        method: Method::parse(&method_name),
        method_name,
        params,
    })
}

/// A response as read off the wire: `result` or `error`.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub id: u64,
    pub outcome: Result<Value, RpcError>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
}

/// Reads a response to one of our own requests, whose ids are numbers.
pub(crate) fn parse_response(line: &[u8]) -> Option<Response> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let id = value.get("id")?.as_u64()?;
    let outcome = match (value.get("result"), value.get("error")) {
        (Some(result), None) => Ok(result.clone()),
        (None, Some(error)) => Err(RpcError {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("an error without a message")
                .to_string(),
        }),
        _ => return None,
    };
    Some(Response { id, outcome })
}

/// A request line (no newline).
pub(crate) fn request_line(id: u64, method: Method, params: Map<String, Value>) -> Vec<u8> {
    let message = json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": method.as_str(),
        "params": Value::Object(params),
    });
    serde_json::to_vec(&message).expect("a JSON value serializes")
}

/// A response line (no newline) answering `id`.
pub(crate) fn response_line(id: &Value, outcome: &Result<Value, RpcError>) -> Vec<u8> {
    let message = match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(error) => json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": error.code, "message": error.message},
        }),
    };
    serde_json::to_vec(&message).expect("a JSON value serializes")
}

/// `params._meta` with `headers` (the trace context) and, if given, the
/// session id, replacing what was there under those keys.
pub(crate) fn set_meta(
    params: &mut Map<String, Value>,
    headers: &TraceHeaders,
    session_id: Option<&str>,
) {
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let meta = meta.as_object_mut().expect("made an object above");
    for key in headers.keys() {
        if let Some(value) = Extractor::get(headers, key) {
            meta.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
    if let Some(id) = session_id {
        meta.insert(SESSION_META_KEY.to_string(), Value::String(id.to_string()));
    }
}

/// Removes the trace context and the session id from `params._meta`: what
/// one hop's `_meta` says is not the next hop's.
pub(crate) fn strip_meta(params: &mut Map<String, Value>) {
    if let Some(Value::Object(meta)) = params.get_mut("_meta") {
        for key in ["traceparent", "tracestate", "baggage", SESSION_META_KEY] {
            meta.remove(key);
        }
        if meta.is_empty() {
            params.remove("_meta");
        }
    }
}

/// Reads newline-delimited lines, each at most [`MESSAGE_BYTES_MAX`].
/// Cancel-safe: bytes of a partial line stay in `self`.
pub(crate) struct LineReader<R> {
    inner: BufReader<R>,
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            line: Vec::new(),
        }
    }

    /// The next line without its newline; None at a clean end of stream.
    /// Each pass consumes at least one byte, and the line is bounded, so the
    /// loop ends.
    pub async fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.line.is_empty() {
                    return Ok(None);
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a message",
                ));
            }
            let (take, complete) = match available.iter().position(|byte| *byte == b'\n') {
                Some(end) => (end, true),
                None => (available.len(), false),
            };
            if self.line.len() + take > MESSAGE_BYTES_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a message longer than {MESSAGE_BYTES_MAX} bytes"),
                ));
            }
            self.line.extend_from_slice(&available[..take]);
            self.inner.consume(take + usize::from(complete));
            if complete {
                return Ok(Some(std::mem::take(&mut self.line)));
            }
        }
    }
}

/// The writing half of a connection, shared by the tasks that answer on it.
/// Closing it drops the half; once the reading half is gone too, the peer
/// reads the end of the stream.
pub(crate) struct LineWriter {
    half: AsyncMutex<Option<WriteHalf<TcpStream>>>,
}

impl LineWriter {
    pub fn new(half: WriteHalf<TcpStream>) -> Self {
        LineWriter {
            half: AsyncMutex::new(Some(half)),
        }
    }

    /// Writes `line` and its newline, and flushes: madsim sends on flush.
    pub async fn send(&self, line: &[u8]) -> io::Result<()> {
        let mut half = self.half.lock().await;
        let half = half
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))?;
        half.write_all(line).await?;
        half.write_all(b"\n").await?;
        half.flush().await
    }

    /// Drops the writing half now if no write holds it, else as soon as the
    /// write in progress lets go. Writes never wait under madsim (they
    /// buffer, and a flush hands the bytes to the network at once), so the
    /// lock is never held across a real wait.
    pub fn close(self: &std::sync::Arc<Self>) {
        if let Some(mut half) = self.half.try_lock() {
            half.take();
            return;
        }
        let writer = self.clone();
        obsim::deps::madsim::task::spawn(async move {
            writer.half.lock().await.take();
        });
    }
}

/// The two halves of a stream, the reading one framed.
pub(crate) fn split(stream: TcpStream) -> (LineReader<ReadHalf<TcpStream>>, LineWriter) {
    let (read, write) = obsim::deps::tokio::io::split(stream);
    (LineReader::new(read), LineWriter::new(write))
}
