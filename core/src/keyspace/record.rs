//! The body of a collection's key record in `meta` (hashes, sets and sorted sets; lists have
//! their own, `lists.rs`): `[count u64 LE]`, then for sets and sorted sets `[compact u8]`, 1
//! while Redis would still use its compact encoding (an intset, a listpack). Written and read
//! here only.

use super::Entry;

/// The element count of a collection record (0 for a body too short to hold one).
pub fn count_of(entry: &Entry) -> u64 {
    body_count(&entry.body)
}

/// The element count in a collection record's body.
pub fn body_count(body: &[u8]) -> u64 {
    body.get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Whether a set's or sorted set's record says Redis would still use its compact encoding.
pub fn compact_of(entry: &Entry) -> bool {
    entry.body.get(8) == Some(&1)
}

/// A hash's record body.
pub fn counted(count: u64) -> [u8; 8] {
    count.to_le_bytes()
}

/// A set's or sorted set's record body.
pub fn counted_compact(count: u64, compact: bool) -> [u8; 9] {
    let mut body = [0u8; 9];
    body[..8].copy_from_slice(&count.to_le_bytes());
    body[8] = u8::from(compact);
    body
}
