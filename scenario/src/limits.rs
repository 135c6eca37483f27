//! Bounds on what a scenario file may hold, checked over the whole document
//! before any field is read: every string, every array and every number,
//! the `[system]` table included (its type is the system's own, so this is
//! the only place that can bound it).
//!
//! A file is at most [`SCENARIO_FILE_BYTES_MAX`]; within it, a value is at
//! most [`STRING_CHARS_MAX`] characters and an array at most
//! [`ARRAY_LEN_MAX`] entries (so `[[faults]]` too). A number that TOML
//! cannot hold as written (an integer past 64 bits, a float that would
//! read as 0 or as infinity) is an error at its line, not a silent 0.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{Reporter, ScenarioError};

/// The largest scenario file obsim reads. A shrunk `minimal.toml` that
/// replays [`ARRAY_LEN_MAX`] fixed fault events is under 16 MiB.
pub const SCENARIO_FILE_BYTES_MAX: u64 = 16 << 20;

/// The most characters of one string value or key.
pub const STRING_CHARS_MAX: usize = 4_096;

/// The most entries of one array: `[[faults]]`, `expect`, a system's own
/// lists. It is the harness's fault log capacity, so every fixed schedule a
/// run can record can be written down and read back.
pub const ARRAY_LEN_MAX: usize = 100_000;

/// The most characters of a scenario's `name`: it names folders and files.
pub const NAME_CHARS_MAX: usize = 64;

/// The first value of `text` past a bound, in file order. A document that
/// does not parse is left to serde, which reports the syntax error.
pub(crate) fn check(report: &Reporter<'_>, text: &str) -> Result<(), ScenarioError> {
    let Ok(root) = DeTable::parse(text) else {
        return Ok(());
    };
    table(report, root.get_ref(), "")
}

fn table(report: &Reporter<'_>, table: &DeTable<'_>, prefix: &str) -> Result<(), ScenarioError> {
    for (key, value) in table.iter() {
        let name = key.get_ref();
        if name.chars().count() > STRING_CHARS_MAX {
            let message = too_long(name);
            return Err(report.span(&key.span(), prefix.to_string(), message));
        }
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        self::value(report, value, &path)?;
    }
    Ok(())
}

fn value(
    report: &Reporter<'_>,
    value: &Spanned<DeValue<'_>>,
    path: &str,
) -> Result<(), ScenarioError> {
    let at = |message: String| Err(report.span(&value.span(), path.to_string(), message));
    match value.get_ref() {
        DeValue::String(text) if text.chars().count() > STRING_CHARS_MAX => at(too_long(text)),
        DeValue::Integer(integer) => {
            let digits = integer.as_str();
            if i64::from_str_radix(digits, integer.radix()).is_ok() {
                return Ok(());
            }
            at(format!(
                "{} does not fit in a TOML integer: expected an integer from {} to {}",
                crate::error::excerpt(digits),
                i64::MIN,
                i64::MAX
            ))
        }
        DeValue::Float(float) => float_fits(float.as_str()).or_else(at),
        DeValue::Array(array) => {
            if array.len() > ARRAY_LEN_MAX {
                return at(format!(
                    "has {} entries: an array may have at most {ARRAY_LEN_MAX}",
                    array.len()
                ));
            }
            for (index, element) in array.iter().enumerate() {
                self::value(report, element, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        DeValue::Table(inner) => table(report, inner, path),
        _ => Ok(()),
    }
}

fn too_long(text: &str) -> String {
    format!(
        "{} is {} characters long: a value may have at most {STRING_CHARS_MAX}",
        crate::error::excerpt(&format!("{text:?}")),
        text.chars().count()
    )
}

/// A float as written must read as itself: `1e-400` would read as 0 and
/// `1e400` as infinity. `inf` and `nan` written as such are left to the
/// field that reads them.
fn float_fits(written: &str) -> Result<(), String> {
    let lower = written.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return Ok(());
    }
    let Ok(number) = written.replace('_', "").parse::<f64>() else {
        return Ok(());
    };
    let mantissa = lower.split('e').next().unwrap_or("");
    let nonzero = mantissa.chars().any(|c| c.is_ascii_digit() && c != '0');
    if number == 0.0 && nonzero {
        return Err(format!(
            "{} is too small to be represented: it would read as 0 (the smallest number is \
             about 5e-324; write 0 if 0 is meant)",
            crate::error::excerpt(written)
        ));
    }
    if number.is_infinite() {
        return Err(format!(
            "{} is too large to be represented (the largest number is about 1.8e308)",
            crate::error::excerpt(written)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::tests::TempDir;
    use crate::{Scenario, ScenarioError};

    const HEAD: &str = "name = \"t\"\ndescription = \"d\"\n";

    fn error(text: &str) -> ScenarioError {
        match Scenario::parse(Path::new("t.toml"), text, &["span_completion"]) {
            Ok(_) => panic!("expected an error"),
            Err(error) => error,
        }
    }

    fn load(dir: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let path = dir.join("s.toml");
        std::fs::write(&path, text).unwrap();
        Scenario::load(&path, &["alert_correctness"])
    }

    #[test]
    fn a_fifo_or_a_device_named_as_a_rule_file_is_refused_without_reading_it() {
        let temp = TempDir::new("limits-special");
        let dir = &temp.0;
        let fifo = dir.join("events.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|status| status.success()), "mkfifo");
        // Reading the FIFO would block this test forever: the error must
        // come from asking what the file is.
        let error = load(
            dir,
            &format!("{HEAD}[alerts]\nrule_files = [\"events.fifo\"]\n"),
        )
        .unwrap_err();
        assert_eq!(
            (error.line, error.field.as_deref()),
            (Some(4), Some("alerts.rule_files[0]"))
        );
        assert!(error.message.ends_with("events.fifo is a FIFO (named pipe), not a regular file: a rule file must be a regular file"), "{error}");
        for device in ["/dev/zero", "/dev/urandom"] {
            let error = load(
                dir,
                &format!("{HEAD}[alerts]\nrule_files = [\"{device}\"]\n"),
            )
            .unwrap_err();
            assert!(
                error
                    .message
                    .contains("is a character device, not a regular file"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_rule_file_that_is_no_rule_file_is_not_quoted() {
        let temp = TempDir::new("limits-passwd");
        let dir = &temp.0;
        std::fs::write(
            dir.join("passwd"),
            "root:x:0:0:root:/root:/bin/bash\nsecret:x:1:1::/:/bin/sh\n",
        )
        .unwrap();
        let error = load(dir, &format!("{HEAD}[alerts]\nrule_files = [\"passwd\"]\n")).unwrap_err();
        let shown = error.to_string();
        assert!(shown.ends_with("passwd:1: is not a Prometheus rule file: expected a YAML mapping with `groups:` at the top"), "{shown}");
        assert!(
            !shown.contains("root:x") && !shown.contains("secret"),
            "{shown}"
        );
    }

    #[test]
    fn a_scenario_file_that_is_not_utf8_or_too_large_is_refused_with_its_place() {
        let temp = TempDir::new("limits-utf8");
        let dir = &temp.0;
        let path = dir.join("s.toml");
        std::fs::write(&path, b"name = \"t\"\ndescription = \"caf\xE9\"\n").unwrap();
        let error = Scenario::load(&path, &[]).unwrap_err();
        assert_eq!((error.line, error.column), (Some(2), Some(19)), "{error}");
        assert!(
            error.message.contains("is not UTF-8 text: byte 0xE9"),
            "{error}"
        );
        let big = std::fs::File::create(&path).unwrap();
        big.set_len(super::SCENARIO_FILE_BYTES_MAX + 1).unwrap();
        let error = Scenario::load(&path, &[]).unwrap_err();
        assert_eq!(
            error.message,
            "the scenario file is larger than 16 MiB, the most a scenario file may be"
        );
        let error = Scenario::load(dir, &[]).unwrap_err();
        assert!(
            error.message.contains("is a directory, not a regular file"),
            "{error}"
        );
    }

    #[test]
    fn a_huge_value_is_refused_and_quoted_only_as_an_excerpt() {
        let huge = "k".repeat(10 << 20);
        let cases = [
            format!("{HEAD}[[faults]]\nkind = \"{huge}\"\n"),
            format!("{HEAD}expect = [\"final(x{{a=\\\"{huge}\\\"}}) > 0\"]\n"),
            format!("name = \"{huge}\"\ndescription = \"d\"\n"),
            format!("{HEAD}[system]\nsetting = \"{huge}\"\n"),
        ];
        for text in cases {
            let error = error(&text);
            let shown = error.to_string();
            assert!(
                shown.len() < 400,
                "{} bytes: {}",
                shown.len(),
                &shown[..400]
            );
            assert!(
                shown.contains("characters long: a value may have at most 4096"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_quoted_as_an_excerpt() {
        let long = "a".repeat(4_000);
        let error = error(&format!(
            "{HEAD}[[faults]]\nkind = \"packet_loss\"\nprobability = \"{long}\"\n"
        ));
        assert_eq!(error.field.as_deref(), Some("faults[0].probability"));
        let shown = error.to_string();
        assert!(shown.len() < 300, "{} bytes: {shown}", shown.len());
        assert!(shown.contains("(3920 more characters)"), "{shown}");
    }

    #[test]
    fn a_long_rule_file_path_is_quoted_as_an_excerpt() {
        let long = "r".repeat(4_000);
        let error = error(&format!("{HEAD}[alerts]\nrule_files = [\"{long}.yml\"]\n"));
        assert_eq!(error.field.as_deref(), Some("alerts.rule_files[0]"));
        let shown = error.to_string();
        assert!(shown.len() < 500, "{} bytes: {shown}", shown.len());
        assert!(
            shown.contains("more characters) cannot be read: "),
            "{shown}"
        );
    }

    #[test]
    fn a_long_name_is_refused() {
        let name = "a".repeat(super::NAME_CHARS_MAX + 1);
        let error = error(&format!("name = \"{name}\"\ndescription = \"d\"\n"));
        assert_eq!(error.field.as_deref(), Some("name"));
        assert!(
            error
                .message
                .starts_with("is 65 characters long: a name may have at most 64"),
            "{error}"
        );
    }

    #[test]
    fn more_fault_entries_than_a_run_can_record_are_refused_at_load() {
        let entry = "[[faults]]\nkind = \"packet_loss\"\nprobability = 0.1\n";
        let text = format!("{HEAD}{}", entry.repeat(super::ARRAY_LEN_MAX + 1));
        let error = error(&text);
        assert_eq!(
            (error.line, error.field.as_deref()),
            (Some(3), Some("faults")),
            "{error}"
        );
        assert_eq!(
            error.message,
            "has 100001 entries: an array may have at most 100000"
        );
    }

    #[test]
    fn numbers_that_cannot_be_represented_are_errors_at_their_line() {
        let error = self::error(&format!(
            "{HEAD}[[faults]]\nkind = \"packet_loss\"\nprobability = 1e-400\n"
        ));
        assert_eq!(
            (error.line, error.field.as_deref()),
            (Some(5), Some("faults[0].probability")),
            "{error}"
        );
        assert!(
            error
                .message
                .starts_with("1e-400 is too small to be represented: it would read as 0"),
            "{error}"
        );
        let error = self::error(&format!("{HEAD}[seeds]\nstart = 18446744073709551616\n"));
        assert_eq!(
            (error.line, error.field.as_deref()),
            (Some(4), Some("seeds.start")),
            "{error}"
        );
        assert_eq!(error.message, "18446744073709551616 does not fit in a TOML integer: expected an integer from -9223372036854775808 to 9223372036854775807");
        // 0 written as 0.0 or 0e5 is 0, not an error.
        let text = format!("{HEAD}[[faults]]\nkind = \"packet_loss\"\nprobability = 0e5\n");
        assert!(Scenario::parse(Path::new("t.toml"), &text, &["span_completion"]).is_ok());
    }
}
