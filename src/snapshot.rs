//! One insta snapshot per scenario file, kept in the user's crate (not in
//! obsim's): `<snapshots>/<folders>/<file stem>.snap`.

use std::path::Path;

use crate::suite::SuiteFile;

/// Asserts `report` against the file's snapshot. insta panics on a
/// mismatch (the test harness turns that into this file's failure) and,
/// outside CI, leaves a `.snap.new` for `cargo insta review`.
pub(crate) fn assert_report(snapshots: &Path, file: &SuiteFile, report: &str) {
    let relative = Path::new(&file.name);
    let folder = match relative.parent() {
        Some(parent) => snapshots.join(parent),
        None => snapshots.to_path_buf(),
    };
    // insta reads a relative snapshot path from the asserting source file,
    // which is obsim's; anchor it at the current directory instead.
    let folder = std::env::current_dir()
        .map(|cwd| cwd.join(&folder))
        .unwrap_or(folder);
    let name = relative.file_stem().map_or_else(
        || file.name.clone(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(folder);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(&file.path);
    settings.set_description(format!("the report of the first seed of {}", file.name));
    settings.set_omit_expression(true);
    // insta's macro would record this file (obsim's own source) as the
    // snapshot's `source:`, as a path from the user's workspace into
    // wherever obsim is checked out or unpacked: a header that differs from
    // machine to machine. The assertion is made with the scenario file as
    // its source instead, relative to the package (the current directory),
    // which is the same on every machine. It is the function the macro
    // itself calls.
    let workspace = std::env::current_dir().unwrap_or_default();
    let source = file.path.to_string_lossy();
    settings.bind(|| {
        insta::_macro_support::assert_snapshot(
            (name, report).into(),
            &workspace,
            "assert_report",
            module_path!(),
            &source,
            0,
            "report",
        )
        .unwrap()
    });
}
