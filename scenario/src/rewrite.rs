//! A scenario file rewritten with other faults, as text a person can read
//! and obsim can load: how a failing seed's fixed fault schedule, and later a
//! shrunk one, becomes an ordinary scenario file.
//!
//! The rewrite edits the original text with `toml_edit`, so everything else
//! in it (comments, `[system]`, `expect`, `[alerts]`) stays as written.

use std::path::Path;
use std::time::Duration;

use obsim_faults::{Effect, Fault};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::Scenario;

/// What a rewrite changes in a scenario file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rewrite {
    /// `name` of the new file (it names its snapshots).
    pub name: String,
    /// The one seed the new file runs (`[seeds] start`, `count = 1`, and
    /// `sweep = 1` so the sweep command runs it alone too).
    pub seed: u64,
    /// Its `[[faults]]`, in order. `swarm` is turned off; a swarm file's
    /// faults are then not held to firing (`every_fault_fires = false`), as
    /// its draws were not.
    pub faults: Vec<Fault>,
    /// `[topology] servers`, when it changes.
    pub servers: Option<usize>,
    /// `[workload] invocations`, when it changes.
    pub invocations: Option<u64>,
    /// `[workload] concurrency`, when it changes.
    pub concurrency: Option<usize>,
    /// `[run] duration`, when it changes.
    pub duration: Option<Duration>,
    /// `[workload] operations`, names and weights, when they change.
    pub operations: Option<Vec<(String, u32)>>,
}

impl Scenario {
    /// This file's text with `rewrite` applied. An `expect` claim that names
    /// a fault by index (`faults[2]`) is renumbered to where that fault is in
    /// the new list; when it is no longer there, the claim cannot be kept:
    /// it is removed, and a comment at the top of the text names it.
    pub fn rewritten(&self, rewrite: &Rewrite) -> Result<String, String> {
        let mut document: DocumentMut = self
            .source
            .parse()
            .map_err(|error| format!("{}: cannot be edited: {error}", self.path.display()))?;
        document["name"] = value(rewrite.name.as_str());
        if self.swarm.is_some() {
            // A swarm's draws are never held to firing; written down, they
            // would be, and a replay would fail where the seed passed.
            document["every_fault_fires"] = value(false);
        }
        document.remove("swarm");
        document.remove("swarm_kinds");
        let mut set = |table: &str, key: &str, new: Option<toml_edit::Value>| {
            if let Some(new) = new {
                document[table].or_insert(toml_edit::table())[key] = Item::Value(new);
            }
        };
        set(
            "topology",
            "servers",
            rewrite.servers.map(|n| (n as i64).into()),
        );
        set(
            "workload",
            "invocations",
            rewrite.invocations.map(|n| (n as i64).into()),
        );
        set(
            "workload",
            "concurrency",
            rewrite.concurrency.map(|n| (n as i64).into()),
        );
        set(
            "run",
            "duration",
            rewrite.duration.map(|d| duration_text(d).into()),
        );
        set(
            "workload",
            "operations",
            rewrite.operations.as_deref().map(operations_value),
        );
        let seeds = document["seeds"].or_insert(toml_edit::table());
        seeds["start"] = value(rewrite.seed as i64);
        seeds["count"] = value(1);
        seeds["sweep"] = value(1);
        self.anchor_rule_files(&mut document);
        let moved = fault_moves(&self.faults, &rewrite.faults);
        let mut dropped: Vec<(String, String)> = renumber_claims(&mut document, &moved)
            .into_iter()
            .map(|claim| (claim, GONE_WINDOW.to_string()))
            .collect();
        let logged = crate::vacuous::logged_kinds(&rewrite.faults, None);
        dropped.extend(drop_claims(&mut document, |claim| {
            let kind = crate::parse_expectation(claim)
                .ok()?
                .fault_kinds()
                .into_iter()
                .find(|kind| !logged.contains(kind))?;
            Some(format!(
                "no fault of the new file logs {kind}, so it would read 0 in every run."
            ))
        }));
        document.remove("faults");
        if !rewrite.faults.is_empty() {
            let mut entries = ArrayOfTables::new();
            for fault in &rewrite.faults {
                entries.push(fault_table(fault));
            }
            document.insert("faults", Item::ArrayOfTables(entries));
        }
        let mut text = String::new();
        for (claim, why) in &dropped {
            text.push_str(&format!("# Dropped from `expect`: {claim:?}: {why}\n"));
        }
        if !dropped.is_empty() {
            text.push('\n');
        }
        Ok(text + &document.to_string())
    }

    /// Makes `[alerts] rule_files` and `[dashboards] files` absolute: they
    /// are relative to this file, and the rewritten one is written
    /// elsewhere.
    fn anchor_rule_files(&self, document: &mut DocumentMut) {
        for (table, key) in [("alerts", "rule_files"), ("dashboards", "files")] {
            self.anchor_paths(document, table, key);
        }
    }

    fn anchor_paths(&self, document: &mut DocumentMut, table: &str, key: &str) {
        let base = self.path.parent().unwrap_or(Path::new(""));
        let Some(files) = document
            .get_mut(table)
            .and_then(|table| table.get_mut(key))
            .and_then(Item::as_array_mut)
        else {
            return;
        };
        for file in files.iter_mut() {
            let Some(relative) = file.as_str() else {
                continue;
            };
            let joined = base.join(relative);
            let anchored = std::path::absolute(&joined).unwrap_or(joined);
            *file = anchored.to_string_lossy().as_ref().into();
        }
    }
}

/// `{ get = 1, increment = 3 }`.
fn operations_value(operations: &[(String, u32)]) -> toml_edit::Value {
    let mut table = toml_edit::InlineTable::new();
    for (name, weight) in operations {
        table.insert(name, i64::from(*weight).into());
    }
    toml_edit::Value::InlineTable(table)
}

/// Why a claim naming `faults[I]` is dropped when that fault is gone.
const GONE_WINDOW: &str = "the fault it names is no longer in [[faults]] as written (a drawn \
                           fault became fixed events, or was removed), so its window is gone.";

/// Removes the `expect` claims for which `why` gives a reason, and returns
/// them with it.
fn drop_claims(
    document: &mut DocumentMut,
    why: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let Some(claims) = document.get_mut("expect").and_then(Item::as_array_mut) else {
        return Vec::new();
    };
    let mut dropped = Vec::new();
    let mut index = 0;
    while index < claims.len() {
        let text = claims.get(index).and_then(|claim| claim.as_str());
        match text.and_then(|text| Some((text.to_string(), why(text)?))) {
            Some(found) => {
                claims.remove(index);
                dropped.push(found);
            }
            None => index += 1,
        }
    }
    dropped
}

/// For each fault of `old`, its index in `new`, if it is there unchanged.
/// Each entry of `new` answers for one of `old` at most: how `faults[I]`
/// in a claim follows its fault from one list to the other.
pub fn fault_moves(old: &[Fault], new: &[Fault]) -> Vec<Option<usize>> {
    let mut taken = vec![false; new.len()];
    old.iter()
        .map(|fault| {
            let found = (0..new.len()).find(|&i| !taken[i] && new[i] == *fault)?;
            taken[found] = true;
            Some(found)
        })
        .collect()
}

/// Rewrites `faults[I]` in every `expect` string to its new index, and
/// removes the claims that name a fault the new list no longer has (a
/// drawn fault written down as fixed events has no window of its own any
/// more): their texts are returned, to be said in a comment.
fn renumber_claims(document: &mut DocumentMut, moved: &[Option<usize>]) -> Vec<String> {
    let Some(claims) = document.get_mut("expect").and_then(Item::as_array_mut) else {
        return Vec::new();
    };
    let mut dropped = Vec::new();
    let mut index = 0;
    while index < claims.len() {
        let Some(text) = claims.get(index).and_then(|claim| claim.as_str()) else {
            index += 1;
            continue;
        };
        let text = text.to_string();
        match renumber(&text, moved) {
            Err(()) => {
                claims.remove(index);
                dropped.push(text);
                continue;
            }
            Ok(renumbered) if renumbered != text => {
                let claim = claims.get_mut(index).expect("in range");
                let decor = claim.decor().clone();
                *claim = renumbered.into();
                *claim.decor_mut() = decor;
            }
            Ok(_) => {}
        }
        index += 1;
    }
    dropped
}

/// `text` with each `faults[I]` moved to its new index; Err when one of
/// them is not in the new list.
fn renumber(text: &str, moved: &[Option<usize>]) -> Result<String, ()> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("faults[") {
        let digits_at = start + "faults[".len();
        out.push_str(&rest[..digits_at]);
        rest = &rest[digits_at..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let Ok(old) = rest[..digits].parse::<usize>() else {
            continue;
        };
        let new = moved.get(old).copied().flatten().ok_or(())?;
        out.push_str(&new.to_string());
        rest = &rest[digits..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One `[[faults]]` entry, in the fields a scenario file uses.
fn fault_table(fault: &Fault) -> Table {
    let mut table = Table::new();
    table["kind"] = value(fault.kind().as_str());
    if let Some(node) = fault.node {
        table["node"] = value(node as i64);
    }
    if let Some(endpoint) = &fault.endpoint {
        table["endpoint"] = value(endpoint.as_str());
    }
    if let Some(dependency) = &fault.dependency {
        table["dependency"] = value(dependency.as_str());
    }
    if let Some(operation) = &fault.operation {
        table["operation"] = value(operation.as_str());
    }
    if let Some(probability) = fault.probability {
        table["probability"] = value(probability);
    }
    if !fault.at.is_zero() {
        table["at"] = value(duration_text(fault.at));
    }
    if let Some(trigger) = fault.trigger {
        table["on"] = value(trigger.as_str());
    }
    if let Some(nth) = fault.nth {
        table["nth"] = value(nth as i64);
    }
    if let Some(length) = fault.duration {
        table["for"] = value(duration_text(length));
    }
    if fault.transport != obsim_faults::Transport::Messages {
        table["transport"] = value(fault.transport.as_str());
    }
    effect_fields(&fault.effect, &mut table);
    table
}

fn effect_fields(effect: &Effect, table: &mut Table) {
    if let Some((min, max)) = effect.latency_range() {
        if min == max {
            table["latency"] = value(duration_text(min));
        } else {
            table["min"] = value(duration_text(min));
            table["max"] = value(duration_text(max));
        }
    }
    match effect {
        Effect::CrashDuringTransaction { restart_after } | Effect::NodeCrash { restart_after } => {
            if let Some(delay) = restart_after {
                table["restart_after"] = value(duration_text(*delay));
            }
        }
        Effect::NetworkPartition(partition) => {
            let names = |list: &[String]| list.iter().map(String::as_str).collect::<Array>();
            table["from"] = value(names(&partition.from));
            if !partition.to.is_empty() {
                table["to"] = value(names(&partition.to));
            }
            if partition.one_way {
                table["one_way"] = value(true);
            }
        }
        _ => {}
    }
}

/// A duration as a scenario file writes it, exactly: `2s`, `250ms`,
/// `1.000000123s`.
pub fn duration_text(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) {
        return format!("{}s", nanos / 1_000_000_000);
    }
    if nanos.is_multiple_of(1_000_000) {
        return format!("{}ms", nanos / 1_000_000);
    }
    let fraction = format!("{:09}", nanos % 1_000_000_000);
    format!(
        "{}.{}s",
        nanos / 1_000_000_000,
        fraction.trim_end_matches('0')
    )
}
