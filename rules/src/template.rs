//! The part of Prometheus's Go templates obsim expands in alert labels and
//! annotations: `{{ $labels.<name> }}` (or `{{ .Labels.<name> }}`) and
//! `{{ $value }}` (or `{{ .Value }}`). The loader refuses any other action,
//! so an annotation never reaches promtool expanded differently.

use crate::series::Labels;

/// One piece of a template: text, or an action obsim expands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Label(String),
    Value,
}

/// A template parsed at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`, or says which action is outside the subset.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(format!("`{{{{` at byte {start} is never closed by `}}}}`"));
            };
            pieces.push(action(after[..end].trim())?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template { pieces })
    }

    /// The text with `labels` and `value` filled in. A label the series
    /// lacks expands to nothing, as in Prometheus.
    pub fn expand(&self, labels: &Labels, value: f64) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Label(name) => out.push_str(labels.get(name).map_or("", String::as_str)),
                Piece::Value => out.push_str(&go_float(value)),
            }
        }
        out
    }

    /// Whether the template has no action at all.
    pub fn is_plain(&self) -> bool {
        self.pieces
            .iter()
            .all(|piece| matches!(piece, Piece::Text(_)))
    }
}

fn action(body: &str) -> Result<Piece, String> {
    let label = body
        .strip_prefix("$labels.")
        .or_else(|| body.strip_prefix(".Labels."));
    if let Some(name) = label {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            return Ok(Piece::Label(name.to_string()));
        }
    }
    if body == "$value" || body == ".Value" {
        return Ok(Piece::Value);
    }
    Err(format!(
        "`{{{{ {body} }}}}` is outside the templates obsim expands: `{{{{ $labels.<name> }}}}` \
         and `{{{{ $value }}}}`"
    ))
}

/// A float as Go's `%v` prints it, which is how `{{ $value }}` appears in
/// an annotation: `%g` with the shortest digits that round-trip, so in
/// exponent form when the decimal exponent is below -4 or at least 6
/// (`strconv.FormatFloat(v, 'g', -1, 64)`).
pub fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Go's.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::labels;

    #[test]
    fn labels_and_value_expand_and_a_missing_label_is_empty() {
        let template =
            Template::parse("{{ $labels.instance }} is {{$value}}{{ .Labels.nope }}").unwrap();
        let expanded = template.expand(&labels([("instance", "server-0")]), 0.25);
        assert_eq!(expanded, "server-0 is 0.25");
    }

    #[test]
    fn an_action_outside_the_subset_is_refused_by_name() {
        let error = Template::parse("{{ humanize $value }}").unwrap_err();
        assert!(error.contains("humanize $value"), "{error}");
        assert!(Template::parse("{{ $labels.x").is_err());
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_float(0.05128205128205128), "0.05128205128205128");
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }
}
