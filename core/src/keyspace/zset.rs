//! Sorted-set storage: members, the score order, and a rank index, on three element tables.
//!
//! - `ZMembers`: `[slot][member]` (hash order, so ZSCAN works like SCAN) → score (`f64` bits, BE).
//! - `ZScores`: *position* `[sortable score][member]` → empty, or the raw score when it is -0.0
//!   (positions normalise -0.0 to 0.0, which Redis orders as equal). Byte order of positions is
//!   Redis's skiplist order: by score, then by member bytes.
//! - `ZBlocks`: the rank index. The score order is cut into blocks of consecutive positions; a
//!   row is keyed by a block's first position and holds its element count (u32 LE). A rank is
//!   the sum of the counts of the blocks before an element's block plus a walk inside that block
//!   (at most [`BLOCK_MAX`] rows), so ZRANK and ranges by rank never walk the elements from the
//!   start. Blocks split in two when they pass `BLOCK_MAX` and merge with a neighbour when they
//!   shrink below `BLOCK_LOW`, so a million members make about two thousand index rows.

use redb::ReadableTable;

use super::ranks::Blocks;
use super::{slot_of, ElemRange, ElemTable, Keyspace};
use crate::storage::StorageError;

// Small blocks in unit tests and fuzz builds (cargo-fuzz sets `cfg(fuzzing)`), so a few dozen
// elements exercise splits and merges.
#[cfg(not(any(test, fuzzing)))]
const BLOCK_TARGET: u64 = 512;
#[cfg(not(any(test, fuzzing)))]
pub(super) const BLOCK_MAX: u64 = 1024;
#[cfg(not(any(test, fuzzing)))]
const BLOCK_LOW: u64 = 256;
#[cfg(any(test, fuzzing))]
const BLOCK_TARGET: u64 = 4;
#[cfg(any(test, fuzzing))]
pub(super) const BLOCK_MAX: u64 = 8;
#[cfg(any(test, fuzzing))]
const BLOCK_LOW: u64 = 2;

pub(super) const NEG_ZERO: u64 = 0x8000_0000_0000_0000;

/// A score as 8 bytes whose byte order is the numeric order (-0.0 reads as 0.0; never NaN).
pub fn sortable(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    let bits = score.to_bits();
    let key = if bits & NEG_ZERO != 0 {
        !bits
    } else {
        bits | NEG_ZERO
    };
    key.to_be_bytes()
}

/// The inverse of [`sortable`].
pub fn from_sortable(bytes: [u8; 8]) -> f64 {
    let key = u64::from_be_bytes(bytes);
    let bits = if key & NEG_ZERO != 0 {
        key & !NEG_ZERO
    } else {
        !key
    };
    f64::from_bits(bits)
}

/// The position of `member` with `score` in the score order: `[sortable score][member]`.
pub fn position(score: f64, member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + member.len());
    out.extend_from_slice(&sortable(score));
    out.extend_from_slice(member);
    out
}

/// A member and its score, as read from the score order.
#[derive(Debug, Clone, PartialEq)]
pub struct ZItem {
    pub member: Vec<u8>,
    pub score: f64,
}

/// Decodes a `ZScores` row (position, value).
fn item_of(pos: &[u8], value: &[u8]) -> ZItem {
    let score = match value.try_into() {
        Ok(raw) => f64::from_bits(u64::from_be_bytes(raw)),
        Err(_) => from_sortable(
            pos.get(..8)
                .and_then(|s| s.try_into().ok())
                .unwrap_or([0; 8]),
        ),
    };
    ZItem {
        member: pos.get(8..).unwrap_or_default().to_vec(),
        score,
    }
}

/// The `ZMembers` element of `member`: the same `[slot][member]` layout as the other hash-ordered
/// tables (`commands::slotted`).
fn member_elem(member: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + member.len());
    out.extend_from_slice(&slot_of(member).to_be_bytes());
    out.extend_from_slice(member);
    out
}

pub(super) fn count_of_block(value: &[u8]) -> u64 {
    u64::from(block_count(value))
}

fn block_count(value: &[u8]) -> u32 {
    value.try_into().map(u32::from_le_bytes).unwrap_or(0)
}

/// The value of a `ZScores` row for the raw score `raw`: empty, or the score itself when it is
/// -0.0 (its position says 0.0).
fn stored_score(raw: &[u8; 8]) -> &[u8] {
    if u64::from_be_bytes(*raw) == NEG_ZERO {
        raw
    } else {
        &[]
    }
}

/// The score a `ZMembers` row holds.
fn score_of_row(raw: &[u8]) -> Result<f64, StorageError> {
    <[u8; 8]>::try_from(raw)
        .map(|b| f64::from_bits(u64::from_be_bytes(b)))
        .map_err(|_| corrupt())
}

fn corrupt() -> StorageError {
    StorageError::Redb("corrupt sorted-set rank index".into())
}

impl Keyspace<'_, '_> {
    /// The score of `member` in the sorted set at `key`.
    pub fn zset_score(
        &mut self,
        db: usize,
        key: &[u8],
        member: &[u8],
    ) -> Result<Option<f64>, StorageError> {
        let raw = self.elem_get(ElemTable::ZMembers, db, key, &member_elem(member))?;
        Ok(raw
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(|b| f64::from_bits(u64::from_be_bytes(b))))
    }

    /// Sets `member`'s score; `old` is its current score (from [`Keyspace::zset_score`]).
    pub fn zset_insert(
        &mut self,
        db: usize,
        key: &[u8],
        member: &[u8],
        score: f64,
        old: Option<f64>,
    ) -> Result<(), StorageError> {
        if old.is_some_and(|old| old.to_bits() == score.to_bits()) {
            return Ok(());
        }
        let raw = score.to_bits().to_be_bytes();
        self.elem_put(ElemTable::ZMembers, db, key, &member_elem(member), &raw)?;
        self.zset_place(db, key, member, old, score)
    }

    /// Sets `member`'s score unless it equals the current one (as numbers: 0 and -0 are
    /// equal, and the current one stays); returns the current one. One walk of the member table
    /// both writes the score and finds the old one, where [`Keyspace::zset_score`] then
    /// [`Keyspace::zset_insert`] walk it twice (ZADD without options on a large set). `count`:
    /// how many members `key` holds right now.
    pub fn zset_upsert(
        &mut self,
        db: usize,
        key: &[u8],
        member: &[u8],
        score: f64,
        count: u64,
    ) -> Result<Option<f64>, StorageError> {
        let elem = member_elem(member);
        let raw = score.to_bits().to_be_bytes();
        let old = match self.elem_upsert(ElemTable::ZMembers, db, key, &elem, &raw, count)? {
            Some(v) => Some(score_of_row(&v)?),
            None => None,
        };
        if let Some(old) = old {
            if old == score {
                if old.to_bits() != score.to_bits() {
                    self.elem_put(
                        ElemTable::ZMembers,
                        db,
                        key,
                        &elem,
                        &old.to_bits().to_be_bytes(),
                    )?;
                }
                return Ok(Some(old));
            }
        }
        self.zset_place(db, key, member, old, score)?;
        Ok(old)
    }

    /// Moves `member` from its place in the score order for score `from` (if any) to its place
    /// for `to`, its `ZMembers` row being written already. 0 and -0 share a place: then only
    /// the stored score changes.
    fn zset_place(
        &mut self,
        db: usize,
        key: &[u8],
        member: &[u8],
        from: Option<f64>,
        to: f64,
    ) -> Result<(), StorageError> {
        let new_pos = position(to, member);
        let raw = to.to_bits().to_be_bytes();
        let moved = match from.map(|old| position(old, member)) {
            Some(old_pos) if old_pos == new_pos => false,
            Some(old_pos) => {
                self.elem_remove(ElemTable::ZScores, db, key, &old_pos)?;
                self.block_remove(db, key, &old_pos)?;
                true
            }
            None => true,
        };
        self.elem_put(ElemTable::ZScores, db, key, &new_pos, stored_score(&raw))?;
        if moved {
            self.block_insert(db, key, &new_pos)?;
        }
        Ok(())
    }

    /// Writes a new sorted set at `key`, which must have no elements yet, from distinct
    /// members: sorts them once and writes the rank index a block at a time, rather than
    /// keeping it up to date after each insert (ZADD on a new key, the *STORE commands).
    pub fn zset_load(
        &mut self,
        db: usize,
        key: &[u8],
        items: &[ZItem],
    ) -> Result<(), StorageError> {
        let mut rows: Vec<(Vec<u8>, &ZItem)> = items
            .iter()
            .map(|it| (position(it.score, &it.member), it))
            .collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (i, (pos, item)) in rows.iter().enumerate() {
            let raw = item.score.to_bits().to_be_bytes();
            // The set holds the `i` members written before this one.
            let elem = member_elem(&item.member);
            self.elem_upsert(ElemTable::ZMembers, db, key, &elem, &raw, i as u64)?;
            self.elem_put(ElemTable::ZScores, db, key, pos, stored_score(&raw))?;
        }
        let n = rows.len();
        let prefix = self.ranked(db, key)?;
        let mut start = 0;
        while start < n {
            let mut len = (BLOCK_TARGET as usize).min(n - start);
            if n - start - len < BLOCK_LOW as usize {
                // A short tail joins this block (at most BLOCK_TARGET + BLOCK_LOW elements).
                len = n - start;
            }
            let first = &rows[start].0;
            self.change_blocks(&prefix, |b| b.set(first, len as u32))?;
            start += len;
        }
        self.settle_ranks()
    }

    /// Removes `member`; returns its score.
    pub fn zset_remove(
        &mut self,
        db: usize,
        key: &[u8],
        member: &[u8],
    ) -> Result<Option<f64>, StorageError> {
        let Some(raw) = self.elem_remove(ElemTable::ZMembers, db, key, &member_elem(member))?
        else {
            return Ok(None);
        };
        let score = score_of_row(&raw)?;
        let pos = position(score, member);
        self.elem_remove(ElemTable::ZScores, db, key, &pos)?;
        self.block_remove(db, key, &pos)?;
        Ok(Some(score))
    }

    /// Elements of the score order within `range` (positions, `to` exclusive).
    pub fn zset_walk(
        &mut self,
        db: usize,
        key: &[u8],
        range: ElemRange<'_>,
    ) -> Result<Vec<ZItem>, StorageError> {
        let rows = self.elem_range(ElemTable::ZScores, db, key, range)?;
        Ok(rows.iter().map(|(pos, v)| item_of(pos, v)).collect())
    }

    /// How many elements lie before position `pos` (the rank `pos` has or would have).
    pub fn zset_count_below(
        &mut self,
        db: usize,
        key: &[u8],
        pos: &[u8],
    ) -> Result<u64, StorageError> {
        let prefix = self.ranked(db, key)?;
        let Some((start, before)) = self.cache.ranks.get(&prefix).and_then(|b| {
            b.containing(pos, false)
                .map(|(start, _)| (start.to_vec(), b.sum_before(start)))
        }) else {
            return Ok(0);
        };
        let inside = self.scores_count(db, key, &start, pos)?;
        Ok(before + inside)
    }

    /// The position of the element of rank `rank` (0-based) in a sorted set of `total` elements.
    /// Sums block counts from whichever end is nearer, then steps inside one block.
    pub fn zset_nth(
        &mut self,
        db: usize,
        key: &[u8],
        rank: u64,
        total: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        if rank >= total {
            return Ok(None);
        }
        let prefix = self.ranked(db, key)?;
        let reverse = rank >= total / 2;
        let want = if reverse { total - 1 - rank } else { rank };
        let found = self.cache.ranks.get(&prefix).and_then(|blocks| {
            let mut acc = 0;
            for (start, c) in blocks.iter(reverse) {
                if acc + c > want {
                    let offset = if reverse {
                        c - 1 - (want - acc)
                    } else {
                        want - acc
                    };
                    return Some((start.to_vec(), offset));
                }
                acc += c;
            }
            None
        });
        match found {
            Some((start, offset)) => self.scores_nth(db, key, &start, offset),
            None => Ok(None),
        }
    }

    /// `[prefix, prefix end)` of `key`'s rows in any element table.
    fn key_bounds(&self, db: usize, key: &[u8]) -> (Vec<u8>, Vec<u8>) {
        super::key_rows(self.phys(db), key)
    }

    /// The prefix of `key`'s rows, with its blocks loaded into the rank index (see `ranks.rs`).
    fn ranked(&mut self, db: usize, key: &[u8]) -> Result<Vec<u8>, StorageError> {
        let mut prefix = Vec::with_capacity(5 + key.len());
        super::elem_prefix(&mut prefix, self.phys(db), key);
        if self.cache.ranks.holds(&prefix) {
            return Ok(prefix);
        }
        if self.cache.ranks.is_full() {
            self.flush_ranks(true)?;
        }
        let end = super::rows_end(&prefix);
        let n = prefix.len();
        let mut blocks = Blocks::default();
        for item in self
            .elem_table(ElemTable::ZBlocks)?
            .range::<&[u8]>(prefix.as_slice()..end.as_slice())?
        {
            let (k, v) = item?;
            blocks.load(k.value()[n..].to_vec(), block_count(v.value()));
        }
        self.cache.ranks.insert(prefix.clone(), blocks);
        Ok(prefix)
    }

    /// Changes the blocks of the set whose rows start with `prefix` (loaded by
    /// [`Keyspace::ranked`]).
    fn change_blocks<R>(
        &mut self,
        prefix: &[u8],
        f: impl FnOnce(&mut Blocks) -> R,
    ) -> Result<R, StorageError> {
        self.changed = true;
        self.cache.ranks.change(prefix, f).ok_or_else(corrupt)
    }

    /// Writes the index back at once when the record cache is off (it then holds nothing
    /// between calls).
    fn settle_ranks(&mut self) -> Result<(), StorageError> {
        if self.cache.ranks.enabled {
            return Ok(());
        }
        self.flush_ranks(true)
    }

    /// Number of positions in `[from, to)`, walked one by one (used within one block).
    fn scores_count(
        &mut self,
        db: usize,
        key: &[u8],
        from: &[u8],
        to: &[u8],
    ) -> Result<u64, StorageError> {
        if from >= to {
            return Ok(0);
        }
        let (prefix, _) = self.key_bounds(db, key);
        let start = [prefix.as_slice(), from].concat();
        let end = [prefix.as_slice(), to].concat();
        let table = self.elem_table(ElemTable::ZScores)?;
        let mut n = 0;
        for item in table.range::<&[u8]>(start.as_slice()..end.as_slice())? {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// The position `n` steps after `from` (0 = the first position at or after `from`).
    fn scores_nth(
        &mut self,
        db: usize,
        key: &[u8],
        from: &[u8],
        n: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let (prefix, end) = self.key_bounds(db, key);
        let start = [prefix.as_slice(), from].concat();
        let table = self.elem_table(ElemTable::ZScores)?;
        let mut range = table.range::<&[u8]>(start.as_slice()..end.as_slice())?;
        let mut skip = n;
        for item in range.by_ref() {
            let (k, _) = item?;
            if skip == 0 {
                return Ok(Some(k.value()[prefix.len()..].to_vec()));
            }
            skip -= 1;
        }
        Ok(None)
    }

    /// Index upkeep after `pos` was added to the score order.
    fn block_insert(&mut self, db: usize, key: &[u8], pos: &[u8]) -> Result<(), StorageError> {
        let prefix = self.ranked(db, key)?;
        let split = self.change_blocks(&prefix, |b| {
            let (start, count) = match b.containing(pos, true) {
                Some((start, count)) => (start.to_vec(), count + 1),
                None => match b.after(None) {
                    // Before every block: the first block now starts here.
                    Some((first, count)) => {
                        let first = first.to_vec();
                        b.remove(&first);
                        (pos.to_vec(), count + 1)
                    }
                    None => (pos.to_vec(), 1),
                },
            };
            if count <= BLOCK_MAX {
                b.set(&start, count as u32);
                return None;
            }
            Some((start, count))
        })?;
        if let Some((start, count)) = split {
            let mid = self
                .scores_nth(db, key, &start, BLOCK_TARGET)?
                .ok_or_else(corrupt)?;
            self.change_blocks(&prefix, |b| {
                b.set(&start, BLOCK_TARGET as u32);
                b.set(&mid, (count - BLOCK_TARGET) as u32);
            })?;
        }
        self.settle_ranks()
    }

    /// Index upkeep after `pos` was removed from the score order.
    fn block_remove(&mut self, db: usize, key: &[u8], pos: &[u8]) -> Result<(), StorageError> {
        let prefix = self.ranked(db, key)?;
        let (start, count) = self
            .cache
            .ranks
            .get(&prefix)
            .and_then(|b| b.containing(pos, true))
            .map(|(start, count)| (start.to_vec(), count))
            .ok_or_else(corrupt)?;
        // The block's first element went: it now starts at the next element, which is in this
        // block if the block is not empty.
        let next = if start == pos && count > 1 {
            Some(self.scores_nth(db, key, pos, 0)?.ok_or_else(corrupt)?)
        } else {
            None
        };
        self.change_blocks(&prefix, |b| {
            if count <= 1 {
                b.remove(&start);
                return;
            }
            let count = count - 1;
            let mut start = start;
            if let Some(next) = next {
                b.remove(&start);
                start = next;
            }
            if count < BLOCK_LOW {
                if let Some((after, n)) = b.after(Some(&start)) {
                    if count + n <= BLOCK_MAX {
                        let after = after.to_vec();
                        b.remove(&after);
                        b.set(&start, (count + n) as u32);
                        return;
                    }
                }
                if let Some((prev, n)) = b.containing(&start, false) {
                    if count + n <= BLOCK_MAX {
                        let prev = prev.to_vec();
                        b.remove(&start);
                        b.set(&prev, (count + n) as u32);
                        return;
                    }
                }
            }
            b.set(&start, count as u32);
        })?;
        self.settle_ranks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::with_test_keyspace;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn sortable_bytes_follow_numeric_order() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -1e-310,
            0.0,
            1e-310,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(sortable(pair[0]) < sortable(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(from_sortable(sortable(v)).to_bits(), v.to_bits());
        }
        assert_eq!(sortable(-0.0), sortable(0.0));
    }

    /// Checks the index against the score order: block starts are elements, counts are the
    /// rows up to the next start, and every block is within bounds.
    fn check_blocks(ks: &mut Keyspace<'_, '_>, key: &[u8], model: &BTreeSet<Vec<u8>>) {
        let blocks = ks
            .elem_range(ElemTable::ZBlocks, 0, key, ElemRange::all(usize::MAX))
            .unwrap();
        let order: Vec<Vec<u8>> = model.iter().cloned().collect();
        if order.is_empty() {
            assert!(blocks.is_empty());
            return;
        }
        assert_eq!(
            blocks[0].0, order[0],
            "the first block starts at the first element"
        );
        let mut total = 0;
        for (i, (start, v)) in blocks.iter().enumerate() {
            let c = count_of_block(v);
            assert!((1..=BLOCK_MAX).contains(&c), "block size {c}");
            let idx = order
                .binary_search(start)
                .expect("block start is an element");
            let next = blocks.get(i + 1).map_or(order.len(), |(s, _)| {
                order.binary_search(s).expect("block start is an element")
            });
            assert_eq!(next - idx, c as usize, "block count");
            total += c;
        }
        assert_eq!(total as usize, order.len());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, i8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..60, -4i8..4).prop_map(|(m, s)| Op::Put(m, s)),
            2 => (0u8..60).prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn rank_index_matches_a_naive_model(ops in proptest::collection::vec(op(), 1..300)) {
            with_test_keyspace(|ks| -> Result<(), TestCaseError> {
            let key = b"z";
            let mut scores = std::collections::HashMap::new();
            let mut model = BTreeSet::new();
            for (step, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Put(m, s) => {
                        let member = vec![b'a' + m % 26; 1 + usize::from(m / 26)];
                        let score = f64::from(s) / 2.0;
                        let old = ks.zset_score(0, key, &member).unwrap();
                        prop_assert_eq!(old, scores.get(&member).copied());
                        ks.zset_insert(0, key, &member, score, old).unwrap();
                        if let Some(old) = old {
                            model.remove(&position(old, &member));
                        }
                        model.insert(position(score, &member));
                        scores.insert(member, score);
                    }
                    Op::Remove(m) => {
                        let member = vec![b'a' + m % 26; 1 + usize::from(m / 26)];
                        let old = ks.zset_remove(0, key, &member).unwrap();
                        prop_assert_eq!(old, scores.remove(&member));
                        if let Some(old) = old {
                            model.remove(&position(old, &member));
                        }
                    }
                }
                // Not after every change: the check reads the table, which writes the
                // in-memory index back and drops it; changes must also hold while it is kept.
                if step % 5 == 4 {
                    check_blocks(ks, key, &model);
                }
            }
            check_blocks(ks, key, &model);
            let order: Vec<Vec<u8>> = model.iter().cloned().collect();
            let total = order.len() as u64;
            for (rank, pos) in order.iter().enumerate() {
                prop_assert_eq!(ks.zset_count_below(0, key, pos).unwrap(), rank as u64);
                let nth = ks.zset_nth(0, key, rank as u64, total).unwrap();
                prop_assert_eq!(nth.as_ref(), Some(pos));
                // A position between elements ranks like the next element.
                let mut after = pos.clone();
                after.push(0);
                prop_assert_eq!(ks.zset_count_below(0, key, &after).unwrap(), rank as u64 + 1);
            }
            prop_assert_eq!(ks.zset_nth(0, key, total, total).unwrap(), None);
            prop_assert_eq!(ks.zset_count_below(0, key, &[0xff; 9]).unwrap(), total);
            prop_assert_eq!(ks.zset_count_below(0, key, &[]).unwrap(), 0);
            Ok(())
            })?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn a_loaded_set_has_a_valid_index_and_takes_updates(
            scores in proptest::collection::vec(-3i8..3, 0..60),
            ops in proptest::collection::vec(op(), 0..60),
        ) {
            with_test_keyspace(|ks| -> Result<(), TestCaseError> {
            let key = b"z";
            let items: Vec<ZItem> = scores
                .iter()
                .enumerate()
                .map(|(i, &s)| ZItem { member: format!("m{i}").into_bytes(), score: f64::from(s) })
                .collect();
            ks.zset_load(0, key, &items).unwrap();
            let mut scores: std::collections::HashMap<Vec<u8>, f64> =
                items.iter().map(|it| (it.member.clone(), it.score)).collect();
            let mut model: BTreeSet<Vec<u8>> =
                items.iter().map(|it| position(it.score, &it.member)).collect();
            check_blocks(ks, key, &model);
            for (step, op) in ops.into_iter().enumerate() {
                let (member, new) = match op {
                    Op::Put(m, s) => (format!("m{}", m % 70).into_bytes(), Some(f64::from(s))),
                    Op::Remove(m) => (format!("m{}", m % 70).into_bytes(), None),
                };
                let old = ks.zset_score(0, key, &member).unwrap();
                prop_assert_eq!(old, scores.get(&member).copied());
                if let Some(old) = old {
                    model.remove(&position(old, &member));
                }
                match new {
                    Some(score) => {
                        ks.zset_insert(0, key, &member, score, old).unwrap();
                        model.insert(position(score, &member));
                        scores.insert(member, score);
                    }
                    None => {
                        ks.zset_remove(0, key, &member).unwrap();
                        scores.remove(&member);
                    }
                }
                if step % 5 == 4 {
                    check_blocks(ks, key, &model);
                }
            }
            check_blocks(ks, key, &model);
            let total = model.len() as u64;
            for (rank, pos) in model.iter().enumerate() {
                prop_assert_eq!(ks.zset_count_below(0, key, pos).unwrap(), rank as u64);
                let nth = ks.zset_nth(0, key, rank as u64, total).unwrap();
                prop_assert_eq!(nth.as_ref(), Some(pos));
            }
            Ok(())
            })?;
        }
    }

    #[test]
    fn sets_past_the_index_bound_are_written_back_when_the_index_drops_them() {
        with_test_keyspace(|ks| {
            let keys: [&[u8]; 3] = [b"a", b"b", b"c"];
            let mut models = vec![BTreeSet::new(); keys.len()];
            for round in 0..40u8 {
                for (key, model) in keys.iter().zip(&mut models) {
                    let member = [b'm', round];
                    let score = f64::from(round % 7);
                    ks.zset_insert(0, key, &member, score, None).unwrap();
                    model.insert(position(score, &member));
                }
                // Reading the table drops the index; the next inserts reload one set after the
                // other, and with a few blocks each they pass the bound, so loading one drops
                // the others, changed blocks included.
                let i = usize::from(round) % keys.len();
                check_blocks(ks, keys[i], &models[i]);
            }
            for (key, model) in keys.iter().zip(&models) {
                check_blocks(ks, key, model);
            }
        });
    }

    #[test]
    fn negative_zero_keeps_its_sign_but_not_its_place() {
        with_test_keyspace(|ks| {
            ks.zset_insert(0, b"z", b"a", -0.0, None).unwrap();
            ks.zset_insert(0, b"z", b"b", 0.0, None).unwrap();
            let items = ks.zset_walk(0, b"z", ElemRange::all(10)).unwrap();
            assert_eq!(items.len(), 2);
            assert!(items[0].score.is_sign_negative() && items[0].member == b"a");
            assert!(items[1].score.is_sign_positive() && items[1].member == b"b");
            ks.zset_insert(0, b"z", b"a", 0.0, Some(-0.0)).unwrap();
            assert!(ks
                .zset_score(0, b"z", b"a")
                .unwrap()
                .unwrap()
                .is_sign_positive());
            let items = ks.zset_walk(0, b"z", ElemRange::all(10)).unwrap();
            assert!(items[0].score.is_sign_positive());
        });
    }
}
