//! One client connection: its shared state, and the loop that reads its
//! requests until it closes or its session is evicted.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use obsim::deps::futures::channel::{mpsc, oneshot};
use obsim::deps::futures::future::{select, Either};
use obsim::deps::futures::StreamExt;
use obsim::deps::madsim;
use obsim::deps::madsim::net::TcpStream;
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::KeyValue;

use super::request::request_task;
use super::session::{Session, SessionEnd};
use super::Proxy;
use crate::jsonrpc::{split, LineWriter};
use crate::metrics::SIDE_CLIENT;

/// Requests of one client connection in flight at once. Past it the proxy
/// stops reading that connection until one finishes: backpressure, not an
/// unbounded pile of tasks.
const REQUESTS_IN_FLIGHT_MAX: usize = 16;
/// Client connections open at once. Past it a new connection is closed as
/// it is accepted.
const CLIENT_CONNECTIONS_MAX: usize = 4_096;

/// One client connection, shared by its reading loop and its requests.
pub(super) struct ClientConn {
    pub(super) peer: SocketAddr,
    pub(super) writer: Arc<LineWriter>,
    pub(super) session: Mutex<Option<Arc<Session>>>,
    activity: Mutex<Activity>,
    /// Tells the reading loop to close: the session was evicted.
    pub(super) evict: Mutex<Option<oneshot::Sender<()>>>,
}

pub(super) struct Activity {
    pub(super) in_flight: usize,
    /// The last message read from the client or answer written to it.
    pub(super) last_seen: Instant,
    pub(super) closed: bool,
}

impl ClientConn {
    pub(super) fn activity(&self) -> std::sync::MutexGuard<'_, Activity> {
        self.activity.lock().expect("activity lock")
    }

    fn begin_request(&self) {
        let mut activity = self.activity();
        activity.in_flight += 1;
        activity.last_seen = Instant::now();
    }

    pub(super) fn end_request(&self) {
        let mut activity = self.activity();
        activity.in_flight -= 1;
        activity.last_seen = Instant::now();
    }

    pub(super) fn session(&self) -> Option<Arc<Session>> {
        self.session.lock().expect("session lock").clone()
    }
}

/// Why a client connection closed, as its metric label says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientClose {
    Closed,
    Evicted,
    ProtocolError,
    OverCapacity,
}

impl ClientClose {
    fn as_str(self) -> &'static str {
        match self {
            ClientClose::Closed => "client_closed",
            ClientClose::Evicted => "evicted",
            ClientClose::ProtocolError => "protocol_error",
            ClientClose::OverCapacity => "over_capacity",
        }
    }
}

/// Reads one client connection's requests until it closes or its session
/// is evicted; each request runs as a task of its own.
pub(super) async fn client_connection(proxy: Arc<Proxy>, stream: TcpStream, peer: SocketAddr) {
    let side = [KeyValue::new("side", SIDE_CLIENT)];
    proxy.metrics.connections.add(1, &side);
    proxy.metrics.connections_active.add(1, &side);
    let (mut lines, writer) = split(stream);
    let (evict, mut evicted) = oneshot::channel();
    let conn = Arc::new(ClientConn {
        peer,
        writer: Arc::new(writer),
        session: Mutex::new(None),
        activity: Mutex::new(Activity {
            in_flight: 0,
            last_seen: Instant::now(),
            closed: false,
        }),
        evict: Mutex::new(Some(evict)),
    });
    let (done, mut finished) = mpsc::unbounded::<()>();
    let open = proxy.client_connections.fetch_add(1, Ordering::Relaxed) + 1;
    // The loop runs once per request line, and ends with the connection.
    let reason = loop {
        if open > CLIENT_CONNECTIONS_MAX {
            break ClientClose::OverCapacity;
        }
        while conn.activity().in_flight >= REQUESTS_IN_FLIGHT_MAX {
            // Every request in flight holds a sender: this cannot end first.
            let _ = finished.next().await;
        }
        let read = Box::pin(lines.next_line());
        match select(read, &mut evicted).await {
            Either::Left((Ok(Some(line)), _)) => {
                conn.begin_request();
                madsim::task::spawn(request_task(
                    proxy.clone(),
                    conn.clone(),
                    line,
                    done.clone(),
                ));
            }
            Either::Left((Ok(None), _)) => break ClientClose::Closed,
            Either::Left((Err(error), _)) if error.kind() == std::io::ErrorKind::InvalidData => {
                break ClientClose::ProtocolError
            }
            Either::Left((Err(_), _)) => break ClientClose::Closed,
            Either::Right(_) => break ClientClose::Evicted,
        }
    };
    conn.activity().closed = true;
    let session = conn.session.lock().expect("session lock").take();
    if let (Some(session), true) = (session, reason != ClientClose::Evicted) {
        proxy.end_session(&session, SessionEnd::Client);
    }
    conn.writer.close();
    drop(lines);
    proxy.client_connections.fetch_sub(1, Ordering::Relaxed);
    let labels = [
        KeyValue::new("side", SIDE_CLIENT),
        KeyValue::new("reason", reason.as_str()),
    ];
    proxy.metrics.connections_closed.add(1, &labels);
    proxy.metrics.connections_active.add(-1, &side);
}
