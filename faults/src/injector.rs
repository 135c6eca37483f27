use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Fault, FaultPlan};

/// The ChaCha stream of one component in one run.
///
/// The seed picks the key and the component name picks the stream, so each
/// component draws from its own sequence: a new storage call on node 1 never
/// moves the network decisions of node 2. The name is hashed with FNV-1a
/// rather than std's hasher, whose output Rust does not promise to keep stable.
pub fn component_stream(seed: u64, component: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(fnv1a_64(component.as_bytes()));
    rng
}

fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// Hands each component its fault decisions for one seed.
#[derive(Clone, Debug)]
pub struct Injector {
    seed: u64,
    plan: FaultPlan,
}

impl Injector {
    pub fn new(seed: u64, plan: FaultPlan) -> Self {
        Injector { seed, plan }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Storage decisions for server node `node`, on stream `storage/<node>`.
    pub fn storage(&self, node: usize) -> StorageFaults {
        let probabilities = self.plan.faults().iter().filter_map(|fault| match fault {
            Fault::StorageWriteFailure {
                node: target,
                probability,
            } if aims_at(*target, node) => Some(*probability),
            _ => None,
        });
        StorageFaults {
            rng: component_stream(self.seed, &format!("storage/{node}")),
            write_failure_probability: combine(probabilities),
        }
    }

    /// Network decisions for messages sent from `endpoint` on server node
    /// `node` (None for the client and scraper, which only global faults hit).
    pub fn network(&self, node: Option<usize>, endpoint: &str) -> NetworkFaults {
        let delays = self
            .plan
            .faults()
            .iter()
            .filter_map(|fault| match *fault {
                Fault::NetworkDelay {
                    node: target,
                    probability,
                    min,
                    max,
                } if target.is_none() || target == node => Some(DelayRule {
                    probability,
                    min,
                    max,
                }),
                _ => None,
            })
            .collect();
        NetworkFaults {
            rng: component_stream(self.seed, &format!("network/{endpoint}")),
            delays,
        }
    }
}

fn aims_at(target: Option<usize>, node: usize) -> bool {
    target.is_none_or(|target| target == node)
}

/// The chance that at least one of several independent faults fires.
fn combine(probabilities: impl Iterator<Item = f64>) -> f64 {
    1.0 - probabilities.fold(1.0, |none_fire, p| none_fire * (1.0 - p))
}

/// Seeded storage fault decisions for one node.
#[derive(Clone, Debug)]
pub struct StorageFaults {
    rng: ChaCha8Rng,
    write_failure_probability: f64,
}

impl StorageFaults {
    /// Whether this write fails. It always draws, so the stream stays aligned
    /// with the count of writes whatever the probability.
    pub fn write_fails(&mut self) -> bool {
        let draw: f64 = self.rng.random();
        draw < self.write_failure_probability
    }
}

#[derive(Clone, Copy, Debug)]
struct DelayRule {
    probability: f64,
    min: Duration,
    max: Duration,
}

/// Seeded network fault decisions for one sending endpoint.
#[derive(Clone, Debug)]
pub struct NetworkFaults {
    rng: ChaCha8Rng,
    delays: Vec<DelayRule>,
}

impl NetworkFaults {
    /// The extra delay of the next message, if a delay fault fires. Several
    /// rules that fire add up, as queues along one path would.
    pub fn delay(&mut self) -> Option<Duration> {
        let mut total = Duration::ZERO;
        for rule in &self.delays {
            let fires: f64 = self.rng.random();
            let nanos = self
                .rng
                .random_range(rule.min.as_nanos() as u64..=rule.max.as_nanos() as u64);
            if fires < rule.probability {
                total += Duration::from_nanos(nanos);
            }
        }
        (!total.is_zero()).then_some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_seed_and_component_give_the_same_stream() {
        let draws = || {
            let mut rng = component_stream(7, "storage/0");
            [rng.next_u64(), rng.next_u64(), rng.next_u64()]
        };
        assert_eq!(draws(), draws());
    }

    #[test]
    fn components_and_seeds_get_different_streams() {
        let first = |seed, name| component_stream(seed, name).next_u64();
        assert_ne!(first(7, "storage/0"), first(7, "storage/1"));
        assert_ne!(first(7, "storage/0"), first(8, "storage/0"));
    }

    #[test]
    fn write_failure_rate_follows_the_probability() {
        let plan = FaultPlan::new(
            vec![Fault::StorageWriteFailure {
                node: Some(1),
                probability: 0.25,
            }],
            2,
            Duration::from_secs(1),
        )
        .unwrap();
        let injector = Injector::new(3, plan);
        let mut aimed = injector.storage(1);
        let failures = (0..10_000).filter(|_| aimed.write_fails()).count();
        assert!((2_200..2_800).contains(&failures), "{failures} of 10000");
        let mut spared = injector.storage(0);
        assert!((0..1_000).all(|_| !spared.write_fails()));
    }

    #[test]
    fn delays_stay_inside_their_range() {
        let (min, max) = (Duration::from_millis(5), Duration::from_millis(9));
        let plan = FaultPlan::new(
            vec![Fault::NetworkDelay {
                node: None,
                probability: 1.0,
                min,
                max,
            }],
            1,
            Duration::from_secs(1),
        )
        .unwrap();
        let mut faults = Injector::new(1, plan).network(None, "client");
        for _ in 0..1_000 {
            let delay = faults.delay().expect("probability 1 always delays");
            assert!((min..=max).contains(&delay), "{delay:?}");
        }
    }
}
