//! One copy of each string a run records many times.

use std::sync::Arc;

/// Distinct strings an interner keeps per run. Past it, a string is still
/// recorded, in an allocation of its own: the interner's memory is bounded
/// whatever a system puts in its attributes, and the strings spans repeat
/// most (keys, file paths, module and service names) come first.
const INTERNED_MAX: usize = 16_384;

/// Text a run records over and over, each distinct string held once per
/// run. A span carries eight or so attributes, most of them the same text
/// as on every other span (`code.file.path` and its path, `rpc.system`,
/// ...), and every call, attempt and request names its node, method,
/// operation and outcome; shared, they cost a pointer each instead of an
/// allocation each.
///
/// A hash set, not a B-tree: the strings share long prefixes (file paths,
/// `code.`), which made every ordered lookup a run of long comparisons. It
/// is only ever looked up, never iterated, so its order cannot reach a
/// report; the hasher has fixed keys all the same. foldhash rather than
/// the standard SipHash: these are a run's own strings, not an attacker's,
/// and SipHash was a tenth of every interned lookup (perf, `obsim bench`).
#[derive(Debug, Default)]
pub(crate) struct Interner(std::collections::HashSet<Arc<str>, foldhash::fast::FixedState>);

impl Interner {
    pub(crate) fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        if self.0.len() < INTERNED_MAX {
            self.0.insert(shared.clone());
        }
        shared
    }
}
