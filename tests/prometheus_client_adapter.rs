//! A service on `prometheus-client` (OpenMetrics text) under obsim through
//! `obsim::adapters::prometheus_client`: every check runs on what it really
//! exports, seed determinism included (the library writes a family's series
//! in hash-map order), and a cardinality bug of that library's users is
//! caught. (Registering a counter as `x_total` is no bug to plant: the
//! library panics on it.)

use std::sync::Arc;
use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::madsim;
use obsim::deps::prometheus_client::metrics::counter::Counter;
use obsim::deps::prometheus_client::metrics::family::Family;
use obsim::deps::prometheus_client::metrics::gauge::Gauge;
use obsim::deps::prometheus_client::metrics::histogram::Histogram;
use obsim::deps::prometheus_client::registry::{Registry, Unit};
use obsim::{Check, ClientContext, Contract, NodeContext, Sim, System};

mod support;

use support::{Ping, Pong};

type Labels = Vec<(String, String)>;

/// A server counting pings by parity (so a family has several series for
/// the hash map to order), with a gauge of pings in flight and a histogram
/// of handling time.
struct Service {
    /// The bug: each ping's own number as a label value, a series per
    /// request (Shadowcat's "no cardinality explosion").
    label_by_request: bool,
}

impl System for Service {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let label_by_request = self.label_by_request;
        Box::pin(async move {
            let mut registry = Registry::default();
            let pings = Family::<Labels, Counter>::default();
            registry.register("pings", "Pings answered, by parity.", pings.clone());
            let in_flight = Gauge::<i64>::default();
            registry.register("pings_in_flight", "Pings being handled.", in_flight.clone());
            let seconds = Histogram::new([0.001, 0.01, 0.1]);
            registry.register_with_unit(
                "ping_handling",
                "Time to handle a ping.",
                Unit::Seconds,
                seconds.clone(),
            );
            node.serve_metrics(obsim::adapters::prometheus_client(Arc::new(registry)));
            while let Ok(request) = node.network.accept::<Ping>().await {
                let (Ping(n), responder) = request.into_parts();
                in_flight.inc();
                let started = madsim::time::Instant::now();
                madsim::time::sleep(Duration::from_millis(2)).await;
                let label = if label_by_request {
                    ("request".to_string(), n.to_string())
                } else {
                    let parity = if n % 2 == 0 { "even" } else { "odd" };
                    ("parity".to_string(), parity.to_string())
                };
                pings.get_or_create(&vec![label]).inc();
                seconds.observe(started.elapsed().as_secs_f64());
                in_flight.dec();
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

fn sim(label_by_request: bool) -> Sim {
    support::crash_restart_sim("prometheus-client", move || Service { label_by_request })
}

#[test]
fn a_prometheus_client_service_passes_every_check_on_its_openmetrics_text() {
    let sweep = sim(false).sweep(&[0, 1, 2, 3]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    let final_text = &run.incarnations[0].final_exposition;
    assert!(final_text.ends_with("# EOF\n"), "{final_text}");
    assert!(final_text.contains("# TYPE pings counter"), "{final_text}");
    assert!(
        run.incarnations[0]
            .final_content_type
            .starts_with("application/openmetrics-text"),
        "{:?}",
        run.incarnations[0].final_content_type
    );
    let exposition = run.incarnations[0].final_parsed().unwrap();
    assert!(exposition.family("pings_total").is_some());
    assert!(exposition.family("ping_handling_seconds").is_some());
}

#[test]
fn a_request_number_as_a_label_is_caught_by_exposition_lint_alone() {
    let failure = sim(true)
        .check_seed(0)
        .failure
        .expect("a series per request cannot pass");
    let message = failure.to_string();
    assert_eq!(failure.checks(), [Check::ExpositionLint], "{message}");
    assert!(
        message.contains("label `request` of `pings_total` took"),
        "{message}"
    );
}
