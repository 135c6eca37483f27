//! The proxy runs on exactly two servers, and says so in its contract: a
//! scenario with another topology is refused as it loads, at its line.

use std::path::Path;

use obsim::harness::Check;
use obsim::scenario::Scenario;
use obsim::Suite;
use obsim_example_mcp_proxy::McpProxy;

#[test]
fn a_topology_the_proxy_cannot_run_on_is_an_error_at_its_line() {
    let text = "name = \"one-server\"\ndescription = \"A proxy with no upstream.\"\n\
                [topology]\nservers = 1\n[workload]\noperations = { echo = 1 }\n";
    let scenario = Scenario::parse(
        Path::new("one-server.toml"),
        text,
        &Check::invariant_names(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let suite = Suite::new("scenarios").system(McpProxy::new);
    let error = suite
        .sim(&scenario, "replay")
        .err()
        .expect("one server is refused")
        .to_string();
    assert!(
        error.starts_with(
            "one-server.toml:4:1: `topology.servers`: the system runs on 2 servers, not 1"
        ),
        "{error}"
    );
}
