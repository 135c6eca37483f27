//! `requests.<status>`, `calls.<outcome>` and `attempts.<outcome>`: counts
//! of what obsim's network carried, read from the run's ledger of calls
//! and requests, and what their selectors may name.

use std::collections::BTreeSet;

use obsim_scenario::{Quantity, Selector, StorageResult};

use super::expect::matches;
use crate::run::{Contract, Run, NETWORK_ERROR, TIMEOUT};

/// The count `quantity` reads, if it is one of these three.
pub(super) fn count(run: &Run, quantity: &Quantity) -> Option<u64> {
    let counted = match quantity {
        Quantity::Requests { status, selector } => run
            .requests
            .iter()
            .filter(|request| {
                let answered = request.status.as_deref();
                let wanted = match status.as_str() {
                    "total" => true,
                    "unanswered" => answered.is_none(),
                    status => answered == Some(status),
                };
                wanted
                    && matches(selector, |key| match key {
                        "node" => Some(request.node.to_string()),
                        "incarnation" => Some(request.incarnation.to_string()),
                        "method" => Some(request.method.to_string()),
                        "operation" => Some(request.operation.to_string()),
                        _ => None,
                    })
            })
            .count(),
        Quantity::Calls { outcome, selector } => run
            .calls
            .iter()
            .filter(|call| {
                (outcome == "total" || call.outcome.as_deref() == Some(outcome.as_str()))
                    && matches(selector, |key| match key {
                        "node" => Some(call.node.to_string()),
                        "incarnation" => Some(call.incarnation.to_string()),
                        "operation" => Some(call.operation.to_string()),
                        _ => None,
                    })
            })
            .count(),
        Quantity::Attempts { outcome, selector } => run
            .calls
            .iter()
            .flat_map(|call| call.attempts.iter().map(move |attempt| (call, attempt)))
            .filter(|(call, attempt)| {
                (outcome == "total" || attempt.outcome.as_deref() == Some(outcome.as_str()))
                    && matches(selector, |key| match key {
                        "node" => Some(call.node.to_string()),
                        "incarnation" => Some(call.incarnation.to_string()),
                        "operation" => Some(call.operation.to_string()),
                        "method" => Some(attempt.method.to_string()),
                        _ => None,
                    })
            })
            .count(),
        Quantity::Dependencies { result, selector } => run
            .dependency_calls
            .iter()
            .filter(|call| {
                let wanted = match result {
                    StorageResult::Ok => call.failure.is_none(),
                    StorageResult::Failed => call.failure.is_some(),
                    _ => true,
                };
                wanted
                    && matches(selector, |key| match key {
                        "node" => Some(call.node.to_string()),
                        "incarnation" => Some(call.incarnation.to_string()),
                        "dependency" => Some(call.dependency.clone()),
                        "operation" => Some(call.operation.to_string()),
                        _ => None,
                    })
            })
            .count(),
        _ => return None,
    };
    Some(counted as u64)
}

/// Ok unless `quantity` names a status, outcome, method or operation that
/// nothing in this run could produce.
pub(super) fn produced(run: &Run, contract: &Contract, quantity: &Quantity) -> Result<(), String> {
    // Names are borrowed from the run, and a label's values collected only
    // when the selector asks for that label: every expectation and rule
    // evaluation comes through here.
    match quantity {
        Quantity::Requests { status, selector } => {
            let seen = run.requests.iter().filter_map(|r| r.status.as_deref());
            let always = ["total", "unanswered", "ok", "error"];
            known("requests", "status", status, seen, &always)?;
            let methods = || run.requests.iter().map(|r| &*r.method);
            let operations = || run.requests.iter().map(|r| &*r.operation);
            label("requests", selector, "method", methods)?;
            label("requests", selector, "operation", operations)
        }
        Quantity::Calls { outcome, selector } => {
            let seen = run.calls.iter().filter_map(|c| c.outcome.as_deref());
            let declared = contract.outcomes.iter().map(String::as_str);
            known(
                "calls",
                "outcome",
                outcome,
                seen.chain(declared),
                &["total"],
            )?;
            let operations = || run.calls.iter().map(|c| &*c.operation);
            label("calls", selector, "operation", operations)
        }
        Quantity::Attempts { outcome, selector } => {
            let attempts = || run.calls.iter().flat_map(|c| &c.attempts);
            let seen = attempts().filter_map(|a| a.outcome.as_deref());
            let always = ["total", "ok", "error", TIMEOUT, NETWORK_ERROR];
            known("attempts", "outcome", outcome, seen, &always)?;
            let operations = || run.calls.iter().map(|c| &*c.operation);
            label("attempts", selector, "operation", operations)?;
            let methods = || attempts().map(|a| &*a.method);
            label("attempts", selector, "method", methods)
        }
        Quantity::Dependencies { selector, .. } => {
            // Declared or called: a dependency the run never called may
            // still be a declared one that must read 0.
            let declared = || contract.dependencies.iter();
            let called = || run.dependency_calls.iter();
            let names = || {
                let declared = declared().map(|(name, _)| name.as_str());
                declared.chain(called().map(|c| c.dependency.as_str()))
            };
            label("dependency calls", selector, "dependency", names)?;
            let ops = || {
                let declared = declared().flat_map(|(_, ops)| ops.iter().map(String::as_str));
                declared.chain(called().map(|c| &*c.operation))
            };
            label("dependency calls", selector, "operation", ops)
        }
        _ => Ok(()),
    }
}

/// Ok when `word` was seen in the run or is one of `always`.
fn known<'a>(
    head: &str,
    what: &str,
    word: &str,
    seen: impl Iterator<Item = &'a str>,
    always: &[&'a str],
) -> Result<(), String> {
    let mut names: BTreeSet<&str> = seen.collect();
    names.extend(always.iter().copied());
    if names.contains(word) {
        return Ok(());
    }
    Err(format!(
        "cannot be evaluated: no {head} in this run had {what} {word:?}, so {head}.{word} can \
         only read 0: the run has {}",
        names.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// Ok unless `selector` asks for a `key` value none of `values` has.
fn label<'a, I: Iterator<Item = &'a str>>(
    head: &str,
    selector: &Selector,
    key: &str,
    values: impl Fn() -> I,
) -> Result<(), String> {
    let Some((_, wanted)) = selector.labels.iter().find(|(label, _)| label == key) else {
        return Ok(());
    };
    let values: BTreeSet<&str> = values().collect();
    if values.contains(wanted.as_str()) {
        return Ok(());
    }
    let had: Vec<&str> = values.into_iter().take(10).collect();
    Err(format!(
        "cannot be evaluated: no {head} in this run had {key}={wanted:?}, so it selects \
         nothing: the run has {}",
        if had.is_empty() {
            "none".to_string()
        } else {
            had.join(", ")
        }
    ))
}
