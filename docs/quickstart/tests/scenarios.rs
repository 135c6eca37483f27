//! Every file under scenarios/ is one test: `cargo test -- write-failures`
//! runs one, `cargo test -- --list` lists them.

mod visits;

fn main() {
    obsim::Suite::new("scenarios")
        .system(visits::Visits::new)
        .main()
}
