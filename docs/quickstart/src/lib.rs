//! A visit counter: each visit to a page increments the page's stored count.
//!
//! This crate is the service as it runs in production, and it knows nothing
//! of obsim:
//! - [`VisitServer`] speaks a line protocol over TCP (`VISIT <page>
//!   <traceparent>`, answered `OK <count>` or `ERR <why>`), keeps its counts
//!   in a [`Store`], and traces each visit with `tracing` spans that continue
//!   the caller's W3C trace;
//! - it counts in a Prometheus registry of its own, and
//!   [`VisitServer::metrics_body`] is what its `GET /metrics` answers;
//! - [`VisitClient`] is the client other services call it with.
//!
//! `tests/visits/` puts it under obsim: a store on obsim's simulated disk,
//! the metrics route and a probe of the cache for the checks, the request
//! helper for the workload. madsim runs the same code: its sockets stand in
//! for tokio's under `--cfg madsim`.

mod client;
mod server;
mod store;
mod trace;

pub use client::{VisitClient, VisitError};
pub use server::{Config, VisitServer};
pub use store::{MemoryStore, Store};

/// madsim's sockets inside the simulator, tokio's outside it: the service's
/// code is the same either way.
#[cfg(madsim)]
use madsim::net::{TcpListener, TcpStream};
#[cfg(not(madsim))]
use tokio::net::{TcpListener, TcpStream};

/// The count after one more visit, from what storage held.
pub fn next_count(stored: Option<&[u8]>) -> u64 {
    let current = stored
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map_or(0, u64::from_le_bytes);
    current + 1
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_first_visit_counts_one_and_later_ones_add_one() {
        assert_eq!(super::next_count(None), 1);
        assert_eq!(super::next_count(Some(&41u64.to_le_bytes())), 42);
    }
}
