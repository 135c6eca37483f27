//! Durations as scenario files write them: `"250ms"`, `"1.5s"`, `"0s"`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The units a duration may carry, with their length in nanoseconds.
const UNITS: [(&str, u128); 6] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The longest duration a file may give. Far beyond any simulated run, and
/// low enough that adding a few durations (a window start plus its length)
/// can never overflow `Duration`, whose arithmetic panics on overflow.
const MAX_HOURS: u64 = 1_000_000;

pub(crate) const FORM: &str =
    "expected a non-negative number followed by a unit (ns, us, ms, s, m, h), e.g. \"250ms\" or \"1.5s\"";

/// Parses a duration string; the error says what was wrong and the form.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.starts_with('-') {
        return Err(format!("{text:?} is negative: {FORM}"));
    }
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(format!("{text:?} does not start with a number: {FORM}"));
    }
    if unit.is_empty() {
        return Err(format!("{text:?} has no unit: {FORM}"));
    }
    let Some(&(_, unit_nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(format!("unknown unit {unit:?} in {text:?}: {FORM}"));
    };
    let nanos =
        scaled(number, unit_nanos).map_err(|problem| format!("{text:?} {problem}: {FORM}"))?;
    to_duration(nanos).ok_or_else(|| format!("{text:?} is too long: at most \"{MAX_HOURS}h\""))
}

/// `number` (digits, optionally a point and more digits) times `unit_nanos`,
/// computed exactly in integers so "0.1s" is exactly 100ms.
fn scaled(number: &str, unit_nanos: u128) -> Result<u128, &'static str> {
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    let well_formed = !whole.is_empty()
        && (number.len() == whole.len() || !fraction.is_empty())
        && !fraction.contains('.');
    if !well_formed {
        return Err("is not a decimal number");
    }
    // u128 holds 38 digits; more than that overflows whatever the unit.
    if whole.len() + fraction.len() > 30 {
        return Err("is too long");
    }
    let digits: u128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| "is not a decimal number")?;
    let scale = 10u128.pow(fraction.len() as u32);
    let total = digits.checked_mul(unit_nanos).ok_or("is too long")?;
    if total % scale != 0 {
        return Err("is finer than a nanosecond");
    }
    Ok(total / scale)
}

fn to_duration(nanos: u128) -> Option<Duration> {
    let max = u128::from(MAX_HOURS) * 3_600_000_000_000;
    if nanos > max {
        return None;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// A duration field of a scenario file. It is parsed while deserializing so
/// a bad one is reported with the value's span, like a type error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FileDuration(pub Duration);

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = FileDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"250ms\" or \"1.5s\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<FileDuration, E> {
        parse_duration(text).map(FileDuration).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit_and_decimals() {
        let ok = |text: &str| parse_duration(text).unwrap();
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("3us"), Duration::from_micros(3));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("0.1s"), Duration::from_millis(100));
        assert_eq!(ok("2m"), Duration::from_secs(120));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("1000000h"), Duration::from_secs(3_600_000_000));
    }

    #[test]
    fn rejects_bad_forms_with_the_reason() {
        let error = |text: &str| parse_duration(text).unwrap_err();
        assert!(error("-1s").contains("is negative"), "{}", error("-1s"));
        assert!(error("5").contains("has no unit"));
        assert!(error("5x").contains("unknown unit \"x\""));
        assert!(error("5 s").contains("unknown unit \" s\""));
        assert!(error("NaN").contains("does not start with a number"));
        assert!(error("").contains("does not start with a number"));
        assert!(error("1.s").contains("not a decimal number"));
        assert!(error(".5s").contains("not a decimal number"));
        assert!(error("1.2.3s").contains("not a decimal number"));
        assert!(error("0.5ns").contains("finer than a nanosecond"));
        assert!(error("1000001h").contains("too long"));
        assert!(error(&format!("{}s", "9".repeat(40))).contains("too long"));
        for text in ["-1s", "5", "5x", "1.s"] {
            assert!(error(text).contains("e.g. \"250ms\""), "{}", error(text));
        }
    }
}
