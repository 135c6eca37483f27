//! A failing seed's `report.html` opened in headless Chromium, as a person
//! opens it: what the browser's console said, and the page as it loaded.
//! Shared by the reference systems' tests (`#[path]`), so each proves its
//! own bug switches' pages load.
//!
//! Chromium is Debian's `chromium`, installed by `.ci/run`. Without it the
//! tests say so and pass, unless `OBSIM_REQUIRE_CHROMIUM=1` (which CI sets):
//! then a missing browser fails them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A page takes a second; a browser stuck longer is killed and the test
/// fails, rather than hanging CI.
const LOAD_LIMIT: Duration = Duration::from_secs(120);

/// What the browser made of a page.
pub struct Loaded {
    /// The DOM after loading, serialized (`--dump-dom`).
    pub dom: String,
    /// Every line the page wrote to the console: an error thrown, a
    /// resource that failed to load, a message logged. The page has no
    /// script, so any line is a fault.
    pub console: Vec<String>,
}

/// The browser, or None (and a note on stderr) when it is not installed
/// and not required.
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| which(name));
    if found.is_none() {
        assert!(
            std::env::var("OBSIM_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "OBSIM_REQUIRE_CHROMIUM=1 but no chromium is on PATH: `apt-get install chromium` (.ci/run does)"
        );
        eprintln!(
            "note: chromium is not installed: the page was built but not opened in a browser"
        );
    }
    found
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A fresh profile folder for each launch: parallel tests must not share
/// one, and a profile must not carry state from one page to the next.
fn profile() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("obsim-chromium-{}-{n}", std::process::id()))
}

fn run(browser: &Path, page: &Path, extra: &[String]) -> (String, String) {
    let profile = profile();
    let url = format!(
        "file://{}",
        page.canonicalize().expect("the page exists").display()
    );
    std::fs::create_dir_all(&profile).expect("a profile folder");
    // To files, not pipes: a page's DOM outgrows a pipe's buffer, and a
    // browser blocked writing to it would never exit.
    let stdout = profile.join("stdout");
    let stderr = profile.join("stderr");
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url)
        .stdout(Stdio::from(
            std::fs::File::create(&stdout).expect("stdout file"),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(&stderr).expect("stderr file"),
        ))
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on chromium") {
            break status;
        }
        if started.elapsed() > LOAD_LIMIT {
            let _ = child.kill();
            panic!("chromium took more than {LOAD_LIMIT:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &Path| {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    };
    let (out, log) = (read(&stdout), read(&stderr));
    let _ = std::fs::remove_dir_all(&profile);
    assert!(status.success(), "chromium failed on {url}: {log}");
    (out, log)
}

/// Loads `page` and returns its DOM and console.
pub fn load(browser: &Path, page: &Path) -> Loaded {
    let (dom, log) = run(browser, page, &["--dump-dom".to_string()]);
    let console = log
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Loaded { dom, console }
}

/// Saves a screenshot of `page`, `height` pixels tall, to `png`.
pub fn screenshot(browser: &Path, page: &Path, png: &Path, height: u32) {
    let _ = std::fs::remove_file(png);
    run(
        browser,
        page,
        &[
            format!("--window-size=1280,{height}"),
            format!("--screenshot={}", png.display()),
        ],
    );
    assert!(
        png.is_file(),
        "chromium wrote no screenshot to {}",
        png.display()
    );
}

/// Asserts what every failing seed's page must show once loaded: no
/// console line, the claims, the timeline, and a mark on the timeline for
/// each claim with an instant, linked to its claim.
pub fn assert_page_loads(browser: &Path, page: &Path, what: &str) -> Loaded {
    let loaded = load(browser, page);
    assert!(
        loaded.console.is_empty(),
        "{what}: the page wrote to the console:\n{}",
        loaded.console.join("\n")
    );
    for part in [
        "id=\"claims\"",
        "id=\"claim-0\"",
        "id=\"timeline\"",
        "id=\"series\"",
        "id=\"traces\"",
    ] {
        assert!(
            loaded.dom.contains(part),
            "{what}: the loaded page has no {part}"
        );
    }
    let timed = loaded.dom.matches("id=\"mark-").count();
    let claims_with_time = loaded
        .dom
        .matches("title=\"its place on the timeline\"")
        .count();
    assert_eq!(
        timed, claims_with_time,
        "{what}: a timeline mark for each claim with an instant"
    );
    loaded
}

/// Seeds tried for a bug file's first failure.
const SEEDS: u64 = 8;

/// Every bug file under the package's `bugs/`: its first failing seed (of
/// [`SEEDS`] from the file's start) writes a page under 2 MiB that loads
/// (see [`assert_page_loads`]). `build` makes the file's sim from its
/// scenario and a builder already pointed at the artifacts folder, with
/// shrinking off (the page does not read `minimal.toml`).
pub fn assert_every_bug_files_page_loads(
    package: &str,
    build: impl Fn(&obsim::scenario::Scenario, obsim::Builder) -> obsim::Sim,
) {
    // Its own folder: two runs may share a target folder.
    let dir = std::env::temp_dir().join(format!(
        "obsim-report-page-{package}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let browser = chromium();
    let mut files: Vec<PathBuf> = std::fs::read_dir("bugs")
        .expect("the bugs folder")
        .map(|entry| entry.expect("a bug file").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no bug files: nothing would be proven");
    for file in files {
        let scenario = obsim::load_scenario(&file).unwrap_or_else(|error| panic!("{error}"));
        let builder = obsim::Suite::new("scenarios")
            .builder(
                &scenario,
                &format!("cargo test -p {package} --test report_page"),
            )
            .artifacts_dir(Some(dir.clone()))
            .shrink(None);
        let sim = build(&scenario, builder);
        let start = scenario.seeds.start;
        let failure = (start..start + SEEDS)
            .find_map(|seed| sim.check_seed(seed).failure)
            .unwrap_or_else(|| panic!("{} went unnoticed on {SEEDS} seeds", file.display()));
        let Some(obsim::harness::Artifacts::Written(folder)) = &failure.artifacts else {
            panic!(
                "{}: artifacts not written: {:?}",
                file.display(),
                failure.artifacts
            );
        };
        let page = folder.join(obsim::harness::PAGE);
        let bytes = std::fs::metadata(&page).expect("the page").len();
        eprintln!("{}: {} KiB", file.display(), bytes / 1024);
        assert!(
            bytes < 2 << 20,
            "{}: the page is {bytes} bytes",
            file.display()
        );
        if let Some(browser) = &browser {
            assert_page_loads(browser, &page, &file.display().to_string());
        }
    }
    // Passed: nothing to look at.
    let _ = std::fs::remove_dir_all(&dir);
}
