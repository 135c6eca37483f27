//! The workload loop, run for the system's own client: a service that
//! speaks its own protocol over its own sockets needs no obsim type in its
//! client code. The client's `drive` becomes one call,
//! [`ClientContext::run_requests`], with a closure that calls the service's
//! own client; obsim runs the workers, draws the operations and keys, waits
//! the think time, opens each request's client span, times the request and
//! records how it went, as ground truth.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use opentelemetry::trace::Status;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::system::ClientContext;

/// How many requests one run may make through [`ClientContext::run_requests`]
/// at once: the workload's concurrency, which the scenario bounds too.
const WORKERS_MAX: usize = 10_000;

/// One request the workload asks for, as [`ClientContext::run_requests`]
/// hands it to the system's client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Its number, from 0, in the order the workers took them.
    pub number: u64,
    /// The worker that runs it, from 0 to the workload's concurrency - 1.
    pub worker: usize,
    /// The workload operation, drawn by the scenario's mix.
    pub operation: String,
    /// The key it addresses, drawn uniformly from `0..workload.keys`: what
    /// a key is (a page, a user, a collection) the system decides.
    pub key: u64,
}

/// How one request went, as the system's own client saw it: what it would
/// tell its caller. `Result<T, E>` converts into it (`Ok` is `ok`, `Err` is
/// `error` with the error's text); say [`Outcome::Timeout`] when no answer
/// came in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// An answer that says the request failed, with what failed.
    Error(String),
    /// No answer in time, with what the client waited for.
    Timeout(String),
}

impl Outcome {
    /// `ok`, `error` or `timeout`: the outcome recorded, and the word
    /// `outcomes.<word>` and `calls.<word>` read.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error(_) => "error",
            Outcome::Timeout(_) => "timeout",
        }
    }

    /// The description a failed request's span ends with.
    fn description(&self) -> Option<&str> {
        match self {
            Outcome::Ok => None,
            Outcome::Error(text) | Outcome::Timeout(text) => Some(text),
        }
    }
}

impl<T, E: fmt::Display> From<Result<T, E>> for Outcome {
    fn from(result: Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Ok,
            Err(error) => Outcome::Error(error.to_string()),
        }
    }
}

impl ClientContext {
    /// Runs the scenario's workload through `request`, the system's own
    /// client call, and returns when every invocation has been made.
    ///
    /// - `workload.concurrency` workers (at most 10,000) take the
    ///   `workload.invocations` in turn; each draws its operation from the
    ///   mix and its key from `0..workload.keys` with [`ClientContext::rng`],
    ///   calls `request`, then waits `workload.think_time`.
    /// - Each request runs inside a client span named `span_name`
    ///   (`otel.kind = "client"`), so the client can inject the span's trace
    ///   context into what it sends (`traceparent`). The span ends in error,
    ///   with the outcome's text as its description, and a WARN event
    ///   `request failed` in it (target `obsim::client`), unless the request
    ///   went `ok`. Name the same span in `Contract::request_span`.
    /// - Each request is a call of its operation in obsim's ledger, timed
    ///   from just before `request` is called to just after it returns:
    ///   ground truth for `calls.<outcome>{operation}` and for a client
    ///   histogram tied with `Contract::call_timing`. Its outcome is
    ///   recorded as [`ClientContext::record_outcome`] does.
    ///
    /// The quickstart's `drive`, whose `VisitClient` is the service's own:
    ///
    /// ```ignore
    /// fn drive(&self, mut client: ClientContext) -> BoxFuture<'static, ()> {
    ///     Box::pin(async move {
    ///         let visits = VisitClient::new(client.servers.clone());
    ///         let visit = |c: Invocation| visits.visit(c.number as usize, format!("page-{}", c.key));
    ///         client.run_requests("visit", visit).await
    ///     })
    /// }
    /// ```
    pub async fn run_requests<F, Fut, O>(&mut self, span_name: &str, request: F)
    where
        F: Fn(Invocation) -> Fut,
        Fut: Future<Output = O>,
        O: Into<Outcome>,
    {
        let ClientContext {
            network,
            rng,
            workload,
            world,
            ..
        } = self;
        let (network, world, workload) = (&*network, &*world, &*workload);
        // Atomic and locked, though one task polls every worker: the future
        // must be `Send` to run as a system's `drive`.
        let next = AtomicU64::new(0);
        let rng = Mutex::new(rng);
        let workers = (0..workload.concurrency.clamp(1, WORKERS_MAX)).map(|worker| {
            let (next, rng, request) = (&next, &rng, &request);
            async move {
                loop {
                    let number = next.fetch_add(1, Ordering::Relaxed);
                    if number >= workload.invocations {
                        return;
                    }
                    // Drawn in the order the workers take their turns, which
                    // the simulation makes the same on every run of a seed.
                    let (operation, key) = {
                        let mut rng = rng.lock().expect("workload rng lock");
                        let operation = workload.choose_operation(&mut **rng).to_string();
                        let key = rand::Rng::random_range(&mut **rng, 0..workload.keys.max(1));
                        (operation, key)
                    };
                    let span = tracing::info_span!(
                        "request",
                        otel.name = span_name,
                        otel.kind = "client",
                    );
                    let call = network.call(&operation);
                    let invocation = Invocation {
                        number,
                        worker,
                        operation,
                        key,
                    };
                    let outcome: Outcome =
                        request(invocation).instrument(span.clone()).await.into();
                    call.finish(outcome.word());
                    if let Some(description) = outcome.description() {
                        // The workload's client logs what failed, in the
                        // request's span, as a service's client would:
                        // `error_logging` asks it of every failure.
                        span.in_scope(|| {
                            tracing::warn!(
                                target: "obsim::client",
                                outcome = outcome.word(),
                                error = %description,
                                "request failed"
                            )
                        });
                        span.set_status(Status::error(description.to_string()));
                    }
                    drop(span);
                    world.record_outcome(outcome.word());
                    madsim::time::sleep(workload.think_time).await;
                }
            }
        });
        futures::future::join_all(workers).await;
    }
}
