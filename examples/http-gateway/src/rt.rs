//! The runtime the gateway runs on: madsim's sockets, tasks and clock inside
//! the simulator (`--cfg madsim`), tokio's in production. Everything else in
//! the crate is the same code either way.

#[cfg(madsim)]
pub use madsim::{
    net::{TcpListener, TcpStream},
    task::{spawn, JoinHandle},
    time::{sleep, timeout, Instant},
};
#[cfg(not(madsim))]
pub use tokio::{
    net::{TcpListener, TcpStream},
    task::{spawn, JoinHandle},
    time::{sleep, timeout, Instant},
};

/// A spawned task that is aborted when this handle is dropped: a hyper
/// client connection lives exactly as long as the attempt that opened it.
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
