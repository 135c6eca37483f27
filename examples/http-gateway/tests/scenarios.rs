mod gateway; // each file under scenarios/ is one test: `cargo test -- write-failures`
fn main() {
    obsim::Suite::new("scenarios").system(gateway::new).main()
}
