use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use madsim::net::Endpoint;
use obsim_faults::{FaultKind, Hit, NetworkFaults, SendDecision, Trigger};

use obsim_scenario::Fate;

use super::world::{node_name, World};

/// A node's network endpoint, with the run's network faults injected on send.
///
/// Messages are typed Rust values: madsim delivers them without serializing,
/// which keeps the simulation fast while the instrumentation (context
/// propagation, message counters) still happens at the real hop.
#[derive(Clone)]
pub struct Network {
    endpoint: Endpoint,
    faults: Arc<Mutex<NetworkFaults>>,
    pub(super) world: Arc<World>,
    /// The endpoint's name, e.g. `server-0:app`, for the fault log.
    name: String,
    /// The node it lives on, e.g. `server-0`, for partitions.
    pub(super) node: String,
    /// The next reply tag's number, for `Network::call`.
    pub(super) next_reply: Arc<std::sync::atomic::AtomicU64>,
    /// The server whose events (requests accepted, messages received,
    /// replies sent) can set a crash off: Some only on the endpoint a
    /// server's system serves on, never on the harness's own.
    pub(super) triggers: Option<usize>,
}

impl Network {
    /// Binds `addr` on the current simulated node. `node` is the server index
    /// that node-aimed faults match, None for the client and the scraper.
    pub(crate) async fn bind(
        world: Arc<World>,
        node: Option<usize>,
        name: String,
        addr: SocketAddr,
    ) -> io::Result<Network> {
        let endpoint = Endpoint::bind(addr).await?;
        let faults = world.network_faults(node, &name);
        Ok(Network {
            endpoint,
            faults,
            world,
            name,
            node: node_name(addr.ip()),
            next_reply: Arc::default(),
            triggers: None,
        })
    }

    /// This endpoint, serving server `node`'s system: its events can set off
    /// the crashes the plan triggers on them.
    pub(crate) fn with_triggers(mut self, node: usize) -> Network {
        self.triggers = Some(node);
        self
    }

    /// Whether `event`, met now in this poll, sets off a crash of this
    /// endpoint's server. If it does, the crash is logged with what
    /// `describe` says of the event, and the node is frozen: it dies where
    /// this poll ends (see `triggers.rs`).
    pub(super) fn trigger(&self, event: Trigger, describe: impl FnOnce() -> String) -> bool {
        let triggers = &self.world.triggers;
        let Some(node) = self.triggers.filter(|node| triggers.aim_at(*node)) else {
            return false;
        };
        // Frozen for a crash already: this poll's events die with it.
        if self.world.crash_requests.is_frozen(node) {
            return false;
        }
        let now = self.world.clock.elapsed();
        let Some(crash) = self.world.triggers.decide(node, event, now) else {
            return false;
        };
        let detail = format!("on={event}: {}", describe());
        let name = crate::run::server_name(node);
        let kind = FaultKind::NodeCrash;
        self.world.log_firing(kind, &name, detail, &[crash.hit]);
        self.world.crash_requests.request(node, crash.restart_after);
        true
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint
            .local_addr()
            .expect("a bound endpoint has an address")
    }

    /// Sends `message` to `dst` under `tag`, with the run's network faults:
    /// an injected delay holds this sender, as a slow link would hold its
    /// queue; a lost message or one cut by a partition vanishes without an
    /// error, as a datagram would; a duplicated one arrives twice.
    ///
    /// Tags from [`RESERVED_TAGS_START`] up are obsim's own (requests and
    /// replies of [`Network::call`]); sending under one is an error.
    pub async fn send<M: Any + Clone + Send + Sync>(
        &self,
        dst: SocketAddr,
        tag: u64,
        message: M,
    ) -> io::Result<()> {
        reject_reserved(tag)?;
        self.send_as(dst, tag, message, message_name::<M>()).await
    }

    /// [`Network::send`] under any tag, counted as a message named `kind`.
    pub(crate) async fn send_as<M: Any + Clone + Send + Sync>(
        &self,
        dst: SocketAddr,
        tag: u64,
        message: M,
        kind: String,
    ) -> io::Result<()> {
        self.count_send(&kind)?;
        self.send_counted(dst, tag, message, kind).await
    }

    /// Counts a message of `kind` sent, against the run's bound: from here
    /// on it was sent, whatever then delays, loses or cuts it off.
    pub(super) fn count_send(&self, kind: &str) -> io::Result<()> {
        if !self.world.take_message_budget() {
            return Err(io::Error::other("obsim: the run's message limit is spent"));
        }
        self.world.count_message(kind, Fate::Sent);
        Ok(())
    }

    /// Sends a message [`Network::count_send`] counted, with the run's
    /// network faults.
    pub(super) async fn send_counted<M: Any + Clone + Send + Sync>(
        &self,
        dst: SocketAddr,
        tag: u64,
        message: M,
        kind: String,
    ) -> io::Result<()> {
        let now = self.world.clock.elapsed();
        let decision = self.faults.lock().expect("network faults lock").send(now);
        if let Some(delay) = decision.delay {
            let detail = format!("{kind} delay={delay:?}");
            self.log(FaultKind::NetworkDelay, dst, detail, &decision);
            madsim::time::sleep(delay).await;
        }
        let cutting = self.world.cutting(&self.node, &node_name(dst.ip()));
        if !cutting.is_empty() {
            // A partition fires on the messages it cuts, not as it starts.
            let kind_of = FaultKind::NetworkPartition;
            let hits: Vec<Hit> = cutting
                .into_iter()
                .map(|index| Hit::planned(index, kind_of))
                .collect();
            self.world.faults.fired(&hits);
            self.world.count_message(&kind, Fate::Cut);
            return Ok(());
        }
        self.deliver(dst, tag, message, &kind, &decision).await
    }

    async fn deliver<M: Any + Clone + Send + Sync>(
        &self,
        dst: SocketAddr,
        tag: u64,
        message: M,
        kind: &str,
        decision: &SendDecision,
    ) -> io::Result<()> {
        if decision.lost {
            self.log(FaultKind::PacketLoss, dst, kind.to_string(), decision);
            self.world.count_message(kind, Fate::Lost);
            return Ok(());
        }
        if decision.duplicated {
            let duplication = FaultKind::MessageDuplication;
            self.log(duplication, dst, kind.to_string(), decision);
            self.world.count_message(kind, Fate::Duplicated);
            let copy = Box::new(message.clone());
            let sent = self.endpoint.send_to_raw(dst, tag, copy).await;
            self.world.count_typed_send();
            sent?;
        }
        let sent = self.endpoint.send_to_raw(dst, tag, Box::new(message)).await;
        self.world.count_typed_send();
        sent
    }

    /// Logs a fault of `kind` taking effect on a message, counting the
    /// plan entries of that kind that hit it.
    fn log(&self, kind: FaultKind, dst: SocketAddr, detail: String, decision: &SendDecision) {
        let target = format!("{} -> {dst}", self.name);
        let fired = decision.fired.of(kind);
        self.world.log_firing(kind, &target, detail, &fired);
    }

    /// Receives the next message under `tag`. A message of another type is an
    /// error, not a panic: two components disagreeing on a tag is a bug to
    /// report. A crash a scenario sets off by the receipt (`on = "receive"`)
    /// lands where the poll that called this ends.
    pub async fn recv<M: Any>(&self, tag: u64) -> io::Result<(M, SocketAddr)> {
        reject_reserved(tag)?;
        self.recv_as(tag, |message: &M| message_name_of(message))
            .await
    }

    /// [`Network::recv`] under any tag, counted under the name `kind` gives.
    pub(crate) async fn recv_as<M: Any>(
        &self,
        tag: u64,
        kind: impl Fn(&M) -> String,
    ) -> io::Result<(M, SocketAddr)> {
        let (payload, from) = self.endpoint.recv_from_raw(tag).await?;
        match payload.downcast::<M>() {
            Ok(message) => {
                let kind = kind(&message);
                self.world.count_message(&kind, Fate::Received);
                self.trigger(Trigger::Receive, || format!("{kind} from {from}"));
                Ok((*message, from))
            }
            Err(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "message from {from} under tag {tag} is not a {}",
                    std::any::type_name::<M>()
                ),
            )),
        }
    }
}

/// Tags from here up carry obsim's own requests and replies.
pub const RESERVED_TAGS_START: u64 = 1 << 63;

fn reject_reserved(tag: u64) -> io::Result<()> {
    if tag >= RESERVED_TAGS_START {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("tag {tag} is reserved for obsim's requests and replies (tags from 2^63 up)"),
        ));
    }
    Ok(())
}

fn message_name_of<M>(_: &M) -> String {
    message_name::<M>()
}

/// A message type's name in snake case, without its module path: `Invoke`
/// is `invoke`, `ScrapeResponse` is `scrape_response`. Reports and scenario
/// expectations use it.
pub(crate) fn message_name<M>() -> String {
    let full = std::any::type_name::<M>();
    let short = full.split('<').next().unwrap_or(full);
    let short = short.rsplit("::").next().unwrap_or(short);
    let mut name = String::new();
    for (index, c) in short.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            name.push('_');
        }
        name.extend(c.to_lowercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ScrapeResponse;

    #[test]
    fn message_names_are_snake_case_type_names() {
        assert_eq!(message_name::<ScrapeResponse>(), "scrape_response");
        assert_eq!(message_name::<u64>(), "u64");
    }
}
