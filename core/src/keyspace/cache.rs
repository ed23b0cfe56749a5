//! A bounded cache of rows in front of the B-trees — the `meta` table's key records, the
//! element rows of hashes, sets and sorted sets' members, and the chunk rows of lists — which
//! also holds the open transaction's writes of those rows until they are applied in key order.
//!
//! Why: a GET on a disk-resident B-tree walks three or four pages, each through redb's page cache
//! (a lock, a hash lookup, a reference count) and a dozen key comparisons: that walk was the
//! largest part of the server's CPU under pipelined GETs, where Redis pays one hash lookup. A
//! random-key write paid the same walk plus the leaf update, and an SADD or HSET the same for
//! its element row. This cache answers a
//! repeated lookup with one hash probe (absences included: a GET of a missing key, or an SADD of
//! a new member, is as common as a hit), and takes a write of a row it knows with one probe: the
//! written rows wait here (*pending*) and go into their B-tree together, sorted, so consecutive
//! inserts find their pages already in the CPU's cache, a row written twice is inserted once,
//! and a write that changes nothing (SADD of a member already there) is not made at all.
//! Pending `meta` rows wait in buckets by key range, and past a limit only the fullest bucket
//! is flushed (see [`META_BUCKETS`]). A row
//! it does not know is written straight into its B-tree by `Keyspace` (one walk finds the old
//! row and writes the new one) and then stored here as clean.
//!
//! Each row is cached under its table's *tag* ([`META_TAG`] or an element table's, see
//! `Keyspace`) and its B-tree key. Invariant: each cached table as the commands see it is its
//! B-tree overlaid with its pending entries. A clean entry equals the B-tree row (or its
//! absence); a pending entry is a write the B-tree has not received yet. So:
//! - every write of a cached table goes through [`Keyspace`](super::Keyspace): into this cache
//!   if it knows the row; else straight into the B-tree, then stored here as clean; or, for an
//!   entry too large to cache, straight into the B-tree after forgetting the row here;
//! - whatever reads a cached B-tree directly (a range walk: SCAN, SMEMBERS, HGETALL, FLUSHDB, the
//!   integrity check) first [`flush`](RowCache::flush)es that table's pending entries, and
//!   whatever commits the transaction first flushes them all;
//! - whatever removes rows of a cached table by range (DEL of a collection) forgets each
//!   removed row here;
//! - a failed flush leaves the transaction half-written, like any failed write: the engine
//!   drops the transaction, and with it this cache ([`RowCache::clear`]), as it does on abort,
//!   failed replay and reopen.
//!
//! Entries need no expiry of their own: a key record carries its deadline, checked on every read
//! as for a B-tree row, and an element is only read after its key's record.
//!
//! Hand-written on hashbrown rather than a cache crate because one entry is one allocation (key
//! and row together, one cache miss after the table's) and the pending flag must pin an entry
//! against eviction. Eviction is CLOCK in sweeps: when the entries outweigh the byte budget, a
//! sweep drops the clean entries not read since they were cached or since the previous sweep
//! (and, if that is not enough, other clean entries), down to three quarters of the budget, so
//! each entry costs a bounded number of visits. The budget is part of the memory the
//! `cache-size` setting bounds.

use hashbrown::HashTable;
use redb::Table;

use super::ranks::RankIndex;
use super::{ElemTable, DATABASES};
use crate::storage::StorageError;

/// How many tables the cache serves: `meta` and the element tables `Keyspace` caches.
pub(crate) const TAGS: usize = 5;
/// The tag of the `meta` table's rows.
pub(crate) const META_TAG: u8 = 0;

/// Entries with more key and record bytes than this are not cached: their B-tree walk is small
/// next to copying them.
const MAX_ENTRY: usize = 512;

/// The tags of the hash fields', set members' and sorted-set members' rows, which their key's
/// `meta` entry counts.
pub(crate) const HASH_TAG: u8 = 1;
pub(crate) const SET_TAG: u8 = 2;
pub(crate) const ZSET_TAG: u8 = 4;
/// The tag of the list chunk rows (`lists.rs`).
pub(crate) const LIST_TAG: u8 = 3;

/// Whether a key's `meta` entry counts the cached rows of the table tagged `tag`.
pub(crate) fn counted(tag: u8) -> bool {
    tag == HASH_TAG || tag == SET_TAG || tag == ZSET_TAG
}

/// The `meta` row key of the key that the element row `row` belongs to: `[phys][len u32
/// BE][key][element]` gives `[phys][slot][key]`. `false` when `row` is too short.
pub(crate) fn meta_row_of(buf: &mut Vec<u8>, row: &[u8]) -> bool {
    match key_end(row).and_then(|end| row.get(5..end)) {
        Some(key) => {
            super::meta_key(buf, row[0], key);
            true
        }
        None => false,
    }
}

/// Where the key of the element row `row` ends (and its element starts), from its length.
fn key_end(row: &[u8]) -> Option<usize> {
    let len = <[u8; 4]>::try_from(row.get(1..5)?).ok()?;
    5usize.checked_add(u32::from_be_bytes(len) as usize)
}

/// A list chunk row may be larger: it is rewritten in place of 32 separate rows, and a chunk
/// that did not fit would send every push straight to the B-tree.
const MAX_LIST_ENTRY: usize = 2048;

/// Bookkeeping per entry beyond its bytes (table slot, allocation header), for the budget.
const ENTRY_OVERHEAD: u64 = 48;

/// Read since the last sweep.
const REFERENCED: u8 = 1;
/// A write the B-tree has not received yet.
const PENDING: u8 = 2;
/// The key has a record (else the entry records its absence).
const PRESENT: u8 = 4;

/// One cached row: its B-tree key followed by its value (a key record, an element's value).
struct Slot {
    data: Bytes,
    key_len: u16,
    tag: u8,
    flags: u8,
    /// In a `meta` entry: a lower bound on how many of its key's hash fields, set members or
    /// sorted-set members this cache holds as present (see [`RowCache::lookup_elem`]). Counted from the entry's
    /// creation; a removal of a row counted before it may take one off too many, never too
    /// few, so it never exceeds the true number.
    elems: u32,
}

/// How many bytes a slot holds in place. Why: a lookup that missed the CPU's caches paid one
/// more miss to reach a separately allocated key; in place, the key is in the slot the probe
/// lands on, which makes a random lookup markedly faster. 46 bytes
/// make the slot 56 bytes, and hold a short key with its record (a 16-byte key and a small
/// string value, a set member row).
const INLINE: usize = 46;

// A slot's lengths are a `u8` (in place) and a `u16` (its key, at most MAX_LIST_ENTRY bytes).
const _: () = assert!(
    INLINE <= u8::MAX as usize
        && MAX_ENTRY <= MAX_LIST_ENTRY
        && MAX_LIST_ENTRY <= u16::MAX as usize
);

/// A row's bytes: in place when they fit, else on the heap, in a `Vec` so that a record
/// rewritten a little longer each time (a list chunk, one item per push) grows in place.
enum Bytes {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Vec<u8>),
}

impl Bytes {
    fn new(parts: [&[u8]; 2]) -> Bytes {
        let len = parts[0].len() + parts[1].len();
        if len <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..parts[0].len()].copy_from_slice(parts[0]);
            bytes[parts[0].len()..len].copy_from_slice(parts[1]);
            Bytes::Inline {
                len: len as u8,
                bytes,
            }
        } else {
            Bytes::Heap(parts.concat())
        }
    }

    fn get(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Bytes::Heap(heap) => heap,
        }
    }

    fn get_mut(&mut self) -> &mut [u8] {
        match self {
            Bytes::Inline { len, bytes } => &mut bytes[..usize::from(*len)],
            Bytes::Heap(heap) => heap,
        }
    }
}

impl Slot {
    fn key(&self) -> &[u8] {
        &self.data.get()[..usize::from(self.key_len)]
    }

    fn record(&self) -> Option<&[u8]> {
        (self.flags & PRESENT != 0).then(|| &self.data.get()[usize::from(self.key_len)..])
    }

    fn weight(&self) -> u64 {
        let held = match &self.data {
            Bytes::Inline { len, .. } => usize::from(*len),
            Bytes::Heap(heap) => heap.capacity(),
        };
        held as u64 + ENTRY_OVERHEAD
    }

    /// Makes this slot hold `record` for its key, in place when the size allows.
    fn set_record(&mut self, record: Option<&[u8]>) {
        let key_len = usize::from(self.key_len);
        let body = record.unwrap_or_default();
        let same_len = self.data.get().len() == key_len + body.len();
        match &mut self.data {
            data if same_len => data.get_mut()[key_len..].copy_from_slice(body),
            Bytes::Heap(heap) if key_len + body.len() > INLINE => {
                heap.truncate(key_len);
                heap.extend_from_slice(body);
            }
            _ => self.data = Bytes::new([self.key(), body]),
        }
        self.flags = (self.flags & !PRESENT) | if record.is_some() { PRESENT } else { 0 };
    }
}

/// Keeps a database's `meta_present` count as the entry at `key` goes from holding a key record
/// (`was`) or not to holding one (`now`) or not; entries of other tables are not counted.
fn count_present(counts: &mut [u64; DATABASES], tag: u8, key: &[u8], was: bool, now: bool) {
    if tag != META_TAG || was == now {
        return;
    }
    if let Some(n) = key
        .first()
        .and_then(|&phys| counts.get_mut(usize::from(phys)))
    {
        if now {
            *n += 1;
        } else {
            *n -= 1;
        }
    }
}

/// The hash of a row: its key's, told apart per table.
fn hash_row(hasher: &foldhash::fast::RandomState, tag: u8, key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one(key) ^ u64::from(tag).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The first 8 bytes of `key` (zero-padded) as a big-endian integer: ordering by it, then by
/// the whole key, is the keys' byte order.
fn sort_prefix(key: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    let n = key.len().min(8);
    head[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(head)
}

/// What the cache knows of one row.
pub(crate) enum Cached<'a> {
    /// Not cached: ask the B-tree.
    Unknown,
    /// There is no such row.
    Absent,
    /// The row's value.
    Record(&'a [u8]),
}

/// Rows by table tag and B-tree key, with the pending writes.
pub struct RowCache {
    slots: HashTable<Slot>,
    hasher: foldhash::fast::RandomState,
    /// 0: disabled (nothing is cached, every write goes straight to the B-tree).
    budget: u64,
    weight: u64,
    /// Per bucket (see [`bucket_of`]), the hashes of the entries made pending since its last
    /// flush (an entry forgotten since may have left its hash behind: a flush skips it).
    pending: [Vec<u64>; BUCKETS],
    /// Per bucket, bytes written into pending entries since its last flush (an over-estimate
    /// of what they hold: a row rewritten while pending counts each time).
    bucket_weight: [u64; BUCKETS],
    /// The sums of `pending`'s lengths and of `bucket_weight`.
    pending_rows: usize,
    pending_weight: u64,
    /// Some bucket holds [`BUCKET_LIMIT`] pending entries.
    bucket_full: bool,
    /// Entries per tag. Why: forgetting a row of a table with no cached row (list items
    /// before any LRANGE) skips a probe that missed the CPU's caches.
    entries: [usize; TAGS],
    /// Per physical database, the `meta` entries holding a key record (see
    /// [`lookup_meta`](RowCache::lookup_meta)).
    meta_present: [u64; DATABASES],
    /// A reused buffer for `meta` keys.
    scratch: Vec<u8>,
    /// The sorted sets' rank index, which lives and dies with the rest of the transaction's
    /// cached state.
    pub(super) ranks: RankIndex,
}

/// At most this many pending entries in all. The more wait, the more of them land on each
/// B-tree leaf a flush visits (while the leaf is in the CPU's cache) and the more rewrites of one
/// key merge; but a flush is a pause, so past this only the fullest bucket is flushed.
const PENDING_LIMIT: usize = 65536;

/// Draining before a commit (`Keyspace::drain_step`) stops at this many pending entries.
pub(crate) const DRAIN_KEEP: usize = 16384;

/// At most this many pending entries in one bucket: flushed at once, they are one pause, and
/// four times as many raised pipelined SETs' p99 more than twofold.
const BUCKET_LIMIT: usize = 4096;

/// Each table's pending rows wait in this many buckets by key range.
/// Why: random keys spread over the whole `meta` B-tree, so a flush of all pending rows visits
/// every leaf for a few rows each (4096 rows over 100 000 keys: about three per leaf, each
/// leaf a cache miss per comparison). One bucket's rows share a 64th of the key range: flushing
/// the fullest bucket of 65 536 pending rows puts about as many rows on each leaf it visits as
/// flushing all 65 536 at once would, for a 64th of the pause (65 536 rather than 32 768, with
/// half the budget rather than a quarter, was faster at the same p99). The members of one large set or hash spread
/// over its rows the same way, by their slot hash.
const META_BUCKETS: usize = 64;
const BUCKETS: usize = META_BUCKETS * TAGS;

/// The bucket of a pending row. A `meta` key is `[db][slot u64 BE][key]` with `slot` a hash,
/// so the top six bits of its second byte cut the key range of each database into 64 parts;
/// an element row is `[db][key length u32 BE][key][element]`, where a hash field's or set
/// member's element starts with its slot hash (a list chunk's with its position: the chunks
/// of a list then mostly share a bucket, as they share their leaves).
fn bucket_of(tag: u8, key: &[u8]) -> usize {
    let byte = if tag == META_TAG {
        key.get(1)
    } else {
        key_end(key).and_then(|end| key.get(end))
    };
    usize::from(tag) * META_BUCKETS + byte.map_or(0, |&b| usize::from(b >> 2))
}

/// The buckets of `tag`'s rows.
fn buckets_of(tag: u8) -> std::ops::Range<usize> {
    let first = usize::from(tag) * META_BUCKETS;
    first..first + META_BUCKETS
}

/// The tag whose rows wait in `bucket`.
fn tag_of_bucket(bucket: usize) -> u8 {
    (bucket / META_BUCKETS) as u8
}

impl RowCache {
    /// A cache holding at most about `budget` bytes; 0 disables it.
    pub fn new(budget: usize) -> RowCache {
        RowCache {
            slots: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            budget: budget as u64,
            weight: 0,
            pending: std::array::from_fn(|_| Vec::new()),
            bucket_weight: [0; BUCKETS],
            pending_rows: 0,
            pending_weight: 0,
            bucket_full: false,
            entries: [0; TAGS],
            meta_present: [0; DATABASES],
            scratch: Vec::new(),
            ranks: RankIndex::new(budget > 0),
        }
    }

    fn hash(&self, tag: u8, key: &[u8]) -> u64 {
        hash_row(&self.hasher, tag, key)
    }

    /// Whether `key` with `record` may be cached.
    pub(crate) fn admits(&self, tag: u8, key: &[u8], record: Option<&[u8]>) -> bool {
        let max = if tag == LIST_TAG {
            MAX_LIST_ENTRY
        } else {
            MAX_ENTRY
        };
        self.budget > 0 && key.len() + record.map_or(0, <[u8]>::len) <= max
    }

    pub(crate) fn lookup(&mut self, tag: u8, key: &[u8]) -> Cached<'_> {
        if self.budget == 0 {
            return Cached::Unknown;
        }
        let hash = self.hash(tag, key);
        match self
            .slots
            .find_mut(hash, |s| s.tag == tag && s.key() == key)
        {
            None => Cached::Unknown,
            Some(slot) => {
                slot.flags |= REFERENCED;
                match slot.record() {
                    None => Cached::Absent,
                    Some(record) => Cached::Record(record),
                }
            }
        }
    }

    /// As [`lookup`](RowCache::lookup) for the `meta` row `key`, where `keys` is how many key
    /// records its database holds. When the cache holds that many of them, it holds them all,
    /// and a row it does not know is absent. Why: a GET or a write of a key that does not exist
    /// otherwise walks the B-tree to find nothing (a cache miss per level), where Redis pays a
    /// hash probe; with every key of a database cached, a new key's record is written like a
    /// known one, into the cache.
    pub(crate) fn lookup_meta(&mut self, key: &[u8], keys: u64) -> Cached<'_> {
        let all = key
            .first()
            .and_then(|&phys| self.meta_present.get(usize::from(phys)))
            .is_some_and(|&present| present == keys);
        match self.lookup(META_TAG, key) {
            Cached::Unknown if all => Cached::Absent,
            known => known,
        }
    }

    /// As [`lookup`](RowCache::lookup) for the row `row` of a hash field or set member, where
    /// `count` is how many fields or members its key holds right now. When the key's `meta`
    /// entry counts that many of them cached, all of them are, and a row this cache does not
    /// know is absent. Why: an SADD of a new member or an HSET of a new field otherwise walks
    /// the B-tree to find nothing, and then writes the row there itself (a leaf insert at a
    /// random place); with the whole collection cached, the new row is written into the cache,
    /// and the flush inserts it with the others, in key order.
    ///
    /// `count` 0 means the key has no record: its first element is absent, and the key's
    /// `meta` entry is made (absent) if missing, so that it counts that element from the start.
    pub(crate) fn lookup_elem(&mut self, tag: u8, row: &[u8], count: u64) -> Cached<'_> {
        if !matches!(self.lookup(tag, row), Cached::Unknown) {
            return self.lookup(tag, row);
        }
        if counted(tag) && self.elems_of(row, count == 0) == Some(count) {
            Cached::Absent
        } else {
            Cached::Unknown
        }
    }

    /// What the `meta` entry of `row`'s key counts (see [`Slot::elems`]); `None` if it is not
    /// cached. `absent`: the key has no record, so a missing entry is made, as absent.
    fn elems_of(&mut self, row: &[u8], absent: bool) -> Option<u64> {
        let mut buf = std::mem::take(&mut self.scratch);
        let mut found = None;
        if meta_row_of(&mut buf, row) {
            found = self.meta_slot(&buf).map(|s| u64::from(s.elems));
            if found.is_none() && absent && self.admits(META_TAG, &buf, None) {
                self.put(META_TAG, &buf, None, 0);
                found = Some(0);
            }
        }
        self.scratch = buf;
        found
    }

    /// Keeps the `meta` entry's count of `row`'s key (see [`Slot::elems`]) as the row goes
    /// from present (`was`) or not to present (`now`) or not.
    fn count_elems(&mut self, tag: u8, row: &[u8], was: bool, now: bool) {
        if !counted(tag) || was == now {
            return;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        if meta_row_of(&mut buf, row) {
            if let Some(slot) = self.meta_slot(&buf) {
                slot.elems = if now {
                    slot.elems.saturating_add(1)
                } else {
                    slot.elems.saturating_sub(1)
                };
            }
        }
        self.scratch = buf;
    }

    /// The cached `meta` entry at `meta`, if any.
    fn meta_slot(&mut self, meta: &[u8]) -> Option<&mut Slot> {
        let hash = self.hash(META_TAG, meta);
        self.slots
            .find_mut(hash, |s| s.tag == META_TAG && s.key() == meta)
    }

    /// Records what the B-tree holds for `key` (`None`: no row), read after a miss.
    pub(crate) fn store(&mut self, tag: u8, key: &[u8], record: Option<&[u8]>) {
        if self.admits(tag, key, record) {
            // Not marked as read: an entry read once is the first to go (a scan does not
            // flush the keys read again and again).
            self.put(tag, key, record, 0);
        }
    }

    /// Takes a write of `key` (`None`: removal) that the B-tree receives at the next flush.
    /// The caller checked [`RowCache::admits`]; an entry it does not admit is written to the
    /// B-tree by the caller after [`forget`](RowCache::forget)ting the key.
    pub(crate) fn write(&mut self, tag: u8, key: &[u8], record: Option<&[u8]>) {
        debug_assert!(self.admits(tag, key, record));
        self.put(tag, key, record, PENDING);
    }

    fn put(&mut self, tag: u8, key: &[u8], record: Option<&[u8]>, flags: u8) {
        let hash = self.hash(tag, key);
        let (newly_pending, held) = match self
            .slots
            .find_mut(hash, |s| s.tag == tag && s.key() == key)
        {
            // A read never overwrites a pending write (a lookup would have found it first).
            Some(slot) if flags & PENDING == 0 && slot.flags & PENDING != 0 => {
                (false, record.is_some())
            }
            Some(slot) => {
                let was = slot.flags;
                self.weight -= slot.weight();
                slot.set_record(record);
                slot.flags |= flags;
                self.weight += slot.weight();
                (
                    flags & PENDING != 0 && was & PENDING == 0,
                    was & PRESENT != 0,
                )
            }
            None => {
                let slot = Slot {
                    data: Bytes::new([key, record.unwrap_or_default()]),
                    // Fits: `admits` bounds an entry to MAX_LIST_ENTRY bytes.
                    key_len: key.len() as u16,
                    tag,
                    flags: flags | if record.is_some() { PRESENT } else { 0 },
                    elems: 0,
                };
                self.weight += slot.weight();
                self.entries[usize::from(tag)] += 1;
                let hasher = &self.hasher;
                self.slots
                    .insert_unique(hash, slot, |s| hash_row(hasher, s.tag, s.key()));
                (flags & PENDING != 0, false)
            }
        };
        count_present(&mut self.meta_present, tag, key, held, record.is_some());
        self.count_elems(tag, key, held, record.is_some());
        if flags & PENDING != 0 {
            let bucket = bucket_of(tag, key);
            if newly_pending {
                self.pending[bucket].push(hash);
                self.pending_rows += 1;
                self.bucket_full |= self.pending[bucket].len() >= BUCKET_LIMIT;
            }
            let weight = (key.len() + record.map_or(0, <[u8]>::len)) as u64 + ENTRY_OVERHEAD;
            self.bucket_weight[bucket] += weight;
            self.pending_weight += weight;
        }
        if self.weight > self.budget {
            self.sweep();
        }
    }

    /// Evicts clean entries down to three quarters of the budget (see the module comment).
    fn sweep(&mut self) {
        let target = self.budget / 4 * 3;
        // The counted rows evicted, as `meta` keys back to back with their lengths: their
        // entries' counts drop once the sweep is done.
        let mut evicted: Vec<u8> = Vec::new();
        let mut meta = Vec::new();
        for pass in 0..2 {
            let mut weight = self.weight;
            let entries = &mut self.entries;
            let present = &mut self.meta_present;
            self.slots.retain(|slot| {
                if slot.flags & PENDING != 0 {
                    return true;
                }
                if pass == 0 && slot.flags & REFERENCED != 0 {
                    slot.flags &= !REFERENCED;
                    return true;
                }
                if pass == 1 && weight <= target {
                    return true;
                }
                weight -= slot.weight();
                entries[usize::from(slot.tag)] -= 1;
                let held = slot.flags & PRESENT != 0;
                count_present(present, slot.tag, slot.key(), held, false);
                if held && counted(slot.tag) && meta_row_of(&mut meta, slot.key()) {
                    evicted.extend_from_slice(&(meta.len() as u32).to_le_bytes());
                    evicted.extend_from_slice(&meta);
                }
                false
            });
            self.weight = weight;
            if self.weight <= target {
                break;
            }
        }
        let mut rest = evicted.as_slice();
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let (key, tail) = tail.split_at(u32::from_le_bytes(*len) as usize);
            if let Some(slot) = self.meta_slot(key) {
                slot.elems = slot.elems.saturating_sub(1);
            }
            rest = tail;
        }
    }

    /// Drops what is known of `key` (it is about to be written in the B-tree directly, or a
    /// write of it failed half-way).
    pub(crate) fn forget(&mut self, tag: u8, key: &[u8]) {
        if self.entries[usize::from(tag)] == 0 {
            return;
        }
        let hash = self.hash(tag, key);
        if let Ok(entry) = self
            .slots
            .find_entry(hash, |s| s.tag == tag && s.key() == key)
        {
            let (slot, _) = entry.remove();
            self.weight -= slot.weight();
            self.entries[usize::from(tag)] -= 1;
            let held = slot.flags & PRESENT != 0;
            count_present(&mut self.meta_present, tag, key, held, false);
            self.count_elems(tag, key, held, false);
        }
    }

    /// Whether enough writes are pending that some should go into the B-tree now (those of
    /// [`fullest`](RowCache::fullest)).
    pub(crate) fn needs_flush(&self) -> bool {
        // Pending entries are pinned against eviction: keep them to half the budget.
        self.pending_rows >= PENDING_LIMIT
            || self.pending_weight > self.budget / 2
            || self.bucket_full
    }

    /// The tag and bucket with the most pending writes.
    pub(crate) fn fullest(&self) -> (u8, usize) {
        let bucket = (0..BUCKETS)
            .max_by_key(|&b| self.pending[b].len())
            .unwrap_or(0);
        (tag_of_bucket(bucket), bucket)
    }

    /// How many entries hold pending writes.
    pub(crate) fn pending_rows(&self) -> usize {
        self.pending_rows
    }

    /// Whether any write is pending (the rank index's included).
    pub(crate) fn has_pending(&self) -> bool {
        self.pending_rows > 0 || self.ranks.is_dirty()
    }

    /// Whether a write of the table tagged `tag` is pending.
    pub(crate) fn has_pending_in(&self, tag: u8) -> bool {
        buckets_of(tag).any(|b| !self.pending[b].is_empty())
    }

    /// Applies the pending writes of the table tagged `tag` to it, in key order. On `Err` the
    /// table is half-written and the transaction must be dropped (with [`RowCache::clear`]).
    pub(crate) fn flush(
        &mut self,
        tag: u8,
        table: &mut Table<'_, &'static [u8], &'static [u8]>,
    ) -> Result<(), StorageError> {
        let mut hashes = Vec::new();
        for bucket in buckets_of(tag) {
            hashes.append(&mut self.take_pending(bucket));
        }
        self.note_bucket_full();
        self.apply(tag, buckets_of(tag), hashes, table)
    }

    /// Applies the pending writes of `bucket`, which holds rows of the table tagged `tag` (see
    /// [`fullest`](RowCache::fullest)), to that table, in key order. On `Err` as for
    /// [`flush`](RowCache::flush).
    pub(crate) fn flush_bucket(
        &mut self,
        tag: u8,
        bucket: usize,
        table: &mut Table<'_, &'static [u8], &'static [u8]>,
    ) -> Result<(), StorageError> {
        debug_assert_eq!(tag_of_bucket(bucket), tag);
        let hashes = self.take_bucket(bucket);
        self.apply(tag, bucket..bucket + 1, hashes, table)
    }

    fn take_bucket(&mut self, bucket: usize) -> Vec<u64> {
        let hashes = self.take_pending(bucket);
        self.note_bucket_full();
        hashes
    }

    /// Takes `bucket`'s pending hashes, leaving `bucket_full` to the caller: a flush of a
    /// whole table takes its 64 buckets, and checking all the buckets after each one cost a
    /// quarter of an LPUSH where every group commits (the stores without a log).
    fn take_pending(&mut self, bucket: usize) -> Vec<u64> {
        let hashes = std::mem::take(&mut self.pending[bucket]);
        self.pending_rows -= hashes.len();
        self.pending_weight -= std::mem::take(&mut self.bucket_weight[bucket]);
        hashes
    }

    fn note_bucket_full(&mut self) {
        self.bucket_full = self.pending.iter().any(|p| p.len() >= BUCKET_LIMIT);
    }

    /// Writes the pending entries of `buckets` (of `tag`'s rows) with these hashes into
    /// `table`, in key order, and marks them clean.
    fn apply(
        &mut self,
        tag: u8,
        buckets: std::ops::Range<usize>,
        mut hashes: Vec<u64>,
        table: &mut Table<'_, &'static [u8], &'static [u8]>,
    ) -> Result<(), StorageError> {
        if hashes.is_empty() {
            return Ok(());
        }
        hashes.sort_unstable();
        hashes.dedup();
        // `iter_hash` may also yield other entries (of other tables and buckets too): keep the
        // pending ones of these buckets, once each. Sorted by the key's first 8 bytes as an
        // integer first, so that most comparisons need not reach the entries' memory.
        let mut writes: Vec<(u64, &Slot)> = Vec::with_capacity(hashes.len());
        for &hash in &hashes {
            writes.extend(
                self.slots
                    .iter_hash(hash)
                    .filter(|s| {
                        s.tag == tag
                            && s.flags & PENDING != 0
                            && buckets.contains(&bucket_of(tag, s.key()))
                    })
                    .map(|s| (sort_prefix(s.key()), s)),
            );
        }
        writes.sort_unstable_by(|(pa, a), (pb, b)| pa.cmp(pb).then_with(|| a.key().cmp(b.key())));
        writes.dedup_by(|(_, a), (_, b)| a.key() == b.key());
        for (_, slot) in &writes {
            match slot.record() {
                Some(record) => {
                    table.insert(slot.key(), record)?;
                }
                None => {
                    table.remove(slot.key())?;
                }
            }
        }
        for &hash in &hashes {
            for slot in self.slots.iter_hash_mut(hash) {
                if slot.tag == tag && buckets.contains(&bucket_of(tag, slot.key())) {
                    slot.flags &= !PENDING;
                }
            }
        }
        Ok(())
    }

    /// Opens each table with pending writes in `txn` and flushes into it (the engine, before a
    /// commit, when no table of the transaction is open).
    pub(crate) fn flush_txn(&mut self, txn: &redb::WriteTransaction) -> Result<(), StorageError> {
        for tag in 0..TAGS as u8 {
            if self.has_pending_in(tag) {
                let mut table = txn.open_table(super::table_of_tag(tag))?;
                self.flush(tag, &mut table)?;
            }
        }
        if self.ranks.is_dirty() {
            let mut table = txn.open_table(super::ELEM_TABLES[ElemTable::ZBlocks as usize])?;
            self.ranks.write_back(&mut table)?;
        }
        Ok(())
    }

    /// Per physical database, the `meta` entries holding a key record, as counted. For
    /// integrity checks.
    pub(crate) fn meta_present(&self) -> &[u64; DATABASES] {
        &self.meta_present
    }

    /// The `meta` entries' counts of cached fields and members (see [`Slot::elems`]), by `meta`
    /// key. For integrity checks.
    pub(crate) fn elem_counts(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.slots
            .iter()
            .filter(|s| s.tag == META_TAG)
            .map(|s| (s.key(), u64::from(s.elems)))
    }

    /// Every entry: tag, B-tree key, value (`None`: known absent) and whether it is pending. For
    /// integrity checks.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u8, &[u8], Option<&[u8]>, bool)> {
        self.slots
            .iter()
            .map(|s| (s.tag, s.key(), s.record(), s.flags & PENDING != 0))
    }

    /// Drops everything, pending writes included (the transaction's state was dropped).
    pub fn clear(&mut self) {
        self.slots.clear();
        self.pending.iter_mut().for_each(Vec::clear);
        self.bucket_weight = [0; BUCKETS];
        self.pending_rows = 0;
        self.pending_weight = 0;
        self.bucket_full = false;
        self.entries = [0; TAGS];
        self.meta_present = [0; DATABASES];
        self.weight = 0;
        self.ranks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableTable;

    #[test]
    fn remembers_records_and_absences_and_skips_large_entries() {
        let mut cache = RowCache::new(1 << 20);
        assert!(matches!(cache.lookup(0, b"a"), Cached::Unknown));
        cache.store(0, b"a", Some(b"rec"));
        cache.store(0, b"b", None);
        assert!(matches!(cache.lookup(0, b"a"), Cached::Record(b"rec")));
        assert!(matches!(cache.lookup(0, b"b"), Cached::Absent));
        assert!(!cache.admits(0, b"a", Some(&[0u8; MAX_ENTRY])));
        assert!(cache.admits(LIST_TAG, b"a", Some(&[0u8; MAX_ENTRY])));
        cache.forget(0, b"a");
        assert!(matches!(cache.lookup(0, b"a"), Cached::Unknown));
        cache.forget(0, b"b");
        assert!(matches!(cache.lookup(0, b"b"), Cached::Unknown));
        assert_eq!(cache.entries, [0; TAGS]);
        // A tag with no entry forgets without looking.
        cache.store(1, b"a", Some(b"rec"));
        cache.forget(0, b"a");
        assert!(matches!(cache.lookup(1, b"a"), Cached::Record(b"rec")));
        cache.forget(1, b"a");
        assert_eq!(cache.entries, [0; TAGS]);
    }

    #[test]
    fn a_write_replaces_the_record_whatever_its_size() {
        let mut cache = RowCache::new(1 << 20);
        cache.store(0, b"k", Some(b"one"));
        // Sizes on both sides of what a slot holds in place, and across it both ways.
        let long = [7u8; INLINE + 10];
        for record in [
            &b"two"[..],
            b"three",
            b"",
            &long,
            &long[1..],
            &long[..INLINE - 1],
            b"4",
        ] {
            cache.write(0, b"k", Some(record));
            assert!(matches!(cache.lookup(0, b"k"), Cached::Record(r) if r == record));
        }
        cache.write(0, b"k", None);
        assert!(matches!(cache.lookup(0, b"k"), Cached::Absent));
    }

    #[test]
    fn stays_within_its_byte_budget_and_keeps_what_is_read() {
        let mut cache = RowCache::new(64 * 1024);
        for i in 0..100_000u32 {
            cache.store(0, &i.to_be_bytes(), Some(&[7u8; 100]));
            // Key 0 is read all along: it survives every sweep.
            assert!(matches!(
                cache.lookup(0, &0u32.to_be_bytes()),
                Cached::Record(_)
            ));
            assert!(cache.weight <= 64 * 1024, "{}", cache.weight);
        }
        let counted: u64 = cache.slots.iter().map(Slot::weight).sum();
        assert_eq!(counted, cache.weight);
        assert_eq!(cache.entries[0], cache.slots.len());
        // Every entry holds a record of database 0 (keys of four bytes, the first one 0).
        assert_eq!(cache.meta_present[0], cache.slots.len() as u64);
    }

    #[test]
    fn with_every_key_record_of_a_database_cached_an_unknown_key_is_absent() {
        let mut cache = RowCache::new(1 << 20);
        let k = |db: u8, name: &[u8]| [&[db][..], name].concat();
        cache.store(META_TAG, &k(0, b"a"), Some(b"r"));
        cache.store(META_TAG, &k(0, b"b"), None);
        cache.store(META_TAG, &k(1, b"c"), Some(b"r"));
        cache.store(1, &k(0, b"e"), Some(b"element rows do not count"));
        assert_eq!(cache.meta_present[..2], [1, 1]);
        assert!(matches!(cache.lookup_meta(&k(0, b"x"), 1), Cached::Absent));
        assert!(matches!(cache.lookup_meta(&k(0, b"x"), 2), Cached::Unknown));
        assert!(matches!(
            cache.lookup_meta(&k(0, b"a"), 1),
            Cached::Record(b"r")
        ));
        cache.write(META_TAG, &k(0, b"b"), Some(b"r"));
        assert!(matches!(cache.lookup_meta(&k(0, b"x"), 2), Cached::Absent));
        cache.write(META_TAG, &k(0, b"a"), None);
        assert!(matches!(cache.lookup_meta(&k(0, b"x"), 1), Cached::Absent));
        // A record forgotten (or evicted) leaves the cache without every key.
        cache.forget(META_TAG, &k(0, b"b"));
        assert_eq!(cache.meta_present[..2], [0, 1]);
        assert!(matches!(cache.lookup_meta(&k(0, b"x"), 1), Cached::Unknown));
        cache.clear();
        assert_eq!(cache.meta_present, [0; DATABASES]);
    }

    #[test]
    fn pending_writes_are_never_evicted() {
        let mut cache = RowCache::new(16 * 1024);
        let mut limit = 0u32;
        while !cache.needs_flush() {
            cache.write(0, &limit.to_be_bytes(), Some(b"v"));
            limit += 1;
        }
        for i in limit..10_000 {
            cache.store(0, &i.to_be_bytes(), Some(&[1u8; 200]));
        }
        for i in 0..limit {
            assert!(matches!(
                cache.lookup(0, &i.to_be_bytes()),
                Cached::Record(b"v")
            ));
        }
    }

    #[test]
    fn past_the_limit_the_fullest_bucket_is_flushed_and_only_its_key_range() {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .expect("an in-memory database");
        let txn = db.begin_write().expect("a write transaction");
        let mut table = txn.open_table(super::super::META).expect("the meta table");
        let mut cache = RowCache::new(1 << 30);
        let mut keys = Vec::new();
        // `meta` keys of database 0 with slots spread like a hash's.
        while !cache.needs_flush() {
            let slot = (keys.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let key = [&[0u8][..], &slot.to_be_bytes(), b"k"].concat();
            cache.write(META_TAG, &key, Some(b"v"));
            keys.push(key);
        }
        assert_eq!(keys.len(), PENDING_LIMIT);
        let (tag, bucket) = cache.fullest();
        assert_eq!(tag, META_TAG);
        cache
            .flush_bucket(tag, bucket, &mut table)
            .expect("flushed");
        assert!(!cache.needs_flush());
        let mut flushed = 0;
        for key in &keys {
            let in_tree = table.get(key.as_slice()).expect("read").is_some();
            assert_eq!(in_tree, bucket_of(META_TAG, key) == bucket);
            flushed += usize::from(in_tree);
            assert!(matches!(cache.lookup(META_TAG, key), Cached::Record(b"v")));
        }
        assert!(flushed > PENDING_LIMIT / META_BUCKETS / 2, "{flushed}");
        cache.flush(META_TAG, &mut table).expect("flushed");
        assert!(!cache.has_pending());
        for key in &keys {
            assert!(table.get(key.as_slice()).expect("read").is_some());
        }
    }

    #[test]
    fn sorting_by_the_prefix_then_the_key_is_byte_order() {
        let mut keys: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"ab\0",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefg",
            b"\xff",
            b"abcdefgi",
        ];
        let mut by_prefix = keys.clone();
        by_prefix.sort_by(|a, b| sort_prefix(a).cmp(&sort_prefix(b)).then_with(|| a.cmp(b)));
        keys.sort();
        assert_eq!(by_prefix, keys);
    }

    /// One set's members wait in buckets by their slot hash, so that a flush puts many of them
    /// on each leaf of that set's range; a table's buckets are its own.
    #[test]
    fn one_keys_element_rows_spread_over_their_tables_buckets() {
        let row = |slot: u8| [&[0u8, 0, 0, 0, 1, b's'][..], &[slot, 7, 7]].concat();
        let (low, high) = (bucket_of(SET_TAG, &row(0)), bucket_of(SET_TAG, &row(0xff)));
        assert_ne!(low, high);
        for b in [low, high] {
            assert!(buckets_of(SET_TAG).contains(&b));
            assert_eq!(tag_of_bucket(b), SET_TAG);
        }
        assert!(!buckets_of(HASH_TAG).contains(&low));
        // A row too short to hold its key still has a bucket of its table.
        assert!(buckets_of(SET_TAG).contains(&bucket_of(SET_TAG, &[0, 0])));
    }

    #[test]
    fn a_zero_budget_disables_the_cache() {
        let mut cache = RowCache::new(0);
        cache.store(0, b"a", Some(b"rec"));
        assert!(matches!(cache.lookup(0, b"a"), Cached::Unknown));
        assert!(!cache.admits(0, b"a", Some(b"rec")));
    }
}
