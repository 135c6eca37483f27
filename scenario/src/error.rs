use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Why a scenario file could not be loaded, and where in it.
///
/// Line and column are 1-based; the column counts characters, not bytes, so
/// it matches what an editor shows. `field` is the dotted path of the value
/// at fault, such as `faults[2].probability` or `workload.concurrency`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    /// `{path}:{line}:{column}: `{field}`: {message}`, leaving out what is
    /// unknown, so editors and terminals can jump to the spot.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        // Keys and values come from the file: a control character in one
        // must not reach the terminal (an escape sequence could rewrite
        // what the person reads), so each is shown escaped.
        // And each is bounded: a 10 MB value quoted whole would bury the
        // one line that says what is wrong.
        if let Some(field) = &self.field {
            write!(f, ": `{}`", escape_controls(&excerpt(field)))?;
        }
        let message = obsim_rules::input::shorten_quoted(&self.message);
        write!(f, ": {}", escape_controls(&bounded_message(&message)))
    }
}

pub(crate) use obsim_rules::input::{bounded_message, excerpt};

/// `text` with every control character but a line break escaped as Rust
/// would write it (`\u{1b}`).
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    let escaped = text
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    std::borrow::Cow::Owned(escaped)
}

impl std::error::Error for ScenarioError {}

pub(crate) use obsim_rules::input::line_column;

/// Builds errors for one file: it knows the path and the text, so callers
/// only say where (a byte offset) and what.
pub(crate) struct Reporter<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Reporter<'_> {
    pub fn at(
        &self,
        offset: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = line_column(self.text, offset);
        ScenarioError {
            path: self.path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An error at the start of `span`.
    pub fn span(
        &self,
        span: &Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.at(span.start, field, message)
    }

    /// An error at a value read with its span.
    pub fn value<T>(
        &self,
        value: &Spanned<T>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.span(&value.span(), field, message)
    }

    /// Turns a toml error (syntax, type, unknown field, missing field) into
    /// one that also names the field, found from the error's span.
    pub fn toml(&self, error: &toml::de::Error) -> ScenarioError {
        let message = humanize(error.message());
        let span = error.span();
        // A missing field is reported at its table; name the field itself.
        let field = match missing_field(error.message()) {
            Some(missing) => Some(
                match span.as_ref().and_then(|span| table_at(self.text, span)) {
                    Some(table) => format!("{table}.{missing}"),
                    None => missing.to_string(),
                },
            ),
            None => span.as_ref().and_then(|span| field_at(self.text, span)),
        };
        let (line, column) = line_column(self.text, span.map_or(0, |span| span.start));
        ScenarioError {
            path: self.path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            field,
            message,
        }
    }
}

/// serde's messages speak Rust (`expected i64`); say it in TOML words.
fn humanize(message: &str) -> String {
    obsim_rules::input::in_words(
        message,
        &[
            ("expected a sequence", "expected an array"),
            ("expected a map", "expected a table"),
            ("expected a boolean", "expected true or false"),
        ],
    )
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .strip_suffix('`')
        .filter(|name| !name.is_empty())
}

/// The dotted path of the innermost key or value whose span holds `span`'s
/// start. The document is re-parsed leniently so that even a syntax error
/// can name the key it sits in when the parser got that far; a duplicate key
/// is named after the key it repeats, and an error just past a value (an
/// unclosed string) goes to the value before it on its line.
pub(crate) fn field_at(text: &str, span: &Range<usize>) -> Option<String> {
    let places = places(text);
    let offset = span.start;
    let inside = places
        .iter()
        .filter(|(place, _)| place.contains(&offset))
        // `min_by_key` keeps the first of equal spans; children come later,
        // so reverse to prefer the deeper path on a tie.
        .rev()
        .min_by_key(|(place, _)| place.len());
    // A duplicate key is left out of the lenient parse; the first one it
    // repeats has the same path.
    let same_text = || {
        let written = text
            .get(span.clone())
            .filter(|written| !written.is_empty())?;
        places
            .iter()
            .filter(|(place, _)| place.end <= offset && text.get(place.clone()) == Some(written))
            .max_by_key(|(place, _)| place.end)
    };
    // Found once, so that placing an error on a long line is linear in the
    // values on it.
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line_start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let before_on_line = || {
        places
            .iter()
            .filter(|(place, _)| place.end <= offset && place.end >= line_start)
            .max_by_key(|(place, _)| place.end)
    };
    inside
        .or_else(same_text)
        .or_else(before_on_line)
        .map(|(_, path)| path.clone())
}

/// The path of the table whose span is exactly `span`: where serde reports a
/// missing field. None for the document itself.
pub(crate) fn table_at(text: &str, span: &Range<usize>) -> Option<String> {
    let places = places(text);
    let table = places.iter().rev().find(|(place, _)| place == span);
    table.map(|(_, path)| path.clone())
}

/// The span of the key at dotted `path` (`system.retry.max`), if the file
/// has it.
pub(crate) fn key_span(text: &str, path: &str) -> Option<Range<usize>> {
    // Keys are recorded before their values, so the first match is the key.
    places(text)
        .into_iter()
        .find(|(_, place)| place == path)
        .map(|(span, _)| span)
}

fn places(text: &str) -> Places {
    let (root, _errors) = DeTable::parse_recoverable(text);
    let mut places = Vec::new();
    collect_table(root.get_ref(), "", &mut places);
    places
}

type Places = Vec<(Range<usize>, String)>;

fn collect_table(table: &DeTable<'_>, prefix: &str, places: &mut Places) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        places.push((key.span(), path.clone()));
        collect_value(value, path, places);
    }
}

fn collect_value(value: &Spanned<DeValue<'_>>, path: String, places: &mut Places) {
    // Children are pushed after their value: later means deeper.
    places.push((value.span(), path.clone()));
    match value.get_ref() {
        DeValue::Table(table) => collect_table(table, &path, places),
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                collect_value(element, format!("{path}[{index}]"), places);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_from_one() {
        let text = "ab\ncé d\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        // 'é' is two bytes; the 'd' after it is the fourth character.
        assert_eq!(line_column(text, 7), (2, 4));
        // Inside 'é' and past the end are clamped rather than panicking.
        assert_eq!(line_column(text, 5), (2, 2));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn display_leaves_out_what_is_unknown() {
        let mut error = ScenarioError {
            path: PathBuf::from("a.toml"),
            line: Some(3),
            column: Some(7),
            field: Some("run.duration".into()),
            message: "expected > 0".into(),
        };
        assert_eq!(
            error.to_string(),
            "a.toml:3:7: `run.duration`: expected > 0"
        );
        error.line = None;
        error.column = None;
        error.field = None;
        assert_eq!(error.to_string(), "a.toml: expected > 0");
    }

    #[test]
    fn field_at_finds_the_innermost_path() {
        let text = "a = 1\n[[f]]\nk = 2\n[[f]]\nk = [1, { x = 3 }]\n";
        let at = |needle: &str| {
            let start = text.rfind(needle).unwrap();
            field_at(text, &(start..start + needle.len()))
        };
        assert_eq!(at("1\n").as_deref(), Some("a"));
        assert_eq!(at("x").as_deref(), Some("f[1].k[1].x"));
        assert_eq!(at("3").as_deref(), Some("f[1].k[1].x"));
        assert_eq!(at("[[f]]").as_deref(), Some("f[1]"));
    }
}
