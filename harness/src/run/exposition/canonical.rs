//! One fixed order for a text's families and series, so two renders of the
//! same values compare equal whatever order the library wrote them in.

/// The text with its families in name order and each family's series in one
/// fixed order, for comparing two runs and for reports. Some libraries keep
/// families or series in a hash map (`metrics-exporter-prometheus` writes
/// its families in an order that changes from one recorder to the next;
/// `prometheus-client` keeps a family's series in a hash map), so two
/// renders of the same values can list them in different orders; a
/// byte-for-byte comparison would call that a determinism failure.
///
/// - A family is its `# HELP`, `# TYPE` and `# UNIT` lines and the sample
///   lines after them; families are ordered by name, stably, so a text
///   already in name order (the `prometheus` crate's) keeps its order.
///   Sample lines before any family comment form families of their own,
///   named by their metric name.
/// - Within each run of sample lines, lines are sorted by their labels
///   without `le` and `quantile`, stably, so a histogram's buckets keep the
///   order the library wrote them in.
/// - `# EOF` stays last. Values are untouched.
pub fn canonical(text: &str) -> String {
    let mut families: Vec<Family<'_>> = Vec::new();
    let mut eof = None;
    for line in text.lines() {
        if line == "# EOF" {
            eof = Some(line);
            continue;
        }
        let starts = match family_of(line) {
            Some(name) => families.last().is_none_or(|last| !last.owns(name, line)),
            None => families.is_empty(),
        };
        if starts {
            let name = family_of(line).unwrap_or("");
            families.push(Family {
                name,
                lines: Vec::new(),
            });
        }
        families.last_mut().expect("a family").lines.push(line);
    }
    families.sort_by_key(|family| family.name);
    let mut out = String::with_capacity(text.len());
    for family in &families {
        family.write_into(&mut out);
    }
    if let Some(eof) = eof {
        out.push_str(eof);
        out.push('\n');
    }
    out
}

/// One family's lines, as written.
struct Family<'a> {
    name: &'a str,
    lines: Vec<&'a str>,
}

impl Family<'_> {
    /// Whether `line`, of family `name`, continues this family rather than
    /// starting the next: a sample whose name extends this family's (its
    /// `_bucket`, `_sum`, `_count`, `_total`, `_created`), or a comment
    /// naming this family before any of its samples.
    fn owns(&self, name: &str, line: &str) -> bool {
        if line.starts_with('#') {
            let sampled = self.lines.iter().any(|line| !line.starts_with('#'));
            name == self.name && !sampled
        } else {
            name.starts_with(self.name) && !self.name.is_empty()
        }
    }

    /// The lines, each run of samples sorted by series.
    fn write_into(&self, out: &mut String) {
        let mut run: Vec<&str> = Vec::new();
        let flush = |run: &mut Vec<&str>, out: &mut String| {
            run.sort_by_key(|line| series_key(line));
            for line in run.drain(..) {
                out.push_str(line);
                out.push('\n');
            }
        };
        for &line in &self.lines {
            if line.starts_with('#') || line.trim().is_empty() {
                flush(&mut run, out);
                out.push_str(line);
                out.push('\n');
            } else {
                run.push(line);
            }
        }
        flush(&mut run, out);
    }
}

/// The family a line belongs to: the name a `# HELP`, `# TYPE` or `# UNIT`
/// line declares, or a sample's metric name. None for other comments and
/// blank lines, which stay with the family they are in.
fn family_of(line: &str) -> Option<&str> {
    if let Some(comment) = line.strip_prefix('#') {
        let mut words = comment.split_whitespace();
        return match words.next() {
            Some("HELP" | "TYPE" | "UNIT") => words.next(),
            _ => None,
        };
    }
    let line = line.trim_start();
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    (end > 0).then(|| &line[..end])
}

/// A sample line's label pairs, `le` and `quantile` left out, as written.
fn series_key(line: &str) -> Vec<String> {
    let Some(open) = line.find('{') else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line[open + 1..].chars() {
        match c {
            _ if escaped => {
                escaped = false;
                current.push(c);
            }
            '\\' if quoted => {
                escaped = true;
                current.push(c);
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' | '}' if !quoted => {
                pairs.push(std::mem::take(&mut current));
                if c == '}' {
                    break;
                }
            }
            _ => current.push(c),
        }
    }
    pairs.retain(|pair| {
        let name = pair.split('=').next().unwrap_or("").trim();
        !pair.trim().is_empty() && name != "le" && name != "quantile"
    });
    pairs
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn series_written_in_any_order_read_the_same() {
        let one = "# TYPE r counter\nr_total{m=\"b\"} 2\nr_total{m=\"a\"} 1\n# EOF\n";
        let two = "# TYPE r counter\nr_total{m=\"a\"} 1\nr_total{m=\"b\"} 2\n# EOF\n";
        assert_eq!(canonical(one), canonical(two));
        assert_eq!(canonical(one), two);
    }

    #[test]
    fn buckets_keep_their_order_and_sorted_text_is_unchanged() {
        let text = "# TYPE d histogram\n\
            d_bucket{op=\"get\",le=\"0.005\"} 1\n\
            d_bucket{op=\"get\",le=\"+Inf\"} 2\n\
            d_sum{op=\"get\"} 0.2\n\
            d_count{op=\"get\"} 2\n\
            d_bucket{op=\"put\",le=\"0.005\"} 0\n\
            d_bucket{op=\"put\",le=\"+Inf\"} 1\n\
            d_sum{op=\"put\"} 0.1\n\
            d_count{op=\"put\"} 1\n";
        assert_eq!(canonical(text), text);
        // The same series, the put group first, as a hash map might write.
        let lines: Vec<&str> = text.lines().collect();
        let swapped = [&lines[..1], &lines[5..], &lines[1..5]].concat().join("\n") + "\n";
        assert_eq!(canonical(&swapped), text);
    }

    #[test]
    fn families_written_in_any_order_read_the_same() {
        let a = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n";
        let b = "# HELP b_seconds B.\n# TYPE b_seconds histogram\n\
            b_seconds_bucket{le=\"1\"} 1\nb_seconds_bucket{le=\"+Inf\"} 1\n\
            b_seconds_sum 0.5\nb_seconds_count 1\n";
        let c = "# TYPE c gauge\nc{x=\"2\"} 2\nc{x=\"1\"} 1\n";
        let sorted = canonical(&format!("{a}{b}{c}"));
        assert_eq!(canonical(&format!("{c}{a}{b}")), sorted);
        assert_eq!(canonical(&format!("{b}{c}{a}")), sorted);
        assert!(sorted.starts_with(a), "{sorted}");
        assert!(sorted.ends_with("c{x=\"1\"} 1\nc{x=\"2\"} 2\n"), "{sorted}");
    }

    #[test]
    fn openmetrics_families_move_whole_and_eof_stays_last() {
        let x = "# TYPE x counter\n# HELP x X.\nx_total 3\nx_created 1.0\n";
        let w = "# TYPE w_bytes gauge\n# UNIT w_bytes bytes\nw_bytes 1\n";
        let text = format!("{x}{w}# EOF\n");
        assert_eq!(canonical(&text), format!("{w}{x}# EOF\n"));
    }

    #[test]
    fn quoted_commas_and_braces_do_not_split_labels() {
        let text = "x{a=\"1,}\",b=\"2\"} 1\nx{a=\"0\",b=\"\\\"\"} 1\n";
        assert_eq!(
            canonical(text),
            "x{a=\"0\",b=\"\\\"\"} 1\nx{a=\"1,}\",b=\"2\"} 1\n"
        );
    }
}
