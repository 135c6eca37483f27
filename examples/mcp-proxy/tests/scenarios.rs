//! Every file under `scenarios/` is one test, named by its path there:
//! `cargo test -p obsim-example-mcp-proxy --test scenarios -- partition`
//! runs one, `--list` lists them. Each runs its seed sweep, holds every check
//! and expectation on every seed, and snapshots its first seed's report in
//! `scenarios/snapshots/`.

use obsim_example_mcp_proxy::McpProxy;

fn main() {
    obsim::Suite::new("scenarios").system(McpProxy::new).main()
}
