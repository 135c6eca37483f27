//! `log_volume`: no storms. A request leaves at most the contract's budget
//! of events in its trace, and a server node incarnation emits at most its
//! budget in any one simulated second. A retry loop that logs every attempt, or an
//! error logged again by every layer it passes, fails here before it fills
//! a disk in production.

use std::collections::BTreeMap;

use super::{at, listed};
use crate::checks::{Check, Violation};
use crate::run::{Contract, LogRecord, Run, TraceId};

pub(crate) fn log_volume(run: &Run, contract: &Contract) -> Vec<Violation> {
    let mut violations = per_request(run, contract.logs.per_request_max);
    violations.extend(per_node_second(run, contract.logs.per_node_second_max));
    violations
}

fn per_request(run: &Run, max: u64) -> Vec<Violation> {
    let mut by_trace: BTreeMap<TraceId, Vec<&LogRecord>> = BTreeMap::new();
    for log in &run.logs {
        if let Some(trace) = &log.trace {
            by_trace.entry(trace.trace_id).or_default().push(log);
        }
    }
    // In the order the storms began, the loudest first among equals.
    let mut storms: Vec<(TraceId, Vec<&LogRecord>)> = by_trace
        .into_iter()
        .filter(|(_, logs)| logs.len() as u64 > max)
        .collect();
    storms.sort_by_key(|(trace, logs)| (logs[0].at_ns, std::cmp::Reverse(logs.len()), *trace));
    let rest = format!("more requests logged more than {max} events");
    listed(
        Check::LogVolume,
        &storms,
        |(trace, logs)| Violation {
            check: Check::LogVolume,
            subject: format!("trace {trace}"),
            node: Some(super::correlation::node(logs[0])),
            at: Some(at(logs[0].at_ns)),
            message: format!(
                "one request logged {} events, more than its budget of {max} \
                 (`Contract::log_budget`); the loudest call sites: {}",
                logs.len(),
                loudest(logs)
            ),
        },
        ("traces", &rest),
    )
}

fn per_node_second(run: &Run, max: u64) -> Vec<Violation> {
    let mut by_second: BTreeMap<(String, i64), Vec<&LogRecord>> = BTreeMap::new();
    // Server nodes only: the client node stands for every user of the
    // service at once, and its volume is the workload's, not a process's.
    for log in run.logs.iter().filter(|log| super::on_server(log)) {
        let second = log.at_ns.div_euclid(1_000_000_000);
        by_second
            .entry((super::correlation::node(log), second))
            .or_default()
            .push(log);
    }
    let storms: Vec<(&(String, i64), &Vec<&LogRecord>)> = by_second
        .iter()
        .filter(|(_, logs)| logs.len() as u64 > max)
        .collect();
    let rest = format!("more node-seconds went over {max} events");
    listed(
        Check::LogVolume,
        &storms,
        |((node, second), logs)| Violation {
            check: Check::LogVolume,
            subject: "log events".into(),
            node: Some(node.clone()),
            at: Some(at(logs[0].at_ns)),
            message: format!(
                "{} events in the simulated second from {second}s, more than the budget of {max} \
                 per node per second (`Contract::log_budget`); the loudest call sites: {}",
                logs.len(),
                loudest(logs)
            ),
        },
        ("log events", &rest),
    )
}

/// The three call sites that logged most among `logs`, with their counts,
/// levels and a message each.
fn loudest(logs: &[&LogRecord]) -> String {
    let mut sites: BTreeMap<(&str, &str), (usize, &LogRecord)> = BTreeMap::new();
    for log in logs {
        sites.entry((&log.name, &log.target)).or_insert((0, log)).0 += 1;
    }
    let mut sites: Vec<(usize, &LogRecord)> = sites.into_values().collect();
    sites.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    sites
        .iter()
        .take(3)
        .map(|(count, log)| {
            format!(
                "{count} × {} {:?} ({})",
                log.level.as_str().to_uppercase(),
                obsim_rules::input::excerpt(&log.body),
                log.name.strip_prefix("event ").unwrap_or(&log.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
