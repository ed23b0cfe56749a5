//! The rows of a list (format 2): its items in chunks of [`SLOTS`] positions.
//!
//! A list's record holds `head..tail`, the dense positions of its items (see
//! `commands/lists.rs`). Positions `s..s + SLOTS` with `s` a multiple of [`SLOTS`] form chunk `s`.
//! A chunk row (element `[sortable s][CHUNK_MARK]`, see [`chunk_elem`]) holds the items of a
//! contiguous run of its positions, `first..end`: `[first - s u8][entries u8]` then one entry per
//! position, a LEB128 header `h` followed, when `h > 0`, by the item's `h - 1` bytes. `h == 0`
//! marks an item too large to keep inline ([`INLINE_MAX`], [`CHUNK_BYTES`]): it sits in its own
//! row, element `[sortable position]` (format 1's only row kind, so a format-1 list, all own
//! rows, reads as is).
//!
//! Invariant: every position `p` in `head..tail` has exactly one item: inline in chunk
//! `chunk_start(p)` if `p` is in that chunk's run and its entry is inline; otherwise in own row
//! `p`. No row lies outside `head..tail`, and a chunk row is never empty.
//!
//! Why chunks: with a row per item, every push and pop was a B-tree insert or removal, and
//! redb's leaf update moves the leaf's contents, which dominated pipelined LPUSH and RPOP. A
//! chunk row is one record-cache entry: 32 pushes or pops change it in
//! memory, and the B-tree receives it once when the cache flushes. LRANGE of 100 items reads
//! four rows instead of 100.

use super::{ElemTable, Keyspace};
use crate::storage::StorageError;

const T: ElemTable = ElemTable::ListItems;

/// Positions per chunk.
pub(crate) const SLOTS: i64 = 32;
/// The last byte of a chunk row's element, which makes it one byte longer than an own row's.
pub(crate) const CHUNK_MARK: u8 = b'c';
/// Items longer than this get their own row: copying them with every change of their chunk
/// would cost more than their own B-tree row.
const INLINE_MAX: usize = 128;
/// A chunk's encoded size stays within this, so it always fits the record cache
/// (`cache::MAX_LIST_ENTRY`) with a key of a few hundred bytes.
pub(crate) const CHUNK_BYTES: usize = 1536;

/// Positions are 64-bit signed; flipping the sign bit makes their big-endian bytes sort like the
/// numbers, so a list's rows lie in order in the element table.
pub(crate) fn pos_key(pos: i64) -> [u8; 8] {
    ((pos as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn pos_of(elem: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = elem.try_into().ok()?;
    Some((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

/// The first position of the chunk holding `pos` (floor to a multiple of [`SLOTS`]).
pub(crate) fn chunk_start(pos: i64) -> i64 {
    pos & !(SLOTS - 1)
}

/// Chunk `start`'s positions that lie in `lo..hi`, as `(from, to)`.
fn within(start: i64, lo: i64, hi: i64) -> (i64, i64) {
    let to = start.checked_add(SLOTS).map_or(hi, |end| end.min(hi));
    (lo.max(start), to)
}

/// The element of chunk `start`'s row. It sorts right after own row `start`, so a range of
/// positions `[lo, hi)` covers the chunk rows whose start lies in it.
pub(crate) fn chunk_elem(start: i64) -> [u8; 9] {
    let mut e = [CHUNK_MARK; 9];
    e[..8].copy_from_slice(&pos_key(start));
    e
}

fn corrupt() -> StorageError {
    StorageError::Corrupt("list chunk")
}

/// One entry of a chunk: where its bytes lie in the row.
#[derive(Clone)]
pub(crate) struct Span {
    /// The whole entry (header and item).
    whole: std::ops::Range<usize>,
    /// The item's bytes, `None` when it has its own row.
    inline: Option<std::ops::Range<usize>>,
}

/// A chunk row, checked by [`Chunk::decode`] and then edited in place: a push or a pop changes
/// an end of the row without building a new one.
pub(crate) struct Chunk {
    start: i64,
    bytes: Vec<u8>,
}

impl Chunk {
    /// Chunk `start`'s row, once every entry is checked to lie within it.
    pub(crate) fn decode(start: i64, bytes: Vec<u8>) -> Result<Chunk, StorageError> {
        let (&first, &n) = (
            bytes.first().ok_or_else(corrupt)?,
            bytes.get(1).ok_or_else(corrupt)?,
        );
        if n == 0 || i64::from(first) + i64::from(n) > SLOTS {
            return Err(corrupt());
        }
        let chunk = Chunk { start, bytes };
        let mut end = 2;
        let mut seen = 0;
        for span in chunk.spans() {
            end = span.whole.end;
            seen += 1;
        }
        if seen != usize::from(n) || end != chunk.bytes.len() {
            return Err(corrupt());
        }
        Ok(chunk)
    }

    /// The entries in order; stops early at a malformed one (which [`Chunk::decode`] rejects).
    fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let mut at = 2;
        let n = self.bytes.get(1).copied().unwrap_or(0);
        (0..n).map_while(move |_| {
            let (h, len) = read_varint(self.bytes.get(at..)?)?;
            let data = at + len;
            let inline = match h {
                0 => None,
                h => {
                    let size = usize::try_from(h - 1).ok()?;
                    let end = data.checked_add(size).filter(|&e| e <= self.bytes.len())?;
                    Some(data..end)
                }
            };
            let end = inline.as_ref().map_or(data, |r| r.end);
            let span = Span {
                whole: at..end,
                inline,
            };
            at = end;
            Some(span)
        })
    }

    /// The `i`th entry (`i` below the entry count).
    fn span(&self, i: usize) -> Result<Span, StorageError> {
        self.spans().nth(i).ok_or_else(corrupt)
    }

    fn len(&self) -> usize {
        usize::from(self.bytes[1])
    }

    /// The first position of the run.
    pub(crate) fn first(&self) -> i64 {
        self.start + i64::from(self.bytes[0])
    }

    /// The position after the run.
    pub(crate) fn end(&self) -> i64 {
        self.first() + self.len() as i64
    }

    fn contains(&self, pos: i64) -> bool {
        (self.first()..self.end()).contains(&pos)
    }

    /// The entry at `pos` (within the run): `Some(item)` inline, `None` in its own row.
    pub(crate) fn item(&self, pos: i64) -> Option<&[u8]> {
        let span = self.spans().nth((pos - self.first()) as usize)?;
        span.inline.map(|r| &self.bytes[r])
    }

    /// Items of the run with their positions, in order.
    pub(crate) fn items(&self) -> impl Iterator<Item = (i64, Option<&[u8]>)> + '_ {
        let first = self.first();
        self.spans()
            .enumerate()
            .map(move |(i, s)| (first + i as i64, s.inline.map(|r| &self.bytes[r])))
    }

    /// The inline items of the run by slot (position minus the chunk's start); `None` for a
    /// slot whose item, if any, has its own row.
    fn inline_by_slot(&self) -> [Option<&[u8]>; SLOTS as usize] {
        let mut inline = [None; SLOTS as usize];
        for (p, item) in self.items() {
            inline[(p - self.start) as usize] = item;
        }
        inline
    }

    /// Replaces the bytes in `range` (an entry, or none) with `item`'s entry (`None`: in its own
    /// row), in one new buffer. Why not `Vec::splice` of the entry encoded apart: that
    /// allocated twice (the row's bytes arrive with no spare capacity), a visible share of
    /// LPUSH's throughput.
    fn put_entry(&mut self, range: std::ops::Range<usize>, item: Option<&[u8]>) {
        let len = self.bytes.len() - range.len() + encoded_len(item);
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(&self.bytes[..range.start]);
        encode(&mut bytes, item);
        bytes.extend_from_slice(&self.bytes[range.end..]);
        self.bytes = bytes;
    }

    /// Adds an entry after the run.
    fn append(&mut self, item: Option<&[u8]>) {
        encode(&mut self.bytes, item);
        self.bytes[1] += 1;
    }

    /// Adds an entry before the run.
    fn prepend(&mut self, item: Option<&[u8]>) {
        self.put_entry(2..2, item);
        self.bytes[0] -= 1;
        self.bytes[1] += 1;
    }

    /// Keeps the entries `from..to` of the run (none: the row is then removed when stored).
    fn keep(&mut self, from: usize, to: usize) -> Result<(), StorageError> {
        let n = self.len();
        if from >= to {
            self.bytes[1] = 0;
            return Ok(());
        }
        if to < n {
            let cut = self.span(to)?.whole.start;
            self.bytes.truncate(cut);
        }
        if from > 0 {
            let cut = self.span(from)?.whole.start;
            self.bytes.drain(2..cut);
        }
        self.bytes[0] += from as u8;
        self.bytes[1] = (to - from) as u8;
        Ok(())
    }
}

fn encoded_len(item: Option<&[u8]>) -> usize {
    let h = item.map_or(0, |i| i.len() as u64 + 1);
    varint_len(h) + item.map_or(0, <[u8]>::len)
}

fn encode(out: &mut Vec<u8>, item: Option<&[u8]>) {
    let mut h = item.map_or(0, |i| i.len() as u64 + 1);
    loop {
        let byte = (h & 0x7f) as u8;
        h >>= 7;
        if h == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    if let Some(item) = item {
        out.extend_from_slice(item);
    }
}

fn varint_len(mut h: u64) -> usize {
    let mut n = 1;
    while h >= 0x80 {
        h >>= 7;
        n += 1;
    }
    n
}

/// A LEB128 value of at most 64 bits and its length; `None` when cut short or too long.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let part = u64::from(b & 0x7f);
        if i == 9 && part > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Whether `item` may sit in a chunk of `size` encoded bytes.
fn fits_inline(item: &[u8], size: usize) -> bool {
    item.len() <= INLINE_MAX && size + encoded_len(Some(item)) <= CHUNK_BYTES
}

impl Keyspace<'_, '_> {
    fn list_chunk(
        &mut self,
        db: usize,
        key: &[u8],
        start: i64,
    ) -> Result<Option<Chunk>, StorageError> {
        match self.elem_get(T, db, key, &chunk_elem(start))? {
            Some(bytes) => Chunk::decode(start, bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Writes `chunk`'s row back (removes it if its run is empty).
    fn list_store(&mut self, db: usize, key: &[u8], chunk: &Chunk) -> Result<(), StorageError> {
        let bytes = (chunk.len() > 0).then_some(chunk.bytes.as_slice());
        self.elem_write(T, db, key, &chunk_elem(chunk.start), bytes)
    }

    fn list_own(
        &mut self,
        db: usize,
        key: &[u8],
        pos: i64,
        item: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        self.elem_write(T, db, key, &pos_key(pos), item)
    }

    /// The item at `pos` of the list at `key`.
    pub fn list_get(
        &mut self,
        db: usize,
        key: &[u8],
        pos: i64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(chunk) = self.list_chunk(db, key, chunk_start(pos))? {
            if chunk.contains(pos) {
                if let Some(item) = chunk.item(pos) {
                    return Ok(Some(item.to_vec()));
                }
            }
        }
        self.elem_get(T, db, key, &pos_key(pos))
    }

    /// Sets the item at `pos`. `fresh`: `pos` holds no item yet (it is just outside
    /// `head..tail`, a push), so a chunk whose run it extends can take it.
    pub fn list_put(
        &mut self,
        db: usize,
        key: &[u8],
        pos: i64,
        item: &[u8],
        fresh: bool,
    ) -> Result<(), StorageError> {
        let start = chunk_start(pos);
        match self.list_chunk(db, key, start)? {
            Some(mut chunk) if chunk.contains(pos) => {
                let span = chunk.span((pos - chunk.first()) as usize)?;
                let external = span.inline.is_none();
                if fits_inline(item, chunk.bytes.len() - span.whole.len()) {
                    chunk.put_entry(span.whole.clone(), Some(item));
                    self.list_store(db, key, &chunk)?;
                    if external {
                        self.list_own(db, key, pos, None)?;
                    }
                } else {
                    if !external {
                        chunk.put_entry(span.whole.clone(), None);
                        self.list_store(db, key, &chunk)?;
                    }
                    self.list_own(db, key, pos, Some(item))?;
                }
            }
            Some(mut chunk) if fresh && (pos == chunk.first() - 1 || pos == chunk.end()) => {
                let inline = fits_inline(item, chunk.bytes.len()).then_some(item);
                if pos == chunk.end() {
                    chunk.append(inline);
                } else {
                    chunk.prepend(inline);
                }
                self.list_store(db, key, &chunk)?;
                if inline.is_none() {
                    self.list_own(db, key, pos, Some(item))?;
                }
            }
            None if fresh => {
                let inline = fits_inline(item, 2).then_some(item);
                let mut bytes = vec![(pos - start) as u8, 0];
                encode(&mut bytes, inline);
                bytes[1] = 1;
                self.list_store(db, key, &Chunk { start, bytes })?;
                if inline.is_none() {
                    self.list_own(db, key, pos, Some(item))?;
                }
            }
            _ => self.list_own(db, key, pos, Some(item))?,
        }
        Ok(())
    }

    /// Removes and returns the item at `pos`, an end of the list (its head or its last item).
    pub fn list_pop(
        &mut self,
        db: usize,
        key: &[u8],
        pos: i64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let start = chunk_start(pos);
        if let Some(mut chunk) = self.list_chunk(db, key, start)? {
            if chunk.contains(pos) {
                let i = (pos - chunk.first()) as usize;
                let span = chunk.span(i)?;
                let item = span.inline.clone().map(|r| chunk.bytes[r].to_vec());
                // The run lies within the list, so `pos`, an end of the list, ends the run.
                if i == 0 {
                    chunk.bytes.drain(2..span.whole.end);
                    chunk.bytes[0] += 1;
                } else if i + 1 == chunk.len() {
                    chunk.bytes.truncate(span.whole.start);
                } else {
                    return Err(corrupt());
                }
                chunk.bytes[1] -= 1;
                self.list_store(db, key, &chunk)?;
                return match item {
                    Some(item) => Ok(Some(item)),
                    None => self.elem_remove(T, db, key, &pos_key(pos)),
                };
            }
        }
        self.elem_remove(T, db, key, &pos_key(pos))
    }

    /// Removes the items at positions `lo..hi`, which start or end the list.
    pub fn list_remove_range(
        &mut self,
        db: usize,
        key: &[u8],
        lo: i64,
        hi: i64,
    ) -> Result<(), StorageError> {
        if lo >= hi {
            return Ok(());
        }
        let (first, last) = (chunk_start(lo), chunk_start(hi - 1));
        // The chunks in between lie wholly inside: one pass over their rows and own rows.
        if let Some(inner) = first.checked_add(SLOTS).filter(|&s| s < last) {
            self.elem_remove_range(T, db, key, &pos_key(inner), &pos_key(last))?;
        }
        self.list_trim_chunk(db, key, first, lo, hi)?;
        if last != first {
            self.list_trim_chunk(db, key, last, lo, hi)?;
        }
        Ok(())
    }

    /// Removes the items of chunk `start`'s positions that lie in `lo..hi`.
    fn list_trim_chunk(
        &mut self,
        db: usize,
        key: &[u8],
        start: i64,
        lo: i64,
        hi: i64,
    ) -> Result<(), StorageError> {
        let (from, to) = within(start, lo, hi);
        let chunk = self.list_chunk(db, key, start)?;
        let inline = chunk
            .as_ref()
            .map(Chunk::inline_by_slot)
            .unwrap_or_default();
        for pos in from..to {
            if inline[(pos - start) as usize].is_none() {
                self.list_own(db, key, pos, None)?;
            }
        }
        let Some(mut chunk) = chunk else {
            return Ok(());
        };
        let (a, b) = (chunk.first(), chunk.end());
        if b <= from || a >= to {
            return Ok(());
        }
        // Entries before `from` and from `to` on stay.
        let (left, right) = ((from.max(a) - a) as usize, (to.min(b) - a) as usize);
        let n = chunk.len();
        if left > 0 {
            // A run cut in two keeps its left part; the right part's inline items move to
            // their own rows.
            let moved: Vec<(i64, Vec<u8>)> = chunk
                .items()
                .skip(right)
                .filter_map(|(p, item)| Some((p, item?.to_vec())))
                .collect();
            for (p, item) in moved {
                self.list_own(db, key, p, Some(&item))?;
            }
            chunk.keep(0, left)?;
        } else {
            // Nothing left when the range reaches the run's end.
            chunk.keep(right, n)?;
        }
        self.list_store(db, key, &chunk)
    }

    /// Calls `visit(position, item)` for up to `limit` items at positions `lo..hi`, from the
    /// low end or (`reverse`) the high end; returns how many it visited, fewer than asked when
    /// an item is missing.
    pub fn list_read(
        &mut self,
        db: usize,
        key: &[u8],
        (lo, hi): (i64, i64),
        reverse: bool,
        limit: u64,
        mut visit: impl FnMut(i64, &[u8]),
    ) -> Result<u64, StorageError> {
        let mut seen = 0;
        if lo >= hi {
            return Ok(0);
        }
        let mut start = chunk_start(if reverse { hi - 1 } else { lo });
        loop {
            let (from, to) = within(start, lo, hi);
            let chunk = self.list_chunk(db, key, start)?;
            let inline = chunk
                .as_ref()
                .map(Chunk::inline_by_slot)
                .unwrap_or_default();
            let n = to.abs_diff(from);
            for i in 0..n as i64 {
                if seen == limit {
                    return Ok(seen);
                }
                let pos = if reverse { to - 1 - i } else { from + i };
                match inline[(pos - start) as usize] {
                    Some(item) => visit(pos, item),
                    None => match self.elem_get(T, db, key, &pos_key(pos))? {
                        Some(item) => visit(pos, &item),
                        None => return Ok(seen),
                    },
                }
                seen += 1;
            }
            let next = if reverse {
                (start > lo).then(|| start - SLOTS)
            } else {
                start.checked_add(SLOTS).filter(|&s| s < hi)
            };
            match next {
                Some(next) => start = next,
                None => return Ok(seen),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{with_test_keyspace, Kind};

    fn record(ks: &mut Keyspace<'_, '_>, head: i64, tail: i64) {
        let mut body = [0u8; 24];
        body[..8].copy_from_slice(&tail.abs_diff(head).to_le_bytes());
        body[8..16].copy_from_slice(&head.to_le_bytes());
        body[16..].copy_from_slice(&tail.to_le_bytes());
        ks.put(0, b"l", Kind::List, None, &body).unwrap();
    }

    fn items(ks: &mut Keyspace<'_, '_>, lo: i64, hi: i64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let n = ks
            .list_read(0, b"l", (lo, hi), false, u64::MAX, |_, item| {
                out.push(item.to_vec())
            })
            .unwrap();
        assert_eq!(n as usize, out.len());
        out
    }

    /// A format-1 list has a row per item and no chunk: it reads as is, and pushes, pops and
    /// sets on it keep one item per position while chunks form around the old rows.
    #[test]
    fn a_format_1_list_of_own_rows_reads_and_changes() {
        with_test_keyspace(|ks| {
            let item = |p: i64| format!("i{p}").into_bytes();
            for p in -5..40 {
                ks.elem_put(T, 0, b"l", &pos_key(p), &item(p)).unwrap();
            }
            record(ks, -5, 40);
            ks.check_integrity().unwrap();
            let want: Vec<Vec<u8>> = (-5..40).map(item).collect();
            assert_eq!(items(ks, -5, 40), want);
            // Pushes at both ends start chunks next to the own rows.
            ks.list_put(0, b"l", -6, b"new-head", true).unwrap();
            ks.list_put(0, b"l", 40, b"new-tail", true).unwrap();
            record(ks, -6, 41);
            ks.check_integrity().unwrap();
            assert_eq!(ks.list_get(0, b"l", -6).unwrap().unwrap(), b"new-head");
            // LSET of an own row, a pop of one, and a trim across a chunk boundary.
            ks.list_put(0, b"l", 10, b"ten", false).unwrap();
            assert_eq!(ks.list_pop(0, b"l", -6).unwrap().unwrap(), b"new-head");
            assert_eq!(ks.list_pop(0, b"l", -5).unwrap().unwrap(), item(-5));
            ks.list_remove_range(0, b"l", 30, 41).unwrap();
            record(ks, -4, 30);
            ks.check_integrity().unwrap();
            let mut want: Vec<Vec<u8>> = (-4..30).map(item).collect();
            want[14] = b"ten".to_vec();
            assert_eq!(items(ks, -4, 30), want);
        });
    }

    /// An item too long for a chunk gets its own row, marked in the chunk; setting a short one
    /// in its place brings it back into the chunk and removes the row.
    #[test]
    fn a_long_item_moves_between_its_own_row_and_the_chunk() {
        with_test_keyspace(|ks| {
            let long = vec![b'x'; INLINE_MAX + 1];
            ks.list_put(0, b"l", 0, b"a", true).unwrap();
            ks.list_put(0, b"l", 1, &long, true).unwrap();
            record(ks, 0, 2);
            ks.check_integrity().unwrap();
            assert_eq!(
                ks.elem_get(T, 0, b"l", &pos_key(1)).unwrap(),
                Some(long.clone())
            );
            assert_eq!(items(ks, 0, 2), vec![b"a".to_vec(), long]);
            ks.list_put(0, b"l", 1, b"b", false).unwrap();
            assert_eq!(ks.elem_get(T, 0, b"l", &pos_key(1)).unwrap(), None);
            ks.check_integrity().unwrap();
            assert_eq!(items(ks, 0, 2), vec![b"a".to_vec(), b"b".to_vec()]);
        });
    }
}
