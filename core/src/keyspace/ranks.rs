//! The sorted-set rank index in memory: the `ZBlocks` rows (see `zset.rs`) of the sorted sets in
//! use, held across groups and transactions like the record cache.
//!
//! Why: keeping the rank index up to date costs every ZADD and ZREM a reverse range walk of
//! `ZBlocks` (which block holds the position) and a B-tree insert (its new count), a sixth of a
//! ZADD's instructions into a large set. Here both are a
//! lookup in a small ordered map (one row per ~512 members), and a block's count changed many
//! times reaches the B-tree once, when the changes are written back.
//!
//! Invariant: for a sorted set held here, this is the truth and its `ZBlocks` rows may be stale
//! (for the blocks listed as changed). So:
//! - the index's own readers and writers (`Keyspace`'s block functions) go through it only;
//! - anything else that reads or writes `ZBlocks` (copying or deleting a sorted set, the integrity
//!   check) first writes the changes back and drops the whole index (`Keyspace::flush_elems`);
//! - whatever commits the transaction first writes the changes back
//!   ([`RowCache::flush_txn`](super::RowCache::flush_txn));
//! - whatever drops the transaction's state drops the index with it
//!   ([`RowCache::clear`](super::RowCache::clear)).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use redb::Table;

use crate::storage::StorageError;

/// At most this many blocks are held (about 100 bytes each, one per ~512 members); past it,
/// the index is written back and dropped before another sorted set is loaded. Tiny in tests
/// and fuzz builds (where blocks are tiny too), so that the drop happens there.
#[cfg(not(any(test, fuzzing)))]
pub(super) const RANK_BLOCKS_LIMIT: usize = 1 << 16;
#[cfg(any(test, fuzzing))]
pub(super) const RANK_BLOCKS_LIMIT: usize = 3;

/// Blocks as rows: first position and element count, in order.
pub(super) type BlockRows = Vec<(Vec<u8>, u64)>;

/// One sorted set's blocks: first position → element count.
#[derive(Debug, Default)]
pub(crate) struct Blocks {
    starts: BTreeMap<Vec<u8>, u32>,
    /// Blocks set or removed since the last write-back.
    changed: BTreeSet<Vec<u8>>,
}

impl Blocks {
    pub(super) fn load(&mut self, start: Vec<u8>, count: u32) {
        self.starts.insert(start, count);
    }

    /// The block holding `pos`: the last block starting at or before it (`inclusive`), or
    /// strictly before it.
    pub(super) fn containing(&self, pos: &[u8], inclusive: bool) -> Option<(&[u8], u64)> {
        let upper = if inclusive {
            Bound::Included(pos)
        } else {
            Bound::Excluded(pos)
        };
        self.starts
            .range::<[u8], _>((Bound::Unbounded, upper))
            .next_back()
            .map(|(s, &c)| (s.as_slice(), u64::from(c)))
    }

    /// The first block starting after `start` (the first block when `start` is `None`).
    pub(super) fn after(&self, start: Option<&[u8]>) -> Option<(&[u8], u64)> {
        let lower = start.map_or(Bound::Unbounded, Bound::Excluded);
        self.starts
            .range::<[u8], _>((lower, Bound::Unbounded))
            .next()
            .map(|(s, &c)| (s.as_slice(), u64::from(c)))
    }

    pub(super) fn set(&mut self, start: &[u8], count: u32) {
        match self.starts.get_mut(start) {
            Some(c) if *c == count => return,
            Some(c) => *c = count,
            None => {
                self.starts.insert(start.to_vec(), count);
            }
        }
        if !self.changed.contains(start) {
            self.changed.insert(start.to_vec());
        }
    }

    pub(super) fn remove(&mut self, start: &[u8]) {
        if self.starts.remove(start).is_some() && !self.changed.contains(start) {
            self.changed.insert(start.to_vec());
        }
    }

    /// Sum of the counts of the blocks starting before `start`.
    pub(super) fn sum_before(&self, start: &[u8]) -> u64 {
        self.starts
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(start)))
            .map(|(_, &c)| u64::from(c))
            .sum()
    }

    /// The blocks in order (or in reverse): start and count.
    pub(super) fn iter(&self, reverse: bool) -> Box<dyn Iterator<Item = (&[u8], u64)> + '_> {
        let rows = self
            .starts
            .iter()
            .map(|(s, &c)| (s.as_slice(), u64::from(c)));
        if reverse {
            Box::new(rows.rev())
        } else {
            Box::new(rows)
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// The blocks of the sorted sets in use, by their rows' prefix in the element tables.
#[derive(Debug)]
pub(crate) struct RankIndex {
    sets: HashMap<Vec<u8>, Blocks>,
    blocks: usize,
    /// A set may have changed blocks (set by every change, cleared by a write-back).
    dirty: bool,
    /// Off with the record cache (a zero budget): then each change is written back at once.
    pub(super) enabled: bool,
}

impl RankIndex {
    pub(super) fn new(enabled: bool) -> RankIndex {
        RankIndex {
            sets: HashMap::new(),
            blocks: 0,
            dirty: false,
            enabled,
        }
    }

    pub(super) fn holds(&self, prefix: &[u8]) -> bool {
        self.sets.contains_key(prefix)
    }

    pub(super) fn is_full(&self) -> bool {
        self.blocks >= RANK_BLOCKS_LIMIT
    }

    pub(super) fn insert(&mut self, prefix: Vec<u8>, blocks: Blocks) {
        self.blocks += blocks.len();
        self.sets.insert(prefix, blocks);
    }

    /// The blocks of the set whose rows start with `prefix`, to change them: `f` returns
    /// whatever it likes. `None` if the set is not held.
    pub(super) fn change<R>(
        &mut self,
        prefix: &[u8],
        f: impl FnOnce(&mut Blocks) -> R,
    ) -> Option<R> {
        let blocks = self.sets.get_mut(prefix)?;
        let before = blocks.len();
        let out = f(blocks);
        self.blocks = (self.blocks + blocks.len()).saturating_sub(before);
        self.dirty = true;
        Some(out)
    }

    pub(super) fn get(&self, prefix: &[u8]) -> Option<&Blocks> {
        self.sets.get(prefix)
    }

    /// Every held set: its rows' prefix and its blocks in order (start, count). For the
    /// integrity check.
    pub(super) fn snapshot(&self) -> Vec<(Vec<u8>, BlockRows)> {
        self.sets
            .iter()
            .map(|(prefix, blocks)| {
                let rows = blocks.iter(false).map(|(s, c)| (s.to_vec(), c)).collect();
                (prefix.clone(), rows)
            })
            .collect()
    }

    /// Whether any block changed since the last write-back.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes the changed blocks into `table` (`ZBlocks`), in key order per set. On `Err` the
    /// table is half-written and the transaction must be dropped, with this index.
    pub(super) fn write_back(
        &mut self,
        table: &mut Table<'_, &'static [u8], &'static [u8]>,
    ) -> Result<(), StorageError> {
        if !self.dirty {
            return Ok(());
        }
        let mut row = Vec::with_capacity(64);
        for (prefix, blocks) in &mut self.sets {
            for start in std::mem::take(&mut blocks.changed) {
                row.clear();
                row.extend_from_slice(prefix);
                row.extend_from_slice(&start);
                match blocks.starts.get(&start) {
                    Some(count) => {
                        table.insert(row.as_slice(), count.to_le_bytes().as_slice())?;
                    }
                    None => {
                        table.remove(row.as_slice())?;
                    }
                }
            }
        }
        self.dirty = false;
        Ok(())
    }

    /// Drops every set (after a write-back, or with the transaction's state).
    pub(super) fn clear(&mut self) {
        self.sets.clear();
        self.blocks = 0;
        self.dirty = false;
    }
}
