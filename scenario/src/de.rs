//! serde helpers for a system's `[system]` settings type, so that a setting
//! reads the way the rest of a scenario file does:
//!
//! ```
//! # use std::time::Duration;
//! #[derive(serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct MyConfig {
//!     /// `request_timeout = "250ms"`
//!     #[serde(deserialize_with = "obsim_scenario::de::positive_duration")]
//!     request_timeout: Duration,
//! }
//! # impl Default for MyConfig {
//! #     fn default() -> Self { MyConfig { request_timeout: Duration::from_secs(1) } }
//! # }
//! ```

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written as in scenario files: `"1.5s"`, `"250ms"`, `"0s"`.
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::parse_duration(&text).map_err(serde::de::Error::custom)
}

/// As [`duration`], and more than zero.
pub fn positive_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let value = duration(deserializer)?;
    if value.is_zero() {
        return Err(serde::de::Error::custom(
            "expected a duration > 0, e.g. \"1s\"",
        ));
    }
    Ok(value)
}

/// A list written as a TOML array and read as a set, a value listed twice
/// refused: `bugs = ["a", "a"]` is a typo, not a request, and a set that
/// quietly dropped it would hide the one the author meant.
///
/// ```
/// # use std::collections::BTreeSet;
/// #[derive(serde::Deserialize)]
/// struct MyConfig {
///     /// `bugs = ["double_count"]`
///     #[serde(deserialize_with = "obsim_scenario::de::unique")]
///     bugs: BTreeSet<String>,
/// }
/// ```
pub fn unique<'de, D, T>(deserializer: D) -> Result<std::collections::BTreeSet<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Ord,
{
    let listed = Vec::<T>::deserialize(deserializer)?;
    let mut seen = std::collections::BTreeMap::new();
    for (index, value) in listed.iter().enumerate() {
        if let Some(first) = seen.insert(value, index) {
            return Err(serde::de::Error::custom(format!(
                "entry [{index}] repeats entry [{first}]: list each value once"
            )));
        }
    }
    drop(seen);
    Ok(listed.into_iter().collect())
}
