//! `report.html`: a failing seed on one offline page. The broken claims in
//! words, a timeline of faults, crashes and failed scrapes with the claims'
//! instants marked, the series the claims name as each scrape saw them, a
//! waterfall of the traces involved, the alerts on both timelines and the
//! log events near the failure.
//!
//! The page is built from the seed's artifact files alone ([`write_page`]),
//! so `obsim report <folder>` rebuilds it for a folder any obsim wrote, and
//! everything on it was read back from what the run exported. It is one
//! file with no script and nothing fetched: it opens offline and can be
//! attached to an issue. Every part is bounded (charts, lines, traces,
//! spans, log events, timeline marks), so its size does not grow with the
//! run's.

mod alerts;
mod chart;
mod focus;
mod model;
mod otlp;
mod read;
mod render;
mod timeline;
mod truth;
mod waterfall;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The page's file name in a seed's artifacts folder.
pub const PAGE: &str = "report.html";

/// Reads the artifacts in `folder` and writes `folder/report.html` from
/// them; returns the page's path. Only a folder with no readable
/// `report.txt` is refused; a missing or unreadable file leaves its part of
/// the page empty, and the page says so.
pub fn write_page(folder: &Path) -> io::Result<PathBuf> {
    let html = page_html(folder)?;
    let path = folder.join(PAGE);
    fs::write(&path, html)?;
    Ok(path)
}

/// The page for `folder`, not written.
pub fn page_html(folder: &Path) -> io::Result<String> {
    let seed =
        read::read(folder).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    Ok(render::render(&seed).into_string())
}
