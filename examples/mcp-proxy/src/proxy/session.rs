//! The session table: a session's creation (`initialize`), its end, and
//! the sweep that evicts sessions whose heartbeats stopped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use obsim::deps::futures::lock::Mutex as AsyncMutex;
use obsim::deps::madsim;
use obsim::deps::madsim::time::Instant;
use obsim::deps::opentelemetry::KeyValue;
use obsim::deps::tracing::Span;
use serde_json::{json, Map, Value};

use super::connection::ClientConn;
use super::forward::open_upstream;
use super::request::Failure;
use super::Proxy;
use crate::jsonrpc::{Request, SESSION_META_KEY};
use crate::rpc::{CloseReason, RpcConnection};
use crate::spans::record_session;

/// The live sessions, by creation order. Touched only between awaits.
#[derive(Default)]
pub(super) struct SessionTable {
    pub(super) sessions: BTreeMap<u64, Arc<Session>>,
    /// Slots taken by `initialize` requests still setting their session up.
    pub(super) reserved: usize,
    pub(super) next_seq: u64,
}

/// A slot in the session table, taken as `initialize` passes the session
/// interceptor.
pub(super) struct Reservation {
    pub(super) seq: u64,
}

pub(super) struct Session {
    pub(super) seq: u64,
    pub(super) id: String,
    /// The client's `initialize` params, replayed upstream on a reconnect.
    pub(super) init_params: Map<String, Value>,
    pub(super) conn: Weak<ClientConn>,
    /// The session's current upstream connection, if any.
    pub(super) upstream: Mutex<Option<Arc<RpcConnection>>>,
    /// One reconnect at a time.
    pub(super) connecting: AsyncMutex<()>,
}

/// How a session ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionEnd {
    /// Its client closed the connection.
    Client,
    /// It missed its heartbeats.
    Evicted,
}

impl Proxy {
    pub(super) fn lock_table(&self) -> std::sync::MutexGuard<'_, SessionTable> {
        self.table.lock().expect("session table lock")
    }

    /// A session id: 32 hex digits, unique within this incarnation, and a
    /// pure function of the incarnation and the creation order (never of a
    /// clock or a global), so a seed replays it.
    fn session_id(&self, seq: u64) -> String {
        let first = splitmix64(seq ^ (u64::from(self.incarnation) << 48));
        format!("{first:016x}{:016x}", splitmix64(first))
    }

    /// Removes `session` from the table, once, with all its accounting in
    /// this one poll (so a scrape never sees the gauge apart from the
    /// counters), and closes its upstream connection.
    pub(super) fn end_session(&self, session: &Arc<Session>, end: SessionEnd) {
        if self.lock_table().sessions.remove(&session.seq).is_none() {
            return;
        }
        let reason = match end {
            SessionEnd::Client => "client",
            SessionEnd::Evicted => "evicted",
        };
        self.metrics
            .sessions_closed
            .add(1, &[KeyValue::new("reason", reason)]);
        self.metrics.sessions_active.add(-1, &[]);
        if end == SessionEnd::Evicted {
            self.metrics.sessions_evicted.add(1, &[]);
        }
        let upstream = session.upstream.lock().expect("upstream lock").take();
        if let Some(upstream) = upstream {
            upstream.close(CloseReason::SessionEnded);
        }
        if end == SessionEnd::Evicted {
            let conn = session.conn.upgrade();
            let evict = conn.and_then(|conn| conn.evict.lock().expect("evict lock").take());
            if let Some(evict) = evict {
                let _ = evict.send(());
            }
        }
    }
}

/// A bijective mix of 64 bits (SplitMix64's finalizer).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Evicts sessions idle past the timeout: nothing in flight, and no
/// message from their client (their heartbeat) for that long. Runs for the
/// life of the incarnation, once per sweep interval.
pub(super) async fn sweep(proxy: Arc<Proxy>) {
    let timeout = proxy.config.session_idle_timeout();
    loop {
        madsim::time::sleep(proxy.config.eviction_sweep_interval()).await;
        let now = Instant::now();
        let idle: Vec<Arc<Session>> = proxy
            .lock_table()
            .sessions
            .values()
            .filter(|session| is_idle(session, now, timeout))
            .cloned()
            .collect();
        for session in idle {
            proxy.end_session(&session, SessionEnd::Evicted);
        }
    }
}

fn is_idle(session: &Session, now: Instant, timeout: Duration) -> bool {
    // A session whose connection is gone is ended by that connection.
    let Some(conn) = session.conn.upgrade() else {
        return false;
    };
    let activity = conn.activity();
    activity.in_flight == 0 && now.duration_since(activity.last_seen) >= timeout
}

/// Creates a session: an upstream connection and session first (the
/// client's `initialize` forwarded), then the proxy's own session id.
pub(super) async fn initialize(
    proxy: &Arc<Proxy>,
    conn: &Arc<ClientConn>,
    request: &Request,
    reservation: Reservation,
    span: &Span,
) -> Result<Value, Failure> {
    let id = proxy.session_id(reservation.seq);
    record_session(span, &id);
    let opened = open_upstream(proxy, request.params.clone()).await;
    let (upstream, mut result) = match opened {
        Ok(opened) => opened,
        Err(failure) => {
            proxy.lock_table().reserved -= 1;
            return Err(Failure::Upstream(failure));
        }
    };
    let session = Arc::new(Session {
        seq: reservation.seq,
        id: id.clone(),
        init_params: request.params.clone(),
        conn: Arc::downgrade(conn),
        upstream: Mutex::new(Some(upstream)),
        connecting: AsyncMutex::new(()),
    });
    {
        let mut table = proxy.lock_table();
        table.reserved -= 1;
        table.sessions.insert(session.seq, session.clone());
    }
    proxy.metrics.sessions_created.add(1, &[]);
    proxy.metrics.sessions_active.add(1, &[]);
    *conn.session.lock().expect("session lock") = Some(session.clone());
    if conn.activity().closed {
        // The client left while the session was being set up.
        proxy.end_session(&session, SessionEnd::Client);
    }
    if let Some(result) = result.as_object_mut() {
        result.remove("_meta");
        result.insert("_meta".into(), json!({ SESSION_META_KEY: id }));
    }
    Ok(result)
}
