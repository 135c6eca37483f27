//! The size of a run that shrinking cuts besides its faults, and the next
//! smaller sizes to try.

use std::time::Duration;

use crate::run::Config;

/// The size of a run that shrinking cuts besides its faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkShape {
    pub servers: usize,
    pub invocations: u64,
    pub concurrency: usize,
    /// The run's duration (`run.duration`), before its drain.
    pub duration: Duration,
    /// The workload's operations and their weights (`[workload]
    /// operations`): shrinking drops one at a time.
    pub operations: Vec<(String, u32)>,
}

impl ShrinkShape {
    pub(super) fn of(config: &Config) -> ShrinkShape {
        ShrinkShape {
            servers: config.servers,
            invocations: config.workload.invocations,
            concurrency: config.workload.concurrency,
            duration: config.duration,
            operations: config.workload.operations.clone(),
        }
    }

    /// The next smaller shapes to try, one dimension at a time: half the
    /// invocations, half the concurrency, half the duration, one server
    /// fewer, one operation fewer (each in turn). A dimension already at
    /// its least is not tried.
    pub(super) fn smaller(&self, scrape_interval: Duration) -> Vec<ShrinkShape> {
        let mut next = Vec::new();
        if self.invocations > 1 {
            let invocations = self.invocations / 2;
            let concurrency = self.concurrency.min(invocations as usize).max(1);
            next.push(ShrinkShape {
                invocations,
                concurrency,
                ..self.clone()
            });
        }
        if self.concurrency > 1 {
            next.push(ShrinkShape {
                concurrency: self.concurrency / 2,
                ..self.clone()
            });
        }
        // A run shorter than two scrapes has too little telemetry to check.
        if self.duration / 2 >= 2 * scrape_interval {
            next.push(ShrinkShape {
                duration: self.duration / 2,
                ..self.clone()
            });
        }
        if self.servers > 1 {
            next.push(ShrinkShape {
                servers: self.servers - 1,
                ..self.clone()
            });
        }
        if self.operations.len() > 1 {
            for dropped in 0..self.operations.len() {
                let mut operations = self.operations.clone();
                operations.remove(dropped);
                next.push(ShrinkShape {
                    operations,
                    ..self.clone()
                });
            }
        }
        next
    }
}
