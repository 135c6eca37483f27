//! The interceptor chain every client request passes before it is
//! handled.

use std::sync::Arc;

use super::connection::ClientConn;
use super::request::Failure;
use super::session::{Reservation, Session};
use super::Proxy;
use crate::jsonrpc::{code, Method, Request, RpcError};

/// What the interceptor chain lets through.
pub(super) enum Admitted {
    /// An `initialize`, with its slot in the session table.
    NewSession(Reservation),
    /// A request of an initialized session.
    Session(Arc<Session>),
}

/// The interceptor chain, in order: `method_filter` (only the methods the
/// proxy serves), `session` (an `initialize` needs a free slot and a
/// connection without a session; anything else needs the connection's
/// session, named in `_meta`), `size_limit` (a `tools/call` line of at most
/// `request_bytes_max`).
pub(super) fn intercept(
    proxy: &Proxy,
    conn: &ClientConn,
    request: &Request,
    bytes: usize,
) -> Result<Admitted, Failure> {
    let refuse = |interceptor: &'static str, code: i64, message: String| Failure::Refused {
        interceptor,
        error: RpcError { code, message },
    };
    if request.method == Method::Other {
        let message = format!(
            "method {:?} is not served by this proxy",
            request.method_name
        );
        return Err(refuse("method_filter", code::METHOD_NOT_FOUND, message));
    }
    let session = conn.session();
    if request.method == Method::Initialize {
        if session.is_some() {
            let message = "this connection already has a session".to_string();
            return Err(refuse("session", code::INVALID_REQUEST, message));
        }
        let mut table = proxy.lock_table();
        if table.sessions.len() + table.reserved >= proxy.config.sessions_max {
            let message = format!(
                "too many sessions: the proxy holds {}",
                proxy.config.sessions_max
            );
            return Err(refuse("session", code::TOO_MANY_SESSIONS, message));
        }
        table.reserved += 1;
        table.next_seq += 1;
        return Ok(Admitted::NewSession(Reservation {
            seq: table.next_seq,
        }));
    }
    let Some(session) = session else {
        let message = "no session: send initialize first".to_string();
        return Err(refuse("session", code::SESSION_REQUIRED, message));
    };
    if request.session_id() != Some(session.id.as_str()) {
        let message = format!("unknown session {:?}", request.session_id());
        return Err(refuse("session", code::SESSION_REQUIRED, message));
    }
    if request.method == Method::ToolsCall && bytes > proxy.config.request_bytes_max {
        let message = format!(
            "request of {bytes} bytes is larger than the proxy's limit of {}",
            proxy.config.request_bytes_max
        );
        return Err(refuse("size_limit", code::INVALID_REQUEST, message));
    }
    Ok(Admitted::Session(session))
}
