//! The page's HTML, from maud's templates: escaped by construction, and
//! styled by one inline stylesheet, so nothing is fetched.

use std::time::Duration;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::model::{Alert, Firing, Log, Seed};
use super::timeline::{percent, secs};
use super::{chart, focus, timeline, waterfall};

const STYLE: &str = include_str!("page.css");

/// The instant the spans' and logs' Unix times count from: the run's start
/// from `timebase.txt`, or, for older artifacts, the earliest exported time.
fn origin_ns(seed: &Seed) -> (i128, bool) {
    if let Some(timebase) = seed.timebase_ns {
        return (timebase, true);
    }
    let spans = seed.spans.iter().map(|s| s.start_ns);
    let logs = seed.logs.iter().map(|l| l.at_ns);
    (spans.chain(logs).min().unwrap_or(0), false)
}

pub(super) fn render(seed: &Seed) -> Markup {
    let end = seed
        .ended_at
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_millis(1));
    let claims: Vec<Option<Duration>> = seed.claims.iter().map(|claim| claim.at).collect();
    let instants: Vec<Duration> = claims.iter().flatten().copied().collect();
    let (origin, exact) = origin_ns(seed);
    let traces = focus::traces(seed, origin);
    let (logs, logs_total) = focus::logs(seed, &traces.traces, origin);
    let charts = chart::charts(seed, &seed.charted, &instants);
    let title = match seed.seed {
        Some(number) => format!("obsim: {} seed {number}", seed.scenario),
        None => "obsim: a failing seed".to_string(),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (title) }
                    p.headline { (seed.headline) }
                    @if let Some(replay) = &seed.replay {
                        p { "Replay it: " code.replay { (replay) } }
                    }
                    nav {
                        a href="#claims" { "Broken claims" } " · "
                        a href="#timeline-section" { "Timeline" } " · "
                        a href="#series" { "Series" } " · "
                        a href="#traces" { "Traces" } " · "
                        a href="#alerts" { "Alerts" } " · "
                        a href="#logs" { "Logs" }
                    }
                }
                (claims_section(seed))
                section #timeline-section {
                    h2 { "Timeline" }
                    p.muted {
                        "0 to " (secs(end)) " of simulated time. "
                        (seed.faults.len()) " fault event(s)"
                        @if seed.faults_dropped > 0 { " (and " (seed.faults_dropped) " past the fault log's capacity)" }
                        "; hover a mark for what it is. Planned: "
                        @if seed.planned.is_empty() { "no faults." }
                        @else { (seed.planned.join("; ")) }
                    }
                    (timeline::timeline(seed, end, &claims))
                }
                section #series {
                    h2 { "Series the claims name" }
                    @if charts.is_empty() {
                        p.muted { "The claims name no metric family the scrapes exported." }
                    }
                    @for chart in &charts {
                        figure.chart data-family=(chart.family) {
                            (PreEscaped(&chart.svg))
                            figcaption {
                                "Each solid line is one series on one node incarnation as it was scraped, a dot per successful scrape. "
                                "A dashed line of the same colour is its ground truth from obsim's ledger (truth.txt), where the contract ties the series to one; a series with 0 scrapes is one truth has and no scrape saw. "
                                "✕ marks the value the incarnation's own registry held when it ended (finals.txt): "
                                "the in-process truth the scrapes are compared with. Red lines are the claims' instants; grey lines are crashes."
                                ul.series-legend {
                                    @for line in &chart.lines {
                                        li { span.swatch style=(format!("background:{}", line.color)) {} code { (line.label) } " (" (line.points) " scrape(s)"
                                            @if line.truth_points > 0 { "; dashed: ground truth at " (line.truth_points) " scrape(s)" }
                                            ")" }
                                    }
                                }
                                @if chart.left_out > 0 {
                                    p.note { (chart.left_out) " more series of this family are not drawn: see scrapes.txt and truth.txt." }
                                }
                            }
                        }
                    }
                }
                section #traces {
                    h2 { "Traces involved" }
                    @if !exact && !seed.spans.is_empty() {
                        p.note { "These artifacts have no timebase.txt (an older obsim wrote them): span times count from the first exported span, not the run's start." }
                    }
                    @if traces.traces.is_empty() {
                        p.muted { "No exported trace is tied to the claims." }
                    }
                    (waterfall::waterfalls(seed, &traces.traces, &traces.spans, &claims, origin))
                    @if !traces.left_out.is_empty() {
                        p.note { (traces.left_out.len()) " more trace(s) tied to the claims are not drawn (at most " (focus::TRACES_MAX) " are): see traces.otlp.json." }
                    }
                }
                (alerts_section(seed, end))
                (logs_section(&logs, logs_total, origin, seed.logs.is_empty(), &traces.traces))
                @if !seed.notes.is_empty() {
                    section #notes {
                        h2 { "What these artifacts lack" }
                        ul { @for note in &seed.notes { li { (note) } } }
                    }
                }
                footer.muted { "Built by obsim from the files beside this page; `obsim report <folder>` builds it again." }
            }
        }
    }
}

fn claims_section(seed: &Seed) -> Markup {
    html! {
        section #claims {
            h2 { "Broken claims" }
            @if let Some(error) = &seed.run_error {
                p.claim { "The seed did not complete: " (error) }
            }
            ol.claims {
                @for (index, claim) in seed.claims.iter().enumerate() {
                    li.claim id=(format!("claim-{index}")) {
                        span.check { (claim.check) } " "
                        strong { (claim.subject) }
                        @if let Some(node) = &claim.node { " on " (node) }
                        @if let Some(at) = claim.at {
                            " at " a href=(format!("#mark-{index}")) title="its place on the timeline" { (secs(at)) }
                        }
                        pre.message { (claim.message) }
                    }
                }
            }
        }
    }
}

fn firing_track(firing: &Firing, end: Duration) -> Markup {
    html! {
        div.track {
            @for (from, until) in &firing.spans {
                @let left = percent(*from, end);
                @let width = (percent(until.unwrap_or(end), end) - left).max(0.25);
                div.firing style=(format!("left:{left:.3}%;width:{width:.3}%")) {}
            }
        }
    }
}

fn alerts_section(seed: &Seed, end: Duration) -> Markup {
    html! {
        section #alerts {
            h2 { "Alerts, scraped and true" }
            @if seed.alerts.is_empty() {
                p.muted { "No alert rules ran for this seed." }
            } @else {
                p.muted { "Each alert's firing spans, evaluated over what was scraped and over ground truth (alerts/timelines.txt)." }
                @for alert in &seed.alerts {
                    (alert_rows(alert, end))
                }
                @for name in &seed.quiet_alerts {
                    div.alert.differs {
                        code { (name) }
                        " never pending or firing on either timeline, though the claims name it."
                    }
                }
            }
        }
    }
}

fn alert_rows(alert: &Alert, end: Duration) -> Markup {
    let differs = alert.scraped.spans != alert.truth.spans;
    html! {
        div class={"alert" @if differs { " differs" }} {
            code { (alert.name) }
            div.lane { span.lane-name { "scraped" } (firing_track(&alert.scraped, end)) span.firing-text { (alert.scraped.text) } }
            div.lane { span.lane-name { "truth" } (firing_track(&alert.truth, end)) span.firing-text { (alert.truth.text) } }
        }
    }
}

fn logs_section(
    logs: &[&Log],
    total: usize,
    origin: i128,
    none_captured: bool,
    shown: &[String],
) -> Markup {
    let at = |log: &Log| {
        secs(Duration::from_nanos(
            (log.at_ns - origin).clamp(0, u64::MAX as i128) as u64,
        ))
    };
    html! {
        section #logs {
            h2 { "Log events" }
            @if none_captured {
                p.muted { "No log events were captured." }
            } @else if logs.is_empty() {
                p.muted { "No log event belongs to the traces above, or is within 1s of a claim on its node and at WARN or above or named by the claim." }
            } @else {
                p.muted {
                    "The events of the traces above, and within 1s of a claim on its node those at WARN or above or named by the claim"
                    @if total > logs.len() { ": the first " (logs.len()) " of " (total) }
                    ". All are in logs.otlp.json."
                }
                table.logs {
                    tr { th { "time" } th { "node" } th { "level" } th { "target" } th { "message" } th { "trace" } }
                    @for log in logs {
                        tr class=(log.severity.to_lowercase()) {
                            td { (at(log)) }
                            td { (log.node.as_deref().unwrap_or("?")) }
                            td { (log.severity) }
                            td { code { (log.target) } }
                            td {
                                (log.body)
                                @for (key, value) in log.attributes.iter().take(8) {
                                    " " span.muted { (key) "=" (value) }
                                }
                            }
                            td {
                                @if let Some(trace) = log.trace_id.as_ref().filter(|t| shown.contains(t)) {
                                    a href=(format!("#trace-{trace}")) { code { (trace.get(..8).unwrap_or(trace)) } }
                                } @else if let Some(trace) = &log.trace_id {
                                    code { (trace.get(..8).unwrap_or(trace)) }
                                } @else { "none" }
                            }
                        }
                    }
                }
            }
        }
    }
}
