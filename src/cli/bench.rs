//! `bench`: where a sweep's time goes. For each file it times the same seeds
//! on one core: bare simulation, the service's own tracing pipeline
//! (`Sim::run_pipeline`: the baseline obsim's share is priced over),
//! simulation with capture, the checks alone, and the whole verdict of a
//! seed (every seed run twice, and with the determinism rerun sampled);
//! then the sampled verdicts on 1 to N cores, and prints Markdown tables. Real time is read outside every run; it never enters a
//! simulation.

use std::io::Write;
use std::time::{Duration, Instant};

use obsim_harness::{Determinism, PromtoolMemo, Sim, SweepOptions};

use super::args::BenchArgs;
use crate::suite::Suite;

/// One file's figures.
struct FileBench {
    name: String,
    seeds: u64,
    bare: Duration,
    /// The service's tracing pipeline, without obsim.
    pipeline: Duration,
    captured: Duration,
    checks: Duration,
    /// Evaluating the alert rules over both timelines (part of `checks`,
    /// timed again on its own).
    alerts: Duration,
    spans: u64,
    /// Seconds simulated by the captured runs.
    simulated: Duration,
    /// Runs that did not complete, or seeds that failed: a bench of a
    /// failing scenario measures failure paths, so it says so.
    run_errors: u64,
    failed_seeds: u64,
    promtool_runs: u64,
    /// Whole verdicts, every seed run twice, on one core.
    verdicts_all: Duration,
    /// Whole verdicts with the rerun sampled: (jobs, wall time) from 1 job
    /// up.
    verdicts: Vec<(usize, Duration)>,
    /// Seeds the sampled verdicts ran twice.
    sampled_reruns: u64,
}

impl Suite {
    pub(super) fn bench(&self, args: &BenchArgs, out: &mut dyn Write) -> Result<i32, String> {
        let jobs_max = match args.jobs {
            Some(jobs) => usize::from(jobs),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut benches = Vec::new();
        for file in self.selected_bench_files(&args.files)? {
            let replay = format!("{} -- {}", super::replay_base(), file.display());
            let (scenario, sim) = self.load(&file, &replay).map_err(|e| e.to_string())?;
            let seeds: Vec<u64> = (scenario.seeds.start..)
                .take(seeds_len(args.seeds))
                .collect();
            let sample = args.determinism.anchored_at(scenario.seeds.start);
            let bench = bench_file(&scenario.name, &sim, &seeds, jobs_max, sample);
            let line = format!(
                "bench {}: {} seed(s), bare {:.2}s, pipeline {:.2}s, captured {:.2}s, checks {:.2}s",
                bench.name,
                bench.seeds,
                bench.bare.as_secs_f64(),
                bench.pipeline.as_secs_f64(),
                bench.captured.as_secs_f64(),
                bench.checks.as_secs_f64()
            );
            writeln!(out, "{line}").map_err(|e| e.to_string())?;
            benches.push(bench);
        }
        write_tables(out, &benches, jobs_max, args.determinism).map_err(|e| e.to_string())?;
        Ok(0)
    }

    fn selected_bench_files(
        &self,
        files: &[std::path::PathBuf],
    ) -> Result<Vec<std::path::PathBuf>, String> {
        if !files.is_empty() {
            return Ok(files.to_vec());
        }
        Ok(self.files()?.into_iter().map(|file| file.path).collect())
    }
}

fn seeds_len(seeds: u64) -> usize {
    usize::try_from(seeds).unwrap_or(usize::MAX)
}

fn bench_file(
    name: &str,
    sim: &Sim,
    seeds: &[u64],
    jobs_max: usize,
    sample: Determinism,
) -> FileBench {
    let mut bench = FileBench {
        name: name.to_string(),
        seeds: seeds.len() as u64,
        bare: Duration::ZERO,
        pipeline: Duration::ZERO,
        captured: Duration::ZERO,
        checks: Duration::ZERO,
        alerts: Duration::ZERO,
        spans: 0,
        simulated: Duration::ZERO,
        run_errors: 0,
        failed_seeds: 0,
        promtool_runs: 0,
        verdicts_all: Duration::ZERO,
        verdicts: Vec::new(),
        sampled_reruns: 0,
    };
    let started = Instant::now();
    for &seed in seeds {
        bench.run_errors += u64::from(sim.run_bare(seed).is_err());
    }
    bench.bare = started.elapsed();
    let started = Instant::now();
    for &seed in seeds {
        bench.run_errors += u64::from(sim.run_pipeline(seed).is_err());
    }
    bench.pipeline = started.elapsed();
    // One memo across the seeds, as a sweep shares it.
    let memo = PromtoolMemo::default();
    for &seed in seeds {
        let started = Instant::now();
        let run = sim.run(seed);
        bench.captured += started.elapsed();
        let Ok(run) = run else {
            bench.run_errors += 1;
            continue;
        };
        bench.spans += run.spans.len() as u64;
        bench.simulated += run.ended_at;
        let started = Instant::now();
        let violations = sim.check(&run, &memo);
        bench.checks += started.elapsed();
        bench.failed_seeds += u64::from(!violations.is_empty());
        let started = Instant::now();
        let timelines = sim.alert_timelines(&run);
        bench.alerts += started.elapsed();
        drop(timelines);
        // Dropping the run is part of what capture costs.
        let started = Instant::now();
        drop(run);
        bench.captured += started.elapsed();
    }
    bench.promtool_runs = memo.promtool_runs();
    let verdicts = |jobs: usize, determinism: Determinism| {
        let options = SweepOptions {
            jobs,
            determinism,
            ..SweepOptions::default()
        };
        let started = Instant::now();
        let sweep = sim.sweep_with(seeds.iter().copied(), options, &|_| {});
        (started.elapsed(), sweep)
    };
    let (took, sweep) = verdicts(1, Determinism::All);
    bench.verdicts_all = took;
    bench.failed_seeds = sweep.failed;
    for jobs in 1..=jobs_max {
        let (took, sweep) = verdicts(jobs, sample);
        bench.verdicts.push((jobs, took));
        bench.sampled_reruns = sweep.run_twice;
        bench.failed_seeds = bench.failed_seeds.max(sweep.failed);
    }
    bench
}

fn per_second(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn write_tables(
    out: &mut dyn Write,
    benches: &[FileBench],
    jobs_max: usize,
    sample: Determinism,
) -> std::io::Result<()> {
    writeln!(
        out,
        "\nOne core; each figure is the seeds' total, divided as its column says. Costs are \
         ratios of times: over the bare simulation (no tracing subscriber at all), and over the \
         service pipeline (the service's own tracing-opentelemetry layer and SDK, spans dropped \
         by a no-op exporter, no obsim capture, scrapes or checks).\n"
    )?;
    writeln!(
        out,
        "| scenario | seeds | bare runs/s | pipeline runs/s | captured runs/s | capture / bare | capture + checks / bare | capture / pipeline | capture + checks / pipeline | spans captured/s | promtool runs | alert rules ms/seed (of checks) |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|")?;
    for bench in benches {
        writeln!(
            out,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.2}× | {:.2}× | {:.2}× | {:.2}× | {:.0} | {} | {:.1} |",
            bench.name,
            bench.seeds,
            per_second(bench.seeds, bench.bare),
            per_second(bench.seeds, bench.pipeline),
            per_second(bench.seeds, bench.captured),
            ratio(bench.captured, bench.bare),
            ratio(bench.captured + bench.checks, bench.bare),
            ratio(bench.captured, bench.pipeline),
            ratio(bench.captured + bench.checks, bench.pipeline),
            per_second(bench.spans, bench.captured),
            bench.promtool_runs,
            bench.alerts.as_secs_f64() * 1000.0 / bench.seeds.max(1) as f64,
        )?;
    }
    writeln!(
        out,
        "\nSeed verdicts per second on one core: every seed run twice, and with `--determinism \
         {sample}` (the sweep command's default).\n"
    )?;
    writeln!(
        out,
        "| scenario | verdicts/s, all twice | verdicts/s, {sample} | seeds run twice | speedup |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    for bench in benches {
        let sampled = bench
            .verdicts
            .first()
            .map_or(Duration::ZERO, |(_, took)| *took);
        writeln!(
            out,
            "| {} | {:.2} | {:.2} | {} of {} | {:.2}× |",
            bench.name,
            per_second(bench.seeds, bench.verdicts_all),
            per_second(bench.seeds, sampled),
            bench.sampled_reruns,
            bench.seeds,
            ratio(bench.verdicts_all, sampled),
        )?;
    }
    writeln!(
        out,
        "\nSeed verdicts (`--determinism {sample}`) on 1 to {jobs_max} core(s): seeds per second, and the speedup over one.\n"
    )?;
    write!(out, "| scenario |")?;
    for jobs in 1..=jobs_max {
        write!(out, " {jobs} job(s) |")?;
    }
    writeln!(out)?;
    writeln!(out, "|---|{}", "---|".repeat(jobs_max))?;
    for bench in benches {
        write!(out, "| {} |", bench.name)?;
        let one = bench
            .verdicts
            .first()
            .map_or(Duration::ZERO, |(_, took)| *took);
        for (_, took) in &bench.verdicts {
            write!(
                out,
                " {:.2} ({:.2}×) |",
                per_second(bench.seeds, *took),
                ratio(one, *took)
            )?;
        }
        writeln!(out)?;
    }
    let problems: Vec<String> = benches
        .iter()
        .filter(|bench| bench.run_errors + bench.failed_seeds > 0)
        .map(|bench| {
            format!(
                "{}: {} run(s) did not complete, {} seed(s) failed",
                bench.name, bench.run_errors, bench.failed_seeds
            )
        })
        .collect();
    if !problems.is_empty() {
        writeln!(
            out,
            "\nMeasured over failures (their paths cost differently): {}",
            problems.join("; ")
        )?;
    }
    match peak_rss_kib() {
        Some(kib) => writeln!(
            out,
            "\nPeak RSS of this process: {:.0} MB, over {} seed verdicts and {} more runs.",
            kib as f64 / 1024.0,
            benches
                .iter()
                .map(|b| b.seeds * (1 + b.verdicts.len() as u64))
                .sum::<u64>(),
            benches.iter().map(|b| 3 * b.seeds).sum::<u64>(),
        ),
        None => writeln!(
            out,
            "\nPeak RSS: not known on this platform (no /proc/self/status)."
        ),
    }
}

/// The process's peak resident set (`VmHWM`), in KiB, where Linux says.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
