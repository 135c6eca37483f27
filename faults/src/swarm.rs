//! Swarm testing: each seed draws its own subset of the fault catalogue and
//! its own rates, as FoundationDB and TigerBeetle do. A fixed fault mix tests
//! one corner of the space; a different mix per seed finds the bugs that only
//! one combination (a pause during a partition, say) exposes.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{component_stream, Effect, Fault, FaultKind, Partition, Topology, Trigger, WINDOW_MIN};

/// The chance each kind is in a seed's draw. Half keeps the draws varied
/// while a typical seed still combines several kinds.
const KIND_CHANCE: f64 = 0.5;

/// The chance a seed that may crash nodes also draws one crash set off by
/// an event (a request accepted, a message received, a request in flight,
/// a reply sent) instead of a time: a timed crash almost never lands in a
/// window a few polls wide, and such a crash lands there every time.
const TRIGGER_CHANCE: f64 = 0.5;

/// A drawn event-triggered crash falls on one of the first this many events
/// of its kind from its `at`.
const TRIGGER_NTH_MAX: u64 = 8;

/// Whether the swarm can draw `kind`: a kind a scenario can ask for whose
/// target the swarm knows. A dependency fault is aimed at the dependencies
/// the system names when it calls them, which no topology lists, so a
/// scenario asks for one in `[[faults]]` instead.
pub fn drawable(kind: FaultKind) -> bool {
    kind.requestable() && !kind.is_dependency()
}

/// Draws the faults of one seed from `kinds` (those of them that are
/// [`drawable`]), on the seed's `swarm` stream. Every drawn fault is valid
/// for `topology`, and at least one kind is always drawn. When `node_crash`
/// is among the kinds, a seed may also draw one crash set off by an event
/// (see [`Trigger`]), on a stream of its own, `swarm/triggers`.
pub fn draw(seed: u64, topology: &Topology, kinds: &[FaultKind]) -> Vec<Fault> {
    let mut faults = draw_kinds(seed, topology, kinds);
    if kinds.contains(&FaultKind::NodeCrash) && !faults.is_empty() {
        faults.extend(draw_trigger(seed, topology));
    }
    faults
}

/// The seed's draw from the catalogue, on stream `swarm`.
fn draw_kinds(seed: u64, topology: &Topology, kinds: &[FaultKind]) -> Vec<Fault> {
    let mut rng = component_stream(seed, "swarm");
    // Filtered before any draw, so that `FaultKind::ALL` gaining a kind the
    // swarm cannot draw leaves every seed's draw as it was.
    let kinds: Vec<FaultKind> = kinds.iter().copied().filter(|k| drawable(*k)).collect();
    if kinds.is_empty() {
        return Vec::new();
    }
    let mut chosen: Vec<FaultKind> = kinds
        .iter()
        .copied()
        .filter(|_| rng.random_bool(KIND_CHANCE))
        .collect();
    if chosen.is_empty() {
        chosen.push(kinds[rng.random_range(0..kinds.len())]);
    }
    chosen
        .into_iter()
        .map(|kind| draw_one(&mut rng, topology, kind))
        .collect()
}

/// Maybe one crash set off by an event, drawn on its own stream so that the
/// draw from the catalogue stays what it was for every seed. It restarts,
/// as the swarm's timed crashes do, and an event trigger falls on the nth
/// event from `at`, so that it replays as itself.
fn draw_trigger(seed: u64, topology: &Topology) -> Option<Fault> {
    let mut rng = component_stream(seed, "swarm/triggers");
    if !rng.random_bool(TRIGGER_CHANCE) {
        return None;
    }
    let trigger = Trigger::ALL[rng.random_range(0..Trigger::ALL.len())];
    let node = rng.random_range(0..topology.servers);
    let end = topology.run_end;
    let at = between(&mut rng, end / 20, end / 2);
    let restart_after = Some(between(&mut rng, end / 50, end / 5));
    let nth = rng.random_range(1..=TRIGGER_NTH_MAX);
    let crash = Fault::new(Effect::NodeCrash { restart_after })
        .on_node(node)
        .at(at)
        .on_event(trigger);
    Some(if trigger.is_event() {
        crash.at_nth(nth)
    } else {
        crash
    })
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn between(rng: &mut ChaCha8Rng, min: Duration, max: Duration) -> Duration {
    let nanos = rng.random_range(min.as_nanos() as u64..=max.as_nanos().max(1) as u64);
    Duration::from_nanos(nanos)
}

fn draw_one(rng: &mut ChaCha8Rng, topology: &Topology, kind: FaultKind) -> Fault {
    let end = topology.run_end;
    let node = rng.random_range(0..topology.servers);
    // Scheduled faults start in the first half and last at most a fifth of
    // the run, so every window closes, and every restart happens, in time.
    let at = between(rng, end / 20, end / 2);
    // No window shorter than madsim can time; a run too short for one at
    // `at` gets it earlier (both only in runs under 50 ms).
    let window = between(rng, end / 50, end / 5).max(WINDOW_MIN);
    let at = at.min(end.saturating_sub(window));
    let probability = |rng: &mut ChaCha8Rng, low: f64, high: f64| rng.random_range(low..=high);
    let fault = match kind {
        FaultKind::StorageWriteFailure => {
            Fault::new(Effect::StorageWriteFailure).with_probability(probability(rng, 0.02, 0.2))
        }
        FaultKind::StorageReadFailure => {
            Fault::new(Effect::StorageReadFailure).with_probability(probability(rng, 0.02, 0.1))
        }
        FaultKind::StorageLatency => {
            let min = between(rng, ms(1), ms(20));
            let max = min + between(rng, ms(0), ms(50));
            Fault::new(Effect::StorageLatency { min, max })
                .with_probability(probability(rng, 0.1, 1.0))
        }
        FaultKind::DiskFull => Fault::new(Effect::DiskFull)
            .on_node(node)
            .at(at)
            .lasting(window),
        FaultKind::CrashDuringTransaction => Fault::new(Effect::CrashDuringTransaction {
            restart_after: Some(window),
        })
        .on_node(node)
        .at(at),
        FaultKind::NodeCrash => Fault::new(Effect::NodeCrash {
            restart_after: Some(window),
        })
        .on_node(node)
        .at(at),
        FaultKind::NodePause => Fault::new(Effect::NodePause)
            .on_node(node)
            .at(at)
            .lasting(window),
        FaultKind::HandlerPanic => {
            Fault::new(Effect::HandlerPanic).with_probability(probability(rng, 0.005, 0.05))
        }
        FaultKind::NetworkDelay => {
            let min = between(rng, ms(1), ms(10));
            let max = min + between(rng, ms(1), ms(100));
            Fault::new(Effect::NetworkDelay { min, max })
                .with_probability(probability(rng, 0.05, 0.3))
        }
        FaultKind::PacketLoss => {
            Fault::new(Effect::PacketLoss).with_probability(probability(rng, 0.01, 0.1))
        }
        FaultKind::NetworkPartition => Fault::new(Effect::NetworkPartition(Partition {
            from: vec![format!("server-{node}")],
            to: Vec::new(),
            one_way: rng.random_bool(0.5),
        }))
        .at(at)
        .lasting(window),
        FaultKind::MessageDuplication => {
            Fault::new(Effect::MessageDuplication).with_probability(probability(rng, 0.01, 0.1))
        }
        // Not drawable: filtered out above.
        FaultKind::NodeRestart
        | FaultKind::NodeResume
        | FaultKind::NetworkHeal
        | FaultKind::DependencyFailure
        | FaultKind::DependencyLatency => {
            unreachable!("only drawable kinds are drawn")
        }
    };
    fault
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FaultPlan;

    fn topology() -> Topology {
        Topology {
            servers: 3,
            operations: vec!["get".into()],
            run_end: Duration::from_secs(10),
            time_limit: Duration::from_secs(600),
        }
    }

    #[test]
    fn every_draw_is_a_valid_plan_and_repeats_for_its_seed() {
        let kinds = FaultKind::ALL;
        for seed in 0..500 {
            let faults = draw(seed, &topology(), &kinds);
            assert!(!faults.is_empty(), "seed {seed} drew nothing");
            assert_eq!(faults, draw(seed, &topology(), &kinds));
            if let Err(error) = FaultPlan::new(faults.clone(), &topology()) {
                panic!("seed {seed} drew an invalid plan: {error}\n{faults:#?}");
            }
        }
    }

    #[test]
    fn a_short_run_draws_no_window_shorter_than_madsim_can_time() {
        let kinds = FaultKind::ALL;
        for millis in [1, 7, 49] {
            let topology = Topology {
                run_end: Duration::from_millis(millis),
                ..topology()
            };
            for seed in 0..200 {
                let faults = draw(seed, &topology, &kinds);
                if let Err(error) = FaultPlan::new(faults.clone(), &topology) {
                    panic!("{millis} ms, seed {seed}: an invalid plan: {error}\n{faults:#?}");
                }
            }
        }
    }

    #[test]
    fn dependency_kinds_are_never_drawn_and_shift_no_draw() {
        let before_dependencies: Vec<FaultKind> = FaultKind::ALL
            .into_iter()
            .filter(|kind| !kind.is_dependency())
            .collect();
        for seed in 0..200 {
            let faults = draw(seed, &topology(), &FaultKind::ALL);
            assert!(faults.iter().all(|fault| !fault.kind().is_dependency()));
            assert_eq!(faults, draw(seed, &topology(), &before_dependencies));
        }
        let only = [FaultKind::DependencyFailure, FaultKind::DependencyLatency];
        assert!(draw(0, &topology(), &only).is_empty());
    }

    #[test]
    fn crashes_set_off_by_events_are_drawn_on_their_own_stream_without_moving_the_rest() {
        let mut triggers = std::collections::BTreeSet::new();
        let mut with = 0;
        for seed in 0..200 {
            let faults = draw(seed, &topology(), &FaultKind::ALL);
            let (triggered, timed): (Vec<Fault>, Vec<Fault>) = faults
                .into_iter()
                .partition(|fault| fault.trigger.is_some());
            assert_eq!(timed, draw_kinds(seed, &topology(), &FaultKind::ALL));
            assert!(triggered.len() <= 1, "seed {seed}: {triggered:?}");
            for fault in triggered {
                with += 1;
                triggers.insert(fault.trigger.expect("triggered"));
                assert_eq!(fault.kind(), FaultKind::NodeCrash, "{fault}");
                assert_eq!(
                    fault.nth.is_some(),
                    fault.trigger != Some(Trigger::InFlight)
                );
            }
        }
        assert!((60..140).contains(&with), "{with} of 200 seeds drew one");
        assert_eq!(triggers.len(), Trigger::ALL.len(), "{triggers:?}");
        let no_crashes = [FaultKind::PacketLoss, FaultKind::NodePause];
        assert!((0..100).all(|seed| draw(seed, &topology(), &no_crashes)
            .iter()
            .all(|fault| fault.trigger.is_none())));
    }

    #[test]
    fn draws_vary_across_seeds_and_stay_inside_the_kinds_asked_for() {
        let kinds = [FaultKind::PacketLoss, FaultKind::NodePause];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..100 {
            for fault in draw(seed, &topology(), &kinds) {
                assert!(kinds.contains(&fault.kind()), "{fault}");
                seen.insert(fault.to_string());
            }
        }
        assert!(seen.len() > 50, "only {} distinct faults drawn", seen.len());
    }
}
