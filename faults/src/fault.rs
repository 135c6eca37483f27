use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One fault a run asks for: an [`Effect`] plus where and when it applies.
///
/// Every fault has the same targeting and scheduling fields, so the catalogue
/// stays data-driven: a new kind is one [`Effect`] variant plus the component
/// that honours it.
/// - `node` aims it at one server (index from 0); None means every node.
/// - `dependency` aims a dependency fault at one named external dependency
///   (`s3`, `llm`), as the system names it at its dependency boundary; None
///   means every dependency. Other kinds take none.
/// - `operation` aims it at one operation at its boundary: `get` or `put` for
///   storage latency, a workload operation for a handler panic, the
///   dependency's own operation (`put`, `complete`) for a dependency fault.
/// - `probability` is the chance it fires at each opportunity (each write,
///   each message, each invocation). None means every opportunity.
/// - `at` and `duration` (a scenario file's `for`) are its window in
///   simulated time since the run started. `duration` None means until the
///   run ends. Point events (a crash without a `trigger`) happen at `at`.
/// - `transport` is the traffic a delay or a loss acts on: obsim's typed
///   messages (the default) or madsim's sockets; see [`Transport`].
/// - `endpoint` aims a message fault at the messages one endpoint sends, by
///   the name the system bound it under (`server-0:app`, `client`). None
///   means every sender the `node` allows.
/// - `nth` makes the fault one fixed event: it fires exactly once, at the
///   nth opportunity (1 = the first) its aim matches at or after `at`, with
///   no draw from the seed. A failing run's probabilistic faults are replayed
///   as such events (see [`crate::FaultLog::fixed_schedule`]), so that
///   removing one never moves another.
/// - `trigger` (a scenario file's `on`) sets a `node_crash` off by an event
///   on its node instead of at a time: `at` and `duration` are then the
///   window in which the event may set it off, and `probability` or `nth`
///   pick which event does. See [`Trigger`].
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub effect: Effect,
    pub node: Option<usize>,
    pub dependency: Option<String>,
    pub operation: Option<String>,
    pub probability: Option<f64>,
    pub at: Duration,
    pub duration: Option<Duration>,
    pub transport: Transport,
    pub endpoint: Option<String>,
    pub nth: Option<u64>,
    pub trigger: Option<Trigger>,
}

/// The event that sets a triggered `node_crash` off, instead of a time.
/// Faults fire at drawn times otherwise, and a window microseconds wide (a
/// request accepted and its task not yet polled) is almost never hit.
///
/// Every trigger lands the crash where an `.await` of the node would yield,
/// never in the middle of the synchronous code between two: a crash in a
/// real process can land anywhere, but madsim only stops a task between
/// polls, and the harness reads a crashed incarnation's final metrics at
/// that same point, so correct code, which counts in the poll that does the
/// work, always agrees with the ground truth.
///
/// A crash between a storage write's start and its commit is the kind
/// `crash_during_transaction`, which also leaves the torn write: it is the
/// storage trigger, and lands the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// The node takes a request off the network (`Network::accept`). The
    /// node is frozen at once and killed before any other task of it runs:
    /// the poll that accepted goes on to its next `.await` (so the accept
    /// loop's own bookkeeping happens), and the task it spawned for the
    /// request is never polled.
    Accept,
    /// The node's system endpoint receives a message: a request, a reply to
    /// one of its calls, or a message of `Network::recv`. It lands as
    /// `Accept` does: the receiving poll runs to its next `.await`, nothing
    /// else of the node runs.
    Receive,
    /// The node has a request accepted and not yet answered: at `at`, or at
    /// the first moment after it when one is in flight. The supervisor, a
    /// task outside the node, kills it between two polls, as a timed crash
    /// does, so the requests in flight are cut off wherever their handlers
    /// are waiting.
    InFlight,
    /// The node's handler sends its reply (`Responder::reply`): the reply
    /// is recorded and counted as sent, as the handler's own counters count
    /// it, and the crash lands at that send's `.await`, before the reply
    /// leaves the node: the caller never gets it.
    Reply,
}

impl Trigger {
    /// In the order a swarm draws from: new triggers go at the end.
    pub const ALL: [Trigger; 4] = [
        Trigger::Accept,
        Trigger::Receive,
        Trigger::InFlight,
        Trigger::Reply,
    ];

    /// The name a scenario file's `on` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Accept => "accept",
            Trigger::Receive => "receive",
            Trigger::InFlight => "in_flight",
            Trigger::Reply => "reply",
        }
    }

    /// Whether the node's own code meets the event, so that the harness
    /// decides it where it happens (counting each one, drawing for it);
    /// `InFlight` is a state the supervisor watches instead.
    pub fn is_event(self) -> bool {
        self != Trigger::InFlight
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(trigger) = Trigger::ALL.into_iter().find(|t| t.as_str() == text) {
            return Ok(trigger);
        }
        if matches!(text, "write" | "commit" | "transaction" | "put") {
            return Err(
                "a crash between a storage write's start and its commit is its own \
                        kind: kind = \"crash_during_transaction\" (it also leaves the torn \
                        write for recovery), with no `on`"
                    .into(),
            );
        }
        let names: Vec<String> = Trigger::ALL
            .iter()
            .map(|trigger| format!("{:?}", trigger.as_str()))
            .collect();
        Err(format!(
            "unknown trigger {text:?}: expected one of {} (the event on the node that sets the \
             crash off)",
            names.join(", ")
        ))
    }
}

/// The traffic a `network_delay` or `packet_loss` acts on. A partition needs
/// no choice: it cuts both, node by node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// obsim's typed messages (`Network::send`): decided per message and per
    /// sending node, each one logged and counted (`messages.lost`).
    #[default]
    Messages,
    /// madsim's own sockets (`madsim::net::TcpStream`, `UdpSocket`), through
    /// madsim's `NetSim`. Its latency and loss rate are network-wide, so such
    /// a fault takes no `node`; it is logged once as its window opens. TCP
    /// turns a lost packet into a retransmission, so loss shows as delay.
    Sockets,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Messages => "messages",
            Transport::Sockets => "sockets",
        }
    }
}

impl FromStr for Transport {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "messages" => Ok(Transport::Messages),
            "sockets" => Ok(Transport::Sockets),
            other => Err(format!(
                "unknown transport {other:?}: expected \"messages\" (obsim's typed messages, the default) or \"sockets\" (madsim's TCP and UDP sockets)"
            )),
        }
    }
}

/// What a fault does, with the parameters only that kind has.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A storage write fails; nothing is written.
    StorageWriteFailure,
    /// A storage read fails.
    StorageReadFailure,
    /// A storage operation takes this much longer, drawn from `min..=max`
    /// (equal for a fixed latency).
    StorageLatency { min: Duration, max: Duration },
    /// Writes fail with "no space left" for the fault's window, until space
    /// frees when the window ends.
    DiskFull,
    /// The node dies after a write reached the disk and before its commit,
    /// leaving a torn transaction for recovery. Fires once, on the first
    /// write in the window that the probability picks.
    CrashDuringTransaction { restart_after: Option<Duration> },
    /// The node dies at `at`; with `restart_after` it boots a new incarnation
    /// that long after.
    NodeCrash { restart_after: Option<Duration> },
    /// The node stops running for the window, then resumes where it was.
    NodePause,
    /// A request handler panics as it starts (where the system calls the
    /// harness's handler fault boundary). The service must isolate it: the
    /// node survives and the request fails.
    HandlerPanic,
    /// A sent message is held back by a delay drawn from `min..=max`.
    NetworkDelay { min: Duration, max: Duration },
    /// A sent message is lost.
    PacketLoss,
    /// Messages between two groups of nodes are dropped for the window. With
    /// `one_way`, only messages from `from` to `to` are.
    NetworkPartition(Partition),
    /// A sent message is delivered twice.
    MessageDuplication,
    /// A call to an external dependency fails: its boundary returns an error
    /// without calling the dependency.
    DependencyFailure,
    /// A call to an external dependency takes this much longer, drawn from
    /// `min..=max` (equal for a fixed latency).
    DependencyLatency { min: Duration, max: Duration },
}

/// The two sides of a partition, by node name (`server-0`, `client`,
/// `scraper`). An empty `to` means every node not in `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub one_way: bool,
}

impl Partition {
    /// Whether a message from node `src` to node `dst` is cut.
    pub fn cuts(&self, src: &str, dst: &str) -> bool {
        let side = |group: &[String], name: &str, other: &[String]| {
            if group.is_empty() {
                !other.iter().any(|member| member == name)
            } else {
                group.iter().any(|member| member == name)
            }
        };
        let forward = side(&self.from, src, &self.to) && side(&self.to, dst, &self.from);
        let backward = side(&self.to, src, &self.from) && side(&self.from, dst, &self.to);
        forward || (!self.one_way && backward)
    }
}

impl Fault {
    /// A fault with `effect` everywhere, at every opportunity, all run long.
    pub fn new(effect: Effect) -> Fault {
        Fault {
            effect,
            node: None,
            dependency: None,
            operation: None,
            probability: None,
            at: Duration::ZERO,
            duration: None,
            transport: Transport::Messages,
            endpoint: None,
            nth: None,
            trigger: None,
        }
    }

    /// Sets the fault off by `trigger`, an event on its node, instead of at
    /// a time; see [`Trigger`].
    pub fn on_event(mut self, trigger: Trigger) -> Fault {
        self.trigger = Some(trigger);
        self
    }

    /// Whether the supervisor carries this fault out at a time it knows in
    /// advance: a crash, a pause or a partition without a trigger.
    pub fn is_scheduled(&self) -> bool {
        let kind = matches!(
            self.effect,
            Effect::NodeCrash { .. } | Effect::NodePause | Effect::NetworkPartition(_)
        );
        kind && self.trigger.is_none()
    }

    /// Aims a message fault at the messages `endpoint` sends.
    pub fn from_endpoint(mut self, endpoint: &str) -> Fault {
        self.endpoint = Some(endpoint.to_string());
        self
    }

    /// Makes the fault one fixed event: the `nth` opportunity at or after
    /// `at` (1 = the first).
    pub fn at_nth(mut self, nth: u64) -> Fault {
        self.nth = Some(nth);
        self
    }

    /// Whether the seed decides when this fault fires or what it does: a
    /// chance strictly between 0 and 1, or a range to draw a latency from.
    /// Such a fault is what a fixed schedule replaces by one event per
    /// firing; any other fault acts the same whatever the draws.
    pub fn is_drawn(&self) -> bool {
        // madsim draws a socket fault's packets, per window: the window
        // replays as itself.
        if self.nth.is_some() || self.transport == Transport::Sockets {
            return false;
        }
        let chance = self.chance();
        let ranged = self.effect.is_ranged();
        (chance > 0.0 && chance < 1.0) || ranged
    }

    /// Whether this fault is aimed at the messages of `endpoint` (or of
    /// every endpoint).
    pub fn aims_at_endpoint(&self, endpoint: &str) -> bool {
        self.endpoint.as_deref().is_none_or(|e| e == endpoint)
    }

    /// Acts on madsim's sockets instead of obsim's typed messages.
    pub fn on_sockets(mut self) -> Fault {
        self.transport = Transport::Sockets;
        self
    }

    pub fn on_node(mut self, node: usize) -> Fault {
        self.node = Some(node);
        self
    }

    pub fn on_dependency(mut self, dependency: &str) -> Fault {
        self.dependency = Some(dependency.to_string());
        self
    }

    pub fn on_operation(mut self, operation: &str) -> Fault {
        self.operation = Some(operation.to_string());
        self
    }

    pub fn with_probability(mut self, probability: f64) -> Fault {
        self.probability = Some(probability);
        self
    }

    pub fn at(mut self, at: Duration) -> Fault {
        self.at = at;
        self
    }

    pub fn lasting(mut self, duration: Duration) -> Fault {
        self.duration = Some(duration);
        self
    }

    pub fn kind(&self) -> FaultKind {
        self.effect.kind()
    }

    /// Whether simulated time `now` is inside the fault's window.
    pub fn active_at(&self, now: Duration) -> bool {
        now >= self.at && self.duration.is_none_or(|length| now < self.at + length)
    }

    /// Whether this fault is aimed at server `node` (or at every node).
    pub fn aims_at_node(&self, node: usize) -> bool {
        self.node.is_none_or(|target| target == node)
    }

    /// Whether this fault is aimed at `dependency` (or at every dependency).
    pub fn aims_at_dependency(&self, dependency: &str) -> bool {
        self.dependency.as_deref().is_none_or(|d| d == dependency)
    }

    /// Whether this fault is aimed at `operation` (or at every operation).
    pub fn aims_at_operation(&self, operation: &str) -> bool {
        self.operation.as_deref().is_none_or(|o| o == operation)
    }

    /// The chance per opportunity; 1 when none was given.
    pub fn chance(&self) -> f64 {
        self.probability.unwrap_or(1.0)
    }
}

impl Effect {
    /// The range a latency kind draws its extra time from; None for the
    /// kinds that add no latency.
    pub fn latency_range(&self) -> Option<(Duration, Duration)> {
        match *self {
            Effect::StorageLatency { min, max }
            | Effect::NetworkDelay { min, max }
            | Effect::DependencyLatency { min, max } => Some((min, max)),
            _ => None,
        }
    }

    /// Whether a latency kind draws from a range rather than adding one
    /// fixed latency.
    pub fn is_ranged(&self) -> bool {
        self.latency_range().is_some_and(|(min, max)| min != max)
    }

    /// This effect with its latency fixed at `value`; the kinds that add no
    /// latency are returned as they are.
    pub fn with_latency(self, value: Duration) -> Effect {
        let (min, max) = (value, value);
        match self {
            Effect::StorageLatency { .. } => Effect::StorageLatency { min, max },
            Effect::NetworkDelay { .. } => Effect::NetworkDelay { min, max },
            Effect::DependencyLatency { .. } => Effect::DependencyLatency { min, max },
            other => other,
        }
    }

    pub fn kind(&self) -> FaultKind {
        match self {
            Effect::StorageWriteFailure => FaultKind::StorageWriteFailure,
            Effect::StorageReadFailure => FaultKind::StorageReadFailure,
            Effect::StorageLatency { .. } => FaultKind::StorageLatency,
            Effect::DiskFull => FaultKind::DiskFull,
            Effect::CrashDuringTransaction { .. } => FaultKind::CrashDuringTransaction,
            Effect::NodeCrash { .. } => FaultKind::NodeCrash,
            Effect::NodePause => FaultKind::NodePause,
            Effect::HandlerPanic => FaultKind::HandlerPanic,
            Effect::NetworkDelay { .. } => FaultKind::NetworkDelay,
            Effect::PacketLoss => FaultKind::PacketLoss,
            Effect::NetworkPartition(_) => FaultKind::NetworkPartition,
            Effect::MessageDuplication => FaultKind::MessageDuplication,
            Effect::DependencyFailure => FaultKind::DependencyFailure,
            Effect::DependencyLatency { .. } => FaultKind::DependencyLatency,
        }
    }
}

/// What kind of event a fault log line records. Most kinds are also what a
/// scenario asks for; `NodeRestart`, `NodeResume` and `NetworkHeal` are only
/// logged, as the second half of a crash, pause or partition, so that a
/// counter reset can be matched to a recorded restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    StorageWriteFailure,
    StorageReadFailure,
    StorageLatency,
    DiskFull,
    CrashDuringTransaction,
    NodeCrash,
    NodeRestart,
    NodePause,
    NodeResume,
    HandlerPanic,
    NetworkDelay,
    PacketLoss,
    NetworkPartition,
    NetworkHeal,
    MessageDuplication,
    DependencyFailure,
    DependencyLatency,
}

impl FaultKind {
    /// New kinds go at the end: the order is the catalogue's, and the swarm
    /// draws in it, so inserting one would change every seed's draw.
    pub const ALL: [FaultKind; 17] = [
        FaultKind::StorageWriteFailure,
        FaultKind::StorageReadFailure,
        FaultKind::StorageLatency,
        FaultKind::DiskFull,
        FaultKind::CrashDuringTransaction,
        FaultKind::NodeCrash,
        FaultKind::NodeRestart,
        FaultKind::NodePause,
        FaultKind::NodeResume,
        FaultKind::HandlerPanic,
        FaultKind::NetworkDelay,
        FaultKind::PacketLoss,
        FaultKind::NetworkPartition,
        FaultKind::NetworkHeal,
        FaultKind::MessageDuplication,
        FaultKind::DependencyFailure,
        FaultKind::DependencyLatency,
    ];

    /// The stable snake_case name used in logs, reports and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::StorageWriteFailure => "storage_write_failure",
            FaultKind::StorageReadFailure => "storage_read_failure",
            FaultKind::StorageLatency => "storage_latency",
            FaultKind::DiskFull => "disk_full",
            FaultKind::CrashDuringTransaction => "crash_during_transaction",
            FaultKind::NodeCrash => "node_crash",
            FaultKind::NodeRestart => "node_restart",
            FaultKind::NodePause => "node_pause",
            FaultKind::NodeResume => "node_resume",
            FaultKind::HandlerPanic => "handler_panic",
            FaultKind::NetworkDelay => "network_delay",
            FaultKind::PacketLoss => "packet_loss",
            FaultKind::NetworkPartition => "network_partition",
            FaultKind::NetworkHeal => "network_heal",
            FaultKind::MessageDuplication => "message_duplication",
            FaultKind::DependencyFailure => "dependency_failure",
            FaultKind::DependencyLatency => "dependency_latency",
        }
    }

    /// Whether this kind acts at the boundary of a named external dependency,
    /// and so is the only kind that takes a `dependency`.
    pub fn is_dependency(self) -> bool {
        matches!(
            self,
            FaultKind::DependencyFailure | FaultKind::DependencyLatency
        )
    }

    /// Whether a scenario can ask for this kind, rather than it only being
    /// logged as the second half of another.
    pub fn requestable(self) -> bool {
        !matches!(
            self,
            FaultKind::NodeRestart | FaultKind::NodeResume | FaultKind::NetworkHeal
        )
    }

    /// The kinds a scenario can ask for, in catalogue order.
    pub fn requestable_names() -> Vec<&'static str> {
        FaultKind::ALL
            .into_iter()
            .filter(|kind| kind.requestable())
            .map(FaultKind::as_str)
            .collect()
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    /// Parses any logged kind; the error lists the kinds a scenario can ask for.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown fault kind {text:?}: expected one of {}",
                    FaultKind::requestable_names().join(", ")
                )
            })
    }
}

/// The fault as one line, in scenario-file words: how the swarm's draw is
/// printed next to its seed.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind())?;
        if let Some(node) = self.node {
            write!(f, " node={node}")?;
        }
        if let Some(dependency) = &self.dependency {
            write!(f, " dependency={dependency}")?;
        }
        if let Some(operation) = &self.operation {
            write!(f, " operation={operation}")?;
        }
        if let Some(endpoint) = &self.endpoint {
            write!(f, " endpoint={endpoint}")?;
        }
        if let Some(probability) = self.probability {
            write!(f, " probability={probability:.3}")?;
        }
        if !self.at.is_zero() {
            write!(f, " at={:?}", self.at)?;
        }
        if let Some(duration) = self.duration {
            write!(f, " for={duration:?}")?;
        }
        if let Some(nth) = self.nth {
            write!(f, " nth={nth}")?;
        }
        if let Some(trigger) = self.trigger {
            write!(f, " on={trigger}")?;
        }
        if self.transport != Transport::Messages {
            write!(f, " transport={}", self.transport.as_str())?;
        }
        match &self.effect {
            Effect::StorageLatency { min, max }
            | Effect::NetworkDelay { min, max }
            | Effect::DependencyLatency { min, max } => write!(f, " min={min:?} max={max:?}"),
            Effect::CrashDuringTransaction { restart_after }
            | Effect::NodeCrash { restart_after } => match restart_after {
                Some(delay) => write!(f, " restart_after={delay:?}"),
                None => Ok(()),
            },
            Effect::NetworkPartition(partition) => write!(
                f,
                " from=[{}] to=[{}]{}",
                partition.from.join(","),
                partition.to.join(","),
                if partition.one_way { " one_way" } else { "" }
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn two_way_partition_cuts_both_directions_and_nothing_else() {
        let partition = Partition {
            from: names(&["server-0"]),
            to: names(&["server-1", "client"]),
            one_way: false,
        };
        assert!(partition.cuts("server-0", "server-1"));
        assert!(partition.cuts("client", "server-0"));
        assert!(!partition.cuts("server-1", "client"));
        assert!(!partition.cuts("server-0", "scraper"));
    }

    #[test]
    fn one_way_partition_cuts_only_from_to() {
        let partition = Partition {
            from: names(&["scraper"]),
            to: Vec::new(),
            one_way: true,
        };
        assert!(partition.cuts("scraper", "server-2"));
        assert!(!partition.cuts("server-2", "scraper"));
        assert!(!partition.cuts("scraper", "scraper"));
    }

    #[test]
    fn unknown_kind_lists_the_requestable_ones() {
        let error = "disk_on_fire".parse::<FaultKind>().unwrap_err();
        assert!(error.contains("storage_write_failure"), "{error}");
        assert!(error.contains("message_duplication"), "{error}");
        assert!(!error.contains("node_restart"), "{error}");
    }

    #[test]
    fn dependency_kinds_are_requestable_and_shown_with_their_target() {
        for name in ["dependency_failure", "dependency_latency"] {
            let kind: FaultKind = name.parse().unwrap();
            assert!(kind.requestable() && kind.is_dependency(), "{kind}");
        }
        let latency = Fault::new(Effect::DependencyLatency {
            min: Duration::from_millis(5),
            max: Duration::from_millis(9),
        })
        .on_node(0)
        .on_dependency("llm")
        .on_operation("complete");
        assert_eq!(
            latency.to_string(),
            "dependency_latency node=0 dependency=llm operation=complete min=5ms max=9ms"
        );
        assert!(latency.aims_at_dependency("llm") && !latency.aims_at_dependency("s3"));
        assert!(Fault::new(Effect::DependencyFailure).aims_at_dependency("s3"));
    }

    #[test]
    fn window_is_half_open() {
        let fault = Fault::new(Effect::DiskFull)
            .at(Duration::from_secs(1))
            .lasting(Duration::from_secs(2));
        assert!(!fault.active_at(Duration::from_millis(999)));
        assert!(fault.active_at(Duration::from_secs(1)));
        assert!(!fault.active_at(Duration::from_secs(3)));
    }
}
