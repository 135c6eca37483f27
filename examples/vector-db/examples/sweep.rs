//! `cargo run --release -p obsim-example-vector-db --example sweep`:
//! every scenario file under this crate's `scenarios/` (or the files named)
//! over a deep seed sweep, through the same entry the tests use. `--help`
//! lists the flags.

use obsim_example_vector_db::VectorDb;

fn main() {
    // The crate's own folder, wherever the command runs from: at the
    // workspace root, a relative `scenarios` would be another suite's.
    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    obsim::Suite::new(scenarios).system(VectorDb::new).cli()
}
