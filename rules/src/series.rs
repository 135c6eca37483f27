//! Series as Prometheus stores them: a label set, the metric name in
//! `__name__`, and samples in time order, some of them staleness markers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A series' labels, the metric name among them as `__name__`. Ordered, so
/// that everything built from it (alerts, reports, files) is too.
pub type Labels = BTreeMap<String, String>;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Prometheus's staleness marker: a NaN with this exact bit pattern, which no
/// arithmetic produces. A series ends at it: an instant selector does not
/// look past it, and a range selector skips it.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a sample value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `value` is the staleness marker (and not just any NaN).
pub fn is_stale(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// One sample: milliseconds since the run started, and the value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t_ms: i64,
    pub value: f64,
}

/// One series and its samples, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Shared, not copied, by every instant vector element read from it.
    pub labels: Arc<Labels>,
    /// The labels without `__name__`, made once: what a function or an
    /// operator over this series returns, shared rather than copied at each
    /// instant (copying label sets was most of rule evaluation's cost under
    /// `perf`).
    pub(crate) unnamed: Arc<Labels>,
    pub samples: Vec<Sample>,
    /// Written by a recording rule, not scraped: left out of a promtool
    /// test's `input_series`, where promtool records it itself.
    pub recorded: bool,
}

impl Series {
    /// The samples with `from_ms <= t <= to_ms`, staleness markers included.
    pub fn window(&self, from_ms: i64, to_ms: i64) -> &[Sample] {
        let start = self.samples.partition_point(|s| s.t_ms < from_ms);
        let end = self.samples.partition_point(|s| s.t_ms <= to_ms);
        &self.samples[start..end.max(start)]
    }

    /// The metric name.
    pub fn name(&self) -> &str {
        self.labels.get(METRIC_NAME).map_or("", String::as_str)
    }
}

/// Samples a store may hold by default: 16 bytes each, so 64 MB. A run
/// that needs more fails with [`StoreError::Full`], never by running out of
/// memory.
pub const SAMPLES_MAX_DEFAULT: usize = 4_000_000;

/// Every series one timeline's rules read and write.
#[derive(Clone, Debug)]
pub struct SeriesStore {
    series: Vec<Series>,
    /// Looked up at every sample written by label set, never iterated: a
    /// hash map with fixed keys, one hash and one comparison a lookup
    /// rather than a B-tree's several comparisons of whole label sets.
    index: std::collections::HashMap<Labels, usize, foldhash::fast::FixedState>,
    by_name: BTreeMap<String, Vec<usize>>,
    samples: usize,
    samples_max: usize,
}

impl Default for SeriesStore {
    fn default() -> Self {
        SeriesStore::new(SAMPLES_MAX_DEFAULT)
    }
}

/// Why a sample was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreError {
    /// The store holds `samples_max` samples already.
    Full { samples_max: usize },
    /// A sample at or before the series' last one: Prometheus refuses it
    /// too (out of order, or a duplicate timestamp).
    OutOfOrder {
        series: String,
        t_ms: i64,
        last_ms: i64,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Full { samples_max } => write!(
                f,
                "the rule evaluator's series store is full: {samples_max} samples. Scrape less \
                 often, or run for less simulated time"
            ),
            StoreError::OutOfOrder {
                series,
                t_ms,
                last_ms,
            } => write!(
                f,
                "sample of {series} at {t_ms} ms is not after its last one at {last_ms} ms"
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl SeriesStore {
    pub fn new(samples_max: usize) -> SeriesStore {
        SeriesStore {
            series: Vec::new(),
            index: Default::default(),
            by_name: BTreeMap::new(),
            samples: 0,
            samples_max,
        }
    }

    /// Appends a sample to the series `labels`, creating it if new.
    pub fn push(&mut self, labels: &Labels, t_ms: i64, value: f64) -> Result<(), StoreError> {
        self.push_as(labels, t_ms, value, false)
    }

    /// Appends a staleness marker, if the series exists and is not stale
    /// already. Returns whether it did.
    pub fn mark_stale(&mut self, labels: &Labels, t_ms: i64) -> Result<bool, StoreError> {
        match self.index.get(labels) {
            Some(&id) => self.mark_stale_at(id, t_ms),
            None => Ok(false),
        }
    }

    /// [`SeriesStore::mark_stale`] by the series' id.
    pub fn mark_stale_at(&mut self, id: usize, t_ms: i64) -> Result<bool, StoreError> {
        let last = self.series[id].samples.last().copied();
        if last.is_none_or(|sample| is_stale(sample.value)) {
            return Ok(false);
        }
        self.push_at(id, t_ms, stale_nan())?;
        Ok(true)
    }

    /// The id of the series `labels`, created (empty) if new. Ids are
    /// positions in [`SeriesStore::series`]: a caller that writes one series
    /// at many instants looks it up once.
    pub fn series_id(&mut self, labels: &Labels) -> usize {
        self.series_id_as(labels, false)
    }

    pub(crate) fn series_id_as(&mut self, labels: &Labels, recorded: bool) -> usize {
        match self.index.get(labels) {
            Some(&id) => id,
            None => self.insert(labels.clone(), recorded),
        }
    }

    /// Appends a sample to the series with id `id`.
    pub fn push_at(&mut self, id: usize, t_ms: i64, value: f64) -> Result<(), StoreError> {
        if self.samples >= self.samples_max {
            return Err(StoreError::Full {
                samples_max: self.samples_max,
            });
        }
        let series = &mut self.series[id];
        if let Some(last) = series.samples.last() {
            if last.t_ms >= t_ms {
                return Err(StoreError::OutOfOrder {
                    series: format_series(&series.labels),
                    t_ms,
                    last_ms: last.t_ms,
                });
            }
        }
        series.samples.push(Sample { t_ms, value });
        self.samples += 1;
        Ok(())
    }

    pub(crate) fn push_as(
        &mut self,
        labels: &Labels,
        t_ms: i64,
        value: f64,
        recorded: bool,
    ) -> Result<(), StoreError> {
        let id = self.series_id_as(labels, recorded);
        self.push_at(id, t_ms, value)
    }

    fn insert(&mut self, labels: Labels, recorded: bool) -> usize {
        let at = self.series.len();
        let name = labels.get(METRIC_NAME).cloned().unwrap_or_default();
        // Kept in the order first written, as Prometheus's storage returns
        // series (by reference, handed out as series appear): an
        // aggregation then adds in its order, to the same last bit.
        self.by_name.entry(name).or_default().push(at);
        self.index.insert(labels.clone(), at);
        let mut unnamed = labels.clone();
        unnamed.remove(METRIC_NAME);
        self.series.push(Series {
            labels: Arc::new(labels),
            unnamed: Arc::new(unnamed),
            samples: Vec::new(),
            recorded,
        });
        at
    }

    /// Every series, in the order first written.
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// The series named `name`, or every series when None, in the order
    /// first written.
    pub fn named<'a>(&'a self, name: Option<&str>) -> Box<dyn Iterator<Item = &'a Series> + 'a> {
        match name {
            Some(name) => Box::new(
                self.by_name
                    .get(name)
                    .into_iter()
                    .flatten()
                    .map(|&at| &self.series[at]),
            ),
            None => Box::new(self.series.iter()),
        }
    }

    /// The ids of the series named `name`, or of every series when None, in
    /// the order first written.
    pub fn named_ids<'a>(&'a self, name: Option<&str>) -> Box<dyn Iterator<Item = usize> + 'a> {
        match name {
            Some(name) => Box::new(self.by_name.get(name).into_iter().flatten().copied()),
            None => Box::new(0..self.series.len()),
        }
    }

    /// Samples held, staleness markers included.
    pub fn samples(&self) -> usize {
        self.samples
    }
}

/// `name{a="x", b="y"}`, as PromQL writes a series, values escaped.
pub fn format_series(labels: &Labels) -> String {
    let name = labels.get(METRIC_NAME).map_or("", String::as_str);
    let rest: Vec<String> = labels
        .iter()
        .filter(|(key, _)| key.as_str() != METRIC_NAME)
        .map(|(key, value)| format!("{key}=\"{}\"", escape_label_value(value)))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        return name.to_string();
    }
    format!("{name}{{{}}}", rest.join(", "))
}

/// A label value as a PromQL (and Go) string literal's content.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Labels from pairs, for tests and callers that build series by hand.
pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_marker_is_told_apart_from_an_ordinary_nan() {
        assert!(is_stale(stale_nan()));
        assert!(!is_stale(f64::NAN));
        assert!(!is_stale(-f64::NAN));
    }

    #[test]
    fn a_sample_out_of_order_is_refused_and_a_full_store_says_so() {
        let mut store = SeriesStore::new(2);
        let up = labels([(METRIC_NAME, "up"), ("instance", "server-0")]);
        store.push(&up, 1000, 1.0).unwrap();
        let error = store.push(&up, 1000, 1.0).unwrap_err();
        assert!(matches!(error, StoreError::OutOfOrder { .. }), "{error}");
        store.push(&up, 2000, 1.0).unwrap();
        let error = store.push(&up, 3000, 1.0).unwrap_err();
        assert_eq!(error, StoreError::Full { samples_max: 2 });
    }

    #[test]
    fn marking_stale_twice_writes_one_marker() {
        let mut store = SeriesStore::default();
        let up = labels([(METRIC_NAME, "up")]);
        store.push(&up, 0, 1.0).unwrap();
        assert!(store.mark_stale(&up, 1000).unwrap());
        assert!(!store.mark_stale(&up, 2000).unwrap());
        assert_eq!(store.samples(), 2);
        assert_eq!(format_series(&up), "up");
    }
}
