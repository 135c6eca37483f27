use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::hit::{fixed_event, Aim, Instant};
use crate::{Effect, Fault, FaultKind, FaultPlan, Fired, Hit, Transport, Trigger};

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
/// opportunities: widening a window never shifts later decisions. A fixed
/// event (a fault with `nth`) draws nothing, so adding or removing one never
/// shifts another fault's decisions either.
#[derive(Clone, Debug)]
pub struct Injector {
    seed: u64,
    plan: FaultPlan,
    /// One flag per plan fault: set once a fire-once fault has fired.
    fired: Arc<Vec<AtomicBool>>,
}

/// One plan fault as a component applies it.
#[derive(Clone, Debug)]
struct Rule {
    /// Its index in the plan.
    index: usize,
    fault: Fault,
    /// For a fixed event: the opportunities its aim matched at or after
    /// `at` so far.
    seen: u64,
}

/// The faults that apply to one component.
type Rules = Vec<Rule>;

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
        faults
            .filter(|(_, fault)| keep(fault))
            .map(|(index, fault)| Rule {
                index,
                fault,
                seen: 0,
            })
            .collect()
    }

    /// Storage decisions for server node `node`: reads on stream
    /// `storage/<node>/get` and writes on `storage/<node>/put`, so that an
    /// extra read never shifts which writes fail.
    pub fn storage(&self, node: usize) -> StorageFaults {
        StorageFaults {
            node,
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
            reads: Instant::default(),
            writes: Instant::default(),
        }
    }

    /// Decisions for the calls server node `node` makes to the external
    /// dependency the system names `dependency`, on stream
    /// `dependency/<node>/<dependency>`: one per dependency, so that calls to
    /// one never shift which calls to another fail.
    pub fn dependency(&self, node: usize, dependency: &str) -> DependencyFaults {
        DependencyFaults {
            node,
            dependency: dependency.to_string(),
            rng: component_stream(self.seed, &format!("dependency/{node}/{dependency}")),
            rules: self.rules(|fault| {
                fault.aims_at_node(node)
                    && fault.aims_at_dependency(dependency)
                    && matches!(
                        fault.effect,
                        Effect::DependencyFailure | Effect::DependencyLatency { .. }
                    )
            }),
            instants: BTreeMap::new(),
        }
    }

    /// Network decisions for messages sent from `endpoint` on server node
    /// `node` (None for the client and scraper, which only faults aimed at
    /// every node hit). Partitions are a schedule, not a draw: the harness
    /// applies them.
    pub fn network(&self, node: Option<usize>, endpoint: &str) -> NetworkFaults {
        NetworkFaults {
            endpoint: endpoint.to_string(),
            rng: component_stream(self.seed, &format!("network/{endpoint}")),
            rules: self.rules(|fault| {
                (fault.node.is_none() || fault.node == node)
                    && fault.aims_at_endpoint(endpoint)
                    && fault.transport == Transport::Messages
                    && matches!(
                        fault.effect,
                        Effect::NetworkDelay { .. }
                            | Effect::PacketLoss
                            | Effect::MessageDuplication
                    )
            }),
            sends: Instant::default(),
        }
    }

    /// The crashes events on server node `node` set off: accepted
    /// requests, received messages and replies, each kind of event on its
    /// own stream `trigger/<node>/<event>`, so that an extra message never
    /// shifts which request a crash falls on.
    pub fn triggers(&self, node: usize) -> NodeTriggers {
        let streams = Trigger::ALL
            .into_iter()
            .filter(|trigger| trigger.is_event())
            .map(|trigger| {
                let name = format!("trigger/{node}/{trigger}");
                (trigger, component_stream(self.seed, &name))
            })
            .collect();
        NodeTriggers {
            node,
            streams,
            rules: self.rules(|fault| {
                fault.aims_at_node(node)
                    && fault.trigger.is_some_and(Trigger::is_event)
                    && matches!(fault.effect, Effect::NodeCrash { .. })
            }),
            fired: self.fired.clone(),
            instants: BTreeMap::new(),
        }
    }

    /// Request handler decisions for server node `node`, on stream
    /// `actor/<node>`: the name from when handlers were an actor runtime's,
    /// kept because renaming a stream reshuffles every seed's draws.
    pub fn handler(&self, node: usize) -> HandlerPanics {
        HandlerPanics {
            node,
            rng: component_stream(self.seed, &format!("actor/{node}")),
            rules: self.rules(|fault| {
                fault.aims_at_node(node) && matches!(fault.effect, Effect::HandlerPanic)
            }),
            instants: BTreeMap::new(),
        }
    }
}

/// Says whether `rule` fires at an opportunity at simulated time `now`. A
/// drawn fault draws once whether or not its window is open; a fixed event
/// draws nothing and fires at its own nth opportunity from `at`.
fn fires(rng: &mut ChaCha8Rng, rule: &mut Rule, now: Duration) -> bool {
    if let Some(nth) = rule.fault.nth {
        if now < rule.fault.at || rule.seen >= nth {
            return false;
        }
        rule.seen += 1;
        return rule.seen == nth;
    }
    let draw: f64 = rng.random();
    rule.fault.active_at(now) && draw < rule.fault.chance()
}

/// A latency fault's extra time: a fixed event's own value, else a draw,
/// made whether or not the fault hits, so a miss does not shift the draws of
/// later opportunities.
fn extra_time(rng: &mut ChaCha8Rng, rule: &Rule, min: Duration, max: Duration) -> Duration {
    if rule.fault.nth.is_some() {
        return min;
    }
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

/// A crash during a transaction: restart after this long, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornCrash {
    pub restart_after: Option<Duration>,
}

/// Seeded storage fault decisions for one node.
#[derive(Clone, Debug)]
pub struct StorageFaults {
    node: usize,
    read_rng: ChaCha8Rng,
    write_rng: ChaCha8Rng,
    rules: Rules,
    fired: Arc<Vec<AtomicBool>>,
    reads: Instant,
    writes: Instant,
}

/// Whether a storage fault can act on a read (`write` false) or a write.
fn acts_on(effect: &Effect, write: bool) -> bool {
    match effect {
        Effect::StorageLatency { .. } => true,
        Effect::StorageReadFailure => !write,
        _ => write,
    }
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
        let (rng, instant) = if write {
            (&mut self.write_rng, &mut self.writes)
        } else {
            (&mut self.read_rng, &mut self.reads)
        };
        let nth = instant.tick(now);
        let node = self.node;
        let fixed = |fault: &Fault, latency: Option<Duration>| {
            let latency_op = matches!(fault.effect, Effect::StorageLatency { .. });
            let aim = Aim {
                node: Some(node),
                // Only latency acts on both; the other kinds say which.
                operation: latency_op.then(|| operation.to_string()),
                ..Aim::default()
            };
            fixed_event(fault, now, nth, latency, aim)
        };
        let mut decision = StorageDecision::default();
        let mut torn = None;
        for rule in &mut self.rules {
            if !rule.fault.aims_at_operation(operation) {
                continue;
            }
            // A fixed event counts only the opportunities it can act on;
            // a drawn fault keeps drawing at every one, as it always has,
            // so that no seed's draws move.
            if rule.fault.nth.is_some() && !acts_on(&rule.fault.effect, write) {
                continue;
            }
            let hit = fires(rng, rule, now);
            match rule.fault.effect {
                Effect::StorageLatency { min, max } => {
                    let extra = extra_time(rng, rule, min, max);
                    if hit {
                        *decision.latency.get_or_insert(Duration::ZERO) += extra;
                        decision.fired.push(
                            rule.index,
                            rule.fault.kind(),
                            fixed(&rule.fault, Some(extra)),
                        );
                    }
                }
                Effect::StorageReadFailure if hit && !write => {
                    decision
                        .failure
                        .get_or_insert(FaultKind::StorageReadFailure);
                    decision
                        .fired
                        .push(rule.index, rule.fault.kind(), fixed(&rule.fault, None));
                }
                Effect::StorageWriteFailure | Effect::DiskFull if hit && write => {
                    decision.failure.get_or_insert(rule.fault.kind());
                    decision
                        .fired
                        .push(rule.index, rule.fault.kind(), fixed(&rule.fault, None));
                }
                Effect::CrashDuringTransaction { restart_after } if hit && write => {
                    let event = fixed(&rule.fault, None);
                    torn.get_or_insert((rule.index, restart_after, event));
                }
                _ => {}
            }
        }
        // A write that fails never reaches the disk, so it cannot be torn;
        // the fault then stays armed for a later write. Otherwise it fires
        // once per plan fault, on whichever node writes first.
        if let Some((index, restart_after, event)) = torn.filter(|_| decision.failure.is_none()) {
            if !self.fired[index].swap(true, Ordering::Relaxed) {
                decision.crash = Some(TornCrash { restart_after });
                decision.fired.0.push(Hit {
                    index,
                    kind: FaultKind::CrashDuringTransaction,
                    fixed: event,
                });
            }
        }
        decision
    }
}

/// What happens to one sent message.
#[derive(Clone, Debug, Default, PartialEq)]
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
    endpoint: String,
    rng: ChaCha8Rng,
    rules: Rules,
    sends: Instant,
}

impl NetworkFaults {
    /// Decides the next message sent at simulated time `now`. Several delay
    /// faults that fire add up, as queues along one path would.
    pub fn send(&mut self, now: Duration) -> SendDecision {
        let nth = self.sends.tick(now);
        let aim = || Aim {
            endpoint: Some(self.endpoint.clone()),
            ..Aim::default()
        };
        let mut decision = SendDecision::default();
        for rule in &mut self.rules {
            let hit = fires(&mut self.rng, rule, now);
            let mut latency = None;
            match rule.fault.effect {
                Effect::NetworkDelay { min, max } => {
                    let extra = extra_time(&mut self.rng, rule, min, max);
                    if hit {
                        *decision.delay.get_or_insert(Duration::ZERO) += extra;
                        latency = Some(extra);
                    }
                }
                Effect::PacketLoss => decision.lost |= hit,
                Effect::MessageDuplication => decision.duplicated |= hit,
                _ => {}
            }
            if hit {
                let event = fixed_event(&rule.fault, now, nth, latency, aim());
                decision.fired.push(rule.index, rule.fault.kind(), event);
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
    node: usize,
    dependency: String,
    rng: ChaCha8Rng,
    rules: Rules,
    /// Calls by operation at the current instant.
    instants: BTreeMap<String, Instant>,
}

impl DependencyFaults {
    /// Decides a call to the dependency's `operation` (as the system names
    /// it) at simulated time `now`. Several latency faults that fire add up.
    pub fn decide(&mut self, now: Duration, operation: &str) -> DependencyDecision {
        let nth = self
            .instants
            .entry(operation.to_string())
            .or_default()
            .tick(now);
        let aim = || Aim {
            node: Some(self.node),
            dependency: Some(self.dependency.clone()),
            operation: Some(operation.to_string()),
            ..Aim::default()
        };
        let mut decision = DependencyDecision::default();
        for rule in &mut self.rules {
            if !rule.fault.aims_at_operation(operation) {
                continue;
            }
            let hit = fires(&mut self.rng, rule, now);
            match rule.fault.effect {
                Effect::DependencyLatency { min, max } => {
                    let extra = extra_time(&mut self.rng, rule, min, max);
                    if hit {
                        *decision.latency.get_or_insert(Duration::ZERO) += extra;
                        let event = fixed_event(&rule.fault, now, nth, Some(extra), aim());
                        decision.fired.push(rule.index, rule.fault.kind(), event);
                    }
                }
                Effect::DependencyFailure if hit => {
                    decision.failure = true;
                    let event = fixed_event(&rule.fault, now, nth, None, aim());
                    decision.fired.push(rule.index, rule.fault.kind(), event);
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
    node: usize,
    rng: ChaCha8Rng,
    rules: Rules,
    /// Invocations by operation at the current instant.
    instants: BTreeMap<String, Instant>,
}

impl HandlerPanics {
    /// Every fault that makes the handler of `operation` invoked at `now`
    /// panic; empty when it does not.
    pub fn panics(&mut self, now: Duration, operation: &str) -> Vec<Hit> {
        let nth = self
            .instants
            .entry(operation.to_string())
            .or_default()
            .tick(now);
        let mut fired = Fired::default();
        for rule in &mut self.rules {
            if rule.fault.aims_at_operation(operation) && fires(&mut self.rng, rule, now) {
                let aim = Aim {
                    node: Some(self.node),
                    operation: Some(operation.to_string()),
                    ..Aim::default()
                };
                let event = fixed_event(&rule.fault, now, nth, None, aim);
                fired.push(rule.index, rule.fault.kind(), event);
            }
        }
        fired.0
    }
}

/// A crash an event on a node sets off.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggeredCrash {
    /// Restart after this long, or never.
    pub restart_after: Option<Duration>,
    /// The plan fault that fired, for the fault log and the fixed schedule.
    pub hit: Hit,
}

/// Seeded decisions of the crashes one node's events set off.
#[derive(Clone, Debug)]
pub struct NodeTriggers {
    node: usize,
    streams: BTreeMap<Trigger, ChaCha8Rng>,
    rules: Rules,
    /// Shared with every component: a crash fires once per plan fault.
    fired: Arc<Vec<AtomicBool>>,
    /// Events by kind at the current instant.
    instants: BTreeMap<Trigger, Instant>,
}

impl NodeTriggers {
    /// Whether no fault of the plan is set off by this node's events.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Decides whether `event`, happening on the node at simulated time
    /// `now`, sets a crash off. Each fault draws at every event of its
    /// trigger, window open or not, fired or not, so that its stream stays
    /// aligned with the count of events; it fires once, on the first event
    /// its chance (or `nth`) picks. None for an event no rule watches
    /// (`InFlight`, which the supervisor watches).
    pub fn decide(&mut self, event: Trigger, now: Duration) -> Option<TriggeredCrash> {
        let rng = self.streams.get_mut(&event)?;
        let nth = self.instants.entry(event).or_default().tick(now);
        let mut crash = None;
        for rule in self
            .rules
            .iter_mut()
            .filter(|r| r.fault.trigger == Some(event))
        {
            let hit = fires(rng, rule, now);
            let Effect::NodeCrash { restart_after } = rule.fault.effect else {
                continue;
            };
            if !hit || crash.is_some() || self.fired[rule.index].swap(true, Ordering::Relaxed) {
                continue;
            }
            let aim = Aim {
                node: Some(self.node),
                ..Aim::default()
            };
            let fixed = fixed_event(&rule.fault, now, nth, None, aim);
            crash = Some(TriggeredCrash {
                restart_after,
                hit: Hit {
                    index: rule.index,
                    kind: FaultKind::NodeCrash,
                    fixed,
                },
            });
        }
        crash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaultLog, Topology};
    use rand::RngCore;

    const SECOND: Duration = Duration::from_secs(1);

    fn indices(fired: &Fired, kind: FaultKind) -> Vec<usize> {
        fired.of(kind).iter().map(|hit| hit.index).collect()
    }

    fn plan(faults: Vec<Fault>) -> FaultPlan {
        let topology = Topology {
            servers: 2,
            operations: vec!["get".into(), "increment".into()],
            run_end: Duration::from_secs(60),
            time_limit: Duration::from_secs(600),
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
            assert_eq!(indices(&decision.fired, FaultKind::DependencyFailure), [0]);
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
        assert_eq!(indices(&slow.fired, FaultKind::DependencyLatency), [1]);
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

    /// Runs a fixed sequence of opportunities (several at each instant) on
    /// every component kind, logs each hit, and returns what each decided.
    fn opportunities(injector: &Injector, log: &FaultLog) -> Vec<String> {
        let mut storage = injector.storage(1);
        let mut network = injector.network(Some(0), "server-0:app");
        let mut llm = injector.dependency(0, "llm");
        let mut handler = injector.handler(1);
        let mut seen = Vec::new();
        for step in 0..400u64 {
            let now = Duration::from_millis(step / 3 * 10);
            let write = storage.write(now);
            let read = storage.read(now);
            let send = network.send(now);
            let call = llm.decide(now, if step % 2 == 0 { "complete" } else { "embed" });
            let panics = handler.panics(now, "increment");
            for fired in [&write.fired, &read.fired, &send.fired, &call.fired] {
                log.fired(&fired.0);
            }
            log.fired(&panics);
            seen.push(format!(
                "{:?} {:?} {:?} {:?} | {:?} {:?} | {:?} {} {} | {:?} {} | {}",
                write.latency,
                write.failure,
                write.crash,
                read.failure,
                read.latency,
                now,
                send.delay,
                send.lost,
                send.duplicated,
                call.latency,
                call.failure,
                panics.len()
            ));
        }
        seen
    }

    #[test]
    fn fixed_schedule_replays_every_drawn_decision_without_a_draw() {
        let ms = Duration::from_millis;
        let drawn = vec![
            Fault::new(Effect::StorageWriteFailure).with_probability(0.2),
            Fault::new(Effect::StorageLatency {
                min: ms(1),
                max: ms(9),
            })
            .with_probability(0.5),
            Fault::new(Effect::StorageReadFailure)
                .on_node(1)
                .with_probability(0.3),
            Fault::new(Effect::NetworkDelay {
                min: ms(1),
                max: ms(4),
            }),
            Fault::new(Effect::PacketLoss).with_probability(0.1),
            Fault::new(Effect::MessageDuplication).with_probability(0.1),
            Fault::new(Effect::DependencyFailure).with_probability(0.25),
            Fault::new(Effect::DependencyLatency {
                min: ms(2),
                max: ms(3),
            })
            .on_operation("embed")
            .with_probability(0.5),
            Fault::new(Effect::HandlerPanic).with_probability(0.2),
            Fault::new(Effect::CrashDuringTransaction {
                restart_after: None,
            })
            .with_probability(0.05),
            // Acts the same whatever the draws: it stays a window.
            Fault::new(Effect::DiskFull).at(ms(500)).lasting(ms(100)),
        ];
        let log = FaultLog::new(10_000);
        let original = opportunities(&Injector::new(9, plan(drawn.clone())), &log);
        let schedule = log.fixed_schedule(&drawn).expect("under capacity");
        assert!(schedule.len() > 100, "{} events", schedule.len());
        assert!(schedule.iter().all(|fault| !fault.is_drawn()));
        let replay_log = FaultLog::new(10_000);
        // Another seed: nothing in the schedule may depend on the draws.
        let replayed = opportunities(&Injector::new(1234, plan(schedule.clone())), &replay_log);
        assert_eq!(original, replayed);
        // Every event fired once, and removing one moves no other.
        let counts = replay_log.counts_by_entry();
        let events = schedule.iter().filter(|fault| fault.nth.is_some()).count();
        assert_eq!(
            counts
                .iter()
                .filter(|(index, n)| schedule[**index].nth.is_some() && **n == 1)
                .count(),
            events
        );
        let mut fewer = schedule.clone();
        let removed = fewer
            .iter()
            .position(|fault| fault.kind() == FaultKind::PacketLoss)
            .unwrap();
        fewer.remove(removed);
        let shrunk = opportunities(&Injector::new(1234, plan(fewer)), &FaultLog::new(10_000));
        let differing: Vec<usize> = (0..original.len())
            .filter(|i| original[*i] != shrunk[*i])
            .collect();
        assert_eq!(
            differing.len(),
            1,
            "only the lost message changes: {differing:?}"
        );
    }

    #[test]
    fn overflowing_the_log_makes_the_schedule_an_error_not_a_partial_replay() {
        let fault = Fault::new(Effect::PacketLoss).with_probability(0.5);
        let log = FaultLog::new(5);
        opportunities(&Injector::new(3, plan(vec![fault.clone()])), &log);
        let overflow = log.fixed_schedule(&[fault]).unwrap_err();
        assert_eq!(overflow.kept, 5);
        assert!(
            overflow.to_string().contains("fault log keeps 5"),
            "{overflow}"
        );
    }

    fn crash_on(trigger: Trigger) -> Fault {
        Fault::new(Effect::NodeCrash {
            restart_after: Some(SECOND),
        })
        .on_node(1)
        .on_event(trigger)
    }

    #[test]
    fn a_triggered_crash_fires_once_on_the_nth_event_of_its_kind_on_its_node_from_at() {
        let fault = crash_on(Trigger::Accept).at(SECOND).at_nth(3);
        let injector = Injector::new(5, plan(vec![fault]));
        let mut aimed = injector.triggers(1);
        let mut other = injector.triggers(0);
        // Before `at`, other kinds of event, and other nodes do not count.
        assert_eq!(aimed.decide(Trigger::Accept, SECOND / 2), None);
        assert_eq!(aimed.decide(Trigger::Receive, SECOND), None);
        assert_eq!(aimed.decide(Trigger::InFlight, SECOND), None);
        assert_eq!(other.decide(Trigger::Accept, SECOND), None);
        assert_eq!(aimed.decide(Trigger::Accept, SECOND), None);
        assert_eq!(aimed.decide(Trigger::Accept, SECOND), None);
        let crash = aimed
            .decide(Trigger::Accept, 2 * SECOND)
            .expect("the third");
        assert_eq!(crash.restart_after, Some(SECOND));
        assert_eq!((crash.hit.index, crash.hit.kind), (0, FaultKind::NodeCrash));
        assert_eq!(crash.hit.fixed, None, "a fixed event replays as itself");
        assert!((0..10).all(|_| aimed.decide(Trigger::Accept, 3 * SECOND).is_none()));
    }

    #[test]
    fn a_drawn_trigger_fires_once_and_replays_as_its_fixed_event_on_any_seed() {
        let drawn = crash_on(Trigger::Reply).with_probability(0.2);
        let first_crash = |injector: &Injector| {
            let mut triggers = injector.triggers(1);
            (0..200u64).find_map(|step| {
                let now = Duration::from_millis(step / 2);
                triggers
                    .decide(Trigger::Reply, now)
                    .map(|crash| (step, crash))
            })
        };
        let (step, crash) =
            first_crash(&Injector::new(11, plan(vec![drawn.clone()]))).expect("one reply in five");
        let fixed = crash
            .hit
            .fixed
            .clone()
            .expect("a drawn fault has a fixed event");
        assert_eq!(fixed.trigger, Some(Trigger::Reply));
        assert_eq!(fixed.node, Some(1));
        assert_eq!(fixed.at, Duration::from_millis(step / 2));
        assert_eq!(
            first_crash(&Injector::new(11, plan(vec![drawn]))).map(|(s, _)| s),
            Some(step)
        );
        let replayed = first_crash(&Injector::new(999, plan(vec![fixed])));
        assert_eq!(replayed.map(|(s, _)| s), Some(step));
    }

    #[test]
    fn handler_panics_only_hit_their_operation() {
        let fault = Fault::new(Effect::HandlerPanic).on_operation("increment");
        let mut actor = Injector::new(1, plan(vec![fault])).handler(0);
        let hits = actor.panics(SECOND, "increment");
        assert_eq!(hits.iter().map(|hit| hit.index).collect::<Vec<_>>(), [0]);
        assert!(actor.panics(SECOND, "get").is_empty());
    }
}
