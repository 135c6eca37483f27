//! What a system promises about its telemetry, so that generic checks know
//! what to compare with what. The harness never names a fixture type: a
//! system describes its own metrics and spans here, in terms of the
//! harness's ground truth.

use obsim_scenario::{parse_expectation, Expectation, MetricSelector, Quantity, Term};

use super::config::ConfigError;
use super::span_ties::{Shows, SpanTie, Spans};
use super::timing::{Timing, TimingSource};

/// A system's telemetry contract. Build it with the methods below; each
/// piece switches on the part of a check that reads it. The default promises
/// nothing, and the checks then test only what needs no contract (counter
/// monotonicity, span completion, parents, lint, determinism).
#[derive(Clone, Debug, Default)]
pub struct Contract {
    pub(crate) accuracy: Vec<String>,
    pub(crate) unchecked: Vec<(String, String)>,
    pub(crate) non_negative: Vec<String>,
    pub(crate) balances: Vec<Balance>,
    pub(crate) timings: Vec<Timing>,
    pub(crate) request_span: Option<String>,
    pub(crate) storage_span_operation: Option<String>,
    /// The system's words for the harness's `get` and `put`.
    pub(crate) storage_words: Option<(String, String)>,
    /// Every status the client may record with `record_outcome`.
    pub(crate) outcomes: Vec<String>,
    /// The workload operations the system serves; empty: not declared.
    pub(crate) operations: Vec<String>,
    /// Gauges that must equal the keys their node's storage holds.
    pub(crate) stored_keys: Vec<String>,
    /// Gauges that must equal a probe of the service's state: (gauge, probe).
    pub(crate) probes: Vec<(String, String)>,
    /// The dependencies the system calls through `NodeContext::dependency`,
    /// with their operations.
    pub(crate) dependencies: Vec<(String, Vec<String>)>,
    /// The attribute a dependency call's span names its operation in.
    pub(crate) dependency_span_operation: Option<String>,
    /// The server counts the system runs on; None: any.
    pub(crate) servers: Option<std::ops::RangeInclusive<usize>>,
    /// Prometheus rule files the system ships: (name, text).
    pub(crate) alert_rules: Vec<(String, String)>,
    /// The `job` label its targets are scraped under.
    pub(crate) scrape_job: Option<String>,
    /// Metrics tied to the spans of the same work.
    pub(crate) span_ties: Vec<SpanTie>,
    /// Client span names whose one request may reach several servers.
    pub(crate) fan_out: Vec<String>,
    /// The server nodes' own HTTP metrics route, scraped as Prometheus does.
    pub(crate) metrics_route: Option<MetricsRoute>,
    /// Grafana dashboards the system ships: (name, JSON text).
    pub(crate) dashboards: Vec<(String, String)>,
    /// What the system promises about its logs.
    pub(crate) logs: super::log_contract::LogPromises,
}

/// A server node's own HTTP metrics route: obsim's scraper sends it
/// Prometheus's GET over madsim TCP instead of reading obsim's endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsRoute {
    pub port: u16,
    pub path: String,
}

/// The `job` label obsim's scraper gives every target unless the contract
/// names the system's own ([`Contract::scrape_job`]).
pub const SCRAPE_JOB_DEFAULT: &str = "obsim";

/// A gauge that must equal one counter minus another within an incarnation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    pub gauge: String,
    pub up: String,
    pub down: String,
}

impl Contract {
    pub fn new() -> Contract {
        Contract::default()
    }

    /// Every status the client may record with `ClientContext::record_outcome`
    /// (`ok`, `error`, `timeout`, ...). `outcomes.<status>` of a declared
    /// status the client never recorded is 0; of any other it is an error,
    /// so that a typo such as `outcomes.timout == 0` cannot pass. Default:
    /// none declared, so only statuses recorded in the run can be read.
    pub fn outcomes<'a>(mut self, statuses: impl IntoIterator<Item = &'a str>) -> Self {
        self.outcomes
            .extend(statuses.into_iter().map(str::to_string));
        self
    }

    /// The workload operations the system serves (`get`, `increment`, ...).
    /// A scenario whose `[workload] operations` names another is an error
    /// at load, at that line: every call of it would fail, and the run would
    /// blame the telemetry. Default: none declared, nothing checked.
    pub fn operations<'a>(mut self, operations: impl IntoIterator<Item = &'a str>) -> Self {
        self.operations
            .extend(operations.into_iter().map(str::to_string));
        self
    }

    /// The server counts the system can run on, e.g. `2..=2` for a proxy and
    /// its upstream. A scenario with another `[topology] servers` is an
    /// error at that line. Default: any count.
    pub fn servers(mut self, servers: std::ops::RangeInclusive<usize>) -> Self {
        self.servers = Some(servers);
        self
    }

    /// Ok unless `servers` is outside the counts this contract runs on.
    pub(crate) fn check_servers(&self, servers: usize) -> Result<(), ConfigError> {
        match &self.servers {
            Some(range) if !range.contains(&servers) => Err(ConfigError {
                field: "topology.servers".into(),
                problem: format!(
                    "the system runs on {} servers, not {servers}",
                    if range.start() == range.end() {
                        range.start().to_string()
                    } else {
                        format!("{} to {}", range.start(), range.end())
                    }
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Ok unless `workload` names an operation this contract does not serve.
    pub(crate) fn check_operations(&self, workload: &super::Workload) -> Result<(), ConfigError> {
        if self.operations.is_empty() {
            return Ok(());
        }
        let unknown = workload
            .operations
            .iter()
            .find(|(name, _)| !self.operations.contains(name));
        match unknown {
            Some((name, _)) => Err(ConfigError {
                field: format!("workload.operations.{name}"),
                problem: format!(
                    "the system does not serve {name:?}: every call of it would fail. Expected \
                     one of {}",
                    self.operations.join(", ")
                ),
            }),
            None => Ok(()),
        }
    }

    /// A ground-truth rule in the scenario expectation language, such as
    /// `final(storage_operations_total{status="ok"}) == storage.ok`. Every
    /// counter named in a `final(...)` counts as covered.
    pub fn accurate(mut self, rule: &str) -> Self {
        self.accuracy.push(rule.to_string());
        self
    }

    /// A counter of storage operations by operation and status, in one
    /// line: for `get` and `put` (in the system's words, so call
    /// [`Contract::storage_operation_names`] first if it has its own), its
    /// `ok` series equals the operations of that kind the harness completed,
    /// and its `error` series, over every operation, equals the operations
    /// that failed. The same three [`Contract::accurate`] rules written out:
    ///
    /// ```text
    /// final(<counter>{<operation>="get",<status>="ok"}) == storage.ok{operation="get"}
    /// final(<counter>{<operation>="put",<status>="ok"}) == storage.ok{operation="put"}
    /// final(<counter>{<status>="error"}) == storage.failed
    /// ```
    ///
    /// A system that also deletes ties its `delete` series with a rule of
    /// its own.
    pub fn storage_counter(self, counter: &str, operation_label: &str, status_label: &str) -> Self {
        let rule = |operation: &str| {
            let word = self.storage_word(operation).to_string();
            format!(
                r#"final({counter}{{{operation_label}="{word}",{status_label}="ok"}}) == storage.ok{{operation="{operation}"}}"#
            )
        };
        let (get, put) = (rule("get"), rule("put"));
        let failed = format!(r#"final({counter}{{{status_label}="error"}}) == storage.failed"#);
        self.accurate(&get).accurate(&put).accurate(&failed)
    }

    /// A counter or histogram with no ground truth, and why: it is then not
    /// reported as uncovered (a counter with no accuracy rule, a histogram
    /// with no placement check).
    pub fn unchecked(mut self, metric: &str, why: &str) -> Self {
        self.unchecked.push((metric.to_string(), why.to_string()));
        self
    }

    /// A gauge that counts the keys its node keeps in storage (summed over
    /// its series). At every scrape and every final exposition of a server
    /// incarnation it must equal what the storage held committed at that
    /// instant: a gauge that restarts at zero while the disk still holds
    /// the data fails at the new incarnation's first scrape.
    pub fn stored_keys(mut self, gauge: &str) -> Self {
        self.stored_keys.push(gauge.to_string());
        self
    }

    /// A gauge (summed over its series) that must equal probe `probe` of the
    /// service's real state, registered by each server incarnation with
    /// `NodeContext::probe` and read in the same poll as each render: at every
    /// scrape and every final exposition of a server incarnation. A cache
    /// gauge moved on a path that never touched the cache fails at the next
    /// scrape. A probe no server ever registered is an error, not a pass.
    pub fn probe(mut self, gauge: &str, probe: &str) -> Self {
        self.probes.push((gauge.to_string(), probe.to_string()));
        self
    }

    /// A gauge that counts things, so it can never be negative.
    pub fn non_negative(mut self, gauge: &str) -> Self {
        self.non_negative.push(gauge.to_string());
        self
    }

    /// `gauge == up - down` at every scrape and in every final exposition of
    /// an incarnation. The gauge must also be non-negative.
    pub fn balance(mut self, gauge: &str, up: &str, down: &str) -> Self {
        self.balances.push(Balance {
            gauge: gauge.to_string(),
            up: up.to_string(),
            down: down.to_string(),
        });
        self.non_negative(gauge)
    }

    /// `histogram` observes each storage operation's duration in seconds,
    /// labelled with the operation in `operation_label` (`get`, `put`, or the
    /// words of [`Contract::storage_operation_names`]).
    pub fn storage_timing(self, histogram: &str, operation_label: &str) -> Self {
        self.timing(histogram, operation_label, TimingSource::Storage)
    }

    /// `histogram` observes, in seconds, each request a server answered
    /// through [`Network::accept`](crate::Network::accept): from its receipt
    /// to its reply, labelled in `operation_label` with the workload
    /// operation of the call. Each incarnation's final buckets, count and
    /// sum must hold exactly those durations. An empty label (`""`) says
    /// the histogram has none: one series holds every request of the node
    /// (the same for every timing below).
    pub fn request_timing(self, histogram: &str, operation_label: &str) -> Self {
        self.timing(histogram, operation_label, TimingSource::Requests)
    }

    /// As [`Contract::request_timing`], labelled with the method the caller
    /// named instead (`method_label`).
    pub fn request_timing_by_method(self, histogram: &str, method_label: &str) -> Self {
        self.timing(histogram, method_label, TimingSource::RequestsByMethod)
    }

    /// `histogram` observes, in seconds, each call a node finished (made with
    /// [`Network::call`](crate::Network::call)): from the call's start to its
    /// [`finish`](crate::Call::finish), every attempt and backoff included,
    /// labelled in `operation_label` with the call's operation.
    pub fn call_timing(self, histogram: &str, operation_label: &str) -> Self {
        self.timing(histogram, operation_label, TimingSource::Calls)
    }

    /// `histogram` observes, in seconds, each call through dependency
    /// `dependency`'s boundary ([`NodeContext::dependency`](crate::NodeContext::dependency)),
    /// injected latency included, labelled with the operation in
    /// `operation_label`.
    pub fn dependency_timing(
        self,
        dependency: &str,
        histogram: &str,
        operation_label: &str,
    ) -> Self {
        let source = TimingSource::Dependency(dependency.to_string());
        self.timing(histogram, operation_label, source)
    }

    /// A dependency the system calls through
    /// [`NodeContext::dependency`](crate::NodeContext::dependency), and its
    /// operations. A scenario fault aimed at another dependency or operation
    /// is an error at its line, and `dependencies.<result>{dependency=..}`
    /// may name only these. Default: none.
    pub fn dependency<'a>(
        mut self,
        name: &str,
        operations: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let operations = operations.into_iter().map(str::to_string).collect();
        self.dependencies.push((name.to_string(), operations));
        self
    }

    /// Each dependency call has exactly one span of its own, current as the
    /// call starts, carrying the call's operation in `operation_attribute`;
    /// it covers the call and ends in error exactly when the call fails.
    pub fn dependency_spans(mut self, operation_attribute: &str) -> Self {
        self.dependency_span_operation = Some(operation_attribute.to_string());
        self
    }

    /// Ok unless a fault of `plan` aims at a dependency, or an operation of
    /// one, that this contract does not declare: it could never fire.
    pub(crate) fn check_dependency_faults(
        &self,
        plan: &[obsim_faults::Fault],
    ) -> Result<(), ConfigError> {
        for (index, fault) in plan.iter().enumerate() {
            if !fault.kind().is_dependency() {
                continue;
            }
            let declared: Vec<&(String, Vec<String>)> = match &fault.dependency {
                Some(name) => self
                    .dependencies
                    .iter()
                    .filter(|(d, _)| d == name)
                    .collect(),
                None => self.dependencies.iter().collect(),
            };
            if declared.is_empty() {
                let names: Vec<&str> = self.dependencies.iter().map(|(d, _)| d.as_str()).collect();
                return Err(ConfigError {
                    field: format!("faults[{index}].dependency"),
                    problem: format!(
                        "the system calls no dependency {}: this fault could never fire. It \
                         declares {}",
                        fault
                            .dependency
                            .as_deref()
                            .map_or("at all".to_string(), |d| format!("{d:?}")),
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                });
            }
            if let Some(operation) = &fault.operation {
                let known = declared.iter().any(|(_, ops)| ops.contains(operation));
                if !known {
                    let ops: Vec<&str> = declared
                        .iter()
                        .flat_map(|(_, ops)| ops.iter().map(String::as_str))
                        .collect();
                    return Err(ConfigError {
                        field: format!("faults[{index}].operation"),
                        problem: format!(
                            "the system calls no dependency operation {operation:?} there: this \
                             fault could never fire. Expected one of {}",
                            ops.join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn timing(mut self, histogram: &str, label: &str, source: TimingSource) -> Self {
        self.timings.push(Timing {
            histogram: histogram.to_string(),
            label: label.to_string(),
            source,
        });
        self
    }

    /// `histogram` observes, in seconds, the duration of each of `spans`,
    /// on the node incarnation the span ran in: each incarnation's final
    /// buckets, `_count` and `_sum` must hold exactly those durations,
    /// series by series as `spans` maps its labels (each within
    /// [`SCHEDULING_SLACK`](crate::SCHEDULING_SLACK), since a service's
    /// clock and its span may start a few polls apart). It needs no ledger
    /// of obsim's, so it holds on any transport: a histogram recorded in
    /// milliseconds, or a span that ends before the work it times, fails.
    ///
    /// ```ignore
    /// .span_histogram(
    ///     "http_server_request_duration_seconds",
    ///     Spans::of_kind("server").label("http_route", "http.route"),
    /// )
    /// ```
    pub fn span_histogram(self, histogram: &str, spans: Spans) -> Self {
        self.span_tie(histogram, spans, Shows::Durations)
    }

    /// `counter` counts each of `spans` exactly once, series by series as
    /// `spans` maps its labels: `status="error"` (with
    /// [`Spans::status_label`]) equals the spans in error. Each
    /// incarnation's final value must equal the spans that ran in it; a
    /// scrape, at most the spans open or ended by then. A request counted
    /// once per attempt, or an error counted as ok, fails on any transport.
    pub fn span_counter(self, counter: &str, spans: Spans) -> Self {
        self.span_tie(counter, spans, Shows::Count)
    }

    /// `gauge` shows how many of `spans` are open on its node incarnation,
    /// at every scrape and in every final exposition (an in-flight requests
    /// gauge): a gauge the error path never decrements drifts above the
    /// open spans and fails. Spans that start or end within
    /// [`SCHEDULING_SLACK`](crate::SCHEDULING_SLACK) of the render may count
    /// either way.
    pub fn span_gauge(self, gauge: &str, spans: Spans) -> Self {
        self.span_tie(gauge, spans, Shows::InFlight)
    }

    fn span_tie(mut self, metric: &str, spans: Spans, shows: Shows) -> Self {
        self.span_ties.push(SpanTie {
            metric: metric.to_string(),
            spans,
            shows,
        });
        self
    }

    /// A client span named `span_name` may send one request to several
    /// servers (a broadcast, a quorum write), so it may have several
    /// server-kind children. Every other client span has at most one: a
    /// second server span under it is work filed under the wrong attempt,
    /// as a retry that reuses the first attempt's trace context files it.
    pub fn fan_out(mut self, span_name: &str) -> Self {
        self.fan_out.push(span_name.to_string());
        self
    }

    /// Each server node serves its metrics on its own HTTP route, `path` on
    /// `port` (`9000`, `/metrics`), and obsim's scraper scrapes that route
    /// over madsim TCP as Prometheus does: an HTTP/1.1 GET with
    /// Prometheus's `Accept` header, within the scrape timeout. A scrape
    /// that fails is `up == 0`; one the service answers with a status other
    /// than 200, a content type Prometheus cannot read, or a body that does
    /// not parse is also a finding of `exposition_lint`. Final values still
    /// come from the in-process handle a node gives with
    /// `NodeContext::serve_metrics`; a node that gives none is judged from
    /// its last answered scrape, and the checks say so. Default: obsim's own
    /// endpoint, with no route of the service's.
    pub fn metrics_route(mut self, port: u16, path: &str) -> Self {
        self.metrics_route = Some(MetricsRoute {
            port,
            path: path.to_string(),
        });
        self
    }

    /// The span that roots each client request: every request is one trace
    /// under one such span, and it ends in error exactly when the client
    /// recorded a non-`ok` outcome.
    pub fn request_span(mut self, name: &str) -> Self {
        self.request_span = Some(name.to_string());
        self
    }

    /// Storage operation spans carry the operation (`get`, `put`, or the words
    /// of [`Contract::storage_operation_names`]) in this
    /// attribute (OpenTelemetry's `db.operation.name`); their status must
    /// match what the harness's storage returned.
    pub fn storage_spans(mut self, operation_attribute: &str) -> Self {
        self.storage_span_operation = Some(operation_attribute.to_string());
        self
    }

    /// The system's own words for the harness's storage operations, as its
    /// storage spans and storage timing histogram label them (default: `get`
    /// and `put`, the [`Storage`](crate::Storage) method names). A vector
    /// store might say `.storage_operation_names("read", "write")`.
    pub fn storage_operation_names(mut self, get: &str, put: &str) -> Self {
        self.storage_words = Some((get.to_string(), put.to_string()));
        self
    }

    /// The system's word for the harness's storage operation `operation`.
    pub(crate) fn storage_word<'a>(&'a self, operation: &'a str) -> &'a str {
        match (&self.storage_words, operation) {
            (Some((get, _)), "get") => get,
            (Some((_, put)), "put") => put,
            _ => operation,
        }
    }

    /// A Prometheus rule file the system ships (alerting and recording
    /// rules, SLO rules as Sloth or Pyrra generate them), by a name for
    /// messages and artifacts (`alerts.yml`) and its text, usually
    /// `include_str!`. Every run evaluates its rules twice, over what the
    /// scraper saw and over ground truth, and `alert_correctness` compares
    /// the alerts. A file that does not load is an error when the
    /// simulation is built, naming its line. Default: none.
    pub fn alert_rules(mut self, name: &str, text: &str) -> Self {
        self.alert_rules.push((name.to_string(), text.to_string()));
        self
    }

    /// The `job` label the scraper gives the system's targets, as its rules
    /// select them (`job="actors"`). `instance` is the node's name.
    /// Default: [`SCRAPE_JOB_DEFAULT`].
    pub fn scrape_job(mut self, job: &str) -> Self {
        self.scrape_job = Some(job.to_string());
        self
    }

    /// The job label in effect.
    pub(crate) fn job(&self) -> &str {
        self.scrape_job.as_deref().unwrap_or(SCRAPE_JOB_DEFAULT)
    }

    /// The rule files the system ships, loaded.
    pub(crate) fn alert_rule_files(&self) -> Result<Vec<obsim_rules::RuleFile>, ConfigError> {
        self.alert_rules
            .iter()
            .map(|(name, text)| {
                obsim_rules::parse(name, text).map_err(|error| ConfigError {
                    field: format!("contract alert rules {name:?}"),
                    problem: error.to_string(),
                })
            })
            .collect()
    }

    /// A Grafana dashboard the system ships (the classic JSON model, as
    /// Grafana exports it), by a name for messages and artifacts
    /// (`dashboards/actors.json`) and its text, usually `include_str!`.
    /// Every run fills its template variables with the run's label values
    /// and evaluates every panel's PromQL over what was scraped, and
    /// `dashboard_queries` fails a panel whose query matches no series for
    /// the whole run. A dashboard that does not load (bad JSON, a query
    /// that does not parse or is outside obsim's PromQL subset, an unknown
    /// variable) is an error when the simulation is built, naming its line
    /// and panel. Default: none.
    pub fn dashboard(mut self, name: &str, json: &str) -> Self {
        self.dashboards.push((name.to_string(), json.to_string()));
        self
    }

    /// The dashboards the system ships, loaded.
    pub(crate) fn dashboard_files(&self) -> Result<Vec<obsim_rules::Dashboard>, ConfigError> {
        self.dashboards
            .iter()
            .map(|(name, text)| {
                obsim_rules::parse_dashboard(name, text).map_err(|error| ConfigError {
                    field: format!("contract dashboard {name:?}"),
                    problem: error.to_string(),
                })
            })
            .collect()
    }

    /// Parses the accuracy rules: a rule that does not parse is a bug in the
    /// system's contract, reported when the simulation is built.
    pub(crate) fn rules(&self) -> Result<Vec<Expectation>, ConfigError> {
        self.accuracy
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                parse_expectation(rule).map_err(|error| ConfigError {
                    field: format!("contract accuracy rule #{index} `{rule}`"),
                    problem: error.to_string(),
                })
            })
            .collect()
    }
}

/// The metrics a rule reads through `final(...)`, with their selectors.
pub(crate) fn final_selectors(rule: &Expectation) -> Vec<&MetricSelector> {
    rule.left
        .terms
        .iter()
        .chain(rule.right.terms.iter())
        .filter_map(|(_, term)| match term {
            Term::Quantity(Quantity::Final(metric)) => Some(metric),
            _ => None,
        })
        .collect()
}

/// The metric names a rule reads through `final(...)`.
pub(crate) fn final_metrics(rule: &Expectation) -> Vec<&str> {
    final_selectors(rule)
        .into_iter()
        .map(|metric| metric.metric.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Contract;

    #[test]
    fn a_storage_counter_is_three_rules_in_the_systems_words_against_the_harnesss() {
        let contract = Contract::new()
            .storage_operation_names("read", "write")
            .storage_counter("db_ops_total", "op", "result");
        assert_eq!(
            contract.accuracy,
            [
                r#"final(db_ops_total{op="read",result="ok"}) == storage.ok{operation="get"}"#,
                r#"final(db_ops_total{op="write",result="ok"}) == storage.ok{operation="put"}"#,
                r#"final(db_ops_total{result="error"}) == storage.failed"#,
            ]
        );
    }
}
