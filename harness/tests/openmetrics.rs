//! The exposition parser reads OpenMetrics 1.0 text, as `prometheus-client`
//! writes it and as hand-written edge cases put it, into the same shape as
//! Prometheus text 0.0.4: counters under their `_total` name, `_created`
//! samples kept apart, exemplars and timestamps dropped.

use obsim_harness::exposition::{self, Exposition, Format, MetricKind, Sample};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::{CounterWithExemplar, HistogramWithExemplars};
use prometheus_client::metrics::family::Family as ClientFamily;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

type Labels = Vec<(String, String)>;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// What a service instrumented with prometheus-client serves: a labelled
/// counter, a gauge, a float gauge and a counter with units, a histogram in
/// seconds, an info metric, and a counter and a histogram with exemplars.
fn client_text() -> String {
    let mut registry = Registry::default();
    let operations = ClientFamily::<Labels, Counter>::default();
    registry.register(
        "storage_operations",
        "Storage operations, by operation and status",
        operations.clone(),
    );
    operations
        .get_or_create(&labels(&[("operation", "get"), ("status", "ok")]))
        .inc_by(7);
    let escaped = labels(&[("operation", "put"), ("status", "error \"disk\"\\\n")]);
    operations.get_or_create(&escaped).inc();

    let sessions: Gauge = Gauge::default();
    registry.register("sessions_active", "Sessions open", sessions.clone());
    sessions.set(3);
    let hit_ratio: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
    let ratio = Unit::Other("ratio".into());
    registry.register_with_unit(
        "cache_hit",
        "Cache hits per lookup",
        ratio,
        hit_ratio.clone(),
    );
    hit_ratio.set(0.25);

    let duration = Histogram::new([0.001, 0.01, 0.1]);
    registry.register_with_unit(
        "storage_operation_duration",
        "Time a storage operation took",
        Unit::Seconds,
        duration.clone(),
    );
    for seconds in [0.005, 0.05, 1.0] {
        duration.observe(seconds);
    }
    let written: Counter = Counter::default();
    registry.register_with_unit("written", "Bytes written", Unit::Bytes, written.clone());
    written.inc_by(4096);

    let build = Info::new(labels(&[("version", "1.2.3")]));
    registry.register("build", "The build", build);

    let requests = CounterWithExemplar::<Labels>::default();
    registry.register("requests", "Requests handled", requests.clone());
    let trace = labels(&[("trace_id", "4bf92f3577b34da6")]);
    requests.inc_by(2, Some(trace.clone()), None);
    let request_duration = HistogramWithExemplars::<Labels>::new([0.1, 1.0].into_iter());
    registry.register_with_unit(
        "request_duration",
        "Time a request took",
        Unit::Seconds,
        request_duration.clone(),
    );
    request_duration.observe(0.5, Some(trace), None);

    let mut text = String::new();
    encode(&mut text, &registry).unwrap();
    text
}

fn client_exposition() -> Exposition {
    let text = client_text();
    exposition::parse(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn value(exposition: &Exposition, family: &str, labels: &[(&str, &str)]) -> f64 {
    let family = exposition.family(family).expect(family);
    let wanted = self::labels(labels);
    let sample = family.samples.iter().find(|s| s.labels == wanted);
    sample
        .unwrap_or_else(|| panic!("{labels:?} in {family:#?}"))
        .value
}

fn sample_names(exposition: &Exposition) -> Vec<&str> {
    let names = exposition.samples().map(|(_, sample)| sample.name.as_str());
    let mut names: Vec<&str> = names.collect();
    names.dedup();
    names
}

#[test]
fn prometheus_client_text_is_read_as_openmetrics() {
    let text = client_text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    // prometheus-client writes a family's series in hash order: parse one text.
    let exposition = exposition::parse(&text).unwrap();
    assert_eq!(exposition.format, Format::OpenMetrics);
    assert_eq!(exposition::detect(&text), Format::OpenMetrics);
    assert_eq!(
        exposition::parse_as(&text, OPENMETRICS),
        Ok(exposition.clone())
    );
    let families: Vec<(&str, &str, MetricKind)> = exposition
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.declared_name.as_str(), f.kind))
        .collect();
    assert_eq!(
        families,
        [
            (
                "storage_operations_total",
                "storage_operations",
                MetricKind::Counter
            ),
            ("sessions_active", "sessions_active", MetricKind::Gauge),
            ("cache_hit_ratio", "cache_hit_ratio", MetricKind::Gauge),
            (
                "storage_operation_duration_seconds",
                "storage_operation_duration_seconds",
                MetricKind::Histogram
            ),
            ("written_bytes_total", "written_bytes", MetricKind::Counter),
            ("build_info", "build", MetricKind::Info),
            ("requests_total", "requests", MetricKind::Counter),
            (
                "request_duration_seconds",
                "request_duration_seconds",
                MetricKind::Histogram
            ),
        ]
    );
    let help = exposition
        .family("storage_operations_total")
        .unwrap()
        .help
        .as_deref();
    assert_eq!(help, Some("Storage operations, by operation and status."));
    assert!(exposition.families.iter().all(|f| f.created.is_empty()));
}

#[test]
fn openmetrics_counters_are_found_under_their_total_name_as_in_prometheus_text() {
    let exposition = client_exposition();
    let get = [("operation", "get"), ("status", "ok")];
    assert_eq!(value(&exposition, "storage_operations_total", &get), 7.0);
    let put = [("operation", "put"), ("status", "error \"disk\"\\\n")];
    assert_eq!(value(&exposition, "storage_operations_total", &put), 1.0);
    assert!(exposition.family("storage_operations").is_none());
    // What `final(storage_operations_total{..})` sums over: the `_total` samples.
    let names = sample_names(&exposition);
    assert!(names.contains(&"storage_operations_total"), "{names:?}");
    assert!(!names.contains(&"storage_operations"), "{names:?}");
    assert_eq!(value(&exposition, "written_bytes_total", &[]), 4096.0);
}

#[test]
fn units_are_recorded_on_families_named_after_them() {
    let exposition = client_exposition();
    let unit = |name: &str| exposition.family(name).unwrap().unit.clone();
    assert_eq!(unit("written_bytes_total").as_deref(), Some("bytes"));
    assert_eq!(
        unit("storage_operation_duration_seconds").as_deref(),
        Some("seconds")
    );
    assert_eq!(unit("cache_hit_ratio").as_deref(), Some("ratio"));
    assert_eq!(unit("sessions_active"), None);
    assert_eq!(value(&exposition, "cache_hit_ratio", &[]), 0.25);
    assert_eq!(value(&exposition, "sessions_active", &[]), 3.0);
}

#[test]
fn openmetrics_histograms_have_the_samples_of_prometheus_text_histograms() {
    let exposition = client_exposition();
    let name = "storage_operation_duration_seconds";
    let histogram = exposition.family(name).unwrap();
    let series: Vec<(String, f64)> = histogram
        .samples
        .iter()
        .map(|sample| (sample.series(), sample.value))
        .collect();
    let bucket = |le: &str| format!("{name}_bucket{{le={le:?}}}");
    assert_eq!(
        series,
        [
            (format!("{name}_sum"), 1.055),
            (format!("{name}_count"), 3.0),
            (bucket("0.001"), 0.0),
            (bucket("0.01"), 1.0),
            (bucket("0.1"), 2.0),
            (bucket("+Inf"), 3.0),
        ]
    );
    assert!(MetricKind::Histogram.is_cumulative());
}

#[test]
fn info_metrics_are_named_with_info_and_are_not_cumulative() {
    let exposition = client_exposition();
    let build = exposition.family("build_info").unwrap();
    assert_eq!(build.kind, MetricKind::Info);
    assert_eq!(build.samples.len(), 1);
    assert_eq!(build.samples[0].name, "build_info");
    assert_eq!(build.samples[0].label("version"), Some("1.2.3"));
    assert_eq!(build.samples[0].value, 1.0);
    assert!(!MetricKind::Info.is_cumulative());
}

#[test]
fn exemplars_written_by_prometheus_client_stay_out_of_values() {
    let text = client_text();
    assert!(text.contains("requests_total 2 # {trace_id="), "{text}");
    let exposition = client_exposition();
    assert_eq!(value(&exposition, "requests_total", &[]), 2.0);
    let family = "request_duration_seconds";
    let bucket = exposition
        .family(family)
        .unwrap()
        .samples
        .iter()
        .find(|s| s.name == "request_duration_seconds_bucket" && s.label("le") == Some("1.0"));
    assert_eq!(bucket.map(|s| s.value), Some(1.0));
    // No exemplar label leaks into a series.
    assert!(exposition
        .samples()
        .all(|(_, sample)| sample.label("trace_id").is_none()));
}

const CREATED: &str = r#"# HELP requests Requests handled.
# TYPE requests counter
requests_total{path="/a"} 5
requests_created{path="/a"} 1700000000.25
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_bucket{le="1.0"} 2
latency_seconds_bucket{le="+Inf"} 3
latency_seconds_count 3
latency_seconds_sum 4.5
latency_seconds_created 1700000000.5
# HELP rpc_seconds RPC time.
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.2
rpc_seconds_count 10
rpc_seconds_sum 3.0
rpc_seconds_created 1700000001
# EOF
"#;

#[test]
fn created_samples_are_kept_apart_from_values() {
    let exposition = exposition::parse(CREATED).unwrap();
    let created = |family: &str| -> Vec<(String, f64)> {
        let family = exposition.family(family).unwrap();
        family
            .created
            .iter()
            .map(|s| (s.series(), s.value))
            .collect()
    };
    assert_eq!(
        created("requests_total"),
        [(r#"requests_created{path="/a"}"#.to_string(), 1700000000.25)]
    );
    assert_eq!(
        created("latency_seconds"),
        [("latency_seconds_created".to_string(), 1700000000.5)]
    );
    assert_eq!(
        created("rpc_seconds"),
        [("rpc_seconds_created".to_string(), 1700000001.0)]
    );
    assert_eq!(value(&exposition, "requests_total", &[("path", "/a")]), 5.0);
    assert_eq!(
        exposition.family("latency_seconds").unwrap().samples.len(),
        4
    );
    assert_eq!(exposition.family("rpc_seconds").unwrap().samples.len(), 3);
    // Monotonicity, accuracy and the rules read `samples()`: no timestamp there.
    assert!(exposition
        .samples()
        .all(|(_, sample)| !sample.name.ends_with("_created")));
    assert!(exposition.family("requests_created").is_none());
}

#[test]
fn timestamps_and_exemplars_are_checked_then_dropped() {
    let plain = "# TYPE a counter\na_total{x=\"1\"} 3\n\
                 # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0.5\n# EOF\n";
    let decorated = "# TYPE a counter\na_total{x=\"1\"} 3 1700000000.125 # {trace_id=\"t1\"} 1.0\n\
                     # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 # {trace_id=\"t2\",span_id=\"s\"} 0.5 1700000000.5\n\
                     h_count 1 1700000000\nh_sum 0.5\n# EOF\n";
    let plain = exposition::parse(plain).unwrap();
    assert_eq!(exposition::parse(decorated), Ok(plain));
    for (text, line) in [
        ("# TYPE a counter\na_total 3 # trace 1\n# EOF\n", 2),
        ("# TYPE a counter\na_total 3 # {trace_id=\"t\"}\n# EOF\n", 2),
        (
            "# TYPE a counter\na_total 3 # {trace_id=\"t\"} 1 now\n# EOF\n",
            2,
        ),
        ("a 1 yesterday\n# EOF\n", 1),
        ("a 1 NaN\n# EOF\n", 1),
    ] {
        let error = exposition::parse(text).unwrap_err();
        assert_eq!(error.line, line, "{text:?}: {error}");
        assert_eq!(error.format, Format::OpenMetrics);
    }
}

#[test]
fn escaped_label_values_and_help_are_unescaped() {
    let text = "# HELP a A \\\"quoted\\\" help\\nwith a \\\\ and a \\t.\n# TYPE a gauge\n\
                a{path=\"C:\\\\dir\\\\\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\",hash=\"#1 # {x}\"} 1\n# EOF\n";
    let exposition = exposition::parse(text).unwrap();
    let family = exposition.family("a").unwrap();
    assert_eq!(
        family.help.as_deref(),
        Some("A \"quoted\" help\nwith a \\ and a \\t.")
    );
    let sample = &family.samples[0];
    assert_eq!(sample.label("path"), Some("C:\\dir\\"));
    assert_eq!(sample.label("quote"), Some("say \"hi\""));
    assert_eq!(sample.label("nl"), Some("a\nb"));
    assert_eq!(sample.label("hash"), Some("#1 # {x}"));
    assert_eq!(sample.value, 1.0);
}

#[test]
fn openmetrics_without_eof_is_an_error_at_the_line_after_the_last() {
    let text = "# TYPE a gauge\na 1\n";
    let error = exposition::parse_as(text, OPENMETRICS).unwrap_err();
    assert_eq!(error.line, 3, "{error}");
    assert_eq!(error.format, Format::OpenMetrics);
    assert!(error.message.contains("`# EOF`"), "{error}");
    assert!(
        error.to_string().starts_with("exposition line 3: "),
        "{error}"
    );
    let error = exposition::parse_as("", OPENMETRICS).unwrap_err();
    assert_eq!(error.line, 1, "{error}");
    // Without a content type, no `# EOF` means Prometheus text 0.0.4.
    assert_eq!(
        exposition::parse(text).unwrap().format,
        Format::PrometheusText
    );
}

#[test]
fn anything_after_eof_is_an_error_at_its_line() {
    let twice = format!("{}{}", client_text(), client_text());
    let eof_line = client_text().lines().count();
    for text in [
        "a 1\n# EOF\nb 2\n".to_string(),
        "a 1\n# EOF\n\n".to_string(),
        "a 1\n# EOF\n# EOF\n".to_string(),
        "a 1\n# EOF\n# a comment that 0.0.4 would allow\n".to_string(),
    ] {
        for error in [
            exposition::parse(&text).unwrap_err(),
            exposition::parse_as(&text, OPENMETRICS).unwrap_err(),
            exposition::parse_as(&text, PROMETHEUS_TEXT).unwrap_err(),
        ] {
            assert_eq!(error.line, 3, "{text:?}: {error}");
            assert!(error.message.contains("after `# EOF` (line 2)"), "{error}");
        }
    }
    let error = exposition::parse(&twice).unwrap_err();
    assert_eq!(error.line, eof_line + 1, "{error}");
}

#[test]
fn openmetrics_allows_no_blank_lines_or_free_comments() {
    for (text, line, says) in [
        ("# TYPE a gauge\n\na 1\n# EOF\n", 2, "blank line"),
        (
            "# TYPE a gauge\n# just a note\na 1\n# EOF\n",
            2,
            "no free comments",
        ),
        ("#TYPE a gauge\na 1\n# EOF\n", 1, "no free comments"),
        (
            "# TYPE a untyped\na 1\n# EOF\n",
            1,
            "unknown OpenMetrics metric type",
        ),
        ("# TYPE 9a gauge\n# EOF\n", 1, "valid metric name"),
        ("a{b=\"1\",b=\"2\"} 1\n# EOF\n", 1, "given twice"),
    ] {
        let error = exposition::parse(text).unwrap_err();
        assert_eq!(error.line, line, "{text:?}: {error}");
        assert!(error.message.contains(says), "{text:?}: {error}");
    }
}

#[test]
fn a_unit_that_does_not_end_the_family_name_is_a_parse_error() {
    let text = "# HELP latency Latency.\n# TYPE latency histogram\n# UNIT latency seconds\n\
                latency_count 0\nlatency_sum 0\nlatency_bucket{le=\"+Inf\"} 0\n# EOF\n";
    let error = exposition::parse(text).unwrap_err();
    assert_eq!(error.line, 3, "{error}");
    assert!(
        error
            .message
            .contains("ending in `_seconds` (e.g. `latency_seconds`)"),
        "{error}"
    );
    for text in [
        "# TYPE aseconds gauge\n# UNIT aseconds seconds\naseconds 1\n# EOF\n",
        "# TYPE seconds gauge\n# UNIT seconds seconds\nseconds 1\n# EOF\n",
    ] {
        assert_eq!(exposition::parse(text).unwrap_err().line, 2, "{text:?}");
    }
    // An empty unit is no unit.
    let text = "# TYPE a gauge\n# UNIT a \na 1\n# EOF\n";
    assert_eq!(exposition::parse(text).unwrap().families[0].unit, None);
}

#[test]
fn the_content_type_picks_the_format() {
    let openmetrics = client_text();
    let prometheus_text = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n";
    let format = |text: &str, content_type: &str| {
        exposition::parse_as(text, content_type).map(|exposition| exposition.format)
    };
    assert_eq!(format(&openmetrics, OPENMETRICS), Ok(Format::OpenMetrics));
    assert_eq!(
        format(&openmetrics, "Application/OpenMetrics-Text;version=0.0.1"),
        Ok(Format::OpenMetrics)
    );
    assert_eq!(
        format(prometheus_text, PROMETHEUS_TEXT),
        Ok(Format::PrometheusText)
    );
    assert_eq!(format(prometheus_text, ""), Ok(Format::PrometheusText));
    // text/plain and no content type detect, as `parse` does.
    assert_eq!(
        format(&openmetrics, PROMETHEUS_TEXT),
        Ok(Format::OpenMetrics)
    );
    assert_eq!(format(&openmetrics, ""), Ok(Format::OpenMetrics));
    // OpenMetrics declared, 0.0.4 served: no `# EOF`.
    let error = exposition::parse_as(prometheus_text, OPENMETRICS).unwrap_err();
    assert_eq!((error.line, error.format), (4, Format::OpenMetrics));
    let error = exposition::parse_as(prometheus_text, "application/json").unwrap_err();
    assert_eq!(error.line, 0);
    assert!(
        error
            .to_string()
            .starts_with("exposition: unsupported content type"),
        "{error}"
    );
}

#[test]
fn prometheus_text_is_read_as_before() {
    use prometheus::{Encoder, IntCounterVec, Opts};
    let registry = prometheus::Registry::new();
    let counter = IntCounterVec::new(Opts::new("ops_total", "Operations."), &["op"]).unwrap();
    registry.register(Box::new(counter.clone())).unwrap();
    counter.with_label_values(&["get"]).inc_by(7);
    let mut text = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut text)
        .unwrap();
    let text = String::from_utf8(text).unwrap() + "# a comment\n\n";
    let exposition = exposition::parse(&text).unwrap();
    assert_eq!(exposition.format, Format::PrometheusText);
    assert_eq!(
        exposition::parse_as(&text, PROMETHEUS_TEXT),
        Ok(exposition.clone())
    );
    let family = exposition.family("ops_total").unwrap();
    assert_eq!(family.declared_name, "ops_total");
    assert_eq!((family.unit.clone(), family.created.len()), (None, 0));
    assert_eq!(family.samples[0].value, 7.0);
    // 0.0.4 has integer millisecond timestamps; a float one is an error.
    let error = exposition::parse("a 1 1700000000.5\n").unwrap_err();
    assert_eq!(error.format, Format::PrometheusText);
    assert_eq!(
        exposition::parse("a 1 1700000000500\n")
            .unwrap()
            .families
            .len(),
        1
    );
}

#[test]
fn gauge_histograms_statesets_and_unknowns_are_not_cumulative() {
    let text = "# HELP queue_seconds Queue wait now.\n# TYPE queue_seconds gaugehistogram\n\
                queue_seconds_bucket{le=\"1.0\"} 2\nqueue_seconds_bucket{le=\"+Inf\"} 3\n\
                queue_seconds_gcount 3\nqueue_seconds_gsum 2.5\n\
                # HELP mode Mode.\n# TYPE mode stateset\nmode{mode=\"a\"} 1\nmode{mode=\"b\"} 0\n\
                # TYPE mystery unknown\nmystery 4\nstray 5\n# EOF\n";
    let exposition = exposition::parse(text).unwrap();
    let kinds: Vec<(&str, MetricKind, usize)> = exposition
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.samples.len()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("queue_seconds", MetricKind::GaugeHistogram, 4),
            ("mode", MetricKind::StateSet, 2),
            ("mystery", MetricKind::Untyped, 1),
            ("stray", MetricKind::Untyped, 1),
        ]
    );
    let cumulative = exposition
        .samples()
        .filter(|(kind, _)| kind.is_cumulative());
    assert_eq!(cumulative.count(), 0);
}

#[test]
fn a_counter_sample_without_total_stays_in_its_family_for_the_lint() {
    let text = "# HELP hits Hits.\n# TYPE hits counter\nhits 3\nhits_count 1\n# EOF\n";
    let exposition = exposition::parse(text).unwrap();
    let hits = exposition.family("hits_total").unwrap();
    let names: Vec<&str> = hits.samples.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["hits"]);
    // `hits_count` is no counter sample: an unknown family of its own.
    assert_eq!(
        exposition.family("hits_count").unwrap().kind,
        MetricKind::Untyped
    );
}

#[test]
fn the_prometheus_text_rendering_reads_back_as_the_same_series() {
    let exposition = exposition::parse(&format!(
        "{}{CREATED}",
        client_text().trim_end_matches("# EOF\n")
    ))
    .unwrap();
    let rendered = exposition.to_prometheus_text();
    assert!(
        !rendered.contains("# EOF") && !rendered.contains("_created"),
        "{rendered}"
    );
    assert!(rendered.contains("# TYPE build_info gauge\n"), "{rendered}");
    let reread = exposition::parse(&rendered).unwrap();
    assert_eq!(reread.format, Format::PrometheusText);
    let series = |exposition: &Exposition| -> Vec<(String, String)> {
        let samples = exposition.samples().map(|(_, s): (_, &Sample)| s);
        samples
            .map(|s| (s.series(), format!("{}", s.value)))
            .collect()
    };
    assert_eq!(series(&reread), series(&exposition));
    let kinds = |exposition: &Exposition| -> Vec<(String, MetricKind)> {
        let families = exposition.families.iter();
        families.map(|f| (f.name.clone(), f.kind)).collect()
    };
    let expected: Vec<(String, MetricKind)> = kinds(&exposition)
        .into_iter()
        .map(|(name, kind)| match kind {
            MetricKind::Info => (name, MetricKind::Gauge),
            _ => (name, kind),
        })
        .collect();
    assert_eq!(kinds(&reread), expected);
}
