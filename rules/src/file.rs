//! Prometheus rule files: groups of alerting and recording rules, in
//! Prometheus's YAML format. Everything that can be checked before a run is
//! checked here, and an error names the file, the line, the field and what
//! was expected there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use promql_parser::parser::{Expr, VectorMatchCardinality};
use serde::Deserialize;

use crate::functions::FUNCTIONS;
use crate::template::Template;

/// The aggregations obsim evaluates.
pub const AGGREGATIONS: &[&str] = &[
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "quantile",
];

/// Rules a file may hold: a bound on evaluation work per instant.
pub const RULES_MAX: usize = 1_000;

/// The largest rule file obsim reads. The largest public rule sets (the
/// kube-prometheus mixins) are a few hundred KiB.
pub const RULE_FILE_BYTES_MAX: u64 = 4 << 20;

/// One loaded rule file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFile {
    /// The path it was loaded from, as given.
    pub path: String,
    /// Its text, exactly: copied into a failing seed's artifacts.
    pub text: String,
    pub groups: Vec<Group>,
}

/// A rule group: rules evaluated in order at each of its instants.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub name: String,
    /// Its own evaluation interval; None: the global one.
    pub interval: Option<Duration>,
    pub rules: Vec<Rule>,
}

/// One alerting or recording rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub kind: RuleKind,
    pub expr: Expr,
    /// The expression as written.
    pub expr_text: String,
    pub labels: BTreeMap<String, Template>,
    pub annotations: BTreeMap<String, Template>,
    /// The 1-based line the rule starts at, when it could be found.
    pub line: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Alert {
        name: String,
        /// How long it must be active before it fires.
        hold: Duration,
        /// How long it keeps firing once its condition is gone.
        keep_firing_for: Duration,
    },
    Record {
        name: String,
    },
}

impl Rule {
    /// The alert's or the recorded series' name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Alert { name, .. } | RuleKind::Record { name } => name,
        }
    }

    pub fn is_alert(&self) -> bool {
        matches!(self.kind, RuleKind::Alert { .. })
    }

    /// `for`: zero for a recording rule.
    pub fn hold(&self) -> Duration {
        match &self.kind {
            RuleKind::Alert { hold, .. } => *hold,
            RuleKind::Record { .. } => Duration::ZERO,
        }
    }
}

/// A rule file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesError {
    pub file: String,
    /// 1-based; None when the error has no single place.
    pub line: Option<usize>,
    /// A dotted path: `groups[0].rules[2].expr`.
    pub field: String,
    pub problem: String,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = crate::input::path_excerpt(&self.file);
        match self.line {
            Some(line) => write!(f, "{file}:{line}: ")?,
            None => write!(f, "{file}: ")?,
        }
        if !self.field.is_empty() {
            write!(f, "`{}`: ", crate::input::excerpt(&self.field))?;
        }
        f.write_str(&crate::input::bounded_message(&self.problem))
    }
}

impl std::error::Error for RulesError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    record: Option<String>,
    expr: String,
    #[serde(default, rename = "for")]
    hold: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// Reads and checks the rule file at `path`.
pub fn load(path: &Path) -> Result<RuleFile, RulesError> {
    let shown = path.display().to_string();
    let text =
        crate::input::read_text(path, RULE_FILE_BYTES_MAX, "a rule file").map_err(|error| {
            RulesError {
                file: shown.clone(),
                line: error.place.map(|(line, _)| line),
                field: String::new(),
                problem: error.problem,
            }
        })?;
    parse(&shown, &text)
}

/// Checks the rule file `text`, named `file` in errors.
pub fn parse(file: &str, text: &str) -> Result<RuleFile, RulesError> {
    if let Some(line) = crate::bounds::yaml_nesting(text) {
        return Err(RulesError {
            file: file.to_string(),
            line: Some(line),
            field: String::new(),
            problem: format!(
                "nests lists or mappings more than {} deep: a rule file needs four or five levels",
                crate::bounds::YAML_NESTING_MAX
            ),
        });
    }
    let raw: RawFile = serde_norway::from_str(text).map_err(|error| RulesError {
        file: file.to_string(),
        line: error.location().map(|location| location.line()),
        field: String::new(),
        problem: yaml_problem(&error.to_string()),
    })?;
    let lines = rule_lines(text);
    let mut groups = Vec::with_capacity(raw.groups.len());
    let mut names = BTreeSet::new();
    let mut regexes = 0;
    let mut rule_index = 0;
    for (g, group) in raw.groups.into_iter().enumerate() {
        let error = |line: Option<usize>, field: String, problem: String| RulesError {
            file: file.to_string(),
            line,
            field,
            problem,
        };
        if group.name.is_empty() {
            return Err(error(None, format!("groups[{g}].name"), "is empty".into()));
        }
        if !names.insert(group.name.clone()) {
            return Err(error(
                None,
                format!("groups[{g}].name"),
                format!("{:?} names another group of this file too", group.name),
            ));
        }
        if group.limit.is_some_and(|limit| limit > 0) {
            return Err(error(
                None,
                format!("groups[{g}].limit"),
                "obsim does not apply a group's alert limit; remove it".into(),
            ));
        }
        let interval = group
            .interval
            .as_deref()
            .map(|text| duration(text).map_err(|p| error(None, format!("groups[{g}].interval"), p)))
            .transpose()?;
        let mut rules = Vec::with_capacity(group.rules.len());
        for (r, raw) in group.rules.into_iter().enumerate() {
            let line = lines.get(rule_index).copied();
            rule_index += 1;
            let field = |name: &str| format!("groups[{g}].rules[{r}].{name}");
            // Before the rule is parsed: a file past the bound costs no more.
            if rule_index > RULES_MAX {
                let problem = format!("is past the {RULES_MAX} rules obsim evaluates a file");
                return Err(error(line, format!("groups[{g}].rules[{r}]"), problem));
            }
            let rule = rule(raw, line, &mut regexes)
                .map_err(|(name, problem)| error(line, field(name), problem))?;
            rules.push(rule);
        }
        groups.push(Group {
            name: group.name,
            interval,
            rules,
        });
    }
    Ok(RuleFile {
        path: file.to_string(),
        text: text.to_string(),
        groups,
    })
}

/// serde's message without its trailing location, which the error carries.
fn yaml_problem(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    };
    // Not a mapping at the top: some other file was named as a rule file.
    // Its contents are none of the reader's business: quote none of it.
    if message.starts_with("invalid type") && message.ends_with("expected struct RawFile") {
        return "is not a Prometheus rule file: expected a YAML mapping with `groups:` at the top"
            .into();
    }
    // serde speaks Rust; say it in the words of a rule file.
    crate::input::in_words(
        message,
        &[
            (
                "expected struct RawFile",
                "expected a mapping with `groups:`",
            ),
            (
                "expected struct RawGroup",
                "expected a group: a mapping with `name:` and `rules:`",
            ),
            (
                "expected struct RawRule",
                "expected a rule: a mapping with `alert:` or `record:`, and `expr:`",
            ),
            ("expected a sequence", "expected a list"),
            ("expected a map", "expected a mapping"),
        ],
    )
}

/// The line of each rule, in document order: lines that start a rule with
/// `alert:` or `record:`. Block style, as rule files are written; a rule in
/// flow style has no line.
fn rule_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start();
            let line = line.strip_prefix('-').map_or(line, str::trim_start);
            line.starts_with("alert:") || line.starts_with("record:")
        })
        .map(|(at, _)| at + 1)
        .collect()
}

type RuleProblem = (&'static str, String);

fn rule(raw: RawRule, line: Option<usize>, regexes: &mut usize) -> Result<Rule, RuleProblem> {
    let kind = match (&raw.alert, &raw.record) {
        (Some(name), None) => {
            if name.is_empty() {
                return Err(("alert", "is empty".into()));
            }
            let hold = raw.hold.as_deref().map(duration).transpose();
            let keep = raw.keep_firing_for.as_deref().map(duration).transpose();
            RuleKind::Alert {
                name: name.clone(),
                hold: hold.map_err(|p| ("for", p))?.unwrap_or_default(),
                keep_firing_for: keep
                    .map_err(|p| ("keep_firing_for", p))?
                    .unwrap_or_default(),
            }
        }
        (None, Some(name)) => {
            if !is_metric_name(name) {
                return Err((
                    "record",
                    format!("{name:?} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
                ));
            }
            for (field, given) in [
                ("for", raw.hold.is_some()),
                ("keep_firing_for", raw.keep_firing_for.is_some()),
                ("annotations", !raw.annotations.is_empty()),
            ] {
                if given {
                    return Err((field, "a recording rule has no such field".into()));
                }
            }
            RuleKind::Record { name: name.clone() }
        }
        _ => {
            return Err((
                "alert",
                "a rule names exactly one of `alert` and `record`".into(),
            ))
        }
    };
    let expr = check_expression(&raw.expr, regexes).map_err(|problem| ("expr", problem))?;
    let templates = |map: BTreeMap<String, String>, field: &'static str| {
        map.into_iter()
            .map(|(key, text)| {
                if field == "labels" && !is_label_name(&key) {
                    return Err((field, format!("{key:?} is not a valid label name")));
                }
                let template =
                    Template::parse(&text).map_err(|p| (field, format!("{key}: {p}")))?;
                Ok((key, template))
            })
            .collect::<Result<BTreeMap<String, Template>, RuleProblem>>()
    };
    Ok(Rule {
        kind,
        expr,
        expr_text: raw.expr,
        labels: templates(raw.labels, "labels")?,
        annotations: templates(raw.annotations, "annotations")?,
        line,
    })
}

/// An expression as obsim takes it from a file: within the bounds on its
/// length and regular expressions, parsed, within the bound on its depth,
/// and inside the subset obsim evaluates. `regexes` counts the file's
/// regular expressions so far.
pub(crate) fn check_expression(text: &str, regexes: &mut usize) -> Result<Expr, String> {
    let written = (
        crate::bounds::EXPR_CHARS_MAX,
        crate::bounds::REGEX_BYTES_MAX,
    );
    check_expression_within(text, written, regexes)
}

/// [`check_expression`] within `(chars_max, regex_bytes_max)`: see
/// [`crate::bounds::FILLED_EXPR_CHARS_MAX`].
pub(crate) fn check_expression_within(
    text: &str,
    (chars_max, regex_bytes_max): (usize, usize),
    regexes: &mut usize,
) -> Result<Expr, String> {
    crate::bounds::expr_text_within(text, (chars_max, regex_bytes_max), regexes)?;
    let expr = promql_parser::parser::parse(text)
        .map_err(|problem| format!("does not parse as PromQL: {problem}"))?;
    crate::bounds::expr_tree_within(&expr, regex_bytes_max, regexes)?;
    in_subset(&expr)?;
    Ok(expr)
}

/// A Prometheus duration (`30s`, `5m`, `1h30m`, `0`).
pub fn duration(text: &str) -> Result<Duration, String> {
    if text == "0" || text == "0s" {
        return Ok(Duration::ZERO);
    }
    if text.parse::<f64>().is_ok() {
        return Err(format!(
            "{text:?} has no unit: expected a Prometheus duration such as \"30s\" or \"5m\""
        ));
    }
    promql_parser::util::parse_duration(text).map_err(|problem| {
        format!("{problem}: expected a Prometheus duration such as \"30s\", \"5m\" or \"1h30m\"")
    })
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Ok when obsim can evaluate every part of `expr`; else the first part it
/// cannot, by name.
pub fn in_subset(expr: &Expr) -> Result<(), String> {
    let outside = |what: String| {
        Err(format!(
            "{what} is outside the PromQL subset obsim evaluates (see the rules crate's docs)"
        ))
    };
    match expr {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::Paren(paren) => in_subset(&paren.expr),
        Expr::Unary(unary) => in_subset(&unary.expr),
        Expr::VectorSelector(selector) => match selector.at {
            Some(_) => outside("the `@` modifier".into()),
            None => Ok(()),
        },
        Expr::MatrixSelector(matrix) => match matrix.vs.at {
            Some(_) => outside("the `@` modifier".into()),
            None => Ok(()),
        },
        Expr::Aggregate(aggregate) => {
            let op = aggregate.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return outside(format!("the aggregation `{op}`"));
            }
            if let Some(param) = &aggregate.param {
                in_subset(param)?;
            }
            in_subset(&aggregate.expr)
        }
        Expr::Binary(binary) => {
            let filled = binary
                .modifier
                .as_ref()
                .is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some());
            if filled {
                return outside("`fill` in vector matching".into());
            }
            let many_to_many = binary
                .modifier
                .as_ref()
                .is_some_and(|m| m.card == VectorMatchCardinality::ManyToMany);
            if many_to_many && !binary.op.is_set_operator() {
                return outside("many-to-many matching".into());
            }
            in_subset(&binary.lhs)?;
            in_subset(&binary.rhs)
        }
        Expr::Call(call) => {
            if !FUNCTIONS.contains(&call.func.name) {
                return outside(format!("the function `{}`", call.func.name));
            }
            call.args.args.iter().try_for_each(|arg| in_subset(arg))
        }
        Expr::Subquery(_) => outside("a subquery".into()),
        Expr::Extension(_) => outside("an extension".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"groups:
  - name: errors
    rules:
      - record: job:errors:rate5m
        expr: sum(rate(errors_total[5m]))
      - alert: HighErrorRate
        expr: job:errors:rate5m > 1
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ $value }} errors a second"
"#;

    #[test]
    fn a_rule_file_loads_with_its_lines() {
        let file = parse("rules.yml", FILE).unwrap();
        let rules = &file.groups[0].rules;
        assert_eq!(rules[0].name(), "job:errors:rate5m");
        assert_eq!(rules[0].line, Some(4));
        assert_eq!(rules[1].hold(), Duration::from_secs(300));
        assert_eq!(rules[1].line, Some(6));
    }

    #[test]
    fn bad_promql_names_file_line_and_field() {
        let text = FILE.replace("job:errors:rate5m > 1", "job:errors:rate5m >");
        let error = parse("rules.yml", &text).unwrap_err();
        assert_eq!(error.line, Some(6));
        assert_eq!(error.field, "groups[0].rules[1].expr");
        assert!(
            error
                .to_string()
                .starts_with("rules.yml:6: `groups[0].rules[1].expr`: does not parse"),
            "{error}"
        );
    }

    #[test]
    fn a_function_outside_the_subset_is_refused_by_name() {
        let text = FILE.replace(
            "sum(rate(errors_total[5m]))",
            "predict_linear(errors_total[5m], 60)",
        );
        let error = parse("rules.yml", &text).unwrap_err();
        assert!(error.problem.contains("`predict_linear`"), "{error}");
    }

    #[test]
    fn a_misspelt_field_and_a_unitless_for_are_refused() {
        let error = parse("rules.yml", &FILE.replace("for: 5m", "fro: 5m")).unwrap_err();
        assert!(error.problem.contains("unknown field `fro`"), "{error}");
        assert_eq!(error.line, Some(8));
        let error = parse("rules.yml", &FILE.replace("for: 5m", "for: 300")).unwrap_err();
        assert!(error.problem.contains("has no unit"), "{error}");
        assert_eq!(error.field, "groups[0].rules[1].for");
    }

    #[test]
    fn a_file_that_is_no_rule_file_is_refused_without_quoting_it() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";
        let error = parse("/etc/passwd", passwd).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/etc/passwd:1: is not a Prometheus rule file: expected a YAML mapping with `groups:` at the top"
        );
    }

    #[test]
    fn errors_name_what_the_user_wrote_and_quote_a_bounded_excerpt() {
        let error = parse("r.yml", "groups:\n  - 7\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "r.yml:2: groups[0]: invalid type: integer `7`, expected a group: a mapping with `name:` and `rules:`"
        );
        let error = parse(
            "r.yml",
            "groups:\n  - name: a\n    limit: 18446744073709551616\n",
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("integer `18446744073709551616`, expected an integer >= 0"),
            "{error}"
        );
        let long = "x".repeat(100_000);
        let error = parse("r.yml", &format!("groups:\n  - name: a\n    rules:\n      - alert: a\n        expr: up\n        for: [\"{long}\"]\n")).unwrap_err();
        assert!(
            error.to_string().len() < 400,
            "{} bytes: {error}",
            error.to_string().len()
        );
        let error = parse(
            "r.yml",
            &format!("groups:\n  - name: {long}\n  - name: {long}\n"),
        )
        .unwrap_err();
        assert!(
            error.to_string().len() < 2_300,
            "{} bytes",
            error.to_string().len()
        );
    }
}
