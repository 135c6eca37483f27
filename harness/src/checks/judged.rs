//! What one run says of each claim it is held to, one by one: every
//! expectation of the scenario (alert claims included) and every accuracy
//! rule of the system's contract. A check's violations say only that a
//! claim broke; shrinking also needs to know which claim, and whether it
//! broke with a value or could not be evaluated at all.

use std::collections::BTreeMap;
use std::fmt;

use super::Violation;

/// One claim, by its text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    /// A line of the scenario's `expect` (an alert claim included).
    Expectation(String),
    /// An accuracy rule of the system's contract (`Contract::accurate`).
    Rule(String),
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Claim::Expectation(text) => write!(f, "expectation `{text}`"),
            Claim::Rule(text) => write!(f, "accuracy rule `{text}`"),
        }
    }
}

/// What a run says of one claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    Holds,
    /// It was evaluated, and the values it read make it false.
    Fails,
    /// It could not be evaluated: a selector that matches nothing, a
    /// ground-truth key the run never recorded, a final exposition that does
    /// not parse, an alert with nothing to resolve. Not a value.
    Unevaluable,
}

impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Judgement::Holds => "holds",
            Judgement::Fails => "fails with a value",
            Judgement::Unevaluable => "cannot be evaluated",
        })
    }
}

/// Why a claim does not hold, worded for its violation's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// Evaluated, and false: the message gives the values it read.
    False(String),
    /// Not evaluated: the message says what it could not read.
    Unevaluable(String),
}

impl Miss {
    pub(crate) fn judgement(&self) -> Judgement {
        match self {
            Miss::False(_) => Judgement::Fails,
            Miss::Unevaluable(_) => Judgement::Unevaluable,
        }
    }
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Miss::False(message) | Miss::Unevaluable(message) => f.write_str(message),
        }
    }
}

/// Every claim one run was held to, with what the run says of it, in the
/// claims' order (a `BTreeMap`, so the same run judges the same way).
#[derive(Clone, Debug, Default)]
pub(crate) struct Judgements {
    judged: BTreeMap<Claim, Judgement>,
    /// The violation each claim that did not hold was reported as, to find
    /// the claim behind a violation.
    reported: Vec<(Violation, Claim)>,
}

impl Judgements {
    /// Records what the run says of `claim`, and the violation it was
    /// reported as when it did not hold.
    /// Records what the run says of expectation `text`, whose evaluation
    /// gave `result`, and returns its violation if it did not hold.
    pub(crate) fn expectation(
        &mut self,
        text: &str,
        result: Result<(), Miss>,
    ) -> Option<Violation> {
        let claim = Claim::Expectation(text.to_string());
        let Err(miss) = result else {
            self.record(claim, Judgement::Holds, None);
            return None;
        };
        let violation = Violation {
            check: super::Check::Expectation,
            subject: format!("`{text}`"),
            node: None,
            at: None,
            message: miss.to_string(),
        };
        self.record(claim, miss.judgement(), Some(&violation));
        Some(violation)
    }

    pub(crate) fn record(
        &mut self,
        claim: Claim,
        judgement: Judgement,
        reported: Option<&Violation>,
    ) {
        if let Some(violation) = reported {
            self.reported.push((violation.clone(), claim.clone()));
        }
        self.judged.insert(claim, judgement);
    }

    /// What the run says of `claim`; None when the run did not judge it
    /// (a claim about a fault's window, say, in a run without that fault).
    pub(crate) fn get(&self, claim: &Claim) -> Option<Judgement> {
        self.judged.get(claim).copied()
    }

    /// The claim `violation` reports, if it reports one.
    pub(crate) fn claim_of(&self, violation: &Violation) -> Option<&Claim> {
        let found = self
            .reported
            .iter()
            .find(|(reported, _)| reported == violation);
        found.map(|(_, claim)| claim)
    }

    /// Every claim judged, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Claim, Judgement)> {
        self.judged
            .iter()
            .map(|(claim, judgement)| (claim, *judgement))
    }
}
