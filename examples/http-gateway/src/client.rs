//! The client other services call the gateway with: HTTP/1.1 over hyper's
//! client connection, one connection per attempt, with retries and a
//! per-attempt timeout, a client span per attempt and client metrics.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use metrics::{counter, histogram};
use tracing::field::Empty;
use tracing::{info_span, warn, Instrument, Span};

use crate::metrics::{CLIENT_ATTEMPTS, CLIENT_REQUESTS, CLIENT_REQUEST_DURATION};
use crate::rt::{sleep, spawn, timeout, AbortOnDrop, Instant, TcpStream};
use crate::{trace, Config, Task, TASK_ROUTE};

/// Why a request failed, after every attempt it was allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    /// The last attempt got no whole answer within the attempt timeout.
    Timeout(Duration),
    /// The last attempt could not connect, or its connection failed.
    Transport(String),
    /// The last attempt was answered with a 5xx.
    Server { status: u16, body: String },
    /// The request was refused (a 4xx other than a GET's 404), or the
    /// answer made no sense; not retried.
    Rejected { status: u16, body: String },
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Timeout(timeout) => write!(f, "no answer within {timeout:?}"),
            GatewayError::Transport(why) => write!(f, "connection: {why}"),
            GatewayError::Server { status, body } => write!(f, "server error {status}: {body}"),
            GatewayError::Rejected { status, body } => write!(f, "refused with {status}: {body}"),
        }
    }
}

impl std::error::Error for GatewayError {}

/// One call of the task API, for [`GatewayClient::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskRequest {
    /// `GET /v1/tasks/{id}`.
    Get(String),
    /// `PUT /v1/tasks/{id}`, with the task.
    Put(String, Task),
}

/// How one attempt went.
enum Attempt {
    Answered(StatusCode, Bytes),
    Timeout,
    Failed(String),
}

impl Attempt {
    /// The attempt's `status` label: `ok`, `error` or `timeout`.
    fn status(&self) -> &'static str {
        match self {
            Attempt::Answered(status, _) if status.is_server_error() => "error",
            Attempt::Answered(..) => "ok",
            Attempt::Timeout => "timeout",
            Attempt::Failed(_) => "error",
        }
    }

    /// A timeout, a failed connection and a 5xx are worth another attempt
    /// (every request the gateway serves is idempotent).
    fn retryable(&self) -> bool {
        self.status() != "ok"
    }
}

/// Calls a set of gateway servers. A request goes to server `server %
/// servers`, and each retry to the next one.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    servers: Vec<SocketAddr>,
    config: Config,
}

impl GatewayClient {
    /// A client of `servers`, with the attempts, timeout and backoff of
    /// `config`. It describes its metrics to the process's recorder.
    pub fn new(servers: Vec<SocketAddr>, config: Config) -> GatewayClient {
        assert!(!servers.is_empty(), "a gateway client needs a server");
        crate::metrics::describe_client();
        GatewayClient { servers, config }
    }

    /// Sends one call of the task API: what a `Get` found (`None`: 404), or
    /// `None` for a `Put`.
    pub async fn send(
        &self,
        server: usize,
        request: TaskRequest,
    ) -> Result<Option<Task>, GatewayError> {
        match request {
            TaskRequest::Get(id) => self.get_task(server, &id).await,
            TaskRequest::Put(id, task) => self.put_task(server, &id, &task).await.map(|()| None),
        }
    }

    /// Stores `task` under `id`.
    pub async fn put_task(&self, server: usize, id: &str, task: &Task) -> Result<(), GatewayError> {
        let body = serde_json::to_vec(task).expect("a task serializes");
        self.logical(async {
            let (status, body) = self.request(server, Method::PUT, id, body.into()).await?;
            match status.is_success() {
                true => Ok(()),
                false => Err(rejected(status, &body)),
            }
        })
        .await
    }

    /// The task stored under `id`, if any.
    pub async fn get_task(&self, server: usize, id: &str) -> Result<Option<Task>, GatewayError> {
        self.logical(async {
            let (status, body) = self.request(server, Method::GET, id, Bytes::new()).await?;
            match status {
                StatusCode::NOT_FOUND => Ok(None),
                StatusCode::OK => serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|_| rejected(status, &body)),
                _ => Err(rejected(status, &body)),
            }
        })
        .await
    }

    /// One logical request, all its attempts: timed, and counted once.
    async fn logical<T>(
        &self,
        request: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        let started = Instant::now();
        let result = request.await;
        histogram!(CLIENT_REQUEST_DURATION).record(started.elapsed().as_secs_f64());
        if !self.config.bugs.client_counts_per_attempt {
            let status = if result.is_ok() { "ok" } else { "error" };
            counter!(CLIENT_REQUESTS, "status" => status).increment(1);
        }
        result
    }

    /// Sends `method` on task `id` until an attempt is answered with less
    /// than a 5xx or the attempts run out; the last answer, or why none came.
    async fn request(
        &self,
        server: usize,
        method: Method,
        id: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), GatewayError> {
        let bugs = self.config.bugs;
        let path = format!("/v1/tasks/{id}");
        let attempts = self.config.max_attempts.max(1);
        let mut first_context: Option<HeaderMap> = None;
        let mut attempt = 0;
        loop {
            let addr = self.servers[(server + attempt as usize) % self.servers.len()];
            let span = attempt_span(&method, addr, &path, attempt);
            let mut context = trace::headers_of(&span);
            if bugs.retry_reuses_first_context {
                // BUG: every retry sends the first attempt's context.
                context = first_context.get_or_insert(context).clone();
            }
            let request = build(&method, addr, &path, context, body.clone());
            let outcome = timeout(self.config.attempt_timeout(), exchange(addr, request))
                .instrument(span.clone())
                .await;
            let outcome = match outcome {
                Err(_) => Attempt::Timeout,
                Ok(Err(why)) => Attempt::Failed(why),
                Ok(Ok((status, body))) => Attempt::Answered(status, body),
            };
            self.finish_attempt(&span, &outcome);
            attempt += 1;
            if !outcome.retryable() || attempt >= attempts {
                return match outcome {
                    Attempt::Answered(status, body) if status.is_server_error() => {
                        Err(GatewayError::Server {
                            status: status.as_u16(),
                            body: String::from_utf8_lossy(&body).into(),
                        })
                    }
                    Attempt::Answered(status, body) => Ok((status, body)),
                    Attempt::Timeout => Err(GatewayError::Timeout(self.config.attempt_timeout())),
                    Attempt::Failed(why) => Err(GatewayError::Transport(why)),
                };
            }
            sleep(self.config.retry_backoff() * attempt).await;
        }
    }

    /// Records how an attempt went on its span and in the attempt counter.
    fn finish_attempt(&self, span: &Span, outcome: &Attempt) {
        let status = outcome.status();
        counter!(CLIENT_ATTEMPTS, "status" => status).increment(1);
        if self.config.bugs.client_counts_per_attempt {
            // BUG: a logical request counted once per attempt.
            let status = if status == "ok" { "ok" } else { "error" };
            counter!(CLIENT_REQUESTS, "status" => status).increment(1);
        }
        let failure = match outcome {
            Attempt::Answered(code, body) => {
                span.record("http.response.status_code", i64::from(code.as_u16()));
                code.is_server_error().then(|| {
                    let why = format!("{code}: {}", String::from_utf8_lossy(body));
                    (code.as_str().to_string(), why)
                })
            }
            Attempt::Timeout => {
                let why = format!("no answer within {:?}", self.config.attempt_timeout());
                Some(("timeout".to_string(), why))
            }
            Attempt::Failed(why) => Some(("transport".to_string(), why.clone())),
        };
        if let Some((kind, why)) = failure {
            span.in_scope(|| warn!(error.r#type = kind.as_str(), error = %why, "attempt failed"));
            span.record("error.type", kind.as_str());
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", why.as_str());
        }
    }
}

/// The client span of one attempt (OpenTelemetry's HTTP client
/// conventions), a child of the span current when the request was made.
fn attempt_span(method: &Method, addr: SocketAddr, path: &str, attempt: u32) -> Span {
    let span = info_span!(
        "http.client.request",
        otel.name = format!("{method} {TASK_ROUTE}"),
        otel.kind = "client",
        http.request.method = method.as_str(),
        server.address = addr.ip().to_string(),
        server.port = i64::from(addr.port()),
        url.full = format!("http://{addr}{path}"),
        url.template = TASK_ROUTE,
        network.protocol.version = "1.1",
        http.request.resend_count = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    if attempt > 0 {
        span.record("http.request.resend_count", i64::from(attempt));
    }
    span
}

/// The request of one attempt, with its trace context.
fn build(
    method: &Method,
    addr: SocketAddr,
    path: &str,
    context: HeaderMap,
    body: Bytes,
) -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method.clone();
    *request.uri_mut() = path.parse().expect("a task path is a valid URI");
    let headers = request.headers_mut();
    headers.extend(context);
    headers.insert(
        HOST,
        addr.to_string().parse().expect("an address is a host"),
    );
    headers.insert(
        CONTENT_TYPE,
        "application/json".parse().expect("a MIME type"),
    );
    request
}

/// One attempt: a connection of its own, one request, the whole answer.
/// The connection's task is aborted when this returns or is dropped (on a
/// timeout), which closes the connection.
async fn exchange(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake with {addr}: {e}"))?;
    let _connection = AbortOnDrop(spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request to {addr}: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("answer from {addr}: {e}"))?
        .to_bytes();
    Ok((status, body))
}

fn rejected(status: StatusCode, body: &Bytes) -> GatewayError {
    GatewayError::Rejected {
        status: status.as_u16(),
        body: String::from_utf8_lossy(body).into(),
    }
}
