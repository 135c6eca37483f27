use std::fmt;
use std::time::Duration;

use crate::Fault;

/// The faults of one run. Build it with [`FaultPlan::new`], which validates
/// every fault against the topology and the run's time limit, so a plan that
/// exists is a plan the harness can honour.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    faults: Vec<Fault>,
}

/// A node crash as the lifecycle supervisor schedules it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashSchedule {
    pub node: usize,
    pub at: Duration,
    pub restart_after: Option<Duration>,
}

/// Why a fault cannot be honoured. `index` is the fault's position in the plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanError {
    pub index: usize,
    pub field: &'static str,
    pub problem: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fault #{} field `{}`: {}",
            self.index, self.field, self.problem
        )
    }
}

impl std::error::Error for PlanError {}

impl FaultPlan {
    /// Validates `faults` for a run of `servers` nodes bounded by `time_limit`.
    pub fn new(
        faults: Vec<Fault>,
        servers: usize,
        time_limit: Duration,
    ) -> Result<Self, PlanError> {
        for (index, fault) in faults.iter().enumerate() {
            validate(fault, servers, time_limit).map_err(|(field, problem)| PlanError {
                index,
                field,
                problem,
            })?;
        }
        Ok(FaultPlan { faults })
    }

    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Node crashes in the order they happen; ties keep plan order.
    pub fn crashes(&self) -> Vec<CrashSchedule> {
        let mut crashes: Vec<CrashSchedule> = self
            .faults
            .iter()
            .filter_map(|fault| match *fault {
                Fault::NodeCrash {
                    node,
                    at,
                    restart_after,
                } => Some(CrashSchedule {
                    node,
                    at,
                    restart_after,
                }),
                _ => None,
            })
            .collect();
        crashes.sort_by_key(|crash| crash.at);
        crashes
    }
}

type FieldProblem = (&'static str, String);

fn validate(fault: &Fault, servers: usize, time_limit: Duration) -> Result<(), FieldProblem> {
    if let Some(node) = fault.node() {
        if node >= servers {
            return Err((
                "node",
                format!("node index {node} is past the topology: expected 0..{servers}"),
            ));
        }
    }
    match *fault {
        Fault::StorageWriteFailure { probability, .. } => check_probability(probability),
        Fault::NetworkDelay {
            probability,
            min,
            max,
            ..
        } => {
            check_probability(probability)?;
            if min > max {
                return Err(("min", format!("{min:?} is above max {max:?}")));
            }
            if max.is_zero() {
                return Err(("max", "a delay of zero delays nothing: expected > 0".into()));
            }
            Ok(())
        }
        Fault::NodeCrash {
            at, restart_after, ..
        } => {
            if at >= time_limit {
                return Err((
                    "at",
                    format!("crash at {at:?} is at or after the run's time limit {time_limit:?}"),
                ));
            }
            if restart_after.is_some_and(|delay| delay.is_zero()) {
                return Err(("restart_after", "expected a delay > 0".into()));
            }
            Ok(())
        }
    }
}

fn check_probability(probability: f64) -> Result<(), FieldProblem> {
    // `contains` is false for NaN, so NaN is rejected too.
    if (0.0..=1.0).contains(&probability) {
        Ok(())
    } else {
        Err((
            "probability",
            format!("{probability} is not a probability: expected a number in [0, 1]"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);

    #[test]
    fn crash_past_the_topology_is_rejected_with_the_field() {
        let faults = vec![Fault::NodeCrash {
            node: 3,
            at: Duration::from_secs(1),
            restart_after: None,
        }];
        let error = FaultPlan::new(faults, 3, LIMIT).unwrap_err();
        assert_eq!(error.field, "node");
        assert!(error.to_string().contains("expected 0..3"), "{error}");
    }

    #[test]
    fn probability_outside_unit_interval_is_rejected() {
        for probability in [-0.1, 1.5, f64::NAN] {
            let faults = vec![Fault::StorageWriteFailure {
                node: None,
                probability,
            }];
            let error = FaultPlan::new(faults, 1, LIMIT).unwrap_err();
            assert_eq!(error.field, "probability");
        }
        let ok = vec![Fault::StorageWriteFailure {
            node: None,
            probability: 1.0,
        }];
        assert!(FaultPlan::new(ok, 1, LIMIT).is_ok());
    }

    #[test]
    fn crash_after_the_time_limit_is_rejected() {
        let faults = vec![Fault::NodeCrash {
            node: 0,
            at: LIMIT,
            restart_after: None,
        }];
        assert_eq!(FaultPlan::new(faults, 1, LIMIT).unwrap_err().field, "at");
    }

    #[test]
    fn crashes_come_out_in_time_order() {
        let crash = |node, secs| Fault::NodeCrash {
            node,
            at: Duration::from_secs(secs),
            restart_after: None,
        };
        let plan = FaultPlan::new(vec![crash(1, 9), crash(0, 2)], 2, LIMIT).unwrap();
        let order: Vec<usize> = plan.crashes().iter().map(|c| c.node).collect();
        assert_eq!(order, vec![0, 1]);
    }
}
