//! The deep sweep: `cargo run --release --example sweep -- --seeds 1000`.
//! (An example, not a bin: examples may use dev-dependencies like obsim.)

#[path = "../tests/visits/mod.rs"]
mod visits;

fn main() {
    obsim::Suite::new("scenarios").system(visits::Visits).cli()
}
