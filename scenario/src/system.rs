//! The `[system]` table: settings for the system under test, read into the
//! system's own serde type with [`crate::Scenario::system_config`].
//!
//! The loader only checks that `[system]` is a table; what its keys mean is
//! the system's business. Its errors still point at the file, line, column
//! and field, and a key the type does not know is an error listing the keys
//! it does know, whether or not the type says `deny_unknown_fields`: a typo
//! in a setting must never fall back to a default in silence.

use std::collections::BTreeSet;
use std::path::Path;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;

use crate::error::{Reporter, ScenarioError};

/// Reads `[system]` from a scenario file's `text` into `T`. A file without
/// `[system]` reads as an empty table, so `T`'s `#[serde(default)]`s apply.
pub(crate) fn system_config<T: DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, ScenarioError> {
    let report = Reporter { path, text };
    let document = toml::de::Deserializer::parse(text).map_err(|error| report.toml(&error))?;
    let mut unknown: Vec<String> = Vec::new();
    // serde_ignored sees every key the target type skipped. Only those
    // under `system.` matter: the rest of the file is the loader's.
    let wrapper: SystemOnly<T> = serde_ignored::deserialize(document, |ignored| {
        let path = dotted(&ignored);
        if path.starts_with("system.") {
            unknown.push(path);
        }
    })
    .map_err(|error| {
        // A type with `deny_unknown_fields` stops at the key itself; word it
        // as for every other type, with the known keys sorted.
        let known = error.message().starts_with("unknown field `");
        match error
            .span()
            .and_then(|span| crate::error::field_at(text, &span))
        {
            Some(field) if known && field.starts_with("system.") => {
                unknown_key::<T>(&report, &field)
            }
            _ => report.toml(&error),
        }
    })?;
    if let Some(key) = unknown.first() {
        return Err(unknown_key::<T>(&report, key));
    }
    match wrapper.system {
        Some(config) => Ok(config),
        // No `[system]`: the type's defaults, or its "missing field" error
        // (placed at the top of the file, where the table would go).
        None => toml::from_str::<T>("").map_err(|error| {
            let mut error = report.toml(&error);
            if let Some(field) = &mut error.field {
                *field = format!("system.{field}");
            }
            error
        }),
    }
}

/// `system.retry.max` or `system.hosts[2]`: the form errors name fields in.
/// serde_ignored's own form marks options and newtypes with `?`.
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", dotted(parent)),
        Path::Map { parent, key } => match dotted(parent) {
            parent if parent.is_empty() => key.clone(),
            parent => format!("{parent}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => dotted(parent),
    }
}

/// The file, as far as `[system]` goes; every other key is ignored here.
#[derive(Deserialize)]
struct SystemOnly<T> {
    system: Option<T>,
}

fn unknown_key<T: DeserializeOwned>(report: &Reporter<'_>, path: &str) -> ScenarioError {
    let span = crate::error::key_span(report.text, path);
    let known = known_keys::<T>();
    let expected = if known.is_empty() {
        "the system takes no settings here".to_string()
    } else {
        format!("expected one of {}", known.join(", "))
    };
    let message = format!("unknown setting of the system under test: {expected}");
    match span {
        Some(span) => report.span(&span, path, message),
        None => ScenarioError {
            path: report.path.to_path_buf(),
            line: None,
            column: None,
            field: Some(path.to_string()),
            message,
        },
    }
}

/// The top-level field names of `T`, as its `Deserialize` impl declares them
/// to serde (`deserialize_struct`'s `fields`). Empty for a type that is not
/// a plain struct. This is the introspection trick of `serde-aux`: a
/// deserializer that records the fields it is asked for and then stops.
pub(crate) fn known_keys<T: DeserializeOwned>() -> Vec<String> {
    let mut fields = BTreeSet::new();
    let _ = T::deserialize(FieldNames {
        fields: &mut fields,
    });
    fields.into_iter().collect()
}

struct FieldNames<'a> {
    fields: &'a mut BTreeSet<String>,
}

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names read")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        self.fields
            .extend(fields.iter().map(|field| field.to_string()));
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
