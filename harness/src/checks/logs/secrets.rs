//! `secret_leaks`: no secret reaches the telemetry. Each secret the
//! contract names is handed to the system as a canary drawn from the seed
//! (`NodeContext::secret`); its random part found in a log body or
//! attribute, a span's name, attribute, event or status, or a metric's
//! exposition (a label value) is the secret leaked, wherever the service
//! put it. The message names where, never the value.

use std::time::Duration;

use super::{at, LISTED_MAX};
use crate::checks::{Check, Violation};
use crate::run::{canary, canary_needle, Contract, Run};

pub(crate) fn secret_leaks(run: &Run, contract: &Contract) -> Vec<Violation> {
    let mut violations = asked(run, contract);
    for name in &contract.logs.secrets {
        let value = canary(run.seed, name);
        let needle = canary_needle(&value);
        let leaks = leaks(run, needle);
        let total = leaks.len();
        violations.extend(leaks.into_iter().take(LISTED_MAX).map(|leak| Violation {
            check: Check::SecretLeaks,
            subject: format!("secret `{name}`"),
            node: leak.node,
            at: leak.at,
            message: format!(
                "its value appears in {}: a secret must never reach logs, spans or metrics, \
                 which many people and systems read. Log that a credential was used or \
                 rejected, never the credential (obsim gave the system a canary of its own, \
                 `{}…`, so the real one is not in this report)",
                leak.place,
                &value[..crate::run::CANARY_PREFIX.len() + 4]
            ),
        }));
        if total > LISTED_MAX {
            violations.push(Violation {
                check: Check::SecretLeaks,
                subject: format!("secret `{name}`"),
                node: None,
                at: None,
                message: format!("it leaked in {} more places", total - LISTED_MAX),
            });
        }
    }
    violations
}

/// Declared secrets the system never asked for, whose leaks the check could
/// not see, and secrets it asked for that the contract does not declare.
fn asked(run: &Run, contract: &Contract) -> Vec<Violation> {
    let never = contract
        .logs
        .secrets
        .iter()
        .filter(|name| !run.secrets_asked.contains_key(name.as_str()))
        .map(|name| Violation {
            check: Check::SecretLeaks,
            subject: format!("secret `{name}`"),
            node: None,
            at: None,
            message: "the contract declares it, but the system never asked for its value \
                      (`NodeContext::secret` or `ClientContext::secret`): nothing of it \
                      could leak, so the check would pass without testing anything. Ask for \
                      it where the service reads the real secret, or drop it from the contract"
                .into(),
        });
    let undeclared = run
        .secrets_asked
        .iter()
        .filter(|(_, declared)| !**declared)
        .map(|(name, _)| Violation {
            check: Check::SecretLeaks,
            subject: format!("secret `{name}`"),
            node: None,
            at: None,
            message: "the system asked for it, but the contract does not declare it \
                      (`Contract::secret`), so its leaks are not looked for"
                .into(),
        });
    never.chain(undeclared).collect()
}

/// Where a canary was found.
struct Leak {
    place: String,
    node: Option<String>,
    at: Option<Duration>,
}

fn leaks(run: &Run, needle: &str) -> Vec<Leak> {
    let mut found = Vec::new();
    for log in &run.logs {
        let place = if log.body.contains(needle) {
            Some("the body".to_string())
        } else if log
            .original
            .as_deref()
            .is_some_and(|line| line.contains(needle))
        {
            Some("the JSON line (a field of the event or of a span in scope)".to_string())
        } else {
            log.attributes
                .iter()
                .find(|(key, value)| key.contains(needle) || value.contains(needle))
                .map(|(key, _)| format!("attribute `{key}`"))
        };
        if let Some(place) = place {
            found.push(Leak {
                place: format!("{place} of {}", log.describe().replace(needle, "<secret>")),
                node: Some(super::correlation::node(log)),
                at: Some(at(log.at_ns)),
            });
        }
    }
    for span in &run.spans {
        let place = if span.name.contains(needle) {
            Some("its name".to_string())
        } else if let Some((key, _)) = span.attributes.iter().find(|(_, v)| v.contains(needle)) {
            Some(format!("attribute `{key}`"))
        } else if matches!(&span.status, crate::run::SpanStatus::Error(text) if text.contains(needle))
        {
            Some("its status description".to_string())
        } else {
            span.events
                .iter()
                .find(|event| {
                    event.name.contains(needle)
                        || event.attributes.iter().any(|(_, v)| v.contains(needle))
                })
                .map(|event| format!("event {:?}", event.name.replace(needle, "<secret>")))
        };
        if let Some(place) = place {
            found.push(Leak {
                place: format!(
                    "{place} of span `{}` {}",
                    span.name.replace(needle, "<secret>"),
                    span.span_id
                ),
                node: span.origin.node.clone(),
                at: Some(at(span.start_ns)),
            });
        }
    }
    for scrape in &run.scrapes {
        if scrape.body.contains(needle) {
            found.push(Leak {
                place: format!(
                    "the metrics a scrape read ({})",
                    series_of(&scrape.body, needle)
                ),
                node: Some(scrape.node.clone()),
                at: Some(scrape.at),
            });
        }
    }
    for incarnation in &run.incarnations {
        if incarnation.final_exposition.contains(needle) {
            found.push(Leak {
                place: format!(
                    "the final metrics of {}#{} ({})",
                    incarnation.node,
                    incarnation.number,
                    series_of(&incarnation.final_exposition, needle)
                ),
                node: Some(incarnation.node.clone()),
                at: incarnation.ended_at,
            });
        }
    }
    found
}

/// The metric name of the first exposition line that holds `needle`.
fn series_of(exposition: &str, needle: &str) -> String {
    exposition
        .lines()
        .find(|line| line.contains(needle))
        .map(|line| {
            let name: String = line
                .trim_start_matches("# HELP ")
                .trim_start_matches("# TYPE ")
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            format!("series `{name}`")
        })
        .unwrap_or_default()
}
