//! A visit counter: each visit to a key increments its stored count. The
//! domain logic lives here; the service that runs it on obsim's simulated
//! nodes is in `tests/visits/`.

/// The count after one more visit, from what storage held.
pub fn next_count(stored: Option<&[u8]>) -> u64 {
    let current = stored
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map_or(0, u64::from_le_bytes);
    current + 1
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_first_visit_counts_one_and_later_ones_add_one() {
        assert_eq!(super::next_count(None), 1);
        assert_eq!(super::next_count(Some(&41u64.to_le_bytes())), 42);
    }
}
