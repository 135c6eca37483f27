//! The run on one time axis, a lane per node: when each incarnation lived,
//! the faults that hit it, the scrapes that failed, and the claims' instants.
//! Events close together are drawn as one mark with their count, so the
//! page stays small however many faults fired.

use std::collections::BTreeMap;
use std::time::Duration;

use maud::{html, Markup};

use super::model::{FaultEvent, Seed};

/// Marks per lane and kind: events falling in one of this many slices of
/// the run share a mark.
const BINS: u64 = 200;
/// Lanes drawn; faults on further targets share one lane.
const LANES_MAX: usize = 24;

pub(super) fn percent(at: Duration, end: Duration) -> f64 {
    if end.is_zero() {
        return 0.0;
    }
    (at.as_secs_f64() / end.as_secs_f64() * 100.0).clamp(0.0, 100.0)
}

fn style(from: Duration, until: Duration, end: Duration) -> String {
    let left = percent(from, end);
    let width = (percent(until, end) - left).max(0.25);
    format!("left:{left:.3}%;width:{width:.3}%")
}

fn at_style(at: Duration, end: Duration) -> String {
    format!("left:{:.3}%", percent(at, end))
}

/// A fault kind's colour class.
fn class(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("storage") || k == "disk_full" || k.starts_with("crash_during") => {
            "f-storage"
        }
        "node_crash" | "node_restart" => "f-crash",
        "node_pause" | "node_resume" => "f-pause",
        "handler_panic" => "f-panic",
        k if k.starts_with("dependency") => "f-dependency",
        _ => "f-network",
    }
}

/// A fault that lasts: from, until (None: to the end), kind, title.
type Window = (Duration, Option<Duration>, String, String);

#[derive(Default)]
struct Lane {
    /// (from, until or the end, title)
    alive: Vec<(Duration, Option<Duration>, String)>,
    /// Faults that last.
    windows: Vec<Window>,
    /// (kind, bin) → (count, first, last, first target)
    faults: BTreeMap<(String, u64), (u64, Duration, Duration, String)>,
    /// bin → (count, first instant, first error)
    scrapes_down: BTreeMap<u64, (u64, Duration, String)>,
}

fn bin(at: Duration, end: Duration) -> u64 {
    ((percent(at, end) / 100.0) * (BINS - 1) as f64).round() as u64
}

fn lanes(seed: &Seed, end: Duration) -> BTreeMap<String, Lane> {
    let mut lanes: BTreeMap<String, Lane> = BTreeMap::new();
    for incarnation in &seed.incarnations {
        let until = incarnation.crashed_at.map_or("the end".into(), secs);
        let title = format!(
            "{} incarnation {}: {} to {until}",
            incarnation.node,
            incarnation.number,
            secs(incarnation.started_at)
        );
        lanes
            .entry(incarnation.node.clone())
            .or_default()
            .alive
            .push((incarnation.started_at, incarnation.crashed_at, title));
    }
    for (lane, window) in windows(seed) {
        lanes.entry(lane).or_default().windows.push(window);
    }
    for fault in &seed.faults {
        let mut node = lane_of(fault).to_string();
        if !lanes.contains_key(&node) && lanes.len() >= LANES_MAX {
            node = "other targets".into();
        }
        let entry = lanes
            .entry(node)
            .or_default()
            .faults
            .entry((fault.kind.clone(), bin(fault.at, end)))
            .or_insert((0, fault.at, fault.at, fault.target.clone()));
        entry.0 += 1;
        entry.2 = fault.at;
    }
    for scrape in &seed.scrapes {
        let Some(error) = &scrape.down else { continue };
        let entry = lanes
            .entry(scrape.node.clone())
            .or_default()
            .scrapes_down
            .entry(bin(scrape.at, end))
            .or_insert((0, scrape.at, error.clone()));
        entry.0 += 1;
    }
    lanes
}

/// A partition's sides, `[server-0] <-> [everyone else]`: what its heal
/// names too.
fn sides(target: &str) -> &str {
    target.rfind(']').map_or(target, |end| &target[..=end])
}

/// The lane a fault event goes on: its node's, or `network` for a
/// partition, which cuts between nodes.
fn lane_of(fault: &FaultEvent) -> &str {
    match fault.kind.as_str() {
        "network_partition" | "network_heal" => "network",
        _ => fault.node(),
    }
}

/// Pauses (to their resume) and partitions (to their heal) as windows, by
/// lane; one never ended lasts to the end of the run.
fn windows(seed: &Seed) -> Vec<(String, Window)> {
    let mut open: BTreeMap<(String, String), (Duration, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for fault in &seed.faults {
        let (kind, key, starts) = match fault.kind.as_str() {
            "node_pause" => ("node_pause", fault.node().to_string(), true),
            "node_resume" => ("node_pause", fault.node().to_string(), false),
            "network_partition" => ("network_partition", sides(&fault.target).to_string(), true),
            "network_heal" => ("network_partition", sides(&fault.target).to_string(), false),
            _ => continue,
        };
        let lane = lane_of(fault).to_string();
        if starts {
            open.insert((kind.to_string(), key), (fault.at, lane));
        } else if let Some((from, lane)) = open.remove(&(kind.to_string(), key.clone())) {
            let title = format!("{kind} {key} from {} to {}", secs(from), secs(fault.at));
            out.push((lane, (from, Some(fault.at), kind.to_string(), title)));
        }
    }
    for ((kind, key), (from, lane)) in open {
        let title = format!("{kind} {key} from {} to the end", secs(from));
        out.push((lane, (from, None, kind, title)));
    }
    out
}

pub(super) fn secs(at: Duration) -> String {
    format!("{:.3}s", at.as_secs_f64())
}

fn fault_title(
    kind: &str,
    (count, first, last, target): &(u64, Duration, Duration, String),
) -> String {
    if *count == 1 {
        format!("{} {kind} {target}", secs(*first))
    } else {
        format!(
            "{count} × {kind} from {} to {} (first: {target})",
            secs(*first),
            secs(*last)
        )
    }
}

/// Claims' numbers (from 1) as one label: `2`, `1–3`, or `1,4`.
fn label(indices: &[usize]) -> String {
    let contiguous = indices.windows(2).all(|pair| pair[1] == pair[0] + 1);
    match indices {
        [only] => (only + 1).to_string(),
        [first, .., last] if contiguous => format!("{}–{}", first + 1, last + 1),
        _ => indices
            .iter()
            .map(|index| (index + 1).to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The timeline; `claims` are each claim's instant, if it has one.
pub(super) fn timeline(seed: &Seed, end: Duration, claims: &[Option<Duration>]) -> Markup {
    let lanes = lanes(seed, end);
    // Claims at one instant share a label: `1–3`.
    let mut at_once: BTreeMap<Duration, Vec<usize>> = BTreeMap::new();
    for (index, at) in claims.iter().enumerate() {
        if let Some(at) = at {
            at_once.entry(*at).or_default().push(index);
        }
    }
    let ticks: Vec<Duration> = (0..=10).map(|k| end.mul_f64(k as f64 / 10.0)).collect();
    html! {
        div.timeline #timeline {
            div.lane.axis {
                span.lane-name { "simulated time" }
                div.track {
                    @for tick in &ticks {
                        span.tick style=(at_style(*tick, end)) { (secs(*tick)) }
                    }
                }
            }
            @for (node, lane) in &lanes {
                div.lane {
                    span.lane-name { (node) }
                    div.track {
                        @for (from, until, title) in &lane.alive {
                            div.alive style=(style(*from, until.unwrap_or(end), end)) title=(title) {}
                        }
                        @for (from, until, kind, title) in &lane.windows {
                            div class={"window " (class(kind))} style=(style(*from, until.unwrap_or(end), end)) title=(title) {}
                        }
                        @for ((kind, _), mark) in &lane.faults {
                            div class={"fault " (class(kind))} style=(at_style(mark.1, end))
                                title=(fault_title(kind, mark)) {
                                @if mark.0 > 1 { span.count { (mark.0) } }
                            }
                        }
                        @for (count, at, error) in lane.scrapes_down.values() {
                            div.scrape-down style=(at_style(*at, end))
                                title=(format!("{count} failed scrape(s) from {}: {error}", secs(*at))) {}
                        }
                        @for (index, at) in claims.iter().enumerate() {
                            @if let Some(at) = at {
                                a.violation-mark href=(format!("#claim-{index}")) style=(at_style(*at, end))
                                    title=(format!("claim {} at {}", index + 1, secs(*at))) {}
                            }
                        }
                    }
                }
            }
            div.lane.claims-lane {
                span.lane-name { "broken claims" }
                div.track {
                    @for (at, indices) in &at_once {
                        @let first = indices[0];
                        a.violation-label id=(format!("mark-{first}")) href=(format!("#claim-{first}"))
                            style=(at_style(*at, end)) title=(format!("{} claim(s) at {}", indices.len(), secs(*at))) {
                            (label(indices))
                        }
                        // The others at the same instant: a place each to link to.
                        @for index in &indices[1..] {
                            a.violation-anchor id=(format!("mark-{index}")) href=(format!("#claim-{index}")) style=(at_style(*at, end)) {}
                        }
                    }
                }
            }
        }
        p.legend {
            span.key.alive-key {} " node incarnation alive "
            span.key.f-crash {} " crash or restart "
            span.key.f-storage {} " storage fault "
            span.key.f-network {} " network fault "
            span.key.f-pause {} " pause "
            span.key.f-panic {} " handler panic "
            span.key.f-dependency {} " dependency fault "
            span.key.scrape-key {} " failed scrape "
            span.key.violation-key {} " broken claim (a number links to it)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(at_ms: u64, kind: &str, target: &str) -> FaultEvent {
        FaultEvent {
            at: Duration::from_millis(at_ms),
            kind: kind.into(),
            target: target.into(),
        }
    }

    #[test]
    fn claims_at_one_instant_share_a_label() {
        assert_eq!(label(&[1]), "2");
        assert_eq!(label(&[0, 1, 2]), "1–3");
        assert_eq!(label(&[0, 3]), "1,4");
    }

    #[test]
    fn pauses_and_partitions_become_windows_on_their_lanes() {
        let seed = Seed {
            faults: vec![
                fault(
                    1000,
                    "network_partition",
                    "[client] <-> [server-0] sockets: 3 links clogged from +1ms",
                ),
                fault(2000, "node_pause", "server-2 for=1s"),
                fault(
                    2000,
                    "network_heal",
                    "[client] <-> [server-0] sockets: 3 links unclogged",
                ),
                fault(3000, "node_resume", "server-2"),
                fault(
                    4000,
                    "network_partition",
                    "[server-1] -> [everyone else] sockets: untouched",
                ),
            ],
            ..Seed::default()
        };
        let windows: Vec<(String, Duration, Option<Duration>, String)> = windows(&seed)
            .into_iter()
            .map(|(lane, (from, until, kind, _))| (lane, from, until, kind))
            .collect();
        let s = Duration::from_secs;
        assert_eq!(
            windows,
            [
                (
                    "network".into(),
                    s(1),
                    Some(s(2)),
                    "network_partition".into()
                ),
                ("server-2".into(), s(2), Some(s(3)), "node_pause".into()),
                ("network".into(), s(4), None, "network_partition".into()),
            ]
        );
    }
}
