//! A bounded cache of key records (the `meta` table's rows) in front of the B-tree.
//!
//! A GET on a disk-resident B-tree walks three or four pages, each through redb's page cache
//! (a lock, a hash lookup, a reference count) and a dozen key comparisons: measured here, that
//! walk was about 40% of the server's CPU under pipelined GETs, where Redis pays one hash lookup.
//! This cache answers a repeated lookup with one hash probe, absences included (a GET of a
//! missing key is as common as a hit).
//!
//! Invariant: an entry, present or absent, equals what the open write transaction's `meta` table
//! holds for that key. Every write of `meta` goes through [`Keyspace`](super::Keyspace), which
//! updates the entry after the B-tree accepted the write and forgets it if the write failed;
//! anything that drops or rewrites the transaction's state wholesale (an aborted transaction,
//! FLUSHDB) clears the cache. Entries need no expiry of their own: the record carries its
//! deadline, checked on every read as for a B-tree row.
//!
//! Eviction is quick_cache's S3-FIFO under a byte budget, so the cache is part of the memory the
//! `cache-size` setting bounds.

use quick_cache::{unsync, Weighter};

/// Records larger than this are not cached: their B-tree walk is small next to copying them.
const MAX_RECORD: usize = 512;

/// Bookkeeping per entry beyond its bytes (hash slot, vector headers), for the budget.
const ENTRY_OVERHEAD: u64 = 64;

#[derive(Clone)]
struct ByteWeight;

impl Weighter<Box<[u8]>, Option<Box<[u8]>>> for ByteWeight {
    fn weight(&self, key: &Box<[u8]>, record: &Option<Box<[u8]>>) -> u64 {
        (key.len() + record.as_ref().map_or(0, |r| r.len())) as u64 + ENTRY_OVERHEAD
    }
}

/// What the cache knows of one `meta` key.
pub(crate) enum Cached<'a> {
    /// Not cached: ask the B-tree.
    Unknown,
    /// The key has no record.
    Absent,
    /// The key's record.
    Record(&'a [u8]),
}

/// `meta` key → its record, or `None` for a key known to have none.
type Entries = unsync::Cache<Box<[u8]>, Option<Box<[u8]>>, ByteWeight>;

/// Key records by `meta` key (physical database, slot, key).
pub struct MetaCache {
    entries: Option<Entries>,
}

impl MetaCache {
    /// A cache holding at most about `budget` bytes; 0 disables it.
    pub fn new(budget: usize) -> MetaCache {
        let entries = (budget > 0).then(|| {
            let estimated = (budget / 128).max(16);
            unsync::Cache::with_weighter(estimated, budget as u64, ByteWeight)
        });
        MetaCache { entries }
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> Cached<'_> {
        match self.entries.as_ref().and_then(|c| c.get(key)) {
            None => Cached::Unknown,
            Some(None) => Cached::Absent,
            Some(Some(record)) => Cached::Record(record),
        }
    }

    /// Records what `meta` now holds for `key` (`None`: no record).
    pub(crate) fn store(&mut self, key: &[u8], record: Option<&[u8]>) {
        let Some(entries) = self.entries.as_mut() else {
            return;
        };
        match record {
            Some(r) if r.len() > MAX_RECORD => {
                entries.remove(key);
            }
            _ => entries.insert(key.into(), record.map(Into::into)),
        }
    }

    /// Drops what is known of `key` (a write of it failed half-way).
    pub(crate) fn forget(&mut self, key: &[u8]) {
        if let Some(entries) = self.entries.as_mut() {
            entries.remove(key);
        }
    }

    /// Every entry: `meta` key and record (`None`: known absent). For integrity checks.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.entries
            .iter()
            .flat_map(|c| c.iter())
            .map(|(k, v)| (&k[..], v.as_deref()))
    }

    /// Drops everything (the transaction's state was replaced).
    pub fn clear(&mut self) {
        if let Some(entries) = self.entries.as_mut() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_records_and_absences_and_skips_large_records() {
        let mut cache = MetaCache::new(1 << 20);
        assert!(matches!(cache.lookup(b"a"), Cached::Unknown));
        cache.store(b"a", Some(b"rec"));
        cache.store(b"b", None);
        assert!(matches!(cache.lookup(b"a"), Cached::Record(b"rec")));
        assert!(matches!(cache.lookup(b"b"), Cached::Absent));
        cache.store(b"a", Some(&[0u8; MAX_RECORD + 1]));
        assert!(matches!(cache.lookup(b"a"), Cached::Unknown));
        cache.forget(b"b");
        assert!(matches!(cache.lookup(b"b"), Cached::Unknown));
    }

    #[test]
    fn stays_within_its_byte_budget() {
        let mut cache = MetaCache::new(64 * 1024);
        for i in 0..100_000u32 {
            cache.store(&i.to_be_bytes(), Some(&[7u8; 100]));
        }
        let entries = cache.entries.as_ref().expect("enabled");
        assert!(entries.weight() <= 64 * 1024, "{}", entries.weight());
    }

    #[test]
    fn a_zero_budget_disables_the_cache() {
        let mut cache = MetaCache::new(0);
        cache.store(b"a", Some(b"rec"));
        assert!(matches!(cache.lookup(b"a"), Cached::Unknown));
    }
}
