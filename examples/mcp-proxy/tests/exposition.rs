//! The names the OpenTelemetry Prometheus exporter makes of the
//! instruments are the names the contract, the scenarios and dashboards
//! use: dots to underscores, `_total` on counters, `_seconds` for unit `s`,
//! `_bytes` for unit `By`, nothing for an annotation like `{request}`. This
//! reads the rendered expositions of a run and holds every node to its
//! exact list of families, so a renamed instrument or an exporter that
//! changes its suffix rules fails here first.

use std::collections::BTreeSet;
use std::path::Path;

use obsim_example_mcp_proxy::McpProxy;

const PROXY: [(&str, &str); 13] = [
    ("mcp_proxy_connections_active", "gauge"),
    ("mcp_proxy_connections_closed_total", "counter"),
    ("mcp_proxy_connections_total", "counter"),
    ("mcp_proxy_interceptor_errors_total", "counter"),
    ("mcp_proxy_request_duration_seconds", "histogram"),
    ("mcp_proxy_request_size_bytes", "histogram"),
    ("mcp_proxy_requests_total", "counter"),
    ("mcp_proxy_response_size_bytes", "histogram"),
    ("mcp_proxy_sessions_active", "gauge"),
    ("mcp_proxy_sessions_closed_total", "counter"),
    ("mcp_proxy_sessions_created_total", "counter"),
    ("mcp_proxy_sessions_evicted_total", "counter"),
    ("mcp_proxy_upstream_errors_total", "counter"),
];

const UPSTREAM: [(&str, &str); 5] = [
    ("mcp_upstream_connections_active", "gauge"),
    ("mcp_upstream_connections_closed_total", "counter"),
    ("mcp_upstream_connections_total", "counter"),
    ("mcp_upstream_request_duration_seconds", "histogram"),
    ("mcp_upstream_requests_total", "counter"),
];

const CLIENT: [(&str, &str); 3] = [
    ("mcp_client_late_responses_total", "counter"),
    ("mcp_client_request_duration_seconds", "histogram"),
    ("mcp_client_requests_total", "counter"),
];

/// `(name, type)` of every `# TYPE` line.
fn families(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            Some((name.to_string(), kind.to_string()))
        })
        .collect()
}

fn expected(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .chain(&[("target_info", "gauge")])
        .map(|(name, kind)| (name.to_string(), kind.to_string()))
        .collect()
}

#[test]
fn every_node_exports_exactly_the_documented_families() {
    // The slow upstream makes late answers, so every family has a sample.
    let suite = obsim::Suite::new("scenarios")
        .system(McpProxy::new)
        .artifacts_dir(None);
    let (scenario, sim) = suite
        .load(
            Path::new("scenarios/slow-upstream.toml"),
            "cargo test -p obsim-example-mcp-proxy --test exposition",
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let verdict = sim.check_seed(scenario.seeds.start);
    assert!(verdict.failure.is_none(), "{}", verdict.failure.unwrap());
    let run = verdict.run.expect("a passing seed has its run");
    for incarnation in &run.incarnations {
        let want = match incarnation.node.as_str() {
            "server-0" => expected(&PROXY),
            "server-1" => expected(&UPSTREAM),
            "client" => expected(&CLIENT),
            other => panic!("unexpected node {other}"),
        };
        let text = &incarnation.final_exposition;
        assert_eq!(
            families(text),
            want,
            "{} exports:\n{text}",
            incarnation.node
        );
        assert!(
            !text.contains("_total_total") && !text.contains("_seconds_seconds"),
            "{text}"
        );
        // Every series says which meter recorded it; the resource is the
        // service's name alone.
        assert!(text.contains("otel_scope_name=\"mcp-"), "{text}");
        assert!(text.contains("target_info{service_name=\"mcp-"), "{text}");
    }
}
