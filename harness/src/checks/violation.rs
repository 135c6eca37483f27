use std::fmt;
use std::time::Duration;

use crate::run::Check;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub check: Check,
    /// The metric series or span the violation is about.
    pub subject: String,
    pub node: Option<String>,
    /// Simulated time since the run started.
    pub at: Option<Duration>,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.check, self.subject)?;
        if let Some(node) = &self.node {
            write!(f, " on {node}")?;
        }
        if let Some(at) = self.at {
            write!(f, " at {:.3}s", at.as_secs_f64())?;
        }
        write!(f, ": {}", self.message)
    }
}
