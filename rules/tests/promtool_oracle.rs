//! obsim's rule evaluation, checked against the real rule engine: the same
//! rules over the same series, once in obsim and once in `promtool test
//! rules`, which is told every alert obsim saw firing at every instant and
//! every value obsim computed. promtool fails the test file on any
//! difference, and this test prints what it said.
//!
//! Without promtool on the machine the tests say so and pass, unless
//! `OBSIM_REQUIRE_PROMTOOL=1` (CI sets it).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use obsim_rules::promtool::{expected_alerts, render, AlertTest, ExprTest, PromtoolTest};
use obsim_rules::{
    evaluate, labels, parse, Evaluator, Labels, Schedule, SeriesStore, Value, METRIC_NAME,
};

fn promtool() -> Option<String> {
    let program = std::env::var("OBSIM_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let found = Command::new(&program).arg("--version").output().is_ok();
    if !found && std::env::var("OBSIM_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
        panic!("OBSIM_REQUIRE_PROMTOOL=1 but `{program}` cannot be run");
    }
    found.then_some(program)
}

/// A deterministic stream of numbers: the test's series must not change
/// from run to run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const STEP_MS: i64 = 15_000;
const BOUNDS: [&str; 6] = ["0.05", "0.1", "0.25", "0.5", "1", "+Inf"];

/// Two instances of a service scraped every 15 s for `steps` scrapes:
/// request counters by status, a latency histogram, `up`. Each instance
/// goes down for a while (its series marked stale, `up` 0) and comes back
/// restarted (its counters reset); errors and slow requests come in bursts.
/// Samples are written in time order, as a scraper writes them: the order
/// series first appear in is the order Prometheus's storage lists them in.
fn service_series(seed: u64, steps: i64) -> SeriesStore {
    service_series_down(seed, steps, None)
}

/// As [`service_series`], with every instance down over `down` if given.
fn service_series_down(seed: u64, steps: i64, down: Option<std::ops::Range<i64>>) -> SeriesStore {
    let mut rng = SplitMix(seed);
    let mut store = SeriesStore::default();
    let mut instances: Vec<Instance> = ["server-0", "server-1"]
        .into_iter()
        .map(|name| Instance::new(name, &mut rng, steps))
        .collect();
    if let Some(down) = down {
        for instance in &mut instances {
            instance.down = down.clone();
        }
    }
    for step in 0..steps {
        for instance in &mut instances {
            instance.scrape(&mut store, &mut rng, step);
        }
    }
    store
}

struct Instance {
    name: &'static str,
    down: std::ops::Range<i64>,
    burst: std::ops::Range<i64>,
    ok: f64,
    errors: f64,
    buckets: [f64; 6],
    sum: f64,
    written: Vec<Labels>,
}

impl Instance {
    fn new(name: &'static str, rng: &mut SplitMix, steps: i64) -> Instance {
        let down_from = 10 + rng.below(steps as u64 / 2) as i64;
        let down_for = 1 + rng.below(8) as i64;
        let burst_from = rng.below(steps as u64) as i64;
        let burst_for = 4 + rng.below(30) as i64;
        Instance {
            name,
            down: down_from..down_from + down_for,
            burst: burst_from..burst_from + burst_for,
            ok: 0.0,
            errors: 0.0,
            buckets: [0.0; 6],
            sum: 0.0,
            written: Vec::new(),
        }
    }

    fn base(&self, name: &str) -> Labels {
        labels([(METRIC_NAME, name), ("job", "svc"), ("instance", self.name)])
    }

    fn scrape(&mut self, store: &mut SeriesStore, rng: &mut SplitMix, step: i64) {
        let t = step * STEP_MS;
        let down = self.down.contains(&step);
        store
            .push(&self.base("up"), t, if down { 0.0 } else { 1.0 })
            .unwrap();
        if down {
            for series in &self.written {
                store.mark_stale(series, t).unwrap();
            }
            // The process restarts: its counters start again from 0.
            (self.ok, self.errors, self.buckets, self.sum) = (0.0, 0.0, [0.0; 6], 0.0);
            return;
        }
        let burst = self.burst.contains(&step);
        for _ in 0..rng.below(40) {
            let failed = rng.below(100) < if burst { 30 } else { 1 };
            if failed {
                self.errors += 1.0;
            } else {
                self.ok += 1.0;
            }
            let latency = if burst {
                0.2 + rng.below(900) as f64 / 1000.0
            } else {
                rng.below(120) as f64 / 1000.0
            };
            self.sum += latency;
            for (at, bound) in BOUNDS.iter().enumerate() {
                let bound: f64 = bound.replace("+Inf", "inf").parse().unwrap();
                if latency <= bound {
                    self.buckets[at] += 1.0;
                }
            }
        }
        let mut samples = Vec::new();
        let with = |mut labels: Labels, key: &str, value: &str| {
            labels.insert(key.into(), value.into());
            labels
        };
        samples.push((with(self.base("requests_total"), "status", "ok"), self.ok));
        // A labelled counter appears at its first increment, as client
        // libraries export it.
        if self.errors > 0.0 {
            samples.push((
                with(self.base("requests_total"), "status", "error"),
                self.errors,
            ));
        }
        for (at, bound) in BOUNDS.iter().enumerate() {
            let labels = with(self.base("request_duration_seconds_bucket"), "le", bound);
            samples.push((labels, self.buckets[at]));
        }
        samples.push((self.base("request_duration_seconds_sum"), self.sum));
        samples.push((self.base("request_duration_seconds_count"), self.buckets[5]));
        self.written.clear();
        for (labels, value) in samples {
            store.push(&labels, t, value).unwrap();
            self.written.push(labels);
        }
    }
}

const RULES: &str = r#"groups:
  - name: slo-recordings
    rules:
      - record: slo:sli_error:ratio_rate5m
        expr: |
          sum by (job) (rate(requests_total{status="error"}[5m]))
          /
          sum by (job) (rate(requests_total[5m]))
        labels:
          sloth_window: 5m
      - record: slo:sli_error:ratio_rate30m
        expr: |
          sum by (job) (rate(requests_total{status="error"}[30m]))
          /
          sum by (job) (rate(requests_total[30m]))
        labels:
          sloth_window: 30m
      - record: slo:sli_error:ratio_rate1h
        expr: |
          sum by (job) (rate(requests_total{status="error"}[1h]))
          /
          sum by (job) (rate(requests_total[1h]))
        labels:
          sloth_window: 1h
  - name: alerts
    rules:
      - alert: HighErrorRate
        expr: |
          sum by (job) (rate(requests_total{status="error"}[1m]))
          /
          sum by (job) (rate(requests_total[1m])) > 0.05
        for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} fails too many of its requests"
      - alert: LatencyP99High
        expr: histogram_quantile(0.99, sum by (job, le) (rate(request_duration_seconds_bucket[1m]))) > 0.5
        for: 30s
        labels:
          severity: ticket
      - alert: NodeDown
        expr: up == 0
        for: 15s
        annotations:
          summary: "{{ $labels.instance }} is down"
      - alert: ErrorBudgetBurn
        expr: |
          (
            max(slo:sli_error:ratio_rate5m > (14.4 * 0.001)) without (sloth_window)
            and
            max(slo:sli_error:ratio_rate1h > (14.4 * 0.001)) without (sloth_window)
          )
          or
          (
            max(slo:sli_error:ratio_rate30m > (6 * 0.001)) without (sloth_window)
            and
            max(slo:sli_error:ratio_rate1h > (6 * 0.001)) without (sloth_window)
          )
        labels:
          severity: page
      - alert: ErrorsKeepComing
        expr: increase(requests_total{status="error"}[2m]) > 3
        keep_firing_for: 1m
      - alert: ServiceAbsent
        expr: absent(up{job="svc"} == 1)
"#;

/// Expressions checked value for value: every function and operator of
/// the subset the rules above do not already use.
const EXPRESSIONS: &[&str] = &[
    "rate(requests_total[2m])",
    "increase(requests_total[5m])",
    "delta(request_duration_seconds_sum[3m])",
    "irate(requests_total[1m])",
    "idelta(requests_total[1m])",
    "changes(up[10m])",
    "resets(requests_total[10m])",
    "avg_over_time(up[5m])",
    "min_over_time(requests_total[5m])",
    "max_over_time(requests_total[5m])",
    "sum_over_time(up[5m])",
    "count_over_time(requests_total[5m])",
    "last_over_time(requests_total[5m])",
    "present_over_time(requests_total[1m])",
    "stddev_over_time(requests_total[5m])",
    "stdvar_over_time(requests_total[5m])",
    "quantile_over_time(0.9, requests_total[5m])",
    "histogram_quantile(0.5, rate(request_duration_seconds_bucket[2m]))",
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "avg by (instance) (requests_total)",
    "count without (status) (requests_total)",
    "min(requests_total)",
    "max by (status) (requests_total)",
    "group by (job) (requests_total)",
    "stddev(requests_total)",
    "stdvar by (status) (requests_total)",
    "quantile(0.75, requests_total)",
    "requests_total{status=~\"e.*\"} + ignoring(status) requests_total{status=\"ok\"}",
    "requests_total / on(instance) group_left() up",
    "up * on(instance) group_right() requests_total",
    "requests_total % 7",
    "2 ^ up",
    "-requests_total",
    "requests_total > bool 10",
    "10 < requests_total",
    "requests_total unless requests_total{status=\"ok\"}",
    "up or vector(0)",
    "abs(delta(requests_total[1m]))",
    "ceil(rate(requests_total[1m]))",
    "floor(rate(requests_total[1m]))",
    "round(rate(requests_total[1m]), 0.1)",
    "sqrt(requests_total)",
    "exp(up)",
    "ln(requests_total + 1)",
    "log2(requests_total + 1)",
    "log10(requests_total + 1)",
    "sgn(delta(requests_total[1m]))",
    "clamp(requests_total, 5, 50)",
    "clamp_min(requests_total, 20)",
    "clamp_max(requests_total, 20)",
    "absent(nonexistent{job=\"svc\"})",
    "absent_over_time(up[1m])",
    "scalar(sum(up))",
    "time()",
    "up offset 1m",
    "label_replace(up, \"host\", \"$1\", \"instance\", \"server-(.*)\")",
    "sort_desc(requests_total)",
];

/// Runs `RULES` over `store` in obsim, then hands promtool the alerts and
/// values obsim saw. Returns how many checks promtool was given.
fn cross_check(name: &str, store: &SeriesStore, end: Duration, expr_every: usize) -> usize {
    let Some(promtool) = promtool() else {
        eprintln!("promtool is not installed: {name} not cross-checked");
        return 0;
    };
    let file = parse("rules.yml", RULES).expect("the rules load");
    let interval = Duration::from_millis(STEP_MS as u64);
    let mut evaluated = store.clone();
    let schedule = Schedule { interval, end };
    let timeline = evaluate(std::slice::from_ref(&file), &mut evaluated, schedule).unwrap();
    assert!(timeline.failures.is_empty(), "{:?}", timeline.failures);
    let alert_names: Vec<String> = file
        .groups
        .iter()
        .flat_map(|group| &group.rules)
        .filter(|rule| rule.is_alert())
        .map(|rule| rule.name().to_string())
        .collect();
    let mut alert_tests = Vec::new();
    let mut expr_tests = Vec::new();
    for (k, t) in schedule.instants().enumerate() {
        for alertname in &alert_names {
            alert_tests.push(AlertTest {
                eval_time: Duration::from_millis(t as u64),
                alertname: alertname.clone(),
                exp_alerts: expected_alerts(&timeline, alertname, t),
            });
        }
        if k % expr_every != 0 {
            continue;
        }
        let rule_exprs = file
            .groups
            .iter()
            .flat_map(|group| &group.rules)
            .map(|rule| rule.expr_text.trim().to_string());
        for expr in rule_exprs.chain(EXPRESSIONS.iter().map(|e| e.to_string())) {
            // Prometheus adds a vector's elements in its storage's order
            // and uses Go's `math.Log`: the last bit can differ, so values
            // are compared to 1e-9, which still tells every semantic
            // difference (a window edge, an extrapolation, a reset) apart.
            // A scalar expression cannot be rounded so; it is compared as is.
            let rounded = format!("round(({expr}), 1e-9)");
            let (expr, parsed) = match promql_parser::parser::parse(&rounded) {
                Ok(parsed) => (rounded, parsed),
                Err(_) => (expr.clone(), promql_parser::parser::parse(&expr).unwrap()),
            };
            let exp_samples = match Evaluator::new(&evaluated).eval(&parsed, t).unwrap() {
                Value::Vector(elements) => elements
                    .into_iter()
                    .map(|element| (Labels::clone(&element.labels), element.value))
                    .collect(),
                Value::Scalar(value) => vec![(Labels::new(), value)],
                other => panic!("{expr}: {other:?}"),
            };
            expr_tests.push(ExprTest {
                expr,
                eval_time: Duration::from_millis(t as u64),
                exp_samples,
            });
        }
    }
    let checks = alert_tests.len() + expr_tests.len();
    let fired: Vec<&str> = timeline
        .alerts
        .values()
        .filter(|alert| !alert.firing().is_empty())
        .map(|alert| alert.name())
        .collect();
    eprintln!("{name}: {checks} checks; fired: {fired:?}");
    assert!(
        !fired.is_empty(),
        "{name}: no alert ever fired, so nothing was cross-checked"
    );
    let test = PromtoolTest {
        rule_files: vec!["rules.yml".into()],
        evaluation_interval: interval,
        group_eval_order: file.groups.iter().map(|g| g.name.clone()).collect(),
        interval,
        input: store,
        alert_tests,
        expr_tests,
        comment: format!("obsim's cross-check {name}"),
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("promtool-oracle-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    std::fs::write(dir.join("test.yml"), render(&test).unwrap()).unwrap();
    let output = Command::new(&promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: String = said.chars().take(6000).collect();
    assert!(
        output.status.success(),
        "promtool disagrees with obsim on {name} (files in {}):\n{shown}",
        dir.display()
    );
    checks
}

#[test]
fn promtool_agrees_with_every_alert_and_value_over_a_service_with_outages() {
    let steps = 240; // an hour of 15 s scrapes
    let store = service_series(1, steps);
    let end = Duration::from_millis(((steps - 1) * STEP_MS) as u64);
    cross_check("service-seed-1", &store, end, 8);
}

#[test]
fn promtool_agrees_across_seeded_series() {
    for seed in 2..6 {
        let steps = 120;
        let store = service_series(seed, steps);
        let end = Duration::from_millis(((steps - 1) * STEP_MS) as u64);
        cross_check(&format!("service-seed-{seed}"), &store, end, 20);
    }
}

#[test]
fn promtool_agrees_when_the_whole_service_is_down() {
    let steps = 80;
    let store = service_series_down(7, steps, Some(30..45));
    let end = Duration::from_millis(((steps - 1) * STEP_MS) as u64);
    cross_check("service-down", &store, end, 10);
}
