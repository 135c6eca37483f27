//! The deep sweep: `cargo run --release -p obsim-example-http-gateway --example sweep -- --seeds 1000`,
//! or a bug case: `... --example sweep -- bugs/error-counted-as-ok.toml`.
//! (An example, not a bin: examples may use dev-dependencies like obsim.)

#[path = "../tests/gateway/mod.rs"]
mod gateway;

fn main() {
    // The crate's own folder, wherever the command runs from.
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    obsim::Suite::new(scenarios).system(gateway::new).cli()
}
