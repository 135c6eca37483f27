//! How a run's nodes start: each server incarnation with its registry,
//! metrics endpoint and system, the client that drives the workload, and the
//! scraper. `simulation.rs` calls these as a run begins.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use obsim_faults::component_stream;

use super::network::Network;
use super::scraper::{scrape_target, serve_metrics, ScrapeTarget, METRICS_PORT};
use super::simulation::APP_PORT;
use super::system::{ClientContext, HandlerFaults, NodeContext, System};
use super::world::{server_ip, World, CLIENT_IP, SCRAPER_IP};
use crate::run::{server_name, Config, MetricsRoute};

/// How long the client waits for every server to bind before it drives the
/// workload anyway: far longer than a boot takes (no simulated time passes
/// between boot and bind), and short beside any run.
const SERVERS_BOUND_WITHIN: Duration = Duration::from_secs(1);

/// Binds a harness endpoint. Every address is the harness's own choice on a
/// fresh node, so a failure is an obsim bug: it panics, and the run reports
/// the panic with its seed.
async fn bind(world: &Arc<World>, node: Option<usize>, name: String, addr: SocketAddr) -> Network {
    match Network::bind(world.clone(), node, name.clone(), addr).await {
        Ok(network) => network,
        Err(error) => panic!("obsim: endpoint {name} could not bind {addr}: {error}"),
    }
}

fn name_node(world: &World, node: &NodeHandle, name: &str) {
    let mut names = world.node_names.lock().expect("node names lock");
    names.insert(node.id(), name.to_string());
}

pub(super) fn boot_server(
    handle: &Handle,
    world: &Arc<World>,
    system: &Arc<dyn System>,
    index: usize,
    servers: &[SocketAddr],
) -> NodeHandle {
    let name = server_name(index);
    let (world_init, system_init, servers_init) = (world.clone(), system.clone(), servers.to_vec());
    let node = handle
        .create_node()
        .name(&name)
        .ip(server_ip(index))
        // madsim calls this at boot and again on every restart: each call is
        // a new incarnation with a fresh registry.
        .init(move || {
            run_incarnation(
                world_init.clone(),
                system_init.clone(),
                index,
                servers_init.clone(),
            )
        })
        .build();
    name_node(world, &node, &name);
    node
}

async fn run_incarnation(
    world: Arc<World>,
    system: Arc<dyn System>,
    index: usize,
    servers: Vec<SocketAddr>,
) {
    let incarnation = world.begin_incarnation(index);
    let name = server_name(index);
    let metrics_addr = SocketAddr::new(server_ip(index), METRICS_PORT);
    let metrics = bind(&world, Some(index), format!("{name}:metrics"), metrics_addr).await;
    madsim::task::spawn_local(serve_metrics(
        metrics,
        incarnation.metrics.clone(),
        incarnation.number,
        Some(world.storages[index].clone()),
    ));
    let network = bind(&world, Some(index), format!("{name}:app"), servers[index])
        .await
        .with_triggers(index);
    world.server_bound(index);
    let context = NodeContext {
        index,
        name,
        incarnation: incarnation.number,
        addr: servers[index],
        registry: incarnation.registry,
        metrics: incarnation.metrics,
        storage: world.storages[index].clone(),
        network,
        faults: HandlerFaults {
            node: index,
            faults: world.handler_faults[index].clone(),
            world: world.clone(),
        },
        servers,
    };
    system.serve(context).await;
}

/// The client node, serving its own registry to the scraper like a server.
pub(super) fn boot_client(handle: &Handle, world: &Arc<World>) -> NodeHandle {
    let client = handle
        .create_node()
        .name("client")
        .ip(CLIENT_IP.into())
        .build();
    name_node(world, &client, "client");
    let world_metrics = world.clone();
    client.spawn(async move {
        let addr = SocketAddr::new(CLIENT_IP.into(), METRICS_PORT);
        let metrics = bind(&world_metrics, None, "client:metrics".into(), addr).await;
        serve_metrics(metrics, world_metrics.client_metrics.clone(), 0, None).await;
    });
    client
}

pub(super) fn boot_scraper(
    handle: &Handle,
    world: &Arc<World>,
    config: &Config,
    servers: &[SocketAddr],
    route: Option<&MetricsRoute>,
) {
    // A server with a route of its own is scraped there, as Prometheus
    // would; the client, run by obsim, always on obsim's endpoint.
    let mut targets: Vec<ScrapeTarget> = servers
        .iter()
        .enumerate()
        .map(|(index, addr)| ScrapeTarget {
            index,
            node: server_name(index),
            addr: SocketAddr::new(addr.ip(), route.map_or(METRICS_PORT, |route| route.port)),
            route: route.map(|route| route.path.clone()),
        })
        .collect();
    targets.push(ScrapeTarget {
        index: servers.len(),
        node: "client".into(),
        addr: SocketAddr::new(CLIENT_IP.into(), METRICS_PORT),
        route: None,
    });
    let (world_init, interval, timeout) =
        (world.clone(), config.scrape_interval, config.scrape_timeout);
    let node = handle
        .create_node()
        .name("scraper")
        .ip(SCRAPER_IP.into())
        .init(move || {
            let (world, targets) = (world_init.clone(), targets.clone());
            async move {
                let addr = SocketAddr::new(SCRAPER_IP.into(), 9090);
                let network = bind(&world, None, "scraper".into(), addr).await;
                let loops: Vec<_> = targets
                    .into_iter()
                    .map(|target| {
                        madsim::task::spawn_local(scrape_target(
                            world.clone(),
                            network.clone(),
                            target,
                            interval,
                            timeout,
                        ))
                    })
                    .collect();
                futures::future::join_all(loops).await;
            }
        })
        .build();
    name_node(world, &node, "scraper");
}

pub(super) async fn drive_client(
    world: Arc<World>,
    system: Arc<dyn System>,
    config: Config,
    servers: Vec<SocketAddr>,
) {
    let addr = SocketAddr::new(CLIENT_IP.into(), APP_PORT);
    let network = bind(&world, None, "client".into(), addr).await;
    world
        .servers_bound(config.servers, SERVERS_BOUND_WITHIN)
        .await;
    let context = ClientContext {
        network,
        registry: world.client_registry.clone(),
        metrics: world.client_metrics.clone(),
        servers,
        workload: config.workload.clone(),
        rng: component_stream(world.seed, "workload"),
        world,
    };
    system.drive(context).await;
}
