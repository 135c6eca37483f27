//! The calling side of a JSON-RPC connection: requests go out with ids of
//! their own, a reader task matches each response to its caller, and a
//! caller that gives up (its timeout) leaves its id behind so that a late
//! answer is still recognised as one. Both the client (to the proxy) and the
//! proxy (to the upstream) call through this.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use obsim::deps::futures::channel::oneshot;
use obsim::deps::madsim;
use obsim::deps::madsim::net::TcpStream;
use obsim::deps::madsim::task::JoinHandle;
use obsim::deps::tokio::io::ReadHalf;
use serde_json::{Map, Value};

use crate::jsonrpc::{parse_response, request_line, LineReader, LineWriter, Method, Response};
use crate::jsonrpc::{split, RpcError};

/// How often [`RpcConnection::settle`] and [`RpcConnection::wait_closed`]
/// look again.
const POLL_INTERVAL_MS: u64 = 5;

/// How one call ended, as its caller saw it.
#[derive(Debug)]
pub(crate) enum CallResult {
    /// The peer answered in time, with a result or a JSON-RPC error.
    Answered(Result<Value, RpcError>),
    /// No answer within the caller's timeout; a late one may still come.
    TimedOut,
    /// The connection closed (or could not send) before an answer.
    Lost(String),
}

/// One call: whether (and how many bytes of) the request went out, and how
/// it ended.
#[derive(Debug)]
pub(crate) struct Exchange {
    /// The request line's length (newline excluded) once written and
    /// flushed; None if it never went out.
    pub sent_bytes: Option<usize>,
    pub result: CallResult,
}

/// Whether a response came while its caller still waited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timing {
    InTime,
    Late,
}

/// Why a connection closed. The labels are bounded: metrics use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The peer went away: the end of the stream, or a reset.
    PeerLost,
    /// The peer sent something that is not a line of JSON-RPC.
    ProtocolError,
    /// A request on it missed its deadline: the connection is presumed dead.
    Timeout,
    /// The upstream `initialize` on a fresh connection failed.
    InitFailed,
    /// The session it served ended.
    SessionEnded,
    /// The caller is done with it.
    Done,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::PeerLost => "peer_lost",
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::Timeout => "timeout",
            CloseReason::InitFailed => "init_failed",
            CloseReason::SessionEnded => "session_ended",
            CloseReason::Done => "done",
        }
    }
}

/// Told of every response read: the method it answers, whether its caller
/// still waited, and its length in bytes (newline excluded).
pub(crate) type OnResponse = Box<dyn Fn(&Response, Method, Timing, usize) + Send + Sync>;
/// Told once, when the connection closes, whoever closed it.
pub(crate) type OnClose = Box<dyn Fn(CloseReason) + Send + Sync>;

/// What the owner of a connection learns from it.
pub(crate) struct Hooks {
    pub on_response: OnResponse,
    pub on_close: OnClose,
}

struct Pending {
    method: Method,
    reply: oneshot::Sender<Result<Value, RpcError>>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Calls waiting for their answer, by id.
    pending: BTreeMap<u64, Pending>,
    /// Calls whose caller gave up, by id: an answer to one is late. Bounded
    /// by the calls made on the connection.
    abandoned: BTreeMap<u64, Method>,
    closed: Option<CloseReason>,
}

struct Inner {
    writer: Arc<LineWriter>,
    state: Mutex<State>,
    hooks: Hooks,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("rpc state lock")
    }

    /// Hands a response to its caller, or reports it late. A line that is
    /// not a response to one of our ids is ignored: nothing waits for it.
    fn deliver(&self, line: &[u8]) {
        let Some(response) = parse_response(line) else {
            return;
        };
        let mut state = self.lock();
        if let Some(pending) = state.pending.remove(&response.id) {
            drop(state);
            (self.hooks.on_response)(&response, pending.method, Timing::InTime, line.len());
            // The caller may be gone (its node stopping): nothing to tell.
            let _ = pending.reply.send(response.outcome);
        } else if let Some(method) = state.abandoned.remove(&response.id) {
            drop(state);
            (self.hooks.on_response)(&response, method, Timing::Late, line.len());
        }
    }

    /// Closes once: fails every waiting call, forgets the abandoned ones
    /// (they can no longer be answered), drops the writing half and tells
    /// the owner.
    fn close(&self, reason: CloseReason) {
        let pending = {
            let mut state = self.lock();
            if state.closed.is_some() {
                return;
            }
            state.closed = Some(reason);
            state.abandoned.clear();
            std::mem::take(&mut state.pending)
        };
        // Dropping the senders wakes every caller with "closed".
        drop(pending);
        self.writer.close();
        (self.hooks.on_close)(reason);
    }
}

/// A connection we make calls on.
pub(crate) struct RpcConnection {
    inner: Arc<Inner>,
    reader: JoinHandle<()>,
    peer: SocketAddr,
}

impl RpcConnection {
    /// Takes over `stream` and starts reading responses from it.
    pub fn open(stream: TcpStream, peer: SocketAddr, hooks: Hooks) -> RpcConnection {
        let (lines, writer) = split(stream);
        let inner = Arc::new(Inner {
            writer: Arc::new(writer),
            state: Mutex::new(State::default()),
            hooks,
        });
        let reader = madsim::task::spawn(read_loop(inner.clone(), lines));
        RpcConnection {
            inner,
            reader,
            peer,
        }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The id of the next request, from 1.
    pub fn next_id(&self) -> u64 {
        let mut state = self.inner.lock();
        state.next_id += 1;
        state.next_id
    }

    /// Sends request `id` and waits up to `timeout` for its answer.
    pub async fn call(
        &self,
        id: u64,
        method: Method,
        params: Map<String, Value>,
        timeout: Duration,
    ) -> Exchange {
        let (reply, mut answer) = oneshot::channel();
        {
            let mut state = self.inner.lock();
            if let Some(reason) = state.closed {
                return Exchange {
                    sent_bytes: None,
                    result: CallResult::Lost(format!("connection closed ({})", reason.as_str())),
                };
            }
            state.pending.insert(id, Pending { method, reply });
        }
        let line = request_line(id, method, params);
        if let Err(error) = self.inner.writer.send(&line).await {
            self.inner.lock().pending.remove(&id);
            return Exchange {
                sent_bytes: None,
                result: CallResult::Lost(format!("sending: {error}")),
            };
        }
        let sent_bytes = Some(line.len());
        let result = match madsim::time::timeout(timeout, &mut answer).await {
            Ok(Ok(outcome)) => CallResult::Answered(outcome),
            Ok(Err(_)) => CallResult::Lost("the connection closed before the answer".into()),
            Err(_) => {
                let mut state = self.inner.lock();
                match state.pending.remove(&id) {
                    Some(pending) => {
                        if state.closed.is_none() {
                            state.abandoned.insert(id, pending.method);
                        }
                        CallResult::TimedOut
                    }
                    // The answer came in the very instant the deadline
                    // passed: it was in time.
                    None => match answer.try_recv() {
                        Ok(Some(outcome)) => CallResult::Answered(outcome),
                        _ => CallResult::Lost("the connection closed at the deadline".into()),
                    },
                }
            }
        };
        Exchange { sent_bytes, result }
    }

    /// Closes the connection (idempotent): the peer reads the end of the
    /// stream once both halves are gone.
    pub fn close(&self, reason: CloseReason) {
        self.inner.close(reason);
        self.reader.abort();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed.is_some()
    }

    /// Whether a call still waits for an answer, in time or late.
    fn waiting(&self) -> bool {
        let state = self.inner.lock();
        state.closed.is_none() && !(state.pending.is_empty() && state.abandoned.is_empty())
    }

    /// Waits, up to `bound`, until no answer is outstanding (or the
    /// connection closed). True if nothing is outstanding.
    pub async fn settle(&self, bound: Duration) -> bool {
        let steps = bound.as_millis() as u64 / POLL_INTERVAL_MS + 1;
        for _ in 0..steps {
            if !self.waiting() {
                return true;
            }
            madsim::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
        !self.waiting()
    }

    /// Waits, up to `bound`, for the peer to close the connection. True if
    /// it did.
    pub async fn wait_closed(&self, bound: Duration) -> bool {
        let steps = bound.as_millis() as u64 / POLL_INTERVAL_MS + 1;
        for _ in 0..steps {
            if self.is_closed() {
                return true;
            }
            madsim::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
        }
        self.is_closed()
    }
}

impl Drop for RpcConnection {
    /// The reader must not outlive its owner. No accounting here: a drop at
    /// a node's teardown is not a close the service decided.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads responses until the stream ends. The loop runs once per line and
/// ends with the connection; a line is bounded by the framing.
async fn read_loop(inner: Arc<Inner>, mut lines: LineReader<ReadHalf<TcpStream>>) {
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => inner.deliver(&line),
            Ok(None) => return inner.close(CloseReason::PeerLost),
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                return inner.close(CloseReason::ProtocolError)
            }
            Err(_) => return inner.close(CloseReason::PeerLost),
        }
    }
}
