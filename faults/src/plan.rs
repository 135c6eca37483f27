use std::fmt;
use std::time::Duration;

use crate::{Effect, Fault, FaultKind, Partition, Transport, Trigger};

/// The faults of one run. Build it with [`FaultPlan::new`], which validates
/// every fault against the topology and the run's end, so a plan that exists
/// is a plan the harness can honour.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

/// The shortest window (`for`) a fault may have: madsim's shortest timer.
/// A sleep shorter than 1 ms sleeps 1 ms, so the supervisor cannot end a
/// partition, a pause or a socket window sooner, and nothing a system
/// times (a think time, a timeout, a retry's backoff) is finer either.
pub const WINDOW_MIN: Duration = Duration::from_millis(1);

/// What a plan is checked against.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub servers: usize,
    /// The workload's operation names: what a handler fault may aim at.
    pub operations: Vec<String>,
    /// Simulated time by which every scheduled fault must have happened.
    pub run_end: Duration,
    /// The hard bound on the run's simulated time. Work in flight after
    /// `run_end` (the drain, the teardown) still meets the faults whose
    /// window stays open, so a fixed event (`nth`) may be anywhere before it.
    pub time_limit: Duration,
}

impl Topology {
    /// Every node name a partition may list: the servers, `client`, `scraper`.
    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = (0..self.servers).map(|i| format!("server-{i}")).collect();
        names.extend(["client".to_string(), "scraper".to_string()]);
        names
    }
}

/// A node lifecycle event as the harness's supervisor schedules it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    /// The fault's index in the plan.
    pub index: usize,
    pub node: usize,
    pub at: Duration,
    pub action: Lifecycle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Crash { restart_after: Option<Duration> },
    Pause { resume_after: Duration },
}

/// A crash set off by a request in flight on its node, as the supervisor
/// watches for it: from `at` until `until` (None: until the run ends), the
/// first moment the node holds a request it accepted and has not answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlightCrash {
    /// The fault's index in the plan.
    pub index: usize,
    pub node: usize,
    pub at: Duration,
    pub until: Option<Duration>,
    pub restart_after: Option<Duration>,
}

/// A partition as the harness's supervisor schedules it.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionWindow {
    /// The fault's index in the plan.
    pub index: usize,
    pub partition: Partition,
    pub at: Duration,
    pub heal_after: Option<Duration>,
}

/// A delay or a loss on madsim's sockets, as the supervisor applies it to
/// madsim's network-wide `NetSim` config for its window.
#[derive(Clone, Debug, PartialEq)]
pub struct SocketWindow {
    /// The fault's index in the plan.
    pub index: usize,
    pub condition: SocketCondition,
    pub at: Duration,
    /// None: until the run ends.
    pub duration: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SocketCondition {
    /// Added to every packet's latency, drawn by madsim from `min..max`.
    Latency { min: Duration, max: Duration },
    /// The chance each packet fails; TCP sends it again after a backoff.
    Loss { rate: f64 },
}

/// Why a fault cannot be honoured. `index` is the fault's position in the plan
/// and `field` is its field as a scenario file spells it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanError {
    pub index: usize,
    pub field: &'static str,
    pub problem: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fault #{} field `{}`: {}",
            self.index, self.field, self.problem
        )
    }
}

impl std::error::Error for PlanError {}

impl FaultPlan {
    /// Validates `faults` against `topology`.
    pub fn new(faults: Vec<Fault>, topology: &Topology) -> Result<Self, PlanError> {
        for (index, fault) in faults.iter().enumerate() {
            validate(fault, topology).map_err(|(field, problem)| PlanError {
                index,
                field,
                problem,
            })?;
        }
        Ok(FaultPlan { faults })
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Crashes and pauses in the order they happen; ties keep plan order.
    /// A triggered crash is not among them: the event that sets it off
    /// decides when it happens.
    pub fn lifecycle(&self) -> Vec<LifecycleEvent> {
        let mut events: Vec<LifecycleEvent> = self
            .faults
            .iter()
            .enumerate()
            .filter(|(_, fault)| fault.trigger.is_none())
            .filter_map(|(index, fault)| {
                let action = match fault.effect {
                    Effect::NodeCrash { restart_after } => Lifecycle::Crash { restart_after },
                    Effect::NodePause => Lifecycle::Pause {
                        resume_after: fault.duration?,
                    },
                    _ => return None,
                };
                Some(LifecycleEvent {
                    index,
                    node: fault.node?,
                    at: fault.at,
                    action,
                })
            })
            .collect();
        events.sort_by_key(|event| event.at);
        events
    }

    /// The crashes a request in flight sets off, in plan order.
    pub fn in_flight_crashes(&self) -> Vec<InFlightCrash> {
        let in_flight = self.faults.iter().enumerate();
        in_flight
            .filter(|(_, fault)| fault.trigger == Some(Trigger::InFlight))
            .filter_map(|(index, fault)| match fault.effect {
                Effect::NodeCrash { restart_after } => Some(InFlightCrash {
                    index,
                    node: fault.node?,
                    at: fault.at,
                    until: fault.duration.map(|length| fault.at + length),
                    restart_after,
                }),
                _ => None,
            })
            .collect()
    }

    /// Partitions in the order they start; ties keep plan order.
    pub fn partitions(&self) -> Vec<PartitionWindow> {
        let mut windows: Vec<PartitionWindow> = self
            .faults
            .iter()
            .enumerate()
            .filter_map(|(index, fault)| match &fault.effect {
                Effect::NetworkPartition(partition) => Some(PartitionWindow {
                    index,
                    partition: partition.clone(),
                    at: fault.at,
                    heal_after: fault.duration,
                }),
                _ => None,
            })
            .collect();
        windows.sort_by_key(|window| window.at);
        windows
    }

    /// Delays and losses on madsim's sockets, in the order they start; ties
    /// keep plan order.
    pub fn socket_windows(&self) -> Vec<SocketWindow> {
        let mut windows: Vec<SocketWindow> = self
            .faults
            .iter()
            .enumerate()
            .filter(|(_, fault)| fault.transport == Transport::Sockets)
            .filter_map(|(index, fault)| {
                let condition = match fault.effect {
                    Effect::NetworkDelay { min, max } => SocketCondition::Latency { min, max },
                    // Validation makes a socket loss carry its rate.
                    Effect::PacketLoss => SocketCondition::Loss {
                        rate: fault.probability?,
                    },
                    _ => return None,
                };
                Some(SocketWindow {
                    index,
                    condition,
                    at: fault.at,
                    duration: fault.duration,
                })
            })
            .collect();
        windows.sort_by_key(|window| window.at);
        windows
    }
}

type FieldProblem = (&'static str, String);

/// How a kind uses the shared fields.
struct Shape {
    /// Happens at `at` once: a probability does not apply and `at` matters.
    scheduled: bool,
    /// Needs `for`.
    needs_duration: bool,
    /// Needs `node`.
    needs_node: bool,
    /// Operations it may aim at.
    operations: Operations,
}

/// The operations a kind's boundary has.
enum Operations {
    /// `operation` does not apply.
    None,
    /// Only these.
    OneOf(Vec<String>),
    /// Any name: a dependency's operations are named by the system when it
    /// calls it, so the plan cannot know them.
    Any,
}

fn shape(fault: &Fault, topology: &Topology) -> Shape {
    let effect = &fault.effect;
    let scheduled = fault.is_scheduled();
    let (needs_duration, needs_node) = match effect {
        Effect::NodeCrash { .. } => (false, true),
        Effect::NodePause => (true, true),
        _ => (false, false),
    };
    let operations = match effect {
        Effect::StorageLatency { .. } => Operations::OneOf(vec!["get".into(), "put".into()]),
        Effect::HandlerPanic => Operations::OneOf(topology.operations.clone()),
        Effect::DependencyFailure | Effect::DependencyLatency { .. } => Operations::Any,
        _ => Operations::None,
    };
    Shape {
        scheduled,
        needs_duration,
        needs_node,
        operations,
    }
}

fn validate(fault: &Fault, topology: &Topology) -> Result<(), FieldProblem> {
    let kind = fault.kind();
    let shape = shape(fault, topology);
    check_trigger(fault, kind)?;
    check_node(fault, kind, &shape, topology)?;
    check_dependency(fault, kind)?;
    check_operation(fault, kind, &shape)?;
    check_schedule(fault, kind, &shape, topology)?;
    check_transport(fault, kind)?;
    check_endpoint(fault, kind)?;
    check_nth(fault, kind, &shape)?;
    match &fault.effect {
        Effect::StorageLatency { min, max }
        | Effect::NetworkDelay { min, max }
        | Effect::DependencyLatency { min, max } => check_range(*min, *max),
        Effect::NodeCrash { restart_after } | Effect::CrashDuringTransaction { restart_after } => {
            check_restart(fault, *restart_after, topology)
        }
        Effect::NetworkPartition(partition) => check_partition(partition, topology),
        _ => Ok(()),
    }
}

fn check_node(
    fault: &Fault,
    kind: FaultKind,
    shape: &Shape,
    topology: &Topology,
) -> Result<(), FieldProblem> {
    let servers = topology.servers;
    match fault.node {
        Some(node) if node >= servers => Err((
            "node",
            format!("node index {node} is past the topology: expected 0..{servers}"),
        )),
        Some(_) if matches!(fault.effect, Effect::NetworkPartition(_)) => Err((
            "node",
            format!("{kind} is aimed with `from` and `to`, not `node`"),
        )),
        None if shape.needs_node => Err((
            "node",
            format!("{kind} needs the server it hits: expected a node index in 0..{servers}"),
        )),
        _ => Ok(()),
    }
}

/// Only a dependency kind takes a `dependency`; without one it hits every
/// dependency, so a name, when given, must be one.
fn check_dependency(fault: &Fault, kind: FaultKind) -> Result<(), FieldProblem> {
    let Some(dependency) = &fault.dependency else {
        return Ok(());
    };
    if !kind.is_dependency() {
        let kinds: Vec<&str> = FaultKind::ALL
            .into_iter()
            .filter(|kind| kind.is_dependency())
            .map(FaultKind::as_str)
            .collect();
        return Err((
            "dependency",
            format!(
                "`dependency` does not apply to {kind}: only to {}",
                kinds.join(" and ")
            ),
        ));
    }
    if dependency.is_empty() {
        return Err((
            "dependency",
            "expected the name the system calls the dependency by, e.g. \"llm\"".into(),
        ));
    }
    Ok(())
}

fn check_operation(fault: &Fault, kind: FaultKind, shape: &Shape) -> Result<(), FieldProblem> {
    let Some(operation) = &fault.operation else {
        return Ok(());
    };
    match &shape.operations {
        Operations::None => Err((
            "operation",
            format!("{kind} cannot be aimed at an operation: remove `operation`"),
        )),
        Operations::OneOf(known) if !known.contains(operation) => Err((
            "operation",
            format!(
                "unknown operation {operation:?} for {kind}: expected one of {}",
                known.join(", ")
            ),
        )),
        Operations::Any if operation.is_empty() => Err((
            "operation",
            format!("expected the name of the dependency's operation {kind} hits, e.g. \"put\""),
        )),
        _ => Ok(()),
    }
}

fn check_schedule(
    fault: &Fault,
    kind: FaultKind,
    shape: &Shape,
    topology: &Topology,
) -> Result<(), FieldProblem> {
    // A fixed event replays a firing, and faults whose window stays open
    // fire during the drain and teardown too, up to the time limit.
    let end = match fault.nth {
        Some(_) => topology.time_limit,
        None => topology.run_end,
    };
    if let Some(probability) = fault.probability {
        if shape.scheduled {
            return Err((
                "probability",
                format!("{kind} happens once at `at`: a probability does not apply"),
            ));
        }
        // `contains` is false for NaN, so NaN is rejected too.
        if !(0.0..=1.0).contains(&probability) {
            return Err((
                "probability",
                format!("{probability} is not a probability: expected a number in [0, 1]"),
            ));
        }
    }
    if fault.at >= end {
        return Err((
            "at",
            format!(
                "{kind} at {:?} is at or after the end of the run at {end:?}",
                fault.at
            ),
        ));
    }
    match fault.duration {
        Some(length) if length.is_zero() => Err(("for", "expected a duration > 0".into())),
        Some(length) if length < WINDOW_MIN => Err((
            "for",
            format!(
                "a window of {length:?} is shorter than {WINDOW_MIN:?}, madsim's shortest timer: \
                 a shorter partition, pause or socket window would last {WINDOW_MIN:?} anyway, \
                 and no call, retry or timeout of a run is timed finer"
            ),
        )),
        Some(length) if fault.at + length > end => Err((
            "for",
            format!(
                "{kind} from {:?} for {length:?} ends after the run ends at {end:?}",
                fault.at
            ),
        )),
        None if shape.needs_duration => {
            Err(("for", format!("{kind} needs `for`: how long until it ends")))
        }
        _ => Ok(()),
    }
}

/// A socket fault is what madsim's `NetSim` can do: a network-wide latency
/// for every packet, or a network-wide loss rate.
fn check_transport(fault: &Fault, kind: FaultKind) -> Result<(), FieldProblem> {
    if fault.transport == Transport::Messages {
        return Ok(());
    }
    match fault.effect {
        Effect::NetworkDelay { .. } | Effect::PacketLoss => {}
        Effect::NetworkPartition(_) => {
            return Err((
                "transport",
                format!(
                    "a {kind} cuts madsim's sockets and obsim's messages alike: remove `transport`"
                ),
            ))
        }
        _ => {
            return Err((
                "transport",
                format!(
                    "`transport` does not apply to {kind}: only to network_delay and packet_loss"
                ),
            ))
        }
    }
    if fault.node.is_some() {
        return Err((
            "node",
            format!(
                "{kind} on sockets is network-wide (madsim's NetSim has one latency and one loss \
                 rate for every link): remove `node`, or isolate a node with a network_partition"
            ),
        ));
    }
    match (fault.effect.clone(), fault.probability) {
        (Effect::NetworkDelay { .. }, Some(_)) => Err((
            "probability",
            "network_delay on sockets delays every packet (NetSim has no per-packet chance): remove `probability`".into(),
        )),
        (Effect::PacketLoss, None) => Err((
            "probability",
            "packet_loss on sockets needs `probability`: NetSim's loss rate per packet, e.g. 0.05".into(),
        )),
        (Effect::PacketLoss, Some(rate)) if rate <= 0.0 || rate >= 1.0 => Err((
            "probability",
            format!(
                "{rate} is not a loss rate madsim can run: expected more than 0 and less than 1 \
                 (at 1 no packet ever arrives and TCP retries forever: use a network_partition)"
            ),
        )),
        _ => Ok(()),
    }
}

/// `endpoint` names a sender of obsim's typed messages: only the message
/// kinds act per sender.
fn check_endpoint(fault: &Fault, kind: FaultKind) -> Result<(), FieldProblem> {
    let Some(endpoint) = &fault.endpoint else {
        return Ok(());
    };
    let per_message = matches!(
        fault.effect,
        Effect::NetworkDelay { .. } | Effect::PacketLoss | Effect::MessageDuplication
    );
    if !per_message || fault.transport == Transport::Sockets {
        return Err((
            "endpoint",
            format!(
                "`endpoint` does not apply to {kind}{}: only to network_delay, packet_loss and \
                 message_duplication on obsim's messages",
                if per_message { " on sockets" } else { "" }
            ),
        ));
    }
    if endpoint.is_empty() {
        return Err((
            "endpoint",
            "expected the name the system bound the sending endpoint under, e.g. \"server-0:app\""
                .into(),
        ));
    }
    Ok(())
}

/// A fault with `nth` is one event at one opportunity of one component, so
/// it needs an aim that names a single component and a value that needs no
/// draw.
fn check_nth(fault: &Fault, kind: FaultKind, shape: &Shape) -> Result<(), FieldProblem> {
    let Some(nth) = fault.nth else {
        return Ok(());
    };
    if nth == 0 {
        return Err((
            "nth",
            "opportunities count from 1: expected nth >= 1".into(),
        ));
    }
    if shape.scheduled {
        return Err((
            "nth",
            format!("{kind} already happens once, at `at`: remove `nth`"),
        ));
    }
    if fault.transport == Transport::Sockets {
        return Err((
            "nth",
            format!(
                "{kind} on sockets is a window over madsim's network, not one event: remove `nth`"
            ),
        ));
    }
    if fault.probability.is_some() {
        return Err((
            "probability",
            format!(
                "a {kind} with `nth` fires exactly once, at that opportunity: remove `probability`"
            ),
        ));
    }
    if fault.duration.is_some() {
        return Err((
            "for",
            format!("a {kind} with `nth` is one event, not a window: remove `for`"),
        ));
    }
    if fault.effect.is_ranged() {
        return Err((
            "min",
            format!("a {kind} with `nth` takes one fixed latency, not a range: give `latency`"),
        ));
    }
    check_nth_aim(fault, kind)
}

/// Each component counts its own opportunities, so a fixed event names the
/// one component whose count it means.
fn check_nth_aim(fault: &Fault, kind: FaultKind) -> Result<(), FieldProblem> {
    let message = matches!(
        fault.effect,
        Effect::NetworkDelay { .. } | Effect::PacketLoss | Effect::MessageDuplication
    );
    if message && fault.endpoint.is_none() {
        return Err((
            "endpoint",
            format!("a {kind} with `nth` needs `endpoint`: the sender whose messages it counts"),
        ));
    }
    if !message && fault.node.is_none() {
        return Err((
            "node",
            format!("a {kind} with `nth` needs `node`: the server whose opportunities it counts"),
        ));
    }
    if kind.is_dependency() && fault.dependency.is_none() {
        return Err((
            "dependency",
            format!("a {kind} with `nth` needs `dependency`: the one whose calls it counts"),
        ));
    }
    Ok(())
}

/// Only a crash takes a trigger: the other kinds act at each opportunity
/// already (each write, message, invocation), and a pause or a partition
/// has a window that a moment cannot give. A request in flight is a state
/// the supervisor watches, not an event it counts, so it takes neither a
/// chance nor an `nth`.
fn check_trigger(fault: &Fault, kind: FaultKind) -> Result<(), FieldProblem> {
    let Some(trigger) = fault.trigger else {
        return Ok(());
    };
    match fault.effect {
        Effect::NodeCrash { .. } => {}
        Effect::CrashDuringTransaction { .. } => {
            return Err((
                "on",
                format!(
                    "{kind} is set off by a storage write already (between its start and its \
                     commit): remove `on`"
                ),
            ))
        }
        _ => {
            return Err((
                "on",
                format!("`on` does not apply to {kind}: only to node_crash"),
            ))
        }
    }
    if trigger != Trigger::InFlight {
        return Ok(());
    }
    let what = "a node_crash on in_flight fires once, at `at` or the first moment after it \
                that a request is in flight on its node";
    if fault.probability.is_some() {
        return Err(("probability", format!("{what}: remove `probability`")));
    }
    if fault.nth.is_some() {
        return Err((
            "nth",
            format!("{what}: remove `nth` (on = \"accept\" counts requests)"),
        ));
    }
    Ok(())
}

fn check_range(min: Duration, max: Duration) -> Result<(), FieldProblem> {
    if min > max {
        return Err(("min", format!("{min:?} is above max {max:?}")));
    }
    if max.is_zero() {
        return Err(("max", "a delay of zero delays nothing: expected > 0".into()));
    }
    Ok(())
}

fn check_restart(
    fault: &Fault,
    restart_after: Option<Duration>,
    topology: &Topology,
) -> Result<(), FieldProblem> {
    let Some(delay) = restart_after else {
        return Ok(());
    };
    if delay.is_zero() {
        return Err(("restart_after", "expected a delay > 0".into()));
    }
    // A crash during a transaction, or one a trigger sets off, happens when
    // its event does, so only a scheduled crash has a restart time known in
    // advance.
    if fault.is_scheduled() && fault.at + delay > topology.run_end {
        return Err((
            "restart_after",
            format!(
                "a restart at {:?} is after the run ends at {:?}",
                fault.at + delay,
                topology.run_end
            ),
        ));
    }
    Ok(())
}

fn check_partition(partition: &Partition, topology: &Topology) -> Result<(), FieldProblem> {
    let known = topology.node_names();
    if partition.from.is_empty() {
        return Err((
            "from",
            format!("expected at least one node name, from {}", known.join(", ")),
        ));
    }
    for (field, group) in [("from", &partition.from), ("to", &partition.to)] {
        if let Some(unknown) = group.iter().find(|name| !known.contains(name)) {
            return Err((
                field,
                format!(
                    "unknown node {unknown:?}: expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(both) = partition.from.iter().find(|n| partition.to.contains(n)) {
        return Err(("to", format!("{both:?} is on both sides of the partition")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology {
            servers: 3,
            operations: vec!["get".into(), "increment".into()],
            run_end: Duration::from_secs(60),
            time_limit: Duration::from_secs(65),
        }
    }

    fn crash(node: usize, secs: u64) -> Fault {
        Fault::new(Effect::NodeCrash {
            restart_after: None,
        })
        .on_node(node)
        .at(Duration::from_secs(secs))
    }

    fn field_of(fault: Fault) -> &'static str {
        FaultPlan::new(vec![fault], &topology()).unwrap_err().field
    }

    #[test]
    fn socket_faults_are_what_netsim_can_do_and_nothing_else() {
        let delay = || {
            Fault::new(Effect::NetworkDelay {
                min: Duration::from_millis(5),
                max: Duration::from_millis(9),
            })
        };
        let loss = || Fault::new(Effect::PacketLoss).on_sockets();
        assert_eq!(field_of(delay().on_sockets().on_node(0)), "node");
        assert_eq!(
            field_of(delay().on_sockets().with_probability(0.5)),
            "probability"
        );
        assert_eq!(field_of(loss()), "probability");
        assert_eq!(field_of(loss().with_probability(1.0)), "probability");
        assert_eq!(
            field_of(Fault::new(Effect::DiskFull).on_sockets()),
            "transport"
        );
        let partition = Partition {
            from: vec!["client".into()],
            to: Vec::new(),
            one_way: false,
        };
        assert_eq!(
            field_of(Fault::new(Effect::NetworkPartition(partition)).on_sockets()),
            "transport"
        );
        // The positive space: both kinds, network-wide, as NetSim runs them.
        let plan = FaultPlan::new(
            vec![
                loss().with_probability(0.1).at(Duration::from_secs(2)),
                delay()
                    .on_sockets()
                    .at(Duration::from_secs(1))
                    .lasting(Duration::from_secs(1)),
                delay(),
            ],
            &topology(),
        )
        .expect("valid socket faults");
        let windows = plan.socket_windows();
        assert_eq!(
            windows.len(),
            2,
            "the messages delay is not a socket window"
        );
        assert_eq!(windows[0].index, 1);
        assert_eq!(windows[1].condition, SocketCondition::Loss { rate: 0.1 });
    }

    #[test]
    fn fixed_events_need_one_component_and_no_draw() {
        let loss = || Fault::new(Effect::PacketLoss).at(Duration::from_secs(2));
        let write = || Fault::new(Effect::StorageWriteFailure).on_node(1);
        assert_eq!(field_of(loss().at_nth(1)), "endpoint");
        assert_eq!(field_of(write().at_nth(0)), "nth");
        assert_eq!(field_of(Fault::new(Effect::DiskFull).at_nth(1)), "node");
        assert_eq!(
            field_of(write().at_nth(1).with_probability(0.5)),
            "probability"
        );
        assert_eq!(
            field_of(write().at_nth(1).lasting(Duration::from_secs(1))),
            "for"
        );
        assert_eq!(field_of(crash(0, 1).at_nth(1)), "nth");
        // A fixed event may replay a firing after the run's end, before its time limit.
        let late = |secs| write().at(Duration::from_secs(secs)).at_nth(1);
        assert!(FaultPlan::new(vec![late(64)], &topology()).is_ok());
        assert_eq!(field_of(late(65)), "at");
        assert_eq!(field_of(write().at(Duration::from_secs(64))), "at");
        assert_eq!(
            field_of(Fault::new(Effect::DependencyFailure).on_node(0).at_nth(1)),
            "dependency"
        );
        let ranged = Fault::new(Effect::StorageLatency {
            min: Duration::from_millis(1),
            max: Duration::from_millis(2),
        });
        assert_eq!(field_of(ranged.on_node(0).at_nth(1)), "min");
        assert_eq!(field_of(write().from_endpoint("client")), "endpoint");
        assert_eq!(field_of(loss().from_endpoint("")), "endpoint");
        // The positive space: one event per component, as a schedule writes them.
        let fixed = vec![
            loss().from_endpoint("server-0:app").at_nth(3),
            write().at_nth(1),
            Fault::new(Effect::DependencyFailure)
                .on_node(2)
                .on_dependency("llm")
                .at_nth(2),
        ];
        assert!(FaultPlan::new(fixed, &topology()).is_ok());
        assert!(!loss().from_endpoint("client").at_nth(1).is_drawn());
        assert!(write().with_probability(0.5).is_drawn());
        assert!(!write().with_probability(1.0).is_drawn());
    }

    #[test]
    fn only_a_crash_takes_a_trigger_and_in_flight_takes_no_chance_and_no_nth() {
        let triggered = |trigger| {
            Fault::new(Effect::NodeCrash {
                restart_after: Some(Duration::from_secs(30)),
            })
            .on_node(1)
            .on_event(trigger)
        };
        // No `at` needed, a chance or an nth allowed, and a restart may come
        // after the run's end: the event decides when the crash happens.
        let ok = vec![
            triggered(Trigger::Accept).at_nth(3),
            triggered(Trigger::Receive).with_probability(0.1),
            triggered(Trigger::InFlight)
                .at(Duration::from_secs(50))
                .lasting(Duration::from_secs(5)),
            triggered(Trigger::Reply).at(Duration::from_secs(59)),
            crash(0, 2),
        ];
        let plan = FaultPlan::new(ok, &topology()).expect("valid triggers");
        let scheduled: Vec<usize> = plan.lifecycle().iter().map(|e| e.index).collect();
        assert_eq!(scheduled, [4], "a triggered crash is no timed crash");
        let watched = plan.in_flight_crashes();
        assert_eq!(watched.len(), 1);
        assert_eq!(
            (watched[0].index, watched[0].node, watched[0].until),
            (2, 1, Some(Duration::from_secs(55)))
        );
        let loss = Fault::new(Effect::PacketLoss).on_event(Trigger::Accept);
        assert_eq!(field_of(loss), "on");
        let torn = Fault::new(Effect::CrashDuringTransaction {
            restart_after: None,
        })
        .on_event(Trigger::Reply);
        let error = FaultPlan::new(vec![torn], &topology()).unwrap_err();
        assert_eq!(error.field, "on");
        assert!(error.problem.contains("storage write already"), "{error}");
        let in_flight = || triggered(Trigger::InFlight);
        assert_eq!(field_of(in_flight().with_probability(0.5)), "probability");
        assert_eq!(field_of(in_flight().at_nth(1)), "nth");
        assert_eq!(field_of(triggered(Trigger::Accept).on_node(3)), "node");
        let unaimed = Fault::new(Effect::NodeCrash {
            restart_after: None,
        })
        .on_event(Trigger::Accept);
        assert_eq!(field_of(unaimed), "node");
        let both = triggered(Trigger::Accept).at_nth(1).with_probability(0.5);
        assert_eq!(field_of(both), "probability");
        assert_eq!(
            field_of(triggered(Trigger::Reply).with_probability(2.0)),
            "probability"
        );
        assert!(triggered(Trigger::Accept).with_probability(0.5).is_drawn());
        assert!(!triggered(Trigger::InFlight).is_drawn());
    }

    #[test]
    fn trigger_names_parse_and_a_write_trigger_points_at_crash_during_transaction() {
        for trigger in Trigger::ALL {
            assert_eq!(trigger.as_str().parse::<Trigger>(), Ok(trigger));
        }
        let unknown = "connect".parse::<Trigger>().unwrap_err();
        assert!(
            unknown.contains(r#""accept", "receive", "in_flight", "reply""#),
            "{unknown}"
        );
        let write = "commit".parse::<Trigger>().unwrap_err();
        assert!(
            write.contains("kind = \"crash_during_transaction\""),
            "{write}"
        );
    }

    #[test]
    fn crash_past_the_topology_is_rejected_with_the_field() {
        let error = FaultPlan::new(vec![crash(3, 1)], &topology()).unwrap_err();
        assert_eq!(error.field, "node");
        assert!(error.to_string().contains("expected 0..3"), "{error}");
    }

    #[test]
    fn probability_outside_unit_interval_is_rejected() {
        for probability in [-0.1, 1.5, f64::NAN] {
            let fault = Fault::new(Effect::StorageWriteFailure).with_probability(probability);
            assert_eq!(field_of(fault), "probability");
        }
        let ok = Fault::new(Effect::StorageWriteFailure).with_probability(1.0);
        assert!(FaultPlan::new(vec![ok], &topology()).is_ok());
    }

    #[test]
    fn scheduled_faults_must_happen_before_the_run_ends() {
        assert_eq!(field_of(crash(0, 60)), "at");
        let pause = Fault::new(Effect::NodePause)
            .on_node(0)
            .at(Duration::from_secs(50))
            .lasting(Duration::from_secs(11));
        assert_eq!(field_of(pause), "for");
        let late_restart = Fault::new(Effect::NodeCrash {
            restart_after: Some(Duration::from_secs(30)),
        })
        .on_node(0)
        .at(Duration::from_secs(40));
        assert_eq!(field_of(late_restart), "restart_after");
    }

    #[test]
    fn zero_durations_and_inverted_ranges_are_rejected() {
        let zero = Fault::new(Effect::DiskFull).lasting(Duration::ZERO);
        assert_eq!(field_of(zero), "for");
        let inverted = Fault::new(Effect::NetworkDelay {
            min: Duration::from_millis(9),
            max: Duration::from_millis(5),
        });
        assert_eq!(field_of(inverted), "min");
        let pause_without_end = Fault::new(Effect::NodePause).on_node(1);
        assert_eq!(field_of(pause_without_end), "for");
    }

    #[test]
    fn operations_are_checked_against_the_boundary() {
        let panic = Fault::new(Effect::HandlerPanic).on_operation("delete");
        let error = FaultPlan::new(vec![panic], &topology()).unwrap_err();
        assert!(error.problem.contains("get, increment"), "{error}");
        let loss = Fault::new(Effect::PacketLoss).on_operation("get");
        assert_eq!(field_of(loss), "operation");
        let latency = Fault::new(Effect::StorageLatency {
            min: Duration::from_millis(1),
            max: Duration::from_millis(1),
        })
        .on_operation("put");
        assert!(FaultPlan::new(vec![latency], &topology()).is_ok());
    }

    #[test]
    fn dependency_faults_take_any_operation_and_only_they_take_a_dependency() {
        let latency = |min, max| {
            Fault::new(Effect::DependencyLatency {
                min: Duration::from_millis(min),
                max: Duration::from_millis(max),
            })
        };
        let ok = vec![
            Fault::new(Effect::DependencyFailure)
                .on_dependency("llm")
                .on_operation("complete"),
            // Without a dependency it hits every one.
            latency(5, 9).on_node(2).on_operation("put"),
        ];
        assert!(FaultPlan::new(ok, &topology()).is_ok());
        let error = FaultPlan::new(
            vec![Fault::new(Effect::StorageWriteFailure).on_dependency("s3")],
            &topology(),
        )
        .unwrap_err();
        assert_eq!(error.field, "dependency");
        assert!(
            error
                .problem
                .contains("only to dependency_failure and dependency_latency"),
            "{error}"
        );
        let unnamed = Fault::new(Effect::DependencyFailure).on_dependency("");
        assert_eq!(field_of(unnamed), "dependency");
        let no_operation = Fault::new(Effect::DependencyFailure).on_operation("");
        assert_eq!(field_of(no_operation), "operation");
        assert_eq!(field_of(latency(9, 5)), "min");
        assert_eq!(field_of(latency(0, 0)), "max");
        assert_eq!(field_of(latency(5, 9).on_sockets()), "transport");
    }

    #[test]
    fn partition_sides_must_name_known_nodes_once() {
        let partition = |from: &[&str], to: &[&str]| {
            Fault::new(Effect::NetworkPartition(Partition {
                from: from.iter().map(|s| s.to_string()).collect(),
                to: to.iter().map(|s| s.to_string()).collect(),
                one_way: false,
            }))
        };
        assert_eq!(field_of(partition(&["server-7"], &[])), "from");
        assert_eq!(field_of(partition(&["client"], &["client"])), "to");
        assert_eq!(field_of(partition(&[], &["client"])), "from");
        let ok = partition(&["client"], &["server-0", "scraper"]);
        assert!(FaultPlan::new(vec![ok], &topology()).is_ok());
    }

    #[test]
    fn lifecycle_comes_out_in_time_order() {
        let plan = FaultPlan::new(vec![crash(1, 9), crash(0, 2)], &topology()).unwrap();
        let order: Vec<usize> = plan.lifecycle().iter().map(|c| c.node).collect();
        assert_eq!(order, vec![0, 1]);
    }
}
