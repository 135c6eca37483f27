//! Request and reply over obsim's network, recorded from the harness's own
//! vantage point. A caller makes a [`Call`] of one workload operation and
//! sends it as one or more attempts; a server [`accept`](Network::accept)s
//! each request and answers through its [`Responder`]. The ledger keeps
//! every call, attempt and request with exact simulated times, the reply's
//! status, and the span current at each end: the ground truth that request
//! counters, duration histograms and per-attempt traces are checked with.

use std::any::Any;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use obsim_faults::Trigger;

use super::capture::current_span;
use super::network::{message_name, Network, RESERVED_TAGS_START};
use crate::run::{AttemptRecord, CallRecord, RequestRecord, NETWORK_ERROR, TIMEOUT};

/// Requests travel under this tag; replies under the tags above it.
const REQUEST_TAG: u64 = RESERVED_TAGS_START;

/// What a reply says of how the request went, for request counters by
/// status. A `Result` is `ok` or `error`; a reply type with richer codes
/// (gRPC's, HTTP's) implements it with its own words.
pub trait ReplyStatus {
    fn status(&self) -> String;
}

impl<T, E> ReplyStatus for Result<T, E> {
    fn status(&self) -> String {
        if self.is_ok() { "ok" } else { "error" }.to_string()
    }
}

/// Why an attempt got no reply.
#[derive(Debug)]
pub enum CallError {
    /// No reply within the attempt's timeout: the request or its reply was
    /// lost, cut, late, or the server died.
    Timeout(Duration),
    /// The network refused the send or the receive.
    Network(io::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout(timeout) => write!(f, "no reply within {timeout:?}"),
            CallError::Network(error) => write!(f, "network: {error}"),
        }
    }
}

impl std::error::Error for CallError {}

// Clone: the network may deliver a message twice (a duplication fault).
#[derive(Clone)]
struct Envelope<Req> {
    call: u64,
    attempt: u32,
    method: Arc<str>,
    operation: Arc<str>,
    reply_tag: u64,
    body: Req,
}

#[derive(Clone)]
struct ReplyEnvelope<R>(R);

/// One call of one workload operation, from its first attempt to the
/// outcome its caller gives it with [`Call::finish`]. Its duration covers
/// every attempt and every pause between them.
pub struct Call {
    network: Network,
    id: u64,
    operation: Arc<str>,
    attempts: u32,
}

impl Network {
    /// Starts a call of workload operation `operation` now. Send it with
    /// [`Call::attempt`], as many times as the caller retries, then end it
    /// with [`Call::finish`].
    pub fn call(&self, operation: &str) -> Call {
        let world = &self.world;
        let operation = world.ledger.intern(operation);
        let id = world.ledger.begin_call(CallRecord {
            id: 0,
            node: world.ledger.intern(&self.node),
            incarnation: world.ledger.incarnation_of(&self.node),
            operation: operation.clone(),
            started_at: world.clock.elapsed(),
            ended_at: None,
            outcome: None,
            attempts: Vec::new(),
        });
        Call {
            network: self.clone(),
            id,
            operation,
            attempts: 0,
        }
    }

    /// Receives the next request sent to this node with [`Call::attempt`].
    /// A request of another type is an error, not a panic: two components
    /// disagreeing on a type is a bug to report. Serve every method of one
    /// node with one request type (an enum).
    ///
    /// A crash a scenario sets off by the accept (`on = "accept"`) lands
    /// where the poll that called this ends: count and start what the
    /// request needs before the next `.await`, as obsim records it here.
    pub async fn accept<Req: Any>(&self) -> io::Result<Request<Req>> {
        let kind = |_: &Envelope<Req>| message_name::<Req>();
        let (envelope, from) = self.recv_as(REQUEST_TAG, kind).await?;
        let world = &self.world;
        let record = world.ledger.record_request(RequestRecord {
            node: world.ledger.intern(&self.node),
            incarnation: world.ledger.incarnation_of(&self.node),
            method: envelope.method.clone(),
            operation: envelope.operation.clone(),
            call: envelope.call,
            attempt: envelope.attempt,
            received_at: world.clock.elapsed(),
            replied_at: None,
            status: None,
            span: None,
        });
        if let Some(node) = self.triggers {
            world.triggers.accepted(node, record);
        }
        let describe = || world.ledger.describe_request(record);
        self.trigger(Trigger::Accept, describe);
        Ok(Request {
            body: envelope.body,
            method: envelope.method,
            operation: envelope.operation,
            responder: Responder {
                network: self.clone(),
                to: from,
                reply_tag: envelope.reply_tag,
                record,
            },
        })
    }
}

impl Call {
    /// Sends `request` to `dst` as method `method` and waits up to `timeout`
    /// for the reply. Make the attempt inside the span that sends it (the
    /// client span of this attempt): the server work it reaches must be
    /// under that span, and `trace_integrity` checks it is.
    ///
    /// The request is a message like any other: the run's network faults
    /// delay, lose, cut and duplicate it and its reply.
    pub async fn attempt<Req, R>(
        &mut self,
        dst: SocketAddr,
        method: &str,
        request: Req,
        timeout: Duration,
    ) -> Result<R, CallError>
    where
        Req: Any + Clone + Send + Sync,
        R: Any + ReplyStatus,
    {
        let network = &self.network;
        let number = self.attempts;
        self.attempts += 1;
        let serial = network.next_reply.fetch_add(1, Ordering::Relaxed);
        // Each attempt waits on its own tag, so that a late reply to an
        // earlier attempt is never taken for this one.
        let reply_tag = REQUEST_TAG + 1 + serial % (u64::MAX - REQUEST_TAG - 1);
        let world = &network.world;
        let method = world.ledger.intern(method);
        world.ledger.begin_attempt(
            self.id,
            AttemptRecord {
                number,
                method: method.clone(),
                server: world.ledger.intern(&super::world::node_name(dst.ip())),
                started_at: world.clock.elapsed(),
                ended_at: None,
                outcome: None,
                span: current_span(),
            },
        );
        let envelope = Envelope {
            call: self.id,
            attempt: number,
            method,
            operation: self.operation.clone(),
            reply_tag,
            body: request,
        };
        let exchange = async {
            let kind = message_name::<Req>();
            network.send_as(dst, REQUEST_TAG, envelope, kind).await?;
            let kind = |_: &ReplyEnvelope<R>| message_name::<R>();
            network.recv_as(reply_tag, kind).await
        };
        let result = match madsim::time::timeout(timeout, exchange).await {
            Ok(Ok((ReplyEnvelope(reply), _))) => Ok(reply),
            Ok(Err(error)) => Err(CallError::Network(error)),
            Err(_) => Err(CallError::Timeout(timeout)),
        };
        let outcome = match &result {
            Ok(reply) => reply.status(),
            Err(CallError::Timeout(_)) => TIMEOUT.to_string(),
            Err(CallError::Network(_)) => NETWORK_ERROR.to_string(),
        };
        world
            .ledger
            .end_attempt(self.id, number, world.clock.elapsed(), &outcome);
        result
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Ends the call now with `outcome` (`ok`, `error`, `timeout`): what the
    /// caller's call counters and call duration histograms must agree with.
    pub fn finish(self, outcome: &str) {
        let world = &self.network.world;
        world
            .ledger
            .end_call(self.id, world.clock.elapsed(), outcome);
    }
}

/// One request a server received: its body, and how to answer it.
pub struct Request<Req> {
    pub body: Req,
    method: Arc<str>,
    operation: Arc<str>,
    responder: Responder,
}

impl<Req> Request<Req> {
    /// The method the caller named.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The workload operation of the call it belongs to.
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// Where it came from.
    pub fn from(&self) -> SocketAddr {
        self.responder.to
    }

    /// The body, and the handle that answers it.
    pub fn into_parts(self) -> (Req, Responder) {
        (self.body, self.responder)
    }
}

/// Answers one request, once. Dropping it unanswered (a crash drops the
/// handler) leaves the request without a reply in the ledger.
///
/// A crash set off by the reply (`on = "reply"`) lands at the send's
/// `.await`: the reply is recorded and counted as sent, as a handler counts
/// it before sending, and never leaves the node.
pub struct Responder {
    network: Network,
    to: SocketAddr,
    reply_tag: u64,
    record: usize,
}

impl Responder {
    /// Sends `reply` now. The request's time ends here, and its status is
    /// `reply.status()`; reply inside the span that served the request,
    /// which must cover the request and be under the attempt that sent it.
    pub async fn reply<R>(self, reply: R) -> io::Result<()>
    where
        R: Any + Clone + Send + Sync + ReplyStatus,
    {
        let network = &self.network;
        let world = &network.world;
        world.ledger.record_reply(
            self.record,
            world.clock.elapsed(),
            &reply.status(),
            current_span(),
        );
        self.answered();
        let kind = message_name::<R>();
        network.count_send(&kind)?;
        let describe = || world.ledger.describe_request(self.record);
        if network.trigger(Trigger::Reply, describe) {
            // Frozen: the supervisor kills the node before this resumes.
            return futures::future::pending().await;
        }
        network
            .send_counted(self.to, self.reply_tag, ReplyEnvelope(reply), kind)
            .await
    }

    /// The request is no longer in flight.
    fn answered(&self) {
        if let Some(node) = self.network.triggers {
            self.network.world.triggers.answered(node, self.record);
        }
    }
}

impl Drop for Responder {
    /// Dropped unanswered, the request will never be answered: it is no
    /// longer in flight (a crash ends the incarnation's in any case).
    fn drop(&mut self) {
        self.answered();
    }
}
