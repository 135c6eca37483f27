//! Exact decimals for expectations: counts and literals compare exactly, so
//! `outcomes.total == 1000.000000000000000000001` is false, as it reads. An
//! f64 would round the literal to 1000 and let it pass.

use std::cmp::Ordering;
use std::fmt;

/// `mantissa × 10^-scale`, kept with no trailing zeros after the point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Digits an exact decimal can hold: i128 holds every 38-digit number.
pub const DIGITS_MAX: usize = 38;

impl Decimal {
    pub fn from_u64(value: u64) -> Decimal {
        Decimal {
            mantissa: i128::from(value),
            scale: 0,
        }
    }

    /// Parses `digits[.digits]`; None past [`DIGITS_MAX`] significant digits.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let fraction = fraction.trim_end_matches('0');
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > DIGITS_MAX || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mantissa = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        Some(Decimal {
            mantissa,
            scale: fraction.len() as u32,
        })
    }

    pub fn negated(self) -> Decimal {
        Decimal {
            mantissa: -self.mantissa,
            ..self
        }
    }

    /// The sum, or None if it does not fit.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let sum = self.rescaled(scale)?.checked_add(other.rescaled(scale)?)?;
        Some(Decimal::normalized(sum, scale))
    }

    /// Compares exactly; None only if aligning the two overflows.
    pub fn checked_cmp(self, other: Decimal) -> Option<Ordering> {
        let scale = self.scale.max(other.scale);
        Some(self.rescaled(scale)?.cmp(&other.rescaled(scale)?))
    }

    pub fn to_f64(self) -> f64 {
        // Through the text: exact to the nearest f64, unlike a division.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    fn rescaled(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(scale - self.scale)?)
    }

    fn normalized(mut mantissa: i128, mut scale: u32) -> Decimal {
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        Decimal { mantissa, scale }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn a_literal_one_digit_off_an_integer_is_not_that_integer() {
        let literal = d("1000.000000000000000000001");
        assert_eq!(
            literal.checked_cmp(Decimal::from_u64(1000)),
            Some(Ordering::Greater)
        );
        assert_eq!(literal.to_string(), "1000.000000000000000000001");
        assert_eq!(d("5.50").to_string(), "5.5");
        assert_eq!(d("0.05").to_string(), "0.05");
        assert_eq!(
            d("007").checked_cmp(Decimal::from_u64(7)),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn sums_are_exact_and_overflow_is_none() {
        let sum = d("0.1").checked_add(d("0.2")).unwrap();
        assert_eq!(sum.checked_cmp(d("0.3")), Some(Ordering::Equal));
        assert_eq!(
            d("1").checked_add(d("0.5").negated()).unwrap().to_string(),
            "0.5"
        );
        assert!(Decimal::parse(&"9".repeat(39)).is_none());
        let big = d(&"9".repeat(38));
        assert!(big.checked_add(big).is_none());
    }
}
