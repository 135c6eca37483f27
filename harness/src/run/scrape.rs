//! What the simulated Prometheus saw, one scrape at a time.

use std::time::Duration;

use super::exposition::Exposition;

// Moved here from sim's scraper: a `Run` holds scrapes, and run may not reach sim.
/// One scrape of one node: what came back, or that nothing usable did.
#[derive(Clone, Debug, PartialEq)]
pub struct Scrape {
    pub node: String,
    /// Simulated time since the run started, when the scrape was sent.
    pub at: Duration,
    /// When the scrape ended: answered, failed or timed out. A delayed
    /// request can be answered by an incarnation that booted after `at`.
    pub ended_at: Duration,
    /// Prometheus's `up`: false when the scrape timed out, failed or did not
    /// parse. A failed scrape is kept, not dropped.
    pub up: bool,
    /// The node incarnation that answered.
    pub incarnation: Option<u32>,
    /// The exposition text exactly as the node produced it.
    pub body: String,
    /// The content type it came with (empty when nothing came back).
    pub content_type: String,
    pub exposition: Option<Exposition>,
    pub error: Option<String>,
    /// What the service's own metrics route did wrong, when it answered
    /// with something Prometheus cannot read (a status other than 200, a
    /// content type it does not parse, a body that does not parse or was
    /// cut off by the process that sent it): a finding of
    /// `exposition_lint`. None for obsim's endpoint, and when nothing came
    /// back (a crash, a partition, the timeout), which is only `up == 0`.
    pub finding: Option<String>,
    /// Keys the answering node's storage held committed at the instant it
    /// rendered this exposition: ground truth for `Contract::stored_keys`.
    /// None for the client and for a failed scrape.
    pub stored_keys: Option<u64>,
    /// The answering incarnation's probes ([`NodeContext::probe`]), read in
    /// the poll that rendered this exposition: ground truth for
    /// `Contract::probe`. Empty for a failed scrape.
    ///
    /// [`NodeContext::probe`]: crate::NodeContext::probe
    pub probes: std::collections::BTreeMap<String, f64>,
    /// When the answering node rendered the exposition: the instant its
    /// values are of (a scrape delayed on the way is rendered late). None
    /// when nothing came back.
    pub rendered_at: Option<Duration>,
}

impl Scrape {
    /// A scrape of `node` that got nothing usable back, and why: `up == 0`.
    pub(crate) fn failed(node: String, at: Duration, ended_at: Duration, error: String) -> Scrape {
        Scrape {
            node,
            at,
            ended_at,
            up: false,
            incarnation: None,
            body: String::new(),
            content_type: String::new(),
            exposition: None,
            error: Some(error),
            finding: None,
            stored_keys: None,
            probes: Default::default(),
            rendered_at: None,
        }
    }
}
