//! False alarms users met on real services, each kept as a regression test on
//! the shape of service that raised it. A bug-free service must pass.

use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::opentelemetry::trace::Status;
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::deps::{madsim, prometheus, tracing};
use obsim::{ClientContext, Contract, NodeContext, Sim, SpanFutureExt, System, TraceHeaders};

/// A ping with the trace context of the client span that sent it.
#[derive(Clone)]
struct Ping(TraceHeaders);
#[derive(Clone)]
struct Pong;

impl obsim::ReplyStatus for Pong {
    fn status(&self) -> String {
        "ok".into()
    }
}

/// A service written the way most are: the accept loop spawns a task per
/// request, and the handler opens its server span and starts its own clock
/// in that task. madsim advances its clock 50-100 ns on every task poll, so
/// both start a few polls after the poll on which obsim recorded the
/// receipt.
struct SpawnedHandlers;

impl System for SpawnedHandlers {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let seconds = prometheus::Histogram::with_opts(
                prometheus::HistogramOpts::new("ping_duration_seconds", "Time to answer a ping.")
                    .buckets(vec![0.001, 0.0025, 0.005, 0.01]),
            )
            .unwrap();
            node.registry.register(Box::new(seconds.clone())).unwrap();
            while let Ok(request) = node.network.accept::<Ping>().await {
                let seconds = seconds.clone();
                madsim::task::spawn(async move {
                    let started = madsim::time::Instant::now();
                    let (Ping(headers), responder) = request.into_parts();
                    let span = tracing::info_span!("PingService/Ping", otel.kind = "server");
                    headers.set_parent_of(&span);
                    let work = async {
                        madsim::time::sleep(Duration::from_micros(900)).await;
                        seconds.observe(started.elapsed().as_secs_f64());
                        let _ = responder.reply(Pong).await;
                    };
                    work.in_span(span).await;
                });
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let calls = (0..client.workload.invocations).map(|n| {
                let client = &client;
                async move {
                    let server = client.servers[n as usize % client.servers.len()];
                    let span = tracing::info_span!("ping", otel.kind = "client");
                    let attempt = async {
                        let mut call = client.network.call("ping");
                        let ping = Ping(TraceHeaders::of(&tracing::Span::current()));
                        let timeout = Duration::from_millis(200);
                        let reply = call.attempt::<Ping, Pong>(server, "Ping", ping, timeout);
                        let outcome = if reply.await.is_ok() { "ok" } else { "timeout" };
                        call.finish(outcome);
                        outcome
                    };
                    let outcome = attempt.in_span(span.clone()).await;
                    if outcome != "ok" {
                        // Logged where it is handled, in its span, as
                        // `error_logging` asks of any service.
                        span.in_scope(|| tracing::warn!(outcome, "ping failed"));
                        span.set_status(Status::error(outcome));
                    }
                    client.record_outcome(outcome);
                }
            });
            // Many requests at once, so many tasks are ready together and a
            // handler waits for several polls before it first runs.
            obsim::deps::futures::future::join_all(calls).await;
        })
    }

    fn contract(&self) -> Contract {
        Contract::new()
            .outcomes(["ok", "timeout"])
            .request_timing("ping_duration_seconds", "")
            .request_span("ping")
    }
}

#[test]
fn a_handler_spawned_per_request_passes_span_coverage_and_request_placement() {
    let workload = obsim::Workload {
        invocations: 200,
        concurrency: 200,
        ..Default::default()
    };
    let sim = Sim::builder("spawned-handlers")
        .servers(2)
        .workload(workload)
        .duration(Duration::from_secs(1))
        .artifacts_dir(None)
        .build(|| SpawnedHandlers)
        .unwrap();
    let sweep = sim.sweep(&[0, 1, 2, 3]);
    sweep.assert_passed();
    // The gap is real: some handler's span started after obsim's receipt.
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    let late = run.requests.iter().filter(|request| {
        let span = request.span.as_ref().expect("replied inside its span");
        let record = run
            .spans
            .iter()
            .find(|s| s.span_id == span.span_id)
            .unwrap();
        record.start_ns > request.received_at.as_nanos() as i64
    });
    assert!(late.count() > 0, "no handler started after its receipt");
}

/// A plain service under a crash: its handlers run under
/// `tracing::Instrument`, with no obsim type to end their spans in error
/// when the crash drops them. In production a killed process exports none
/// of its in-flight spans, and obsim does the same: they are lost, not
/// failures. The client's spans of the requests the crash cut off end in
/// error, which is what must hold instead.
struct PlainHandlers;

impl System for PlainHandlers {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        use obsim::deps::tracing::Instrument;
        Box::pin(async move {
            while let Ok(request) = node.network.accept::<Ping>().await {
                let (Ping(headers), responder) = request.into_parts();
                let span = tracing::info_span!("PingService/Ping", otel.kind = "server");
                headers.set_parent_of(&span);
                let work = async move {
                    madsim::time::sleep(Duration::from_millis(30)).await;
                    let _ = responder.reply(Pong).await;
                };
                madsim::task::spawn(work.instrument(span));
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        SpawnedHandlers.drive(client)
    }

    fn contract(&self) -> Contract {
        Contract::new()
            .outcomes(["ok", "timeout"])
            .request_span("ping")
    }
}

#[test]
fn spans_a_crash_cuts_off_are_lost_with_the_process_not_failures() {
    let sim = Sim::builder("plain-handlers")
        .servers(2)
        .workload(obsim::Workload {
            invocations: 200,
            concurrency: 200,
            ..Default::default()
        })
        .duration(Duration::from_secs(2))
        .fault(
            obsim::faults::Fault::new(obsim::faults::Effect::NodeCrash {
                restart_after: Some(Duration::from_millis(300)),
            })
            .on_node(1)
            .at(Duration::from_millis(10)),
        )
        .artifacts_dir(None)
        .build(|| PlainHandlers)
        .unwrap();
    let sweep = sim.sweep(&[0, 1, 2, 3]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    let lost = &run.lifecycle.lost;
    assert!(!lost.is_empty(), "the crash cut off no request");
    assert!(lost.iter().all(|span| span.node == "server-1"), "{lost:?}");
    // None of them was exported, and the client's spans of what the crash
    // cut off ended in error.
    assert!(run
        .spans
        .iter()
        .all(|span| !lost.iter().any(|l| l.span_id == span.span_id)));
    assert!(run.outcomes.get("timeout").copied().unwrap_or(0) > 0);
}
