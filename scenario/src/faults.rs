//! `[[faults]]` entries into [`Fault`]s: the file's shape is checked here
//! (kind, which fields apply to it, what it needs), and everything that
//! depends on the topology and the run is left to [`FaultPlan::new`], whose
//! error is mapped back to the entry's field.

use std::ops::Range;
use std::time::Duration;

use obsim_faults::{
    Effect, Fault, FaultKind, FaultPlan, Partition, PlanError, Topology, Transport, Trigger,
};
use toml::Spanned;

use crate::error::{Reporter, ScenarioError};
use crate::raw::{duration_of, Dur, Names, RawFault};

type Built<T> = Result<T, ScenarioError>;

/// Builds and validates the faults; `entries` are the file's `[[faults]]`.
pub(crate) fn build(
    entries: &[Spanned<RawFault>],
    topology: &Topology,
    report: &Reporter<'_>,
) -> Built<Vec<Fault>> {
    let faults = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            Entry {
                index,
                raw: entry.get_ref(),
                report,
            }
            .fault()
        })
        .collect::<Built<Vec<Fault>>>()?;
    match FaultPlan::new(faults.clone(), topology) {
        Ok(_) => Ok(faults),
        Err(error) => Err(plan_error(entries, &error, report)),
    }
}

/// Points a plan error at the field it names, or at the entry's `kind` when
/// the field is not in the file (a required field that is missing).
fn plan_error(
    entries: &[Spanned<RawFault>],
    error: &PlanError,
    report: &Reporter<'_>,
) -> ScenarioError {
    let field = format!("faults[{}].{}", error.index, error.field);
    match entries.get(error.index) {
        Some(entry) => {
            let raw = entry.get_ref();
            let span = span_of(raw, error.field, &error.problem).unwrap_or_else(|| raw.kind.span());
            report.span(&span, field, error.problem.clone())
        }
        None => report.at(0, field, error.problem.clone()),
    }
}

/// Where a field the plan names is written; `latency` stands for both ends.
/// For a partition side, the element the problem quotes, if any.
fn span_of(raw: &RawFault, field: &str, problem: &str) -> Option<Range<usize>> {
    match field {
        "node" => span(&raw.node),
        "dependency" => span(&raw.dependency),
        "operation" => span(&raw.operation),
        "probability" => span(&raw.probability),
        "at" => span(&raw.at),
        "for" => span(&raw.length),
        "min" => span(&raw.min).or_else(|| span(&raw.latency)),
        "max" => span(&raw.max).or_else(|| span(&raw.latency)),
        "restart_after" => span(&raw.restart_after),
        "transport" => span(&raw.transport),
        "endpoint" => span(&raw.endpoint),
        "nth" => span(&raw.nth),
        "on" => span(&raw.on),
        "from" => side_span(&raw.from, problem),
        "to" => side_span(&raw.to, problem),
        _ => None,
    }
}

fn side_span(side: &Names, problem: &str) -> Option<Range<usize>> {
    let side = side.as_ref()?;
    let quoted = side
        .get_ref()
        .iter()
        .find(|name| problem.contains(&format!("{:?}", name.get_ref())));
    Some(quoted.map_or_else(|| side.span(), Spanned::span))
}

fn span<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
    value.as_ref().map(Spanned::span)
}

/// `a`, `a and b`, `a, b and c`: a list in a sentence.
fn and_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// One entry being converted, with what its errors need.
struct Entry<'a> {
    index: usize,
    raw: &'a RawFault,
    report: &'a Reporter<'a>,
}

impl Entry<'_> {
    fn field(&self, name: &str) -> String {
        format!("faults[{}].{name}", self.index)
    }

    /// An error at the entry's `kind`: for something missing from it.
    fn missing(&self, name: &str, message: String) -> ScenarioError {
        self.report.value(&self.raw.kind, self.field(name), message)
    }

    fn fault(&self) -> Built<Fault> {
        let kind = self.kind()?;
        self.check_specific_fields(kind)?;
        let effect = self.effect(kind)?;
        let node = match &self.raw.node {
            None => None,
            Some(node) => Some(usize::try_from(*node.get_ref()).map_err(|_| {
                self.report
                    .value(node, self.field("node"), "expected a server index >= 0")
            })?),
        };
        let trigger = self.trigger()?;
        if kind == FaultKind::NodeCrash && self.raw.at.is_none() && trigger.is_none() {
            let message = "node_crash needs `at` (when the node crashes, e.g. at = \"2s\") or \
                           `on` (the event that crashes it, e.g. on = \"accept\")";
            return Err(self.missing("at", message.into()));
        }
        Ok(Fault {
            effect,
            node,
            dependency: self
                .raw
                .dependency
                .as_ref()
                .map(|dependency| dependency.get_ref().clone()),
            operation: self
                .raw
                .operation
                .as_ref()
                .map(|operation| operation.get_ref().clone()),
            probability: self
                .raw
                .probability
                .as_ref()
                .map(|probability| probability.get_ref().0),
            at: duration_of(&self.raw.at).unwrap_or(Duration::ZERO),
            duration: duration_of(&self.raw.length),
            transport: self.transport()?,
            endpoint: self
                .raw
                .endpoint
                .as_ref()
                .map(|endpoint| endpoint.get_ref().clone()),
            nth: self.nth()?,
            trigger,
        })
    }

    /// `on`, when given: whether it applies to the kind is the plan's call.
    fn trigger(&self) -> Built<Option<Trigger>> {
        let Some(on) = &self.raw.on else {
            return Ok(None);
        };
        on.get_ref()
            .parse()
            .map(Some)
            .map_err(|problem| self.report.value(on, self.field("on"), problem))
    }

    /// `nth`, when given: 0 is left to the plan, which says why it is wrong.
    fn nth(&self) -> Built<Option<u64>> {
        let Some(nth) = &self.raw.nth else {
            return Ok(None);
        };
        u64::try_from(*nth.get_ref()).map(Some).map_err(|_| {
            let message = "expected the opportunity's place from `at`: an integer >= 1";
            self.report.value(nth, self.field("nth"), message)
        })
    }

    fn transport(&self) -> Built<Transport> {
        let Some(transport) = &self.raw.transport else {
            return Ok(Transport::Messages);
        };
        transport.get_ref().parse().map_err(|problem| {
            self.report
                .value(transport, self.field("transport"), problem)
        })
    }

    fn kind(&self) -> Built<FaultKind> {
        let kind = &self.raw.kind;
        let requestable = || FaultKind::requestable_names().join(", ");
        match kind.get_ref().parse::<FaultKind>() {
            Ok(parsed) if parsed.requestable() => Ok(parsed),
            Ok(parsed) => Err(self.report.value(
                kind,
                self.field("kind"),
                format!(
                    "{parsed} is only logged, as the end of another fault: expected one of {}",
                    requestable()
                ),
            )),
            Err(problem) => Err(self.report.value(kind, self.field("kind"), problem)),
        }
    }

    /// Rejects a kind-specific field given to a kind it does not apply to.
    fn check_specific_fields(&self, kind: FaultKind) -> Built<()> {
        use FaultKind::{
            CrashDuringTransaction, DependencyFailure, DependencyLatency, NetworkDelay,
            NetworkPartition, NodeCrash, StorageLatency,
        };
        let raw = self.raw;
        let latency: &[FaultKind] = &[StorageLatency, NetworkDelay, DependencyLatency];
        let crash: &[FaultKind] = &[NodeCrash, CrashDuringTransaction];
        let partition: &[FaultKind] = &[NetworkPartition];
        let dependency: &[FaultKind] = &[DependencyFailure, DependencyLatency];
        let fields = [
            ("dependency", span(&raw.dependency), dependency),
            ("min", span(&raw.min), latency),
            ("max", span(&raw.max), latency),
            ("latency", span(&raw.latency), latency),
            ("restart_after", span(&raw.restart_after), crash),
            ("from", span(&raw.from), partition),
            ("to", span(&raw.to), partition),
            ("one_way", span(&raw.one_way), partition),
        ];
        for (name, span, applies_to) in fields {
            let Some(span) = span else { continue };
            if !applies_to.contains(&kind) {
                let kinds: Vec<&str> = applies_to.iter().map(|kind| kind.as_str()).collect();
                let message = format!(
                    "`{name}` does not apply to {kind}: only to {}",
                    and_list(&kinds)
                );
                return Err(self.report.span(&span, self.field(name), message));
            }
        }
        Ok(())
    }

    fn effect(&self, kind: FaultKind) -> Built<Effect> {
        let restart_after = duration_of(&self.raw.restart_after);
        Ok(match kind {
            FaultKind::StorageWriteFailure => Effect::StorageWriteFailure,
            FaultKind::StorageReadFailure => Effect::StorageReadFailure,
            FaultKind::DiskFull => Effect::DiskFull,
            FaultKind::HandlerPanic => Effect::HandlerPanic,
            FaultKind::PacketLoss => Effect::PacketLoss,
            FaultKind::MessageDuplication => Effect::MessageDuplication,
            FaultKind::NodePause => Effect::NodePause,
            FaultKind::StorageLatency => {
                let (min, max) = self.range(kind)?;
                Effect::StorageLatency { min, max }
            }
            FaultKind::NetworkDelay => {
                let (min, max) = self.range(kind)?;
                Effect::NetworkDelay { min, max }
            }
            FaultKind::DependencyFailure => Effect::DependencyFailure,
            FaultKind::DependencyLatency => {
                let (min, max) = self.range(kind)?;
                Effect::DependencyLatency { min, max }
            }
            FaultKind::CrashDuringTransaction => Effect::CrashDuringTransaction { restart_after },
            FaultKind::NodeCrash => Effect::NodeCrash { restart_after },
            FaultKind::NetworkPartition => Effect::NetworkPartition(self.partition()?),
            // `kind()` only lets requestable kinds through.
            FaultKind::NodeRestart | FaultKind::NodeResume | FaultKind::NetworkHeal => {
                return Err(self.missing("kind", format!("{kind} cannot be requested")));
            }
        })
    }

    /// `min` and `max`, or `latency` for both.
    fn range(&self, kind: FaultKind) -> Built<(Duration, Duration)> {
        let raw = self.raw;
        match (duration_of(&raw.latency), duration_of(&raw.min), duration_of(&raw.max)) {
            (Some(latency), None, None) => Ok((latency, latency)),
            (Some(_), _, _) => {
                let extra = if raw.min.is_some() { &raw.min } else { &raw.max };
                let name = if raw.min.is_some() { "min" } else { "max" };
                let message = format!("`latency` is shorthand for min = max: give either `latency` or `min` and `max`, not `{name}` too");
                Err(self.at_duration(extra, name, message))
            }
            (None, Some(min), Some(max)) => Ok((min, max)),
            (None, Some(_), None) => Err(self.missing("max", format!("{kind} with `min` needs `max` too"))),
            (None, None, Some(_)) => Err(self.missing("min", format!("{kind} with `max` needs `min` too"))),
            (None, None, None) => Err(self.missing(
                "min",
                format!("{kind} needs `min` and `max` (a range to draw from) or `latency` (a fixed one)"),
            )),
        }
    }

    fn at_duration(&self, value: &Dur, name: &str, message: String) -> ScenarioError {
        match value {
            Some(value) => self.report.value(value, self.field(name), message),
            None => self.missing(name, message),
        }
    }

    fn partition(&self) -> Built<Partition> {
        let names = |list: &Option<Spanned<Vec<Spanned<String>>>>| {
            list.as_ref()
                .map(|list| {
                    list.get_ref()
                        .iter()
                        .map(|name| name.get_ref().clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        if self.raw.from.is_none() {
            let message = "network_partition needs `from`: the node names on one side, e.g. from = [\"server-0\"]";
            return Err(self.missing("from", message.into()));
        }
        Ok(Partition {
            from: names(&self.raw.from),
            to: names(&self.raw.to),
            one_way: self
                .raw
                .one_way
                .as_ref()
                .is_some_and(|one_way| *one_way.get_ref()),
        })
    }
}
