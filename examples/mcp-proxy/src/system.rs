use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use obsim::deps::futures::future::BoxFuture;
use obsim::deps::serde::Deserialize;
use obsim::{ClientContext, Contract, NodeContext, System};

use crate::jsonrpc::{MESSAGE_BYTES_MAX, REQUEST_OVERHEAD_BYTES_MAX};
use crate::Bug;

/// The longest any `_ms` setting may be: a minute of simulated time is
/// already far past every scenario's run.
const SETTING_MS_MAX: u64 = 60_000;
/// The largest session table the proxy may be given.
const SESSIONS_MAX_LIMIT: usize = 10_000;
/// The most `tools/call` requests one client session may make.
const SESSION_CALLS_MAX: usize = 1_000;
/// The smallest tool argument the client sends.
pub(crate) const ARGUMENT_BYTES_MIN: usize = 16;
/// How far past `request_bytes_max` an oversized request goes: at most this
/// many bytes more.
pub(crate) const OVERSIZE_BYTES_MAX: usize = 256;
/// How many times the proxy tries to connect to the upstream for one
/// request, and the pause before the second try (doubling after it). A
/// refused connect is immediate under madsim, so the tries cover the
/// moment a restarted upstream has booted but not bound its listener yet.
pub(crate) const UPSTREAM_CONNECT_ATTEMPTS_MAX: u32 = 3;
pub(crate) const UPSTREAM_CONNECT_BACKOFF_MS: u64 = 10;
/// Slack for network latency (madsim's 1-10 ms per hop) in the bounds the
/// client derives from the settings.
const NETWORK_SLACK_MS: u64 = 100;

/// The proxy's settings: a scenario file's `[system]` table. Every
/// duration is an integer of milliseconds, named with its unit last.
///
/// ```toml
/// [system]
/// request_timeout_ms = 500
/// upstream_timeout_ms = 300
/// session_idle_timeout_ms = 1000
/// bugs = ["request_size_in_kb"]
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(crate = "obsim::deps::serde", default, deny_unknown_fields)]
pub struct Settings {
    /// How long the client waits for the answer to one request.
    pub request_timeout_ms: u64,
    /// How often a client session sends `ping` while it is open.
    pub heartbeat_interval_ms: u64,
    /// The proxy evicts a session that has had nothing in flight and no
    /// message from its client for this long (a missed heartbeat).
    pub session_idle_timeout_ms: u64,
    /// How often the proxy looks for idle sessions.
    pub eviction_sweep_interval_ms: u64,
    /// How long the proxy waits for the upstream's answer to one request
    /// before it gives up on the request and on that upstream connection.
    pub upstream_timeout_ms: u64,
    /// Sessions the proxy holds at once; an `initialize` past it is refused
    /// by the session interceptor.
    pub sessions_max: usize,
    /// `tools/call` requests per client session (the last session makes what
    /// is left of the workload's invocations).
    pub session_calls: usize,
    /// The chance that a client session is abandoned halfway: it stops
    /// sending (heartbeats included) without closing, for the proxy to evict.
    pub session_abandon_ratio: f64,
    /// The chance that a `tools/call` carries an argument past
    /// `request_bytes_max`, for the size-limit interceptor to refuse.
    pub request_oversized_ratio: f64,
    /// The size-limit interceptor's bound on one request line.
    pub request_bytes_max: usize,
    /// The largest tool argument in an ordinary `tools/call`.
    pub argument_bytes_max: usize,
    /// The upstream's own work per `tools/call`.
    pub tool_latency_ms: u64,
    /// A slow upstream: from `upstream_slow_at_ms` after the run starts, for
    /// `upstream_slow_for_ms`, every `tools/call` takes
    /// `upstream_slow_delay_ms` longer. All three zero: never slow.
    pub upstream_slow_at_ms: u64,
    pub upstream_slow_for_ms: u64,
    pub upstream_slow_delay_ms: u64,
    /// Bugs to plant (default none); one listed twice is an error.
    #[serde(deserialize_with = "obsim::scenario::de::unique")]
    pub bugs: BTreeSet<Bug>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            request_timeout_ms: 500,
            heartbeat_interval_ms: 200,
            session_idle_timeout_ms: 1_000,
            eviction_sweep_interval_ms: 100,
            upstream_timeout_ms: 300,
            sessions_max: 256,
            session_calls: 8,
            session_abandon_ratio: 0.0,
            request_oversized_ratio: 0.0,
            request_bytes_max: 4_096,
            argument_bytes_max: 1_024,
            tool_latency_ms: 2,
            upstream_slow_at_ms: 0,
            upstream_slow_for_ms: 0,
            upstream_slow_delay_ms: 0,
            bugs: BTreeSet::new(),
        }
    }
}

/// Validated [`Settings`]: a scenario's `[system]` table reads into this,
/// and a value that cannot work is an error naming the setting.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(crate = "obsim::deps::serde", try_from = "Settings")]
pub struct McpProxyConfig(Settings);

impl Default for McpProxyConfig {
    fn default() -> Self {
        McpProxyConfig::try_from(Settings::default()).expect("the defaults are valid")
    }
}

impl Deref for McpProxyConfig {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        &self.0
    }
}

impl TryFrom<Settings> for McpProxyConfig {
    type Error = String;

    fn try_from(settings: Settings) -> Result<Self, String> {
        let s = &settings;
        let milliseconds = [
            ("request_timeout_ms", s.request_timeout_ms, 1),
            ("heartbeat_interval_ms", s.heartbeat_interval_ms, 1),
            ("session_idle_timeout_ms", s.session_idle_timeout_ms, 1),
            (
                "eviction_sweep_interval_ms",
                s.eviction_sweep_interval_ms,
                1,
            ),
            ("upstream_timeout_ms", s.upstream_timeout_ms, 1),
            ("tool_latency_ms", s.tool_latency_ms, 0),
            ("upstream_slow_at_ms", s.upstream_slow_at_ms, 0),
            ("upstream_slow_for_ms", s.upstream_slow_for_ms, 0),
            ("upstream_slow_delay_ms", s.upstream_slow_delay_ms, 0),
        ];
        for (name, value, min) in milliseconds {
            if !(min..=SETTING_MS_MAX).contains(&value) {
                return Err(format!(
                    "`{name}` = {value} is out of range: expected {min}..={SETTING_MS_MAX}"
                ));
            }
        }
        for (name, value) in [
            ("session_abandon_ratio", s.session_abandon_ratio),
            ("request_oversized_ratio", s.request_oversized_ratio),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("`{name}` = {value} is not a ratio in [0, 1]"));
            }
        }
        if !(1..=SESSIONS_MAX_LIMIT).contains(&s.sessions_max) {
            return Err(format!(
                "`sessions_max` = {} is out of range: expected 1..={SESSIONS_MAX_LIMIT}",
                s.sessions_max
            ));
        }
        if !(1..=SESSION_CALLS_MAX).contains(&s.session_calls) {
            return Err(format!(
                "`session_calls` = {} is out of range: expected 1..={SESSION_CALLS_MAX}",
                s.session_calls
            ));
        }
        // A client that pings on time must never look idle to the proxy.
        if s.heartbeat_interval_ms * 2 > s.session_idle_timeout_ms {
            return Err(format!(
                "`session_idle_timeout_ms` = {} must be at least twice `heartbeat_interval_ms` = {}: \
                 a session that pings on time would be evicted",
                s.session_idle_timeout_ms, s.heartbeat_interval_ms
            ));
        }
        if s.argument_bytes_max < ARGUMENT_BYTES_MIN {
            return Err(format!(
                "`argument_bytes_max` = {} is below the smallest argument, {ARGUMENT_BYTES_MIN}",
                s.argument_bytes_max
            ));
        }
        // An ordinary request must pass the size limit...
        if s.argument_bytes_max + REQUEST_OVERHEAD_BYTES_MAX > s.request_bytes_max {
            return Err(format!(
                "`request_bytes_max` = {} leaves no room for `argument_bytes_max` = {} plus {} bytes \
                 of JSON-RPC around it: ordinary requests would be refused",
                s.request_bytes_max, s.argument_bytes_max, REQUEST_OVERHEAD_BYTES_MAX
            ));
        }
        // ...and an oversized one must still fit the framing bound, so that
        // the interceptor (not the framing) refuses it.
        if s.request_bytes_max + OVERSIZE_BYTES_MAX + REQUEST_OVERHEAD_BYTES_MAX > MESSAGE_BYTES_MAX
        {
            return Err(format!(
                "`request_bytes_max` = {} is too close to the framing bound of {MESSAGE_BYTES_MAX} bytes",
                s.request_bytes_max
            ));
        }
        let window = [
            s.upstream_slow_at_ms,
            s.upstream_slow_for_ms,
            s.upstream_slow_delay_ms,
        ];
        if window.iter().any(|ms| *ms > 0)
            && (s.upstream_slow_for_ms == 0 || s.upstream_slow_delay_ms == 0)
        {
            return Err(
                "a slow upstream needs `upstream_slow_for_ms` > 0 and `upstream_slow_delay_ms` > 0"
                    .to_string(),
            );
        }
        Ok(McpProxyConfig(settings))
    }
}

impl McpProxyConfig {
    pub fn with_bug(mut self, bug: Bug) -> Self {
        self.0.bugs.insert(bug);
        self
    }

    pub(crate) fn has(&self, bug: Bug) -> bool {
        self.0.bugs.contains(&bug)
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_interval_ms)
    }

    pub(crate) fn session_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.session_idle_timeout_ms)
    }

    pub(crate) fn eviction_sweep_interval(&self) -> Duration {
        Duration::from_millis(self.eviction_sweep_interval_ms)
    }

    pub(crate) fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    /// The longest the proxy can take to answer one request: its connect
    /// tries, an upstream `initialize` and the request itself, each within
    /// the upstream timeout. The client waits this long for late answers
    /// before it closes a session, so that every answer the proxy sends is
    /// read and counted.
    pub(crate) fn proxy_answer_bound(&self) -> Duration {
        let backoff_ms: u64 = (0..UPSTREAM_CONNECT_ATTEMPTS_MAX - 1)
            .map(|attempt| UPSTREAM_CONNECT_BACKOFF_MS << attempt)
            .sum();
        Duration::from_millis(backoff_ms + 2 * self.upstream_timeout_ms + NETWORK_SLACK_MS)
    }

    /// The longest an abandoned session can wait for its eviction: its last
    /// late answer, then the idle timeout, then the next sweep.
    pub(crate) fn eviction_bound(&self) -> Duration {
        self.proxy_answer_bound()
            + self.session_idle_timeout()
            + self.eviction_sweep_interval()
            + Duration::from_millis(NETWORK_SLACK_MS)
    }
}

/// One run's MCP proxy deployment: obsim builds a fresh one for every run.
/// server-0 runs the proxy, server-1 the upstream MCP server, and the
/// client drives sessions through the proxy.
pub struct McpProxy {
    config: Arc<McpProxyConfig>,
}

impl McpProxy {
    pub fn new(config: McpProxyConfig) -> Self {
        McpProxy {
            config: Arc::new(config),
        }
    }
}

/// What each server index runs.
pub(crate) const PROXY_INDEX: usize = 0;
pub(crate) const UPSTREAM_INDEX: usize = 1;
const TOPOLOGY: &str = "the MCP proxy runs on exactly 2 servers: server-0 is the proxy, \
server-1 the upstream MCP server (set `[topology] servers = 2`)";

/// Panics, failing the run with its seed, unless the topology is the
/// proxy's own. The contract's `servers(2..=2)` refuses any other at load,
/// so this holds in every run; it stays as the assertion it rests on.
pub(crate) fn check_topology(servers: usize) {
    assert!(
        servers == 2,
        "obsim-example-mcp-proxy: {TOPOLOGY}; this run has {servers}"
    );
}

impl System for McpProxy {
    fn serve(&self, node: NodeContext) -> BoxFuture<'static, ()> {
        check_topology(node.servers.len());
        match node.index {
            PROXY_INDEX => Box::pin(crate::proxy::serve(node, self.config.clone())),
            UPSTREAM_INDEX => Box::pin(crate::upstream::serve(node, self.config.clone())),
            other => panic!("obsim-example-mcp-proxy: server-{other} has no role: {TOPOLOGY}"),
        }
    }

    fn drive(&self, client: ClientContext) -> BoxFuture<'static, ()> {
        Box::pin(crate::client::drive(client, self.config.clone()))
    }

    fn contract(&self) -> Contract {
        crate::metrics::contract()
    }
}
