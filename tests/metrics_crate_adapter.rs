//! A service on the `metrics` crate's macros, with `metrics-exporter-prometheus`,
//! under obsim through `obsim::adapters::MetricsRecorders`: one recorder per
//! node incarnation although madsim runs every node on one thread, every
//! check on what the exporter renders, and a counter kept across restarts in
//! a process-wide recorder is caught.

use std::time::Duration;

use obsim::adapters::MetricsRecorders;
use obsim::deps::futures::future::BoxFuture;
use obsim::deps::{madsim, metrics};
use obsim::{Check, ClientContext, Contract, MetricsResponse, NodeContext, Sim, System};

mod support;

use support::{Ping, Pong};

struct Service {
    metrics: MetricsRecorders,
    /// The bug: each node keeps the recorder of its first incarnation, as a
    /// service that builds its recorder once per process-wide static would;
    /// after a restart the new process starts from the old counts.
    recorder_survives_restart: bool,
    first: std::sync::Mutex<std::collections::BTreeMap<usize, ()>>,
}

impl System for Service {
    fn run_scope(&self, run: &mut dyn FnMut()) {
        self.metrics.scope(run)
    }

    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let first_boot = self.first.lock().unwrap().insert(node.index, ()).is_none();
        if first_boot || !self.recorder_survives_restart {
            // The exporter's own handle, rendered as the service's own
            // `/metrics` route would.
            let handle = self.metrics.for_this_node();
            node.serve_metrics(move || MetricsResponse::prometheus_text(handle.render()));
        }
        Box::pin(async move {
            metrics::describe_counter!("pings_total", "Pings answered, by parity.");
            metrics::describe_histogram!("ping_handling_seconds", "Time to handle a ping.");
            metrics::describe_counter!("ping_replies_total", "Pings replied to.");
            while let Ok(request) = node.network.accept::<Ping>().await {
                let (Ping(n), responder) = request.into_parts();
                let started = madsim::time::Instant::now();
                madsim::time::sleep(Duration::from_millis(2)).await;
                let parity = if n % 2 == 0 { "even" } else { "odd" };
                metrics::counter!("pings_total", "parity" => parity).increment(1);
                // A second counter family: the exporter writes families in
                // hash-map order, fresh at every render.
                metrics::counter!("ping_replies_total").increment(1);
                metrics::histogram!("ping_handling_seconds")
                    .record(started.elapsed().as_secs_f64());
                let _ = responder.reply(Pong).await;
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        let handle = self.metrics.for_this_node();
        client.serve_metrics(move || MetricsResponse::prometheus_text(handle.render()));
        Box::pin(async move {
            metrics::describe_counter!("ping_client_calls_total", "Calls made, by outcome.");
            support::drive_pings(&client, |outcome| {
                metrics::counter!("ping_client_calls_total", "outcome" => outcome.to_string())
                    .increment(1)
            })
            .await
        })
    }

    fn contract(&self) -> Contract {
        Contract::new()
            // Unlabelled: one series holds every ping a node answered.
            .request_timing("ping_handling_seconds", "")
            .accurate(r#"final(pings_total) == messages.received{message="ping"}"#)
            .accurate("final(ping_client_calls_total) == outcomes.total")
            .accurate(r#"final(ping_replies_total) == messages.received{message="ping"}"#)
    }
}

fn sim(recorder_survives_restart: bool) -> Sim {
    support::crash_restart_sim("metrics-crate", move || Service {
        metrics: MetricsRecorders::default(),
        recorder_survives_restart,
        first: Default::default(),
    })
}

#[test]
fn metrics_macros_reach_one_recorder_per_node_incarnation_and_pass_every_check() {
    let sweep = sim(false).sweep(&[0, 1, 2, 3]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    // Each node counted only its own pings: server-0 the even ones.
    let server_0 = &run.incarnations[0];
    assert_eq!(server_0.node, "server-0");
    assert!(server_0
        .final_exposition
        .contains("pings_total{parity=\"even\"}"));
    assert!(!server_0.final_exposition.contains("parity=\"odd\""));
    let client = run.incarnations.last().unwrap();
    assert!(client
        .final_exposition
        .contains("ping_client_calls_total{outcome=\"ok\"}"));
    assert!(!client.final_exposition.contains("pings_total"));
}

#[test]
fn a_recorder_that_outlives_its_incarnation_is_caught_by_metric_accuracy() {
    let failure = sim(true)
        .check_seed(0)
        .failure
        .expect("counts carried across a restart cannot pass");
    let message = failure.to_string();
    assert!(
        failure.checks().contains(&Check::MetricAccuracy),
        "{message}"
    );
    assert!(message.contains("final(pings_total)"), "{message}");
}

/// `metrics-exporter-prometheus` keeps families in a `HashMap` built afresh
/// at every render, so two renders of the same values list their families in
/// different orders. obsim's canonical form must not see that as a change:
/// before it ordered families, every seed of a service on this exporter
/// failed `seed_determinism`.
#[test]
fn the_exporters_hash_map_family_order_is_not_a_determinism_failure() {
    use metrics_exporter_prometheus::PrometheusBuilder;
    use obsim::harness::exposition::canonical;

    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for name in [
            "a_total", "b_total", "c_total", "d_total", "e_total", "f_total",
        ] {
            metrics::counter!(name, "k" => "v").increment(3);
        }
        metrics::gauge!("g_bytes").set(2.0);
    });
    let renders: Vec<String> = (0..20).map(|_| handle.render()).collect();
    assert!(
        renders.iter().any(|render| render != &renders[0]),
        "20 renders came out in one order: this test no longer shows the exporter's hash order"
    );
    let first = canonical(&renders[0]);
    for render in &renders {
        assert_eq!(canonical(render), first);
    }
    assert!(first.find("a_total").unwrap() < first.find("f_total").unwrap());
}
