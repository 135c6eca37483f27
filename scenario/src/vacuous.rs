//! Claims that cannot fail, and claims that cannot hold: an `expect` entry
//! that says the same whatever the run does tests nothing, so the loader
//! refuses it with the reason.
//!
//! A claim is moved to one side, `a₁·q₁ + … + aₙ·qₙ + c OP 0`, each
//! quantity `q` counted with its coefficient (a quantity on both sides
//! cancels), and then decided as far as what is known at load:
//! - no quantity is left: `c OP 0` is true or false whatever the run does
//!   (`final(x) == final(x)`, `final(x) - final(x) == 0`, `1 >= 0`);
//! - every quantity left is a count (never below 0: everything but
//!   `final(..)` and `max(..)`, which a gauge may take below 0) and all
//!   their coefficients have one sign: the sum ranges over `[0, ∞)`, so
//!   `>= 0`, `> -1` and `!= -2` always hold and `< 0`, `<= -1` and `== -3`
//!   never do.
//!
//! Nothing more is assumed of a quantity: `outcomes.ok <= outcomes.total`
//! holds in every run too, but only because of what the harness counts,
//! which this module does not try to know.
//!
//! And `faults.<kind>` of a kind no fault of the file can log reads 0 in
//! every run: [`logged_kinds`] says which kinds a file's faults can log.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use obsim_faults::{Effect, Fault, FaultKind};

use crate::decimal::Decimal;
use crate::expect::{Comparison, Expectation, Quantity, Sign, Term};

/// How many characters of a claim a message quotes at most: what any
/// error quotes of a value.
const QUOTED_MAX: usize = obsim_rules::input::EXCERPT_CHARS_MAX;

/// Why `expectation` says the same whatever the run does, or None if a run
/// can make it hold and another make it fail (as far as the loader knows).
pub(crate) fn vacuous(expectation: &Expectation) -> Option<String> {
    let linear = Linear::of(expectation)?;
    let claim = quoted(&expectation.text);
    if linear.terms.is_empty() {
        let ordering = linear.constant.checked_cmp(Decimal::from_u64(0))?;
        let holds = expectation.comparison.holds_for(Some(ordering));
        let why = match linear.cancelled.as_slice() {
            [] => "it compares numbers only".to_string(),
            [one] => format!("it compares {} with itself", cut(one)),
            several => format!("it compares {} each with itself", cut(&and_list(several))),
        };
        return Some(format!("{claim} {}: {why}", verdict(holds)));
    }
    let counts = linear.terms.iter().all(|term| is_count(&term.quantity));
    let positive = linear.terms.iter().all(|term| term.coefficient > 0);
    let negative = linear.terms.iter().all(|term| term.coefficient < 0);
    if !counts || !(positive || negative) {
        return None;
    }
    // `S + c OP 0` with S >= 0, as `S OP' bound`.
    let (comparison, bound) = if positive {
        (expectation.comparison, linear.constant.negated())
    } else {
        (flipped(expectation.comparison), linear.constant)
    };
    let zero = bound.checked_cmp(Decimal::from_u64(0))?;
    let holds = match (comparison, zero) {
        (Comparison::Ge, Ordering::Less | Ordering::Equal) => true,
        (Comparison::Gt | Comparison::Ne, Ordering::Less) => true,
        (Comparison::Le | Comparison::Eq, Ordering::Less) => false,
        (Comparison::Lt, Ordering::Less | Ordering::Equal) => false,
        _ => return None,
    };
    let sum = linear.sum_text();
    let what = if linear.terms.len() == 1 {
        format!("{sum} is a count")
    } else {
        format!("{sum} is a sum of counts")
    };
    Some(format!("{claim} {}: {what}, never below 0", verdict(holds)))
}

/// Every kind of fault-log event a file's faults can log: each entry's
/// kind, and the second half it has (a restart, a resume, a heal); with
/// swarm mode, those of every kind it draws from. `faults.<kind>` of any
/// other kind reads 0 in every run.
pub(crate) fn logged_kinds(faults: &[Fault], swarm: Option<&[FaultKind]>) -> BTreeSet<FaultKind> {
    let mut kinds = BTreeSet::new();
    for fault in faults {
        kinds.insert(fault.kind());
        let second_half = match &fault.effect {
            Effect::NodeCrash { restart_after }
            | Effect::CrashDuringTransaction { restart_after } => {
                restart_after.map(|_| FaultKind::NodeRestart)
            }
            Effect::NodePause => Some(FaultKind::NodeResume),
            Effect::NetworkPartition(_) => fault.duration.map(|_| FaultKind::NetworkHeal),
            _ => None,
        };
        kinds.extend(second_half);
    }
    // A swarm's crashes restart, its pauses resume and its partitions heal.
    for &kind in swarm.unwrap_or_default() {
        kinds.insert(kind);
        kinds.extend(match kind {
            FaultKind::NodeCrash | FaultKind::CrashDuringTransaction => {
                Some(FaultKind::NodeRestart)
            }
            FaultKind::NodePause => Some(FaultKind::NodeResume),
            FaultKind::NetworkPartition => Some(FaultKind::NetworkHeal),
            _ => None,
        });
    }
    kinds
}

/// Why `claim` tests nothing when it counts `faults.<kind>` and no fault of
/// its file (`faults`, or the kinds its swarm draws from) logs that kind:
/// what would log it, and what the file asks for instead.
pub(crate) fn unlogged_kind(
    claim: &str,
    kind: FaultKind,
    faults: &[Fault],
    swarm: Option<&[FaultKind]>,
) -> String {
    let claim = quoted(claim);
    let head = format!("{claim} counts faults.{kind}, which reads 0 in every run");
    if faults.is_empty() && swarm.is_none() {
        return format!("{head}: this file asks for no faults");
    }
    let why = match kind {
        FaultKind::NodeRestart => "no fault of this file restarts a node (a node_crash or \
                                   crash_during_transaction with restart_after)"
            .to_string(),
        FaultKind::NetworkHeal => {
            "no network_partition of this file heals (one with `for`)".to_string()
        }
        _ => format!("this file does not ask for {kind}"),
    };
    let asked = match swarm {
        Some(kinds) => {
            let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
            format!("its swarm draws from {}", names.join(", "))
        }
        None => {
            let mut names: Vec<&str> = Vec::new();
            for fault in faults {
                let name = fault.kind().as_str();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            format!("it asks for {}", names.join(", "))
        }
    };
    format!("{head}: {why}; {asked}")
}

fn verdict(holds: bool) -> &'static str {
    if holds {
        "holds whatever the run does"
    } else {
        "can never hold"
    }
}

/// `a >= b` is `b <= a`: the comparison with its sides swapped.
fn flipped(comparison: Comparison) -> Comparison {
    match comparison {
        Comparison::Ge => Comparison::Le,
        Comparison::Le => Comparison::Ge,
        Comparison::Gt => Comparison::Lt,
        Comparison::Lt => Comparison::Gt,
        Comparison::Eq | Comparison::Ne => comparison,
    }
}

/// Whether a quantity is a count: never below 0, whatever the run. A
/// metric's value (`final`, `max`) may be a gauge's, which may be.
fn is_count(quantity: &Quantity) -> bool {
    !matches!(quantity, Quantity::Final(_) | Quantity::Max(_))
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[String]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// The claim in backquotes, cut to [`QUOTED_MAX`] characters.
fn quoted(text: &str) -> String {
    format!("`{}`", cut(text.trim()))
}

/// `text` cut to [`QUOTED_MAX`] characters.
fn cut(text: &str) -> String {
    obsim_rules::input::shortened(text, QUOTED_MAX).into_owned()
}

/// One quantity of a claim moved to one side, with its coefficient.
struct LinearTerm {
    /// Its canonical text, labels sorted: two selectors of the same labels
    /// in another order are the same quantity.
    key: String,
    /// As first written, for messages.
    shown: String,
    quantity: Quantity,
    coefficient: i64,
}

/// A claim as `Σ coefficient·quantity + constant OP 0`.
struct Linear {
    /// The quantities whose coefficient is not 0, in the order first written.
    terms: Vec<LinearTerm>,
    /// The quantities that cancelled out, as first written.
    cancelled: Vec<String>,
    constant: Decimal,
}

impl Linear {
    /// None when the constant does not fit (the claim is then left to the
    /// run, which reports that).
    fn of(expectation: &Expectation) -> Option<Linear> {
        let mut terms: Vec<LinearTerm> = Vec::new();
        let mut constant = Decimal::from_u64(0);
        let sides = [(&expectation.left, 1), (&expectation.right, -1)];
        for (sum, side) in sides {
            for (sign, term) in &sum.terms {
                let sign = match sign {
                    Sign::Plus => side,
                    Sign::Minus => -side,
                };
                match term {
                    Term::Number(number) => {
                        let number = if sign > 0 { *number } else { number.negated() };
                        constant = constant.checked_add(number)?;
                    }
                    Term::Quantity(quantity) => {
                        let key = canonical(quantity);
                        match terms.iter_mut().find(|term| term.key == key) {
                            Some(term) => term.coefficient = term.coefficient.saturating_add(sign),
                            None => terms.push(LinearTerm {
                                key,
                                shown: quantity.to_string(),
                                quantity: quantity.clone(),
                                coefficient: sign,
                            }),
                        }
                    }
                }
            }
        }
        let (terms, cancelled): (Vec<LinearTerm>, Vec<LinearTerm>) =
            terms.into_iter().partition(|term| term.coefficient != 0);
        Some(Linear {
            terms,
            cancelled: cancelled.into_iter().map(|term| term.shown).collect(),
            constant,
        })
    }

    /// The quantities left, each once: `a + b`.
    fn sum_text(&self) -> String {
        let parts: Vec<&str> = self.terms.iter().map(|term| term.shown.as_str()).collect();
        cut(&parts.join(" + "))
    }
}

/// A quantity's text with its selector's labels sorted.
fn canonical(quantity: &Quantity) -> String {
    let mut quantity = quantity.clone();
    let selector = match &mut quantity {
        Quantity::Spans(selector)
        | Quantity::SpanRoots(selector)
        | Quantity::SpanOrphans(selector)
        | Quantity::SpanLost(selector)
        | Quantity::Logs(selector)
        | Quantity::Scrapes(selector)
        | Quantity::ScrapeRecoveries(selector)
        | Quantity::Messages { selector, .. }
        | Quantity::Storage { selector, .. }
        | Quantity::Requests { selector, .. }
        | Quantity::Calls { selector, .. }
        | Quantity::Attempts { selector, .. }
        | Quantity::Dependencies { selector, .. } => Some(selector),
        Quantity::Final(metric) | Quantity::Max(metric) => Some(&mut metric.selector),
        Quantity::Faults(_) | Quantity::Outcomes(_) | Quantity::Amounts(_) => None,
    };
    if let Some(selector) = selector {
        selector.labels.sort();
    }
    quantity.to_string()
}
