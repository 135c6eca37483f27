//! What the page shows, read back from a seed's artifact files: the page is
//! built from the files alone, so `obsim report <folder>` rebuilds it for a
//! folder any obsim wrote, and what it shows is what was exported.

use std::collections::BTreeMap;
use std::time::Duration;

/// One failing seed, as its artifacts tell it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seed {
    pub scenario: String,
    pub seed: Option<u64>,
    /// The failure message's first line.
    pub headline: String,
    pub replay: Option<String>,
    pub claims: Vec<Claim>,
    /// Set when the seed did not complete: the run's error.
    pub run_error: Option<String>,
    pub ended_at: Option<Duration>,
    /// The simulated clock's reading at the run's start, in ns since the
    /// Unix epoch (`timebase.txt`); None for older artifacts.
    pub timebase_ns: Option<i128>,
    /// The planned faults, as `scenario.toml` lists them.
    pub planned: Vec<String>,
    pub faults: Vec<FaultEvent>,
    pub faults_dropped: u64,
    /// The metric families the claims name, charted.
    pub charted: Vec<String>,
    pub incarnations: Vec<Incarnation>,
    pub scrapes: Vec<Scrape>,
    /// Ground truth of the charted families (`truth.txt`).
    pub truth: Vec<Truth>,
    pub spans: Vec<Span>,
    pub logs: Vec<Log>,
    pub alerts: Vec<Alert>,
    /// Alerts the claims name that were never pending or firing on either
    /// timeline (so `timelines.txt` does not list them).
    pub quiet_alerts: Vec<String>,
    /// Files that were missing, unreadable or cut: said on the page.
    pub notes: Vec<String>,
}

/// One broken invariant, as `report.txt` words it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Claim {
    pub check: String,
    pub subject: String,
    pub node: Option<String>,
    pub at: Option<Duration>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FaultEvent {
    pub at: Duration,
    pub kind: String,
    /// What it hit and how, as the fault log words it.
    pub target: String,
}

impl FaultEvent {
    /// The node the fault hit: the target's first word, up to a `:`.
    pub fn node(&self) -> &str {
        let word = self.target.split_whitespace().next().unwrap_or("");
        word.split(':').next().unwrap_or(word)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Incarnation {
    pub node: String,
    pub number: u32,
    pub started_at: Duration,
    /// When it crashed; None when it lived to the end of the run.
    pub crashed_at: Option<Duration>,
    /// Its registry as it stood when it ended, by series.
    pub finals: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Scrape {
    pub node: String,
    pub at: Duration,
    pub incarnation: Option<u32>,
    /// None when the scrape was up; what went wrong otherwise.
    pub down: Option<String>,
    /// Sample values by series (`name{labels}`), for the families the page
    /// charts only.
    pub samples: BTreeMap<String, f64>,
}

/// One ground-truth series on one node: what a perfectly instrumented
/// system would have shown at each scrape; None where it has no data (the
/// scrape failed or the node was down).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Truth {
    /// `name{labels}` without the target's `job` and `instance`, as the
    /// scraped series is named.
    pub series: String,
    pub node: String,
    pub points: Vec<(Duration, Option<f64>)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Status {
    Unset,
    Ok,
    Error(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub kind: &'static str,
    pub node: Option<String>,
    /// Nanoseconds since the Unix epoch, as exported.
    pub start_ns: i128,
    pub end_ns: i128,
    pub status: Status,
    pub attributes: Vec<(String, String)>,
    pub events: Vec<(i128, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Log {
    /// Nanoseconds since the Unix epoch, as exported.
    pub at_ns: i128,
    pub node: Option<String>,
    pub severity: String,
    pub target: String,
    pub body: String,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub attributes: Vec<(String, String)>,
}

/// One alert's firing spans on the two timelines.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Alert {
    pub name: String,
    pub scraped: Firing,
    pub truth: Firing,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Firing {
    /// As `alerts/timelines.txt` words it.
    pub text: String,
    /// The spans it lists: from, and until (None: to the end).
    pub spans: Vec<(Duration, Option<Duration>)>,
}
