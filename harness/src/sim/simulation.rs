//! One seed, one fresh madsim runtime: boot the cluster, drive the workload
//! under the fault schedule, drain, and hand back what was captured.

use std::cell::Cell;
use std::fmt;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Handle;
use madsim::task::NodeId;
use obsim_faults::component_stream;

use super::boot::{boot_client, boot_scraper, boot_server, drive_client};
use super::builder::Builder;
use super::capture::{service_pipeline, Capture, Keep};
use super::lifecycle::{supervise, Supervisor};
use super::limits::{Crossed, Limits};
use super::system::System;
use super::teardown::{release_tasks, stop_at_bound, StopOnDrop};
use super::watchdog::Watchdog;
use super::world::{server_ip, World};
use crate::run::{
    server_name, Config, ConfigError, Contract, FinalSource, IncarnationRecord, Run, Scrape,
    SpanDigest, SpanRecord,
};
use obsim_scenario::Expectation;

/// The port every server's system serves on.
pub const APP_PORT: u16 = 7000;

type Factory = Arc<dyn Fn() -> Arc<dyn System> + Send + Sync>;

/// A configured simulation. Each [`Sim::run`] builds a fresh system from the
/// factory and a fresh runtime from the seed, so runs share nothing.
#[derive(Clone)]
pub struct Sim {
    config: Config,
    factory: Factory,
    /// The system's telemetry contract, read once when the sim is built.
    contract: Arc<Contract>,
    /// The contract's accuracy rules, parsed.
    rules: Arc<Vec<Expectation>>,
}

/// Why a run did not complete.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    /// The run was still going when the simulated time limit passed.
    TimeLimit {
        limit: Duration,
        phase: &'static str,
    },
    /// The run crossed one of its bounds (messages, spans, scrapes) and was
    /// stopped the moment it did.
    Bound(Crossed),
    /// Something in the simulation panicked.
    Panicked { message: String },
    /// The seed's fault plan (a swarm draw) is not valid: an obsim bug.
    InvalidPlan { message: String },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::TimeLimit { limit, phase } => write!(
                f,
                "the run exceeded its simulated time limit of {limit:?} during the {phase} phase"
            ),
            RunError::Bound(crossed) => write!(f, "{crossed}"),
            RunError::Panicked { message } => write!(f, "the simulation panicked: {message}"),
            RunError::InvalidPlan { message } => {
                write!(f, "the seed's fault plan is not valid: {message}")
            }
        }
    }
}

impl std::error::Error for RunError {}

impl RunError {
    /// The simulated time the run had reached when it stopped, when known:
    /// a time limit is reached at the limit, a bound where it was crossed.
    pub fn stopped_at(&self) -> Option<Duration> {
        match self {
            RunError::TimeLimit { limit, .. } => Some(*limit),
            RunError::Bound(crossed) => Some(crossed.at),
            RunError::Panicked { .. } | RunError::InvalidPlan { .. } => None,
        }
    }
}

impl Builder {
    /// Validates the settings and pairs them with the system factory, called
    /// once per run.
    pub fn build<S, F>(self, factory: F) -> Result<Sim, ConfigError>
    where
        S: System,
        F: Fn() -> S + Send + Sync + 'static,
    {
        let contract = factory().contract();
        let rules = contract.rules()?;
        let shipped = contract.alert_rule_files()?;
        let mut config = self.config()?;
        // The system's own rules first: they are evaluated first at each
        // instant, as they would be listed first in Prometheus's config.
        let scenario_files = std::mem::take(&mut config.alerts.rule_files);
        config.alerts.rule_files = shipped.into_iter().chain(scenario_files).collect();
        config.alerts.check_group_names()?;
        // The system's own dashboards first, as its own rules.
        let scenario_dashboards = std::mem::take(&mut config.dashboards);
        config.dashboards = contract
            .dashboard_files()?
            .into_iter()
            .chain(scenario_dashboards)
            .collect();
        check_dashboard_titles(&config.dashboards)?;
        config
            .alerts
            .check_panel_claims(&config.checks, &config.dashboards)?;
        config
            .alerts
            .check_expectations(&config.checks, config.faults.faults())?;
        contract.check_servers(config.servers)?;
        contract.check_operations(&config.workload)?;
        contract.check_dependency_faults(config.faults.faults())?;
        contract.check_logs()?;
        Ok(Sim {
            config,
            factory: Arc::new(move || Arc::new(factory()) as Arc<dyn System>),
            contract: Arc::new(contract),
            rules: Arc::new(rules),
        })
    }
}

/// Ok unless two dashboards share a title: a title names a dashboard in
/// failures and its artifacts folder.
fn check_dashboard_titles(dashboards: &[obsim_rules::Dashboard]) -> Result<(), ConfigError> {
    let mut seen: std::collections::BTreeMap<&str, &str> = Default::default();
    for dashboard in dashboards {
        if let Some(other) = seen.insert(&dashboard.title, &dashboard.path) {
            return Err(ConfigError {
                field: format!("dashboard {:?}", dashboard.path),
                problem: format!(
                    "its title {:?} is also the title of {other:?}: give each dashboard a title \
                     of its own",
                    dashboard.title
                ),
            });
        }
    }
    Ok(())
}

impl Sim {
    pub fn builder(scenario: &str) -> Builder {
        Builder::new(scenario)
    }

    /// This sim, with the same system and contract, run by `config`.
    pub(crate) fn with_config(&self, config: Config) -> Sim {
        Sim {
            config,
            ..self.clone()
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The contract's accuracy rules, parsed.
    pub(crate) fn rules(&self) -> &[Expectation] {
        &self.rules
    }

    /// Runs one seed to completion on a fresh runtime.
    pub fn run(&self, seed: u64) -> Result<Run, RunError> {
        self.run_capturing(seed, Capturing::Checked)
    }

    /// [`Sim::run`], keeping [`Run::otel_spans`] too: what an artifacts
    /// folder's OTLP file ([`crate::write_failure`]) is written from. A
    /// checked run leaves them out, to halve what each span costs in memory.
    pub fn run_with_otel(&self, seed: u64) -> Result<Run, RunError> {
        self.run_capturing(seed, Capturing::WithOtel)
    }

    /// For measurement only: simulates `seed` as [`Sim::run`] does, with the
    /// same system, workload and faults, but captures no span and scrapes
    /// nothing, and returns only the simulated time the run took. What this
    /// costs beside [`Sim::run`] is what capture costs (`obsim bench`).
    /// Nothing it does can be checked.
    pub fn run_bare(&self, seed: u64) -> Result<Duration, RunError> {
        self.simulate_seed(seed, Capturing::Bare)
            .map(|simulated| simulated.ended_at)
    }

    /// For measurement only: [`Sim::run_bare`] with the service's own
    /// tracing pipeline on, as it runs in production (the
    /// `tracing-opentelemetry` layer and the SDK, with an exporter that drops
    /// each span), but nothing of obsim's: no span capture, no scrapes. What
    /// [`Sim::run`] costs beside this is obsim's own share (`obsim bench`'s
    /// "service pipeline" baseline).
    pub fn run_pipeline(&self, seed: u64) -> Result<Duration, RunError> {
        self.simulate_seed(seed, Capturing::Pipeline)
            .map(|simulated| simulated.ended_at)
    }

    /// [`Sim::run`] again for the determinism check: the run without its
    /// spans (`spans` is empty), and the digest of the spans it folded as
    /// they ended. The first run of the seed is held meanwhile; keeping the
    /// second's spans too would double the seed's peak memory.
    pub(crate) fn run_for_determinism(&self, seed: u64) -> Result<(Run, SpanDigest), RunError> {
        let (run, digest) = self.run_keeping(seed, Capturing::Digest)?;
        Ok((run, digest.expect("a digest run folds its spans")))
    }

    fn run_capturing(&self, seed: u64, capturing: Capturing) -> Result<Run, RunError> {
        self.run_keeping(seed, capturing).map(|(run, _)| run)
    }

    fn run_keeping(
        &self,
        seed: u64,
        capturing: Capturing,
    ) -> Result<(Run, Option<SpanDigest>), RunError> {
        let Simulated {
            world,
            ended_at,
            mut spans,
            otel_spans,
            logs,
            otel_logs,
            lifecycle,
            span_digest,
        } = self.simulate_seed(seed, capturing)?;
        // Records grow by doubling; the slack would be held as long as the
        // run, while the seed's second run is simulated.
        spans.shrink_to_fit();
        let scrapes = shrunk(world.take_scrapes());
        let routed = self.contract.metrics_route.is_some();
        let incarnations = incarnation_records(&world, &scrapes, routed);
        let run = Run {
            scenario: self.config.scenario.clone(),
            seed,
            ended_at,
            spans,
            otel_spans,
            logs,
            otel_logs,
            secrets_asked: world.secrets_asked(),
            lifecycle,
            scrapes,
            faults: world.faults.events(),
            faults_dropped: world.faults.dropped(),
            fault_counts: world.faults.counts_by_kind(),
            fired_by_entry: world.faults.counts_by_entry(),
            incarnations,
            outcomes: world.outcomes(),
            amounts: world.amounts(),
            messages: world.messages(),
            storage_ops: shrunk(world.ledger.take_storage_ops()),
            recovered: world.ledger.recovered(),
            calls: shrunk(world.ledger.take_calls()),
            requests: shrunk(world.ledger.take_requests()),
            dependency_calls: shrunk(world.ledger.take_dependency_calls()),
            fault_schedule: world.faults.fixed_schedule(world.plan.faults()),
            plan: world.plan.faults().to_vec(),
            fixed_faults: self.config.faults.faults().len(),
        };
        Ok((run, span_digest))
    }

    /// One seed on a fresh runtime, with what `capturing` asks for captured.
    fn simulate_seed(&self, seed: u64, capturing: Capturing) -> Result<Simulated, RunError> {
        let plan = self
            .config
            .plan_for(seed)
            .map_err(|error| RunError::InvalidPlan {
                message: error.to_string(),
            })?;
        let config = &self.config;
        let (limits, crossed) = Limits::new(
            config.message_limit,
            config.span_limit,
            config.scrape_limit,
            config.log_limit,
            config.wall_limit,
        );
        let mut crossed = Some(crossed);
        let limits = Arc::new(limits);
        let _watchdog = Watchdog::start(limits.clone(), config.wall_limit).map_err(|error| {
            RunError::Panicked {
                message: format!("obsim could not start the run's wall-time watchdog: {error}"),
            }
        })?;
        let world = World::new(seed, config, plan, limits.clone());
        let keep = match capturing {
            Capturing::WithOtel => Keep::RecordsAndOtel,
            Capturing::Digest => Keep::Digest,
            Capturing::Checked | Capturing::Bare | Capturing::Pipeline => Keep::Records,
        };
        let log_filter = self
            .contract
            .log_targets()
            .expect("the log filter was checked when the simulation was built");
        world.set_secrets(&self.contract.logs.secrets);
        let (capture, subscriber) = Capture::new(
            keep,
            &self.config.scenario,
            component_stream(seed, "otel-ids"),
            (self.contract.logs.format.clone(), log_filter.clone()),
            world.node_names.clone(),
            world.clock.clone(),
            world.ledger.clone(),
            limits,
        );
        // Bare: no subscriber at all, so the system's spans cost what they
        // cost with tracing off. Still a default for this thread only.
        let mut _pipeline = None;
        let _subscriber = match capturing {
            Capturing::Bare => {
                tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default())
            }
            Capturing::Pipeline => {
                let (provider, pipeline) = service_pipeline(
                    &self.config.scenario,
                    component_stream(seed, "otel-ids"),
                    (self.contract.logs.format.clone(), log_filter),
                );
                _pipeline = Some(provider);
                tracing::subscriber::set_default(pipeline)
            }
            _ => tracing::subscriber::set_default(subscriber),
        };
        let runtime =
            madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        let system = (self.factory)();
        let scrape = !matches!(capturing, Capturing::Bare | Capturing::Pipeline);
        let mut outcome = None;
        let scope = system.clone();
        scope.run_scope(&mut || {
            outcome = Some(std::panic::catch_unwind(AssertUnwindSafe(|| {
                let route = self.contract.metrics_route.clone();
                let run = simulate(
                    world.clone(),
                    self.config.clone(),
                    system.clone(),
                    scrape,
                    route,
                );
                // run_scope calls this once; a second call finds no signal
                // and runs unbounded by it (the bounds still refuse more).
                match crossed.take() {
                    Some(crossed) => runtime.block_on(stop_at_bound(run, crossed, &world)),
                    None => runtime.block_on(run),
                }
            })));
        });
        // A scope that never ran the simulation is the system's bug; say so
        // as a failed run rather than report an empty one.
        let outcome = outcome.unwrap_or_else(|| {
            Err(
                Box::new("the system's run_scope did not call run: nothing was simulated")
                    as Box<dyn std::any::Any + Send>,
            )
        });
        // Read everything before the runtime drops: dropping it drops every
        // task still alive, closing their spans, and that teardown is not
        // part of the run.
        let (spans, otel_spans, span_digest) = capture.finish();
        let (logs, otel_logs) = capture.logs();
        let lifecycle = capture.lifecycle();
        release_tasks(&runtime, &world);
        drop(runtime);
        let ended_at = match outcome {
            Ok(Ok(ended_at)) => ended_at,
            Ok(Err(error)) => return Err(error),
            Err(panic) => {
                return Err(RunError::Panicked {
                    message: panic_message(&*panic),
                })
            }
        };
        // A bound crossed in the run's last poll, after the body finished.
        if let Some(crossed) = world.limits.crossed() {
            return Err(RunError::Bound(crossed));
        }
        Ok(Simulated {
            world,
            ended_at,
            spans,
            otel_spans,
            logs,
            otel_logs,
            lifecycle,
            span_digest,
        })
    }
}

/// What a run captures besides the ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Capturing {
    /// Spans as records, and every scrape: what the checks read.
    Checked,
    /// As `Checked`, and each span's SDK data for an OTLP file.
    WithOtel,
    /// As `Checked`, but spans folded into a digest, not kept.
    Digest,
    /// No span and no scrape: the bare simulation, for measurement.
    Bare,
    /// No scrape, and spans through the service's own pipeline into an
    /// exporter that drops them: the baseline obsim's share is priced over.
    Pipeline,
}

/// A simulated seed, before it becomes a [`Run`].
struct Simulated {
    world: Arc<World>,
    ended_at: Duration,
    spans: Vec<SpanRecord>,
    otel_spans: Vec<opentelemetry_sdk::trace::SpanData>,
    logs: Vec<crate::run::LogRecord>,
    otel_logs: Vec<crate::run::OtelLog>,
    lifecycle: crate::run::SpanLifecycle,
    span_digest: Option<SpanDigest>,
}

/// `records` without the slack their growth left.
fn shrunk<T>(mut records: Vec<T>) -> Vec<T> {
    records.shrink_to_fit();
    records
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".into()
    }
}

/// Every server incarnation's final values, then the client's. With a
/// metrics route (`routed`), a server that gave no in-process handle has
/// its last answered scrape as its final values, and says so.
fn incarnation_records(world: &World, scrapes: &[Scrape], routed: bool) -> Vec<IncarnationRecord> {
    let mut records: Vec<IncarnationRecord> = world
        .incarnations()
        .into_iter()
        .map(|incarnation| {
            let name = server_name(incarnation.node);
            if routed && !incarnation.metrics.installed() {
                return last_scrape_final(
                    &name,
                    incarnation.number,
                    incarnation.started_at,
                    incarnation.ended_at,
                    scrapes,
                );
            }
            let (last, probes) = match (&incarnation.final_render, &incarnation.final_probes) {
                (Some(render), Some(probes)) => (render.clone(), probes.clone()),
                _ => incarnation.metrics.render_with_probes(),
            };
            // A live incarnation's final is read now, with its disk as it is.
            let stored_keys = incarnation
                .final_stored_keys
                .unwrap_or_else(|| world.storages[incarnation.node].len());
            IncarnationRecord {
                node: server_name(incarnation.node),
                number: incarnation.number,
                started_at: incarnation.started_at,
                ended_at: incarnation.ended_at,
                final_exposition: last.body,
                final_content_type: last.content_type,
                stored_keys: Some(stored_keys),
                probes,
                final_source: FinalSource::InProcess,
                parsed: Default::default(),
            }
        })
        .collect();
    let last = world.client_metrics.render();
    records.push(IncarnationRecord {
        node: "client".into(),
        number: 0,
        started_at: Duration::ZERO,
        ended_at: None,
        final_exposition: last.body,
        final_content_type: last.content_type,
        stored_keys: None,
        probes: Default::default(),
        final_source: FinalSource::InProcess,
        parsed: Default::default(),
    });
    records
}

/// The final values of an incarnation with no in-process handle: its last
/// answered scrape, rendered somewhere between that scrape's start and end.
fn last_scrape_final(
    node: &str,
    number: u32,
    started_at: Duration,
    ended_at: Option<Duration>,
    scrapes: &[Scrape],
) -> IncarnationRecord {
    let last = scrapes
        .iter()
        .rev()
        .find(|scrape| scrape.up && scrape.node == node && scrape.incarnation == Some(number));
    let (final_exposition, final_content_type, final_source) = match last {
        Some(scrape) => (
            scrape.body.clone(),
            scrape.content_type.clone(),
            FinalSource::LastScrape {
                at: scrape.at,
                ended_at: scrape.ended_at,
            },
        ),
        None => (String::new(), String::new(), FinalSource::NoScrape),
    };
    IncarnationRecord {
        node: node.to_string(),
        number,
        started_at,
        ended_at,
        final_exposition,
        final_content_type,
        stored_keys: None,
        probes: Default::default(),
        final_source,
        parsed: Default::default(),
    }
}

/// The run itself, inside the simulation. Returns when it ended.
async fn simulate(
    world: Arc<World>,
    config: Config,
    system: Arc<dyn System>,
    scrape: bool,
    route: Option<crate::run::MetricsRoute>,
) -> Result<Duration, RunError> {
    world.clock.start();
    let handle = Handle::current();
    let servers: Vec<SocketAddr> = (0..config.servers)
        .map(|index| SocketAddr::new(server_ip(index), APP_PORT))
        .collect();
    let server_nodes: Vec<NodeId> = (0..config.servers)
        .map(|index| boot_server(&handle, &world, &system, index, &servers).id())
        .collect();
    if scrape {
        boot_scraper(&handle, &world, &config, &servers, route.as_ref());
    }
    let client = boot_client(&handle, &world);

    let phase = Cell::new("workload");
    let body = async {
        let supervisor = Supervisor::new(handle.clone(), world.clone(), server_nodes);
        // However the body ends (done, timed out, stopped at a bound).
        let _stop = StopOnDrop(supervisor.clone());
        let schedule = madsim::task::spawn_local(supervise(supervisor.clone()));
        let drive = client.spawn(drive_client(
            world.clone(),
            system.clone(),
            config.clone(),
            servers,
        ));
        let _ = drive.await;
        phase.set("fault schedule");
        let _ = schedule.await;
        supervisor.restarts_done().await;
        phase.set("duration");
        madsim::time::sleep(config.duration.saturating_sub(world.clock.elapsed())).await;
        phase.set("drain");
        madsim::time::sleep(config.drain).await;
        world.clock.elapsed()
    };
    madsim::time::timeout(config.time_limit, body)
        .await
        .map_err(|_| RunError::TimeLimit {
            limit: config.time_limit,
            phase: phase.get(),
        })
}
