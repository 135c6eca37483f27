use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use rand_chacha::ChaCha8Rng;

use crate::config::Workload;
use crate::network::Network;
use crate::storage::Storage;
use crate::world::World;

/// The system under test. The harness runs one instance per run: `serve` on
/// every server node incarnation, `drive` once on the client node.
///
/// The harness never names a concrete system, so any instrumented service
/// that can be written against these contexts can be simulated.
pub trait System: Send + Sync + 'static {
    /// Runs a server node until it returns or the node crashes. It is called
    /// again, with a new context, for every incarnation after a restart.
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()>;

    /// Drives the workload from the client node. The run's workload phase
    /// ends when this future completes.
    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()>;
}

/// What one incarnation of one server node is given.
pub struct NodeContext {
    /// Server index, from 0.
    pub index: usize,
    /// `server-<index>`: the name obsim reports use.
    pub name: String,
    /// 0 at first boot, then one more for every restart.
    pub incarnation: u32,
    /// The address the system serves on.
    pub addr: SocketAddr,
    /// This incarnation's own registry. A crash throws it away and the next
    /// incarnation gets a fresh one, as a new process would.
    pub registry: prometheus::Registry,
    pub storage: Storage,
    pub network: Network,
    /// Every server's serving address, by index.
    pub servers: Vec<SocketAddr>,
}

/// What the client node is given.
pub struct ClientContext {
    pub network: Network,
    /// Every server's serving address, by index.
    pub servers: Vec<SocketAddr>,
    pub workload: Workload,
    /// The workload's own seeded stream: actor ids, operations, pacing.
    pub rng: ChaCha8Rng,
    pub(crate) world: Arc<World>,
}

impl ClientContext {
    /// Records an invocation's outcome (`ok`, `error`, `timeout`, ...) through
    /// the harness's own channel: ground truth, not a metric.
    pub fn record_outcome(&self, outcome: &str) {
        self.world.record_outcome(outcome);
    }
}
