//! Metrics tied to the spans of the same work. Spans are captured exactly,
//! with exact simulated times, so they are ground truth for the metrics that
//! describe the same work, whatever transport carried it: a request
//! histogram holds the durations of the request spans, a request counter
//! counts them by the attribute behind each label, an in-flight gauge shows
//! how many are open.

use super::spans::{SpanRecord, SpanStatus};

/// Which spans a metric describes, and which span attribute each of the
/// metric's labels comes from. Build it with [`Spans::named`] or
/// [`Spans::of_kind`], then narrow it and map its labels:
///
/// ```
/// # use obsim_harness::Spans;
/// let server_requests = Spans::of_kind("server")
///     .filter("http.route", "/v1/tasks/{id}")
///     .label("route", "http.route")
///     .status_label("status");
/// ```
///
/// A label the selector does not map is mapped to the span attribute of the
/// same name in OpenTelemetry's Prometheus naming (the label `http_route`
/// to `http.route`, dots as underscores) when the spans carry one, as an
/// OpenTelemetry exporter names them; any other is summed over: the
/// metric's series are grouped by the mapped labels only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spans {
    pub(crate) name: Option<String>,
    pub(crate) kind: Option<String>,
    /// (attribute, value): a span must carry every one.
    pub(crate) filters: Vec<(String, String)>,
    /// Attributes a span must carry, whatever their value.
    pub(crate) having: Vec<String>,
    /// (metric label, where its value comes from), in the order given.
    pub(crate) labels: Vec<(String, SpanField)>,
}

/// Where a metric label's value comes from on a span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SpanField {
    /// The value of this attribute (empty when the span lacks it, as a
    /// Prometheus label without a value).
    Attribute(String),
    /// `error` when the span ended in error, `ok` otherwise.
    Status,
}

impl Spans {
    /// Spans with this name (as exported: `otel.name` when the span set
    /// one), of any kind.
    pub fn named(name: &str) -> Spans {
        Spans {
            name: Some(name.to_string()),
            ..Spans::default()
        }
    }

    /// Spans of this kind (`server`, `client`, `internal`, `producer`,
    /// `consumer`), of any name: what an HTTP server's spans share when
    /// each is named after its route.
    pub fn of_kind(kind: &str) -> Spans {
        Spans::default().kind(kind)
    }

    /// Only spans of this kind.
    pub fn kind(mut self, kind: &str) -> Spans {
        self.kind = Some(kind.to_string());
        self
    }

    /// Only spans whose attribute `attribute` is `value`. When a label is
    /// mapped to the same attribute, only the metric's series with that
    /// label value are compared.
    pub fn filter(mut self, attribute: &str, value: &str) -> Spans {
        self.filters
            .push((attribute.to_string(), value.to_string()));
        self
    }

    /// Only spans that carry attribute `attribute`, whatever its value: a
    /// client's attempt spans (`http.request.method`) apart from the
    /// request span around them, of the same kind.
    pub fn having(mut self, attribute: &str) -> Spans {
        self.having.push(attribute.to_string());
        self
    }

    /// The metric's label `label` holds the span's attribute `attribute`
    /// (`route` from `http.route`, `code` from `http.response.status_code`).
    pub fn label(mut self, label: &str, attribute: &str) -> Spans {
        let field = SpanField::Attribute(attribute.to_string());
        self.labels.push((label.to_string(), field));
        self
    }

    /// The metric's label `label` is `error` for a span that ended in error
    /// and `ok` for any other: an error counted as ok fails.
    pub fn status_label(mut self, label: &str) -> Spans {
        self.labels.push((label.to_string(), SpanField::Status));
        self
    }

    /// Whether `span` is one of these spans.
    pub(crate) fn matches(&self, span: &SpanRecord) -> bool {
        self.name.as_ref().is_none_or(|name| &span.name == name)
            && self.kind.as_ref().is_none_or(|kind| &span.kind == kind)
            && self
                .filters
                .iter()
                .all(|(attribute, value)| span.attribute(attribute) == Some(value))
            && self
                .having
                .iter()
                .all(|attribute| span.attribute(attribute).is_some())
    }

    /// Whether a span a crash lost, known only by its name and kind, may be
    /// one of these.
    pub(crate) fn may_match(&self, name: &str, kind: &str) -> bool {
        self.name.as_ref().is_none_or(|n| n == name) && self.kind.as_ref().is_none_or(|k| k == kind)
    }

    /// The label values `span` stands for, in the order of [`Spans::label`]
    /// and [`Spans::status_label`].
    pub(crate) fn key(&self, span: &SpanRecord) -> Vec<String> {
        self.labels
            .iter()
            .map(|(_, field)| match field {
                SpanField::Attribute(attribute) => {
                    span.attribute(attribute).unwrap_or_default().to_string()
                }
                SpanField::Status => match span.status {
                    SpanStatus::Error(_) => "error".to_string(),
                    _ => "ok".to_string(),
                },
            })
            .collect()
    }

    /// Whether a series with these label values (in label order) is one the
    /// filters allow: a filter on an attribute a label maps rules out the
    /// series with another value.
    pub(crate) fn admits(&self, key: &[String]) -> bool {
        self.labels
            .iter()
            .zip(key)
            .all(|((_, field), value)| match field {
                SpanField::Attribute(attribute) => self
                    .filters
                    .iter()
                    .filter(|(a, _)| a == attribute)
                    .all(|(_, wanted)| wanted == value),
                SpanField::Status => true,
            })
    }

    /// The attributes its labels read, for the check that some span
    /// carries each (a typo would group every span under one empty value).
    pub(crate) fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels.iter().filter_map(|(label, field)| match field {
            SpanField::Attribute(attribute) => Some((label.as_str(), attribute.as_str())),
            SpanField::Status => None,
        })
    }

    /// `label="value",...` for a key, as a series selector reads.
    pub(crate) fn series(&self, key: &[String]) -> String {
        let pairs: Vec<String> = self
            .labels
            .iter()
            .zip(key)
            .map(|((label, _), value)| format!("{label}={value:?}"))
            .collect();
        pairs.join(",")
    }

    /// For messages: `spans named "visit" of kind server with http.route="/x"`.
    pub fn describe(&self) -> String {
        let mut words = vec!["spans".to_string()];
        if let Some(name) = &self.name {
            words.push(format!("named {name:?}"));
        }
        if let Some(kind) = &self.kind {
            words.push(format!("of kind {kind}"));
        }
        let filters: Vec<String> = self
            .filters
            .iter()
            .map(|(attribute, value)| format!("{attribute}={value:?}"))
            .chain(self.having.iter().cloned())
            .collect();
        if !filters.is_empty() {
            words.push(format!("with {}", filters.join(" and ")));
        }
        words.join(" ")
    }
}

/// A metric tied to spans, and what it must show of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpanTie {
    pub metric: String,
    pub spans: Spans,
    pub shows: Shows,
}

/// What a [`SpanTie`]'s metric shows of its spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shows {
    /// A histogram of their durations in seconds.
    Durations,
    /// A counter of them, each counted once.
    Count,
    /// A gauge of how many are open.
    InFlight,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn span(name: &str, kind: &str, route: &str, status: SpanStatus) -> SpanRecord {
        SpanRecord {
            trace_id: crate::run::TraceId(1),
            span_id: crate::run::SpanId(1),
            parent_span_id: None,
            name: name.into(),
            kind: kind.into(),
            origin: Default::default(),
            start_ns: 0,
            end_ns: 1,
            status,
            attributes: vec![(Arc::from("http.route"), Arc::from(route))],
            events: Vec::new(),
        }
    }

    #[test]
    fn a_selector_keys_spans_by_attribute_and_status_and_admits_only_filtered_series() {
        let spans = Spans::of_kind("server")
            .filter("http.route", "/a")
            .label("route", "http.route")
            .status_label("status");
        let failed = span("GET /a", "server", "/a", SpanStatus::Error("503".into()));
        assert!(spans.matches(&failed));
        assert_eq!(spans.key(&failed), ["/a", "error"]);
        assert!(!spans.matches(&span("GET /b", "server", "/b", SpanStatus::Unset)));
        assert!(!spans.matches(&span("GET /a", "client", "/a", SpanStatus::Unset)));
        assert!(spans.admits(&["/a".into(), "ok".into()]));
        assert!(!spans.admits(&["/metrics".into(), "ok".into()]));
        assert_eq!(
            spans.series(&["/a".into(), "ok".into()]),
            r#"route="/a",status="ok""#
        );
    }
}
