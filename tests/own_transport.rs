//! A service that speaks its own line protocol over madsim's TCP, with its
//! own registry and `/metrics` rendering and no obsim type in its code (the
//! `service` module below), put under obsim by a few lines of glue: the
//! request helper drives its own client, and a server probe ties its cache
//! gauge to the cache itself.

use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::{Check, ClientContext, Contract, MetricsResponse, NodeContext, Outcome, Sim, System};

/// The service as it would run in production: nothing here names obsim.
mod service {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use obsim::deps::madsim;
    use obsim::deps::madsim::net::{TcpListener, TcpStream};
    use obsim::deps::prometheus::{IntCounter, IntGauge, Registry, TextEncoder};
    use obsim::deps::tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A key-value cache that counts the gets of each key.
    pub struct Cache {
        entries: Mutex<BTreeMap<String, u64>>,
        registry: Registry,
        gets: IntCounter,
        size: IntGauge,
        /// A planted bug: the size gauge moves on every get, not only when
        /// a key is first cached.
        pub size_moves_on_every_get: bool,
    }

    impl Cache {
        pub fn new(size_moves_on_every_get: bool) -> Arc<Cache> {
            let registry = Registry::new();
            let gets = IntCounter::new("cache_gets_total", "Gets served.").unwrap();
            let size = IntGauge::new("cache_entries", "Keys in the cache.").unwrap();
            registry.register(Box::new(gets.clone())).unwrap();
            registry.register(Box::new(size.clone())).unwrap();
            Arc::new(Cache {
                entries: Mutex::default(),
                registry,
                gets,
                size,
                size_moves_on_every_get,
            })
        }

        /// What the service's own `/metrics` route answers.
        pub fn metrics_body(&self) -> String {
            TextEncoder::new()
                .encode_to_string(&self.registry.gather())
                .unwrap()
        }

        /// How many keys it holds: its own API, which a probe can read.
        pub fn len(&self) -> usize {
            self.entries.lock().unwrap().len()
        }

        fn get(&self, key: &str) -> u64 {
            let mut entries = self.entries.lock().unwrap();
            let fresh = !entries.contains_key(key);
            let count = entries.entry(key.to_string()).or_default();
            *count += 1;
            if fresh || self.size_moves_on_every_get {
                self.size.inc();
            }
            self.gets.inc();
            *count
        }

        /// Serves its own `GET /metrics` on `addr`, as plain HTTP/1.1 with
        /// `content_type`: one request per connection, then close. With
        /// `fails_after` (a planted bug), a 500 once it served that many gets.
        pub async fn serve_metrics_route(
            self: Arc<Self>,
            addr: SocketAddr,
            content_type: &'static str,
            fails_after: Option<u64>,
        ) {
            let listener = TcpListener::bind(addr).await.expect("bind");
            while let Ok((stream, _)) = listener.accept().await {
                let cache = self.clone();
                madsim::task::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    // The request line and its headers, up to the blank line.
                    loop {
                        line.clear();
                        match stream.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let (status, body) = match fails_after {
                        Some(gets) if cache.gets.get() >= gets => {
                            ("500 Internal Server Error", "busy\n".to_string())
                        }
                        _ => ("200 OK", cache.metrics_body()),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let writer = stream.get_mut();
                    let _ = writer.write_all(reply.as_bytes()).await;
                    let _ = writer.flush().await;
                });
            }
        }

        /// Serves `GET <key>` lines on `addr`, a task per connection.
        pub async fn serve(self: Arc<Self>, addr: SocketAddr) {
            let listener = TcpListener::bind(addr).await.expect("bind");
            while let Ok((stream, _)) = listener.accept().await {
                let cache = self.clone();
                madsim::task::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    let mut line = String::new();
                    while matches!(stream.read_line(&mut line).await, Ok(1..)) {
                        let key = line.trim().trim_start_matches("GET ").to_string();
                        let reply = format!("OK {}\n", cache.get(&key));
                        line.clear();
                        let writer = stream.get_mut();
                        if writer.write_all(reply.as_bytes()).await.is_err()
                            || writer.flush().await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        }
    }

    /// Why a get failed.
    #[derive(Debug)]
    pub enum GetError {
        Timeout,
        Io(String),
    }

    /// The service's client: one connection per get, answered within 200 ms.
    pub async fn get(addr: SocketAddr, key: &str) -> Result<u64, GetError> {
        let exchange = async {
            let stream = TcpStream::connect(addr).await?;
            let mut stream = BufReader::new(stream);
            let writer = stream.get_mut();
            writer.write_all(format!("GET {key}\n").as_bytes()).await?;
            writer.flush().await?;
            let mut line = String::new();
            stream.read_line(&mut line).await?;
            Ok::<_, std::io::Error>(line)
        };
        match madsim::time::timeout(Duration::from_millis(200), exchange).await {
            Err(_) => Err(GetError::Timeout),
            Ok(Err(error)) => Err(GetError::Io(error.to_string())),
            Ok(Ok(line)) => line
                .trim()
                .trim_start_matches("OK ")
                .parse()
                .map_err(|_| GetError::Io(format!("bad reply {line:?}"))),
        }
    }
}

/// The glue: everything that names obsim.
struct CacheUnderTest {
    bug: bool,
    probe: &'static str,
    /// The content type of its own HTTP `/metrics` route on port 9000,
    /// scraped as Prometheus does; None: obsim's endpoint.
    route: Option<&'static str>,
    /// Whether it gives obsim no in-process handle to its metrics, only
    /// its route.
    route_only: bool,
    /// A planted bug: the route answers 500 once the cache served this
    /// many gets.
    route_fails_after: Option<u64>,
}

impl CacheUnderTest {
    fn new(bug: bool, probe: &'static str, route: Option<&'static str>) -> CacheUnderTest {
        CacheUnderTest {
            bug,
            probe,
            route,
            route_only: false,
            route_fails_after: None,
        }
    }
}

impl System for CacheUnderTest {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let cache = service::Cache::new(self.bug);
        if !self.route_only {
            let route = cache.clone();
            node.serve_metrics(move || MetricsResponse::prometheus_text(route.metrics_body()));
        }
        let probed = cache.clone();
        node.probe("cache_len", move || probed.len() as f64);
        if let Some(content_type) = self.route {
            let addr = std::net::SocketAddr::new(node.addr.ip(), 9000);
            let fails_after = self.route_fails_after;
            let route = cache
                .clone()
                .serve_metrics_route(addr, content_type, fails_after);
            obsim::deps::madsim::task::spawn(route);
        }
        Box::pin(cache.serve(node.addr))
    }

    fn drive(&self, mut client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let servers = client.servers.clone();
            let get = |call: obsim::Invocation| {
                let server = servers[call.number as usize % servers.len()];
                async move {
                    match service::get(server, &format!("key-{}", call.key)).await {
                        Ok(_) => Outcome::Ok,
                        Err(service::GetError::Timeout) => {
                            Outcome::Timeout("no reply in 200ms".into())
                        }
                        Err(service::GetError::Io(error)) => Outcome::Error(error),
                    }
                }
            };
            client.run_requests("get", get).await
        })
    }

    fn contract(&self) -> Contract {
        let contract = Contract::new()
            .outcomes(["ok", "error", "timeout"])
            .operations(["get"])
            .request_span("get")
            .probe("cache_entries", self.probe)
            .accurate("final(cache_gets_total) == calls.ok");
        match self.route {
            Some(_) => contract.metrics_route(9000, "/metrics"),
            None => contract,
        }
    }
}

fn sim(bug: bool, probe: &'static str) -> Sim {
    sim_with_route(bug, probe, None)
}

fn sim_with_route(bug: bool, probe: &'static str, route: Option<&'static str>) -> Sim {
    sim_of("own-transport", 2, move || {
        CacheUnderTest::new(bug, probe, route)
    })
}

/// `make`'s system on `servers` servers: 200 gets of 30 keys by 4 workers.
fn sim_of<S: System>(
    name: &str,
    servers: usize,
    make: impl Fn() -> S + Send + Sync + 'static,
) -> Sim {
    let workload = obsim::Workload {
        invocations: 200,
        concurrency: 4,
        keys: 30,
        operations: vec![("get".into(), 1)],
        think_time: Duration::from_millis(5),
    };
    Sim::builder(name)
        .servers(servers)
        .workload(workload)
        .duration(Duration::from_secs(2))
        .artifacts_dir(None)
        .shrink(None)
        .build(make)
        .unwrap()
}

#[test]
fn a_service_on_its_own_sockets_passes_every_check_through_the_request_helper_and_a_probe() {
    let sweep = sim(false, "cache_len").sweep(&[0, 1, 2, 3]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    // Every invocation is a call in the ledger, under its own root span.
    assert_eq!(run.calls.len(), 200);
    assert_eq!(run.outcomes.get("ok"), Some(&200));
    let roots: Vec<_> = run.spans.iter().filter(|s| s.name == "get").collect();
    assert_eq!(roots.len(), 200);
    assert!(roots
        .iter()
        .all(|s| s.kind == "client" && s.parent_span_id.is_none()));
    // Every answered scrape of a server read the probe beside the gauge.
    let server_scrapes = run.scrapes.iter().filter(|s| s.up && s.node != "client");
    assert!(server_scrapes.clone().count() > 0);
    assert!(server_scrapes
        .clone()
        .all(|s| s.probes.contains_key("cache_len")));
    let keys = |node: &str| {
        run.incarnations
            .iter()
            .find(|i| i.node == node)
            .unwrap()
            .probes["cache_len"]
    };
    assert!(keys("server-0") + keys("server-1") > 0.0);
}

#[test]
fn a_gauge_that_drifts_from_the_state_it_probes_is_caught_by_gauge_consistency() {
    let failure = sim(true, "cache_len")
        .check_seed(0)
        .failure
        .expect("a gauge moved on every get cannot pass");
    let message = failure.to_string();
    assert_eq!(failure.checks(), [Check::GaugeConsistency], "{message}");
    assert!(
        message.contains("[gauge_consistency] cache_entries on server-"),
        "{message}"
    );
    assert!(
        message.contains("but probe `cache_len` of the service's state read"),
        "{message}"
    );
}

#[test]
fn a_probe_no_node_registers_is_an_error_not_a_pass() {
    let failure = sim(false, "cache_size")
        .check_seed(0)
        .failure
        .expect("a probe nobody registers checks nothing");
    let message = failure.to_string();
    assert!(
        message.contains("is tied to probe `cache_size`, which no server incarnation registered"),
        "{message}"
    );
}

#[test]
fn a_request_that_fails_ends_its_span_in_error_with_what_the_client_saw() {
    use obsim::faults::{Effect, Fault, Partition};
    let sim = Sim::builder("own-transport-partition")
        .servers(2)
        .workload(obsim::Workload {
            invocations: 100,
            concurrency: 2,
            keys: 10,
            operations: vec![("get".into(), 1)],
            think_time: Duration::from_millis(10),
        })
        .duration(Duration::from_secs(2))
        .fault(
            Fault::new(Effect::NetworkPartition(Partition {
                from: vec!["server-1".into()],
                to: vec!["client".into()],
                one_way: false,
            }))
            .at(Duration::from_millis(100))
            .lasting(Duration::from_millis(300)),
        )
        .artifacts_dir(None)
        .shrink(None)
        .build(|| CacheUnderTest {
            bug: false,
            probe: "cache_len",
            route: None,
            route_only: false,
            route_fails_after: None,
        })
        .unwrap();
    let verdict = sim.check_seed(0);
    assert!(verdict.failure.is_none(), "{}", verdict.failure.unwrap());
    let run = verdict.run.as_ref().unwrap();
    // The partition refuses or drops what the client sends server-1.
    let failed = run.outcomes.get("error").copied().unwrap_or(0)
        + run.outcomes.get("timeout").copied().unwrap_or(0);
    assert!(failed > 0, "{:?}", run.outcomes);
    let in_error: Vec<_> = run
        .spans
        .iter()
        .filter(|s| s.name == "get" && s.status.code() == "error")
        .collect();
    assert_eq!(in_error.len() as u64, failed);
    // Each says what the client saw.
    assert!(in_error
        .iter()
        .all(|s| matches!(&s.status, obsim::harness::SpanStatus::Error(text) if !text.is_empty())));
    let calls = run
        .calls
        .iter()
        .filter(|c| c.outcome.as_deref() != Some("ok"));
    assert_eq!(calls.count() as u64, failed);
}

#[test]
fn a_service_scraped_on_its_own_http_route_passes_and_prometheus_sees_it_up() {
    let text = "text/plain; version=0.0.4; charset=utf-8";
    let sweep = sim_with_route(false, "cache_len", Some(text)).sweep(&[0, 1]);
    sweep.assert_passed();
    let run = sweep.first.as_ref().and_then(|v| v.run.as_ref()).unwrap();
    let servers: Vec<_> = run.scrapes.iter().filter(|s| s.node != "client").collect();
    assert!(servers.len() >= 2, "{servers:?}");
    // Scraped over HTTP: the service rendered it at some instant of the
    // exchange, which obsim does not see, and no probe came with it.
    for scrape in &servers {
        assert!(scrape.up, "{scrape:?}");
        assert_eq!(scrape.content_type, text);
        assert_eq!(scrape.rendered_at, None);
        assert!(scrape.probes.is_empty());
        assert!(scrape.body.contains("cache_gets_total"));
    }
}

#[test]
fn a_metrics_route_with_a_content_type_prometheus_cannot_read_is_a_finding_and_up_0() {
    let failure = sim_with_route(false, "cache_len", Some("application/json"))
        .check_seed(0)
        .failure
        .expect("a route Prometheus cannot read cannot pass");
    let message = failure.to_string();
    assert_eq!(failure.checks(), [Check::ExpositionLint], "{message}");
    assert!(
        message.contains("[exposition_lint] metrics route on server-0"),
        "{message}"
    );
    assert!(
        message.contains("answered 200 with content type \"application/json\""),
        "{message}"
    );
    assert!(message.contains("(up == 0)"), "{message}");
}

#[test]
fn without_an_in_process_handle_final_values_are_the_last_scrape_and_the_report_says_so() {
    let text = "text/plain; version=0.0.4; charset=utf-8";
    let sim = sim_of("own-transport-route-only", 2, move || CacheUnderTest {
        route_only: true,
        ..CacheUnderTest::new(false, "cache_len", Some(text))
    });
    let verdict = sim.check_seed(0);
    let run = verdict.run.as_ref().unwrap();
    let server = run
        .incarnations
        .iter()
        .find(|i| i.node == "server-0")
        .unwrap();
    assert!(
        matches!(
            server.final_source,
            obsim::harness::FinalSource::LastScrape { .. }
        ),
        "{:?}",
        server.final_source
    );
    assert!(server.final_exposition.contains("cache_gets_total"));
    assert!(
        run.report()
            .contains("(its last scrape, at 11.001s: it gave no in-process handle."),
        "{}",
        run.report()
    );
    // The probe is read only with an in-process render: with none, the
    // gauge tied to it is checked against nothing, which is an error.
    let message = verdict.failure.expect("an unread probe").to_string();
    assert!(
        message.contains("which no server incarnation registered"),
        "{message}"
    );
}

#[test]
fn a_metrics_route_on_the_wrong_port_is_an_error_not_a_pass() {
    let text = "text/plain; version=0.0.4; charset=utf-8";
    struct WrongPort(CacheUnderTest);
    impl System for WrongPort {
        fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
            self.0.serve(node)
        }
        fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
            self.0.drive(client)
        }
        fn contract(&self) -> Contract {
            self.0.contract().metrics_route(9001, "/metrics")
        }
    }
    let sim = sim_of("own-transport-wrong-port", 1, move || {
        WrongPort(CacheUnderTest::new(false, "cache_len", Some(text)))
    });
    let failure = sim.check_seed(0).failure.expect("a route nobody serves");
    let message = failure.to_string();
    assert_eq!(failure.checks(), [Check::ExpositionLint], "{message}");
    assert!(
        message.contains("[exposition_lint] metrics route on server-0: answered none of the"),
        "{message}"
    );
    assert!(
        message.contains("on port 9001 in the whole run"),
        "{message}"
    );
}

#[test]
fn a_metrics_route_that_answers_500_under_load_is_a_finding_and_up_0() {
    let text = "text/plain; version=0.0.4; charset=utf-8";
    let sim = sim_of("own-transport-route-500", 2, move || CacheUnderTest {
        route_fails_after: Some(50),
        ..CacheUnderTest::new(false, "cache_len", Some(text))
    });
    let verdict = sim.check_seed(0);
    let run = verdict.run.as_ref().unwrap();
    let failed: Vec<_> = run.scrapes.iter().filter(|s| s.finding.is_some()).collect();
    assert!(!failed.is_empty() && failed.iter().all(|s| !s.up));
    let message = verdict
        .failure
        .expect("a route that fails under load")
        .to_string();
    assert!(
        message.contains("the route answered HTTP status 500, not 200 (Prometheus: \"server returned HTTP status 500\"); body starts \"busy\\n\""),
        "{message}"
    );
}
