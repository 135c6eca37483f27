//! Secret canaries: for each secret a contract names (an API key, a token),
//! obsim hands the system a value of its own, drawn from the seed, that
//! appears nowhere else. Finding that value in the telemetry is finding the
//! secret leaked.

use rand::RngCore;

/// The prefix of every canary: it says where the value came from to a
/// person who finds it in a log.
pub const CANARY_PREFIX: &str = "obsim-canary-";

/// The canary of secret `name` in the run of `seed`: the prefix, then 128
/// random bits as 32 hex characters (what the check searches for: no
/// telemetry holds them by chance). The same for every
/// call, node and incarnation of that run, different for another seed or
/// secret. From a stream of its own, so that asking for it moves no other
/// random decision of the run.
pub fn canary(seed: u64, name: &str) -> String {
    let mut rng = obsim_faults::component_stream(seed, &format!("secret {name}"));
    let (high, low) = (rng.next_u64(), rng.next_u64());
    format!("{CANARY_PREFIX}{high:016x}{low:016x}")
}

/// The part of a canary the check searches for: its random characters. A
/// service that prints a few characters of a key to identify it (`sk-…3f9a`)
/// does not leak it; one that prints all of them does.
pub fn canary_needle(canary: &str) -> &str {
    canary.strip_prefix(CANARY_PREFIX).unwrap_or(canary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_is_a_function_of_the_seed_and_the_name() {
        assert_eq!(canary(7, "api_key"), canary(7, "api_key"));
        assert_ne!(canary(7, "api_key"), canary(8, "api_key"));
        assert_ne!(canary(7, "api_key"), canary(7, "token"));
        let value = canary(7, "api_key");
        assert!(value.starts_with(CANARY_PREFIX));
        assert_eq!(canary_needle(&value).len(), 32);
    }
}
