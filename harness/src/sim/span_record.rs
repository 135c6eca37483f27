//! A span as a run records it: `SpanRecord` built from the SDK's data as
//! the span ends, with its ids in hex and its attributes interned.

use std::sync::Arc;

use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SpanData;

use super::clock::Clock;
use crate::run::{SpanEventRecord, SpanOrigin, SpanRecord, SpanStatus};

// Here, not in run's record: it reads the simulated `Clock`, which belongs to sim.
impl SpanRecord {
    pub(crate) fn from_data(
        data: &SpanData,
        origin: SpanOrigin,
        clock: &Clock,
        strings: &mut Interner,
    ) -> SpanRecord {
        use opentelemetry::trace::SpanKind;
        let parent = data.parent_span_id;
        SpanRecord {
            trace_id: hex(&data.span_context.trace_id().to_bytes()),
            span_id: hex(&data.span_context.span_id().to_bytes()),
            parent_span_id: (parent != opentelemetry::trace::SpanId::INVALID)
                .then(|| hex(&parent.to_bytes())),
            name: data.name.as_ref().to_owned(),
            kind: match data.span_kind {
                SpanKind::Client => "client",
                SpanKind::Server => "server",
                SpanKind::Producer => "producer",
                SpanKind::Consumer => "consumer",
                SpanKind::Internal => "internal",
            }
            .to_string(),
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

/// Lowercase hex, as the ids' `Display` writes them (and W3C trace context
/// carries them), without the formatting machinery: every span has two or
/// three ids, and this is the capture's hottest line.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = Vec::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)]);
        text.push(DIGITS[usize::from(byte & 0xf)]);
    }
    // Only ASCII digits went in, so this never fails.
    String::from_utf8(text).unwrap_or_default()
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

/// Distinct strings an interner keeps per run. Past it, a string is still
/// recorded, in an allocation of its own: the interner's memory is bounded
/// whatever a system puts in its attributes, and the strings spans repeat
/// most (keys, file paths, module and service names) come first.
const INTERNED_MAX: usize = 16_384;

/// Attribute keys and values, each distinct one held once per run. A span
/// carries eight or so attributes, most of them the same text as on every
/// other span (`code.file.path` and its path, `rpc.system`, ...); shared,
/// they cost a pointer each instead of an allocation each.
///
/// A hash set, not a B-tree: the strings share long prefixes (file paths,
/// `code.`), which made every ordered lookup a run of long comparisons. It
/// is only ever looked up, never iterated, so its order cannot reach a
/// report; the hasher has fixed keys all the same.
#[derive(Default)]
pub(crate) struct Interner(
    std::collections::HashSet<
        Arc<str>,
        std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
    >,
);

impl Interner {
    fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        if self.0.len() < INTERNED_MAX {
            self.0.insert(shared.clone());
        }
        shared
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId};

    #[test]
    fn hex_writes_ids_as_their_display_does() {
        let trace = TraceId::from(0x0123_4567_89ab_cdef_0011_2233_4455_6677_u128);
        let span = SpanId::from(0x00ff_10a0_0000_0001_u64);
        assert_eq!(super::hex(&trace.to_bytes()), trace.to_string());
        assert_eq!(super::hex(&span.to_bytes()), span.to_string());
    }
}
