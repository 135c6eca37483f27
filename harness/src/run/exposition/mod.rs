//! A parser for the two text formats a service may serve on its metrics
//! port, the formats the simulated scraper reads off each node. obsim checks
//! what was actually exported, so it parses the text rather than peeking at
//! registries.
//!
//! - [`Format::PrometheusText`]: the Prometheus text format 0.0.4
//!   (`text/plain; version=0.0.4`), what the `prometheus` crate's
//!   `TextEncoder` writes.
//! - [`Format::OpenMetrics`]: OpenMetrics 1.0 text
//!   (`application/openmetrics-text; version=1.0.0`), what
//!   `prometheus-client`'s `encoding::text::encode` writes.
//!
//! [`parse`] tells them apart by the `# EOF` line OpenMetrics ends with and
//! 0.0.4 never has; [`parse_as`] goes by the content type the service sent.
//! A `# EOF` line anywhere makes the text OpenMetrics, so a `# EOF` followed
//! by more text is an error, not a 0.0.4 comment: it is what a service sends
//! when it concatenates two complete OpenMetrics encodings, and Prometheus
//! rejects the scrape ("unexpected data after # EOF").
//!
//! OpenMetrics is read as strictly as Prometheus's own OpenMetrics parser
//! reads it: no blank lines, no comments besides `# HELP`, `# TYPE`, `# UNIT`
//! and `# EOF`, nothing after `# EOF`, and a `# UNIT` whose family name does
//! not end in `_<unit>` is a parse error (Prometheus fails the scrape with
//! "unit not a suffix of metric"). 0.0.4 is read exactly as before.
//!
//! # Normalization: one shape for both formats
//!
//! The checks look metrics up by the names PromQL sees, which are the sample
//! names (`final(storage_operations_total{..})`,
//! `exposition.family("storage_operations_total")`), and must work unchanged
//! on either format. So an OpenMetrics exposition is normalized as it is
//! parsed:
//!
//! - A counter family is declared without `_total` (`# TYPE foo counter`)
//!   and its samples are `foo_total`: the [`Family`] is named `foo_total`,
//!   as it is in 0.0.4. [`Family::declared_name`] keeps `foo`.
//! - An info family `# TYPE foo info` has samples `foo_info`: the family is
//!   named `foo_info`.
//! - `_created` samples (of counters, histograms and summaries) hold a
//!   creation timestamp, not a count: they go to [`Family::created`], never
//!   to [`Family::samples`], so no check reads one as a counter value or a
//!   histogram sample, and [`Exposition::samples`] never yields one.
//! - `# UNIT` goes to [`Family::unit`] (None in 0.0.4, which has no units).
//! - Sample timestamps and exemplars (`# {trace_id="..."} 1.0 123`) are
//!   checked for syntax and dropped, as the 0.0.4 timestamps always were:
//!   values stay the sample's own, and no wall-clock time or trace id is
//!   kept to break a comparison between two runs.
//! - Kinds: `unknown` is [`MetricKind::Untyped`] (0.0.4's name for it).
//!   `info` and `stateset` are [`MetricKind::Info`] and
//!   [`MetricKind::StateSet`]: gauge-like (an info sample is always 1, a
//!   state is 1 or 0), never cumulative. `gaugehistogram` is
//!   [`MetricKind::GaugeHistogram`] (`_bucket`, `_gcount`, `_gsum`): the
//!   buckets of a gauge, which may go down, so not cumulative either.
//!
//! Everything else (gauges, histogram `_bucket`/`_sum`/`_count`, summaries,
//! labels sorted by name) has the same shape in both formats.

mod canonical;
mod openmetrics;
mod prometheus_text;

pub use canonical::canonical;
use openmetrics::{openmetrics_value, parse_openmetrics};
use prometheus_text::{parse_prometheus_text, prometheus_text_value};

use std::fmt;
use std::fmt::Write as _;

/// The text formats obsim reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    #[default]
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// For messages: `Prometheus text 0.0.4` or `OpenMetrics text`.
    pub fn name(self) -> &'static str {
        match self {
            Format::PrometheusText => "Prometheus text 0.0.4",
            Format::OpenMetrics => "OpenMetrics text",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The media type of OpenMetrics text, without parameters.
pub const OPENMETRICS_MEDIA_TYPE: &str = "application/openmetrics-text";

/// The line that ends an OpenMetrics exposition.
const EOF_LINE: &str = "# EOF";

/// One parsed exposition: metric families in the order the text gave them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub families: Vec<Family>,
    /// The format the text was read as.
    pub format: Format,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The name the checks look it up by, normalized (see the module docs):
    /// `foo_total` for an OpenMetrics counter declared as `foo`, `foo_info`
    /// for an info family `foo`; otherwise as declared.
    pub name: String,
    /// The name as the text's `# TYPE`/`# HELP`/`# UNIT` lines wrote it, or
    /// the sample name for a family with no metadata. The same as `name`
    /// except for OpenMetrics counters and info families.
    pub declared_name: String,
    pub kind: MetricKind,
    pub help: Option<String>,
    /// The OpenMetrics `# UNIT`, when given and not empty. Always None in
    /// 0.0.4, which has no units.
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
    /// OpenMetrics `_created` samples: when each series was created, in
    /// seconds since the epoch. Kept apart from `samples` (see the module
    /// docs). Always empty in 0.0.4.
    pub created: Vec<Sample>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    /// 0.0.4 `untyped`, OpenMetrics `unknown`, and samples with no `# TYPE`.
    Untyped,
    /// OpenMetrics `info`: `foo_info` samples, always 1, labels carry the
    /// information. Gauge-like.
    Info,
    /// OpenMetrics `stateset`: one sample per state, 1 or 0. Gauge-like.
    StateSet,
    /// OpenMetrics `gaugehistogram`: `_bucket`, `_gcount` and `_gsum` of a
    /// distribution that may shrink. Not cumulative.
    GaugeHistogram,
}

impl MetricKind {
    /// A 0.0.4 `# TYPE`.
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "summary" => MetricKind::Summary,
            "untyped" => MetricKind::Untyped,
            _ => return None,
        })
    }

    /// An OpenMetrics `# TYPE`.
    fn parse_openmetrics(text: &str) -> Option<Self> {
        Some(match text {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "gaugehistogram" => MetricKind::GaugeHistogram,
            "summary" => MetricKind::Summary,
            "info" => MetricKind::Info,
            "stateset" => MetricKind::StateSet,
            "unknown" => MetricKind::Untyped,
            _ => return None,
        })
    }

    /// Whether every sample of the family may only go up within one process
    /// lifetime: counters, and the `_count`, `_sum` and `_bucket` samples of
    /// histograms and summaries (`quantile` samples excepted). Gauge
    /// histograms, info and stateset families are not.
    pub fn is_cumulative(self) -> bool {
        matches!(
            self,
            MetricKind::Counter | MetricKind::Histogram | MetricKind::Summary
        )
    }

    /// The suffixes OpenMetrics puts after the family name to name this
    /// kind's samples (`""` is the family name itself), `_created` aside.
    pub fn openmetrics_suffixes(self) -> &'static [&'static str] {
        match self {
            MetricKind::Counter => &["_total"],
            MetricKind::Histogram => &["_bucket", "_count", "_sum"],
            MetricKind::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            MetricKind::Summary => &["", "_count", "_sum"],
            MetricKind::Info => &["_info"],
            MetricKind::Gauge | MetricKind::StateSet | MetricKind::Untyped => &[""],
        }
    }

    /// Whether OpenMetrics gives this kind `_created` samples.
    fn has_created(self) -> bool {
        self.is_cumulative()
    }
}

/// One sample line. Labels are sorted by name so that two expositions that
/// order labels differently still name the same series the same way.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// `name{a="1",b="2"}`: a stable key for the series, used in messages.
    pub fn series(&self) -> String {
        use std::fmt::Write as _;
        if self.labels.is_empty() {
            return self.name.clone();
        }
        // One buffer, not a string per label joined: checks call this for
        // every sample of every scrape.
        let mut series = String::with_capacity(self.name.len() + 24 * self.labels.len());
        series.push_str(&self.name);
        series.push('{');
        for (index, (name, value)) in self.labels.iter().enumerate() {
            if index > 0 {
                series.push(',');
            }
            // Writing to a String cannot fail.
            let _ = write!(series, "{name}={value:?}");
        }
        series.push('}');
        series
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| label == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Exposition {
    /// The family of that (normalized) name: `foo_total` for a counter in
    /// either format.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|family| family.name == name)
    }

    /// Every sample with the kind of the family it belongs to. OpenMetrics
    /// `_created` samples are not among them.
    pub fn samples(&self) -> impl Iterator<Item = (MetricKind, &Sample)> {
        self.families.iter().flat_map(|family| {
            family
                .samples
                .iter()
                .map(move |sample| (family.kind, sample))
        })
    }

    /// The families as Prometheus text 0.0.4, for tools that read only that
    /// (promtool 2.42's `check metrics`). Families keep their normalized
    /// names; info and stateset families become gauges, `unknown` ones
    /// untyped; gauge histograms are left out, since 0.0.4 has no such type
    /// and as gauges their `_bucket` samples would break 0.0.4's naming
    /// rules. `_created` samples, timestamps and exemplars were never kept.
    pub fn to_prometheus_text(&self) -> String {
        let mut text = String::new();
        for family in &self.families {
            let kind = match family.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge | MetricKind::Info | MetricKind::StateSet => "gauge",
                MetricKind::Histogram => "histogram",
                MetricKind::Summary => "summary",
                MetricKind::Untyped => "untyped",
                MetricKind::GaugeHistogram => continue,
            };
            let name = &family.name;
            if let Some(help) = &family.help {
                let help = help.replace('\\', "\\\\").replace('\n', "\\n");
                let _ = writeln!(text, "# HELP {name} {help}");
            }
            let _ = writeln!(text, "# TYPE {name} {kind}");
            for sample in &family.samples {
                text.push_str(&sample.name);
                if !sample.labels.is_empty() {
                    let labels: Vec<String> = sample
                        .labels
                        .iter()
                        .map(|(label, value)| format!("{label}=\"{}\"", escape_label(value)))
                        .collect();
                    let _ = write!(text, "{{{}}}", labels.join(","));
                }
                let _ = writeln!(text, " {}", format_value(sample.value));
            }
        }
        text
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

/// Where and why the text is not valid exposition format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number; for a missing `# EOF`, the line after the last;
    /// 0 when no line is at fault (an unsupported content type).
    pub line: usize,
    /// The format the text was being read as.
    pub format: Format,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "exposition: {}", self.message);
        }
        write!(f, "exposition line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The format of a text served without a content type to go by: OpenMetrics
/// when a line is `# EOF` (which OpenMetrics requires and 0.0.4 never has),
/// else Prometheus text 0.0.4.
pub fn detect(text: &str) -> Format {
    if text.lines().any(|line| line == EOF_LINE) {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    }
}

/// Parses exposition text in the format [`detect`] finds. In 0.0.4, samples
/// without a `# TYPE` line form untyped families of their own, as
/// Prometheus treats them; in OpenMetrics, `unknown` ones.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    match detect(text) {
        Format::PrometheusText => parse_prometheus_text(text),
        Format::OpenMetrics => parse_openmetrics(text),
    }
}

/// Parses exposition text served with `content_type` (the `Content-Type`
/// header): `application/openmetrics-text` (any version) is OpenMetrics and
/// must end with `# EOF`; `text/plain` (any version) or an empty content
/// type is read as [`parse`] reads it. Any other content type is an error
/// with line 0.
pub fn parse_as(text: &str, content_type: &str) -> Result<Exposition, ParseError> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        OPENMETRICS_MEDIA_TYPE => parse_openmetrics(text),
        "" | "text/plain" => parse(text),
        _ => Err(ParseError {
            line: 0,
            format: detect(text),
            message: format!(
                "unsupported content type {content_type:?}: obsim reads Prometheus text \
                 (`text/plain; version=0.0.4`) and OpenMetrics text (`{OPENMETRICS_MEDIA_TYPE}; \
                 version=1.0.0`)"
            ),
        }),
    }
}

/// The family declared (or first seen) under `name`, created untyped if new.
fn family_named<'a>(exposition: &'a mut Exposition, name: &str) -> &'a mut Family {
    let position = exposition
        .families
        .iter()
        .position(|f| f.declared_name == name);
    let index = position.unwrap_or_else(|| {
        exposition.families.push(Family {
            name: name.to_string(),
            declared_name: name.to_string(),
            kind: MetricKind::Untyped,
            help: None,
            unit: None,
            samples: Vec::new(),
            created: Vec::new(),
        });
        exposition.families.len() - 1
    });
    &mut exposition.families[index]
}

/// The family a sample belongs to: its own name, or for histogram and summary
/// samples the name without the `_bucket`/`_sum`/`_count` suffix.
fn family_for_sample<'a>(exposition: &'a mut Exposition, sample: &str) -> &'a mut Family {
    let parent = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = sample.strip_suffix(suffix)?;
        exposition
            .families
            .iter()
            .any(|f| {
                f.name == base && matches!(f.kind, MetricKind::Histogram | MetricKind::Summary)
            })
            .then(|| base.to_string())
    });
    family_named(exposition, parent.as_deref().unwrap_or(sample))
}

fn parse_sample(line: &str, format: Format) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or_else(|| format!("sample without a value: {line:?}"))?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let (parsed, remainder) = parse_labels(after_brace)?;
        labels = parsed;
        rest = remainder;
    }
    let value = match format {
        Format::PrometheusText => prometheus_text_value(name, rest)?,
        Format::OpenMetrics => openmetrics_value(name, rest)?,
    };
    labels.sort();
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

type Labels = Vec<(String, String)>;

/// Parses `a="x",b="y"}` (the opening brace already consumed) and returns the
/// labels and the text after the closing brace.
fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let equals = text
            .find('=')
            .ok_or_else(|| "label without `=`".to_string())?;
        let name = text[..equals].trim();
        if !is_label_name(name) {
            return Err(format!("invalid label name {name:?}"));
        }
        let (value, rest) = parse_quoted(text[equals + 1..].trim_start())?;
        if labels.iter().any(|(existing, _)| existing == name) {
            return Err(format!("label {name:?} given twice"));
        }
        labels.push((name.to_string(), value));
        text = rest.trim_start();
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

fn parse_quoted(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or_else(|| "label value must start with `\"`".to_string())?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[index + 1..])),
            '\\' => match chars.next().map(|(_, escaped)| escaped) {
                Some('n') => value.push('\n'),
                Some('\\') => value.push('\\'),
                Some('"') => value.push('"'),
                other => return Err(format!("invalid escape `\\{}`", other.unwrap_or(' '))),
            },
            _ => value.push(c),
        }
    }
    Err("unterminated label value".into())
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP requests_total Requests handled.
# TYPE requests_total counter
requests_total{status="ok",op="get"} 12
requests_total{op="put",status="error"} 3
# HELP latency_seconds Request latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 4
latency_seconds_bucket{le="+Inf"} 5
latency_seconds_sum 0.75
latency_seconds_count 5
# TYPE in_flight gauge
in_flight -1e0
stray{path="a\"b\\c\nd"} NaN 1700000000000
"#;

    #[test]
    fn families_keep_their_type_help_and_samples() {
        let exposition = parse(TEXT).unwrap();
        let names: Vec<&str> = exposition
            .families
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["requests_total", "latency_seconds", "in_flight", "stray"]
        );
        let histogram = exposition.family("latency_seconds").unwrap();
        assert_eq!(histogram.kind, MetricKind::Histogram);
        assert_eq!(histogram.samples.len(), 4);
        assert_eq!(histogram.samples[1].value, 5.0);
        assert_eq!(
            exposition.family("in_flight").unwrap().samples[0].value,
            -1.0
        );
        assert_eq!(
            exposition.family("stray").unwrap().kind,
            MetricKind::Untyped
        );
    }

    #[test]
    fn labels_are_sorted_and_unescaped() {
        let exposition = parse(TEXT).unwrap();
        let counter = exposition.family("requests_total").unwrap();
        assert_eq!(
            counter.samples[0].series(),
            r#"requests_total{op="get",status="ok"}"#
        );
        let stray = &exposition.family("stray").unwrap().samples[0];
        assert_eq!(stray.label("path"), Some("a\"b\\c\nd"));
        assert!(stray.value.is_nan());
    }

    #[test]
    fn malformed_lines_name_their_line_number() {
        for (text, line) in [
            ("ok 1\nbad{a=\"x\" 1\n", 2),
            ("# TYPE x wobbly\n", 1),
            ("x{a=\"1\",a=\"2\"} 1\n", 1),
            ("\n\n9lives 1\n", 3),
            ("x notanumber\n", 1),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
        }
    }

    #[test]
    fn parses_what_the_prometheus_crate_encodes() {
        use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
        let registry = Registry::new();
        let counter = IntCounterVec::new(Opts::new("ops_total", "Operations."), &["op"]).unwrap();
        let histogram = HistogramVec::new(
            HistogramOpts::new("op_duration_seconds", "Durations.").buckets(vec![0.01, 0.1]),
            &["op"],
        )
        .unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        counter.with_label_values(&["get"]).inc_by(7);
        histogram.with_label_values(&["get"]).observe(0.05);
        let mut text = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&registry.gather(), &mut text)
            .unwrap();
        let exposition = parse(std::str::from_utf8(&text).unwrap()).unwrap();
        let histogram = exposition.family("op_duration_seconds").unwrap();
        assert_eq!(histogram.kind, MetricKind::Histogram);
        let series: Vec<String> = histogram.samples.iter().map(Sample::series).collect();
        assert!(series.contains(&r#"op_duration_seconds_bucket{le="0.1",op="get"}"#.to_string()));
        assert_eq!(
            exposition.family("ops_total").unwrap().samples[0].value,
            7.0
        );
    }
}
