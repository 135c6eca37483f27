//! The gateway's HTTP server: an axum [`Router`] served connection by
//! connection through hyper's HTTP/1.1 driver, with a server span and the
//! HTTP server metrics around every task request.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use tracing::field::Empty;
use tracing::{info, info_span, warn, Instrument, Span};

use crate::metrics::{
    ACTIVE_REQUESTS, REQUESTS, REQUEST_DURATION, STORE_DURATION, STORE_OPERATIONS,
};
use crate::rt::{spawn, Instant, TcpListener};
use crate::{trace, Config, TaskStore, METRICS_ROUTE, TASK_ROUTE};

/// The Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A task, as clients send and receive it (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub title: String,
    #[serde(default)]
    pub done: bool,
}

impl Task {
    pub fn new(title: impl Into<String>) -> Task {
        Task {
            title: title.into(),
            done: false,
        }
    }
}

/// One gateway process: its store, its settings, and the handle of the
/// metrics recorder its `/metrics` route renders.
pub struct Gateway<S> {
    store: S,
    config: Config,
    metrics: PrometheusHandle,
}

impl<S: TaskStore> Gateway<S> {
    /// A gateway over `store`. `metrics` is the handle of the recorder the
    /// process installed (in production `PrometheusBuilder::new()
    /// .set_buckets(&BUCKETS_SECONDS)?.install_recorder()?`); the
    /// gateway describes its metrics to that recorder now.
    pub fn new(store: S, config: Config, metrics: PrometheusHandle) -> Arc<Gateway<S>> {
        crate::metrics::describe_server();
        Arc::new(Gateway {
            store,
            config,
            metrics,
        })
    }

    /// What `GET /metrics` answers with: the recorder's exposition.
    pub fn metrics_body(&self) -> String {
        self.metrics.render()
    }

    /// The gateway's routes: the task routes, each request under a server
    /// span and counted (the `route_layer`), and `/metrics`, which is
    /// neither traced nor counted: a scraper sends no trace context, and a
    /// server span of its own would start a trace for every scrape.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(TASK_ROUTE, get(get_task::<S>).put(put_task::<S>))
            .route_layer(middleware::from_fn_with_state(
                self.clone(),
                instrument::<S>,
            ))
            .route(METRICS_ROUTE, get(metrics_route::<S>))
            .with_state(self.clone())
    }

    /// One store operation, under a store span (a child of `parent`, the
    /// request's server span), timed and counted.
    async fn stored<T>(
        &self,
        operation: &'static str,
        parent: &Span,
        work: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let span = info_span!(
            parent: parent,
            "task store",
            otel.name = format!("{operation} tasks"),
            db.operation.name = operation,
            db.collection.name = "tasks",
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        let started = Instant::now();
        let result = work.instrument(span.clone()).await;
        let seconds = started.elapsed().as_secs_f64();
        histogram!(STORE_DURATION, "operation" => operation).record(seconds);
        let status = if result.is_ok() { "ok" } else { "error" };
        counter!(STORE_OPERATIONS, "operation" => operation, "status" => status).increment(1);
        if let Err(error) = &result {
            span.in_scope(
                || warn!(db.operation.name = operation, error = %error, "task store failed"),
            );
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_description", error.as_str());
        }
        result
    }
}

/// The `tracing` target of start-up lines: background work, with no
/// request to belong to.
pub const STARTUP_TARGET: &str = "gateway::startup";

/// Serves `gateway` on `addr` until accepting fails.
///
/// Each connection is driven by hyper's HTTP/1.1 server connection, with
/// the axum `Router` as its service, on a task of its own. This runs in
/// madsim's simulator as it does in production, with no tokio runtime:
/// - the listener and the stream are madsim's (tokio's outside the
///   simulator); `TokioIo` adapts tokio's `AsyncRead`/`AsyncWrite`, which
///   madsim's `TcpStream` implements, to hyper's I/O traits;
/// - the connection task is `madsim::task::spawn`'s (`tokio::spawn`'s
///   outside), and an HTTP/1.1 connection needs no hyper executor;
/// - hyper needs a `Timer` only for timeouts, and none is set: the only one
///   on by default, `header_read_timeout` (30 s), is dropped when no timer is
///   set (hyper 1.13 `src/common/time.rs`, `Time::check`: `Dur::Default`
///   with `Time::Empty` gives `None`; a *configured* timeout without a timer
///   panics instead). So never call `.timer()` or `.header_read_timeout()`
///   here: hyper would sleep on a timer outside the simulation's clock;
/// - axum's `Router` is a plain tower `Service`: `axum::serve`, which needs
///   tokio's runtime, is not used (axum is built without its "tokio"
///   feature).
pub async fn serve<S: TaskStore>(gateway: Arc<Gateway<S>>, addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    info!(target: STARTUP_TARGET, %addr, "gateway listening");
    let router = gateway.router();
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(router.clone());
        spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // An error is the peer's: it closed mid-request, or sent garbage.
            let _ = connection.await;
        });
    }
}

/// The request's server span, for handlers to parent their work on.
#[derive(Clone)]
struct RequestSpan(Span);

/// Why a request failed, for its server span's status description.
#[derive(Clone)]
struct Failure(String);

/// A request in flight: `http_server_active_requests` is incremented as it
/// starts and decremented when this is dropped, on every path, a request
/// its client gave up on (hyper drops the handler) included. It keeps the
/// gauge's handle: a drop as the node shuts down looks no recorder up.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn start(route: &str) -> InFlight {
        let active = gauge!(ACTIVE_REQUESTS, "http_route" => route.to_string());
        active.increment(1.0);
        InFlight(active)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The middleware around every task route: the server span, continuing the
/// caller's trace, the duration histogram, the request counter and the
/// in-flight gauge (OpenTelemetry's HTTP server conventions).
async fn instrument<S: TaskStore>(
    State(gateway): State<Arc<Gateway<S>>>,
    matched: MatchedPath,
    mut request: Request,
    next: Next,
) -> Response {
    let bugs = gateway.config.bugs;
    let method = request.method().as_str().to_string();
    let route = matched.as_str().to_string();
    let span = info_span!(
        "http.server.request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = method.as_str(),
        http.route = route.as_str(),
        url.path = request.uri().path(),
        url.scheme = "http",
        network.protocol.version = "1.1",
        http.response.status_code = Empty,
        error.type = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    // Before the span is first entered: OpenTelemetry fixes its parent then.
    trace::continue_trace(&span, request.headers());
    request.extensions_mut().insert(RequestSpan(span.clone()));
    let in_flight = InFlight::start(&route);
    let started = Instant::now();
    let response = if bugs.server_span_ends_before_store {
        // BUG: the span is entered only while the handler's future is
        // built, and that runs nothing: the span's last exit comes before
        // the handler (and its store call) ever runs.
        let handler = span.in_scope(|| next.run(request));
        handler.await
    } else {
        next.run(request).instrument(span.clone()).await
    };
    let elapsed = started.elapsed();
    let status = response.status();
    let code = status.as_str().to_string();
    let seconds = if bugs.request_milliseconds_as_seconds {
        elapsed.as_millis() as f64 // BUG: milliseconds into a `_seconds` histogram
    } else {
        elapsed.as_secs_f64()
    };
    histogram!(
        REQUEST_DURATION,
        "http_request_method" => method,
        "http_route" => route.clone(),
        "http_response_status_code" => code.clone(),
    )
    .record(seconds);
    let failed = status.is_server_error();
    // BUG (error_counted_as_ok): the status says "a response was written".
    let counted = if failed && !bugs.error_counted_as_ok {
        "error"
    } else {
        "ok"
    };
    counter!(REQUESTS, "http_route" => route.clone(), "status" => counted).increment(1);
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if failed {
        let description = match response.extensions().get::<Failure>() {
            Some(Failure(why)) => format!("{status}: {why}"),
            None => status.to_string(),
        };
        span.in_scope(|| {
            warn!(
                http.route = %route,
                http.response.status_code = status.as_u16(),
                duration_ms = elapsed.as_millis() as u64,
                error = %description,
                "request failed"
            )
        });
        span.record("error.type", code.as_str());
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", description.as_str());
        if bugs.active_requests_leak_on_error {
            // BUG: the error path returns before the gauge is decremented.
            std::mem::forget(in_flight);
            return response;
        }
    }
    drop(in_flight);
    response
}

/// `GET /v1/tasks/{id}`: the stored task, or 404.
async fn get_task<S: TaskStore>(
    State(gateway): State<Arc<Gateway<S>>>,
    Path(id): Path<String>,
    Extension(RequestSpan(span)): Extension<RequestSpan>,
) -> Response {
    match gateway.stored("get", &span, gateway.store.get(&id)).await {
        Ok(Some(task)) => ([(CONTENT_TYPE, "application/json")], task).into_response(),
        Ok(None) => error_response(StatusCode::NOT_FOUND, format!("no task {id:?}")),
        Err(error) => store_failure("get", error),
    }
}

/// `PUT /v1/tasks/{id}`: stores the task, and answers 201 with it. (The
/// store's `put` does not say whether the id was new, so a replacement is
/// answered 201 too.)
async fn put_task<S: TaskStore>(
    State(gateway): State<Arc<Gateway<S>>>,
    Path(id): Path<String>,
    Extension(RequestSpan(span)): Extension<RequestSpan>,
    Json(task): Json<Task>,
) -> Response {
    let body = match serde_json::to_vec(&task) {
        Ok(body) => body,
        Err(error) => return error_response(StatusCode::BAD_REQUEST, error.to_string()),
    };
    match gateway
        .stored("put", &span, gateway.store.put(&id, body))
        .await
    {
        Ok(()) => {
            let location = format!("/v1/tasks/{id}");
            (StatusCode::CREATED, [(LOCATION, location)], Json(task)).into_response()
        }
        Err(error) => store_failure("put", error),
    }
}

/// `GET /metrics`: the Prometheus text exposition of the process's recorder.
async fn metrics_route<S: TaskStore>(State(gateway): State<Arc<Gateway<S>>>) -> Response {
    let content_type = if gateway.config.bugs.metrics_route_wrong_content_type {
        "application/json" // BUG: not the exposition format's type
    } else {
        PROMETHEUS_TEXT
    };
    ([(CONTENT_TYPE, content_type)], gateway.metrics_body()).into_response()
}

/// 503: the store failed; the server span's description says how.
fn store_failure(operation: &str, error: String) -> Response {
    let why = format!("store {operation} failed: {error}");
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, why.clone());
    response.extensions_mut().insert(Failure(why));
    response
}

fn error_response(status: StatusCode, why: String) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::future::Future;

    use axum::body::Body;
    use http_body_util::BodyExt;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use tower::ServiceExt;

    use super::*;
    use crate::{Bugs, MemoryStore};

    /// Runs `future` to completion on the runtime the crate is built for.
    pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
        #[cfg(madsim)]
        return madsim::runtime::Runtime::new().block_on(future);
        #[cfg(not(madsim))]
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
            .block_on(future);
    }

    /// A store whose writes fail.
    struct ReadOnly(MemoryStore);

    impl TaskStore for ReadOnly {
        async fn get(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
            self.0.get(id).await
        }

        async fn put(&self, _: &str, _: Vec<u8>) -> Result<(), String> {
            Err("disk full".into())
        }
    }

    /// Sends `requests` to a gateway over `store` through its router, with a
    /// recorder of its own; returns the answers and the exposition.
    fn exchange<S: TaskStore>(
        store: S,
        bugs: Bugs,
        requests: Vec<(&str, &str, Option<&str>)>,
    ) -> (Vec<(StatusCode, String, String)>, String) {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&crate::metrics::BUCKETS_SECONDS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        let answers = metrics::with_local_recorder(&recorder, || {
            let config = Config {
                bugs,
                ..Config::default()
            };
            let router = Gateway::new(store, config, handle.clone()).router();
            block_on(async move {
                let mut answers = Vec::new();
                for (method, uri, body) in requests {
                    let request = http::Request::builder()
                        .method(method)
                        .uri(uri)
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
                        .unwrap();
                    let response = router.clone().oneshot(request).await.unwrap();
                    let status = response.status();
                    let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap().into();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    answers.push((status, content_type, String::from_utf8_lossy(&body).into()));
                }
                answers
            })
        });
        (answers, handle.render())
    }

    const TASK: &str = r#"{"title":"write the report","done":false}"#;

    #[test]
    fn a_task_put_is_got_back_and_an_absent_one_is_404() {
        let requests = vec![
            ("PUT", "/v1/tasks/a", Some(TASK)),
            ("GET", "/v1/tasks/a", None),
            ("GET", "/v1/tasks/b", None),
        ];
        let (answers, exposition) = exchange(MemoryStore::default(), Bugs::default(), requests);
        assert_eq!(answers[0].0, StatusCode::CREATED);
        assert_eq!(
            answers[1],
            (StatusCode::OK, "application/json".into(), TASK.into())
        );
        assert_eq!(answers[2].0, StatusCode::NOT_FOUND);
        let ok = r#"gateway_requests_total{http_route="/v1/tasks/{id}",status="ok"} 3"#;
        assert!(exposition.contains(ok), "{exposition}");
        let stored = r#"gateway_store_operations_total{operation="get",status="ok"} 2"#;
        assert!(exposition.contains(stored), "{exposition}");
        let active = r#"http_server_active_requests{http_route="/v1/tasks/{id}"} 0"#;
        assert!(exposition.contains(active), "{exposition}");
    }

    #[test]
    fn a_store_failure_is_a_503_counted_as_an_error_and_nothing_stays_in_flight() {
        let requests = vec![("PUT", "/v1/tasks/a", Some(TASK))];
        let store = ReadOnly(MemoryStore::default());
        let (answers, exposition) = exchange(store, Bugs::default(), requests);
        assert_eq!(answers[0].0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(answers[0].2.contains("disk full"), "{}", answers[0].2);
        for line in [
            r#"gateway_requests_total{http_route="/v1/tasks/{id}",status="error"} 1"#,
            r#"gateway_store_operations_total{operation="put",status="error"} 1"#,
            r#"http_server_active_requests{http_route="/v1/tasks/{id}"} 0"#,
            r#"http_server_request_duration_seconds_count{http_request_method="PUT",http_route="/v1/tasks/{id}",http_response_status_code="503"} 1"#,
        ] {
            assert!(exposition.contains(line), "{line} in\n{exposition}");
        }
    }

    #[test]
    fn the_error_bugs_miscount_a_store_failure() {
        let bugs = Bugs {
            error_counted_as_ok: true,
            active_requests_leak_on_error: true,
            ..Bugs::default()
        };
        let requests = vec![("PUT", "/v1/tasks/a", Some(TASK))];
        let (_, exposition) = exchange(ReadOnly(MemoryStore::default()), bugs, requests);
        for line in [
            r#"gateway_requests_total{http_route="/v1/tasks/{id}",status="ok"} 1"#,
            r#"http_server_active_requests{http_route="/v1/tasks/{id}"} 1"#,
        ] {
            assert!(exposition.contains(line), "{line} in\n{exposition}");
        }
    }

    #[test]
    fn metrics_are_served_as_prometheus_text_unless_the_bug_says_json() {
        let requests = vec![("GET", "/metrics", None)];
        let (answers, _) = exchange(MemoryStore::default(), Bugs::default(), requests.clone());
        assert_eq!(answers[0].1, PROMETHEUS_TEXT);
        assert!(answers[0]
            .2
            .contains("# TYPE gateway_requests_total counter"));
        let bugs = Bugs {
            metrics_route_wrong_content_type: true,
            ..Bugs::default()
        };
        let (answers, _) = exchange(MemoryStore::default(), bugs, requests);
        assert_eq!(answers[0].1, "application/json");
    }

    #[test]
    fn a_body_that_is_no_task_is_refused_without_touching_the_store() {
        let requests = vec![("PUT", "/v1/tasks/a", Some("not json"))];
        let (answers, exposition) = exchange(MemoryStore::default(), Bugs::default(), requests);
        assert!(answers[0].0.is_client_error(), "{:?}", answers[0]);
        let none = r#"gateway_store_operations_total{operation="put",status="ok"} 0"#;
        assert!(exposition.contains(none), "{exposition}");
    }
}
