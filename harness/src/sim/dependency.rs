//! The fault point around any dependency a service calls that obsim does
//! not simulate itself: an object store, a model provider, a file or pipe
//! hand-off. The system wraps each call in [`Dependency::call`]; there a
//! scenario's `dependency_failure` and `dependency_latency` faults take
//! effect, and the ledger records the call with its exact times and
//! outcome, the ground truth for the system's dependency counters,
//! histograms and spans.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use obsim_faults::{DependencyFaults, FaultKind};

use super::capture::current_span;
use super::world::World;
use crate::run::{server_name, DependencyCall};

/// One dependency of one server node, by name. Cheap to clone.
#[derive(Clone)]
pub struct Dependency {
    pub(crate) node: usize,
    pub(crate) name: String,
    pub(crate) faults: Arc<Mutex<DependencyFaults>>,
    pub(crate) world: Arc<World>,
}

/// Why a dependency call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DependencyError<E> {
    /// A `dependency_failure` fault failed it at the boundary: the
    /// dependency was never called.
    Injected {
        dependency: String,
        operation: String,
    },
    /// The dependency itself returned this error.
    Failed(E),
}

impl<E: fmt::Display> fmt::Display for DependencyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DependencyError::Injected {
                dependency,
                operation,
            } => write!(f, "{dependency} {operation} failed (injected)"),
            DependencyError::Failed(error) => write!(f, "{error}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for DependencyError<E> {}

impl Dependency {
    /// The dependency's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `operation` of this dependency: `work` is the call itself (the
    /// system's client of it, or its simulation of the provider). Injected
    /// latency is waited out first; an injected failure returns
    /// [`DependencyError::Injected`] without running `work`. Call it inside
    /// the call's own span: the span must cover the call and end in error
    /// exactly when it fails.
    pub async fn call<T, E, W>(&self, operation: &str, work: W) -> Result<T, DependencyError<E>>
    where
        W: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        let started_at = self.world.clock.elapsed();
        let span = current_span();
        let decision = self
            .faults
            .lock()
            .expect("dependency faults lock")
            .decide(started_at, operation);
        let target = server_name(self.node);
        if let Some(extra) = decision.latency {
            let kind = FaultKind::DependencyLatency;
            let detail = format!("{} {operation} extra={extra:?}", self.name);
            self.world
                .log_firing(kind, &target, detail, &decision.fired.of(kind));
            madsim::time::sleep(extra).await;
        }
        let result = if decision.failure {
            let kind = FaultKind::DependencyFailure;
            let detail = format!("{} {operation}", self.name);
            self.world
                .log_firing(kind, &target, detail, &decision.fired.of(kind));
            Err(DependencyError::Injected {
                dependency: self.name.clone(),
                operation: operation.to_string(),
            })
        } else {
            work.await.map_err(DependencyError::Failed)
        };
        let node = server_name(self.node);
        self.world.ledger.record_dependency(DependencyCall {
            incarnation: self.world.ledger.incarnation_of(&node),
            node,
            dependency: self.name.clone(),
            operation: operation.to_string(),
            started_at,
            ended_at: self.world.clock.elapsed(),
            failure: result.as_ref().err().map(ToString::to_string),
            span,
        });
        result
    }
}
