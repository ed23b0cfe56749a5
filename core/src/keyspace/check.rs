//! A full consistency check of the keyspace, for tests and fuzzing: it reads every row, so it is
//! not meant for production data sets.
//!
//! Invariants checked (the layout is in `docs/storage.md`):
//! - every `meta` row decodes, sits in a physical database below [`DATABASES`], under its key's
//!   slot, and the key counters equal the number of rows per database;
//! - every deadline of a record is in the `expires` index (the index may hold stale entries,
//!   which active expiry drops, but never lacks one);
//! - a collection's body has its type's size and a count above zero (an emptied collection is
//!   deleted), and its element rows match it: hashes and sets hold `count` slotted rows; a list
//!   holds exactly one item per position of `head..tail` (in chunks or own rows, see
//!   `lists.rs`); a sorted set holds `count` members, each with its
//!   position in the score order, and a rank index whose blocks start at elements, cover the
//!   whole order and hold the number of elements up to the next block;
//! - no element row lacks a key of the type that owns its table.

use std::collections::BTreeMap;

use redb::{ReadableTable, ReadableTableMetadata};

use super::cache::{counted, meta_row_of};
use super::lists::{chunk_start, pos_of, Chunk, CHUNK_MARK};
use super::zset::{count_of_block, position, BLOCK_MAX, NEG_ZERO};
use super::{
    decode, elem_table_of_tag, expire_key, key_rows, opened, rows_end, slot_of, ElemRow, ElemTable,
    Keyspace, Kind, DATABASES, EXPIRES, META, META_PREFIX, META_TAG,
};
use crate::storage::StorageError;

/// What [`Keyspace::check_integrity`] found.
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    /// The store could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Invariants do not hold; one line per problem.
    #[error("keyspace inconsistent: {}", .0.join("; "))]
    Broken(Vec<String>),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for IntegrityError {
            fn from(e: $t) -> Self {
                IntegrityError::Storage(e.into())
            }
        }
    )*};
}
from_redb!(redb::StorageError, redb::TableError);

/// A key record as the check sees it: `(physical db, key)` → kind and body.
type Records = BTreeMap<(u8, Vec<u8>), (Kind, Vec<u8>)>;

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(key).into_owned()
}

fn u64_at(body: &[u8], i: usize) -> u64 {
    body.get(i * 8..i * 8 + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The slot prefix of a slotted element matches its bytes.
fn slotted_ok(elem: &[u8]) -> bool {
    elem.len() >= 8 && elem[..8] == slot_of(&elem[8..]).to_be_bytes()
}

impl Keyspace<'_, '_> {
    /// Checks every invariant listed in this module's documentation; `Ok` when all hold.
    pub fn check_integrity(&mut self) -> Result<(), IntegrityError> {
        let mut problems = Vec::new();
        // Element rows are checked in their B-trees: the pending ones go there first, and the
        // clean ones must equal theirs. The rank index is written back but kept (so that what
        // it holds is checked, and goes on being used as it would be without the check).
        self.flush_elem_tables()?;
        self.check_cached_elements(&mut problems)?;
        self.check_held_ranks(&mut problems)?;
        let records = self.check_records(&mut problems)?;
        for ((phys, key), (kind, body)) in &records {
            self.check_collection(*phys, key, *kind, body, &mut problems)?;
        }
        self.check_orphans(&records, &mut problems)?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(IntegrityError::Broken(problems))
        }
    }

    /// Every clean record-cache entry of an element table equals its row.
    fn check_cached_elements(&mut self, problems: &mut Vec<String>) -> Result<(), IntegrityError> {
        let cached: Vec<(u8, Vec<u8>, Option<Vec<u8>>)> = self
            .cache
            .entries()
            .filter(|(tag, ..)| *tag != META_TAG)
            .map(|(tag, k, v, _)| (tag, k.to_vec(), v.map(<[u8]>::to_vec)))
            .collect();
        // Each key record's count of its cached fields or members never exceeds them.
        let mut held: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut meta = Vec::new();
        for (tag, row, value) in &cached {
            if value.is_some() && counted(*tag) && meta_row_of(&mut meta, row) {
                *held.entry(meta.clone()).or_default() += 1;
            }
        }
        for (key, n) in self.cache.elem_counts() {
            let have = held.get(key).copied().unwrap_or(0);
            if n > have {
                problems.push(format!(
                    "the record cache counts {n} cached elements of {key:?}, it holds {have}"
                ));
            }
        }
        for (tag, row, value) in cached {
            let Some(table) = elem_table_of_tag(tag) else {
                continue;
            };
            let stored = self
                .elem_table(table)?
                .get(row.as_slice())?
                .map(|v| v.value().to_vec());
            if stored != value {
                problems.push(format!(
                    "the record cache disagrees with {table:?} row {row:?}"
                ));
            }
        }
        Ok(())
    }

    /// Every sorted set the rank index holds has, once written back, the same blocks as its
    /// `ZBlocks` rows.
    fn check_held_ranks(&mut self, problems: &mut Vec<String>) -> Result<(), IntegrityError> {
        for (prefix, held) in self.cache.ranks.snapshot() {
            let end = rows_end(&prefix);
            let mut stored = Vec::new();
            for item in self
                .elem_table(ElemTable::ZBlocks)?
                .range::<&[u8]>(prefix.as_slice()..end.as_slice())?
            {
                let (k, v) = item?;
                stored.push((
                    k.value()[prefix.len()..].to_vec(),
                    count_of_block(v.value()),
                ));
            }
            if stored != held {
                problems.push(format!(
                    "the rank index disagrees with the zset_blocks rows of {prefix:?}"
                ));
            }
        }
        Ok(())
    }

    /// Key records, counters and the expiry index.
    fn check_records(&mut self, problems: &mut Vec<String>) -> Result<Records, IntegrityError> {
        // The rows as the commands see them: the B-tree overlaid with the record cache's pending
        // writes. A clean cache entry must equal its row, absences included.
        let mut rows = BTreeMap::new();
        for item in opened(&mut self.held.meta, self.txn, META)?.iter()? {
            let (k, v) = item?;
            rows.insert(k.value().to_vec(), v.value().to_vec());
        }
        let mut pending = Vec::new();
        let mut present = [0u64; DATABASES];
        for (tag, k, cached, is_pending) in self.cache.entries() {
            if tag != META_TAG {
                continue;
            }
            if let (Some(_), Some(n)) = (
                cached,
                k.first().and_then(|&p| present.get_mut(usize::from(p))),
            ) {
                *n += 1;
            }
            if is_pending {
                pending.push((k.to_vec(), cached.map(<[u8]>::to_vec)));
            } else if rows.get(k).map(Vec::as_slice) != cached {
                problems.push(format!("the record cache disagrees with meta row {k:?}"));
            }
        }
        for (k, row) in pending {
            match row {
                Some(row) => rows.insert(k, row),
                None => rows.remove(&k),
            };
        }
        let mut records = Records::new();
        let mut per_db = [0u64; DATABASES];
        let mut deadlines = Vec::new();
        for (k, v) in &rows {
            if k.len() < META_PREFIX || usize::from(k[0]) >= DATABASES {
                problems.push(format!("meta row with a bad key {k:?}"));
                continue;
            }
            let (phys, key) = (k[0], &k[META_PREFIX..]);
            if k[1..META_PREFIX] != slot_of(key).to_be_bytes() {
                problems.push(format!("key {} is not under its slot", show(key)));
            }
            match decode(v) {
                Ok(entry) => {
                    per_db[usize::from(phys)] += 1;
                    if let Some(at) = entry.expire_at {
                        deadlines.push((at, phys, key.to_vec()));
                    }
                    records.insert((phys, key.to_vec()), (entry.kind, entry.body));
                }
                Err(e) => problems.push(format!("key {}: {e}", show(key))),
            }
        }
        if &present != self.cache.meta_present() {
            problems.push(format!(
                "the record cache counts {:?} key records per database, it holds {present:?}",
                self.cache.meta_present()
            ));
        }
        if per_db != self.counters.keys {
            problems.push(format!(
                "key counters {:?} differ from the records {per_db:?}",
                self.counters.keys
            ));
        }
        for (at, phys, key) in deadlines {
            expire_key(&mut self.held.ebuf, at, phys, &key);
            if opened(&mut self.held.expires, self.txn, EXPIRES)?
                .get(self.held.ebuf.as_slice())?
                .is_none()
            {
                problems.push(format!(
                    "deadline {at} of key {} is missing from the expiry index",
                    show(&key)
                ));
            }
        }
        Ok(records)
    }

    /// The rows of one key in one element table: `(element, value)`.
    fn rows_of(
        &mut self,
        table: ElemTable,
        phys: u8,
        key: &[u8],
    ) -> Result<Vec<ElemRow>, IntegrityError> {
        let (prefix, end) = key_rows(phys, key);
        let t = self.elem_table(table)?;
        let mut out = Vec::new();
        for item in t.range::<&[u8]>(prefix.as_slice()..end.as_slice())? {
            let (k, v) = item?;
            out.push((k.value()[prefix.len()..].to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn check_collection(
        &mut self,
        phys: u8,
        key: &[u8],
        kind: Kind,
        body: &[u8],
        problems: &mut Vec<String>,
    ) -> Result<(), IntegrityError> {
        let name = show(key);
        let body_len = match kind {
            Kind::String => return Ok(()),
            Kind::Hash => 8,
            Kind::Set | Kind::ZSet => 9,
            Kind::List => 24,
        };
        if body.len() != body_len {
            problems.push(format!(
                "{} {name}: body of {} bytes",
                kind.name(),
                body.len()
            ));
            return Ok(());
        }
        let count = u64_at(body, 0);
        if count == 0 {
            problems.push(format!("{} {name}: empty but not deleted", kind.name()));
        }
        let table = match kind {
            Kind::Hash => ElemTable::HashFields,
            Kind::Set => ElemTable::SetMembers,
            Kind::List => ElemTable::ListItems,
            _ => ElemTable::ZMembers,
        };
        let rows = self.rows_of(table, phys, key)?;
        if kind != Kind::List && rows.len() as u64 != count {
            problems.push(format!(
                "{} {name}: count {count} but {} element rows",
                kind.name(),
                rows.len()
            ));
        }
        match kind {
            Kind::Hash | Kind::Set => {
                if let Some((elem, _)) = rows.iter().find(|(e, _)| !slotted_ok(e)) {
                    problems.push(format!(
                        "{} {name}: element {elem:?} off its slot",
                        kind.name()
                    ));
                }
            }
            Kind::List => {
                let (head, tail) = (u64_at(body, 1) as i64, u64_at(body, 2) as i64);
                if tail < head || tail.abs_diff(head) != count {
                    problems.push(format!(
                        "list {name}: head {head} tail {tail} count {count}"
                    ));
                }
                check_list(&name, (head, tail), count, &rows, problems);
            }
            Kind::ZSet => self.check_zset(phys, key, count, &rows, problems)?,
            Kind::String => {}
        }
        Ok(())
    }

    /// Members against the score order, and the score order against the rank index.
    fn check_zset(
        &mut self,
        phys: u8,
        key: &[u8],
        count: u64,
        members: &[ElemRow],
        problems: &mut Vec<String>,
    ) -> Result<(), IntegrityError> {
        let name = show(key);
        let scores = self.rows_of(ElemTable::ZScores, phys, key)?;
        if scores.len() as u64 != count {
            problems.push(format!(
                "zset {name}: count {count} but {} score rows",
                scores.len()
            ));
        }
        let order: BTreeMap<&[u8], &[u8]> = scores
            .iter()
            .map(|(p, v)| (p.as_slice(), v.as_slice()))
            .collect();
        for (elem, raw) in members {
            let Ok(bits) = <[u8; 8]>::try_from(raw.as_slice()).map(u64::from_be_bytes) else {
                problems.push(format!("zset {name}: member {elem:?} has a bad score"));
                continue;
            };
            let score = f64::from_bits(bits);
            if !slotted_ok(elem) || score.is_nan() {
                problems.push(format!("zset {name}: bad member row {elem:?}"));
                continue;
            }
            let pos = position(score, &elem[8..]);
            let want: &[u8] = if bits == NEG_ZERO { raw } else { &[] };
            match order.get(pos.as_slice()) {
                Some(stored) if *stored == want => {}
                Some(_) => problems.push(format!("zset {name}: -0 mark wrong for {elem:?}")),
                None => problems.push(format!("zset {name}: member {elem:?} not in score order")),
            }
        }
        let blocks = self.rows_of(ElemTable::ZBlocks, phys, key)?;
        let positions: Vec<&[u8]> = order.keys().copied().collect();
        match (blocks.first(), positions.first()) {
            (None, None) => return Ok(()),
            (Some((start, _)), Some(first)) if start.as_slice() == *first => {}
            _ => {
                problems.push(format!(
                    "zset {name}: rank index does not start at the first element"
                ));
                return Ok(());
            }
        }
        let mut total = 0;
        for (i, (start, value)) in blocks.iter().enumerate() {
            let c = count_of_block(value);
            let Ok(at) = positions.binary_search(&start.as_slice()) else {
                problems.push(format!("zset {name}: block {start:?} starts at no element"));
                continue;
            };
            let next = match blocks.get(i + 1) {
                Some((s, _)) => positions
                    .binary_search(&s.as_slice())
                    .unwrap_or(positions.len()),
                None => positions.len(),
            };
            if !(1..=BLOCK_MAX).contains(&c) || next.saturating_sub(at) as u64 != c {
                problems.push(format!(
                    "zset {name}: block {start:?} says {c}, holds {}",
                    next.saturating_sub(at)
                ));
            }
            total += c;
        }
        if total != positions.len() as u64 {
            problems.push(format!(
                "zset {name}: blocks sum to {total} for {} elements",
                positions.len()
            ));
        }
        Ok(())
    }

    /// Every element row belongs to a key whose type owns that table.
    fn check_orphans(
        &mut self,
        records: &Records,
        problems: &mut Vec<String>,
    ) -> Result<(), IntegrityError> {
        for table in ElemTable::ALL {
            let t = self.elem_table(table)?;
            if t.len()? == 0 {
                continue;
            }
            let mut last: Option<(u8, Vec<u8>)> = None;
            for item in t.iter()? {
                let (k, _) = item?;
                let k = k.value();
                let owner = k.get(1..5).and_then(|l| {
                    let len = u32::from_be_bytes(l.try_into().ok()?) as usize;
                    Some((k[0], k.get(5..5 + len)?.to_vec()))
                });
                let Some(owner) = owner else {
                    problems.push(format!("{table:?}: row with a bad key {k:?}"));
                    continue;
                };
                if last.as_ref() == Some(&owner) {
                    continue;
                }
                let owned = records
                    .get(&owner)
                    .is_some_and(|(kind, _)| kind.elem_tables().contains(&table));
                if !owned {
                    problems.push(format!(
                        "{table:?}: rows of {} (db {}) without a key of their type",
                        show(&owner.1),
                        owner.0
                    ));
                }
                last = Some(owner);
            }
        }
        Ok(())
    }
}

/// A list's rows against its record: each position of `head..tail` has exactly one item, in
/// its chunk's run (inline, or marked as in its own row, which then exists) or in its own row;
/// no row lies outside `head..tail`.
fn check_list(
    name: &str,
    (head, tail): (i64, i64),
    count: u64,
    rows: &[ElemRow],
    problems: &mut Vec<String>,
) {
    let mut own = std::collections::BTreeSet::new();
    let mut chunks = Vec::new();
    for (elem, value) in rows {
        if let Some(pos) = pos_of(elem) {
            own.insert(pos);
            continue;
        }
        let start = elem
            .split_last()
            .filter(|(&mark, _)| mark == CHUNK_MARK)
            .and_then(|(_, pos)| pos_of(pos))
            .filter(|&s| chunk_start(s) == s);
        let chunk = start.map(|s| Chunk::decode(s, value.clone()));
        match chunk {
            Some(Ok(chunk)) => chunks.push(chunk),
            _ => problems.push(format!("list {name}: bad row {elem:?}")),
        }
    }
    let mut items = own.len() as u64;
    let mut doubled = 0;
    for chunk in &chunks {
        if chunk.first() < head || chunk.end() > tail {
            problems.push(format!(
                "list {name}: chunk run {}..{} outside {head}..{tail}",
                chunk.first(),
                chunk.end()
            ));
        }
        for (pos, item) in chunk.items() {
            let inline = item.is_some();
            // One wrong position is enough to report; a thousand would bury the others.
            if inline == own.contains(&pos) && doubled < 3 {
                doubled += 1;
                problems.push(format!(
                    "list {name}: position {pos} has {} items",
                    if inline { 2 } else { 0 }
                ));
            }
            items += u64::from(inline);
        }
    }
    if let Some(p) = own.iter().find(|p| !(head..tail).contains(*p)) {
        problems.push(format!("list {name}: item at {p} outside {head}..{tail}"));
    }
    if items != count {
        problems.push(format!("list {name}: count {count} but {items} items"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::meta_key;
    use crate::keyspace::slotted;
    use crate::keyspace::with_test_keyspace;
    use crate::protocol::Reply;
    use crate::{Engine, Session};

    fn problems(f: impl FnOnce(&mut Keyspace<'_, '_>)) -> Vec<String> {
        with_test_keyspace(|ks| {
            f(ks);
            match ks.check_integrity() {
                Ok(()) => Vec::new(),
                Err(IntegrityError::Broken(p)) => p,
                Err(e) => panic!("{e}"),
            }
        })
    }

    #[test]
    fn a_keyspace_written_by_commands_is_consistent() {
        let mut engine = Engine::memory();
        let mut session = Session::default();
        let members: Vec<String> = (0..40).map(|i| format!("{} m{i}", i % 5)).collect();
        let script = [
            "SET s v EX 100".to_string(),
            "HSET h a 1 b 2".into(),
            "RPUSH l a b c".into(),
            "LPUSH l z".into(),
            "SADD set 1 2 x".into(),
            format!("ZADD z {}", members.join(" ")),
            "ZREM z m3 m7 m11".into(),
            "ZREMRANGEBYRANK z 0 9".into(),
            "SWAPDB 0 3".into(),
            "COPY z z2 DB 5".into(),
            "SET h overwritten".into(),
        ];
        for line in &script {
            let argv: Vec<&str> = line.split(' ').collect();
            let mut reply = Reply::new();
            engine
                .execute(1_000, &mut session, &argv, &mut reply)
                .unwrap();
            assert!(!reply.as_bytes().starts_with(b"-"), "{line}: {reply:?}");
            engine.check_integrity().unwrap();
        }
    }

    #[test]
    fn a_count_that_differs_from_the_rows_is_reported() {
        let found = problems(|ks| {
            ks.put(0, b"h", Kind::Hash, None, &2u64.to_le_bytes())
                .unwrap();
            ks.elem_put(ElemTable::HashFields, 0, b"h", &slotted(b"f"), b"v")
                .unwrap();
        });
        assert_eq!(found, ["hash h: count 2 but 1 element rows"]);
    }

    #[test]
    fn a_record_cache_entry_that_differs_from_the_table_is_reported() {
        let found = problems(|ks| {
            ks.put(0, b"s", Kind::String, None, b"v").unwrap();
            ks.flush_meta().unwrap();
            meta_key(&mut ks.held.kbuf, 0, b"s");
            ks.cache.store(META_TAG, &ks.held.kbuf, None);
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("the record cache disagrees"),
            "{found:?}"
        );
    }

    #[test]
    fn rows_without_their_key_are_reported() {
        let found = problems(|ks| {
            ks.elem_put(ElemTable::SetMembers, 0, b"ghost", &slotted(b"m"), b"")
                .unwrap();
        });
        assert_eq!(
            found,
            ["SetMembers: rows of ghost (db 0) without a key of their type"]
        );
    }

    #[test]
    fn wrong_counters_and_a_missing_deadline_are_reported() {
        let found = problems(|ks| {
            ks.put(0, b"k", Kind::String, Some(5_000), b"v").unwrap();
            expire_key(&mut ks.held.ebuf, 5_000, 0, b"k");
            opened(&mut ks.held.expires, ks.txn, EXPIRES)
                .unwrap()
                .remove(ks.held.ebuf.as_slice())
                .unwrap();
            ks.counters.keys[2] = 1;
        });
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("key counters"), "{found:?}");
        assert!(
            found[1].contains("missing from the expiry index"),
            "{found:?}"
        );
    }

    #[test]
    fn a_rank_index_that_miscounts_is_reported() {
        let found = problems(|ks| {
            ks.put(0, b"z", Kind::ZSet, None, &[2, 0, 0, 0, 0, 0, 0, 0, 0])
                .unwrap();
            for (m, s) in [(&b"a"[..], 1.0), (b"b", 2.0)] {
                ks.zset_insert(0, b"z", m, s, None).unwrap();
            }
            let first = position(1.0, b"a");
            ks.elem_put(ElemTable::ZBlocks, 0, b"z", &first, &3u32.to_le_bytes())
                .unwrap();
        });
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("says 3, holds 2"), "{found:?}");
    }
}
