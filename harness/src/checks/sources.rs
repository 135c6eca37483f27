//! Every exposition a run exported, for the checks that read them all.

use std::borrow::Cow;
use std::time::Duration;

use crate::run::exposition::{Exposition, ParseError};
use crate::run::Run;

// Moved here from the lint: gauges and histograms read these sources too.
/// One exposition the run exported: an up scrape, or an incarnation's final
/// text (parsed here, so it may fail to parse).
pub(crate) struct Source<'a> {
    pub node: &'a str,
    pub incarnation: Option<u32>,
    /// When it was scraped; None for a final exposition, read after the run.
    pub at: Option<Duration>,
    pub exposition: Result<Cow<'a, Exposition>, ParseError>,
    /// Keys the node's storage held when this was rendered; None for the
    /// client.
    pub stored_keys: Option<u64>,
    /// The node's probes, read when this was rendered.
    pub probes: &'a std::collections::BTreeMap<String, f64>,
    /// Between which instants it was rendered: the instant itself when the
    /// node said (obsim's endpoint, a final), else from the scrape's start
    /// to its answer (a service's own HTTP route).
    pub rendered: (Duration, Duration),
}

impl Source<'_> {
    /// `incarnation 0` or `incarnation ?` when the scrape did not say.
    pub fn incarnation_text(&self) -> String {
        let number = self.incarnation.map_or("?".into(), |n| n.to_string());
        format!("incarnation {number}")
    }

    /// Where it was seen, for a person: `server-1 incarnation 0, scrape at 1.000s`.
    pub(crate) fn place(&self) -> String {
        let what = match self.at {
            Some(at) => format!("scrape at {:.3}s", at.as_secs_f64()),
            None => "final exposition".into(),
        };
        format!("{} {}, {what}", self.node, self.incarnation_text())
    }
}

/// Every up scrape and every final exposition, in simulated time order (a
/// final counts at the moment its incarnation ended), so "first seen" means
/// first in the run.
pub(crate) fn sources(run: &Run) -> Vec<Source<'_>> {
    let scrapes = run.scrapes.iter().filter(|scrape| scrape.up);
    let mut timed: Vec<(Duration, Source<'_>)> = scrapes
        .filter_map(|scrape| {
            let exposition = scrape.exposition.as_ref()?;
            let source = Source {
                node: &scrape.node,
                incarnation: scrape.incarnation,
                at: Some(scrape.at),
                exposition: Ok(Cow::Borrowed(exposition)),
                stored_keys: scrape.stored_keys,
                probes: &scrape.probes,
                rendered: match scrape.rendered_at {
                    Some(at) => (at, at),
                    None => (scrape.at, scrape.ended_at),
                },
            };
            Some((scrape.at, source))
        })
        .collect();
    // A final with no values (no in-process handle, no scrape answered) is
    // not a reading of anything.
    timed.extend(run.incarnations.iter().filter_map(|record| {
        let ended = record.ended_at.unwrap_or(run.ended_at);
        let rendered = record.final_source.rendered(ended)?;
        let source = Source {
            rendered,
            node: &record.node,
            incarnation: Some(record.number),
            at: None,
            exposition: record.final_parsed().map(Cow::Borrowed),
            stored_keys: record.stored_keys,
            probes: &record.probes,
        };
        Some((ended, source))
    }));
    // Stable: equal times keep the run's own order.
    timed.sort_by_key(|(time, _)| *time);
    timed.into_iter().map(|(_, source)| source).collect()
}
