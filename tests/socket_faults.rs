//! Faults from a scenario reach a service written against madsim's own
//! sockets: a TCP echo service whose client times every round trip, so what
//! a partition, a delay or a loss did to the bytes is measured, not assumed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::madsim;
use obsim::deps::madsim::net::{TcpListener, TcpStream};
use obsim::deps::tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use obsim::faults::{Effect, Fault, FaultKind, Partition};
use obsim::{ClientContext, NodeContext, Run, Sim, System};

const ECHOES: u64 = 400;
const ECHO_PERIOD: Duration = Duration::from_millis(10);
const ECHO_TIMEOUT: Duration = Duration::from_millis(250);

/// One echo as the client saw it: when it was sent and when its reply came
/// back, if it did within the timeout.
#[derive(Clone, Copy, Debug)]
struct Echo {
    sent_at: Duration,
    round_trip: Option<Duration>,
}

/// Lines sent to server-0 over one TCP connection, echoed back.
#[derive(Clone, Default)]
struct EchoService {
    echoes: Arc<Mutex<Vec<Echo>>>,
    /// When server-0 read each line: what reached it, whatever came back.
    served_at: Arc<Mutex<Vec<Duration>>>,
}

/// Simulated time since the run started: the clock fault windows use.
fn now() -> Duration {
    madsim::time::TimeHandle::current().elapsed()
}

impl System for EchoService {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        let served_at = self.served_at.clone();
        Box::pin(async move {
            let listener = TcpListener::bind(node.addr).await.expect("bind");
            let (stream, _) = listener.accept().await.expect("accept");
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            loop {
                line.clear();
                match stream.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                served_at.lock().unwrap().push(now());
                let echoed = stream.get_mut().write_all(line.as_bytes()).await;
                if echoed.is_err() || stream.get_mut().flush().await.is_err() {
                    return;
                }
            }
        })
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        let echoes = self.echoes.clone();
        Box::pin(async move {
            let stream = TcpStream::connect(client.servers[0])
                .await
                .expect("connect");
            let mut stream = BufReader::new(stream);
            let mut line = String::new();
            for n in 0..ECHOES {
                let sent_at = now();
                let round = async {
                    let writer = stream.get_mut();
                    writer.write_all(format!("{n}\n").as_bytes()).await?;
                    writer.flush().await?;
                    line.clear();
                    stream.read_line(&mut line).await
                };
                let replied = madsim::time::timeout(ECHO_TIMEOUT, round).await;
                let round_trip = matches!(replied, Ok(Ok(1..))).then(|| now() - sent_at);
                client.record_outcome(if round_trip.is_some() {
                    "ok"
                } else {
                    "timeout"
                });
                echoes.lock().unwrap().push(Echo {
                    sent_at,
                    round_trip,
                });
                if round_trip.is_none() {
                    // A late reply would answer the next line: stop here.
                    return;
                }
                madsim::time::sleep(ECHO_PERIOD).await;
            }
        })
    }
}

fn sim(scenario: &str, service: &EchoService, fault: Fault) -> Sim {
    let service = service.clone();
    Sim::builder(scenario)
        .servers(1)
        .duration(Duration::from_secs(8))
        .fault(fault)
        .artifacts_dir(None)
        .build(move || service.clone())
        .unwrap()
}

fn fault_details(run: &Run, kind: FaultKind) -> Vec<String> {
    let events = run.faults.iter().filter(|event| event.kind == kind);
    events
        .map(|event| format!("{} {}", event.target, event.detail))
        .collect()
}

fn partition(from: &str, to: &str, one_way: bool) -> Fault {
    Fault::new(Effect::NetworkPartition(Partition {
        from: vec![from.into()],
        to: vec![to.into()],
        one_way,
    }))
    .at(Duration::from_secs(1))
    .lasting(Duration::from_secs(1))
}

/// Echoes sent inside `[from, to)` that came back, and those sent outside.
fn completed(echoes: &[Echo], from: Duration, to: Duration) -> (usize, usize) {
    let done = echoes.iter().filter(|echo| echo.round_trip.is_some());
    let (inside, outside): (Vec<&Echo>, Vec<&Echo>) =
        done.partition(|echo| echo.sent_at >= from && echo.sent_at < to);
    (inside.len(), outside.len())
}

#[test]
fn a_partition_from_a_scenario_stops_tcp_bytes_until_it_heals() {
    let service = EchoService::default();
    let run = sim(
        "partition",
        &service,
        partition("client", "server-0", false),
    )
    .run(7)
    .unwrap();
    let echoes = service.echoes.lock().unwrap().clone();
    let served = service.served_at.lock().unwrap().clone();
    // The first echo sent into the partition times out and ends the client:
    // nothing got through for the whole timeout.
    let (inside, before) = completed(&echoes, Duration::from_secs(1), Duration::from_secs(2));
    assert_eq!(inside, 0, "an echo crossed a partition: {echoes:?}");
    assert!(before >= 30, "only {before} echoes before the partition");
    let last = echoes.last().unwrap();
    assert!(last.round_trip.is_none() && last.sent_at >= Duration::from_secs(1));
    let cut = Duration::from_secs(1) + Duration::from_millis(1);
    let heal = Duration::from_secs(2);
    let read_while_cut = served
        .iter()
        .filter(|&&at| at > cut + Duration::from_millis(11) && at < heal);
    assert_eq!(
        read_while_cut.count(),
        0,
        "server-0 read a line while cut off: {served:?}"
    );
    // TCP holds the line and delivers it after the heal.
    assert!(
        served.iter().any(|&at| at >= heal),
        "the held line never arrived"
    );
    assert_eq!(
        fault_details(&run, FaultKind::NetworkPartition),
        ["[client] <-> [server-0] sockets: 2 links clogged from +1ms"]
    );
    assert_eq!(
        fault_details(&run, FaultKind::NetworkHeal),
        ["[client] <-> [server-0] sockets: 2 links unclogged"]
    );
    // Socket traffic met the clogged links: the partition fired.
    let fired = obsim::harness::checks::faults_fired(&run);
    assert!(fired.is_empty(), "{fired:?}");
}

#[test]
fn a_socket_fault_no_packet_meets_never_fires() {
    // The client's echoes are over in about 9 s, and the scraper's typed
    // scrapes, on each second, are answered within a few milliseconds:
    // from 12.3 s to 12.8 s no packet crosses the network, and after
    // 12.3 s none crosses the partition. Each used to count as fired as
    // its window opened.
    let late = |fault: Fault| {
        fault
            .at(Duration::from_millis(12_300))
            .lasting(Duration::from_millis(500))
    };
    let faults = [
        partition("client", "server-0", false),
        Fault::new(Effect::NetworkDelay {
            min: Duration::from_millis(40),
            max: Duration::from_millis(40),
        })
        .on_sockets(),
        Fault::new(Effect::PacketLoss)
            .on_sockets()
            .with_probability(0.5),
    ];
    for fault in faults {
        let service = EchoService::default();
        let echo = service.clone();
        let run = Sim::builder("late")
            .servers(1)
            .duration(Duration::from_secs(15))
            .fault(late(fault))
            .artifacts_dir(None)
            .build(move || echo.clone())
            .unwrap()
            .run(7)
            .unwrap();
        let last = service.echoes.lock().unwrap().last().unwrap().sent_at;
        assert!(
            last < Duration::from_secs(12),
            "the echoes went on: {last:?}"
        );
        let fired = obsim::harness::checks::faults_fired(&run);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert!(fired[0].message.contains("never fired"), "{}", fired[0]);
    }
}

#[test]
fn a_one_way_partition_clogs_only_its_direction() {
    let service = EchoService::default();
    // server-0 -> client is cut; client -> server-0 still flows.
    let run = sim("one-way", &service, partition("server-0", "client", true))
        .run(7)
        .unwrap();
    let served = service.served_at.lock().unwrap().clone();
    let window = Duration::from_secs(1)..Duration::from_secs(2);
    assert!(
        served.iter().any(|at| window.contains(at)),
        "the open direction carried nothing during the partition: {served:?}"
    );
    let echoes = service.echoes.lock().unwrap().clone();
    let (inside, _) = completed(&echoes, window.start, window.end);
    assert_eq!(inside, 0, "a reply crossed the cut direction");
    assert_eq!(
        fault_details(&run, FaultKind::NetworkPartition),
        ["[server-0] -> [client] sockets: 1 links clogged from +1ms"]
    );
}

fn mean_round_trip(echoes: &[Echo], inside: bool) -> Duration {
    let window = Duration::from_secs(1)..Duration::from_secs(2);
    let trips: Vec<Duration> = echoes
        .iter()
        .filter(|echo| window.contains(&echo.sent_at) == inside)
        .filter_map(|echo| echo.round_trip)
        .collect();
    assert!(
        trips.len() >= 5,
        "too few round trips to compare: {}",
        trips.len()
    );
    trips.iter().sum::<Duration>() / trips.len() as u32
}

#[test]
fn a_socket_delay_slows_every_tcp_round_trip_network_wide() {
    let service = EchoService::default();
    let delay = Fault::new(Effect::NetworkDelay {
        min: Duration::from_millis(40),
        max: Duration::from_millis(40),
    })
    .on_sockets()
    .at(Duration::from_secs(1))
    .lasting(Duration::from_secs(1));
    let run = sim("socket-delay", &service, delay).run(7).unwrap();
    let echoes = service.echoes.lock().unwrap().clone();
    let (inside, outside) = (
        mean_round_trip(&echoes, true),
        mean_round_trip(&echoes, false),
    );
    // Two hops of +40 ms each over madsim's own 1-10 ms.
    assert!(
        inside >= Duration::from_millis(80),
        "round trip in the window {inside:?}"
    );
    assert!(
        outside <= Duration::from_millis(25),
        "round trip outside {outside:?}"
    );
    assert_eq!(
        fault_details(&run, FaultKind::NetworkDelay),
        ["sockets every packet +40ms, network-wide, until 2.000s"]
    );
    assert!(obsim::harness::checks::faults_fired(&run).is_empty());
}

#[test]
fn a_socket_loss_shows_as_tcp_retransmission_delay() {
    let service = EchoService::default();
    let loss = Fault::new(Effect::PacketLoss)
        .on_sockets()
        .with_probability(0.5)
        .at(Duration::from_secs(1))
        .lasting(Duration::from_secs(1));
    let run = sim("socket-loss", &service, loss).run(7).unwrap();
    let echoes = service.echoes.lock().unwrap().clone();
    let (inside, outside) = (
        mean_round_trip(&echoes, true),
        mean_round_trip(&echoes, false),
    );
    assert!(
        inside > outside * 3 / 2,
        "loss did not slow TCP: {inside:?} vs {outside:?}"
    );
    assert_eq!(
        fault_details(&run, FaultKind::PacketLoss),
        ["sockets loss rate 0.5, network-wide (TCP retransmits), until 2.000s"]
    );
    assert!(obsim::harness::checks::faults_fired(&run).is_empty());
}

#[test]
fn a_message_fault_is_not_fired_by_a_socket_window_nor_the_reverse() {
    let service = EchoService::default();
    // Network-wide loss on obsim's typed messages only: this service sends
    // none, but the scraper does, so it fires there. The socket delay fires
    // as its window opens.
    let run = sim(
        "both",
        &service,
        Fault::new(Effect::PacketLoss).with_probability(0.2),
    )
    .run(7)
    .unwrap();
    let targets: Vec<String> = run
        .faults
        .iter()
        .filter(|event| event.kind == FaultKind::PacketLoss)
        .map(|event| event.target.clone())
        .collect();
    assert!(!targets.is_empty() && targets.iter().all(|target| target != "sockets"));
    let echoes = service.echoes.lock().unwrap().clone();
    assert!(
        echoes.iter().all(|echo| echo.round_trip.is_some()),
        "typed loss reached TCP"
    );
}
