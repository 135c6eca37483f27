//! The Prometheus text format 0.0.4, what the `prometheus` crate writes.

use super::*;

pub(super) fn parse_prometheus_text(text: &str) -> Result<Exposition, ParseError> {
    let mut exposition = Exposition::default();
    for (index, line) in text.lines().enumerate() {
        let fail = |message: String| ParseError {
            line: index + 1,
            format: Format::PrometheusText,
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
        let sample = parse_sample(line, Format::PrometheusText).map_err(fail)?;
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

/// `value [timestamp]` of a 0.0.4 sample; the timestamp is integer ms.
pub(super) fn prometheus_text_value(name: &str, rest: &str) -> Result<f64, String> {
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
    Ok(value)
}

fn unescape_help(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\\\", "\\")
}
