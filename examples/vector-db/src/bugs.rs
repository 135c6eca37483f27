use std::fmt;
use std::str::FromStr;

use obsim::deps::serde::Deserialize;

/// A realistic instrumentation bug the vector database can plant, named in a
/// scenario's `[system] bugs = [...]`. Each exists to show that one obsim
/// check catches it; none is on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(crate = "obsim::deps::serde", rename_all = "snake_case")]
pub enum Bug {
    /// Storage durations are observed as `elapsed.as_millis()` into
    /// `vectordb_storage_operation_duration_seconds`. Caught by histogram
    /// correctness.
    MillisecondsAsSeconds,
    /// `vectordb_storage_operations_total{operation="write",status="ok"}` is
    /// bumped before the write is tried, and a failed write is never counted.
    /// Caught by metric accuracy.
    CounterBeforeWrite,
    /// When a handler panics, its collection is evicted from the hot tier and
    /// the eviction counted, but `vectordb_hot_collections` is decremented
    /// only on the capacity path. Caught by gauge consistency.
    GaugeNotDecrementedOnPanic,
    /// `search` requests take a fast path that builds the message without the
    /// `traceparent`. Caught by trace integrity.
    TraceContextDroppedOnSearch,
    /// A failed storage operation's span records the error as an event but
    /// leaves its status OK. Caught by span completion.
    SpanLeftOkOnFailure,
    /// Whenever a collection is evicted, `vectordb_vectors_indexed_total` is
    /// resynchronized with the live hot tier: prometheus-client's `Counter`
    /// has no `reset` or `set`, so the value is stored through
    /// `Counter::inner()`, the escape hatch whose docs leave monotonicity to
    /// the caller. A counter derived from live state, which falls by the
    /// vectors evicted. Caught by counter monotonicity.
    CounterResetFromLiveState,
    /// A per-collection size gauge, `vectordb_collection_vectors{collection}`,
    /// as AkiDB's `akidb_collection_size_vectors{collection_id}`: a label
    /// without a bound, one series per collection ever loaded. Caught by
    /// exposition lint.
    CollectionIdLabel,
    /// `vectordb_stored_collections` starts at 0 in every incarnation
    /// instead of at what storage holds, so after a restart it counts only
    /// the collections stored since. Caught by gauge consistency (stored
    /// state).
    StoredGaugeRestartsAtZero,
}

impl Bug {
    pub const ALL: [Bug; 8] = [
        Bug::MillisecondsAsSeconds,
        Bug::CounterBeforeWrite,
        Bug::GaugeNotDecrementedOnPanic,
        Bug::TraceContextDroppedOnSearch,
        Bug::SpanLeftOkOnFailure,
        Bug::CounterResetFromLiveState,
        Bug::CollectionIdLabel,
        Bug::StoredGaugeRestartsAtZero,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Bug::MillisecondsAsSeconds => "milliseconds_as_seconds",
            Bug::CounterBeforeWrite => "counter_before_write",
            Bug::GaugeNotDecrementedOnPanic => "gauge_not_decremented_on_panic",
            Bug::TraceContextDroppedOnSearch => "trace_context_dropped_on_search",
            Bug::SpanLeftOkOnFailure => "span_left_ok_on_failure",
            Bug::CounterResetFromLiveState => "counter_reset_from_live_state",
            Bug::CollectionIdLabel => "collection_id_label",
            Bug::StoredGaugeRestartsAtZero => "stored_gauge_restarts_at_zero",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Bug {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Bug::ALL.iter().map(|bug| bug.as_str()).collect();
                format!("unknown bug {text:?}: expected one of {}", known.join(", "))
            })
    }
}
