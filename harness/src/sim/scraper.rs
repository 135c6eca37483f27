//! The simulated Prometheus: it scrapes every server node over the simulated
//! network, at a fixed interval with a timeout, and parses what came back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::endpoint::MetricsSlot;
use super::http_scrape::{self, RouteAnswer};
use super::network::Network;
use super::storage::Storage;
use super::world::World;
use crate::run::{exposition, Scrape};

/// The tag scrape requests are sent under, on every node's metrics port.
pub(crate) const METRICS_TAG: u64 = 0x6d65_7472_6963_7300;
pub(crate) const METRICS_PORT: u16 = 9100;

#[derive(Clone)]
pub(crate) struct ScrapeRequest {
    reply_tag: u64,
}

#[derive(Clone)]
pub(crate) struct ScrapeResponse {
    incarnation: u32,
    /// When the node rendered it, in simulated time since the run started.
    rendered_at: Duration,
    body: String,
    content_type: String,
    stored_keys: Option<u64>,
    probes: std::collections::BTreeMap<String, f64>,
}

/// Serves one incarnation's metrics endpoint on its metrics port: each
/// scrape renders whatever handler the system installed (its registry by
/// default), as the service's own `/metrics` would.
///
/// `storage` is the node's disk, None for the client: what it holds at the
/// instant of the render is the ground truth a gauge of stored state must
/// show in this scrape. Render and count happen in one poll, so no write
/// lands between them.
pub(crate) async fn serve_metrics(
    network: Network,
    metrics: MetricsSlot,
    incarnation: u32,
    storage: Option<Storage>,
) {
    loop {
        let Ok((request, from)) = network.recv::<ScrapeRequest>(METRICS_TAG).await else {
            continue;
        };
        let (rendered, probes) = metrics.render_with_probes();
        let response = ScrapeResponse {
            probes,
            incarnation,
            rendered_at: network.world.clock.elapsed(),
            body: rendered.body,
            content_type: rendered.content_type,
            stored_keys: storage.as_ref().map(Storage::len),
        };
        // A lost reply is the scraper's timeout to see, not ours to retry.
        let _ = network.send(from, request.reply_tag, response).await;
    }
}

/// One node the scraper scrapes.
#[derive(Clone, Debug)]
pub(crate) struct ScrapeTarget {
    /// Position in the target list: keeps reply tags apart.
    pub index: usize,
    pub node: String,
    pub addr: SocketAddr,
    /// The service's own HTTP route on `addr`, scraped as Prometheus does;
    /// None: obsim's own endpoint.
    pub route: Option<String>,
}

/// Scrapes one target forever, at `interval`, aligned to the run's start.
pub(crate) async fn scrape_target(
    world: Arc<World>,
    network: Network,
    target: ScrapeTarget,
    interval: Duration,
    timeout: Duration,
) {
    let ScrapeTarget {
        index,
        node: name,
        addr,
        route,
    } = target;
    let start = madsim::time::Instant::now();
    for round in 1u64.. {
        madsim::time::sleep_until(start + interval * round as u32).await;
        // Each scrape gets its own reply tag, so a late reply to an earlier
        // scrape can never be taken for this one.
        let reply_tag = (index as u64) << 40 | round;
        let at = world.clock.elapsed();
        let scrape = match &route {
            Some(path) => scrape_route(&world, &name, addr, path, timeout).await,
            None => {
                let scrape = scrape_once(&network, addr, reply_tag, timeout).await;
                scrape.into_scrape(name.clone(), at, world.clock.elapsed())
            }
        };
        world.record_scrape(scrape);
    }
}

/// One scrape of a service's own route: Prometheus's `up` and error, and a
/// finding when the service answered with something Prometheus cannot read.
async fn scrape_route(
    world: &World,
    node: &str,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Scrape {
    let at = world.clock.elapsed();
    let before = world.ledger.live(node);
    let answer = http_scrape::get(addr, path, timeout).await;
    let ended_at = world.clock.elapsed();
    let after = world.ledger.live(node);
    // The same process answered throughout: what went wrong is its own.
    let same_process = before.is_some() && before == after;
    let mut scrape = Scrape::failed(node.to_string(), at, ended_at, String::new());
    match answer {
        RouteAnswer::Failed(error) => scrape.error = Some(error),
        RouteAnswer::BadBody(error) => {
            scrape.finding = same_process.then(|| error.clone());
            scrape.error = Some(error);
        }
        RouteAnswer::Answered {
            status,
            content_type,
            body,
        } => {
            scrape.incarnation = after;
            let problem = if status != 200 {
                Some(format!(
                    "the route answered HTTP status {status}, not 200 (Prometheus: \"server \
                     returned HTTP status {status}\"); body starts {:?}",
                    body.chars().take(120).collect::<String>()
                ))
            } else {
                match exposition::parse_as(&body, &content_type) {
                    Ok(parsed) => {
                        scrape.exposition = Some(parsed);
                        None
                    }
                    Err(error) => Some(format!(
                        "the route answered 200 with content type {content_type:?} and a body \
                         Prometheus cannot read: {error}"
                    )),
                }
            };
            scrape.up = problem.is_none();
            scrape.finding.clone_from(&problem);
            scrape.error = problem;
            scrape.body = body;
            scrape.content_type = content_type;
        }
    }
    scrape
}

enum Outcome {
    Answered(ScrapeResponse),
    Failed(String),
}

async fn scrape_once(
    network: &Network,
    addr: SocketAddr,
    reply_tag: u64,
    timeout: Duration,
) -> Outcome {
    let exchange = async {
        network
            .send(addr, METRICS_TAG, ScrapeRequest { reply_tag })
            .await?;
        network.recv::<ScrapeResponse>(reply_tag).await
    };
    match madsim::time::timeout(timeout, exchange).await {
        Ok(Ok((response, _))) => Outcome::Answered(response),
        Ok(Err(error)) => Outcome::Failed(format!("scrape failed: {error}")),
        Err(_) => Outcome::Failed(format!("scrape timed out after {timeout:?}")),
    }
}

impl Outcome {
    fn into_scrape(self, node: String, at: Duration, ended_at: Duration) -> Scrape {
        match self {
            Outcome::Failed(error) => Scrape::failed(node, at, ended_at, error),
            Outcome::Answered(response) => {
                let parsed = exposition::parse_as(&response.body, &response.content_type);
                Scrape {
                    node,
                    at,
                    ended_at,
                    up: parsed.is_ok(),
                    incarnation: Some(response.incarnation),
                    error: parsed.as_ref().err().map(ToString::to_string),
                    exposition: parsed.ok(),
                    finding: None,
                    body: response.body,
                    content_type: response.content_type,
                    stored_keys: response.stored_keys,
                    probes: response.probes,
                    rendered_at: Some(response.rendered_at),
                }
            }
        }
    }
}
