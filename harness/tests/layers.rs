//! The harness is four layers, and each reaches only the layers below it:
//!
//! ```text
//!   verdict  ->  sim, checks, run
//!   sim      ->  run
//!   checks   ->  run
//!   run      ->  (nothing)
//! ```
//!
//! A file's layer is its first folder under `src/`; `lib.rs` is the root,
//! which may name every layer. The scan reads the source text: every path that
//! starts at `crate::`, `self::` or `super::` (grouped `use crate::{a, b::c}`
//! imports included) is resolved to the module it names. A path through the
//! root's re-exports (`crate::Config`) counts as reaching the root, since it
//! hides which layer it lands in: layers name each other explicitly
//! (`crate::run::Config`). Comments and string literals are skipped: a doc
//! link or a message is not a dependency.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

const LAYERS: [&str; 4] = ["run", "sim", "checks", "verdict"];

/// The layers `layer` may reach besides itself.
fn allowed(layer: &str) -> &'static [&'static str] {
    match layer {
        "sim" | "checks" => &["run"],
        "verdict" => &["run", "sim", "checks"],
        _ => &[],
    }
}

/// A reference from a file of one layer to a module outside it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Reference {
    /// Relative to `src/`, with `/` separators.
    file: String,
    line: usize,
    from: String,
    /// A layer, or `crate root` for a path through `lib.rs`'s re-exports,
    /// which would hide which layer it reaches.
    to: String,
    /// As written, e.g. `crate::sim::World` or `super::super::checks::Check`.
    path: String,
}

impl Reference {
    fn is_allowed(&self) -> bool {
        self.to == self.from || allowed(&self.from).contains(&self.to.as_str())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "harness/src/{}:{}: {} -> {} through `{}`",
            self.file, self.line, self.from, self.to, self.path
        )
    }
}

/// The layer of a file, by its first folder under `src/`; None for `lib.rs`.
fn layer_of(file: &str) -> Result<Option<&str>, String> {
    if file == "lib.rs" {
        return Ok(None);
    }
    let first = file.split('/').next().unwrap_or(file);
    match LAYERS.iter().find(|layer| **layer == first) {
        Some(layer) if file.contains('/') => Ok(Some(layer)),
        _ => Err(format!(
            "harness/src/{file} belongs to no layer: put it under one of src/{{{}}}/",
            LAYERS.join(",")
        )),
    }
}

/// The module path of a file: `sim/world.rs` is `sim::world`, `sim/mod.rs`
/// is `sim`.
fn module_of(file: &str) -> Vec<String> {
    let without = file.strip_suffix(".rs").unwrap_or(file);
    let mut path: Vec<String> = without.split('/').map(String::from).collect();
    if path
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        path.pop();
    }
    path
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// Tokens of `source` with their 1-based lines. Comments (nested block
/// comments too), string, byte and raw string literals, char literals,
/// lifetimes and numbers are dropped: only code can depend on a module.
fn tokenize(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    // Skips to just past the closing quote of a (non-raw) string whose
    // opening quote is at `i`, counting lines.
    let skip_string = |mut i: usize, line: &mut usize| {
        i += 1;
        while i < chars.len() && chars[i] != '"' {
            if chars[i] == '\\' {
                i += 1;
            }
            if at(i) == '\n' {
                *line += 1;
            }
            i += 1;
        }
        i + 1
    };
    // Raw string `r#*"..."#*` whose `r` is at `i`.
    let skip_raw = |mut i: usize, line: &mut usize| {
        i += 1;
        let mut hashes = 0;
        while at(i) == '#' {
            hashes += 1;
            i += 1;
        }
        i += 1; // the opening quote
        loop {
            if i >= chars.len() {
                return i;
            }
            if chars[i] == '\n' {
                *line += 1;
            }
            if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                return i + 1 + hashes;
            }
            i += 1;
        }
    };
    // `r"..."` or `r#"..."#` starts at `i` (a raw identifier, `r#type`, does not).
    let is_raw_string = |i: usize| {
        let mut k = i + 1;
        while at(k) == '#' {
            k += 1;
        }
        at(k) == '"'
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(i, &mut line);
        } else if c == 'r' && is_raw_string(i) {
            i = skip_raw(i, &mut line);
        } else if c == 'b' && at(i + 1) == '"' {
            i = skip_string(i + 1, &mut line);
        } else if c == 'b' && at(i + 1) == 'r' && is_raw_string(i + 1) {
            i = skip_raw(i + 1, &mut line);
        } else if c == 'b' && at(i + 1) == '\'' {
            i += 1; // a byte literal: the char literal branch takes it
        } else if c == '\'' {
            if at(i + 1) == '\\' {
                // An escaped char literal: `'\n'`, `'\''`, `'\u{e9}'`.
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3; // a plain char literal, `'"'` included
            } else {
                i += 1; // a lifetime: its name follows as an identifier
            }
        } else if c.is_ascii_digit() {
            while at(i).is_ascii_alphanumeric() || at(i) == '_' {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            // A raw identifier, `r#type`, is the identifier itself.
            let start = if at(start) == 'r' && at(i) == '#' && at(i + 1).is_alphabetic() {
                i += 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                start + 2
            } else {
                start
            };
            let word: String = chars[start..i].iter().collect();
            tokens.push((Token::Ident(word), line));
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push((Token::PathSep, line));
            i += 2;
        } else {
            tokens.push((Token::Punct(c), line));
            i += 1;
        }
    }
    tokens
}

/// One path as written, expanded out of any `{...}` groups: its segments
/// with the line each came from.
type Expanded = Vec<(String, usize)>;

/// Parses a path starting at `tokens[i]`: `a::b::c`, `a::{b, c::d}`,
/// `a::*`, nested groups. Returns every full path and the index after it.
fn parse_path(tokens: &[(Token, usize)], mut i: usize, prefix: Expanded) -> (Vec<Expanded>, usize) {
    let mut path = prefix;
    loop {
        match tokens.get(i) {
            Some((Token::Ident(name), line)) => {
                path.push((name.clone(), *line));
                i += 1;
            }
            Some((Token::Punct('*'), line)) => {
                path.push(("*".into(), *line));
                return (vec![path], i + 1);
            }
            Some((Token::Punct('{'), _)) => {
                let mut all = Vec::new();
                i += 1;
                while let Some((token, _)) = tokens.get(i) {
                    match token {
                        Token::Punct('}') => {
                            i += 1;
                            break;
                        }
                        Token::Punct(',') => i += 1,
                        _ => {
                            let (paths, next) = parse_path(tokens, i, path.clone());
                            all.extend(paths);
                            // Skip an `as alias` and anything else up to the
                            // next item.
                            i = next;
                            while let Some((token, _)) = tokens.get(i) {
                                if matches!(token, Token::Punct(',' | '}')) {
                                    break;
                                }
                                i += 1;
                            }
                        }
                    }
                }
                return (all, i);
            }
            _ => return (vec![path], i),
        }
        if tokens.get(i).map(|(token, _)| token) != Some(&Token::PathSep) {
            return (vec![path], i);
        }
        i += 1;
    }
}

/// Every reference from `file` (relative to `src/`, e.g. `sim/world.rs`)
/// to a module outside its own layer, allowed or not. Errors when the file
/// is in no layer.
fn references(file: &str, source: &str) -> Result<Vec<Reference>, String> {
    let Some(from) = layer_of(file)? else {
        return Ok(Vec::new()); // the root may name every layer
    };
    let tokens = tokenize(source);
    let file_module = module_of(file);
    // Inline `mod name { ... }` blocks, with the brace depth inside them:
    // `super` in a `mod tests` block is the file's own module.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (token, line) = &tokens[i];
        match token {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
                continue;
            }
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        let root = match token {
            Token::Ident(word) => matches!(word.as_str(), "crate" | "self" | "super"),
            _ => false,
        };
        let starts_path = root
            && tokens.get(i + 1).map(|(t, _)| t) == Some(&Token::PathSep)
            && (i == 0 || tokens[i - 1].0 != Token::PathSep);
        if !starts_path {
            i += 1;
            continue;
        }
        let (paths, next) = parse_path(&tokens, i, Vec::new());
        let here: Vec<String> = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        for path in paths {
            let written: Vec<&str> = path.iter().map(|(segment, _)| segment.as_str()).collect();
            let mut resolved: Vec<String> = match written[0] {
                "crate" => Vec::new(),
                _ => here.clone(), // `self` and `super`
            };
            let mut rest = &path[1..];
            if written[0] == "super" {
                resolved.pop();
                while rest.first().is_some_and(|(segment, _)| segment == "super") {
                    resolved.pop();
                    rest = &rest[1..];
                }
            }
            resolved.extend(rest.iter().map(|(segment, _)| segment.clone()));
            let to = match resolved.first() {
                Some(first) if LAYERS.contains(&first.as_str()) => first.clone(),
                _ => "crate root".to_string(),
            };
            if to == from {
                continue;
            }
            // The line of the segment that names the target, for a group
            // spread over several lines.
            let named = path.len() - rest.len();
            let line = path.get(named).map_or(*line, |(_, line)| *line);
            found.push(Reference {
                file: file.to_string(),
                line,
                from: from.to_string(),
                to,
                path: written.join("::"),
            });
        }
        i = next;
    }
    Ok(found)
}

/// Every `.rs` file under `dir`, relative to `root`, sorted.
fn rust_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(root, &path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path.strip_prefix(root).expect("under src").to_path_buf());
        }
    }
    files.sort();
}

#[test]
fn harness_layers_only_depend_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &src, &mut files);
    let mut problems = Vec::new();
    let mut files_by_layer: BTreeMap<String, usize> = BTreeMap::new();
    let mut downward = 0;
    for relative in &files {
        let file = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let source = std::fs::read_to_string(src.join(relative))
            .unwrap_or_else(|e| panic!("harness/src/{file}: {e}"));
        if let Ok(Some(layer)) = layer_of(&file) {
            *files_by_layer.entry(layer.to_string()).or_default() += 1;
        }
        match references(&file, &source) {
            Ok(found) => {
                for reference in found {
                    if reference.is_allowed() {
                        downward += 1;
                    } else {
                        problems.push(reference.to_string());
                    }
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    assert!(
        problems.is_empty(),
        "harness layers must only depend downward (run -> nothing; sim -> run; \
         checks -> run; verdict -> run, sim, checks), but:\n  {}\n\
         Move the item down to the layer that may be reached (plain data goes to `run`), \
         or move the code that needs it up.",
        problems.join("\n  ")
    );
    // Not vacuous: every layer has files, and the scan saw the layers use each other.
    for layer in LAYERS {
        assert!(
            files_by_layer.get(layer).is_some_and(|n| *n > 0),
            "no files found for layer `{layer}` under {}",
            src.display()
        );
    }
    assert!(
        downward > 0,
        "the scan found no reference between layers at all"
    );
}

#[test]
fn layer_check_catches_planted_upward_references() {
    let planted = r#"//! A run record that reaches up, in every way the scan must see.
use std::fmt; // crate::sim in a comment is no reference
use crate::{
    checks::Check,
    run::exposition::{self, Exposition},
};
use crate::Config;

fn message() -> &'static str {
    "crate::verdict in a string is no reference either"
}

fn quote() -> char {
    '"'
}

pub(crate) fn world(_: super::super::sim::World) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Run;
}
"#;
    let found: Vec<String> = references("run/record.rs", planted)
        .expect("run/record.rs is in the run layer")
        .into_iter()
        .filter(|reference| !reference.is_allowed())
        .map(|reference| reference.to_string())
        .collect();
    assert_eq!(
        found,
        [
            "harness/src/run/record.rs:4: run -> checks through `crate::checks::Check`",
            "harness/src/run/record.rs:7: run -> crate root through `crate::Config`",
            "harness/src/run/record.rs:17: run -> sim through `super::super::sim::World`",
        ]
    );

    // `super::*` at the top of a layer's `mod.rs` is the crate root.
    let top = "use super::*;\nmod tests {\n    use super::*;\n}\n";
    let found = references("checks/mod.rs", top).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "harness/src/checks/mod.rs:1: checks -> crate root through `super::*`"
    );

    // What a layer may reach passes, and a file outside every layer fails.
    let downward = "use crate::{checks::{check_run, Check}, run::Run, sim::Sim};\n";
    let found = references("verdict/check_seed.rs", downward).unwrap();
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().all(Reference::is_allowed), "{found:?}");
    let error = references("stray.rs", "").unwrap_err();
    assert!(
        error.contains("harness/src/stray.rs belongs to no layer"),
        "{error}"
    );
}
