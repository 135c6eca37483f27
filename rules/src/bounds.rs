//! Bounds on what a rule file may ask of the loader and the evaluator,
//! checked before the parts that cost: YAML nesting before the YAML parser,
//! an expression's length and its regular expressions before the PromQL
//! parser (which compiles every `=~` matcher as it parses), and the parsed
//! expression's depth before anything walks it recursively.
//!
//! Each bound is far above what a real rule file uses (the largest public
//! rule sets nest YAML four deep and write expressions of a few hundred
//! characters), and each stops an input that would take the process down:
//! a `groups: [[[...]]]` 100,000 deep takes the YAML parser over 30 s, an
//! expression 26,000 parentheses deep overflows the stack when it is
//! dropped, and `up{job=~"\\w{50}"}` compiles to 2.9 MB per matcher.

use promql_parser::parser::Expr;

/// Lists and mappings a rule file may nest in flow style (`[...]`, `{...}`).
pub const YAML_NESTING_MAX: usize = 64;

/// Characters of one rule's `expr`.
pub const EXPR_CHARS_MAX: usize = 4_096;
/// The longest a dashboard target's expression may be once its template
/// variables are filled: 64 times what a person may write.
pub const FILLED_EXPR_CHARS_MAX: usize = 64 * EXPR_CHARS_MAX;
/// The most a regex of a filled dashboard expression may compile to: an
/// alternation of a variable's values (Grafana's "All", at most 1,000 of
/// them) is a regex of real label values, escaped, not a person's pattern.
pub const FILLED_REGEX_BYTES_MAX: usize = 16 << 20;

/// Depth of one rule's parsed expression: operators, calls, parentheses.
pub const EXPR_DEPTH_MAX: usize = 64;

/// Bytes one regular expression (a `=~`/`!~` matcher, a `label_replace`
/// pattern) may compile to. `job=~"api|web"` takes a few KB.
pub const REGEX_BYTES_MAX: usize = 64 << 10;

/// Regular expressions one rule file may hold, each compiled once and kept.
pub const REGEXES_MAX: usize = 1_000;

/// The 1-based line where flow collections first nest past
/// [`YAML_NESTING_MAX`], if they do. Brackets in quoted scalars and
/// comments do not count; PromQL's own braces and brackets in a plain
/// scalar do, but they close again within a few levels.
pub(crate) fn yaml_nesting(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut line = 1;
    let mut before = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '#' if before.is_whitespace() => {
                    while chars.peek().is_some_and(|&next| next != '\n') {
                        chars.next();
                    }
                }
                '"' | '\'' if starts_scalar(before) => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > YAML_NESTING_MAX {
                        return Some(line);
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        if c == '\n' {
            line += 1;
        }
        if !c.is_whitespace() || c == '\n' {
            before = c;
        }
    }
    None
}

/// A quote opens a quoted scalar only where a scalar can start.
fn starts_scalar(before: char) -> bool {
    matches!(before, '\n' | ':' | '-' | '[' | '{' | ',' | '?')
}

/// Checks an expression's text before it is parsed: its length, and each
/// regular expression a matcher gives, which the parser would compile.
/// `regexes` counts the file's regular expressions so far.
#[cfg(test)]
pub(crate) fn expr_text(expr: &str, regexes: &mut usize) -> Result<(), String> {
    expr_text_within(expr, (EXPR_CHARS_MAX, REGEX_BYTES_MAX), regexes)
}

/// [`expr_text`] within `(chars_max, regex_bytes_max)`: a dashboard's
/// expression once its variables are filled is longer than what was
/// written (Grafana's "All" over 200 instances is a regex of 200 names), and
/// is bounded by what filled it (each variable's values, themselves
/// bounded), not by what a person writes: see [`FILLED_EXPR_CHARS_MAX`].
pub(crate) fn expr_text_within(
    expr: &str,
    (chars_max, regex_bytes_max): (usize, usize),
    regexes: &mut usize,
) -> Result<(), String> {
    let length = expr.chars().count();
    if length > chars_max {
        return Err(format!(
            "is {length} characters long: an expression may have at most {chars_max}"
        ));
    }
    let mut rest = expr;
    while let Some(at) = rest.find(['=', '!']) {
        let after = &rest[at + 1..];
        rest = after;
        let Some(after) = after.strip_prefix('~') else {
            continue;
        };
        let Some((pattern, tail)) = string_literal(after.trim_start()) else {
            continue;
        };
        rest = tail;
        regex(&pattern, regexes, regex_bytes_max)?;
    }
    Ok(())
}

/// The string literal at the start of `text`, unescaped, and the text
/// after it. PromQL quotes with `"`, `'` (escapes as in Go) or backticks
/// (raw).
fn string_literal(text: &str) -> Option<(String, &str)> {
    let quote = text
        .chars()
        .next()
        .filter(|q| matches!(q, '"' | '\'' | '`'))?;
    let mut value = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((at, c)) = chars.next() {
        if c == quote {
            return Some((value, &text[1 + at + 1..]));
        }
        if c == '\\' && quote != '`' {
            match chars.next() {
                Some((_, escaped @ ('\\' | '"' | '\''))) => value.push(escaped),
                // Other escapes mean the same to the regex engine.
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            }
        } else {
            value.push(c);
        }
    }
    None
}

/// Counts one regular expression and refuses it when it compiles to more
/// than [`REGEX_BYTES_MAX`]. A pattern that does not compile at all is the
/// parser's to report.
fn regex(pattern: &str, regexes: &mut usize, bytes_max: usize) -> Result<(), String> {
    *regexes += 1;
    if *regexes > REGEXES_MAX {
        return Err(format!(
            "is the file's regular expression number {}: a rule file may hold at most \
             {REGEXES_MAX}",
            *regexes
        ));
    }
    let built = regex::RegexBuilder::new(&format!("^(?s:{pattern})$"))
        .size_limit(bytes_max)
        .build();
    match built {
        Err(regex::Error::CompiledTooBig(_)) => Err(format!(
            "holds the regular expression {:?}, which compiles to more than {} KiB: a matcher may use at \
             most that (write it with fewer repetitions or narrower classes, e.g. [a-z] for \\w)",
            crate::input::excerpt(pattern),
            bytes_max >> 10
        )),
        _ => Ok(()),
    }
}

/// Checks a parsed expression: its depth, and each `label_replace`
/// pattern, which is compiled as it is evaluated.
#[cfg(test)]
pub(crate) fn expr_tree(expr: &Expr, regexes: &mut usize) -> Result<(), String> {
    expr_tree_within(expr, REGEX_BYTES_MAX, regexes)
}

/// [`expr_tree`] with `regex_bytes_max` as the bound on each pattern.
pub(crate) fn expr_tree_within(
    expr: &Expr,
    regex_bytes_max: usize,
    regexes: &mut usize,
) -> Result<(), String> {
    walk(expr, 1, &mut (regexes, regex_bytes_max))
}

/// The file's regex count so far, and the bound on each regex's size.
type Regexes<'a> = (&'a mut usize, usize);

fn walk(expr: &Expr, depth: usize, regexes: &mut Regexes<'_>) -> Result<(), String> {
    if depth > EXPR_DEPTH_MAX {
        return Err(format!(
            "nests more than {EXPR_DEPTH_MAX} deep (operators, calls and parentheses): split it \
             into recording rules"
        ));
    }
    let next = depth + 1;
    match expr {
        Expr::Aggregate(aggregate) => {
            if let Some(param) = &aggregate.param {
                walk(param, next, regexes)?;
            }
            walk(&aggregate.expr, next, regexes)
        }
        Expr::Unary(unary) => walk(&unary.expr, next, regexes),
        Expr::Binary(binary) => {
            walk(&binary.lhs, next, regexes)?;
            walk(&binary.rhs, next, regexes)
        }
        Expr::Paren(paren) => walk(&paren.expr, next, regexes),
        Expr::Subquery(subquery) => walk(&subquery.expr, next, regexes),
        Expr::Call(call) => {
            if call.func.name == "label_replace" {
                if let Some(Expr::StringLiteral(pattern)) = call.args.args.get(4).map(|a| &**a) {
                    regex(&pattern.val, regexes.0, regexes.1)?;
                }
            }
            call.args
                .args
                .iter()
                .try_for_each(|arg| walk(arg, next, regexes))
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nesting_counts_flow_collections_but_not_quotes_comments_or_shallow_promql() {
        assert_eq!(yaml_nesting("groups: [[[]]]\n"), None);
        let deep = format!("a: 1\ngroups: {}{}\n", "[".repeat(65), "]".repeat(65));
        assert_eq!(yaml_nesting(&deep), Some(2));
        let quoted = format!("expr: \"{}\"\n# {}\n", "[".repeat(100), "{".repeat(100));
        assert_eq!(yaml_nesting(&quoted), None);
        let promql = "groups:\n  - name: a\n    rules:\n      - record: r\n        expr: sum(rate(x{a=\"b\"}[5m]))\n";
        assert_eq!(yaml_nesting(&promql.repeat(100)), None);
    }

    #[test]
    fn an_expression_too_long_or_with_a_costly_regex_is_refused_before_it_is_parsed() {
        let mut regexes = 0;
        assert!(expr_text(r#"up{job=~"api|web", code!~"5.."}"#, &mut regexes).is_ok());
        assert_eq!(regexes, 2);
        let error = expr_text(r#"up{job=~"\\w{50}"}"#, &mut regexes).unwrap_err();
        assert!(
            error.starts_with(
                r#"holds the regular expression "\\w{50}", which compiles to more than 64 KiB"#
            ),
            "{error}"
        );
        // Backticks are raw: the same pattern.
        assert!(expr_text(r"up{job=~`\w{50}`}", &mut regexes).is_err());
        let long = format!("up{}", " + up".repeat(1000));
        let error = expr_text(&long, &mut regexes).unwrap_err();
        assert_eq!(
            error,
            "is 5002 characters long: an expression may have at most 4096"
        );
    }

    #[test]
    fn a_deep_expression_is_refused_after_it_is_parsed() {
        let mut regexes = 0;
        let chain = format!("up{}", " + up".repeat(64));
        let expr = promql_parser::parser::parse(&chain).unwrap();
        assert!(expr_tree(&expr, &mut regexes)
            .unwrap_err()
            .starts_with("nests more than 64 deep"));
        let fine = format!("up{}", " + up".repeat(20));
        let expr = promql_parser::parser::parse(&fine).unwrap();
        assert!(expr_tree(&expr, &mut regexes).is_ok());
        let expr =
            promql_parser::parser::parse(r#"label_replace(up, "a", "$1", "b", "(\\w{50})")"#)
                .unwrap();
        assert!(expr_tree(&expr, &mut regexes)
            .unwrap_err()
            .contains("compiles to more than 64 KiB"));
    }
}
