//! A span as a run records it: `SpanRecord` built from the SDK's data as
//! the span ends, with its ids as numbers and its attributes interned.

use std::sync::Arc;

use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;

use super::clock::Clock;
use super::interner::Interner;
use crate::run::{SpanEventRecord, SpanOrigin, SpanRecord, SpanStatus};

// Here, not in run's record: it reads the simulated `Clock`, which belongs to sim.
impl SpanRecord {
    pub(crate) fn from_data(
        data: &SpanData,
        origin: SpanOrigin,
        clock: &Clock,
        strings: &mut Interner,
    ) -> SpanRecord {
        let parent = data.parent_span_id;
        SpanRecord {
            trace_id: data.span_context.trace_id().into(),
            span_id: data.span_context.span_id().into(),
            parent_span_id: (parent != opentelemetry::trace::SpanId::INVALID)
                .then(|| parent.into()),
            name: data.name.as_ref().to_owned(),
            kind: crate::run::span_kind_name(&data.span_kind).to_string(),
            origin,
            start_ns: clock.offset_ns(data.start_time),
            end_ns: clock.offset_ns(data.end_time),
            status: match &data.status {
                Status::Unset => SpanStatus::Unset,
                Status::Ok => SpanStatus::Ok,
                Status::Error { description } => SpanStatus::Error(description.to_string()),
            },
            attributes: sorted(data.attributes.iter(), strings),
            events: data
                .events
                .iter()
                .map(|event| SpanEventRecord {
                    name: event.name.as_ref().to_owned(),
                    at_ns: clock.offset_ns(event.timestamp),
                    attributes: sorted(event.attributes.iter(), strings),
                })
                .collect(),
        }
    }
}

fn sorted<'a>(
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
    strings: &mut Interner,
) -> Vec<(Arc<str>, Arc<str>)> {
    let mut pairs: Vec<(Arc<str>, Arc<str>)> = attributes
        .map(|kv| {
            (
                strings.get(kv.key.as_str()),
                strings.get(&kv.value.as_str()),
            )
        })
        .collect();
    pairs.sort();
    pairs
}
