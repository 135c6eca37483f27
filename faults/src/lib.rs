//! obsim's fault vocabulary: what can go wrong, when, and where, as plain data.
//!
//! This crate knows nothing about madsim, tracing or metrics. It holds
//! - [`Fault`]: one fault a scenario asks for, and its [`FaultKind`];
//! - [`FaultPlan`]: the faults of one run, validated against the topology;
//! - [`Injector`]: the seeded decisions, one ChaCha stream per component, so an
//!   extra I/O call in one component never shifts the fault decisions of another;
//! - [`FaultLog`]: what was actually injected, with simulated time and target.
//!
//! The harness honours each fault at the component boundary where it happens in
//! real life (storage, node lifecycle, network).

mod fault;
mod injector;
mod log;
mod plan;

pub use fault::{Fault, FaultKind};
pub use injector::{component_stream, Injector, NetworkFaults, StorageFaults};
pub use log::{FaultEvent, FaultLog};
pub use plan::{CrashSchedule, FaultPlan, PlanError};
