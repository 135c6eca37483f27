//! Vectors, their storage encoding, and brute-force nearest-neighbour search.

/// Dimensions of every vector: small, so brute force stays cheap.
pub const DIMENSION: usize = 4;

pub type Vector = [f32; DIMENSION];

/// One stored vector with its id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    pub id: u64,
    pub vector: Vector,
}

/// Bytes per entry: the id, then each component, little-endian.
const ENTRY_BYTES: usize = 8 + 4 * DIMENSION;

/// A collection as one storage value.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(entries.len() * ENTRY_BYTES);
    for entry in entries {
        bytes.extend_from_slice(&entry.id.to_le_bytes());
        for component in entry.vector {
            bytes.extend_from_slice(&component.to_le_bytes());
        }
    }
    bytes
}

/// The collection a storage value holds.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    if bytes.len() % ENTRY_BYTES != 0 {
        return Err(format!(
            "a collection of {} bytes is not a whole number of {ENTRY_BYTES}-byte entries",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(ENTRY_BYTES)
        .map(|chunk| {
            let (id, components) = chunk.split_at(8);
            let mut vector = [0.0; DIMENSION];
            for (value, raw) in vector.iter_mut().zip(components.chunks_exact(4)) {
                *value = f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            }
            let id = u64::from_le_bytes(id.try_into().expect("8 bytes"));
            Entry { id, vector }
        })
        .collect())
}

/// The ids of the `k` entries nearest to `query` in Euclidean distance,
/// nearest first; ties go to the lower id.
pub fn nearest(entries: &[Entry], query: &Vector, k: usize) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> = entries
        .iter()
        .map(|entry| (squared_distance(&entry.vector, query), entry.id))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

fn squared_distance(a: &Vector, b: &Vector) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, x: f32) -> Entry {
        Entry {
            id,
            vector: [x, 0.0, 0.0, 0.0],
        }
    }

    #[test]
    fn a_collection_survives_encoding() {
        let entries = vec![entry(7, 0.5), entry(9, -1.25)];
        assert_eq!(decode(&encode(&entries)), Ok(entries));
        assert_eq!(decode(&[]), Ok(Vec::new()));
    }

    #[test]
    fn a_truncated_value_is_an_error() {
        let bytes = encode(&[entry(1, 1.0)]);
        assert!(decode(&bytes[..10])
            .unwrap_err()
            .contains("24-byte entries"));
    }

    #[test]
    fn nearest_returns_the_k_closest_ids_nearest_first() {
        let entries = [entry(1, 0.9), entry(2, 0.1), entry(3, -0.5), entry(4, 0.2)];
        assert_eq!(nearest(&entries, &[0.0; DIMENSION], 2), vec![2, 4]);
        assert_eq!(
            nearest(&entries, &[1.0, 0.0, 0.0, 0.0], 10),
            vec![1, 4, 2, 3]
        );
    }
}
