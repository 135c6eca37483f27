//! A failing seed's `report.html`, opened in headless Chromium: every bug
//! switch's failing seed writes one that loads with nothing on the console,
//! shows the claims, the timeline, the series and the traces they name, and
//! marks each claim's instant. `obsim report` builds it again from the files.

#[path = "browser/mod.rs"]
mod browser;

use std::path::{Path, PathBuf};
use std::time::Instant;

use obsim::harness::{page_html, Artifacts, Failure, PAGE};
use obsim_fixtures::{ActorSystem, Bug};

const REPLAY: &str = "cargo test --test report_page";

/// `bug`'s failing seed with its artifacts written under `dir`, not shrunk
/// (the page does not read `minimal.toml`), and the page's path.
fn failing_page(bug: Bug, dir: &Path) -> (Failure, PathBuf) {
    let case = obsim_fixtures::bug_case(bug);
    let config = case.config();
    let sim = case
        .builder(REPLAY)
        .artifacts_dir(Some(dir.to_path_buf()))
        .shrink(None)
        .build(move || ActorSystem::new(config.clone()))
        .expect("the bug file builds");
    let failure = sim
        .check_seed(case.seed)
        .failure
        .unwrap_or_else(|| panic!("{bug} went unnoticed on seed {}", case.seed));
    let Some(Artifacts::Written(folder)) = &failure.artifacts else {
        panic!("{bug}: artifacts not written: {:?}", failure.artifacts);
    };
    let page = folder.join(PAGE);
    assert!(page.is_file(), "{bug}: no {PAGE} in {}", folder.display());
    (failure, page)
}

/// Removes a test's folder when the test passed; a failing test leaves its
/// pages to look at.
struct Passed(PathBuf);

impl Drop for Passed {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A folder of this test's own: two runs of the suite may share a target
/// folder, and must not delete each other's pages.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("report_page-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn every_bug_switchs_failing_seed_writes_a_page_that_loads_in_chromium() {
    let dir = scratch("switches");
    let _passed = Passed(dir.clone());
    let browser = browser::chromium();
    let mut sizes = Vec::new();
    for bug in Bug::ALL {
        let started = Instant::now();
        let (failure, page) = failing_page(bug, &dir);
        let message = failure.to_string();
        assert!(
            message.contains(&format!("page: {}", page.display())),
            "{bug}: the failure message points at the page:\n{message}"
        );
        let bytes = std::fs::metadata(&page).expect("the page").len();
        sizes.push(format!(
            "{bug}: {} KiB, seed in {:.1?}",
            bytes / 1024,
            started.elapsed()
        ));
        assert!(
            bytes < 2 << 20,
            "{bug}: the page is {bytes} bytes: too large to attach to an issue"
        );
        if let Some(browser) = &browser {
            let loaded = browser::assert_page_loads(browser, &page, bug.as_str());
            let check = failure.checks()[0].to_string();
            assert!(
                loaded
                    .dom
                    .contains(&format!("<span class=\"check\">{check}</span>")),
                "{bug}: the claim of {check}"
            );
        }
    }
    eprintln!("pages:\n  {}", sizes.join("\n  "));
}

#[test]
fn a_gauge_drift_page_charts_the_gauge_per_incarnation_and_marks_the_claim() {
    let dir = scratch("gauge");
    let _passed = Passed(dir.clone());
    let (failure, page) = failing_page(Bug::GaugeNotDecrementedOnCrash, &dir);
    let html = std::fs::read_to_string(&page).expect("the page");
    // The gauge the claim names is charted first, by plotters, with the
    // counters its message names after it.
    let first = html
        .find("data-family=\"actors_active\"")
        .expect("a chart of actors_active");
    let second = html
        .find("data-family=\"actors_activations_total\"")
        .expect("its counter");
    assert!(first < second, "the subject's family comes first");
    assert!(html[first..].contains("<svg"), "a chart is an SVG");
    assert!(
        html.contains("actors_active on server-1#1"),
        "a line per incarnation: server-1 restarted"
    );
    // server-1's crash at 1.5 s of the run is on its lane.
    assert!(
        html.contains("title=\"server-1 incarnation 0: 0.000s to 1.500s\""),
        "{html}"
    );
    // The claim's instant, 1.001 s, on the timeline at its place.
    let end = html
        .split("0 to ")
        .nth(1)
        .and_then(|rest| rest.split("s of simulated").next())
        .unwrap();
    let end: f64 = end.parse().unwrap();
    let left = format!("left:{:.3}%", 1.001 / end * 100.0);
    let mark = html.find("class=\"violation-label\"").expect("a mark");
    assert!(
        html[mark..mark + 200].contains(&left),
        "the mark at {left}: {}",
        &html[mark..mark + 200]
    );
    let Some(browser) = browser::chromium() else {
        return;
    };
    let loaded = browser::assert_page_loads(&browser, &page, "gauge drift");
    assert!(
        loaded.dom.contains("drifted from the counters"),
        "the claim in words"
    );
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-page.png");
    browser::screenshot(&browser, &page, &png, 2400);
    eprintln!("screenshot: {}\n{failure}", png.display());
}

#[test]
fn a_counter_page_draws_ground_truth_beside_each_scraped_series_and_the_series_never_scraped() {
    let dir = scratch("truth");
    let _passed = Passed(dir.clone());
    // The counter counts a write as ok before it is tried: failed writes
    // are counted as ok, and the error series is never exported.
    let (_, page) = failing_page(Bug::CounterBeforeWrite, &dir);
    let folder = page.parent().unwrap();
    let truth = std::fs::read_to_string(folder.join("truth.txt")).expect("truth.txt");
    assert!(
        truth.contains("\n=== storage_operations_total{instance=\"server-0\""),
        "{truth}"
    );
    let html = std::fs::read_to_string(&page).expect("the page");
    let line = |labels: &str| {
        let start = html
            .find(&format!(
                "storage_operations_total{{{labels}}} on server-0#0</code>"
            ))
            .unwrap_or_else(|| panic!("no line for {labels}"));
        html[start..].split("</li>").next().unwrap().to_string()
    };
    let ok = line("operation=&quot;put&quot;,status=&quot;ok&quot;");
    assert!(ok.contains("scrape(s); dashed: ground truth at"), "{ok}");
    let error = line("operation=&quot;put&quot;,status=&quot;error&quot;");
    assert!(
        error.contains("(0 scrape(s); dashed: ground truth at"),
        "{error}"
    );
    // The series the claims name come before the family's others.
    let get = html.find("operation=&quot;get&quot;").unwrap_or(usize::MAX);
    assert!(html.find("operation=&quot;put&quot;").unwrap() < get);
    if let Some(browser) = browser::chromium() {
        browser::assert_page_loads(&browser, &page, "counter before write");
    }
}

#[test]
fn a_swallowed_failure_page_shows_the_trace_it_names_with_the_failed_span_highlighted() {
    let dir = scratch("trace");
    let _passed = Passed(dir.clone());
    let (failure, page) = failing_page(Bug::RetriedAttemptNotLogged, &dir);
    let message = failure.to_string();
    // `trace <32 hex>` and the span's 16 hex digits, as the claim words them.
    let trace = message.split("] trace ").nth(1).unwrap().get(..32).unwrap();
    let span = message
        .split("span `ActorService/Invoke` ")
        .nth(1)
        .and_then(|rest| rest.get(..16))
        .unwrap();
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(
        html.contains(&format!("id=\"trace-{trace}\"")),
        "a waterfall of trace {trace}"
    );
    let row = html
        .find(&format!("id=\"span-{span}\""))
        .expect("the span's row");
    let row_start = html[..row].rfind("<div class=").unwrap();
    assert!(
        html[row_start..row].contains("at-fault"),
        "span {span} highlighted"
    );
    assert!(
        html[row_start..row].contains("error"),
        "span {span} drawn as failed"
    );
    if let Some(browser) = browser::chromium() {
        browser::assert_page_loads(&browser, &page, "swallowed failure");
    }
}

#[test]
fn a_log_claims_page_lists_the_event_it_names() {
    let dir = scratch("log");
    let _passed = Passed(dir.clone());
    // An INFO event outside every span: listed for the claim that names it,
    // with no trace to link to.
    let (_, page) = failing_page(Bug::ActivationLoggedOutsideSpan, &dir);
    let html = std::fs::read_to_string(&page).expect("the page");
    let logs = &html[html.find("id=\"logs\"").expect("a logs section")..];
    let row = logs.find("<td>INFO</td>").expect("an INFO row");
    let row = &logs[row..row + 600];
    assert!(row.contains("actor activated"), "{row}");
    assert!(row.contains("<td>none</td>"), "no trace: {row}");
}

#[test]
fn an_alert_claims_page_shows_the_alert_it_names_and_both_timelines_firing_spans() {
    let dir = scratch("alert");
    let _passed = Passed(dir.clone());
    // A typo in the rule's selector: ActorsHighErrorRate never pends, so
    // `timelines.txt` leaves it out; the page names it all the same.
    let (_, page) = failing_page(Bug::AlertRuleStatusTypo, &dir);
    let html = std::fs::read_to_string(&page).expect("the page");
    let alerts = &html[html.find("id=\"alerts\"").expect("an alerts section")..];
    assert!(
        alerts.contains(
            "<code>ActorsHighErrorRate</code> never pending or firing on either timeline"
        ),
        "{alerts}"
    );
    // The other alerts' spans, written in minutes (`8m15s–end`), as bars.
    assert!(
        alerts.contains("class=\"firing\" style=\"left:"),
        "{alerts}"
    );
}

#[test]
fn obsim_report_builds_the_page_again_for_a_folder_written_without_one() {
    let dir = scratch("rebuild");
    let _passed = Passed(dir.clone());
    let (_, page) = failing_page(Bug::GaugeNotDecrementedOnCrash, &dir);
    let folder = page.parent().unwrap();
    let written = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        page_html(folder).unwrap(),
        written,
        "built again from the same files, the same page"
    );
    // As an older obsim left it: no page, no timebase.
    std::fs::remove_file(&page).unwrap();
    std::fs::remove_file(folder.join("timebase.txt")).unwrap();
    let (code, out, err) = obsim_report(folder);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), page.display().to_string());
    let rebuilt = std::fs::read_to_string(&page).unwrap();
    assert!(
        rebuilt.contains("have no timebase.txt"),
        "the page says what it lacks"
    );
    assert!(rebuilt.contains("data-family=\"actors_active\""));
    // A folder that is no seed's artifacts is refused with its name.
    let (code, _, err) = obsim_report(&dir);
    assert_eq!(code, 2);
    assert!(err.contains("no readable report.txt"), "{err}");
}

/// `obsim report <folder>` through the CLI's own entry point.
fn obsim_report(folder: &Path) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let args = [
        "obsim".into(),
        "report".into(),
        folder.as_os_str().to_owned(),
    ];
    let code = obsim_fixtures::suite().run_command(args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn the_browser_check_catches_a_page_that_errors() {
    let Some(browser) = browser::chromium() else {
        return;
    };
    let dir = scratch("broken");
    let _passed = Passed(dir.clone());
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><p>x</p><script>throw new Error(\"planted\")</script>",
    )
    .unwrap();
    let loaded = browser::load(&browser, &page);
    assert!(
        loaded
            .console
            .iter()
            .any(|line| line.contains("Uncaught Error: planted")),
        "{:?}",
        loaded.console
    );
}
