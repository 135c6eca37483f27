//! Reading an input file with a bound, and quoting input with a bound.
//!
//! obsim reads scenario files and Prometheus rule files that a person names.
//! A name can point anywhere: a FIFO would block the read forever, and
//! `/dev/zero` would fill memory. So a file is read only when it is a
//! regular file, at most `bytes_max` bytes are ever read, and the text must
//! be UTF-8, with the line and column of the first byte that is not.
//!
//! Errors quote input only through [`excerpt`], so a 10 MB value gives a
//! line of output, not 10 MB.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Characters of one value an error message may quote.
pub const EXCERPT_CHARS_MAX: usize = 80;

/// Characters of a whole error message (its fixed text included) past which
/// its middle is left out: a safety net behind [`excerpt`].
pub const MESSAGE_CHARS_MAX: usize = 2_000;

/// Why an input file was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// 1-based line and column of the first byte that is not UTF-8.
    pub place: Option<(usize, usize)>,
    pub problem: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem)
    }
}

impl std::error::Error for InputError {}

/// The text of the regular file at `path`, at most `bytes_max` bytes of
/// UTF-8. `what` names the kind of file in errors ("a scenario file").
pub fn read_text(path: &Path, bytes_max: u64, what: &str) -> Result<String, InputError> {
    let problem = |problem: String| InputError {
        place: None,
        problem,
    };
    // Asked before opening: opening a FIFO blocks until a writer comes.
    let metadata =
        std::fs::metadata(path).map_err(|error| problem(format!("cannot be read: {error}")))?;
    if !metadata.is_file() {
        return Err(problem(format!(
            "is {}, not a regular file: {what} must be a regular file",
            kind_of(&metadata.file_type())
        )));
    }
    let too_large = || {
        problem(format!(
            "is larger than {}, the most {what} may be",
            bytes_text(bytes_max)
        ))
    };
    if metadata.len() > bytes_max {
        return Err(too_large());
    }
    let file =
        std::fs::File::open(path).map_err(|error| problem(format!("cannot be read: {error}")))?;
    // The file may grow between the question and the read: read one byte
    // past the bound to know.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(bytes_max + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| problem(format!("cannot be read: {error}")))?;
    if bytes.len() as u64 > bytes_max {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|error| not_utf8(error.as_bytes(), error.utf8_error()))
}

/// The 1-based line and character column of byte `offset` in `text`.
/// Offsets past the end or inside a character are clamped, so a stray span
/// can never make error reporting panic.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn not_utf8(bytes: &[u8], error: std::str::Utf8Error) -> InputError {
    let valid = &bytes[..error.valid_up_to()];
    // Valid up to here, so this cannot fail; a failure would only lose the
    // place, never panic.
    let before = std::str::from_utf8(valid).unwrap_or("");
    let (line, column) = line_column(before, before.len());
    let byte = bytes.get(error.valid_up_to()).copied().unwrap_or(0);
    InputError {
        place: Some((line, column)),
        problem: format!(
            "is not UTF-8 text: byte 0x{byte:02X} at line {line}, column {column} starts no \
             character (save the file as UTF-8)"
        ),
    }
}

#[cfg(unix)]
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn kind_of(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// `1 MiB`, `256 KiB`, or bytes.
fn bytes_text(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// `text` as an error may quote it: at most [`EXCERPT_CHARS_MAX`]
/// characters, then how many were left out.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    shortened(text, EXCERPT_CHARS_MAX)
}

/// Characters of a path an error may quote: more than a value, since a
/// real path can be long, but bounded, since a rule file's path is the
/// file's own text.
pub const PATH_CHARS_MAX: usize = 256;

/// A path as an error may quote it: at most [`PATH_CHARS_MAX`] characters.
pub fn path_excerpt(path: &str) -> Cow<'_, str> {
    shortened(path, PATH_CHARS_MAX)
}

/// `text`, its first `chars_max` characters and how many more there were.
/// Text already shortened so is left as it is, so that a message quoted in
/// another keeps the count of what the first left out.
pub fn shortened(text: &str, chars_max: usize) -> Cow<'_, str> {
    let already = text
        .strip_suffix(" more characters)")
        .and_then(|rest| rest.rsplit_once("… ("))
        .is_some_and(|(head, count)| {
            count.bytes().all(|b| b.is_ascii_digit()) && head.chars().count() <= chars_max
        });
    if already {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(chars_max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => {
            let left_out = text[end..].chars().count();
            Cow::Owned(format!("{}… ({left_out} more characters)", &text[..end]))
        }
    }
}

/// A whole message kept under [`MESSAGE_CHARS_MAX`] characters: its start
/// and its end (where "expected ..." usually is), the middle left out.
pub fn bounded_message(text: &str) -> Cow<'_, str> {
    let total = text.chars().count();
    if total <= MESSAGE_CHARS_MAX {
        return Cow::Borrowed(text);
    }
    let keep = MESSAGE_CHARS_MAX / 2;
    let head_end = text
        .char_indices()
        .nth(keep)
        .map_or(text.len(), |(at, _)| at);
    let tail_start = text
        .char_indices()
        .nth(total - keep)
        .map_or(text.len(), |(at, _)| at);
    Cow::Owned(format!(
        "{} … ({} characters left out) … {}",
        &text[..head_end],
        total - 2 * keep,
        &text[tail_start..]
    ))
}

/// A serde message in the words of the file a person wrote rather than in
/// Rust's: first `format_words` (the format's own: "a sequence" is a TOML
/// array, a YAML list), then the number types any settings type may use,
/// and each value it quotes cut to an excerpt.
pub fn in_words(message: &str, format_words: &[(&str, &str)]) -> String {
    const NUMBER_WORDS: &[(&str, &str)] = &[
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected i128", "expected an integer"),
        (
            "expected i32",
            "expected an integer from -2147483648 to 2147483647",
        ),
        ("expected i16", "expected an integer from -32768 to 32767"),
        ("expected i8", "expected an integer from -128 to 127"),
        ("expected u128", "expected an integer >= 0"),
        ("expected u64", "expected an integer >= 0"),
        ("expected usize", "expected an integer >= 0"),
        ("expected u32", "expected an integer from 0 to 4294967295"),
        ("expected u16", "expected an integer from 0 to 65535"),
        ("expected u8", "expected an integer from 0 to 255"),
        ("expected f32", "expected a number"),
        // serde names the type it read a too-large integer as.
        ("` as i128", "`"),
        ("` as u128", "`"),
    ];
    let worded = format_words
        .iter()
        .chain(NUMBER_WORDS)
        .fold(message.to_string(), |text, (from, to)| {
            text.replace(from, to)
        });
    shorten_quoted(&worded)
}

/// `message` with each quoted value cut to an excerpt: values in double
/// quotes (serde and Rust's `{:?}` quote so, `\"` inside) and in backticks
/// (obsim's messages quote words of the file so). A quote left open is
/// left as it is: it is no value.
pub fn shorten_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = if rest[open..].starts_with('"') {
            '"'
        } else {
            '`'
        };
        out.push_str(&rest[..=open]);
        let inside = &rest[open + 1..];
        let mut escaped = false;
        let close = inside.char_indices().find_map(|(at, c)| {
            let end = c == quote && !escaped;
            escaped = quote == '"' && c == '\\' && !escaped;
            end.then_some(at)
        });
        let Some(close) = close else {
            out.push_str(inside);
            return out;
        };
        out.push_str(&excerpt(&inside[..close]));
        out.push(quote);
        rest = &inside[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_keeps_short_text_and_says_how_much_it_left_out() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "é".repeat(EXCERPT_CHARS_MAX + 5);
        let shown = excerpt(&long);
        assert!(shown.starts_with(&"é".repeat(EXCERPT_CHARS_MAX)));
        assert!(shown.ends_with("… (5 more characters)"), "{shown}");
        assert_eq!(
            excerpt(&shown),
            shown,
            "shortening twice keeps the first count"
        );
    }

    #[test]
    fn a_bounded_message_keeps_both_ends() {
        let message = format!("start {} expected an integer", "x".repeat(10_000));
        let shown = bounded_message(&message);
        assert!(
            shown.chars().count() < MESSAGE_CHARS_MAX + 60,
            "{}",
            shown.len()
        );
        assert!(shown.starts_with("start "));
        assert!(shown.ends_with("expected an integer"));
        assert!(shown.contains("characters left out"));
    }

    #[test]
    fn special_files_are_refused_before_they_are_opened() {
        let error = read_text(Path::new("/dev/zero"), 1 << 20, "a rule file").unwrap_err();
        assert_eq!(
            error.problem,
            "is a character device, not a regular file: a rule file must be a regular file"
        );
        let error = read_text(Path::new("/"), 1 << 20, "a rule file").unwrap_err();
        assert!(error.problem.starts_with("is a directory"), "{error}");
    }

    #[test]
    fn a_file_past_the_bound_is_refused_and_non_utf8_text_names_its_place() {
        let dir = std::env::temp_dir().join(format!("obsim-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.yml");
        std::fs::write(&path, vec![b'a'; 2048]).unwrap();
        let error = read_text(&path, 1024, "a rule file").unwrap_err();
        assert_eq!(
            error.problem,
            "is larger than 1 KiB, the most a rule file may be"
        );
        assert_eq!(read_text(&path, 2048, "a rule file").unwrap().len(), 2048);
        std::fs::write(&path, b"groups:\n  - n\xC3a\xFF\n").unwrap();
        let error = read_text(&path, 1024, "a rule file").unwrap_err();
        assert_eq!(error.place, Some((2, 6)));
        assert!(
            error.problem.contains("byte 0xC3 at line 2, column 6"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn quoted_values_are_cut_and_the_words_around_them_kept() {
        let long = "x".repeat(200);
        let message =
            format!("unknown kind `{long}`: expected one of `a`, `b`; got \"{long}\\\"\" at end");
        let shown = shorten_quoted(&message);
        assert_eq!(
            shown,
            format!(
                "unknown kind `{}… (120 more characters)`: expected one of `a`, `b`; got \"{}… (122 more characters)\" at end",
                "x".repeat(80),
                "x".repeat(80)
            )
        );
        assert_eq!(shorten_quoted("a lone ` stays"), "a lone ` stays");
    }
}
