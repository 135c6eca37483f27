//! Errors found only when a scenario file meets its system (the system's
//! own rules, its contract) still name the file's line and field.

#[test]
fn an_alert_claim_about_an_alert_no_rule_defines_names_its_expect_line() {
    let dir = std::env::temp_dir().join(format!("obsim-load-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("unknown-alert.toml");
    std::fs::write(
        &path,
        "name = \"unknown-alert\"\ndescription = \"d\"\nexpect = [\n  \"outcomes.total >= 1\",\n  \
         \"alert NoSuchAlert never fires\",\n]\n",
    )
    .unwrap();
    let error = match obsim_fixtures::suite().load(&path, "unused") {
        Ok(_) => panic!("an alert no rule defines must be refused"),
        Err(error) => error,
    };
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        (error.line, error.field.as_deref()),
        (Some(5), Some("expect[1]")),
        "{error}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains("no alerting rule is named \"NoSuchAlert\", so it could never fire"),
        "{shown}"
    );
    assert!(!shown.contains("obsim's default"), "{shown}");
}
