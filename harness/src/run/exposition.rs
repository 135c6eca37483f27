//! A parser for the Prometheus text exposition format (version 0.0.4), the
//! format the simulated scraper reads off each node. obsim checks what was
//! actually exported, so it parses the text rather than peeking at registries.

use std::fmt;

/// One parsed exposition: metric families in the order the text gave them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub families: Vec<Family>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: MetricKind,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricKind {
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

    /// Whether every sample of the family may only go up within one process
    /// lifetime: counters, and the `_count`, `_sum` and `_bucket` samples of
    /// histograms and summaries (`quantile` samples excepted).
    pub fn is_cumulative(self) -> bool {
        matches!(
            self,
            MetricKind::Counter | MetricKind::Histogram | MetricKind::Summary
        )
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
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| label == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Exposition {
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|family| family.name == name)
    }

    /// Every sample with the kind of the family it belongs to.
    pub fn samples(&self) -> impl Iterator<Item = (MetricKind, &Sample)> {
        self.families.iter().flat_map(|family| {
            family
                .samples
                .iter()
                .map(move |sample| (family.kind, sample))
        })
    }
}

/// Where and why the text is not valid exposition format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exposition line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses exposition text. Samples without a `# TYPE` line form untyped
/// families of their own, as Prometheus treats them.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut exposition = Exposition::default();
    for (index, line) in text.lines().enumerate() {
        let fail = |message: String| ParseError {
            line: index + 1,
            message,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            parse_comment(&mut exposition, comment.trim_start()).map_err(fail)?;
            continue;
        }
        let sample = parse_sample(line).map_err(fail)?;
        family_for_sample(&mut exposition, &sample.name)
            .samples
            .push(sample);
    }
    Ok(exposition)
}

fn parse_comment(exposition: &mut Exposition, comment: &str) -> Result<(), String> {
    let mut words = comment.splitn(3, ' ');
    let keyword = words.next().unwrap_or("");
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(()); // a plain comment
    }
    let name = words
        .next()
        .filter(|name| is_metric_name(name))
        .ok_or_else(|| format!("`# {keyword}` needs a valid metric name"))?;
    let rest = words.next().unwrap_or("");
    let family = family_named(exposition, name);
    if keyword == "HELP" {
        family.help = Some(unescape_help(rest));
    } else {
        family.kind = MetricKind::parse(rest.trim())
            .ok_or_else(|| format!("unknown metric type {rest:?} for {name}"))?;
    }
    Ok(())
}

fn family_named<'a>(exposition: &'a mut Exposition, name: &str) -> &'a mut Family {
    let position = exposition.families.iter().position(|f| f.name == name);
    let index = position.unwrap_or_else(|| {
        exposition.families.push(Family {
            name: name.to_string(),
            kind: MetricKind::Untyped,
            help: None,
            samples: Vec::new(),
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

fn parse_sample(line: &str) -> Result<Sample, String> {
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
    let mut fields = rest.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("sample {name} has no value"))?;
    let value = parse_value(value_text)
        .ok_or_else(|| format!("sample {name} has an invalid value {value_text:?}"))?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("sample {name} has an invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err(format!("sample {name} has trailing text"));
    }
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

fn unescape_help(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\\\", "\\")
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
