//! The normalized report of one run: counts rather than ids and timestamps,
//! so that it reads well in a snapshot and changes only when behaviour does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::run::Run;

impl Run {
    /// Outcome counts, faults by kind, spans by name, kind and status, log
    /// events by level, target and message, scrape health, and the final
    /// exposition of every node incarnation.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario: {}\nseed: {}", self.scenario, self.seed);
        let _ = writeln!(out, "ended at: {:.3}s", self.ended_at.as_secs_f64());
        let _ = writeln!(out, "faults planned:");
        for fault in &self.plan {
            let _ = writeln!(out, "  {fault}");
        }
        section(&mut out, "invocations by outcome", &self.outcomes);
        // Only when the client kept any: a report without them reads as before.
        if !self.amounts.is_empty() {
            section(&mut out, "amounts recorded by the client", &self.amounts);
        }
        section(&mut out, "faults injected by kind", &self.fault_counts());
        let _ = writeln!(
            out,
            "messages by type (sent, received, lost, cut, duplicated):"
        );
        for (message, counts) in &self.messages {
            let _ = writeln!(
                out,
                "  {message}: {} {} {} {} {}",
                counts.sent, counts.received, counts.lost, counts.cut, counts.duplicated
            );
        }
        section(
            &mut out,
            "spans by name, kind and status",
            &self.span_counts(),
        );
        let _ = writeln!(
            out,
            "spans opened: {}, closed: {}, still open: {}",
            self.lifecycle.opened,
            self.lifecycle.closed,
            self.lifecycle.open.len()
        );
        if !self.lifecycle.lost.is_empty() {
            // What a killed process never exported, by name: not in the
            // counts above, nor in traces.otlp.json.
            let mut lost: BTreeMap<&str, u64> = BTreeMap::new();
            for span in &self.lifecycle.lost {
                *lost.entry(span.name.as_str()).or_default() += 1;
            }
            let _ = writeln!(out, "spans lost with a crashed process, by name:");
            for (name, n) in lost {
                let _ = writeln!(out, "  {name}: {n}");
            }
        }
        section(
            &mut out,
            "log events by level, target and message",
            &self.log_counts(),
        );
        let uncorrelated = self.logs.iter().filter(|log| log.trace.is_none()).count();
        let _ = writeln!(out, "log events outside every span: {uncorrelated}");
        let up = self.scrapes.iter().filter(|scrape| scrape.up).count();
        let _ = writeln!(
            out,
            "scrapes: {} (up {}, down {})",
            self.scrapes.len(),
            up,
            self.scrapes.len() - up
        );
        let _ = writeln!(out, "final metrics exposition by node incarnation:");
        for incarnation in &self.incarnations {
            let ended = incarnation.ended_at.map_or("end of run".to_string(), |at| {
                format!("crash at {:.3}s", at.as_secs_f64())
            });
            let _ = writeln!(
                out,
                "--- {} incarnation {} (booted at {:.3}s, lived until {ended})",
                incarnation.node,
                incarnation.number,
                incarnation.started_at.as_secs_f64()
            );
            match incarnation.final_source {
                crate::run::FinalSource::InProcess => {}
                crate::run::FinalSource::LastScrape { at, .. } => {
                    let _ = writeln!(
                        out,
                        "    (its last scrape, at {:.3}s: it gave no in-process handle. Checked \
                         against the spans that ended before it; the contract's accuracy rules \
                         and ledger timings cannot be, and were not)",
                        at.as_secs_f64()
                    );
                }
                crate::run::FinalSource::NoScrape => {
                    let _ = writeln!(
                        out,
                        "    (unknown: it gave no in-process handle and no scrape of it was \
                         answered; nothing was checked against its values)"
                    );
                }
            }
            // In a fixed series order, as in the fingerprint: a snapshot must
            // not depend on a library's hash-map order.
            out.push_str(&crate::run::exposition::canonical(
                &incarnation.final_exposition,
            ));
        }
        out
    }

    /// Injected faults by kind name, past the log's capacity too.
    pub fn fault_counts(&self) -> BTreeMap<String, u64> {
        let counts = self.fault_counts.iter();
        counts.map(|(kind, n)| (kind.to_string(), *n)).collect()
    }

    /// Log events by `LEVEL target "message"`.
    pub fn log_counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for log in &self.logs {
            let key = format!(
                "{} {} {:?}",
                log.level.as_str().to_uppercase(),
                log.target,
                obsim_rules::input::excerpt(&log.body)
            );
            *counts.entry(key).or_default() += 1;
        }
        counts
    }

    /// Exported spans by `name kind status`.
    pub fn span_counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for span in &self.spans {
            let key = format!("{} {} {}", span.name, span.kind, span.status.code());
            *counts.entry(key).or_default() += 1;
        }
        counts
    }
}

fn section(out: &mut String, title: &str, counts: &BTreeMap<String, u64>) {
    let _ = writeln!(out, "{title}:");
    if counts.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (key, count) in counts {
        let _ = writeln!(out, "  {key}: {count}");
    }
}
