//! The series a failure is about, one SVG chart per metric family, drawn by
//! plotters: each series per node incarnation as its scrapes saw it, the
//! registry's own final value at each incarnation's end beside it, and the
//! claims' instants and the crashes marked.

use std::collections::BTreeMap;
use std::time::Duration;

use plotters::prelude::*;

use super::model::Seed;

/// Lines per chart: more would be unreadable, and the page says how many
/// were left out.
pub(super) const LINES_MAX: usize = 10;
const SIZE: (u32, u32) = (980, 300);

/// One line of a chart, for the legend the page writes beside it.
pub(super) struct Line {
    pub label: String,
    pub color: String,
    pub points: usize,
    /// Ground-truth points drawn beside it, dashed; 0 when truth has none.
    pub truth_points: usize,
}

pub(super) struct Chart {
    pub family: String,
    pub svg: String,
    pub lines: Vec<Line>,
    /// Series of the family not drawn, past [`LINES_MAX`].
    pub left_out: usize,
}

/// (series, node, incarnation) → points (seconds, value).
type Lines = BTreeMap<(String, String, Option<u32>), Vec<(f64, f64)>>;

fn in_family(series: &str, family: &str, histogram_buckets: bool) -> bool {
    let name = series.split('{').next().unwrap_or(series);
    name == family
        || (name.strip_prefix(family).is_some_and(|suffix| {
            matches!(suffix, "_count" | "_sum" | "_gcount" | "_gsum")
                || (suffix == "_bucket" && histogram_buckets)
        }))
}

/// The labels a claim's subject gives, as `name="value"` pieces, to pick
/// its series among the family's.
fn wanted_labels(seed: &Seed, family: &str) -> Vec<String> {
    seed.claims
        .iter()
        .filter(|claim| claim.subject.contains(family))
        .filter_map(|claim| {
            let (_, labels) = claim.subject.split_once('{')?;
            Some(labels.trim_end_matches(['}', '`']).to_string())
        })
        .flat_map(|labels| {
            labels
                .split(',')
                .map(|piece| piece.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|piece| piece.contains('='))
        .collect()
}

/// The claims' words with spaces dropped, where `k="v"` pairs are looked for.
fn named_label_pairs(seed: &Seed) -> String {
    seed.claims
        .iter()
        .flat_map(|claim| [claim.subject.as_str(), claim.message.as_str()])
        .flat_map(|text| text.chars().filter(|c| !c.is_whitespace()))
        .collect()
}

/// How many of a series' label pairs the claims name.
fn relevance(series: &str, named: &str) -> usize {
    let Some((_, labels)) = series.split_once('{') else {
        return 0;
    };
    labels
        .trim_end_matches('}')
        .split(',')
        .filter(|pair| named.contains(pair))
        .count()
}

fn lines_of(seed: &Seed, family: &str) -> Lines {
    let wanted = wanted_labels(seed, family);
    let buckets = wanted.iter().any(|piece| piece.starts_with("le="));
    let mut lines = Lines::new();
    for scrape in &seed.scrapes {
        for (series, value) in &scrape.samples {
            let matches = wanted.iter().all(|piece| series.contains(piece.as_str()));
            if in_family(series, family, buckets) && matches {
                lines
                    .entry((series.clone(), scrape.node.clone(), scrape.incarnation))
                    .or_default()
                    .push((scrape.at.as_secs_f64(), *value));
            }
        }
    }
    lines
}

pub(super) fn charts(seed: &Seed, families: &[String], claim_instants: &[Duration]) -> Vec<Chart> {
    families
        .iter()
        .filter_map(|family| chart(seed, family, claim_instants))
        .collect()
}

fn color(index: usize) -> RGBColor {
    let (r, g, b) = Palette99::pick(index).rgb();
    RGBColor(r, g, b)
}

fn chart(seed: &Seed, family: &str, claim_instants: &[Duration]) -> Option<Chart> {
    let mut lines = lines_of(seed, family);
    // A series truth has and no scrape saw is a line too: a series the
    // system never exported can be the bug.
    let buckets = wanted_labels(seed, family)
        .iter()
        .any(|piece| piece.starts_with("le="));
    for truth in seed
        .truth
        .iter()
        .filter(|t| in_family(&t.series, family, buckets))
    {
        for life in seed.incarnations.iter().filter(|i| i.node == truth.node) {
            lines
                .entry((truth.series.clone(), truth.node.clone(), Some(life.number)))
                .or_default();
        }
    }
    if lines.is_empty() {
        return None;
    }
    let total = lines.len();
    // The series the claims' words name come first: a family can have more
    // series than a chart shows lines.
    let named = named_label_pairs(seed);
    let mut ranked: Vec<_> = std::mem::take(&mut lines).into_iter().collect();
    ranked.sort_by_key(|((series, _, _), _)| std::cmp::Reverse(relevance(series, &named)));
    let kept: Vec<_> = ranked.into_iter().take(LINES_MAX).collect();
    let end = seed.ended_at.unwrap_or_default().as_secs_f64().max(0.001);
    let mut finals = Vec::new();
    for ((series, node, incarnation), _) in &kept {
        let held = seed
            .incarnations
            .iter()
            .find(|i| &i.node == node && Some(i.number) == *incarnation);
        if let Some(held) = held {
            if let Some(value) = held.finals.get(series) {
                let until = held.crashed_at.map_or(end, |at| at.as_secs_f64());
                finals.push((until, *value));
            }
        }
    }
    let truths: Vec<Vec<(f64, f64)>> = kept
        .iter()
        .map(|((series, node, incarnation), _)| truth_of(seed, series, node, *incarnation, end))
        .collect();
    let values = kept
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, v)| *v))
        .chain(finals.iter().map(|(_, v)| *v))
        .chain(truths.iter().flatten().map(|(_, v)| *v));
    let (low, high) = range(values);
    let crashes: Vec<f64> = seed
        .incarnations
        .iter()
        .filter_map(|i| i.crashed_at.map(|at| at.as_secs_f64()))
        .collect();
    let mut svg = String::new();
    let marks = Marks {
        finals: &finals,
        crashes: &crashes,
        claims: claim_instants,
    };
    let drawn = draw(&mut svg, family, end, (low, high), &kept, &truths, &marks);
    if drawn.is_err() {
        return None;
    }
    let lines = kept
        .iter()
        .enumerate()
        .map(|(index, ((series, node, incarnation), points))| {
            let RGBColor(r, g, b) = color(index);
            let incarnation = incarnation.map_or("-".to_string(), |n| n.to_string());
            Line {
                label: format!("{series} on {node}#{incarnation}"),
                color: format!("#{r:02x}{g:02x}{b:02x}"),
                points: points.len(),
                truth_points: truths[index].len(),
            }
        })
        .collect();
    Some(Chart {
        family: family.to_string(),
        svg,
        lines,
        left_out: total.saturating_sub(LINES_MAX),
    })
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for value in values.filter(|v| v.is_finite()) {
        low = low.min(value);
        high = high.max(value);
    }
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((high - low) * 0.08).max(0.5);
    (low.min(0.0).min(low - pad), high + pad)
}

type Kept = Vec<((String, String, Option<u32>), Vec<(f64, f64)>)>;

/// What a chart marks besides its lines: each incarnation's final value,
/// the crashes and the claims' instants.
struct Marks<'a> {
    finals: &'a [(f64, f64)],
    crashes: &'a [f64],
    claims: &'a [Duration],
}

/// The ground truth of one line: the series on its node while its
/// incarnation lived, where truth has data.
fn truth_of(
    seed: &Seed,
    series: &str,
    node: &str,
    incarnation: Option<u32>,
    end: f64,
) -> Vec<(f64, f64)> {
    let Some(life) = seed
        .incarnations
        .iter()
        .find(|i| i.node == node && Some(i.number) == incarnation)
    else {
        return Vec::new();
    };
    let from = life.started_at.as_secs_f64();
    let until = life.crashed_at.map_or(end, |at| at.as_secs_f64());
    seed.truth
        .iter()
        .filter(|truth| truth.series == series && truth.node == node)
        .flat_map(|truth| &truth.points)
        .filter_map(|(at, value)| Some((at.as_secs_f64(), (*value)?)))
        .filter(|(at, _)| (from..=until).contains(at))
        .collect()
}

fn vertical(at: f64, (low, high): (f64, f64), style: ShapeStyle) -> PathElement<(f64, f64)> {
    PathElement::new(vec![(at, low), (at, high)], style)
}

fn draw(
    svg: &mut String,
    family: &str,
    end: f64,
    (low, high): (f64, f64),
    kept: &Kept,
    truths: &[Vec<(f64, f64)>],
    marks: &Marks<'_>,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .caption(family, ("sans-serif", 16))
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..end, low..high)?;
    chart
        .configure_mesh()
        .x_desc("simulated seconds since the run's start")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let grey = RGBColor(150, 150, 150);
    for at in marks.crashes {
        chart.draw_series(std::iter::once(vertical(
            *at,
            (low, high),
            grey.stroke_width(1),
        )))?;
    }
    for (index, (_, points)) in kept.iter().enumerate() {
        let color = color(index);
        if let Some(truth) = truths.get(index).filter(|truth| !truth.is_empty()) {
            chart.draw_series(DashedLineSeries::new(
                truth.iter().copied(),
                6,
                4,
                color.mix(0.7).stroke_width(3),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(2),
        ))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 2, color.filled())))?;
    }
    chart.draw_series(
        marks
            .finals
            .iter()
            .map(|p| Cross::new(*p, 5, BLACK.stroke_width(2))),
    )?;
    for at in marks.claims {
        let at = at.as_secs_f64();
        chart.draw_series(std::iter::once(vertical(
            at,
            (low, high),
            RED.stroke_width(2),
        )))?;
    }
    root.present()?;
    Ok(())
}
