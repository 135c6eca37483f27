use std::fmt;
use std::str::FromStr;

use obsim::deps::serde::Deserialize;

/// A realistic instrumentation bug the proxy can plant, named in a
/// scenario's `[system] bugs = [...]`. Each exists to show that one obsim
/// check catches it; none is on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(crate = "obsim::deps::serde", rename_all = "snake_case")]
pub enum Bug {
    /// `mcp_proxy_requests_total` carries the session id as a label
    /// (`mcp_session_id`), as a per-session dashboard would want it: one new
    /// series per session, without bound. Caught by exposition lint's label
    /// cardinality.
    SessionIdLabel,
    /// When an upstream connection drops under the proxy (the upstream
    /// crashed: EOF or reset), the close is counted in
    /// `mcp_proxy_connections_closed_total{reason="peer_lost"}` but
    /// `mcp_proxy_connections_active` is decremented only on the paths where
    /// the proxy closes the connection itself. Caught by gauge consistency.
    ActiveNotDecrementedOnDrop,
    /// The request size is observed in kilobytes (`bytes.div_ceil(1024)`)
    /// into `mcp_proxy_request_size_bytes`, whose unit says bytes. Caught by
    /// metric accuracy against the bytes the client sent.
    RequestSizeInKb,
    /// The proxy strips `params._meta` of the client's trace context before
    /// forwarding a request upstream and never injects its own: the upstream
    /// server spans start traces of their own. Caught by trace integrity.
    NoTraceForwardUpstream,
}

impl Bug {
    pub const ALL: [Bug; 4] = [
        Bug::SessionIdLabel,
        Bug::ActiveNotDecrementedOnDrop,
        Bug::RequestSizeInKb,
        Bug::NoTraceForwardUpstream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Bug::SessionIdLabel => "session_id_label",
            Bug::ActiveNotDecrementedOnDrop => "active_not_decremented_on_drop",
            Bug::RequestSizeInKb => "request_size_in_kb",
            Bug::NoTraceForwardUpstream => "no_trace_forward_upstream",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Bug {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Bug::ALL.iter().map(|bug| bug.as_str()).collect();
                format!("unknown bug {text:?}: expected one of {}", known.join(", "))
            })
    }
}
