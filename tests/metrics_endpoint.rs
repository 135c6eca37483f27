//! A service serves its own `/metrics`: obsim scrapes whatever handler the
//! system installs (not only the context's registry) and reads the final
//! values of each incarnation through the same handler, after a crash too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::{madsim, prometheus};
use obsim::faults::{Effect, Fault};
use obsim::harness::{MetricsResponse, PROMETHEUS_TEXT_CONTENT_TYPE};
use obsim::{Check, ClientContext, Contract, NodeContext, Sim, System};

#[derive(Clone)]
struct Ping;
#[derive(Clone)]
struct Pong;
const PING: u64 = 1;
const PONG: u64 = 2;

/// How the server exposes its one counter.
#[derive(Clone, Copy)]
enum Endpoint {
    /// A registry of its own, with a `svc` prefix, served as the handler.
    OwnRegistry,
    /// A hand-written handler that counts in an atomic and renders the text
    /// itself, as a service on another metrics library would.
    Closure,
    /// The bug: a handler that reports, and then resets, what was counted
    /// since the last scrape (a delta where a total belongs).
    DrainingClosure,
}

struct PingService(Endpoint);

impl System for PingService {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let endpoint = self.0;
        Box::pin(async move {
            let count: Arc<dyn Fn() + Send + Sync> = match endpoint {
                Endpoint::OwnRegistry => {
                    let registry =
                        prometheus::Registry::new_custom(Some("svc".into()), None).unwrap();
                    let pings =
                        prometheus::IntCounter::new("pings_total", "Pings answered.").unwrap();
                    registry.register(Box::new(pings.clone())).unwrap();
                    node.serve_metrics(registry);
                    Arc::new(move || pings.inc())
                }
                Endpoint::Closure | Endpoint::DrainingClosure => {
                    let pings = Arc::new(AtomicU64::new(0));
                    let rendered = pings.clone();
                    let drains = matches!(endpoint, Endpoint::DrainingClosure);
                    node.serve_metrics(move || {
                        let value = if drains {
                            rendered.swap(0, Ordering::SeqCst)
                        } else {
                            rendered.load(Ordering::SeqCst)
                        };
                        MetricsResponse {
                            content_type: PROMETHEUS_TEXT_CONTENT_TYPE.into(),
                            body: format!(
                                "# HELP svc_pings_total Pings answered.\n# TYPE svc_pings_total counter\nsvc_pings_total {value}\n"
                            ),
                        }
                    });
                    Arc::new(move || {
                        pings.fetch_add(1, Ordering::SeqCst);
                    })
                }
            };
            while let Ok((Ping, from)) = node.network.recv::<Ping>(PING).await {
                count();
                let _ = node.network.send(from, PONG, Pong).await;
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            for _ in 0..client.workload.invocations {
                let server = client.servers[0];
                let call = async {
                    client.network.send(server, PING, Ping).await?;
                    client.network.recv::<Pong>(PONG).await
                };
                let reply = madsim::time::timeout(Duration::from_millis(200), call).await;
                client.record_outcome(if matches!(reply, Ok(Ok(_))) {
                    "ok"
                } else {
                    "timeout"
                });
                madsim::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }

    fn contract(&self) -> Contract {
        Contract::new().accurate(r#"final(svc_pings_total) == messages.received{message="ping"}"#)
    }
}

fn sim(endpoint: Endpoint) -> Sim {
    let workload = obsim::Workload {
        invocations: 200,
        concurrency: 1,
        ..Default::default()
    };
    Sim::builder("endpoint")
        .servers(1)
        .workload(workload)
        .duration(Duration::from_secs(3))
        .fault(
            Fault::new(Effect::NodeCrash {
                restart_after: Some(Duration::from_millis(500)),
            })
            .on_node(0)
            .at(Duration::from_millis(1_200)),
        )
        .artifacts_dir(None)
        .build(move || PingService(endpoint))
        .unwrap()
}

#[test]
fn a_handler_the_system_installs_is_what_obsim_scrapes_and_reads_at_the_end() {
    for endpoint in [Endpoint::OwnRegistry, Endpoint::Closure] {
        let verdict = sim(endpoint).check_seed(3);
        if let Some(failure) = &verdict.failure {
            panic!("{failure}");
        }
        let run = verdict.run.unwrap();
        // Both incarnations' finals came through the handler, the crashed
        // one's included, and the scrapes saw the same series.
        let finals: Vec<&str> = run
            .incarnations
            .iter()
            .filter(|incarnation| incarnation.node == "server-0")
            .map(|incarnation| incarnation.final_exposition.as_str())
            .collect();
        assert_eq!(finals.len(), 2, "{finals:?}");
        assert!(finals.iter().all(|text| text.contains("svc_pings_total ")));
        let scraped = run
            .scrapes
            .iter()
            .filter(|scrape| scrape.up && scrape.body.contains("svc_pings_total"))
            .count();
        assert!(
            scraped >= 2,
            "only {scraped} scrapes saw the handler's series"
        );
    }
}

#[test]
fn a_handler_that_drains_what_it_reports_is_caught_by_counter_monotonicity() {
    let failure = sim(Endpoint::DrainingClosure)
        .check_seed(3)
        .failure
        .expect("a draining handler cannot pass");
    let message = failure.to_string();
    assert!(
        failure.checks().contains(&Check::CounterMonotonicity),
        "{message}"
    );
    assert!(
        message.contains("[counter_monotonicity] svc_pings_total on server-0"),
        "{message}"
    );
}
