//! `cargo run --release -p obsim-example-mcp-proxy --example sweep`:
//! every scenario file under this crate's `scenarios/` (or the files named)
//! over a deep seed sweep, through the same entry the tests use. `--help`
//! lists the flags.

use obsim_example_mcp_proxy::McpProxy;

fn main() {
    // The crate's own folder, wherever the command runs from: at the
    // workspace root, a relative `scenarios` would be another suite's.
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    obsim::Suite::new(scenarios).system(McpProxy::new).cli()
}
