//! Expectations: arithmetic comparisons between counts a run produced, such
//! as `faults.node_crash == faults.node_restart` or
//! `final(requests_total{status="ok"}) >= 0.9 * ...`. This module only parses
//! them into an AST; the harness evaluates them against a run.
//!
//! ```text
//! expectation := sum OP sum              OP: == != >= <= > <
//! sum         := term (("+" | "-") term)*
//! term        := NUMBER | quantity
//! ```

use crate::decimal::{Decimal, DIGITS_MAX};
use std::fmt;

use obsim_faults::FaultKind;

/// One parsed expectation, with the text it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub text: String,
    pub left: Sum,
    pub comparison: Comparison,
    pub right: Sum,
}

/// Terms added or subtracted; the first term's sign is always `Plus`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sum {
    pub terms: Vec<(Sign, Term)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    Plus,
    Minus,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// A literal, exact: `0.1` is one tenth, not the f64 nearest it.
    Number(Decimal),
    Quantity(Quantity),
}

/// A count taken from a run.
#[derive(Clone, Debug, PartialEq)]
pub enum Quantity {
    /// `faults.<kind>`: fault-log events of that kind.
    Faults(FaultKind),
    /// `outcomes.<status>`: client outcomes with that status; None is
    /// `outcomes.total`, every outcome.
    Outcomes(Option<String>),
    /// `amounts.<name>`: a running total the client recorded with
    /// `ClientContext::record_amount` (bytes sent, late replies, ...).
    Amounts(String),
    /// `spans{name, kind, status}`: exported spans.
    Spans(Selector),
    /// `spans.roots{name, kind, status}`: exported spans with no parent: the
    /// start of a trace. A hop that drops the context starts a new one.
    SpanRoots(Selector),
    /// `spans.orphaned{name, kind, status}`: exported spans whose parent was
    /// never exported in their trace: a trace with a hole in it.
    SpanOrphans(Selector),
    /// `spans.lost{name, node}`: spans a crash lost: still open when their
    /// node incarnation went down, so never exported, as a killed process
    /// exports none of its in-flight spans.
    SpanLost(Selector),
    /// `scrapes{node, up}`: scrapes.
    Scrapes(Selector),
    /// `scrapes.recovered{node}`: up scrapes right after a down scrape of the
    /// same node.
    ScrapeRecoveries(Selector),
    /// `messages.<fate>{message}`: the network's ground truth.
    Messages { fate: Fate, selector: Selector },
    /// `storage.<result>{operation, node}`: storage operations the harness
    /// completed (`ok`, `failed`, `total`), or torn transactions recovery
    /// rolled back (`recovered`, by node only): the storage's ground truth.
    Storage {
        result: StorageResult,
        selector: Selector,
    },
    /// `requests.<status>{node, method, operation}`: requests the servers
    /// accepted through obsim's network (`total`), answered with that
    /// status (`ok`, `error`, or the reply type's own word), or never
    /// answered (`unanswered`).
    Requests { status: String, selector: Selector },
    /// `calls.<outcome>{node, operation}`: calls made with `Network::call`,
    /// by the outcome their caller finished them with (`total`: all).
    Calls { outcome: String, selector: Selector },
    /// `attempts.<outcome>{node, operation, method}`: the attempts of those
    /// calls, by the reply's status, `timeout` or `network_error`.
    Attempts { outcome: String, selector: Selector },
    /// `dependencies.<ok|failed|total>{dependency, operation, node}`: calls
    /// through a dependency boundary that completed, by result.
    Dependencies {
        result: StorageResult,
        selector: Selector,
    },
    /// `final(metric{labels})`: summed over every incarnation's final
    /// exposition.
    Final(MetricSelector),
    /// `max(metric{labels})`: the largest per-scrape sum over up scrapes.
    Max(MetricSelector),
    /// `logs{level, target, message, node}`: log events the service emitted
    /// (those its contract's level filter lets through).
    Logs(Selector),
}

impl Expectation {
    /// The fault kinds its `faults.<kind>` quantities count, in the order
    /// written, each once.
    pub fn fault_kinds(&self) -> Vec<FaultKind> {
        let mut kinds = Vec::new();
        for (_, term) in self.left.terms.iter().chain(&self.right.terms) {
            if let Term::Quantity(Quantity::Faults(kind)) = term {
                if !kinds.contains(kind) {
                    kinds.push(*kind);
                }
            }
        }
        kinds
    }

    /// Every node a selector of it names, with the nodes that could match
    /// there: storage lives on servers only; scrapes and expositions come
    /// from the servers and the client.
    pub fn named_nodes(&self) -> Vec<(&str, NodeScope)> {
        let terms = self.left.terms.iter().chain(&self.right.terms);
        let quantities = terms.filter_map(|(_, term)| match term {
            Term::Quantity(quantity) => Some(quantity),
            Term::Number(_) => None,
        });
        let mut named = Vec::new();
        for quantity in quantities {
            let (selector, scope) = match quantity {
                Quantity::Scrapes(selector) | Quantity::ScrapeRecoveries(selector) => {
                    (selector, NodeScope::Scraped)
                }
                Quantity::Storage { selector, .. }
                | Quantity::Requests { selector, .. }
                | Quantity::Dependencies { selector, .. } => (selector, NodeScope::Servers),
                Quantity::Calls { selector, .. } | Quantity::Attempts { selector, .. } => {
                    (selector, NodeScope::Scraped)
                }
                Quantity::Final(metric) | Quantity::Max(metric) => {
                    (&metric.selector, NodeScope::Scraped)
                }
                _ => continue,
            };
            let nodes = selector.labels.iter().filter(|(key, _)| key == "node");
            named.extend(nodes.map(|(_, node)| (node.as_str(), scope)));
        }
        named
    }
}

/// Where a selector's `node` can match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeScope {
    /// `server-<n>` only.
    Servers,
    /// The servers and `client`: every node that serves metrics.
    Scraped,
}

/// Label matchers, in the order written. Empty matches everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Selector {
    pub labels: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricSelector {
    pub metric: String,
    pub selector: Selector,
}

/// Which storage operations a `storage.<result>` quantity counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageResult {
    Ok,
    Failed,
    Total,
    Recovered,
}

impl StorageResult {
    pub const ALL: [StorageResult; 4] = [
        StorageResult::Ok,
        StorageResult::Failed,
        StorageResult::Total,
        StorageResult::Recovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StorageResult::Ok => "ok",
            StorageResult::Failed => "failed",
            StorageResult::Total => "total",
            StorageResult::Recovered => "recovered",
        }
    }
}

/// What happened to a message on the simulated network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fate {
    Sent,
    Received,
    Lost,
    Cut,
    Duplicated,
}

impl Fate {
    pub const ALL: [Fate; 5] = [
        Fate::Sent,
        Fate::Received,
        Fate::Lost,
        Fate::Cut,
        Fate::Duplicated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Sent => "sent",
            Fate::Received => "received",
            Fate::Lost => "lost",
            Fate::Cut => "cut",
            Fate::Duplicated => "duplicated",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

impl Comparison {
    /// Longest first, so `>=` is not read as `>` followed by `=`.
    pub const ALL: [Comparison; 6] = [
        Comparison::Eq,
        Comparison::Ne,
        Comparison::Ge,
        Comparison::Le,
        Comparison::Gt,
        Comparison::Lt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
            Comparison::Ge => ">=",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Lt => "<",
        }
    }

    /// Whether `left OP right`. Exact on floats: the quantities are counts,
    /// and a NaN makes every comparison but `!=` fail.
    /// Whether the comparison holds for `left` against `right` ordered as
    /// `ordering`; None (incomparable, a NaN) never holds.
    pub fn holds_for(self, ordering: Option<std::cmp::Ordering>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let Some(ordering) = ordering else {
            return self == Comparison::Ne;
        };
        match self {
            Comparison::Eq => ordering == Equal,
            Comparison::Ne => ordering != Equal,
            Comparison::Ge => ordering != Less,
            Comparison::Le => ordering != Greater,
            Comparison::Gt => ordering == Greater,
            Comparison::Lt => ordering == Less,
        }
    }

    /// `holds_for` on two floats; a NaN holds only for `!=`.
    pub fn holds(self, left: f64, right: f64) -> bool {
        self.holds_for(left.partial_cmp(&right))
    }
}

/// Why an expectation did not parse: `offset` is the byte offset in the text
/// where parsing stopped, and the message says what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectationError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ExpectationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ExpectationError {}

const QUANTITY_FORMS: &str =
    "a number or one of faults.<kind>, outcomes.<status>, outcomes.total, amounts.<name>, \
spans{name, kind, status}, spans.roots{..}, logs{level, target, message, node}, spans.orphaned{..}, scrapes{node, up}, scrapes.recovered{node}, \
messages.<fate>{message}, storage.<ok|failed|total>{operation, node, incarnation}, storage.recovered{node}, \
requests.<status|total|unanswered>{node, incarnation, method, operation}, calls.<outcome|total>{node, incarnation, operation}, \
attempts.<outcome|total>{node, incarnation, operation, method}, \
dependencies.<ok|failed|total>{dependency, operation, node, incarnation}, final(<metric>{labels}), max(<metric>{labels})";

/// The values a key of the harness's own selector `keys` can take; None for
/// the ones that name what the run produces (span and message names, nodes,
/// which the scenario checks against its topology, workload operations).
fn fixed_values(keys: &[&str], key: &str) -> Option<&'static [&'static str]> {
    // Only storage's `operation` is the harness's own word; a request's or
    // a call's is the workload's, checked against the run.
    if key == "operation" && !std::ptr::eq(keys, STORAGE_KEYS) {
        return None;
    }
    match key {
        // OpenTelemetry's span kinds and status codes, as reports write them.
        "kind" => Some(&["client", "server", "internal", "producer", "consumer"]),
        "status" => Some(&["unset", "ok", "error"]),
        "up" => Some(&["0", "1"]),
        // tracing's levels, as the logs bridge maps them.
        "level" => Some(&["trace", "debug", "info", "warn", "error"]),
        "operation" => Some(&["get", "put", "delete"]),
        _ => None,
    }
}

const SPAN_KEYS: &[&str] = &["name", "kind", "status"];
const LOG_KEYS: &[&str] = &["level", "target", "message", "node"];
const LOST_SPAN_KEYS: &[&str] = &["name", "node"];
const SCRAPE_KEYS: &[&str] = &["node", "up"];
const RECOVERY_KEYS: &[&str] = &["node"];
const MESSAGE_KEYS: &[&str] = &["message"];
const STORAGE_KEYS: &[&str] = &["operation", "node", "incarnation"];
const RECOVERED_KEYS: &[&str] = &["node"];
const REQUEST_KEYS: &[&str] = &["node", "incarnation", "method", "operation"];
const CALL_KEYS: &[&str] = &["node", "incarnation", "operation"];
const ATTEMPT_KEYS: &[&str] = &["node", "incarnation", "operation", "method"];
const DEPENDENCY_KEYS: &[&str] = &["dependency", "operation", "node", "incarnation"];

/// Parses one expectation.
pub fn parse_expectation(text: &str) -> Result<Expectation, ExpectationError> {
    let mut parser = Parser { text, pos: 0 };
    let left = parser.sum()?;
    let comparison = parser.comparison()?;
    let right = parser.sum()?;
    parser.skip_space();
    if parser.pos < text.len() {
        return Err(parser.error("expected `+`, `-` or the end of the expectation"));
    }
    Ok(Expectation {
        text: text.to_string(),
        left,
        comparison,
        right,
    })
}

/// A recursive-descent parser over the text. `pos` only ever moves forward
/// over whole characters, so slicing at it cannot panic.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

type Parsed<T> = Result<T, ExpectationError>;

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn error(&self, message: impl Into<String>) -> ExpectationError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ExpectationError {
        ExpectationError {
            offset,
            message: message.into(),
        }
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn expect(&mut self, token: &str, context: &str) -> Parsed<()> {
        self.skip_space();
        if self.eat(token) {
            return Ok(());
        }
        Err(self.error(format!("expected `{token}` {context}")))
    }

    /// The longest run of characters matching `allowed` at the cursor.
    fn take_while(&mut self, allowed: impl Fn(usize, char) -> bool) -> &str {
        let start = self.pos;
        let length = self
            .rest()
            .char_indices()
            .find(|&(index, c)| !allowed(index, c))
            .map_or(self.rest().len(), |(index, _)| index);
        self.pos += length;
        &self.text[start..self.pos]
    }

    fn word(&mut self) -> &str {
        self.take_while(|_, c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn sum(&mut self) -> Parsed<Sum> {
        let mut terms = vec![(Sign::Plus, self.term()?)];
        loop {
            self.skip_space();
            let sign = if self.eat("+") {
                Sign::Plus
            } else if self.eat("-") {
                Sign::Minus
            } else {
                return Ok(Sum { terms });
            };
            terms.push((sign, self.term()?));
        }
    }

    fn comparison(&mut self) -> Parsed<Comparison> {
        self.skip_space();
        for comparison in Comparison::ALL {
            if self.eat(comparison.as_str()) {
                return Ok(comparison);
            }
        }
        Err(self.error("expected `+`, `-` or a comparison: one of ==, !=, >=, <=, >, <"))
    }

    fn term(&mut self) -> Parsed<Term> {
        self.skip_space();
        match self.rest().chars().next() {
            Some(c) if c.is_ascii_digit() => self.number().map(Term::Number),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.quantity().map(Term::Quantity),
            _ => Err(self.error(format!("expected {QUANTITY_FORMS}"))),
        }
    }

    fn number(&mut self) -> Parsed<Decimal> {
        let start = self.pos;
        self.take_while(|_, c| c.is_ascii_digit());
        if self.eat(".") && self.take_while(|_, c| c.is_ascii_digit()).is_empty() {
            return Err(self.error("expected a digit after the decimal point"));
        }
        let text = &self.text[start..self.pos];
        Decimal::parse(text).ok_or_else(|| {
            self.error_at(
                start,
                format!(
                    "{text} has more than {DIGITS_MAX} significant digits: numbers compare exactly, \
                     and that is as many as obsim holds"
                ),
            )
        })
    }

    fn quantity(&mut self) -> Parsed<Quantity> {
        let start = self.pos;
        let name = self.word().to_string();
        match name.as_str() {
            "faults" => self.fault_kind().map(Quantity::Faults),
            "outcomes" => self.outcome(),
            "amounts" => {
                let choices = "a name the client records with record_amount";
                let (_, word) = self.dotted("an amount", choices)?;
                Ok(Quantity::Amounts(word))
            }
            "spans" => self.spans(),
            "logs" => self.optional_selector(Some(LOG_KEYS)).map(Quantity::Logs),
            "scrapes" => self.scrapes(),
            "messages" => self.messages(),
            "storage" => self.storage(),
            "requests" => {
                let status = self.status("a request status", "total, unanswered, ok, error")?;
                let selector = self.optional_selector(Some(REQUEST_KEYS))?;
                Ok(Quantity::Requests { status, selector })
            }
            "calls" => {
                let outcome = self.status("a call outcome", "total, ok, error, timeout")?;
                let selector = self.optional_selector(Some(CALL_KEYS))?;
                Ok(Quantity::Calls { outcome, selector })
            }
            "attempts" => {
                let choices = "total, ok, error, timeout, network_error";
                let outcome = self.status("an attempt outcome", choices)?;
                let selector = self.optional_selector(Some(ATTEMPT_KEYS))?;
                Ok(Quantity::Attempts { outcome, selector })
            }
            "dependencies" => {
                let (start, word) = self.dotted("a dependency call result", "ok, failed, total")?;
                let result = match word.as_str() {
                    "ok" => StorageResult::Ok,
                    "failed" => StorageResult::Failed,
                    "total" => StorageResult::Total,
                    _ => {
                        let message = format!(
                            "unknown dependency call result `{word}`: expected ok, failed or total"
                        );
                        return Err(self.error_at(start, message));
                    }
                };
                let selector = self.optional_selector(Some(DEPENDENCY_KEYS))?;
                Ok(Quantity::Dependencies { result, selector })
            }
            "final" => self.metric("final").map(Quantity::Final),
            "max" => self.metric("max").map(Quantity::Max),
            _ => Err(self.error_at(
                start,
                format!("unknown quantity `{name}`: expected {QUANTITY_FORMS}"),
            )),
        }
    }

    /// `.name` right after a quantity's head, with no space: a dotted name.
    fn dotted(&mut self, what: &str, choices: &str) -> Parsed<(usize, String)> {
        if !self.eat(".") {
            return Err(self.error(format!("expected `.` then {what}: one of {choices}")));
        }
        let start = self.pos;
        let word = self.word().to_string();
        if word.is_empty() {
            return Err(self.error(format!("expected {what}: one of {choices}")));
        }
        Ok((start, word))
    }

    fn fault_kind(&mut self) -> Parsed<FaultKind> {
        let kinds: Vec<&str> = FaultKind::ALL.iter().map(|kind| kind.as_str()).collect();
        let choices = kinds.join(", ");
        let (start, word) = self.dotted("a fault kind", &choices)?;
        FaultKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == word)
            .ok_or_else(|| {
                self.error_at(
                    start,
                    format!("unknown fault kind `{word}`: expected one of {choices}"),
                )
            })
    }

    /// `.word`: a status the run names; the evaluation rejects one it never
    /// saw, since only the run knows the system's words.
    fn status(&mut self, what: &str, choices: &str) -> Parsed<String> {
        self.dotted(what, choices).map(|(_, word)| word)
    }

    fn outcome(&mut self) -> Parsed<Quantity> {
        let choices = "total or a status such as ok, error, timeout";
        let (_, word) = self.dotted("an outcome status", choices)?;
        Ok(Quantity::Outcomes((word != "total").then_some(word)))
    }

    fn spans(&mut self) -> Parsed<Quantity> {
        if !self.rest().starts_with('.') {
            return self.optional_selector(Some(SPAN_KEYS)).map(Quantity::Spans);
        }
        let (start, word) = self.dotted("a span count", "roots, orphaned, lost")?;
        if word == "lost" {
            return self
                .optional_selector(Some(LOST_SPAN_KEYS))
                .map(Quantity::SpanLost);
        }
        let quantity: fn(Selector) -> Quantity = match word.as_str() {
            "roots" => Quantity::SpanRoots,
            "orphaned" => Quantity::SpanOrphans,
            _ => {
                return Err(self.error_at(
                    start,
                    format!(
                    "unknown span count `{word}`: expected spans, spans.roots, spans.orphaned or \
                         spans.lost"
                ),
                ))
            }
        };
        self.optional_selector(Some(SPAN_KEYS)).map(quantity)
    }

    fn scrapes(&mut self) -> Parsed<Quantity> {
        if !self.rest().starts_with('.') {
            let selector = self.optional_selector(Some(SCRAPE_KEYS))?;
            return Ok(Quantity::Scrapes(selector));
        }
        let (start, word) = self.dotted("a scrape count", "recovered")?;
        if word != "recovered" {
            return Err(self.error_at(
                start,
                format!("unknown scrape count `{word}`: expected scrapes or scrapes.recovered"),
            ));
        }
        self.optional_selector(Some(RECOVERY_KEYS))
            .map(Quantity::ScrapeRecoveries)
    }

    fn messages(&mut self) -> Parsed<Quantity> {
        let choices: Vec<&str> = Fate::ALL.iter().map(|fate| fate.as_str()).collect();
        let choices = choices.join(", ");
        let (start, word) = self.dotted("a message fate", &choices)?;
        let fate = Fate::ALL
            .into_iter()
            .find(|fate| fate.as_str() == word)
            .ok_or_else(|| {
                self.error_at(
                    start,
                    format!("unknown message fate `{word}`: expected one of {choices}"),
                )
            })?;
        let selector = self.optional_selector(Some(MESSAGE_KEYS))?;
        Ok(Quantity::Messages { fate, selector })
    }

    fn storage(&mut self) -> Parsed<Quantity> {
        let choices: Vec<&str> = StorageResult::ALL.iter().map(|r| r.as_str()).collect();
        let choices = choices.join(", ");
        let (start, word) = self.dotted("a storage result", &choices)?;
        let result = StorageResult::ALL
            .into_iter()
            .find(|result| result.as_str() == word)
            .ok_or_else(|| {
                self.error_at(
                    start,
                    format!("unknown storage result `{word}`: expected one of {choices}"),
                )
            })?;
        // Recovery rolls back transactions, not operations: it has no
        // operation to select on.
        let keys = if result == StorageResult::Recovered {
            RECOVERED_KEYS
        } else {
            STORAGE_KEYS
        };
        let selector = self.optional_selector(Some(keys))?;
        Ok(Quantity::Storage { result, selector })
    }

    fn metric(&mut self, function: &str) -> Parsed<MetricSelector> {
        self.expect("(", &format!("after `{function}`"))?;
        self.skip_space();
        let metric = self
            .take_while(|index, c| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (index > 0 && c.is_ascii_digit())
            })
            .to_string();
        if metric.is_empty() {
            return Err(self.error("expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"));
        }
        let selector = self.optional_selector(None)?;
        self.expect(")", &format!("to close `{function}(`"))?;
        Ok(MetricSelector { metric, selector })
    }

    /// `{key="value", ...}` if the next token is `{`. `keys` None allows any
    /// label name.
    fn optional_selector(&mut self, keys: Option<&[&str]>) -> Parsed<Selector> {
        let before = self.pos;
        self.skip_space();
        if !self.eat("{") {
            // The space belongs to whatever follows.
            self.pos = before;
            return Ok(Selector::default());
        }
        let mut labels: Vec<(String, String)> = Vec::new();
        loop {
            let (start, key) = self.label_key(keys)?;
            if labels.iter().any(|(seen, _)| *seen == key) {
                return Err(self.error_at(
                    start,
                    format!("`{key}` is selected twice: expected each label once"),
                ));
            }
            self.expect("=", &format!("after `{key}`"))?;
            let value_at = self.pos;
            let value = self.label_value()?;
            // Only the harness's own selectors have fixed values: in a
            // metric's selector, `status` is whatever the service wrote.
            if let Some(values) = keys.and_then(|keys| fixed_values(keys, &key)) {
                if !values.contains(&value.as_str()) {
                    return Err(self.error_at(
                        value_at,
                        format!(
                            "`{key}` is never {value:?}, so this selects nothing: expected one of {}",
                            values.join(", ")
                        ),
                    ));
                }
            }
            labels.push((key, value));
            self.skip_space();
            if self.eat("}") {
                return Ok(Selector { labels });
            }
            if !self.eat(",") {
                return Err(self.error("expected `,` or `}` in the selector"));
            }
        }
    }

    fn label_key(&mut self, keys: Option<&[&str]>) -> Parsed<(usize, String)> {
        self.skip_space();
        let start = self.pos;
        let key = self
            .take_while(|index, c| {
                c.is_ascii_alphabetic() || c == '_' || (index > 0 && c.is_ascii_digit())
            })
            .to_string();
        let allowed = |key: &str| keys.is_none_or(|keys| keys.contains(&key));
        if key.is_empty() || !allowed(&key) {
            let expected = match keys {
                Some(keys) => format!("one of {}", keys.join(", ")),
                None => "a label name ([a-zA-Z_][a-zA-Z0-9_]*), or node or incarnation".to_string(),
            };
            let found = if key.is_empty() {
                String::new()
            } else {
                format!("unknown label `{key}`: ")
            };
            return Err(self.error_at(start, format!("{found}expected {expected}")));
        }
        Ok((start, key))
    }

    /// A double-quoted value; `\"` and `\\` escape a quote and a backslash.
    fn label_value(&mut self) -> Parsed<String> {
        self.skip_space();
        if !self.eat("\"") {
            return Err(self.error("expected a double-quoted value, e.g. \"ok\""));
        }
        let mut value = String::new();
        // Borrow the text, not the parser, so `pos` can move inside the loop.
        let text = self.text;
        let mut chars = text[self.pos..].char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += index + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                    _ => {
                        return Err(self.error_at(
                            self.pos + index,
                            "expected `\\\"` or `\\\\` after a backslash",
                        ))
                    }
                },
                c => value.push(c),
            }
        }
        Err(self.error_at(self.text.len(), "expected `\"` to close the value"))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (index, (key, value)) in self.labels.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            write!(f, "{separator}{key}=\"{escaped}\"")?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for MetricSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.metric, self.selector)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Faults(kind) => write!(f, "faults.{kind}"),
            Quantity::Outcomes(None) => f.write_str("outcomes.total"),
            Quantity::Outcomes(Some(status)) => write!(f, "outcomes.{status}"),
            Quantity::Amounts(name) => write!(f, "amounts.{name}"),
            Quantity::Spans(selector) => write!(f, "spans{selector}"),
            Quantity::SpanRoots(selector) => write!(f, "spans.roots{selector}"),
            Quantity::SpanOrphans(selector) => write!(f, "spans.orphaned{selector}"),
            Quantity::SpanLost(selector) => write!(f, "spans.lost{selector}"),
            Quantity::Logs(selector) => write!(f, "logs{selector}"),
            Quantity::Scrapes(selector) => write!(f, "scrapes{selector}"),
            Quantity::ScrapeRecoveries(selector) => write!(f, "scrapes.recovered{selector}"),
            Quantity::Messages { fate, selector } => {
                write!(f, "messages.{}{selector}", fate.as_str())
            }
            Quantity::Storage { result, selector } => {
                write!(f, "storage.{}{selector}", result.as_str())
            }
            Quantity::Requests { status, selector } => write!(f, "requests.{status}{selector}"),
            Quantity::Calls { outcome, selector } => write!(f, "calls.{outcome}{selector}"),
            Quantity::Attempts { outcome, selector } => write!(f, "attempts.{outcome}{selector}"),
            Quantity::Dependencies { result, selector } => {
                write!(f, "dependencies.{}{selector}", result.as_str())
            }
            Quantity::Final(metric) => write!(f, "final({metric})"),
            Quantity::Max(metric) => write!(f, "max({metric})"),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Exact, with no exponent, so it parses again to the same value.
            Term::Number(value) => write!(f, "{value}"),
            Term::Quantity(quantity) => write!(f, "{quantity}"),
        }
    }
}

impl fmt::Display for Sum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (sign, term)) in self.terms.iter().enumerate() {
            match (index, sign) {
                (0, _) => write!(f, "{term}")?,
                (_, Sign::Plus) => write!(f, " + {term}")?,
                (_, Sign::Minus) => write!(f, " - {term}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.left,
            self.comparison.as_str(),
            self.right
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expectation {
        parse_expectation(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn error(text: &str) -> ExpectationError {
        parse_expectation(text).expect_err(text)
    }

    fn selector(labels: &[(&str, &str)]) -> Selector {
        Selector {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn quantity(text: &str) -> Quantity {
        match parse(&format!("{text} == 0")).left.terms.remove(0).1 {
            Term::Quantity(quantity) => quantity,
            Term::Number(number) => panic!("{text} parsed as {number}"),
        }
    }

    #[test]
    fn parses_every_quantity_form() {
        assert_eq!(
            quantity("faults.node_restart"),
            Quantity::Faults(FaultKind::NodeRestart)
        );
        assert_eq!(quantity("outcomes.total"), Quantity::Outcomes(None));
        assert_eq!(
            quantity("amounts.request_bytes"),
            Quantity::Amounts("request_bytes".into())
        );
        assert_eq!(
            quantity("outcomes.timeout"),
            Quantity::Outcomes(Some("timeout".into()))
        );
        assert_eq!(quantity("spans"), Quantity::Spans(Selector::default()));
        assert_eq!(
            quantity("spans.roots{name=\"a\"}"),
            Quantity::SpanRoots(selector(&[("name", "a")]))
        );
        assert_eq!(
            quantity("spans.orphaned"),
            Quantity::SpanOrphans(Selector::default())
        );
        assert_eq!(
            quantity("spans.lost{name=\"a\",node=\"server-1\"}"),
            Quantity::SpanLost(selector(&[("name", "a"), ("node", "server-1")]))
        );
        assert_eq!(
            quantity("spans { name = \"get\" , status=\"error\" }"),
            Quantity::Spans(selector(&[("name", "get"), ("status", "error")]))
        );
        assert_eq!(
            quantity("scrapes{up=\"0\"}"),
            Quantity::Scrapes(selector(&[("up", "0")]))
        );
        assert_eq!(
            quantity("scrapes.recovered{node=\"server-1\"}"),
            Quantity::ScrapeRecoveries(selector(&[("node", "server-1")]))
        );
        assert_eq!(
            quantity("messages.cut{message=\"scrape\"}"),
            Quantity::Messages {
                fate: Fate::Cut,
                selector: selector(&[("message", "scrape")])
            }
        );
        let metric = |name: &str, labels: &[(&str, &str)]| MetricSelector {
            metric: name.into(),
            selector: selector(labels),
        };
        assert_eq!(
            quantity("final( requests_total{op=\"get\", incarnation=\"1\"} )"),
            Quantity::Final(metric(
                "requests_total",
                &[("op", "get"), ("incarnation", "1")]
            ))
        );
        assert_eq!(
            quantity("max(ns:inflight)"),
            Quantity::Max(metric("ns:inflight", &[]))
        );
    }

    #[test]
    fn parses_storage_ground_truth() {
        assert_eq!(
            quantity("storage.failed{operation=\"put\"}"),
            Quantity::Storage {
                result: StorageResult::Failed,
                selector: selector(&[("operation", "put")])
            }
        );
        assert_eq!(
            quantity("storage.recovered"),
            Quantity::Storage {
                result: StorageResult::Recovered,
                selector: Selector::default()
            }
        );
        assert!(error("storage.recovered{operation=\"put\"} == 0")
            .message
            .contains("operation"));
        assert!(error("storage.lost == 0")
            .message
            .contains("ok, failed, total, recovered"));
    }

    #[test]
    fn parses_sums_comparisons_and_numbers() {
        let expectation = parse("faults.node_crash+1 - 0.5>=outcomes.ok");
        assert_eq!(expectation.comparison, Comparison::Ge);
        assert_eq!(
            expectation.left.terms,
            vec![
                (
                    Sign::Plus,
                    Term::Quantity(Quantity::Faults(FaultKind::NodeCrash))
                ),
                (Sign::Plus, Term::Number(Decimal::from_u64(1))),
                (Sign::Minus, Term::Number(Decimal::parse("0.5").unwrap())),
            ]
        );
        assert_eq!(
            expectation.to_string(),
            "faults.node_crash + 1 - 0.5 >= outcomes.ok"
        );
        for comparison in Comparison::ALL {
            let text = format!("1 {} 2", comparison.as_str());
            assert_eq!(parse(&text).comparison, comparison, "{text}");
        }
    }

    #[test]
    fn display_is_canonical_and_reparses() {
        let text = "spans{name=\"a\\\"b\\\\\"} + max(x{node=\"server-0\"}) != 3";
        let expectation = parse(text);
        let canonical = expectation.to_string();
        assert_eq!(canonical, text);
        assert_eq!(parse(&canonical).left, expectation.left);
    }

    #[test]
    fn comparison_holds() {
        assert!(Comparison::Ge.holds(2.0, 2.0));
        assert!(!Comparison::Gt.holds(2.0, 2.0));
        assert!(Comparison::Ne.holds(f64::NAN, 1.0));
        assert!(!Comparison::Eq.holds(f64::NAN, f64::NAN));
        assert!(Comparison::Lt.holds(1.0, 2.0) && Comparison::Le.holds(2.0, 2.0));
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "faults.<kind>"),
            ("bogus > 1", 0, "unknown quantity `bogus`"),
            ("faults.disk_on_fire > 1", 7, "network_heal"),
            ("faults > 1", 6, "expected `.` then a fault kind"),
            (
                "messages.eaten == 0",
                9,
                "sent, received, lost, cut, duplicated",
            ),
            (
                "spans{node=\"x\"} > 0",
                6,
                "expected one of name, kind, status",
            ),
            (
                "scrapes.recovered{up=\"1\"} > 0",
                18,
                "expected one of node",
            ),
            (
                "scrapes{up=\"2\"} > 0",
                11,
                "`up` is never \"2\", so this selects nothing: expected one of 0, 1",
            ),
            (
                "spans{kind=\"sevrer\"} == 0",
                11,
                "expected one of client, server, internal",
            ),
            (
                "spans{status=\"failed\"} == 0",
                13,
                "expected one of unset, ok, error",
            ),
            (
                "storage.ok{operation=\"write\"} == 0",
                21,
                "expected one of get, put",
            ),
            ("scrapes.fresh > 0", 8, "scrapes.recovered"),
            ("spans{name=\"a\", name=\"b\"} > 0", 16, "selected twice"),
            ("spans{name=a} > 0", 11, "double-quoted"),
            ("spans{name=\"a} > 0", 18, "to close the value"),
            ("spans{} > 0", 6, "expected one of name"),
            ("final(1x) > 0", 6, "metric name"),
            ("final(x > 0", 8, "to close `final(`"),
            ("1 = 1", 2, "one of ==, !="),
            ("1 == 1 1", 7, "end of the expectation"),
            ("1. == 1", 2, "digit after the decimal point"),
            ("1 == -1", 5, "expected a number or one of"),
        ];
        for (text, offset, needle) in cases {
            let error = error(text);
            assert_eq!(error.offset, *offset, "{text}: {error}");
            assert!(error.message.contains(needle), "{text}: {error}");
        }
    }

    #[test]
    fn huge_numbers_are_rejected_not_rounded() {
        let text = format!("{} > 0", "9".repeat(400));
        assert!(error(&text)
            .message
            .contains("more than 38 significant digits"));
        // 38 digits, the most that compares exactly, are fine.
        let text = format!("outcomes.ok < 0.{}", "1".repeat(37));
        assert_eq!(parse(&text).to_string(), text);
    }
}
