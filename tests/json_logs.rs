//! A service that ships its logs as JSON lines through `tracing-subscriber`'s
//! fmt layer (`LogFormat::FmtJson`) has them written as it would write them,
//! parsed back and checked like the OpenTelemetry bridge's records: a line
//! that does not carry its request's trace id fails `log_correlation`, and
//! a secret in a span field the line prints fails `secret_leaks`.

use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::opentelemetry::trace::{Status, TraceContextExt as _};
use obsim::deps::tracing::field::Empty;
use obsim::deps::tracing_opentelemetry::OpenTelemetrySpanExt;
use obsim::deps::{madsim, tracing};
use obsim::harness::{Check, FmtJson, LogFormat};
use obsim::{ClientContext, Contract, NodeContext, Sim, SpanFutureExt, System, TraceHeaders};

#[derive(Clone)]
struct Ping(TraceHeaders);
#[derive(Clone)]
struct Pong;

impl obsim::ReplyStatus for Pong {
    fn status(&self) -> String {
        "ok".into()
    }
}

/// A ping service that logs one JSON line per request, in the request's
/// span. `trace_id_field`: its server span records its own trace id in a
/// field, so that the line (which prints the current span) carries it, as
/// a service that wants its JSON lines found by trace must.
/// `token_in_span`: the span also records the service's upstream token.
#[derive(Clone, Copy)]
struct JsonPing {
    trace_id_field: bool,
    token_in_span: bool,
}

impl System for JsonPing {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let this = *self;
        Box::pin(async move {
            let token = node.secret("upstream_token");
            tracing::info!(target: "ping::startup", node = %node.name, "ping listening");
            while let Ok(request) = node.network.accept::<Ping>().await {
                let (Ping(headers), responder) = request.into_parts();
                let span = tracing::info_span!(
                    "PingService/Ping",
                    otel.kind = "server",
                    trace_id = Empty,
                    upstream.token = Empty,
                );
                headers.set_parent_of(&span);
                if this.trace_id_field {
                    let trace_id = span.context().span().span_context().trace_id();
                    span.record("trace_id", trace_id.to_string());
                }
                if this.token_in_span {
                    span.record("upstream.token", token.as_str());
                }
                let work = async move {
                    madsim::time::sleep(Duration::from_millis(1)).await;
                    tracing::info!(duration_ms = 1u64, "ping answered");
                    let _ = responder.reply(Pong).await;
                };
                madsim::task::spawn(work.in_span(span));
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            for n in 0..client.workload.invocations {
                let server = client.servers[n as usize % client.servers.len()];
                let span = tracing::info_span!("ping", otel.kind = "client", trace_id = Empty);
                let trace_id = span.context().span().span_context().trace_id();
                span.record("trace_id", trace_id.to_string());
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
                    span.in_scope(|| tracing::warn!(outcome, "ping failed"));
                    span.set_status(Status::error(outcome));
                }
                client.record_outcome(outcome);
            }
        })
    }

    fn contract(&self) -> Contract {
        Contract::new()
            .outcomes(["ok", "timeout"])
            .request_span("ping")
            .log_format(LogFormat::FmtJson(FmtJson::default()))
            .background_logs("ping::startup")
            .secret("upstream_token")
    }
}

fn sim(system: JsonPing) -> Sim {
    Sim::builder("json-ping")
        .servers(2)
        .workload(obsim::Workload {
            invocations: 20,
            concurrency: 1,
            ..Default::default()
        })
        .duration(Duration::from_secs(1))
        .artifacts_dir(None)
        .build(move || system)
        .unwrap()
}

#[test]
fn json_lines_that_carry_their_trace_id_pass_and_are_read_back_field_by_field() {
    let sim = sim(JsonPing {
        trace_id_field: true,
        token_in_span: false,
    });
    let sweep = sim.sweep(&[0, 1]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    let answered: Vec<_> = run
        .logs
        .iter()
        .filter(|log| &*log.body == "ping answered")
        .collect();
    assert_eq!(answered.len(), 20, "one line per request");
    for log in &answered {
        let line = log.original.as_deref().expect("the line as written");
        let trace = log.trace.expect("the line carries its trace id");
        assert!(line.contains(&trace.trace_id.to_string()), "{line}");
        assert!(line.contains("\"level\":\"INFO\""), "{line}");
        assert_eq!(log.attribute("duration_ms"), Some("1"), "{line}");
        assert!(log.node.starts_with("server-"), "{log:?}");
    }
}

#[test]
fn json_lines_without_their_trace_id_are_caught_by_log_correlation() {
    let sim = sim(JsonPing {
        trace_id_field: false,
        token_in_span: false,
    });
    let failure = sim.check_seed(0).failure.expect("uncorrelated lines");
    let message = failure.to_string();
    assert_eq!(failure.checks(), [Check::LogCorrelation], "{message}");
    assert!(
        message.contains("[log_correlation] log event \"ping answered\" on server-"),
        "{message}"
    );
    assert!(message.contains("tests/json_logs.rs:"), "{message}");
}

#[test]
fn a_token_printed_from_a_span_field_into_json_lines_is_caught_by_secret_leaks() {
    let sim = sim(JsonPing {
        trace_id_field: true,
        token_in_span: true,
    });
    let failure = sim.check_seed(0).failure.expect("a leaked token");
    let message = failure.to_string();
    assert!(failure.checks().contains(&Check::SecretLeaks), "{message}");
    assert!(
        message.contains("[secret_leaks] secret `upstream_token` on server-")
            && message.contains("its value appears in the JSON line"),
        "{message}"
    );
}
