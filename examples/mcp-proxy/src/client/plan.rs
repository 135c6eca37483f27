//! The client's plan: every session and call it will make, drawn up
//! front.

use std::collections::VecDeque;

use obsim::deps::rand::Rng;
use obsim::ClientContext;

use crate::system::{ARGUMENT_BYTES_MIN, OVERSIZE_BYTES_MAX};
use crate::McpProxyConfig;

/// One planned `tools/call`.
pub(super) struct CallPlan {
    pub(super) tool: String,
    pub(super) argument_bytes: usize,
}

/// One planned session.
pub(super) struct SessionPlan {
    pub(super) calls: Vec<CallPlan>,
    /// Stop (without closing) after this many calls.
    pub(super) abandon_after: Option<usize>,
}

/// The whole plan, drawn up front from the workload's seeded stream, so how
/// sessions interleave can never change what they do.
pub(super) fn plan(client: &mut ClientContext, config: &McpProxyConfig) -> VecDeque<SessionPlan> {
    let workload = client.workload.clone();
    let rng = &mut client.rng;
    let mut sessions = VecDeque::new();
    let mut remaining = workload.invocations;
    // Each pass plans at least one call.
    while remaining > 0 {
        let count = remaining.min(config.session_calls as u64);
        remaining -= count;
        let calls: Vec<CallPlan> = (0..count)
            .map(|_| {
                let tool = workload.choose_operation(rng).to_string();
                let argument_bytes = if rng.random_bool(config.request_oversized_ratio) {
                    config.request_bytes_max + rng.random_range(1..=OVERSIZE_BYTES_MAX)
                } else {
                    rng.random_range(ARGUMENT_BYTES_MIN..=config.argument_bytes_max)
                };
                CallPlan {
                    tool,
                    argument_bytes,
                }
            })
            .collect();
        let abandon_after = rng
            .random_bool(config.session_abandon_ratio)
            .then(|| calls.len().div_ceil(2));
        sessions.push_back(SessionPlan {
            calls,
            abandon_after,
        });
    }
    sessions
}
