//! A ping service's shared parts for the tests that put one metrics library
//! or another behind it: the messages, the client's loop, and a run with a
//! crash and restart. Each test file uses what it needs.
#![allow(dead_code)]

use std::time::Duration;

use obsim::deps::madsim;
use obsim::faults::{Effect, Fault};
use obsim::{ClientContext, Sim, System};

/// A ping, numbered by the client, sent as a request on obsim's network.
#[derive(Clone)]
pub struct Ping(pub u64);
#[derive(Clone)]
pub struct Pong;

impl obsim::ReplyStatus for Pong {
    fn status(&self) -> String {
        "ok".into()
    }
}

/// Pings the servers in turn, one at a time, each within 200 ms, records
/// every outcome (`ok` or `timeout`) and hands it to `counted` too.
pub async fn drive_pings(client: &ClientContext, counted: impl Fn(&str)) {
    for n in 0..client.workload.invocations {
        let server = client.servers[n as usize % client.servers.len()];
        let mut call = client.network.call("ping");
        let timeout = Duration::from_millis(200);
        let reply = call
            .attempt::<Ping, Pong>(server, "Ping", Ping(n), timeout)
            .await;
        let outcome = if reply.is_ok() { "ok" } else { "timeout" };
        counted(outcome);
        call.finish(outcome);
        client.record_outcome(outcome);
        madsim::time::sleep(Duration::from_millis(5)).await;
    }
}

/// 300 pings over 2 servers for 3 s; server-1 crashes at 1 s and restarts
/// 300 ms later. No artifacts: some of these runs are meant to fail.
pub fn crash_restart_sim<S, F>(scenario: &str, factory: F) -> Sim
where
    S: System,
    F: Fn() -> S + Send + Sync + 'static,
{
    let workload = obsim::Workload {
        invocations: 300,
        concurrency: 1,
        ..Default::default()
    };
    Sim::builder(scenario)
        .servers(2)
        .workload(workload)
        .duration(Duration::from_secs(3))
        .fault(
            Fault::new(Effect::NodeCrash {
                restart_after: Some(Duration::from_millis(300)),
            })
            .on_node(1)
            .at(Duration::from_secs(1)),
        )
        .artifacts_dir(None)
        .build(factory)
        .unwrap()
}
