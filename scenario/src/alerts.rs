//! Alerts in a scenario file: the `[alerts]` table (rule files, evaluation
//! interval) and the claims about alerts an `expect` entry can make.
//!
//! An expectation that starts with `alert` or `slo` is one of:
//!
//! - `alert NAME{labels} fires`: it fires at some instant of the run;
//! - `alert NAME{labels} never fires`;
//! - `alert NAME{labels} fires during faults[I] within DUR`: it starts firing
//!   no earlier than the window of the `I`th `[[faults]]` entry opens and no
//!   later than `DUR` after;
//! - `alert NAME{labels} resolves within DUR after faults[I]`: it fired
//!   since that window opened, and no longer fires `DUR` after it closed;
//! - `slo SELECTOR within X of truth` (or `within X% of truth`): the series a
//!   recording rule writes (Sloth's `slo:period_burn_rate:ratio`, the error
//!   budget burned) ends, on the scraped timeline, within `X` (absolute or
//!   relative) of its value on the ground-truth timeline;
//! - `panel "TITLE" within X of truth` (or `within X% of truth`): the one
//!   target of the dashboard panel titled `TITLE`, its variables filled,
//!   reads, at the run's last evaluation instant, within `X` of what it
//!   reads over the ground-truth series (each series it returns, matched
//!   by labels). It needs the `dashboard_queries` check.
//!
//! `{labels}` is optional: an alert of that name with at least those labels.
//! Alert claims read the scraped timeline: what production would page on.

use std::fmt;
use std::time::Duration;

use crate::duration::parse_duration;

/// One claim about alerts.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertExpectation {
    /// As written in the file.
    pub text: String,
    pub claim: AlertClaim,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AlertClaim {
    Fires(AlertSelector),
    NeverFires(AlertSelector),
    FiresDuring {
        alert: AlertSelector,
        fault: usize,
        within: Duration,
    },
    Resolves {
        alert: AlertSelector,
        fault: usize,
        within: Duration,
    },
    Slo {
        /// A PromQL series selector, as written.
        series: String,
        tolerance: Tolerance,
    },
    /// `panel "TITLE" within X of truth`.
    Panel {
        /// The panel's title, unquoted.
        title: String,
        tolerance: Tolerance,
    },
}

/// Which alerts a claim is about: a name, and labels they must all have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSelector {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl fmt::Display for AlertSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            let labels: Vec<String> = self
                .labels
                .iter()
                .map(|(key, value)| format!("{key}={value:?}"))
                .collect();
            write!(f, "{{{}}}", labels.join(", "))?;
        }
        Ok(())
    }
}

/// How far a scraped value may be from the true one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    Absolute(f64),
    /// A fraction of the true value (`10%` is 0.1).
    Relative(f64),
}

impl Tolerance {
    /// Whether `scraped` is within the tolerance of `truth`.
    pub fn allows(self, scraped: f64, truth: f64) -> bool {
        let allowed = match self {
            Tolerance::Absolute(by) => by,
            Tolerance::Relative(fraction) => fraction * truth.abs(),
        };
        (scraped - truth).abs() <= allowed || (scraped.is_nan() && truth.is_nan())
    }
}

impl AlertClaim {
    /// The `[[faults]]` entry it reads, if any.
    pub fn fault(&self) -> Option<usize> {
        match self {
            AlertClaim::FiresDuring { fault, .. } | AlertClaim::Resolves { fault, .. } => {
                Some(*fault)
            }
            _ => None,
        }
    }

    /// The alert it is about, if any.
    pub fn alert(&self) -> Option<&AlertSelector> {
        match self {
            AlertClaim::Fires(alert) | AlertClaim::NeverFires(alert) => Some(alert),
            AlertClaim::FiresDuring { alert, .. } | AlertClaim::Resolves { alert, .. } => {
                Some(alert)
            }
            AlertClaim::Slo { .. } | AlertClaim::Panel { .. } => None,
        }
    }
}

/// Whether an `expect` entry is an alert claim rather than a comparison.
pub fn is_alert_claim(text: &str) -> bool {
    let first = text.split_whitespace().next();
    matches!(first, Some("alert" | "slo" | "panel"))
}

/// A claim that does not parse: the byte it went wrong at, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertClaimError {
    pub offset: usize,
    pub message: String,
}

const FORMS: &str = "expected `alert NAME fires`, `alert NAME never fires`, `alert NAME fires \
                     during faults[I] within DUR`, `alert NAME resolves within DUR after \
                     faults[I]`, `slo SELECTOR within X of truth`, or `panel \"TITLE\" within X of truth`";

/// Parses one alert claim.
pub fn parse_alert_claim(text: &str) -> Result<AlertExpectation, AlertClaimError> {
    let mut words = Words { text, pos: 0 };
    let claim = match words.word()? {
        (_, "alert") => alert_claim(&mut words)?,
        (_, "slo") => slo_claim(&mut words)?,
        (_, "panel") => panel_claim(&mut words)?,
        (at, _) => return Err(words.error_at(at, FORMS)),
    };
    if let Ok((at, extra)) = words.word() {
        return Err(words.error_at(at, format!("unexpected `{extra}` after the claim")));
    }
    Ok(AlertExpectation {
        text: text.to_string(),
        claim,
    })
}

fn alert_claim(words: &mut Words<'_>) -> Result<AlertClaim, AlertClaimError> {
    let alert = words.alert_selector()?;
    let (at, verb) = words.word()?;
    match verb {
        "fires" => {
            if words.at_end() {
                return Ok(AlertClaim::Fires(alert));
            }
            words.keyword("during")?;
            let fault = words.fault()?;
            words.keyword("within")?;
            let within = words.duration()?;
            Ok(AlertClaim::FiresDuring {
                alert,
                fault,
                within,
            })
        }
        "never" => {
            words.keyword("fires")?;
            Ok(AlertClaim::NeverFires(alert))
        }
        "resolves" => {
            words.keyword("within")?;
            let within = words.duration()?;
            words.keyword("after")?;
            let fault = words.fault()?;
            Ok(AlertClaim::Resolves {
                alert,
                fault,
                within,
            })
        }
        _ => Err(words.error_at(at, format!("unknown verb `{verb}`: {FORMS}"))),
    }
}

fn slo_claim(words: &mut Words<'_>) -> Result<AlertClaim, AlertClaimError> {
    let (_, series) = words.selector()?;
    let tolerance = words.tolerance()?;
    Ok(AlertClaim::Slo {
        series: series.to_string(),
        tolerance,
    })
}

fn panel_claim(words: &mut Words<'_>) -> Result<AlertClaim, AlertClaimError> {
    let title = words.quoted()?;
    let tolerance = words.tolerance()?;
    Ok(AlertClaim::Panel { title, tolerance })
}

impl Words<'_> {
    /// `within X of truth`, `within X% of truth`.
    fn tolerance(&mut self) -> Result<Tolerance, AlertClaimError> {
        let words = self;
        words.keyword("within")?;
        let (at, amount) = words.word()?;
        let (number, relative) = match amount.strip_suffix('%') {
            Some(number) => (number, true),
            None => (amount, false),
        };
        let value: f64 = number
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                words.error_at(
                    at,
                    format!("`{amount}`: expected a tolerance such as 0.05 or 10%"),
                )
            })?;
        words.keyword("of")?;
        words.keyword("truth")?;
        Ok(if relative {
            Tolerance::Relative(value / 100.0)
        } else {
            Tolerance::Absolute(value)
        })
    }

    /// `"TITLE"`: a double-quoted string, `\"` and `\\` escaped within.
    fn quoted(&mut self) -> Result<String, AlertClaimError> {
        self.skip_space();
        let start = self.pos;
        let rest = &self.text[start..];
        let expected = || "expected a panel's title in double quotes: `panel \"Error rate\" ...`";
        let Some(inner) = rest.strip_prefix('"') else {
            return Err(self.error_at(start, expected()));
        };
        let mut title = String::new();
        let mut chars = inner.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + 1 + at + 1;
                    if title.is_empty() {
                        return Err(self.error_at(start, "the panel's title is empty"));
                    }
                    return Ok(title);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => title.push(escaped),
                    None => break,
                },
                c => title.push(c),
            }
        }
        Err(self.error_at(
            start,
            format!("the title's quote is never closed: {}", expected()),
        ))
    }
}

/// The claim's words, with their byte offsets for errors.
struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_space();
        self.pos >= self.text.len()
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> AlertClaimError {
        AlertClaimError {
            offset,
            message: message.into(),
        }
    }

    /// The next word: up to whitespace, or a selector's whole `{...}`.
    fn word(&mut self) -> Result<(usize, &'a str), AlertClaimError> {
        self.skip_space();
        let start = self.pos;
        if start >= self.text.len() {
            return Err(self.error_at(start, format!("the claim ends too soon: {FORMS}")));
        }
        let mut depth = 0usize;
        let mut quoted = false;
        for (at, c) in self.text[start..].char_indices() {
            match c {
                '"' => quoted = !quoted,
                '{' if !quoted => depth += 1,
                '}' if !quoted => depth = depth.saturating_sub(1),
                c if c.is_whitespace() && depth == 0 && !quoted => {
                    self.pos = start + at;
                    return Ok((start, &self.text[start..self.pos]));
                }
                _ => {}
            }
        }
        self.pos = self.text.len();
        Ok((start, &self.text[start..]))
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), AlertClaimError> {
        let (at, word) = self.word()?;
        if word == keyword {
            return Ok(());
        }
        Err(self.error_at(at, format!("expected `{keyword}`, found `{word}`: {FORMS}")))
    }

    fn selector(&mut self) -> Result<(usize, &'a str), AlertClaimError> {
        self.word()
    }

    /// `NAME` or `NAME{key="value", ...}`.
    fn alert_selector(&mut self) -> Result<AlertSelector, AlertClaimError> {
        let (at, word) = self.word()?;
        let (name, labels) = match word.find('{') {
            Some(open) => (&word[..open], Some(&word[open..])),
            None => (word, None),
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid {
            return Err(self.error_at(at, format!("`{name}`: expected an alert's name")));
        }
        let labels = match labels {
            Some(text) => label_pairs(text).map_err(|message| self.error_at(at, message))?,
            None => Vec::new(),
        };
        Ok(AlertSelector {
            name: name.to_string(),
            labels,
        })
    }

    /// `faults[I]`.
    fn fault(&mut self) -> Result<usize, AlertClaimError> {
        let (at, word) = self.word()?;
        word.strip_prefix("faults[")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|index| index.parse().ok())
            .ok_or_else(|| {
                self.error_at(at, format!("`{word}`: expected a fault entry, `faults[0]`"))
            })
    }

    fn duration(&mut self) -> Result<Duration, AlertClaimError> {
        let (at, word) = self.word()?;
        parse_duration(word).map_err(|problem| self.error_at(at, format!("`{word}`: {problem}")))
    }
}

/// `{key="value", ...}` as pairs.
fn label_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let inner = text
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| format!("`{text}`: expected `{{key=\"value\", ...}}`"))?;
    let mut pairs = Vec::new();
    for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("`{pair}`: expected key=\"value\""))?;
        let value = value
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| format!("`{pair}`: the value must be in double quotes"))?;
        pairs.push((key.trim().to_string(), value.to_string()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        let claim = |text: &str| parse_alert_claim(text).unwrap().claim;
        assert!(matches!(
            claim("alert HighErrorRate fires"),
            AlertClaim::Fires(_)
        ));
        assert!(matches!(
            claim("alert HighErrorRate never fires"),
            AlertClaim::NeverFires(_)
        ));
        let during =
            claim(r#"alert NodeDown{instance="server-1"} fires during faults[2] within 1m"#);
        let AlertClaim::FiresDuring {
            alert,
            fault,
            within,
        } = during
        else {
            panic!("{during:?}");
        };
        assert_eq!(alert.labels, vec![("instance".into(), "server-1".into())]);
        assert_eq!((fault, within), (2, Duration::from_secs(60)));
        let resolves = claim("alert NodeDown resolves within 2m after faults[0]");
        assert!(matches!(resolves, AlertClaim::Resolves { fault: 0, .. }));
        let slo = claim(r#"slo slo:period_burn_rate:ratio{sloth_id="a b"} within 10% of truth"#);
        assert_eq!(
            slo,
            AlertClaim::Slo {
                series: r#"slo:period_burn_rate:ratio{sloth_id="a b"}"#.into(),
                tolerance: Tolerance::Relative(0.1)
            }
        );
    }

    #[test]
    fn a_panel_claim_names_its_panel_in_quotes() {
        let claim = parse_alert_claim(r#"panel "Error rate \"5m\"" within 0.01 of truth"#)
            .unwrap()
            .claim;
        assert_eq!(
            claim,
            AlertClaim::Panel {
                title: "Error rate \"5m\"".into(),
                tolerance: Tolerance::Absolute(0.01)
            }
        );
        let error = parse_alert_claim("panel Error within 10% of truth").unwrap_err();
        assert_eq!(error.offset, 6);
        assert!(error
            .message
            .starts_with("expected a panel's title in double quotes"));
        let error = parse_alert_claim(r#"panel "Error within 10% of truth"#).unwrap_err();
        assert!(error.message.contains("never closed"), "{error:?}");
        assert!(is_alert_claim(r#"panel "x" within 1 of truth"#));
    }

    #[test]
    fn a_bad_claim_says_where_and_what_was_expected() {
        let error =
            parse_alert_claim("alert HighErrorRate fires during fault[0] within 1m").unwrap_err();
        assert_eq!(error.offset, 33);
        assert!(
            error.message.contains("expected a fault entry"),
            "{error:?}"
        );
        let error = parse_alert_claim("alert HighErrorRate pages").unwrap_err();
        assert!(error.message.contains("unknown verb `pages`"), "{error:?}");
        let error = parse_alert_claim("alert X fires extra").unwrap_err();
        assert!(error.message.contains("expected `during`"), "{error:?}");
        assert!(is_alert_claim("  alert X fires"));
        assert!(!is_alert_claim("alerts.fired == 1"));
    }
}
