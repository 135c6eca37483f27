//! Instant evaluation of a PromQL expression over a [`SeriesStore`], with
//! Prometheus 2's semantics (the promtool on this machine is 2.42, and it is
//! the oracle the tests compare with):
//!
//! - an instant selector takes each series' newest sample at most five
//!   minutes old (the lookback delta), unless that sample is a staleness
//!   marker;
//! - a range selector `[r]` takes the samples with `t - r <= ts <= t`,
//!   staleness markers left out;
//! - arithmetic and functions drop the metric name; a comparison without
//!   `bool` filters and keeps it.
//!
//! What is in the subset is listed in the crate docs; the loader
//! refuses anything else, so evaluation never meets it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use promql_parser::label::Matchers;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{
    AggregateExpr, BinModifier, BinaryExpr, Expr, LabelModifier, Offset, VectorMatchCardinality,
    VectorSelector,
};

use crate::functions;
use crate::series::{is_stale, Labels, Sample, Series, SeriesStore, METRIC_NAME};

/// How far back an instant selector looks for a sample: Prometheus's
/// default `--query.lookback-delta`, which promtool uses too.
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Element>),
    Matrix(Vec<Range>),
    String(String),
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// Shared with the series it was read from, or with the operand it
    /// came from, until something changes it (`Arc::make_mut`): most
    /// elements pass through an expression unchanged, and copying their
    /// label sets at every instant was most of rule evaluation's cost.
    pub labels: Arc<Labels>,
    pub value: f64,
}

/// One series of a range vector: which series, and which of its samples
/// (by position) the range holds. Read it through
/// [`Evaluator::range_labels`] and [`Evaluator::range_samples`]; it copies
/// nothing, so a 30-day window over a whole run costs no more than a 5-minute
/// one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub series: usize,
    pub start: usize,
    pub end: usize,
}

/// An expression that cannot be evaluated at this instant, in Prometheus's
/// words where it has some (duplicate series in a match, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

pub(crate) type Result<T> = std::result::Result<T, EvalError>;

pub(crate) fn error<T>(message: impl Into<String>) -> Result<T> {
    Err(EvalError(message.into()))
}

/// Evaluates expressions against one store.
pub struct Evaluator<'a> {
    store: &'a SeriesStore,
}

impl<'a> Evaluator<'a> {
    pub fn new(store: &'a SeriesStore) -> Evaluator<'a> {
        Evaluator { store }
    }

    /// `expr` at `t_ms`, milliseconds since the run started.
    pub fn eval(&self, expr: &Expr, t_ms: i64) -> Result<Value> {
        match expr {
            Expr::NumberLiteral(number) => Ok(Value::Scalar(number.val)),
            Expr::StringLiteral(string) => Ok(Value::String(string.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr, t_ms),
            Expr::Unary(unary) => Ok(match self.eval(&unary.expr, t_ms)? {
                Value::Scalar(value) => Value::Scalar(-value),
                Value::Vector(elements) => Value::Vector(
                    elements
                        .into_iter()
                        .map(|element| Element {
                            labels: drop_name(element.labels),
                            value: -element.value,
                        })
                        .collect(),
                ),
                _ => return error("unary minus applies to a scalar or an instant vector"),
            }),
            Expr::VectorSelector(selector) => Ok(Value::Vector(self.instant(selector, t_ms))),
            Expr::MatrixSelector(matrix) => {
                let range_ms = matrix.range.as_millis() as i64;
                Ok(Value::Matrix(self.range(&matrix.vs, t_ms, range_ms)))
            }
            Expr::Aggregate(aggregate) => self.aggregate(aggregate, t_ms),
            Expr::Binary(binary) => self.binary(binary, t_ms),
            Expr::Call(call) => functions::call(self, call, t_ms),
            Expr::Subquery(_) | Expr::Extension(_) => {
                error("subqueries are not in obsim's PromQL subset")
            }
        }
    }

    /// The newest sample of each matching series at most [`LOOKBACK_MS`]
    /// old, unless it is a staleness marker.
    pub(crate) fn instant(&self, selector: &VectorSelector, t_ms: i64) -> Vec<Element> {
        let at = shifted(t_ms, &selector.offset);
        self.matching(selector)
            .filter_map(|series| {
                let sample = series.window(at - LOOKBACK_MS, at).last()?;
                (!is_stale(sample.value)).then(|| Element {
                    labels: series.labels.clone(),
                    value: sample.value,
                })
            })
            .collect()
    }

    /// Each matching series' samples in `[t - range, t]`, markers left out;
    /// a series with none is not in the result.
    pub(crate) fn range(&self, selector: &VectorSelector, t_ms: i64, range_ms: i64) -> Vec<Range> {
        let at = shifted(t_ms, &selector.offset);
        let (from, to) = (at - range_ms, at);
        self.matching_ids(selector)
            .filter_map(|id| {
                let samples = &self.store.series()[id].samples;
                let start = samples.partition_point(|s| s.t_ms < from);
                let end = samples.partition_point(|s| s.t_ms <= to).max(start);
                let any = samples[start..end].iter().any(|s| !is_stale(s.value));
                any.then_some(Range {
                    series: id,
                    start,
                    end,
                })
            })
            .collect()
    }

    /// A range's series labels.
    pub fn range_labels(&self, range: &Range) -> &Labels {
        &self.store.series()[range.series].labels
    }

    /// A range's series labels, shared; without the metric name unless
    /// `keep_name`.
    pub(crate) fn range_labels_shared(&self, range: &Range, keep_name: bool) -> Arc<Labels> {
        let series = &self.store.series()[range.series];
        if keep_name {
            series.labels.clone()
        } else {
            series.unnamed.clone()
        }
    }

    /// A range's samples, staleness markers left out (copied only when
    /// the range holds one).
    pub fn range_samples(&self, range: &Range) -> std::borrow::Cow<'_, [Sample]> {
        let samples = &self.store.series()[range.series].samples[range.start..range.end];
        if samples.iter().any(|s| is_stale(s.value)) {
            let kept = samples.iter().filter(|s| !is_stale(s.value)).copied();
            std::borrow::Cow::Owned(kept.collect())
        } else {
            std::borrow::Cow::Borrowed(samples)
        }
    }

    fn matching<'s>(&'s self, selector: &'s VectorSelector) -> impl Iterator<Item = &'s Series> {
        self.store
            .named(selector.name.as_deref())
            .filter(move |series| selects(&selector.matchers, &series.labels))
    }

    fn matching_ids<'s>(
        &'s self,
        selector: &'s VectorSelector,
    ) -> impl Iterator<Item = usize> + 's {
        self.store
            .named_ids(selector.name.as_deref())
            .filter(move |&id| selects(&selector.matchers, &self.store.series()[id].labels))
    }

    fn aggregate(&self, aggregate: &AggregateExpr, t_ms: i64) -> Result<Value> {
        let Value::Vector(elements) = self.eval(&aggregate.expr, t_ms)? else {
            return error("an aggregation needs an instant vector");
        };
        let parameter = match &aggregate.param {
            Some(param) => match self.eval(param, t_ms)? {
                Value::Scalar(value) => Some(value),
                _ => return error("an aggregation's parameter must be a scalar"),
            },
            None => None,
        };
        let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
        for element in elements {
            let key = grouping(&element.labels, aggregate.modifier.as_ref());
            groups.entry(key).or_default().push(element.value);
        }
        let op = aggregate.op.id();
        let out = groups
            .into_iter()
            .map(|(labels, values)| Element {
                labels: Arc::new(labels),
                value: aggregate_values(op, &values, parameter),
            })
            .collect();
        Ok(Value::Vector(out))
    }

    fn binary(&self, binary: &BinaryExpr, t_ms: i64) -> Result<Value> {
        let lhs = self.eval(&binary.lhs, t_ms)?;
        let rhs = self.eval(&binary.rhs, t_ms)?;
        let op = binary.op.id();
        let return_bool = binary.return_bool();
        match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                let (value, keep) = element_op(op, l, r);
                Ok(Value::Scalar(if is_comparison(op) {
                    f64::from(u8::from(keep))
                } else {
                    value
                }))
            }
            (Value::Vector(elements), Value::Scalar(scalar)) => Ok(Value::Vector(vector_scalar(
                op,
                elements,
                scalar,
                false,
                return_bool,
            ))),
            (Value::Scalar(scalar), Value::Vector(elements)) => Ok(Value::Vector(vector_scalar(
                op,
                elements,
                scalar,
                true,
                return_bool,
            ))),
            (Value::Vector(l), Value::Vector(r)) if is_set_operator(op) => {
                Ok(Value::Vector(set_op(op, l, r, binary.modifier.as_ref())))
            }
            (Value::Vector(l), Value::Vector(r)) => Ok(Value::Vector(vector_vector(
                op,
                l,
                r,
                binary.modifier.as_ref(),
                return_bool,
            )?)),
            _ => error(format!(
                "`{}` needs scalars or instant vectors on both sides",
                binary.op
            )),
        }
    }
}

fn shifted(t_ms: i64, offset: &Option<Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(by)) => t_ms - by.as_millis() as i64,
        Some(Offset::Neg(by)) => t_ms + by.as_millis() as i64,
        None => t_ms,
    }
}

/// Whether the series `labels` is one `selector` selects: its name and
/// every matcher (a missing label is the empty string, as in Prometheus).
pub fn selects_series(selector: &VectorSelector, labels: &Labels) -> bool {
    let named = selector
        .name
        .as_deref()
        .is_none_or(|name| labels.get(METRIC_NAME).map(String::as_str) == Some(name));
    named && selects(&selector.matchers, labels)
}

/// Every series selector in `expr`, range selectors' included, in order.
pub fn selectors(expr: &Expr) -> Vec<&VectorSelector> {
    let mut found = Vec::new();
    collect_selectors(expr, &mut found);
    found
}

fn collect_selectors<'e>(expr: &'e Expr, found: &mut Vec<&'e VectorSelector>) {
    match expr {
        Expr::VectorSelector(selector) => found.push(selector),
        Expr::MatrixSelector(matrix) => found.push(&matrix.vs),
        Expr::Paren(paren) => collect_selectors(&paren.expr, found),
        Expr::Unary(unary) => collect_selectors(&unary.expr, found),
        Expr::Aggregate(aggregate) => {
            if let Some(param) = &aggregate.param {
                collect_selectors(param, found);
            }
            collect_selectors(&aggregate.expr, found);
        }
        Expr::Binary(binary) => {
            collect_selectors(&binary.lhs, found);
            collect_selectors(&binary.rhs, found);
        }
        Expr::Call(call) => call
            .args
            .args
            .iter()
            .for_each(|arg| collect_selectors(arg, found)),
        Expr::Subquery(subquery) => collect_selectors(&subquery.expr, found),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Whether `labels` satisfy the selector's matchers (a missing label is the
/// empty string, as in Prometheus).
pub(crate) fn selects(matchers: &Matchers, labels: &Labels) -> bool {
    let all = |group: &[promql_parser::label::Matcher]| {
        group.iter().all(|matcher| {
            let value = labels.get(&matcher.name).map_or("", String::as_str);
            matcher.is_match(value)
        })
    };
    if !all(&matchers.matchers) {
        return false;
    }
    matchers.or_matchers.is_empty() || matchers.or_matchers.iter().any(|group| all(group))
}

/// `labels` without the metric name: the same set, not a copy, when it
/// has none.
pub(crate) fn drop_name(mut labels: Arc<Labels>) -> Arc<Labels> {
    if labels.contains_key(METRIC_NAME) {
        Arc::make_mut(&mut labels).remove(METRIC_NAME);
    }
    labels
}

/// The labels an aggregation groups by: only those of `by`, or all but
/// those of `without` and the name; none without a clause.
fn grouping(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(by)) => labels
            .iter()
            .filter(|(key, _)| by.labels.iter().any(|name| name == *key))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(without)) => labels
            .iter()
            .filter(|(key, _)| {
                key.as_str() != METRIC_NAME && !without.labels.iter().any(|name| name == *key)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => Labels::new(),
    }
}

fn aggregate_values(op: TokenId, values: &[f64], parameter: Option<f64>) -> f64 {
    let count = values.len() as f64;
    match op {
        token::T_SUM => values.iter().sum(),
        token::T_AVG => functions::incremental_mean(values.iter().copied()),
        token::T_COUNT => count,
        token::T_GROUP => 1.0,
        token::T_MIN => {
            values
                .iter()
                .copied()
                .fold(f64::NAN, |a, v| if a.is_nan() || v < a { v } else { a })
        }
        token::T_MAX => {
            values
                .iter()
                .copied()
                .fold(f64::NAN, |a, v| if a.is_nan() || v > a { v } else { a })
        }
        token::T_STDDEV => variance(values).sqrt(),
        token::T_STDVAR => variance(values),
        token::T_QUANTILE => functions::quantile(parameter.unwrap_or(f64::NAN), values),
        // The loader admits no other aggregation.
        _ => f64::NAN,
    }
}

/// Population variance, as Prometheus computes `stdvar`.
fn variance(values: &[f64]) -> f64 {
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count
}

fn is_comparison(op: TokenId) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_GTR | token::T_LSS | token::T_GTE | token::T_LTE
    )
}

fn is_set_operator(op: TokenId) -> bool {
    matches!(op, token::T_LAND | token::T_LOR | token::T_LUNLESS)
}

/// Arithmetic drops the metric name: the result is no longer that metric.
fn drops_name(op: TokenId) -> bool {
    !is_comparison(op)
}

/// `lhs op rhs`: the value, and for a comparison whether it holds (the
/// value is then `lhs`).
fn element_op(op: TokenId, lhs: f64, rhs: f64) -> (f64, bool) {
    match op {
        token::T_ADD => (lhs + rhs, true),
        token::T_SUB => (lhs - rhs, true),
        token::T_MUL => (lhs * rhs, true),
        token::T_DIV => (lhs / rhs, true),
        token::T_POW => (lhs.powf(rhs), true),
        // Go's math.Mod: the sign of the dividend, as Rust's `%`.
        token::T_MOD => (lhs % rhs, true),
        token::T_ATAN2 => (lhs.atan2(rhs), true),
        token::T_EQLC => (lhs, lhs == rhs),
        token::T_NEQ => (lhs, lhs != rhs),
        token::T_GTR => (lhs, lhs > rhs),
        token::T_LSS => (lhs, lhs < rhs),
        token::T_GTE => (lhs, lhs >= rhs),
        token::T_LTE => (lhs, lhs <= rhs),
        _ => (f64::NAN, false),
    }
}

fn vector_scalar(
    op: TokenId,
    elements: Vec<Element>,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Vec<Element> {
    elements
        .into_iter()
        .filter_map(|element| {
            let (l, r) = if scalar_on_left {
                (scalar, element.value)
            } else {
                (element.value, scalar)
            };
            let (mut value, mut keep) = element_op(op, l, r);
            // A comparison keeps the vector's value, whichever side it is on.
            if is_comparison(op) && scalar_on_left {
                value = r;
            }
            if return_bool {
                value = f64::from(u8::from(keep));
                keep = true;
            }
            if !keep {
                return None;
            }
            let labels = if drops_name(op) || return_bool {
                drop_name(element.labels)
            } else {
                element.labels
            };
            Some(Element { labels, value })
        })
        .collect()
}

/// The labels two vectors' elements are matched on: those of `on`, or all
/// but those of `ignoring` and the name, as an aggregation groups; the set
/// without its name when there is no clause.
fn signature(labels: &Arc<Labels>, matching: Option<&LabelModifier>) -> Arc<Labels> {
    match matching {
        Some(_) => Arc::new(grouping(labels, matching)),
        None => drop_name(labels.clone()),
    }
}

fn set_op(
    op: TokenId,
    lhs: Vec<Element>,
    rhs: Vec<Element>,
    modifier: Option<&BinModifier>,
) -> Vec<Element> {
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let right: BTreeSet<Arc<Labels>> = rhs.iter().map(|e| signature(&e.labels, matching)).collect();
    match op {
        token::T_LAND => lhs
            .into_iter()
            .filter(|e| right.contains(&signature(&e.labels, matching)))
            .collect(),
        token::T_LUNLESS => lhs
            .into_iter()
            .filter(|e| !right.contains(&signature(&e.labels, matching)))
            .collect(),
        _ => {
            let left: BTreeSet<Arc<Labels>> =
                lhs.iter().map(|e| signature(&e.labels, matching)).collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|e| !left.contains(&signature(&e.labels, matching))),
            );
            out
        }
    }
}

fn vector_vector(
    op: TokenId,
    lhs: Vec<Element>,
    rhs: Vec<Element>,
    modifier: Option<&BinModifier>,
    return_bool: bool,
) -> Result<Vec<Element>> {
    let matching = modifier.and_then(|m| m.matching.as_ref());
    let card = modifier.map_or(&VectorMatchCardinality::OneToOne, |m| &m.card);
    // The "one" side is always the right one below; group_right swaps.
    let (many, one) = match card {
        VectorMatchCardinality::OneToMany(_) => (rhs, lhs),
        _ => (lhs, rhs),
    };
    let mut ones: BTreeMap<Arc<Labels>, Element> = BTreeMap::new();
    for element in one {
        let sig = signature(&element.labels, matching);
        if ones.contains_key(&sig) {
            return error(format!(
                "found duplicate series for the match group {} on the {} hand-side of the \
                 operation; many-to-many matching not allowed: matching labels must be unique \
                 on one side",
                crate::series::format_series(&sig),
                if matches!(card, VectorMatchCardinality::OneToMany(_)) {
                    "left"
                } else {
                    "right"
                },
            ));
        }
        ones.insert(sig, element);
    }
    let include: &[String] = card.labels().map_or(&[], |labels| &labels.labels);
    let mut matched: BTreeSet<Arc<Labels>> = BTreeSet::new();
    let mut out_labels: BTreeSet<Arc<Labels>> = BTreeSet::new();
    let mut out = Vec::new();
    for element in many {
        let sig = signature(&element.labels, matching);
        let Some(other) = ones.get(&sig) else {
            continue;
        };
        if matches!(card, VectorMatchCardinality::OneToOne) && !matched.insert(sig.clone()) {
            return error(
                "multiple matches for labels: many-to-one matching must be explicit \
                 (group_left/group_right)",
            );
        }
        let (l, r) = match card {
            VectorMatchCardinality::OneToMany(_) => (other.value, element.value),
            _ => (element.value, other.value),
        };
        let (mut value, mut keep) = element_op(op, l, r);
        if return_bool {
            value = f64::from(u8::from(keep));
            keep = true;
        }
        if !keep {
            continue;
        }
        let mut labels = result_labels(element.labels, &other.labels, op, matching, card, include);
        if return_bool {
            labels = drop_name(labels);
        }
        if !matches!(card, VectorMatchCardinality::OneToOne) && !out_labels.insert(labels.clone()) {
            return error(
                "multiple matches for labels: grouping labels must ensure unique matches",
            );
        }
        out.push(Element { labels, value });
    }
    Ok(out)
}

/// The labels of a matched pair's result. Copied only when they change:
/// `rate(a[1m]) / rate(b[1m])` matched one to one keeps the left side's set.
fn result_labels(
    mut labels: Arc<Labels>,
    one: &Labels,
    op: TokenId,
    matching: Option<&LabelModifier>,
    card: &VectorMatchCardinality,
    include: &[String],
) -> Arc<Labels> {
    if drops_name(op) {
        labels = drop_name(labels);
    }
    if matches!(card, VectorMatchCardinality::OneToOne) {
        let kept = |key: &String| match matching {
            Some(LabelModifier::Include(on)) => on.labels.iter().any(|name| name == key),
            Some(LabelModifier::Exclude(ignoring)) => {
                !ignoring.labels.iter().any(|name| name == key)
            }
            None => true,
        };
        if !labels.keys().all(kept) {
            Arc::make_mut(&mut labels).retain(|key, _| kept(key));
        }
    }
    for name in include {
        match one.get(name) {
            Some(value) if !value.is_empty() => {
                if labels.get(name) != Some(value) {
                    Arc::make_mut(&mut labels).insert(name.clone(), value.clone());
                }
            }
            _ => {
                if labels.contains_key(name) {
                    Arc::make_mut(&mut labels).remove(name);
                }
            }
        }
    }
    labels
}
