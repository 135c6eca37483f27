//! The `[system]` table: settings for the system under test. The loader only
//! checks their shape; what they mean is the system's business, and it can
//! report a bad one at its place with [`crate::Scenario::setting_error`].

use std::collections::BTreeMap;

use toml::{Spanned, Value};

use crate::error::{Reporter, ScenarioError};

/// One `[system]` setting and where its value is in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub value: SettingValue,
    /// 1-based line of the value.
    pub line: usize,
    /// 1-based character column of the value.
    pub column: usize,
}

/// The values a setting may have: TOML's scalars and arrays of them.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    List(Vec<SettingValue>),
}

impl SettingValue {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SettingValue::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_integer(&self) -> Option<i64> {
        match self {
            SettingValue::Integer(value) => Some(*value),
            _ => None,
        }
    }

    /// A float, or an integer read as one.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            SettingValue::Float(value) => Some(*value),
            SettingValue::Integer(value) => Some(*value as f64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SettingValue::String(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[SettingValue]> {
        match self {
            SettingValue::List(values) => Some(values),
            _ => None,
        }
    }
}

pub(crate) type RawSystem = BTreeMap<String, Spanned<Value>>;

pub(crate) fn settings(
    raw: RawSystem,
    report: &Reporter<'_>,
) -> Result<BTreeMap<String, Setting>, ScenarioError> {
    raw.into_iter()
        .map(|(key, value)| {
            let field = format!("system.{key}");
            let setting_value = convert(value.get_ref())
                .map_err(|problem| report.value(&value, &field, problem))?;
            let (line, column) = crate::error::line_column(report.text, value.span().start);
            let setting = Setting {
                value: setting_value,
                line,
                column,
            };
            Ok((key, setting))
        })
        .collect()
}

fn convert(value: &Value) -> Result<SettingValue, String> {
    match value {
        Value::Boolean(value) => Ok(SettingValue::Bool(*value)),
        Value::Integer(value) => Ok(SettingValue::Integer(*value)),
        Value::Float(value) => Ok(SettingValue::Float(*value)),
        Value::String(value) => Ok(SettingValue::String(value.clone())),
        Value::Array(values) => values
            .iter()
            .map(convert)
            .collect::<Result<_, _>>()
            .map(SettingValue::List),
        Value::Table(_) => Err(nested("a table")),
        Value::Datetime(_) => Err(nested("a date-time")),
    }
}

fn nested(what: &str) -> String {
    format!(
        "{what} is not a setting: expected a boolean, integer, float, string or an array of them (nested tables are not supported in [system])"
    )
}
