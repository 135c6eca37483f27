//! The client: MCP sessions through the proxy, `concurrency` at a time.
//! Each session connects, sends `initialize`, keeps a `ping` heartbeat
//! going, makes its `tools/call` requests (the workload's operations are
//! tool names) and closes, or, if the plan says so, stops halfway without
//! closing, for the proxy to evict. Every request is its own trace, rooted
//! at an `mcp.request` span. The client counts what it does in its own
//! metrics and records it in obsim's ground-truth ledger (see
//! [`crate::metrics::ledger`]).

mod plan;
mod request;
mod session;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use obsim::adapters::OpenTelemetryMetrics;
use obsim::deps::futures::future::join_all;
use obsim::deps::madsim;
use obsim::deps::madsim::task::JoinHandle;
use obsim::ClientContext;

use crate::metrics::{ledger, ClientMetrics};
use crate::system::{check_topology, PROXY_INDEX};
use crate::McpProxyConfig;
use plan::{plan, SessionPlan};
use session::run_session;

struct Driver {
    client: ClientContext,
    config: Arc<McpProxyConfig>,
    metrics: ClientMetrics,
    proxy: SocketAddr,
    plans: Mutex<VecDeque<SessionPlan>>,
    /// The abandoned sessions, each waiting for its eviction.
    abandoned: Mutex<Vec<JoinHandle<()>>>,
}

impl Driver {
    /// Adds to one of the ledger's running totals (not a call's outcome).
    fn record(&self, entry: &str, amount: u64) {
        self.client.record_amount(entry, amount);
    }
}

pub(crate) async fn drive(mut client: ClientContext, config: Arc<McpProxyConfig>) {
    check_topology(client.servers.len());
    for amount in ledger::AMOUNTS {
        client.record_amount(amount, 0);
    }
    let plans = plan(&mut client, &config);
    let telemetry = OpenTelemetryMetrics::new("mcp-client");
    client.serve_metrics(telemetry.clone());
    let metrics = ClientMetrics::new(&telemetry.meter("mcp-client"));
    let concurrency = client.workload.concurrency;
    let proxy = client.servers[PROXY_INDEX];
    let driver = Arc::new(Driver {
        client,
        config,
        metrics,
        proxy,
        plans: Mutex::new(plans),
        abandoned: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> = (0..concurrency)
        .map(|_| madsim::task::spawn(worker(driver.clone())))
        .collect();
    join_all(workers).await;
    let abandoned = std::mem::take(&mut *driver.abandoned.lock().expect("abandoned lock"));
    join_all(abandoned).await;
}

async fn worker(driver: Arc<Driver>) {
    loop {
        let next = driver.plans.lock().expect("plans lock").pop_front();
        let Some(plan) = next else { return };
        run_session(&driver, plan).await;
    }
}
