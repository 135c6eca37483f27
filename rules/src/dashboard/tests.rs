use super::template::fill;
use super::*;
use crate::series::{labels, SeriesStore};

const DASHBOARD: &str = r#"{
  "title": "Actors",
  "templating": {
    "list": [
      {
        "name": "job",
        "type": "constant",
        "query": "actors"
      },
      {
        "name": "instance",
        "type": "query",
        "query": { "query": "label_values(up{job=\"$job\"}, instance)", "refId": "A" },
        "multi": true,
        "includeAll": true
      },
      {
        "name": "operation",
        "type": "query",
        "definition": "label_values(operation)",
        "current": { "text": "increment", "value": "increment" }
      }
    ]
  },
  "panels": [
    {
      "type": "row",
      "title": "Traffic",
      "panels": [
        {
          "type": "timeseries",
          "title": "Error rate",
          "targets": [
            {
              "refId": "A",
              "expr": "sum(rate(requests_total{job=\"$job\",instance=~\"$instance\",status=\"error\"}[$__rate_interval]))"
            }
          ]
        }
      ]
    },
    {
      "type": "stat",
      "title": "Up",
      "targets": [
        { "refId": "A", "expr": "up{job=\"[[job]]\", operation=\"${operation}\"}" },
        { "refId": "B", "expr": "{job=\"x\"}", "datasource": { "type": "loki", "uid": "l" } }
      ]
    },
    { "type": "text", "title": "Notes" }
  ]
}
"#;

fn store() -> SeriesStore {
    let mut store = SeriesStore::default();
    for instance in ["server-1", "server-0"] {
        let up = labels([
            ("__name__", "up"),
            ("job", "actors"),
            ("instance", instance),
        ]);
        store.push(&up, 0, 1.0).unwrap();
        let requests = labels([
            ("__name__", "requests_total"),
            ("job", "actors"),
            ("instance", instance),
            ("operation", "get"),
        ]);
        store.push(&requests, 0, 1.0).unwrap();
    }
    let other = labels([("__name__", "up"), ("job", "other"), ("instance", "db")]);
    store.push(&other, 0, 1.0).unwrap();
    let increments = labels([("__name__", "requests_total"), ("operation", "increment")]);
    store.push(&increments, 0, 1.0).unwrap();
    store
}

#[test]
fn a_dashboard_loads_its_panels_rows_included_with_their_lines() {
    let dashboard = parse_dashboard("actors.json", DASHBOARD).unwrap();
    assert_eq!(dashboard.title, "Actors");
    let titles: Vec<&str> = dashboard.panels.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Error rate", "Up"],
        "rows and text panels hold no query"
    );
    assert_eq!(dashboard.panels[0].line, Some(32));
    assert_eq!(dashboard.panels[0].targets[0].line, Some(36));
    assert_eq!(
        dashboard.panels[1].targets.len(),
        1,
        "the Loki target is not PromQL"
    );
    assert!(dashboard.panels[1].targets[0].reads_series);
    let constant = parse_dashboard(
        "c.json",
        r#"{"panels": [{"title": "One", "targets": [{"expr": "vector(1)"}]}]}"#,
    )
    .unwrap();
    assert!(!constant.panels[0].targets[0].reads_series);
    assert_eq!(dashboard.skipped.len(), 1, "{:?}", dashboard.skipped);
    assert!(dashboard.skipped[0].contains("\"loki\""));
}

#[test]
fn variables_are_filled_with_the_runs_label_values_as_grafana_fills_them() {
    let dashboard = parse_dashboard("actors.json", DASHBOARD).unwrap();
    let builtins = Builtins {
        interval_ms: 15_000,
        scrape_ms: 15_000,
        range_ms: 1_500_000,
    };
    let filled = dashboard.fill(&store(), &builtins);
    assert_eq!(filled.problems, Vec::<String>::new());
    let error_rate = &filled.panels[0].targets[0];
    // All instances of job "actors", sorted, as a regex alternation; the
    // rate interval is max(15s + 15s, 4 × 15s).
    assert_eq!(
        error_rate.text.as_deref(),
        Some(
            r#"sum(rate(requests_total{job="actors",instance=~"(server-0|server-1)",status="error"}[60s]))"#
        )
    );
    assert!(error_rate.expr.is_ok());
    // A single-value variable takes its saved value when the run has it.
    let up = &filled.panels[1].targets[0];
    assert_eq!(
        up.text.as_deref(),
        Some(r#"up{job="actors", operation="increment"}"#)
    );
}

#[test]
fn formats_and_builtins_fill_as_documented() {
    let values = |name: &str, values: &[&str], all: bool| VariableValues {
        name: name.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        all,
        all_value: None,
    };
    let variables = [
        values("node", &["a.b", "c"], true),
        values("one", &["x"], false),
    ];
    let builtins = Builtins {
        interval_ms: 1_000,
        scrape_ms: 1_000,
        range_ms: 9_500,
    };
    let filled = |text: &str| fill(text, &variables, &builtins).unwrap();
    assert_eq!(filled(r#"m{n=~"$node"}"#), r#"m{n=~"(a\\.b|c)"}"#);
    assert_eq!(
        filled("${node:pipe} ${node:csv} ${node:glob}"),
        "a.b|c a.b,c {a.b,c}"
    );
    assert_eq!(filled("${node:json} ${one:json}"), r#"["a.b","c"] "x""#);
    assert_eq!(filled("$one [[one]] ${one} ${one:regex}"), "x x x x");
    assert_eq!(
        filled("$__interval $__rate_interval $__rate_interval_ms $__range $__range_s $__range_ms"),
        "1s 4s 4000 9s 9 9500"
    );
    // A capture group, and a `$` that ends a regular expression, stay.
    assert_eq!(
        filled(r#"label_replace(m, "a", "$1", "b", "(.*)$")"#),
        r#"label_replace(m, "a", "$1", "b", "(.*)$")"#
    );
    let error = fill("m{a=\"$nope\"}", &variables, &builtins).unwrap_err();
    assert!(
        error.starts_with(
            "uses the variable `$nope`, which the dashboard does not define (it defines node, one"
        ),
        "{error}"
    );
    let error = fill("${one:percentencode}", &variables, &builtins).unwrap_err();
    assert!(error.contains("\"percentencode\""), "{error}");
}

#[test]
fn an_all_value_stands_for_every_value() {
    let text = DASHBOARD.replace(
        r#""includeAll": true"#,
        r#""includeAll": true, "allValue": ".*""#,
    );
    let dashboard = parse_dashboard("actors.json", &text).unwrap();
    let filled = dashboard.fill(&store(), &Builtins::PLACEHOLDER);
    let text = filled.panels[0].targets[0].text.clone().unwrap();
    assert!(text.contains(r#"instance=~".*""#), "{text}");
}

/// Grafana's "All" over a large fleet is a regex of every instance: past
/// the bounds on what a person writes (4,096 characters, 64 KiB a regex),
/// within those on a filled expression. `tests/data/maxima.toml` (200
/// servers) failed `dashboard_queries` before.
#[test]
fn all_over_a_thousand_instances_fills_an_expression_that_evaluates() {
    let mut store = store();
    // server-0 and server-1 are in the store already.
    for n in 2..1_000 {
        let up = labels([
            ("__name__", "up"),
            ("job", "actors"),
            ("instance", &format!("server-{n}")),
        ]);
        store.push(&up, 0, 1.0).unwrap();
    }
    let dashboard = parse_dashboard("actors.json", DASHBOARD).unwrap();
    let filled = dashboard.fill(&store, &Builtins::PLACEHOLDER);
    let target = &filled.panels[0].targets[0];
    let text = target.text.clone().unwrap();
    assert!(text.len() > crate::bounds::EXPR_CHARS_MAX, "{}", text.len());
    assert!(target.expr.is_ok(), "{:?}", target.expr.as_ref().err());
}

#[test]
fn a_variable_the_run_gives_no_value_is_a_problem_of_the_fill() {
    let dashboard = parse_dashboard("actors.json", DASHBOARD).unwrap();
    let filled = dashboard.fill(&SeriesStore::default(), &Builtins::PLACEHOLDER);
    assert_eq!(filled.problems.len(), 2, "{:?}", filled.problems);
    assert!(
        filled.problems[0].starts_with(
            r#"variable "instance": `label_values(up{job="actors"}, instance)` found no value"#
        ),
        "{:?}",
        filled.problems
    );
}

#[test]
fn bad_json_names_the_file_and_the_line() {
    let text = DASHBOARD.replace(r#""type": "stat","#, r#""type": "stat""#);
    let error = parse_dashboard("actors.json", &text).unwrap_err();
    assert_eq!(error.line, Some(44));
    assert!(
        error
            .to_string()
            .starts_with("actors.json:44: is not valid JSON: expected `,` or `}`"),
        "{error}"
    );
    let error = parse_dashboard("actors.json", "[1, 2]").unwrap_err();
    assert_eq!(
        error.to_string(),
        "actors.json:1: is not a Grafana dashboard: expected a JSON object with `panels` at the top"
    );
    let error =
        parse_dashboard("d.json", r#"{"panels": [{"title": "a", "targets": 7}]}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("invalid type: integer `7`, expected a JSON array"),
        "{error}"
    );
}

#[test]
fn a_target_that_does_not_parse_names_file_line_panel_and_expression() {
    let text = DASHBOARD.replace(r#""expr": "up{job="#, r#""expr": "up{{job="#);
    let error = parse_dashboard("actors.json", &text).unwrap_err();
    assert_eq!(error.line, Some(46));
    assert_eq!(error.panel.as_deref(), Some("Up"));
    assert_eq!(
        error.expr.as_deref(),
        Some(r#"up{{job="[[job]]", operation="${operation}"}"#)
    );
    let shown = error.to_string();
    assert!(
        shown.starts_with(
            r#"actors.json:46: panel "Up": `up{{job="[[job]]", operation="${operation}"}`: target A: does not parse as PromQL"#
        ),
        "{shown}"
    );
}

#[test]
fn a_query_outside_the_subset_is_refused_with_its_panel() {
    let text = DASHBOARD.replace("sum(rate(", "topk(3, rate(");
    let error = parse_dashboard("actors.json", &text).unwrap_err();
    assert_eq!(error.panel.as_deref(), Some("Error rate"));
    assert_eq!(error.line, Some(36));
    assert!(
        error
            .problem
            .contains("the aggregation `topk` is outside the PromQL subset"),
        "{error}"
    );
}

#[test]
fn an_unknown_variable_is_refused_naming_the_panel_and_the_variable() {
    let text = DASHBOARD.replace("$__rate_interval", "$window");
    let error = parse_dashboard("actors.json", &text).unwrap_err();
    assert_eq!(error.panel.as_deref(), Some("Error rate"));
    assert!(
        error.problem.starts_with(
            "target A: uses the variable `$window`, which the dashboard does not define"
        ),
        "{error}"
    );
}

#[test]
fn variables_obsim_cannot_fill_are_refused_at_their_line() {
    let text = DASHBOARD.replace(
        "label_values(operation)",
        "query_result(count by (operation) (requests_total))",
    );
    let error = parse_dashboard("actors.json", &text).unwrap_err();
    assert_eq!(error.line, Some(18));
    assert!(
        error
            .problem
            .starts_with(r#"templating.list[2] (variable "operation"): its query "query_result"#),
        "{error}"
    );
    let text = DASHBOARD.replace(r#""type": "constant""#, r#""type": "adhoc""#);
    let error = parse_dashboard("actors.json", &text).unwrap_err();
    assert!(error.problem.contains(r#"is of type "adhoc""#), "{error}");
}

#[test]
fn bounds_on_targets_and_variables_are_enforced() {
    let targets: Vec<String> = (0..TARGETS_PER_PANEL_MAX + 1)
        .map(|i| format!(r#"{{"refId": "{i}", "expr": "up"}}"#))
        .collect();
    let text = format!(
        r#"{{"panels": [{{"title": "Many", "targets": [{}]}}]}}"#,
        targets.join(",")
    );
    let error = parse_dashboard("d.json", &text).unwrap_err();
    assert_eq!(error.problem, "has 65 targets: a panel may have at most 64");
    let variables: Vec<String> = (0..VARIABLES_MAX + 1)
        .map(|i| format!(r#"{{"name": "v{i}", "type": "constant", "query": "x"}}"#))
        .collect();
    let text = format!(r#"{{"templating": {{"list": [{}]}}}}"#, variables.join(","));
    let error = parse_dashboard("d.json", &text).unwrap_err();
    assert!(
        error.problem.starts_with("defines 101 template variables"),
        "{error}"
    );
    let panels: Vec<String> = (0..PANELS_MAX + 1)
        .map(|i| format!(r#"{{"title": "p{i}", "targets": [{{"expr": "up"}}]}}"#))
        .collect();
    let text = format!(r#"{{"panels": [{}]}}"#, panels.join(","));
    let error = parse_dashboard("d.json", &text).unwrap_err();
    assert_eq!(error.panel.as_deref(), Some("p500"));
}

#[test]
fn finding_lines_scans_at_most_a_bounded_multiple_of_the_file() {
    // Every target's expression also appears, unkeyed, 20,000 times before
    // the panels: each lookup would scan past them all.
    let tags = vec![r#""up""#; 20_000].join(",");
    let panels: Vec<String> = (0..PANELS_MAX)
        .map(|i| format!(r#"{{"title": "p{i}", "targets": [{{"expr": "up"}}]}}"#))
        .collect();
    let text = format!(
        "{{\"tags\": [{tags}],\n\"panels\": [\n{}]}}",
        panels.join(",\n")
    );
    let started = std::time::Instant::now();
    let dashboard = parse_dashboard("d.json", &text).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(dashboard.panels[0].line, Some(3));
    assert_eq!(dashboard.panels[0].targets[0].line, Some(3));
    assert_eq!(dashboard.panels[PANELS_MAX - 1].targets[0].line, None);
}

/// Mutated dashboards load or are refused with an error: never a panic.
/// Each case cuts, copies or replaces a few bytes of [`DASHBOARD`] (with
/// bytes that matter to JSON, PromQL and templating), from a fixed seed.
#[test]
fn mutated_dashboards_never_panic_to_load_or_fill() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        ",",
        ":",
        "$",
        "${",
        "}}",
        "[[",
        "]]",
        ":regex",
        "$__",
        "label_values(",
        ")",
        "=~",
        "\n",
        "é",
        "\u{0}",
        "9999999999999999999999",
        "-1",
        "null",
        "true",
        "[5m]",
        "(",
        "topk(",
        "{{",
        "panels",
        "targets",
    ];
    let mut state: u64 = 0x5eed;
    let mut next = |below: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % below.max(1)
    };
    let store = store();
    let (mut loaded, mut refused) = (0, 0);
    for _ in 0..3_000 {
        let mut text = DASHBOARD.to_string();
        for _ in 0..1 + next(4) {
            let mut at = next(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match next(3) {
                0 => {
                    let mut end = (at + 1 + next(40)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, "");
                }
                1 => text.insert_str(at, PIECES[next(PIECES.len())]),
                _ => {
                    let mut end = (at + 1 + next(8)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.replace_range(at..end, PIECES[next(PIECES.len())]);
                }
            }
        }
        match parse_dashboard("m.json", &text) {
            Ok(dashboard) => {
                loaded += 1;
                let _ = dashboard.fill(&store, &Builtins::PLACEHOLDER);
            }
            Err(error) => {
                refused += 1;
                assert!(error.to_string().len() < 2_500, "{error}");
            }
        }
    }
    assert!(
        loaded > 100 && refused > 100,
        "{loaded} loaded, {refused} refused"
    );
}
