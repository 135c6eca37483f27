//! Faults on madsim's own sockets, through madsim's `NetSim`: what a service
//! written against `madsim::net::TcpStream` (or `UdpSocket`) gets from a
//! scenario file, with no change to its code.
//!
//! - A partition clogs every directed link between the nodes it separates
//!   (`clog_link`), so one- and two-way partitions and node isolation are
//!   exact, node by node. madsim's TCP holds what a clogged link carries and
//!   retries it with a backoff (1 ms doubling to 10 s), as TCP retransmission
//!   would; a `connect` over a clogged link is refused.
//! - A `transport = "sockets"` delay or loss sets `NetSim`'s latency range or
//!   loss rate, which are network-wide, for its window. Overlapping windows
//!   add their latencies and combine their loss rates.
//!
//! obsim's typed messages also travel on `NetSim`. They keep their own fault
//! model (decided, logged and counted per message in `network.rs`), and the
//! supervisor clogs a partition's links [`CLOG_LAG`] after obsim starts
//! cutting its messages, so that `NetSim` never drops a typed message obsim
//! counted as sent: see [`CLOG_LAG`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::task::NodeId;
use obsim_faults::{Partition, SocketCondition};

/// How long after a partition starts its links are clogged. obsim checks a
/// typed message against its partitions, then madsim waits up to 4 µs (its
/// `rand_delay`, twice for a duplicated message) before it tests the link.
/// A clog inside that gap would drop a message obsim already counted as
/// sent and not cut. It is 1 ms because that is madsim's shortest sleep (a
/// shorter one sleeps 1 ms anyway); it is far past the gap and below
/// madsim's own latency of 1-10 ms per packet. The heal needs no lag: a
/// message checked before it was cut by obsim, and one checked after meets
/// an unclogged link. One case it cannot cover: a sender paused (a
/// `node_pause`) inside the gap resumes later and may meet the clog.
pub(crate) const CLOG_LAG: Duration = Duration::from_millis(1);

/// The socket side of the run's network faults. Single-threaded, owned by
/// the supervisor.
pub(crate) struct SocketFaults {
    net: Arc<NetSim>,
    /// Every simulated node by the name partitions use.
    nodes: Vec<(String, NodeId)>,
    partitions: BTreeMap<usize, Partition>,
    clogged: BTreeSet<(NodeId, NodeId)>,
    /// `NetSim`'s config before any socket fault: what a window's end
    /// restores.
    base: madsim::net::Config,
    conditions: BTreeMap<usize, SocketCondition>,
}

impl SocketFaults {
    /// Must run inside the simulation. `nodes` maps every node id to its name.
    pub(crate) fn new(nodes: &BTreeMap<NodeId, String>) -> SocketFaults {
        let net = NetSim::current();
        let mut base = madsim::net::Config::default();
        // NetSim has no getter; reading through its updater changes nothing.
        net.update_config(|config| base = config.clone());
        SocketFaults {
            net,
            nodes: nodes.iter().map(|(id, name)| (name.clone(), *id)).collect(),
            partitions: BTreeMap::new(),
            clogged: BTreeSet::new(),
            base,
            conditions: BTreeMap::new(),
        }
    }

    /// The directed links `partition` cuts, by node id.
    fn links(&self, partition: &Partition) -> BTreeSet<(NodeId, NodeId)> {
        let mut links = BTreeSet::new();
        for (src_name, src) in &self.nodes {
            for (dst_name, dst) in &self.nodes {
                if src != dst && partition.cuts(src_name, dst_name) {
                    links.insert((*src, *dst));
                }
            }
        }
        links
    }

    /// Packets madsim's network has delivered so far, on every link:
    /// obsim's typed messages and the sockets' packets alike. madsim counts
    /// nothing per link, nor a packet a clogged link or a loss holds back.
    pub(crate) fn delivered(&self) -> u64 {
        self.net.stat().msg_count
    }

    /// How many directed links `partition` clogs, for the fault log.
    pub(crate) fn link_count(&self, partition: &Partition) -> usize {
        self.links(partition).len()
    }

    /// Starts (Some) or ends (None) partition `id` on the sockets: clogs the
    /// links some active partition cuts and unclogs the rest, so overlapping
    /// partitions never unclog each other's links.
    pub(crate) fn set_partition(&mut self, id: usize, partition: Option<Partition>) {
        match partition {
            Some(partition) => self.partitions.insert(id, partition),
            None => self.partitions.remove(&id),
        };
        let wanted: BTreeSet<(NodeId, NodeId)> = self
            .partitions
            .values()
            .flat_map(|partition| self.links(partition))
            .collect();
        for &(src, dst) in wanted.difference(&self.clogged) {
            self.net.clog_link(src, dst);
        }
        for &(src, dst) in self.clogged.difference(&wanted) {
            self.net.unclog_link(src, dst);
        }
        self.clogged = wanted;
    }

    /// Starts (Some) or ends (None) socket fault `index`'s condition, and
    /// sets `NetSim`'s config to the base plus every active condition.
    pub(crate) fn set_condition(&mut self, index: usize, condition: Option<SocketCondition>) {
        match condition {
            Some(condition) => self.conditions.insert(index, condition),
            None => self.conditions.remove(&index),
        };
        let mut config = self.base.clone();
        let mut delivered = 1.0 - config.packet_loss_rate;
        for condition in self.conditions.values() {
            match *condition {
                SocketCondition::Latency { min, max } => {
                    config.send_latency.start += min;
                    config.send_latency.end += max;
                }
                // Independent losses: a packet gets through only if every
                // one of them lets it.
                SocketCondition::Loss { rate } => delivered *= 1.0 - rate,
            }
        }
        config.packet_loss_rate = 1.0 - delivered;
        // madsim draws from `start..end`, which must not be empty: a fixed
        // latency (min == max) on a base of equal ends would be.
        if config.send_latency.end <= config.send_latency.start {
            config.send_latency.end = config.send_latency.start + Duration::from_nanos(1);
        }
        self.net.update_config(|current| *current = config);
    }
}

/// A socket condition as the fault log says it.
pub(crate) fn describe(condition: &SocketCondition, until: Option<Duration>) -> String {
    let what = match condition {
        SocketCondition::Latency { min, max } if min == max => {
            format!("every packet +{min:?}, network-wide")
        }
        SocketCondition::Latency { min, max } => {
            format!("every packet +{min:?}..{max:?}, network-wide")
        }
        SocketCondition::Loss { rate } => {
            format!("loss rate {rate}, network-wide (TCP retransmits)")
        }
    };
    match until {
        Some(until) => format!("{what}, until {:.3}s", until.as_secs_f64()),
        None => format!("{what}, until the run ends"),
    }
}
