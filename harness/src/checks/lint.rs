//! Exposition lint: what a run actually exported, held to Prometheus's naming
//! conventions (`promtool.rs` adds the real `promtool check metrics`).
//! A metric that breaks a convention breaks the dashboards and alerts written
//! against it, so the messages say what is wrong and what the convention is.
//!
//! Each exposition is held to the rules of the format it was served in. In
//! Prometheus text 0.0.4 a counter's family name ends in `_total`. In
//! OpenMetrics the family is declared without it (`# TYPE foo counter`) and
//! its samples carry it (`foo_total`); a `# UNIT` must be the family name's
//! suffix, which the parser already enforces as Prometheus does (a parse
//! failure, reported here); HELP, label names, base units and cardinality
//! are checked alike.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::sources::{sources, Source};
use super::{Check, Violation};
use crate::run::exposition::{self, Family, Format, MetricKind, ParseError};
use crate::run::Run;

/// Prometheus naming, HELP and label cardinality over everything the run
/// exported. Each rule is reported once per metric family, where first seen.
pub fn exposition_lint(run: &Run, label_values_max: usize) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut reported: BTreeSet<(String, &'static str)> = BTreeSet::new();
    let mut cardinality = Cardinality::default();
    for source in sources(run) {
        let exposition = match &source.exposition {
            Ok(exposition) => exposition,
            Err(error) => {
                violations.push(parse_failure(&source, error));
                continue;
            }
        };
        for family in &exposition.families {
            for (rule, problem) in family_problems(family, exposition.format) {
                if reported.insert((family.name.clone(), rule)) {
                    violations.push(lint_violation(&source, &family.name, problem));
                }
            }
            cardinality.record(&source, family, label_values_max);
        }
    }
    violations.extend(cardinality.violations(label_values_max));
    violations.extend(route_findings(run));
    violations
}

/// A server whose metrics route no scrape reached in the whole run: the
/// route's port or path is wrong, or the service never serves it, and
/// nothing scraped could be checked. Not a pass.
pub(crate) fn route_unanswered(run: &Run, contract: &crate::run::Contract) -> Vec<Violation> {
    let Some(route) = &contract.metrics_route else {
        return Vec::new();
    };
    let mut by_node: BTreeMap<&str, Vec<&crate::run::Scrape>> = BTreeMap::new();
    for scrape in run.scrapes.iter().filter(|scrape| scrape.node != "client") {
        by_node
            .entry(scrape.node.as_str())
            .or_default()
            .push(scrape);
    }
    by_node
        .into_iter()
        .filter(|(_, scrapes)| {
            scrapes
                .iter()
                .all(|scrape| scrape.incarnation.is_none() && scrape.finding.is_none())
        })
        .map(|(node, scrapes)| Violation {
            check: Check::ExpositionLint,
            subject: "metrics route".into(),
            node: Some(node.to_string()),
            at: None,
            message: format!(
                "answered none of the {} scrapes of `{}` on port {} in the whole run (the \
                 first: {}): is the contract's port and path the service's own, and does it \
                 serve them? Nothing it exported could be checked as scraped",
                scrapes.len(),
                route.path,
                route.port,
                scrapes[0].error.as_deref().unwrap_or("no answer")
            ),
        })
        .collect()
}

/// Scrapes the service's own metrics route answered with something
/// Prometheus cannot read: the first per node in full, with how many of
/// that node's scrapes went the same way.
fn route_findings(run: &Run) -> Vec<Violation> {
    let mut first: BTreeMap<&str, (&crate::run::Scrape, &str)> = BTreeMap::new();
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for scrape in &run.scrapes {
        let entry = counts.entry(scrape.node.as_str()).or_default();
        entry.1 += 1;
        if let Some(finding) = &scrape.finding {
            entry.0 += 1;
            first
                .entry(scrape.node.as_str())
                .or_insert((scrape, finding));
        }
    }
    first
        .into_iter()
        .map(|(node, (scrape, finding))| {
            let (found, total) = counts[node];
            let incarnation = scrape
                .incarnation
                .map_or("?".to_string(), |n| n.to_string());
            Violation {
                check: Check::ExpositionLint,
                subject: "metrics route".into(),
                node: Some(node.to_string()),
                at: Some(scrape.at),
                message: format!(
                    "{finding}. Prometheus marks the target down (up == 0) for such a scrape; \
                     {found} of the {total} scrapes of {node} (incarnation {incarnation} first) \
                     went this way"
                ),
            }
        })
        .collect()
}

fn lint_violation(source: &Source<'_>, family: &str, problem: String) -> Violation {
    Violation {
        check: Check::ExpositionLint,
        subject: format!("metric `{family}`"),
        node: Some(source.node.to_string()),
        at: source.at,
        message: format!("{problem} (first seen in {})", source.place()),
    }
}

fn parse_failure(source: &Source<'_>, error: &ParseError) -> Violation {
    let what = match error.format {
        Format::PrometheusText => "text that is not valid Prometheus exposition format",
        Format::OpenMetrics => "OpenMetrics text that is not valid OpenMetrics",
    };
    Violation {
        check: Check::ExpositionLint,
        subject: "final exposition".into(),
        node: Some(source.node.to_string()),
        at: source.at,
        message: format!(
            "{} exported {what} ({error}): \
             Prometheus would reject the whole scrape and the node would look down",
            source.place()
        ),
    }
}

/// The conventions one family breaks, each with a stable rule name for
/// deduplication. Messages name the family as the text declares it (the same
/// name in 0.0.4; `foo` for the OpenMetrics counter `foo_total`).
fn family_problems(family: &Family, format: Format) -> Vec<(&'static str, String)> {
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let name = &family.declared_name;
    if !exposition::is_metric_name(name) {
        problems.push((
            "metric_name",
            format!("`{name}` is not a valid metric name: names match `[a-zA-Z_:][a-zA-Z0-9_:]*`"),
        ));
    }
    problems.extend(label_name_problem(family).map(|p| ("label_name", p)));
    if family
        .help
        .as_deref()
        .is_none_or(|help| help.trim().is_empty())
    {
        problems.push((
            "help",
            format!(
                "`{name}` has no HELP text: every metric needs a `# HELP {name} ...` line saying \
                 what it measures, so whoever finds it in a dashboard knows what it means"
            ),
        ));
    }
    match format {
        Format::PrometheusText => {
            problems.extend(total_suffix_problem(family).map(|p| ("total_suffix", p)));
        }
        Format::OpenMetrics => {
            problems.extend(openmetrics_suffix_problem(family).map(|p| ("total_suffix", p)));
            problems.extend(openmetrics_sample_problem(family).map(|p| ("sample_name", p)));
        }
    }
    let unit = non_base_unit_problem(name);
    let unit_found = unit.is_some();
    problems.extend(unit.map(|p| ("unit", p)));
    // A name with a non-base unit is already told which unit to use.
    if !unit_found {
        problems.extend(unit_suffix_problem(family).map(|p| ("unit_suffix", p)));
    }
    problems
}

fn label_name_problem(family: &Family) -> Option<String> {
    let names: BTreeSet<&str> = family
        .samples
        .iter()
        .flat_map(|sample| sample.labels.iter().map(|(label, _)| label.as_str()))
        .collect();
    let bad: Vec<String> = names
        .into_iter()
        .filter(|label| !exposition::is_label_name(label) || label.starts_with("__"))
        .map(|label| format!("`{label}`"))
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "`{}` has invalid label names {}: label names match `[a-zA-Z_][a-zA-Z0-9_]*` \
             and must not start with `__`, which Prometheus reserves for its own labels",
            family.name,
            bad.join(", ")
        )
    })
}

fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
        MetricKind::Summary => "summary",
        MetricKind::Untyped => "untyped metric",
        MetricKind::Info => "info metric",
        MetricKind::StateSet => "stateset",
        MetricKind::GaugeHistogram => "gauge histogram",
    }
}

fn total_suffix_problem(family: &Family) -> Option<String> {
    let name = &family.name;
    let is_total = name.ends_with("_total");
    match family.kind {
        MetricKind::Counter if !is_total => Some(format!(
            "`{name}` is a counter but does not end in `_total`: counter names end in \
             `_total` (e.g. `{name}_total`) so that readers know to rate() them"
        )),
        kind if kind != MetricKind::Counter && is_total => Some(format!(
            "`{name}` is a {} but ends in `_total`, which is reserved for counters: \
             readers will rate() it. Drop the suffix or make it a counter",
            kind_name(kind)
        )),
        _ => None,
    }
}

/// OpenMetrics names a counter family without `_total` and its samples with
/// it, and an info family without `_info`: a family declared with the suffix
/// exports it twice. Other kinds must not end in `_total` either.
fn openmetrics_suffix_problem(family: &Family) -> Option<String> {
    let name = &family.declared_name;
    let (doubled, keyword) = match family.kind {
        MetricKind::Counter => ("_total", "counter"),
        MetricKind::Info => ("_info", "info"),
        kind if name.ends_with("_total") => {
            return Some(format!(
                "`{name}` is a {} but ends in `_total`, which is reserved for counters: \
                 readers will rate() it. Drop the suffix or make it a counter",
                kind_name(kind)
            ))
        }
        _ => return None,
    };
    let base = name.strip_suffix(doubled)?;
    Some(format!(
        "OpenMetrics {} family `{name}` ends in `{doubled}`: in OpenMetrics the family is \
         declared without it and its samples add it (`# TYPE {base} {keyword}` with samples \
         `{base}{doubled}`), so this one exports `{name}{doubled}`. Register it as `{base}`",
        kind_name(family.kind)
    ))
}

/// OpenMetrics sample names a family's type does not give it: a counter
/// sample without `_total`, above all, which queries and rate() never find.
fn openmetrics_sample_problem(family: &Family) -> Option<String> {
    let name = &family.declared_name;
    let allowed: Vec<String> = family
        .kind
        .openmetrics_suffixes()
        .iter()
        .map(|suffix| format!("{name}{suffix}"))
        .collect();
    let wrong: BTreeSet<String> = family
        .samples
        .iter()
        .filter(|sample| !allowed.contains(&sample.name))
        .map(|sample| format!("`{}`", sample.name))
        .collect();
    if wrong.is_empty() {
        return None;
    }
    let wrong = wrong.into_iter().collect::<Vec<_>>().join(", ");
    if family.kind == MetricKind::Counter {
        return Some(format!(
            "OpenMetrics counter `{name}` has samples named {wrong}: a counter's samples \
             end in `_total` (`{name}_total`, and `{name}_created` for its creation time), \
             and that is the name queries and rate() use"
        ));
    }
    let allowed: Vec<String> = allowed.iter().map(|name| format!("`{name}`")).collect();
    Some(format!(
        "OpenMetrics {} `{name}` has samples named {wrong}, which its type does not give \
         it: its samples are {}",
        kind_name(family.kind),
        allowed.join(", ")
    ))
}

/// Name words that are non-base units, and the base unit to use instead.
const NON_BASE_UNITS: [(&str, &str); 30] = [
    ("ms", "seconds"),
    ("msec", "seconds"),
    ("millis", "seconds"),
    ("milliseconds", "seconds"),
    ("us", "seconds"),
    ("usec", "seconds"),
    ("micros", "seconds"),
    ("microseconds", "seconds"),
    ("ns", "seconds"),
    ("nsec", "seconds"),
    ("nanos", "seconds"),
    ("nanoseconds", "seconds"),
    ("sec", "seconds"),
    ("secs", "seconds"),
    ("mins", "seconds"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("kb", "bytes"),
    ("kib", "bytes"),
    ("kilobytes", "bytes"),
    ("mb", "bytes"),
    ("mib", "bytes"),
    ("megabytes", "bytes"),
    ("gb", "bytes"),
    ("gib", "bytes"),
    ("gigabytes", "bytes"),
    ("percent", "ratio"),
    ("percentage", "ratio"),
    ("pct", "ratio"),
];

fn non_base_unit_problem(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower.split('_').collect();
    let (unit, base) = words
        .iter()
        .find_map(|word| NON_BASE_UNITS.iter().find(|(unit, _)| unit == word))?;
    let renamed: Vec<&str> = words
        .iter()
        .map(|word| if word == unit { *base } else { *word })
        .collect();
    Some(format!(
        "`{name}` has the non-base unit `{unit}` in its name: Prometheus uses base units \
         (`_seconds`, `_bytes`, `_ratio`) as floats, so queries never convert. Record {base} \
         and name it `{}`",
        renamed.join("_")
    ))
}

/// The base units a histogram or summary name may end in.
const BASE_UNITS: [&str; 9] = [
    "_seconds", "_bytes", "_meters", "_ratio", "_celsius", "_volts", "_amperes", "_joules",
    "_grams",
];

fn unit_suffix_problem(family: &Family) -> Option<String> {
    let name = &family.declared_name;
    let distribution = matches!(
        family.kind,
        MetricKind::Histogram | MetricKind::Summary | MetricKind::GaugeHistogram
    );
    if !distribution || BASE_UNITS.iter().any(|unit| name.ends_with(unit)) {
        return None;
    }
    Some(format!(
        "`{name}` is a {} without a base-unit suffix: the name ends in its unit, last \
         ({}), e.g. `{name}_seconds`",
        kind_name(family.kind),
        BASE_UNITS.join(", ")
    ))
}

/// How many values a cardinality violation lists.
const VALUES_LISTED: usize = 5;

/// The distinct values of each label of each family over the whole run, and
/// where each first went over the bound.
#[derive(Default)]
struct Cardinality {
    labels: BTreeMap<(String, String), LabelValues>,
}

#[derive(Default)]
struct LabelValues {
    values: BTreeSet<String>,
    /// Node, time and place where the values first exceeded the bound.
    exceeded: Option<(String, Option<Duration>, String)>,
}

impl Cardinality {
    fn record(&mut self, source: &Source<'_>, family: &Family, max: usize) {
        for sample in &family.samples {
            // `le` and `quantile` are bounded by the bucket layout, not by data.
            let labels = sample.labels.iter();
            for (label, value) in labels.filter(|(label, _)| label != "le" && label != "quantile") {
                let key = (family.name.clone(), label.clone());
                let entry = self.labels.entry(key).or_default();
                if entry.values.insert(value.clone())
                    && entry.values.len() > max
                    && entry.exceeded.is_none()
                {
                    let place = (source.node.to_string(), source.at, source.place());
                    entry.exceeded = Some(place);
                }
            }
        }
    }

    fn violations(&self, max: usize) -> Vec<Violation> {
        let over = self
            .labels
            .iter()
            .filter(|(_, values)| values.values.len() > max);
        over.map(|((family, label), values)| {
            let (node, at, place) = values.exceeded.clone().unwrap_or_default();
            let listed: Vec<String> = values
                .values
                .iter()
                .take(VALUES_LISTED)
                .map(|v| format!("{v:?}"))
                .collect();
            Violation {
                check: Check::ExpositionLint,
                subject: format!("metric `{family}`"),
                node: Some(node),
                at,
                message: format!(
                    "label `{label}` of `{family}` took {} distinct values across the run \
                     (bound {max}): a label must have a bounded set of values; is an id used \
                     as a label? First values: {}, ... (went over the bound in {place})",
                    values.values.len(),
                    listed.join(", ")
                ),
            }
        })
        .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::run::IncarnationRecord;

    /// A run with only its incarnations' final expositions filled in.
    pub(crate) fn run_with_finals(finals: &[&str]) -> Run {
        Run {
            scenario: "test".into(),
            seed: 1,
            ended_at: Duration::from_secs(10),
            spans: Vec::new(),
            otel_spans: Vec::new(),
            logs: Vec::new(),
            otel_logs: Vec::new(),
            secrets_asked: Default::default(),
            lifecycle: Default::default(),
            scrapes: Vec::new(),
            faults: Vec::new(),
            faults_dropped: 0,
            fault_counts: BTreeMap::new(),
            fired_by_entry: BTreeMap::new(),
            incarnations: finals
                .iter()
                .enumerate()
                .map(|(index, text)| IncarnationRecord {
                    node: format!("server-{}", index + 1),
                    number: 0,
                    started_at: Duration::ZERO,
                    ended_at: None,
                    final_exposition: text.to_string(),
                    stored_keys: None,
                    probes: Default::default(),
                    // Empty: the format is detected, as for a plain text.
                    final_content_type: String::new(),
                    final_source: Default::default(),
                    parsed: Default::default(),
                })
                .collect(),
            outcomes: BTreeMap::new(),
            amounts: BTreeMap::new(),
            messages: BTreeMap::new(),
            storage_ops: Vec::new(),
            recovered: BTreeMap::new(),
            calls: Vec::new(),
            requests: Vec::new(),
            dependency_calls: Vec::new(),
            plan: Vec::new(),
            fixed_faults: 0,
            fault_schedule: Ok(Vec::new()),
        }
    }

    pub(crate) const CLEAN: &str = r#"# HELP sessions_active Sessions currently open on this node.
# TYPE sessions_active gauge
sessions_active 3
# HELP sessions_requests_total Requests handled, by operation and status.
# TYPE sessions_requests_total counter
sessions_requests_total{operation="get",status="ok"} 12
# HELP storage_operation_duration_seconds Time a storage operation took.
# TYPE storage_operation_duration_seconds histogram
storage_operation_duration_seconds_bucket{operation="get",le="0.001"} 2
storage_operation_duration_seconds_bucket{operation="get",le="+Inf"} 3
storage_operation_duration_seconds_sum{operation="get"} 0.5
storage_operation_duration_seconds_count{operation="get"} 3
"#;

    fn lint(text: &str) -> Vec<Violation> {
        exposition_lint(&run_with_finals(&[text, text]), 100)
    }

    #[test]
    fn clean_text_passes() {
        assert_eq!(lint(CLEAN), Vec::new());
    }

    #[test]
    fn counter_without_total_is_reported_once_across_nodes() {
        let violations = lint("# HELP foo Foos.\n# TYPE foo counter\nfoo 1\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        let violation = &violations[0];
        assert_eq!(violation.subject, "metric `foo`");
        assert_eq!(violation.node.as_deref(), Some("server-1"));
        assert!(violation.message.contains("`_total`"), "{violation}");
        assert!(
            violation.message.contains("server-1 incarnation 0"),
            "{violation}"
        );
    }

    #[test]
    fn gauge_ending_in_total_is_reported() {
        let violations = lint("# HELP up_total Ups.\n# TYPE up_total gauge\nup_total 1\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].message.contains("reserved for counters"));
    }

    #[test]
    fn missing_help_is_reported() {
        let violations = lint("# TYPE foo_total counter\nfoo_total 1\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].message.contains("no HELP"));
    }

    #[test]
    fn millisecond_histogram_is_reported() {
        let text = "# HELP request_ms Latency.\n# TYPE request_ms histogram\n\
                    request_ms_bucket{le=\"+Inf\"} 1\nrequest_ms_sum 3\nrequest_ms_count 1\n";
        let violations = lint(text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0].message.contains("`request_seconds`"),
            "{}",
            violations[0]
        );
    }

    #[test]
    fn histogram_without_unit_is_reported() {
        let text = "# HELP batch Batch sizes.\n# TYPE batch histogram\n\
                    batch_bucket{le=\"+Inf\"} 1\nbatch_sum 3\nbatch_count 1\n";
        let violations = lint(text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].message.contains("base-unit suffix"));
    }

    #[test]
    fn reserved_label_is_reported() {
        let violations = lint("# HELP a_total A.\n# TYPE a_total counter\na_total{__x=\"1\"} 1\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].message.contains("`__x`"));
    }

    #[test]
    fn unparseable_final_is_reported() {
        let violations = lint("garbage{{{\n");
        assert_eq!(violations.len(), 2, "{violations:#?}");
        assert!(violations[1].message.contains("server-2 incarnation 0"));
    }

    fn sessions(count: usize) -> String {
        let mut text = String::from("# HELP x_total Calls.\n# TYPE x_total counter\n");
        for session in 0..count {
            text.push_str(&format!("x_total{{session=\"s{session:03}\"}} 1\n"));
        }
        text
    }

    #[test]
    fn unbounded_label_is_reported_over_the_bound_only() {
        // Split across two nodes: cardinality counts the whole run.
        let (first, second) = (sessions(80), sessions(150));
        let run = run_with_finals(&[&first, &second]);
        let violations = exposition_lint(&run, 100);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        let message = &violations[0].message;
        assert!(
            message.contains(
                "label `session` of `x_total` took 150 distinct values across the run (bound 100)"
            ),
            "{message}"
        );
        assert!(message.contains(r#""s000", "s001""#), "{message}");
        assert_eq!(violations[0].node.as_deref(), Some("server-2"));
        assert_eq!(exposition_lint(&run, 200), Vec::new());
    }

    /// A clean exposition as prometheus-client writes it: a labelled counter,
    /// a gauge, a histogram and a counter with units, an info metric and a
    /// counter with an exemplar.
    pub(crate) fn client_text() -> String {
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::exemplar::CounterWithExemplar;
        use prometheus_client::metrics::family::Family as ClientFamily;
        use prometheus_client::metrics::gauge::Gauge;
        use prometheus_client::metrics::histogram::Histogram;
        use prometheus_client::metrics::info::Info;
        use prometheus_client::registry::{Registry, Unit};
        type Labels = Vec<(String, String)>;
        let label = |name: &str, value: &str| (name.to_string(), value.to_string());

        let mut registry = Registry::default();
        let requests = ClientFamily::<Labels, Counter>::default();
        registry.register(
            "sessions_requests",
            "Requests handled, by operation and status",
            requests.clone(),
        );
        requests
            .get_or_create(&vec![label("operation", "get"), label("status", "ok")])
            .inc_by(12);
        let active: Gauge = Gauge::default();
        registry.register(
            "sessions_active",
            "Sessions open on this node",
            active.clone(),
        );
        active.set(3);
        let duration = Histogram::new([0.001, 0.01]);
        registry.register_with_unit(
            "storage_operation_duration",
            "Time a storage operation took",
            Unit::Seconds,
            duration.clone(),
        );
        duration.observe(0.005);
        let written: Counter = Counter::default();
        registry.register_with_unit("written", "Bytes written", Unit::Bytes, written.clone());
        written.inc_by(4096);
        let build = Info::new(vec![label("version", "1.2.3")]);
        registry.register("build", "The build running", build);
        let traced = CounterWithExemplar::<Labels>::default();
        registry.register("traced_calls", "Calls, with a trace", traced.clone());
        traced.inc_by(1, Some(vec![label("trace_id", "4bf92f3577b34da6")]), None);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn clean_prometheus_client_exposition_passes() {
        let text = client_text();
        assert_eq!(exposition::detect(&text), Format::OpenMetrics);
        assert_eq!(lint(&text), Vec::new(), "{text}");
    }

    #[test]
    fn openmetrics_counter_family_named_with_total_is_reported() {
        let violations =
            lint("# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total_total 1\n# EOF\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].subject, "metric `hits_total_total`");
        let message = &violations[0].message;
        assert!(
            message.contains(
                "OpenMetrics counter family `hits_total` ends in `_total`: in OpenMetrics the \
                 family is declared without it and its samples add it (`# TYPE hits counter` \
                 with samples `hits_total`), so this one exports `hits_total_total`. Register \
                 it as `hits`"
            ),
            "{message}"
        );
    }

    #[test]
    fn openmetrics_counter_sample_without_total_is_reported() {
        let violations = lint("# HELP hits Hits.\n# TYPE hits counter\nhits 3\n# EOF\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert_eq!(violations[0].subject, "metric `hits_total`");
        assert!(
            violations[0].message.starts_with(
                "OpenMetrics counter `hits` has samples named `hits`: a counter\'s samples end \
                 in `_total` (`hits_total`, and `hits_created` for its creation time)"
            ),
            "{}",
            violations[0]
        );
    }

    #[test]
    fn openmetrics_unit_that_is_not_the_name_suffix_fails_with_its_line() {
        let text = "# HELP latency Latency.\n# TYPE latency histogram\n# UNIT latency seconds\n\
                    latency_bucket{le=\"+Inf\"} 1\nlatency_sum 3\nlatency_count 1\n# EOF\n";
        let violations = lint(text);
        assert_eq!(violations.len(), 2, "{violations:#?}");
        let message = &violations[0].message;
        assert!(
            message.contains(
                "server-1 incarnation 0, final exposition exported OpenMetrics text that is \
                 not valid OpenMetrics (exposition line 3: `# UNIT latency seconds`: a family \
                 with a unit must be named after it, ending in `_seconds` (e.g. \
                 `latency_seconds`)"
            ),
            "{message}"
        );
    }

    #[test]
    fn openmetrics_non_base_unit_is_reported_under_the_registered_name() {
        use prometheus_client::metrics::histogram::Histogram;
        use prometheus_client::registry::{Registry, Unit};
        let mut registry = Registry::default();
        let latency = Histogram::new([1.0]);
        let unit = Unit::Other("milliseconds".into());
        registry.register_with_unit("request_latency", "Latency", unit, latency);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("# UNIT request_latency_milliseconds milliseconds\n"),
            "{text}"
        );
        let violations = lint(&text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0]
                .message
                .contains("non-base unit `milliseconds`")
                && violations[0]
                    .message
                    .contains("name it `request_latency_seconds`"),
            "{}",
            violations[0]
        );
    }

    #[test]
    fn openmetrics_info_family_named_with_info_is_reported() {
        let text = "# HELP build_info Build.\n# TYPE build_info info\n\
                    build_info_info{version=\"1\"} 1\n# EOF\n";
        let violations = lint(text);
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0].message.contains("exports `build_info_info`"),
            "{}",
            violations[0]
        );
    }

    #[test]
    fn openmetrics_missing_help_names_the_declared_family() {
        let violations = lint("# TYPE hits counter\nhits_total 1\n# EOF\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(
            violations[0]
                .message
                .contains("`hits` has no HELP text: every metric needs a `# HELP hits ...` line"),
            "{}",
            violations[0]
        );
    }

    #[test]
    fn openmetrics_gauge_ending_in_total_is_reported_as_in_prometheus_text() {
        let violations = lint("# HELP up_total Ups.\n# TYPE up_total gauge\nup_total 1\n# EOF\n");
        assert_eq!(violations.len(), 1, "{violations:#?}");
        assert!(violations[0].message.contains("reserved for counters"));
    }
}
