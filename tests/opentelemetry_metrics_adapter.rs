//! A service on OpenTelemetry metrics (an `SdkMeterProvider` per incarnation
//! exporting through `opentelemetry-prometheus`) under obsim through
//! `obsim::adapters::OpenTelemetryMetrics`: every check runs on what the
//! exporter really writes, `target_info` and `otel_scope_*` labels included,
//! the final values of a crashed incarnation are still read, and a counter
//! fed its running total instead of increments is caught.

use std::time::Duration;

use obsim::adapters::OpenTelemetryMetrics;
use obsim::deps::futures::future::BoxFuture;
use obsim::deps::madsim;
use obsim::deps::opentelemetry::KeyValue;
use obsim::{Check, ClientContext, Contract, NodeContext, Sim, System};

mod support;

use support::{Ping, Pong};

struct Service {
    /// The bug: `counter.add(pings_so_far)` where `add(1)` belongs, as when
    /// a gauge-minded total is fed to a counter.
    adds_running_total: bool,
}

impl System for Service {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let adds_running_total = self.adds_running_total;
        Box::pin(async move {
            let metrics = OpenTelemetryMetrics::new("ping-service");
            node.serve_metrics(metrics.clone());
            let meter = metrics.meter("ping-service");
            let pings = meter
                .u64_counter("pings")
                .with_description("Pings answered, by parity.")
                .build();
            let in_flight = meter
                .i64_up_down_counter("pings.in_flight")
                .with_description("Pings being handled.")
                .build();
            let seconds = meter
                .f64_histogram("ping.handling")
                .with_description("Time to handle a ping.")
                .with_unit("s")
                .with_boundaries(vec![0.001, 0.01, 0.1])
                .build();
            let mut answered = 0u64;
            while let Ok(request) = node.network.accept::<Ping>().await {
                let (Ping(n), responder) = request.into_parts();
                in_flight.add(1, &[]);
                let started = madsim::time::Instant::now();
                madsim::time::sleep(Duration::from_millis(2)).await;
                let parity = if n % 2 == 0 { "even" } else { "odd" };
                answered += 1;
                let by = if adds_running_total { answered } else { 1 };
                pings.add(by, &[KeyValue::new("parity", parity)]);
                seconds.record(started.elapsed().as_secs_f64(), &[]);
                in_flight.add(-1, &[]);
                let _ = responder.reply(Pong).await;
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move { support::drive_pings(&client, |_| {}).await })
    }

    fn contract(&self) -> Contract {
        Contract::new()
            // Unlabelled: one series holds every ping a node answered.
            .request_timing("ping_handling_seconds", "")
            .accurate(r#"final(pings_total) == messages.received{message="ping"}"#)
            .non_negative("pings_in_flight")
    }
}

fn sim(adds_running_total: bool) -> Sim {
    support::crash_restart_sim("opentelemetry-metrics", move || Service {
        adds_running_total,
    })
}

#[test]
fn an_opentelemetry_metrics_service_passes_every_check_through_the_prometheus_exporter() {
    let sweep = sim(false).sweep(&[0, 1, 2, 3]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    // server-1 crashed: its first incarnation's finals were still read.
    let crashed = run
        .incarnations
        .iter()
        .find(|incarnation| incarnation.node == "server-1" && incarnation.ended_at.is_some())
        .expect("server-1 crashed");
    let text = &crashed.final_exposition;
    assert!(
        text.contains("pings_total{parity=\"odd\",otel_scope_name=\"ping-service\"}"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ping_handling_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("target_info{service_name=\"ping-service\"} 1"),
        "{text}"
    );
}

#[test]
fn a_counter_fed_its_running_total_is_caught_by_metric_accuracy_alone() {
    let failure = sim(true)
        .check_seed(0)
        .failure
        .expect("a running total added to a counter cannot pass");
    let message = failure.to_string();
    assert_eq!(failure.checks(), [Check::MetricAccuracy], "{message}");
    assert!(
        message
            .contains("`final(pings_total) == messages.received{message=\"ping\"}` does not hold"),
        "{message}"
    );
}
