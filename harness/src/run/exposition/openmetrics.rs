//! OpenMetrics 1.0 text, read as strictly as Prometheus's own parser reads
//! it, and normalized to the shape the checks read (see the module above).

use super::*;

/// OpenMetrics 1.0 text, as strictly as Prometheus reads it.
pub(super) fn parse_openmetrics(text: &str) -> Result<Exposition, ParseError> {
    let mut exposition = Exposition {
        families: Vec::new(),
        format: Format::OpenMetrics,
    };
    let mut eof_at: Option<usize> = None;
    let mut last = 0;
    for (index, line) in text.lines().enumerate() {
        last = index + 1;
        let fail = |message: String| ParseError {
            line: index + 1,
            format: Format::OpenMetrics,
            message,
        };
        if let Some(eof) = eof_at {
            return Err(fail(format!(
                "text after `# EOF` (line {eof}): `# EOF` ends an OpenMetrics exposition and \
                 nothing may follow it, so Prometheus rejects the whole scrape (\"unexpected \
                 data after # EOF\"). Two registries each encoded with `# EOF` do this; \
                 encode all but the last without it"
            )));
        }
        if line == EOF_LINE {
            eof_at = Some(index + 1);
            continue;
        }
        if line.trim().is_empty() {
            return Err(fail(
                "blank line: OpenMetrics text has none, and Prometheus rejects the scrape".into(),
            ));
        }
        if line.starts_with('#') {
            parse_metadata(&mut exposition, line).map_err(fail)?;
            continue;
        }
        let sample = parse_sample(line, Format::OpenMetrics).map_err(fail)?;
        add_openmetrics_sample(&mut exposition, sample);
    }
    if eof_at.is_none() {
        return Err(ParseError {
            line: last + 1,
            format: Format::OpenMetrics,
            message: format!(
                "no `# EOF` line: OpenMetrics text must end with `# EOF`, or Prometheus rejects \
                 the scrape (\"data does not end with # EOF\"); the text ended after line {last}"
            ),
        });
    }
    for family in &mut exposition.families {
        family.name = match family.kind {
            MetricKind::Counter => format!("{}_total", family.declared_name),
            MetricKind::Info => format!("{}_info", family.declared_name),
            _ => family.declared_name.clone(),
        };
    }
    Ok(exposition)
}

/// An OpenMetrics `# HELP`, `# TYPE` or `# UNIT` line; any other comment is
/// an error, as it is to Prometheus.
fn parse_metadata(exposition: &mut Exposition, line: &str) -> Result<(), String> {
    let mut words = line.strip_prefix("# ").unwrap_or("").splitn(3, ' ');
    let keyword = words.next().unwrap_or("");
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
        return Err(format!(
            "comment {line:?}: OpenMetrics has no free comments, only `# HELP`, `# TYPE`, \
             `# UNIT` and the final `# EOF`, and Prometheus rejects the scrape on any other"
        ));
    }
    let name = words
        .next()
        .filter(|name| is_metric_name(name))
        .ok_or_else(|| format!("`# {keyword}` needs a valid metric name"))?;
    let rest = words.next().unwrap_or("");
    let family = family_named(exposition, name);
    match keyword {
        "HELP" => family.help = Some(unescape_openmetrics(rest)),
        "TYPE" => {
            family.kind = MetricKind::parse_openmetrics(rest).ok_or_else(|| {
                format!(
                    "unknown OpenMetrics metric type {rest:?} for {name}: the types are \
                     counter, gauge, histogram, gaugehistogram, summary, info, stateset \
                     and unknown"
                )
            })?;
        }
        _ => {
            let suffixed = name
                .strip_suffix(rest)
                .is_some_and(|base| base.len() > 1 && base.ends_with('_'));
            if !rest.is_empty() && !suffixed {
                return Err(format!(
                    "`# UNIT {name} {rest}`: a family with a unit must be named after it, \
                     ending in `_{rest}` (e.g. `{name}_{rest}`), or Prometheus rejects the \
                     scrape (\"unit not a suffix of metric\")"
                ));
            }
            family.unit = (!rest.is_empty()).then(|| rest.to_string());
        }
    }
    Ok(())
}

/// Files an OpenMetrics sample under the latest family whose type gives its
/// name (`foo_total` under counter `foo`), `_created` samples apart. A sample
/// named exactly after a family joins it whatever the type, so the lint can
/// name a counter sample without `_total`; one no family claims is an
/// `unknown` family of its own.
fn add_openmetrics_sample(exposition: &mut Exposition, sample: Sample) {
    let found = exposition
        .families
        .iter()
        .enumerate()
        .rev()
        .find_map(|(index, family)| {
            let suffix = sample.name.strip_prefix(family.declared_name.as_str())?;
            if suffix == "_created" && family.kind.has_created() {
                return Some((index, true));
            }
            let named = suffix.is_empty() || family.kind.openmetrics_suffixes().contains(&suffix);
            named.then_some((index, false))
        });
    match found {
        Some((index, true)) => exposition.families[index].created.push(sample),
        Some((index, false)) => exposition.families[index].samples.push(sample),
        None => family_named(exposition, &sample.name.clone())
            .samples
            .push(sample),
    }
}

/// `value [timestamp] [# {labels} value [timestamp]]` of an OpenMetrics
/// sample: timestamps are seconds (a float), and the exemplar after `#` is
/// checked and dropped.
pub(super) fn openmetrics_value(name: &str, rest: &str) -> Result<f64, String> {
    let (point, exemplar) = match rest.split_once('#') {
        Some((point, exemplar)) => (point, Some(exemplar)),
        None => (rest, None),
    };
    let mut fields = point.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("sample {name} has no value"))?;
    let value = parse_value(value_text)
        .ok_or_else(|| format!("sample {name} has an invalid value {value_text:?}"))?;
    if let Some(timestamp) = fields.next() {
        parse_timestamp(timestamp).ok_or_else(|| {
            format!(
                "sample {name} has an invalid timestamp {timestamp:?}: OpenMetrics timestamps \
                 are seconds since the epoch, e.g. `1700000000.125`"
            )
        })?;
    }
    if fields.next().is_some() {
        return Err(format!("sample {name} has trailing text"));
    }
    if let Some(exemplar) = exemplar {
        check_exemplar(exemplar)
            .map_err(|problem| format!("sample {name} has an invalid exemplar: {problem}"))?;
    }
    Ok(value)
}

/// ` {labels} value [timestamp]`, the text after an exemplar's `#`.
fn check_exemplar(text: &str) -> Result<(), String> {
    let shape = "an exemplar is ` # {label=\"value\"} value [timestamp]`";
    let body = text
        .strip_prefix(' ')
        .and_then(|text| text.strip_prefix('{'))
        .ok_or_else(|| shape.to_string())?;
    let (_labels, rest) = parse_labels(body)?;
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or_else(|| shape.to_string())?;
    parse_value(value).ok_or_else(|| format!("invalid exemplar value {value:?}"))?;
    if let Some(timestamp) = fields.next() {
        parse_timestamp(timestamp)
            .ok_or_else(|| format!("invalid exemplar timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err(format!("trailing text; {shape}"));
    }
    Ok(())
}

/// An OpenMetrics timestamp: finite seconds.
fn parse_timestamp(text: &str) -> Option<f64> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite())
}

/// OpenMetrics HELP escapes `\\`, `\n` and `\"`; any other backslash stays.
fn unescape_openmetrics(text: &str) -> String {
    let mut unescaped = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            unescaped.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => unescaped.push('\n'),
            Some(c @ ('\\' | '"')) => unescaped.push(c),
            Some(other) => {
                unescaped.push('\\');
                unescaped.push(other);
            }
            None => unescaped.push('\\'),
        }
    }
    unescaped
}
