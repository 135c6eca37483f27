use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use obsim_faults::{FaultKind, HandlerPanics};
use rand_chacha::ChaCha8Rng;

use super::dependency::Dependency;
use super::endpoint::{MetricsHandler, MetricsSlot};
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

    /// Wraps the whole run, on the thread that runs it: for what a library
    /// can only scope per thread, such as the `metrics` crate's local
    /// recorder (`obsim::adapters::MetricsRecorders` does this). It must
    /// call `run` exactly once. Default: just `run()`.
    fn run_scope(&self, run: &mut dyn FnMut()) {
        run()
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
    /// incarnation gets a fresh one, as a new process would. It is what the
    /// node's `/metrics` serves, unless the system calls
    /// [`NodeContext::serve_metrics`] with a handler of its own.
    pub registry: prometheus::Registry,
    pub storage: Storage,
    pub network: Network,
    /// The request handler fault boundary: call
    /// [`HandlerFaults::before_handle`] as each request's handler starts.
    pub faults: HandlerFaults,
    /// Every server's serving address, by index.
    pub servers: Vec<SocketAddr>,
    pub(crate) metrics: MetricsSlot,
}

impl NodeContext {
    /// Serves `handler` as this incarnation's `/metrics` instead of
    /// [`NodeContext::registry`]: for a service whose metrics live in another
    /// library (`prometheus-client`, `metrics`, OpenTelemetry) or a registry
    /// of its own. obsim scrapes it at every scrape interval and reads the
    /// incarnation's final values through it. Call it once, at boot: what a
    /// handler installed later replaces is never scraped again.
    pub fn serve_metrics(&self, handler: impl MetricsHandler) {
        self.metrics.set(Arc::new(handler));
    }

    /// Registers probe `name`: a reading of this incarnation's real state
    /// (a cache's size, the connections open, the queue's depth) that obsim
    /// takes in the same poll as every render of the node's metrics, at
    /// every scrape and for the final values. `Contract::probe` then ties a
    /// gauge to it: the gauge must show what the probe read at that instant.
    /// It is ground truth from the service itself, so probe real state, not
    /// the metric: `move || cache.len() as f64`, with a handle the service's
    /// own API gives. Register each probe at boot; a crash drops it with the
    /// incarnation's endpoint, and the next incarnation registers its own.
    pub fn probe(&self, name: &str, read: impl Fn() -> f64 + Send + Sync + 'static) {
        self.metrics.add_probe(name, Arc::new(read));
    }

    /// Adds `amount` to the running total `name`, as
    /// [`ClientContext::record_amount`] does from the client: ground truth a
    /// server knows and the client does not, such as the bytes it stored.
    /// Totals are run-wide, summed over every node that records them.
    pub fn record_amount(&self, name: &str, amount: u64) {
        self.faults.world.record_amount(name, amount);
    }

    /// The value of secret `name` (an API key, a token) for this run: a
    /// canary drawn from the seed, the same on every node and incarnation.
    /// Use it where the service uses the real secret (a header it sends, a
    /// key it checks). Declare the name with [`Contract::secret`];
    /// `secret_leaks` then fails a run whose logs, spans or metrics hold
    /// it. An undeclared name still gets a value, and `secret_leaks`
    /// reports it.
    pub fn secret(&self, name: &str) -> String {
        self.faults.world.secret(name)
    }

    /// The fault point around dependency `name` (`s3`, `llm`): wrap each
    /// call to it in [`Dependency::call`]. Scenario faults of kind
    /// `dependency_failure` and `dependency_latency` aimed at `name` take
    /// effect there, and every call is recorded as ground truth. Declare
    /// the name with [`Contract::dependency`], so that a scenario aiming at
    /// a name the system never calls is an error.
    pub fn dependency(&self, name: &str) -> Dependency {
        let world = &self.faults.world;
        Dependency {
            node: self.index,
            name: name.to_string(),
            faults: world.dependency_faults(self.index, name),
            world: world.clone(),
        }
    }
}

/// Where injected handler panics (`handler_panic` faults) happen: at the
/// start of a request handler, as a bug in the handler would. The service
/// under test must isolate the panic: fail that request, keep serving.
#[derive(Clone)]
pub struct HandlerFaults {
    pub(crate) node: usize,
    pub(crate) faults: Arc<Mutex<HandlerPanics>>,
    pub(crate) world: Arc<World>,
}

/// The payload of an injected handler panic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedPanic {
    pub node: String,
    pub operation: String,
    /// The key the request addressed (an actor id, a collection), as given.
    pub key: String,
}

impl std::fmt::Display for InjectedPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "injected panic in handler of operation {} for key {} on {}",
            self.operation, self.key, self.node
        )
    }
}

impl HandlerFaults {
    /// Call as a handler starts. When an injected panic fires it unwinds from
    /// here with an [`InjectedPanic`] payload. It uses `resume_unwind`, which
    /// unwinds exactly like `panic!` but skips the panic hook, so that a
    /// thousand injected panics do not flood the test output.
    ///
    /// `operation` is what `handler_panic` faults aim at (a workload
    /// operation); `key` only goes into the fault log and the payload.
    pub fn before_handle(&self, operation: &str, key: &str) {
        let now = self.world.clock.elapsed();
        let fired = self
            .faults
            .lock()
            .expect("handler faults lock")
            .panics(now, operation);
        if fired.is_empty() {
            return;
        }
        let payload = InjectedPanic {
            node: crate::run::server_name(self.node),
            operation: operation.to_string(),
            key: key.to_string(),
        };
        self.world.log_firing(
            FaultKind::HandlerPanic,
            &payload.node,
            format!("operation={operation} key={key}"),
            &fired,
        );
        std::panic::resume_unwind(Box::new(payload));
    }
}

/// What the client node is given.
pub struct ClientContext {
    pub network: Network,
    /// The client's own registry, scraped like a server's (unless the system
    /// calls [`ClientContext::serve_metrics`]).
    pub registry: prometheus::Registry,
    /// Every server's serving address, by index.
    pub servers: Vec<SocketAddr>,
    pub workload: Workload,
    pub(crate) metrics: MetricsSlot,
    /// The workload's own seeded stream: keys, operations, pacing.
    pub rng: ChaCha8Rng,
    pub(crate) world: Arc<World>,
}

impl ClientContext {
    /// Serves `handler` as the client's `/metrics` instead of
    /// [`ClientContext::registry`]; see [`NodeContext::serve_metrics`].
    pub fn serve_metrics(&self, handler: impl MetricsHandler) {
        self.metrics.set(Arc::new(handler));
    }

    /// Records an invocation's outcome (`ok`, `error`, `timeout`, ...) through
    /// the harness's own channel: ground truth, not a metric.
    ///
    /// One call is one outcome: the request-span checks compare the number
    /// of request spans with `outcomes.total`. Anything else the client
    /// knows goes in [`ClientContext::record_amount`].
    pub fn record_outcome(&self, outcome: &str) {
        self.world.record_outcome(outcome);
    }

    /// The value of secret `name` for this run, as
    /// [`NodeContext::secret`] gives it: the same canary a server gets.
    pub fn secret(&self, name: &str) -> String {
        self.world.secret(name)
    }

    /// Adds `amount` to the client's running total `name`: ground truth that
    /// is not one call's outcome, such as the bytes a request carried (which
    /// a `_bytes` histogram's sum must match), a late reply to a call that
    /// already timed out, or a session it abandoned. Read in expectations
    /// and contract rules as `amounts.<name>`. Naming an amount the client
    /// never recorded is an error, not a zero, so a typo cannot pass: record
    /// `0` up front for one that may stay zero.
    pub fn record_amount(&self, name: &str, amount: u64) {
        self.world.record_amount(name, amount);
    }
}
