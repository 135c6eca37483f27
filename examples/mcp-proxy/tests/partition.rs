//! A partition from a scenario file cuts the proxy's real TCP traffic to its
//! upstream, measured on the upstream's own spans, and the fault log says
//! the sockets were clogged and unclogged.

use std::path::Path;
use std::time::Duration;

use obsim::faults::FaultKind;
use obsim::{Run, Suite};
use obsim_example_mcp_proxy::McpProxy;

const FILE: &str = "scenarios/proxy-upstream-partition.toml";
/// The file's partition: from 800 ms for 600 ms.
const PARTITION_AT: Duration = Duration::from_millis(800);
const HEAL_AT: Duration = Duration::from_millis(1400);
/// obsim clogs the links 1 ms after the partition starts, and a line sent
/// just before arrives within madsim's latency (at most 10 ms).
const IN_FLIGHT_MAX: Duration = Duration::from_millis(11);

fn run(seed: u64) -> Run {
    let suite = Suite::new("scenarios")
        .system(McpProxy::new)
        .artifacts_dir(None);
    let replay = "cargo test -p obsim-example-mcp-proxy --test partition";
    let (_, sim) = suite
        .load(Path::new(FILE), replay)
        .unwrap_or_else(|error| panic!("{error}"));
    sim.run(seed)
        .unwrap_or_else(|error| panic!("seed {seed}: {error}"))
}

/// When each request the upstream served began, by its server spans.
fn upstream_request_starts(run: &Run) -> Vec<Duration> {
    run.spans
        .iter()
        .filter(|span| span.origin.node.as_deref() == Some("server-1") && span.kind == "server")
        .map(|span| Duration::from_nanos(span.start_ns.max(0) as u64))
        .collect()
}

#[test]
fn the_partition_stops_proxy_to_upstream_tcp_traffic_until_it_heals_and_the_fault_log_says_so() {
    for seed in 0..4 {
        let run = run(seed);
        let starts = upstream_request_starts(&run);
        let before = starts.iter().filter(|&&at| at < PARTITION_AT).count();
        let cut = (PARTITION_AT + IN_FLIGHT_MAX)..HEAL_AT;
        let during: Vec<&Duration> = starts.iter().filter(|at| cut.contains(at)).collect();
        let after = starts.iter().filter(|&&at| at >= HEAL_AT).count();
        assert!(
            before >= 50,
            "seed {seed}: only {before} upstream requests before the partition"
        );
        assert!(
            during.is_empty(),
            "seed {seed}: the upstream served requests while cut off from the proxy: {during:?}"
        );
        // Sessions that start during the outage fail fast and use up the
        // workload, so how much is left for after the heal varies by seed:
        // that some traffic crossed again is the claim.
        assert!(
            after >= 1,
            "seed {seed}: no upstream request after the heal"
        );
        let logged = |kind: FaultKind| -> Vec<String> {
            let events = run.faults.iter().filter(|event| event.kind == kind);
            events
                .map(|event| {
                    format!(
                        "{:.4}s {} {}",
                        event.at.as_secs_f64(),
                        event.target,
                        event.detail
                    )
                })
                .collect()
        };
        assert_eq!(
            logged(FaultKind::NetworkPartition),
            ["0.8000s [server-0] <-> [server-1] sockets: 2 links clogged from +1ms"]
        );
        assert_eq!(
            logged(FaultKind::NetworkHeal),
            ["1.4000s [server-0] <-> [server-1] sockets: 2 links unclogged"]
        );
    }
}
