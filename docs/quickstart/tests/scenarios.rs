mod visits; // each file under scenarios/ is one test: `cargo test -- write-failures`
fn main() {
    obsim::Suite::new("scenarios").system(visits::Visits).main()
}
