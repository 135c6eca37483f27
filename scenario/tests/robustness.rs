//! The loader and the expectation parser must never panic, whatever they
//! are fed: scenario files are hand-written, and a typo deserves an error
//! message, not a crash of the whole test binary.

use std::path::Path;

use obsim_scenario::{parse_expectation, Scenario};
use proptest::prelude::*;

// The harness's eight invariants (the loader takes the names as a list).
const CHECKS: &[&str] = &[
    "counter_monotonicity",
    "gauge_consistency",
    "metric_accuracy",
    "histogram_correctness",
    "span_completion",
    "trace_integrity",
    "exposition_lint",
    "seed_determinism",
];

/// The complete example from `scenarios/README.md`, so the documented
/// example is known to load, and mutations start from a realistic file.
fn readme_example() -> String {
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/README.md");
    let text = std::fs::read_to_string(readme).expect("scenarios/README.md is readable");
    let start = text
        .find("```toml\nname = \"storage-write-failures\"")
        .expect("the complete example is in the README");
    let body = &text[start + "```toml\n".len()..];
    body[..body
        .find("```")
        .expect("the example's code block is closed")]
        .to_string()
}

/// A valid file that exercises most of the format, for mutation.
fn sample() -> String {
    let mut text = readme_example();
    text.push_str(concat!(
        "\n[[faults]]\nkind = \"network_partition\"\nfrom = [\"server-0\"]\nto = [\"client\"]\n",
        "one_way = true\nat = \"2s\"\nfor = \"1s\"\n",
        "\n[[faults]]\nkind = \"storage_latency\"\noperation = \"put\"\nlatency = \"3ms\"\n",
        "\n[[faults]]\nkind = \"node_pause\"\nnode = 2\nat = \"4s\"\nfor = \"500ms\"\n",
        "\n[[faults]]\nkind = \"dependency_latency\"\ndependency = \"llm\"\n",
        "operation = \"complete\"\nmin = \"1ms\"\nmax = \"9ms\"\n",
    ));
    text
}

/// Parses and, on error, renders the error: both must not panic, and an
/// error's position must be inside the text.
fn parse_checked(text: &str) {
    match Scenario::parse(Path::new("fuzz.toml"), text, CHECKS) {
        Ok(scenario) => {
            let rendered: Vec<String> = scenario
                .expectations
                .iter()
                .map(|e| e.to_string())
                .collect();
            assert_eq!(rendered.len(), scenario.expectations.len());
        }
        Err(error) => {
            let _ = error.to_string();
            if let Some(line) = error.line {
                assert!(line >= 1 && line <= text.lines().count() + 1, "{error}");
            }
        }
    }
}

#[test]
fn the_readme_examples_load() {
    let example = Scenario::parse(Path::new("example.toml"), &readme_example(), CHECKS).unwrap();
    assert_eq!(example.name, "storage-write-failures");
    assert_eq!(example.faults.len(), 3);
    assert_eq!(example.expectations.len(), 4);
    let sample = Scenario::parse(Path::new("sample.toml"), &sample(), CHECKS).unwrap();
    assert_eq!(sample.faults.len(), 7);
}

/// A line a mutation may put in place of another: often a real key with a
/// value of the right or wrong type, so mutations reach the semantic checks
/// and not only the TOML parser.
fn line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "name",
        "description",
        "kind",
        "node",
        "dependency",
        "probability",
        "at",
        "for",
        "min",
        "max",
        "latency",
        "restart_after",
        "from",
        "to",
        "one_way",
        "servers",
        "duration",
        "time_limit",
        "scrape_timeout",
        "count",
        "start",
        "swarm",
        "swarm_kinds",
        "every_fault_fires",
        "expect",
        "checks",
        "operations",
    ]);
    let value = prop_oneof![
        "-?[0-9]{1,20}(\\.[0-9]{1,3})?",
        "\"-?[0-9.]{0,6}(ns|us|ms|s|m|h|x)?\"",
        "\"[a-z_ {}=.\"\\-]{0,20}\"",
        Just("true".to_string()),
        Just("[\"server-0\", \"client\"]".to_string()),
        Just("[\"faults.node_crash >= 1\"]".to_string()),
        Just("{ get = 0 }".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
    ];
    let header = prop::sample::select(vec![
        "[[faults]]",
        "[run]",
        "[system]",
        "[seeds]",
        "[workload]",
        "[topology]",
        "[system.x]",
    ]);
    prop_oneof![
        4 => (key, value).prop_map(|(key, value)| format!("{key} = {value}")),
        1 => header.prop_map(str::to_string),
        1 => ".{0,40}",
    ]
}

#[derive(Clone, Debug)]
enum Edit {
    Replace(usize, String),
    Delete(usize),
    Duplicate(usize),
    Bytes(Vec<(usize, u8)>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), line()).prop_map(|(at, line)| Edit::Replace(at, line)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Duplicate),
        prop::collection::vec((any::<usize>(), any::<u8>()), 1..8).prop_map(Edit::Bytes),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match edit {
        Edit::Replace(at, line) => {
            let at = at % lines.len();
            lines[at] = line.clone();
        }
        Edit::Delete(at) => {
            lines.remove(at % lines.len());
        }
        Edit::Duplicate(at) => {
            let at = at % lines.len();
            lines.insert(at, lines[at].clone());
        }
        Edit::Bytes(changes) => {
            let mut bytes = text.as_bytes().to_vec();
            for (at, byte) in changes {
                let at = at % bytes.len();
                bytes[at] = *byte;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,300}") {
        parse_checked(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        parse_checked(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_valid_files_never_panic(edits in prop::collection::vec(edit(), 1..4)) {
        let text = edits.iter().fold(sample(), |text, edit| apply(&text, edit));
        parse_checked(&text);
    }

    #[test]
    fn arbitrary_expectations_never_panic(text in ".{0,80}") {
        let _ = parse_expectation(&text).map_err(|error| {
            assert!(error.offset <= text.len(), "{error}");
        });
    }

    /// Text built from the grammar's own tokens reaches deeper than random
    /// characters; whatever parses must print back to the same AST.
    #[test]
    fn expectations_round_trip_through_display(text in expectation_like()) {
        if let Ok(expectation) = parse_expectation(&text) {
            let again = parse_expectation(&expectation.to_string()).expect("canonical text parses");
            prop_assert_eq!((&again.left, again.comparison, &again.right), (&expectation.left, expectation.comparison, &expectation.right));
        }
    }
}

fn expectation_like() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "faults.",
        "node_crash",
        "network_heal",
        "outcomes.",
        "total",
        "ok",
        "spans",
        "scrapes",
        ".recovered",
        "messages.",
        "lost",
        "final(",
        "max(",
        "requests_total",
        ")",
        "{",
        "}",
        "name",
        "up",
        "node",
        "=",
        "\"0\"",
        "\"a\\\"b\"",
        ",",
        " ",
        "+",
        "-",
        "==",
        "!=",
        ">=",
        "<",
        "3",
        "0.5",
        "1.",
        "\\",
    ]);
    prop::collection::vec(token, 0..16).prop_map(|tokens| tokens.concat())
}
