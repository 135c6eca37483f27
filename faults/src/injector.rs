use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Effect, Fault, FaultKind, FaultPlan, Transport};

/// The ChaCha stream of one component in one run.
///
/// The seed picks the key and the component name picks the stream, so each
/// component draws from its own sequence: a new storage call on node 1 never
/// moves the network decisions of node 2. The name is hashed with FNV-1a
/// rather than std's hasher, whose output Rust does not promise to keep stable.
pub fn component_stream(seed: u64, component: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a_64(component.as_bytes()));
    rng
}

fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// Hands each component its fault decisions for one seed.
///
/// Every decision draws for every fault that could apply, whether or not the
/// fault's window is open, so a stream stays aligned with the count of
/// opportunities: widening a window never shifts later decisions.
#[derive(Clone, Debug)]
pub struct Injector {
    seed: u64,
    plan: FaultPlan,
    /// One flag per plan fault: set once a fire-once fault has fired.
    fired: Arc<Vec<AtomicBool>>,
}

/// The faults that apply to one component, each with its plan index.
type Rules = Vec<(usize, Fault)>;

impl Injector {
    pub fn new(seed: u64, plan: FaultPlan) -> Self {
        let fired = plan
            .faults()
            .iter()
            .map(|_| AtomicBool::new(false))
            .collect();
        Injector {
            seed,
            plan,
            fired: Arc::new(fired),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    fn rules(&self, keep: impl Fn(&Fault) -> bool) -> Rules {
        let faults = self.plan.faults().iter().cloned().enumerate();
        faults.filter(|(_, fault)| keep(fault)).collect()
    }

    /// Storage decisions for server node `node`: reads on stream
    /// `storage/<node>/get` and writes on `storage/<node>/put`, so that an
    /// extra read never shifts which writes fail.
    pub fn storage(&self, node: usize) -> StorageFaults {
        StorageFaults {
            read_rng: component_stream(self.seed, &format!("storage/{node}/get")),
            write_rng: component_stream(self.seed, &format!("storage/{node}/put")),
            rules: self.rules(|fault| {
                fault.aims_at_node(node)
                    && matches!(
                        fault.effect,
                        Effect::StorageWriteFailure
                            | Effect::StorageReadFailure
                            | Effect::StorageLatency { .. }
                            | Effect::DiskFull
                            | Effect::CrashDuringTransaction { .. }
                    )
            }),
            fired: self.fired.clone(),
        }
    }

    /// Decisions for the calls server node `node` makes to the external
    /// dependency the system names `dependency`, on stream
    /// `dependency/<node>/<dependency>`: one per dependency, so that calls to
    /// one never shift which calls to another fail.
    pub fn dependency(&self, node: usize, dependency: &str) -> DependencyFaults {
        DependencyFaults {
            rng: component_stream(self.seed, &format!("dependency/{node}/{dependency}")),
            rules: self.rules(|fault| {
                fault.aims_at_node(node)
                    && fault.aims_at_dependency(dependency)
                    && matches!(
                        fault.effect,
                        Effect::DependencyFailure | Effect::DependencyLatency { .. }
                    )
            }),
        }
    }

    /// Network decisions for messages sent from `endpoint` on server node
    /// `node` (None for the client and scraper, which only faults aimed at
    /// every node hit). Partitions are a schedule, not a draw: the harness
    /// applies them.
    pub fn network(&self, node: Option<usize>, endpoint: &str) -> NetworkFaults {
        NetworkFaults {
            rng: component_stream(self.seed, &format!("network/{endpoint}")),
            rules: self.rules(|fault| {
                (fault.node.is_none() || fault.node == node)
                    && fault.transport == Transport::Messages
                    && matches!(
                        fault.effect,
                        Effect::NetworkDelay { .. }
                            | Effect::PacketLoss
                            | Effect::MessageDuplication
                    )
            }),
        }
    }

    /// Request handler decisions for server node `node`, on stream
    /// `actor/<node>`: the name from when handlers were an actor runtime's,
    /// kept because renaming a stream reshuffles every seed's draws.
    pub fn handler(&self, node: usize) -> HandlerPanics {
        HandlerPanics {
            rng: component_stream(self.seed, &format!("actor/{node}")),
            rules: self.rules(|fault| {
                fault.aims_at_node(node) && matches!(fault.effect, Effect::HandlerPanic)
            }),
        }
    }
}

/// Draws once for `fault` and says whether it fires now.
fn fires(rng: &mut ChaCha8Rng, fault: &Fault, now: Duration) -> bool {
    let draw: f64 = rng.random();
    fault.active_at(now) && draw < fault.chance()
}

fn draw_between(rng: &mut ChaCha8Rng, min: Duration, max: Duration) -> Duration {
    Duration::from_nanos(rng.random_range(min.as_nanos() as u64..=max.as_nanos() as u64))
}

/// What happens to one storage operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageDecision {
    /// Extra service time from latency faults.
    pub latency: Option<Duration>,
    /// The operation fails with this kind (write failure, read failure, disk full).
    pub failure: Option<FaultKind>,
    /// The node dies after the data write and before the commit.
    pub crash: Option<TornCrash>,
    /// The faults that took effect on this operation.
    pub fired: Fired,
}

/// The faults that hit one opportunity, by plan index and kind, for the
/// per-entry firing count. A component counts each kind where it takes
/// effect: a message lost is not also duplicated, and a partition's cut
/// preempts both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fired(pub Vec<(usize, FaultKind)>);

impl Fired {
    /// The plan indices of the faults of `kind` that hit.
    pub fn of(&self, kind: FaultKind) -> Vec<usize> {
        let of_kind = self.0.iter().filter(|(_, fired)| *fired == kind);
        of_kind.map(|(index, _)| *index).collect()
    }

    fn push(&mut self, index: usize, kind: FaultKind) {
        self.0.push((index, kind));
    }
}

/// A crash during a transaction: restart after this long, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornCrash {
    pub restart_after: Option<Duration>,
}

/// Seeded storage fault decisions for one node.
#[derive(Clone, Debug)]
pub struct StorageFaults {
    read_rng: ChaCha8Rng,
    write_rng: ChaCha8Rng,
    rules: Rules,
    fired: Arc<Vec<AtomicBool>>,
}

impl StorageFaults {
    /// Decides a read (`get`) at simulated time `now`.
    pub fn read(&mut self, now: Duration) -> StorageDecision {
        self.decide(now, "get")
    }

    /// Decides a write (`put`) at simulated time `now`.
    pub fn write(&mut self, now: Duration) -> StorageDecision {
        self.decide(now, "put")
    }

    fn decide(&mut self, now: Duration, operation: &str) -> StorageDecision {
        let write = operation == "put";
        let rng = if write {
            &mut self.write_rng
        } else {
            &mut self.read_rng
        };
        let mut decision = StorageDecision::default();
        let mut torn = None;
        for (index, fault) in &self.rules {
            if !fault.aims_at_operation(operation) {
                continue;
            }
            let hit = fires(rng, fault, now);
            match fault.effect {
                Effect::StorageLatency { min, max } => {
                    let extra = draw_between(rng, min, max);
                    if hit {
                        *decision.latency.get_or_insert(Duration::ZERO) += extra;
                        decision.fired.push(*index, fault.kind());
                    }
                }
                Effect::StorageReadFailure if hit && !write => {
                    decision
                        .failure
                        .get_or_insert(FaultKind::StorageReadFailure);
                    decision.fired.push(*index, fault.kind());
                }
                Effect::StorageWriteFailure | Effect::DiskFull if hit && write => {
                    decision.failure.get_or_insert(fault.kind());
                    decision.fired.push(*index, fault.kind());
                }
                Effect::CrashDuringTransaction { restart_after } if hit && write => {
                    torn.get_or_insert((*index, restart_after));
                }
                _ => {}
            }
        }
        // A write that fails never reaches the disk, so it cannot be torn;
        // the fault then stays armed for a later write. Otherwise it fires
        // once per plan fault, on whichever node writes first.
        if let Some((index, restart_after)) = torn.filter(|_| decision.failure.is_none()) {
            if !self.fired[index].swap(true, Ordering::Relaxed) {
                decision.crash = Some(TornCrash { restart_after });
                decision
                    .fired
                    .push(index, FaultKind::CrashDuringTransaction);
            }
        }
        decision
    }
}

/// What happens to one sent message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendDecision {
    pub delay: Option<Duration>,
    pub lost: bool,
    pub duplicated: bool,
    /// The faults that hit this message.
    pub fired: Fired,
}

/// Seeded network fault decisions for one sending endpoint.
#[derive(Clone, Debug)]
pub struct NetworkFaults {
    rng: ChaCha8Rng,
    rules: Rules,
}

impl NetworkFaults {
    /// Decides the next message sent at simulated time `now`. Several delay
    /// faults that fire add up, as queues along one path would.
    pub fn send(&mut self, now: Duration) -> SendDecision {
        let mut decision = SendDecision::default();
        for (index, fault) in &self.rules {
            let hit = fires(&mut self.rng, fault, now);
            match fault.effect {
                Effect::NetworkDelay { min, max } => {
                    let extra = draw_between(&mut self.rng, min, max);
                    if hit {
                        *decision.delay.get_or_insert(Duration::ZERO) += extra;
                    }
                }
                Effect::PacketLoss => decision.lost |= hit,
                Effect::MessageDuplication => decision.duplicated |= hit,
                _ => {}
            }
            if hit {
                decision.fired.push(*index, fault.kind());
            }
        }
        decision
    }
}

/// What happens to one call to an external dependency.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DependencyDecision {
    /// Extra time the call takes, from latency faults.
    pub latency: Option<Duration>,
    /// The boundary returns an error without calling the dependency.
    pub failure: bool,
    /// The faults that took effect on this call.
    pub fired: Fired,
}

/// Seeded fault decisions for one node's calls to one external dependency.
#[derive(Clone, Debug)]
pub struct DependencyFaults {
    rng: ChaCha8Rng,
    rules: Rules,
}

impl DependencyFaults {
    /// Decides a call to the dependency's `operation` (as the system names
    /// it) at simulated time `now`. Several latency faults that fire add up.
    pub fn decide(&mut self, now: Duration, operation: &str) -> DependencyDecision {
        let mut decision = DependencyDecision::default();
        for (index, fault) in &self.rules {
            if !fault.aims_at_operation(operation) {
                continue;
            }
            let hit = fires(&mut self.rng, fault, now);
            match fault.effect {
                Effect::DependencyLatency { min, max } => {
                    // Drawn whether or not it hits, so a miss does not shift
                    // the draws of later calls.
                    let extra = draw_between(&mut self.rng, min, max);
                    if hit {
                        *decision.latency.get_or_insert(Duration::ZERO) += extra;
                        decision.fired.push(*index, fault.kind());
                    }
                }
                Effect::DependencyFailure if hit => {
                    decision.failure = true;
                    decision.fired.push(*index, fault.kind());
                }
                _ => {}
            }
        }
        decision
    }
}

/// Seeded request handler fault decisions for one node.
#[derive(Clone, Debug)]
pub struct HandlerPanics {
    rng: ChaCha8Rng,
    rules: Rules,
}

impl HandlerPanics {
    /// The plan index of every fault that makes the handler of `operation`
    /// invoked at `now` panic; empty when it does not.
    pub fn panics(&mut self, now: Duration, operation: &str) -> Vec<usize> {
        let mut fired = Vec::new();
        for (index, fault) in &self.rules {
            if fault.aims_at_operation(operation) && fires(&mut self.rng, fault, now) {
                fired.push(*index);
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Topology;
    use rand::RngCore;

    const SECOND: Duration = Duration::from_secs(1);

    fn plan(faults: Vec<Fault>) -> FaultPlan {
        let topology = Topology {
            servers: 2,
            operations: vec!["get".into(), "increment".into()],
            run_end: Duration::from_secs(60),
        };
        FaultPlan::new(faults, &topology).unwrap()
    }

    #[test]
    fn same_seed_and_component_give_the_same_stream() {
        let draws = || {
            let mut rng = component_stream(7, "storage/0");
            [rng.next_u64(), rng.next_u64(), rng.next_u64()]
        };
        assert_eq!(draws(), draws());
    }

    #[test]
    fn components_and_seeds_get_different_streams() {
        let first = |seed, name| component_stream(seed, name).next_u64();
        assert_ne!(first(7, "storage/0"), first(7, "storage/1"));
        assert_ne!(first(7, "storage/0"), first(8, "storage/0"));
    }

    #[test]
    fn write_failure_rate_follows_the_probability_on_its_node_only() {
        let fault = Fault::new(Effect::StorageWriteFailure)
            .on_node(1)
            .with_probability(0.25);
        let injector = Injector::new(3, plan(vec![fault]));
        let mut aimed = injector.storage(1);
        let failures = (0..10_000)
            .filter(|_| aimed.write(SECOND).failure.is_some())
            .count();
        assert!((2_200..2_800).contains(&failures), "{failures} of 10000");
        let mut spared = injector.storage(0);
        assert!((0..1_000).all(|_| spared.write(SECOND).failure.is_none()));
        assert!((0..1_000).all(|_| aimed.read(SECOND).failure.is_none()));
    }

    #[test]
    fn disk_full_fails_every_write_inside_its_window_only() {
        let fault = Fault::new(Effect::DiskFull).at(SECOND).lasting(SECOND);
        let mut storage = Injector::new(1, plan(vec![fault])).storage(0);
        assert_eq!(storage.write(SECOND / 2).failure, None);
        assert_eq!(storage.write(SECOND).failure, Some(FaultKind::DiskFull));
        assert_eq!(storage.write(2 * SECOND).failure, None);
    }

    #[test]
    fn crash_during_transaction_fires_once_across_nodes() {
        let fault = Fault::new(Effect::CrashDuringTransaction {
            restart_after: Some(SECOND),
        });
        let injector = Injector::new(1, plan(vec![fault]));
        let (mut first, mut second) = (injector.storage(0), injector.storage(1));
        assert!(first.write(SECOND).crash.is_some());
        assert!(first.write(SECOND).crash.is_none());
        assert!(second.write(SECOND).crash.is_none());
        assert!(first.read(SECOND).crash.is_none());
    }

    #[test]
    fn delays_stay_inside_their_range() {
        let (min, max) = (Duration::from_millis(5), Duration::from_millis(9));
        let fault = Fault::new(Effect::NetworkDelay { min, max });
        let mut faults = Injector::new(1, plan(vec![fault])).network(None, "client");
        for _ in 0..1_000 {
            let delay = faults
                .send(SECOND)
                .delay
                .expect("probability 1 always delays");
            assert!((min..=max).contains(&delay), "{delay:?}");
        }
    }

    #[test]
    fn node_aimed_network_faults_spare_other_senders() {
        let fault = Fault::new(Effect::PacketLoss).on_node(0);
        let injector = Injector::new(1, plan(vec![fault]));
        assert!(injector.network(Some(0), "server-0:app").send(SECOND).lost);
        assert!(!injector.network(Some(1), "server-1:app").send(SECOND).lost);
        assert!(!injector.network(None, "client").send(SECOND).lost);
    }

    #[test]
    fn dependency_failure_fails_every_call_in_its_window_only() {
        let fault = Fault::new(Effect::DependencyFailure)
            .with_probability(1.0)
            .at(SECOND)
            .lasting(SECOND);
        let mut llm = Injector::new(1, plan(vec![fault])).dependency(0, "llm");
        assert_eq!(
            llm.decide(SECOND / 2, "complete"),
            DependencyDecision::default()
        );
        for _ in 0..100 {
            let decision = llm.decide(SECOND, "complete");
            assert!(decision.failure && decision.latency.is_none());
            assert_eq!(decision.fired.of(FaultKind::DependencyFailure), [0]);
        }
        assert_eq!(
            llm.decide(2 * SECOND, "complete"),
            DependencyDecision::default()
        );
    }

    #[test]
    fn dependency_faults_hit_their_dependency_node_and_operation_only() {
        let failure = Fault::new(Effect::DependencyFailure)
            .on_dependency("s3")
            .on_operation("put");
        let latency = Fault::new(Effect::DependencyLatency {
            min: Duration::from_millis(5),
            max: Duration::from_millis(9),
        })
        .on_node(1);
        let injector = Injector::new(1, plan(vec![failure, latency]));
        let mut s3 = injector.dependency(0, "s3");
        assert!(s3.decide(SECOND, "put").failure);
        assert!(!s3.decide(SECOND, "get").failure);
        assert!(!injector.dependency(0, "llm").decide(SECOND, "put").failure);
        assert_eq!(
            injector
                .dependency(0, "llm")
                .decide(SECOND, "complete")
                .latency,
            None
        );
        let slow = injector.dependency(1, "llm").decide(SECOND, "complete");
        let extra = slow.latency.expect("probability 1 always slows");
        assert!((Duration::from_millis(5)..=Duration::from_millis(9)).contains(&extra));
        assert_eq!(slow.fired.of(FaultKind::DependencyLatency), [1]);
    }

    #[test]
    fn same_seed_gives_the_same_dependency_decisions() {
        let faults = || {
            plan(vec![
                Fault::new(Effect::DependencyFailure).with_probability(0.3),
                Fault::new(Effect::DependencyLatency {
                    min: Duration::from_millis(1),
                    max: Duration::from_millis(50),
                })
                .with_probability(0.5),
            ])
        };
        let decisions = |seed| {
            let mut llm = Injector::new(seed, faults()).dependency(0, "llm");
            (0..200)
                .map(|_| llm.decide(SECOND, "complete"))
                .collect::<Vec<_>>()
        };
        assert_eq!(decisions(7), decisions(7));
        assert_ne!(decisions(7), decisions(8));
    }

    #[test]
    fn handler_panics_only_hit_their_operation() {
        let fault = Fault::new(Effect::HandlerPanic).on_operation("increment");
        let mut actor = Injector::new(1, plan(vec![fault])).handler(0);
        assert_eq!(actor.panics(SECOND, "increment"), [0]);
        assert!(actor.panics(SECOND, "get").is_empty());
    }
}
