//! obsim's fault vocabulary: what can go wrong, when, and where, as plain data.
//!
//! This crate knows nothing about madsim, tracing or metrics. It holds
//! - [`Fault`]: one fault a scenario asks for (an [`Effect`] plus its node,
//!   dependency, operation, probability and window), and its [`FaultKind`];
//! - [`FaultPlan`]: the faults of one run, validated against the [`Topology`];
//! - [`Injector`]: the seeded decisions, one ChaCha stream per component, so an
//!   extra I/O call in one component never shifts the fault decisions of another;
//! - [`swarm`]: a seed's own draw from the whole catalogue (swarm testing);
//! - [`FaultLog`]: what was actually injected, with simulated time and target;
//! - [`Trigger`]: the events on a node that can set a crash off instead of a
//!   time, decided by [`NodeTriggers`].
//!
//! The harness honours each fault at the component boundary where it happens in
//! real life (storage, node lifecycle, request handler, network, the calls to
//! an external dependency).

mod fault;
mod hit;
mod injector;
mod log;
mod plan;
pub mod swarm;

pub use fault::{Effect, Fault, FaultKind, Partition, Transport, Trigger};
pub use hit::{Fired, Hit};
pub use injector::{
    component_stream, DependencyDecision, DependencyFaults, HandlerPanics, Injector, NetworkFaults,
    NodeTriggers, SendDecision, StorageDecision, StorageFaults, TornCrash, TriggeredCrash,
};
pub use log::{FaultEvent, FaultLog, ScheduleOverflow};
pub use plan::{
    FaultPlan, InFlightCrash, Lifecycle, LifecycleEvent, PartitionWindow, PlanError,
    SocketCondition, SocketWindow, Topology, WINDOW_MIN,
};
