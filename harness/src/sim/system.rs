use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use obsim_faults::{ActorFaults, FaultKind};
use rand_chacha::ChaCha8Rng;

use super::network::Network;
use super::storage::Storage;
use super::world::World;
use crate::run::{Contract, Workload};

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

    /// What the system promises about its telemetry: which counters equal
    /// which ground truth, which gauges balance, which histogram times
    /// storage, which span roots a request. Default: nothing promised.
    fn contract(&self) -> Contract {
        Contract::default()
    }
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
    /// The actor handler fault boundary: call it as each invocation starts.
    pub faults: HandlerFaults,
    /// Every server's serving address, by index.
    pub servers: Vec<SocketAddr>,
}

/// Where injected actor panics happen: at the start of a handler, as a bug
/// in the handler would. The runtime under test must isolate the panic.
#[derive(Clone)]
pub struct HandlerFaults {
    pub(crate) node: usize,
    pub(crate) faults: Arc<Mutex<ActorFaults>>,
    pub(crate) world: Arc<World>,
}

/// The payload of an injected actor panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedPanic {
    pub node: String,
    pub actor: String,
    pub operation: String,
}

impl std::fmt::Display for InjectedPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "injected panic in actor {} operation {} on {}",
            self.actor, self.operation, self.node
        )
    }
}

impl HandlerFaults {
    /// Call as a handler starts. When an injected panic fires it unwinds from
    /// here with an [`InjectedPanic`] payload. It uses `resume_unwind`, which
    /// unwinds exactly like `panic!` but skips the panic hook, so that a
    /// thousand injected panics do not flood the test output.
    pub fn before_invoke(&self, actor: &str, operation: &str) {
        let now = self.world.clock.elapsed();
        let fires = self
            .faults
            .lock()
            .expect("actor faults lock")
            .panics(now, operation);
        if !fires {
            return;
        }
        let payload = InjectedPanic {
            node: crate::run::server_name(self.node),
            actor: actor.to_string(),
            operation: operation.to_string(),
        };
        self.world.log_fault(
            FaultKind::ActorPanic,
            &payload.node,
            format!("actor={actor} operation={operation}"),
        );
        std::panic::resume_unwind(Box::new(payload));
    }
}

/// What the client node is given.
pub struct ClientContext {
    pub network: Network,
    /// The client's own registry, scraped like a server's.
    pub registry: prometheus::Registry,
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
