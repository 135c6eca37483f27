//! Failure artifacts: everything a person needs to understand a failed seed,
//! written to `<dir>/<scenario>/<seed>/`.
//!
//! The folder holds `traces.otlp.json` (the run's spans as one OTLP/JSON
//! `ExportTraceServiceRequest`), `logs.otlp.json` (its log events as one
//! `ExportLogsServiceRequest`), `scrapes.txt`, `finals.txt`, `faults.txt`,
//! `scenario.toml`, `report.txt`, `timebase.txt` (the run's start on the
//! OTLP files' clock) and `report.html`, the page built from all of them
//! (`super::page`). It is written after the run, outside the simulation, so
//! real file I/O is fine here.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use obsim_faults::Fault;
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::{Attributes, ResourceAttributesWithSchema};
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;

use super::failure::Failure;
use crate::run::{Config, Run};

/// Where a failure's artifacts went, for its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Artifacts {
    Written(PathBuf),
    /// Writing failed; the failure itself stands, so this is reported, not
    /// raised.
    NotWritten {
        dir: PathBuf,
        error: String,
    },
}

impl Artifacts {
    /// The outcome of [`write_failure`], worded for the failure message.
    pub fn from_result(dir: &Path, result: io::Result<PathBuf>) -> Artifacts {
        match result {
            Ok(path) => Artifacts::Written(path),
            Err(error) => Artifacts::NotWritten {
                dir: dir.to_path_buf(),
                error: error.to_string(),
            },
        }
    }
}

impl fmt::Display for Artifacts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Artifacts::Written(path) => write!(f, "{}", path.display()),
            Artifacts::NotWritten { dir, error } => {
                write!(f, "not written under {}: {error}", dir.display())
            }
        }
    }
}

/// Longest file name kept from one part of a scenario name: well under every
/// file system's 255-byte limit, with room for the staging suffix.
const PART_MAX: usize = 100;

/// `<dir>/<scenario>/<seed>`. The scenario's `/`-separated parts become
/// sub-folders (`catalogue/x`); a `..` part is refused, since it would write
/// outside `dir`, and any character that is not portable in a file name
/// becomes `_`.
pub fn seed_dir(dir: &Path, scenario: &str, seed: u64) -> io::Result<PathBuf> {
    let mut path = dir.to_path_buf();
    let mut parts = 0;
    for part in scenario.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("scenario name `{scenario}` has a `..` part: refusing to write outside the artifacts folder"),
            ));
        }
        path.push(sanitize(part));
        parts += 1;
    }
    if parts == 0 {
        path.push("unnamed");
    }
    path.push(seed.to_string());
    Ok(path)
}

/// ASCII letters, digits, `-`, `_` and `.` pass; anything else (separators,
/// drive colons, control characters, non-ASCII) becomes `_`.
fn sanitize(part: &str) -> String {
    part.chars()
        .take(PART_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `failure`'s artifacts under `dir` and returns their folder. A
/// stale folder of the same scenario and seed is replaced as a whole: the
/// files are written to a staging folder first and moved in at the end, so
/// a folder never mixes two runs, even if two writers race. The OTLP file
/// holds `run`'s [`Run::otel_spans`], which only [`Sim::run_with_otel`]
/// keeps ([`Sim::check_seed`] replays a failed seed that way).
///
/// [`Sim::run_with_otel`]: crate::Sim::run_with_otel
/// [`Sim::check_seed`]: crate::Sim::check_seed
pub fn write_failure(
    dir: &Path,
    config: &Config,
    failure: &Failure,
    run: Option<&Run>,
) -> io::Result<PathBuf> {
    write_failure_with(dir, config, failure, run, &[])
}

/// [`write_failure`], with `extra` files (paths relative to the seed's
/// folder) beside the usual ones: the alert files, say.
pub(crate) fn write_failure_with(
    dir: &Path,
    config: &Config,
    failure: &Failure,
    run: Option<&Run>,
    extra: &[(PathBuf, String)],
) -> io::Result<PathBuf> {
    let target = seed_dir(dir, &failure.scenario, failure.seed)?;
    let parent = target.parent().unwrap_or(dir);
    create_dirs_within(dir, parent)?;
    let staging = parent.join(staging_name(failure.seed));
    // report.txt words the failure as its message will, folder included.
    let failure = Failure {
        artifacts: Some(Artifacts::Written(target.clone())),
        ..failure.clone()
    };
    let written = write_files(&staging, config, &failure, run)
        .and_then(|()| write_extra(&staging, extra))
        // Last: the page reads every file above.
        .and_then(|()| super::page::write_page(&staging).map(drop))
        .and_then(|()| move_into_place(&staging, &target));
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = remove_any(&staging);
    }
    written.map(|()| target)
}

/// The file that marks a seed folder as obsim's own: only a folder that
/// holds it is ever replaced.
pub const MARKER: &str = ".obsim-artifacts";

/// Creates the folders from `root` down to `folder`, one by one, refusing
/// to go through a symbolic link or a file: a link planted under the
/// artifacts folder must not send the artifacts (or a later replacement)
/// anywhere else. `root` itself is the caller's choice and may be a link.
fn create_dirs_within(root: &Path, folder: &Path) -> io::Result<()> {
    fs::create_dir_all(root)?;
    let Ok(below) = folder.strip_prefix(root) else {
        return Err(refuse(folder, "is not inside the artifacts folder"));
    };
    let mut path = root.to_path_buf();
    for part in below.components() {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(refuse(
                    &path,
                    "is a symbolic link: refusing to follow it out of the artifacts folder",
                ));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(refuse(&path, "is a file, not a folder")),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                match fs::create_dir(&path) {
                    Err(error) if error.kind() != io::ErrorKind::AlreadyExists => {
                        return Err(error)
                    }
                    // Created, or created by another writer just now: the
                    // next part checks it is a folder and not a link.
                    _ => {}
                }
                if fs::symlink_metadata(&path)?.file_type().is_symlink() {
                    return Err(refuse(
                        &path,
                        "became a symbolic link while obsim created it",
                    ));
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

fn refuse(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} {why}", path.display()),
    )
}

/// Removes a seed folder obsim wrote before (it holds [`MARKER`]); nothing
/// there is fine; anything else there is an error and is left alone.
fn remove_own(target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
        Ok(meta) if meta.file_type().is_symlink() => Err(refuse(
            target,
            "is a symbolic link obsim did not make: refusing to replace it",
        )),
        Ok(meta) if meta.is_dir() && is_marked(target) => remove_any(target),
        Ok(_) => Err(refuse(
            target,
            &format!(
                "was not written by obsim (it has no {MARKER} file): refusing to delete it. Move \
                 it away, or point OBSIM_ARTIFACTS_DIR elsewhere"
            ),
        )),
    }
}

fn is_marked(folder: &Path) -> bool {
    fs::symlink_metadata(folder.join(MARKER)).is_ok_and(|meta| meta.is_file())
}

/// Replaces `target` with `staging`. Another writer of the same scenario
/// and seed (two tests failing alike) can move its folder in between the
/// removal and the rename, so that pair is retried: the last writer wins.
fn move_into_place(staging: &Path, target: &Path) -> io::Result<()> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match remove_own(target).and_then(|()| fs::rename(staging, target)) {
            // Not ours: retrying cannot help.
            Err(error) if error.kind() == io::ErrorKind::InvalidInput => return Err(error),
            Err(_) if attempts < 4 => continue,
            result => return result,
        }
    }
}

/// A hidden folder name no other writer, in this process or another, uses.
fn staging_name(seed: u64) -> String {
    // Process-wide on purpose, and harmless to determinism: it only names a
    // folder written after a run ends, and nothing reads it back into a run.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(".{seed}.partial-{}-{n}", std::process::id())
}

/// Removes a file, link or folder at `path`; nothing there is fine.
fn remove_any(path: &Path) -> io::Result<()> {
    let removed = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(error) => Err(error),
    };
    match removed {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn write_files(
    folder: &Path,
    config: &Config,
    failure: &Failure,
    run: Option<&Run>,
) -> io::Result<()> {
    fs::create_dir(folder)?;
    fs::write(
        folder.join(MARKER),
        "Written by obsim: a failed seed's artifacts. obsim replaces this folder when the seed \
         fails again.\n",
    )?;
    let spans = run.map_or(&[][..], |run| &run.otel_spans);
    // One resource per node (`service.instance.id`), as each node's own
    // process would export it.
    let nodes: BTreeMap<crate::run::SpanId, String> = run
        .map(|run| {
            run.spans
                .iter()
                .filter_map(|span| Some((span.span_id, span.origin.node.clone()?)))
                .collect()
        })
        .unwrap_or_default();
    let json = otlp_json(spans, &failure.scenario, |span| {
        nodes.get(&span.span_context.span_id().into()).cloned()
    })?;
    fs::write(folder.join("traces.otlp.json"), json + "\n")?;
    let logs = run.map_or(&[][..], |run| &run.otel_logs);
    let json = super::log_artifacts::otlp_logs_json(logs, &failure.scenario)?;
    fs::write(folder.join("logs.otlp.json"), json + "\n")?;
    // A service that ships JSON lines: the lines as it wrote them.
    let lines: Vec<&str> = run
        .map(|run| {
            run.logs
                .iter()
                .filter_map(|log| log.original.as_deref())
                .collect()
        })
        .unwrap_or_default();
    if !lines.is_empty() {
        fs::write(folder.join("logs.jsonl"), lines.join("\n") + "\n")?;
    }
    if let Some(timebase) = run.and_then(timebase_ns) {
        fs::write(
            folder.join("timebase.txt"),
            format!(
                "# The run's start on the clock of traces.otlp.json and logs.otlp.json, in \
                 nanoseconds since the Unix epoch (madsim's simulated epoch depends on the \
                 seed). Subtract it from an OTLP time for the time since the start that \
                 report.txt, scrapes.txt and faults.txt use.\n{timebase}\n"
            ),
        )?;
    }
    fs::write(folder.join("scrapes.txt"), or_no_run(run, scrapes_text))?;
    fs::write(folder.join("finals.txt"), or_no_run(run, finals_text))?;
    fs::write(folder.join("faults.txt"), or_no_run(run, faults_text))?;
    fs::write(
        folder.join("scenario.toml"),
        scenario_text(config, failure, run),
    )?;
    fs::write(folder.join("report.txt"), report_text(failure, run))
}

/// The run's start in Unix nanoseconds on the simulated clock the OTLP files
/// use: an exported span's start less its start since the run's start.
fn timebase_ns(run: &Run) -> Option<i128> {
    let since_start: BTreeMap<crate::run::SpanId, i64> = run
        .spans
        .iter()
        .map(|span| (span.span_id, span.start_ns))
        .collect();
    run.otel_spans.iter().find_map(|span| {
        let offset = since_start.get(&span.span_context.span_id().into())?;
        let unix = span.start_time.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(unix.as_nanos() as i128 - i128::from(*offset))
    })
}

/// Files beside the usual ones, in folders of their own within `folder`.
/// A path that would leave the folder is refused.
fn write_extra(folder: &Path, extra: &[(PathBuf, String)]) -> io::Result<()> {
    for (path, contents) in extra {
        let inside = path
            .components()
            .all(|part| matches!(part, std::path::Component::Normal(_)));
        if !inside {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("artifact path {} leaves the seed's folder", path.display()),
            ));
        }
        let full = folder.join(path);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(full, contents)?;
    }
    Ok(())
}

/// A run's file, or a line saying the seed left no run to read it from.
fn or_no_run(run: Option<&Run>, text: fn(&Run) -> String) -> String {
    run.map_or_else(
        || "(no run: the seed did not complete; see report.txt)\n".to_string(),
        text,
    )
}

/// `spans` as an OTLP `ExportTraceServiceRequest`: one resource per node
/// that `node_of` names (`service.name` = `service`, `service.instance.id` =
/// the node), spans it names no node for under a resource with
/// `service.name` only, and within each resource one scope group per
/// instrumentation scope. Resources come in node order and spans in input
/// order, so the same spans always give the same request.
pub fn otlp_request(
    spans: &[SpanData],
    service: &str,
    node_of: impl Fn(&SpanData) -> Option<String>,
) -> ExportTraceServiceRequest {
    let mut by_node: BTreeMap<Option<String>, Vec<SpanData>> = BTreeMap::new();
    for span in spans {
        by_node.entry(node_of(span)).or_default().push(span.clone());
    }
    let resource_spans = by_node
        .into_iter()
        .flat_map(|(node, spans)| {
            group_spans_by_resource_and_scope(spans, &resource(service, node.as_deref()))
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// [`otlp_request`] in OTLP's JSON mapping, on one line, as the collector's
/// file exporter writes it and its `otlpjsonfile` receiver reads it.
pub fn otlp_json(
    spans: &[SpanData],
    service: &str,
    node_of: impl Fn(&SpanData) -> Option<String>,
) -> serde_json::Result<String> {
    serde_json::to_string(&otlp_request(spans, service, node_of))
}

/// Built by hand rather than from an SDK `Resource`, whose attributes sit in
/// a HashMap: the order here is fixed, so the file is too.
pub(crate) fn resource(service: &str, node: Option<&str>) -> ResourceAttributesWithSchema {
    let mut attributes = vec![KeyValue::new("service.name", service.to_string())];
    if let Some(node) = node {
        attributes.push(KeyValue::new("service.instance.id", node.to_string()));
    }
    ResourceAttributesWithSchema {
        attributes: Attributes::from(attributes),
        schema_url: None,
    }
}

fn secs(at: Duration) -> String {
    format!("{:.6}s", at.as_secs_f64())
}

/// Every scrape in the order it was recorded, each headed by a `===` line
/// with its times, node, incarnation and health, then its body verbatim.
fn scrapes_text(run: &Run) -> String {
    let mut out = format!(
        "# {} scrapes; times are simulated, since the run's start.\n",
        run.scrapes.len()
    );
    for (i, scrape) in run.scrapes.iter().enumerate() {
        let incarnation = scrape
            .incarnation
            .map_or("-".to_string(), |n| n.to_string());
        let health = match &scrape.error {
            None if scrape.up => "up".to_string(),
            None => "down".to_string(),
            Some(error) => format!("down: {error}"),
        };
        let _ = writeln!(
            out,
            "\n=== scrape #{i} {} at {} (ended {}) incarnation {incarnation} {health}",
            scrape.node,
            secs(scrape.at),
            secs(scrape.ended_at)
        );
        push_body(&mut out, &scrape.body);
    }
    out
}

/// Each incarnation's registry as it stood when the incarnation ended.
fn finals_text(run: &Run) -> String {
    let mut out = format!(
        "# final exposition of each of {} node incarnations; simulated times.\n",
        run.incarnations.len()
    );
    for incarnation in &run.incarnations {
        let until = incarnation.ended_at.map_or_else(
            || format!("end of run at {}", secs(run.ended_at)),
            |at| format!("crash at {}", secs(at)),
        );
        let _ = writeln!(
            out,
            "\n=== {} incarnation {}: booted at {}, lived until {until}",
            incarnation.node,
            incarnation.number,
            secs(incarnation.started_at)
        );
        push_body(&mut out, &incarnation.final_exposition);
    }
    out
}

/// A body verbatim, ending in a newline so the next header starts a line.
fn push_body(out: &mut String, body: &str) {
    if body.is_empty() {
        out.push_str("(empty)\n");
        return;
    }
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
}

fn faults_text(run: &Run) -> String {
    let mut out = format!(
        "# fault log: {} events kept, {} dropped past the log's capacity\n",
        run.faults.len(),
        run.faults_dropped
    );
    for event in &run.faults {
        let _ = writeln!(out, "{event}");
    }
    let _ = writeln!(out, "dropped: {}", run.faults_dropped);
    out
}

/// The scenario as it ran: its file's text, then the seed and its faults as
/// TOML comments, so the file still parses as the scenario.
fn scenario_text(config: &Config, failure: &Failure, run: Option<&Run>) -> String {
    let mut out = match &config.scenario_source {
        Some(source) => source.clone(),
        None => "# Built in Rust, not from a scenario file: its settings are in the code that built it.\n".to_string(),
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "\n# --- the run behind these artifacts ---");
    let _ = writeln!(out, "# scenario: {}", failure.scenario);
    let _ = writeln!(out, "# seed: {}", failure.seed);
    let _ = writeln!(out, "# replay: {}", failure.replay);
    match plan_of(config, failure.seed, run) {
        Ok((plan, fixed)) => push_plan(&mut out, &plan, fixed),
        Err(error) => {
            let _ = writeln!(out, "# faults: (invalid plan: {error})");
        }
    }
    out
}

/// The run's plan, or, with no run, the plan the seed would have run with.
fn plan_of(config: &Config, seed: u64, run: Option<&Run>) -> Result<(Vec<Fault>, usize), String> {
    if let Some(run) = run {
        return Ok((run.plan.clone(), run.fixed_faults));
    }
    let plan = config.plan_for(seed).map_err(|error| error.to_string())?;
    Ok((plan.faults().to_vec(), config.faults.faults().len()))
}

fn push_plan(out: &mut String, plan: &[Fault], fixed: usize) {
    let (fixed_faults, drawn) = plan.split_at(fixed.min(plan.len()));
    let _ = writeln!(out, "# faults (fixed):");
    push_fault_lines(out, fixed_faults);
    let _ = writeln!(out, "# faults (swarm draw for this seed):");
    push_fault_lines(out, drawn);
}

fn push_fault_lines(out: &mut String, faults: &[Fault]) {
    if faults.is_empty() {
        let _ = writeln!(out, "#   (none)");
    }
    for fault in faults {
        // One comment line per text line: a newline must not end the comment.
        for line in fault.to_string().lines() {
            let _ = writeln!(out, "#   {line}");
        }
    }
}

/// The failure as its message words it, then the run's normalized report.
fn report_text(failure: &Failure, run: Option<&Run>) -> String {
    let report = run.map_or_else(
        || "(no run: the seed did not complete)\n".to_string(),
        Run::report,
    );
    format!("{failure}\n\n{report}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_parts_become_sub_folders() {
        let dir = Path::new("/a");
        let path = seed_dir(dir, "catalogue/x", 7).unwrap();
        assert_eq!(path, Path::new("/a/catalogue/x/7"));
    }

    #[test]
    fn odd_characters_are_replaced_and_empty_parts_skipped() {
        let dir = Path::new("/a");
        let path = seed_dir(dir, "/we ird//./c:\\x\u{e9}/", 1).unwrap();
        assert_eq!(path, Path::new("/a/we_ird/c__x_/1"));
        assert_eq!(seed_dir(dir, "", 1).unwrap(), Path::new("/a/unnamed/1"));
    }

    #[test]
    fn parent_parts_are_refused() {
        let error = seed_dir(Path::new("/a"), "x/../../etc", 1).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn long_parts_are_cut() {
        let path = seed_dir(Path::new("/a"), &"x".repeat(500), 1).unwrap();
        let part = path.parent().unwrap().file_name().unwrap();
        assert_eq!(part.len(), PART_MAX);
    }

    fn span(id: u64, node: &str) -> SpanData {
        use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(id)),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: "op".into(),
            start_time: std::time::UNIX_EPOCH,
            end_time: std::time::UNIX_EPOCH,
            attributes: vec![KeyValue::new("node", node.to_string())],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    #[test]
    fn spans_group_into_one_resource_per_node_in_node_order() {
        let spans = [span(1, "server-1"), span(2, ""), span(3, "server-0")];
        let node_of = |span: &SpanData| {
            let node = span.attributes[0].value.as_str().into_owned();
            (!node.is_empty()).then_some(node)
        };
        let request = otlp_request(&spans, "svc", node_of);
        let resources: Vec<Vec<String>> = request
            .resource_spans
            .iter()
            .map(|rs| {
                let attributes = &rs.resource.as_ref().unwrap().attributes;
                attributes
                    .iter()
                    .map(|kv| format!("{}={:?}", kv.key, kv.value.as_ref().unwrap().value))
                    .collect()
            })
            .collect();
        let name = "service.name=Some(StringValue(\"svc\"))";
        let id = |n: &str| format!("service.instance.id=Some(StringValue(\"server-{n}\"))");
        assert_eq!(
            resources,
            [
                vec![name.to_string()],
                vec![name.to_string(), id("0")],
                vec![name.to_string(), id("1")]
            ]
        );
        let span_ids: Vec<&[u8]> = request
            .resource_spans
            .iter()
            .map(|rs| &rs.scope_spans[0].spans[0].span_id[..])
            .collect();
        assert_eq!(
            span_ids,
            [
                &2u64.to_be_bytes()[..],
                &3u64.to_be_bytes(),
                &1u64.to_be_bytes()
            ]
        );
    }

    #[test]
    fn no_spans_give_a_request_with_no_resources() {
        assert_eq!(
            otlp_json(&[], "s", |_| None).unwrap(),
            "{\"resourceSpans\":[]}"
        );
    }
}
