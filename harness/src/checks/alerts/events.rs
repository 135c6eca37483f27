//! Ground-truth quantities as events in time: which node incarnation each
//! counted thing happened on, and when. Only the quantities the ledger
//! places in time and on a node have events; the others (outcomes,
//! messages, faults, amounts, spans) cannot make a series.

use obsim_scenario::{Quantity, StorageResult};

use crate::checks::expect::matches;
use crate::run::Run;

/// One counted thing: on which node incarnation, at which instant
/// (nanoseconds: a scrape rendered within the same millisecond as the
/// thing happened must see it or not, as the registry did),
/// and the record's fields a metric may be labelled by (`operation`,
/// `method`, `dependency`), as the ledger words them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Event {
    pub node: String,
    pub incarnation: u32,
    pub t_ns: i64,
    pub fields: Vec<(&'static str, String)>,
}

fn event(
    node: &str,
    incarnation: u32,
    at: std::time::Duration,
    fields: Vec<(&'static str, String)>,
) -> Event {
    Event {
        node: node.to_string(),
        incarnation,
        t_ns: at.as_nanos() as i64,
        fields,
    }
}

/// The fields `quantity`'s events carry: what a truth series may be split
/// by when the real metric has a label of that name.
pub(super) fn fields_of(quantity: &Quantity) -> &'static [&'static str] {
    match quantity {
        Quantity::Storage { .. } => &["operation"],
        Quantity::Requests { .. } | Quantity::Attempts { .. } => &["method", "operation"],
        Quantity::Calls { .. } => &["operation"],
        Quantity::Dependencies { .. } => &["dependency", "operation"],
        _ => &[],
    }
}

/// The events `quantity` counts; None when the ledger cannot place them.
/// A total counts at the start (a request received, a call begun), a
/// result at the end (a reply sent, a call finished), as counters count.
pub(super) fn events(run: &Run, quantity: &Quantity) -> Option<Vec<Event>> {
    let events = match quantity {
        Quantity::Storage { result, selector } => {
            if *result == StorageResult::Recovered {
                return None;
            }
            run.storage_ops
                .iter()
                .filter(|op| match result {
                    StorageResult::Ok => op.failure.is_none(),
                    StorageResult::Failed => op.failure.is_some(),
                    _ => true,
                })
                .filter(|op| {
                    matches(selector, |key| match key {
                        "node" => Some(op.node.to_string()),
                        "incarnation" => Some(op.incarnation.to_string()),
                        "operation" => Some(op.operation.to_string()),
                        _ => None,
                    })
                })
                .map(|op| {
                    let fields = vec![("operation", op.operation.to_string())];
                    event(&op.node, op.incarnation, op.ended_at, fields)
                })
                .collect()
        }
        Quantity::Requests { status, selector } => {
            if status == "unanswered" {
                return None;
            }
            run.requests
                .iter()
                .filter(|request| {
                    matches(selector, |key| match key {
                        "node" => Some(request.node.to_string()),
                        "incarnation" => Some(request.incarnation.to_string()),
                        "method" => Some(request.method.to_string()),
                        "operation" => Some(request.operation.to_string()),
                        _ => None,
                    })
                })
                .filter_map(|request| {
                    let at = match status.as_str() {
                        "total" => request.received_at,
                        status if request.status.as_deref() == Some(status) => request.replied_at?,
                        _ => return None,
                    };
                    let fields = vec![
                        ("method", request.method.to_string()),
                        ("operation", request.operation.to_string()),
                    ];
                    Some(event(&request.node, request.incarnation, at, fields))
                })
                .collect()
        }
        Quantity::Calls { outcome, selector } => run
            .calls
            .iter()
            .filter(|call| {
                matches(selector, |key| match key {
                    "node" => Some(call.node.to_string()),
                    "incarnation" => Some(call.incarnation.to_string()),
                    "operation" => Some(call.operation.to_string()),
                    _ => None,
                })
            })
            .filter_map(|call| {
                let at = match outcome.as_str() {
                    "total" => call.started_at,
                    outcome if call.outcome.as_deref() == Some(outcome) => call.ended_at?,
                    _ => return None,
                };
                let fields = vec![("operation", call.operation.to_string())];
                Some(event(&call.node, call.incarnation, at, fields))
            })
            .collect(),
        Quantity::Attempts { outcome, selector } => run
            .calls
            .iter()
            .flat_map(|call| call.attempts.iter().map(move |attempt| (call, attempt)))
            .filter(|(call, attempt)| {
                matches(selector, |key| match key {
                    "node" => Some(call.node.to_string()),
                    "incarnation" => Some(call.incarnation.to_string()),
                    "operation" => Some(call.operation.to_string()),
                    "method" => Some(attempt.method.to_string()),
                    _ => None,
                })
            })
            .filter_map(|(call, attempt)| {
                let at = match outcome.as_str() {
                    "total" => attempt.started_at,
                    outcome if attempt.outcome.as_deref() == Some(outcome) => attempt.ended_at?,
                    _ => return None,
                };
                let fields = vec![
                    ("method", attempt.method.to_string()),
                    ("operation", call.operation.to_string()),
                ];
                Some(event(&call.node, call.incarnation, at, fields))
            })
            .collect(),
        Quantity::Dependencies { result, selector } => run
            .dependency_calls
            .iter()
            .filter(|call| match result {
                StorageResult::Ok => call.failure.is_none(),
                StorageResult::Failed => call.failure.is_some(),
                _ => true,
            })
            .filter(|call| {
                matches(selector, |key| match key {
                    "node" => Some(call.node.clone()),
                    "incarnation" => Some(call.incarnation.to_string()),
                    "dependency" => Some(call.dependency.clone()),
                    "operation" => Some(call.operation.clone()),
                    _ => None,
                })
            })
            .map(|call| {
                let at = match result {
                    StorageResult::Ok | StorageResult::Failed => call.ended_at,
                    _ => call.started_at,
                };
                let fields = vec![
                    ("dependency", call.dependency.clone()),
                    ("operation", call.operation.clone()),
                ];
                event(&call.node, call.incarnation, at, fields)
            })
            .collect(),
        _ => return None,
    };
    Some(events)
}
