use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use madsim::net::Endpoint;
use obsim_faults::{FaultKind, NetworkFaults};

use crate::world::World;

/// A node's network endpoint, with the run's network faults injected on send.
///
/// Messages are typed Rust values: madsim delivers them without serializing,
/// which keeps the simulation fast while the instrumentation (context
/// propagation, message counters) still happens at the real hop.
#[derive(Clone)]
pub struct Network {
    endpoint: Endpoint,
    faults: Arc<Mutex<NetworkFaults>>,
    world: Arc<World>,
    name: String,
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
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint
            .local_addr()
            .expect("a bound endpoint has an address")
    }

    /// Sends `message` to `dst` under `tag`, after any injected delay. The
    /// delay holds this sender, as a slow link would hold its queue.
    pub async fn send<M: Any + Send + Sync>(
        &self,
        dst: SocketAddr,
        tag: u64,
        message: M,
    ) -> io::Result<()> {
        if !self.world.take_message_budget() {
            return Err(io::Error::other("obsim: the run's message limit is spent"));
        }
        let delay = self.faults.lock().expect("network faults lock").delay();
        if let Some(delay) = delay {
            self.world.log_fault(
                FaultKind::NetworkDelay,
                &format!("{} -> {dst}", self.name),
                format!("delay={delay:?}"),
            );
            madsim::time::sleep(delay).await;
        }
        self.endpoint.send_to_raw(dst, tag, Box::new(message)).await
    }

    /// Receives the next message under `tag`. A message of another type is an
    /// error, not a panic: two components disagreeing on a tag is a bug to
    /// report.
    pub async fn recv<M: Any>(&self, tag: u64) -> io::Result<(M, SocketAddr)> {
        let (payload, from) = self.endpoint.recv_from_raw(tag).await?;
        match payload.downcast::<M>() {
            Ok(message) => Ok((*message, from)),
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
