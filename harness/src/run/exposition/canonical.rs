//! One fixed order for a text's series, so two renders of the same values
//! compare equal whatever order the library wrote them in.

/// The text with each family's series in one fixed order, for comparing two
/// runs and for reports. Some libraries keep a family's series in a hash map
/// (`prometheus-client` does), so two renders of the same values can list
/// them in different orders; a byte-for-byte comparison would call that a
/// determinism failure. Within each run of sample lines, lines are sorted by
/// their labels without `le` and `quantile`, stably, so a histogram's
/// buckets keep the order the library wrote them in and a text already in
/// label order (the `prometheus` crate's) comes back unchanged. Comments
/// and `# EOF` stay where they are. Values are untouched.
pub fn canonical(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run: Vec<&str> = Vec::new();
    let flush = |run: &mut Vec<&str>, out: &mut String| {
        run.sort_by_key(|line| series_key(line));
        for line in run.drain(..) {
            out.push_str(line);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            flush(&mut run, &mut out);
            out.push_str(line);
            out.push('\n');
        } else {
            run.push(line);
        }
    }
    flush(&mut run, &mut out);
    out
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
    fn quoted_commas_and_braces_do_not_split_labels() {
        let text = "x{a=\"1,}\",b=\"2\"} 1\nx{a=\"0\",b=\"\\\"\"} 1\n";
        assert_eq!(
            canonical(text),
            "x{a=\"0\",b=\"\\\"\"} 1\nx{a=\"1,}\",b=\"2\"} 1\n"
        );
    }
}
