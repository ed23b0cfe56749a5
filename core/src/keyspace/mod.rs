//! The keyspace on redb: 16 logical databases of typed keys with expiry.
//!
//! Layout (see `docs/storage.md`):
//! - `meta`: `[db u8][slot u64 BE][key]` → `[type u8][expire_at_ms i64 LE][body]`, where `slot`
//!   is a stable hash of the key: keys sit in hash order, so a SCAN cursor is simply the next slot
//!   to visit (a key present throughout an iteration is always returned) and RANDOMKEY is a seek.
//!   `db` is a physical database number; SWAPDB swaps the logical→physical map. A string's body is its
//!   value, so GET is one B-tree lookup; a collection's body is its element count, and its
//!   elements live in a per-type table under `[db u8][key len u32 BE][key][element]`, so touching
//!   one element costs O(log n) pages.
//! - `expires`: `[expire_at_ms u64 BE][db u8][key]` → `()` (physical `db`), the expiry index that active expiry
//!   walks from the front (never a scan of the keyspace).
//!
//! A [`Keyspace`] is the view of one write transaction: every command of a group runs through
//! it, and it commits once for the group.

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};

use crate::storage::StorageError;

mod cache;
mod check;
mod functions;
mod lists;
mod members;
mod ranks;
mod record;
mod zset;
pub use cache::RowCache;
pub(crate) use cache::DRAIN_KEEP;
use cache::{Cached, META_TAG};
pub use check::IntegrityError;
#[cfg(test)]
pub(crate) use members::slotted;
pub use members::{Member, Members};
pub use record::{body_count, compact_of, count_of, counted, counted_compact};
pub use zset::{position, sortable, ZItem};

/// Number of logical databases (`SELECT 0`..`15`).
pub const DATABASES: usize = 16;

pub(crate) const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
pub(crate) const EXPIRES: TableDefinition<&[u8], ()> = TableDefinition::new("expires");

/// The element tables of the collection types. Rows are keyed
/// `[physical db u8][key length u32 BE][key][element]`, so one key's rows are contiguous and no
/// key's prefix is another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemTable {
    /// Hash field → value.
    HashFields = 0,
    /// Set member → empty.
    SetMembers = 1,
    /// List position (sortable i64) → item.
    ListItems = 2,
    /// Sorted-set member → score (8 bytes).
    ZMembers = 3,
    /// Sorted-set `[sortable score][member]` → empty: the score order.
    ZScores = 4,
    /// Sorted-set rank index: block start `[sortable score][member]` → block size (u32 LE).
    ZBlocks = 5,
}

impl ElemTable {
    /// Every element table, in the order of [`ELEM_TABLES`].
    pub const ALL: [ElemTable; 6] = [
        ElemTable::HashFields,
        ElemTable::SetMembers,
        ElemTable::ListItems,
        ElemTable::ZMembers,
        ElemTable::ZScores,
        ElemTable::ZBlocks,
    ];
}

/// The record cache's tag for `table`, if the cache holds its rows: the tables that commands
/// read and write one row at a time, by hash, and the list chunks. A ZADD's cost is in the
/// score order and rank index, walked by range on every write, so caching them would only add
/// flushes, and caching the member rows alone made no difference that could be measured here.
fn cache_tag(table: ElemTable) -> Option<u8> {
    match table {
        ElemTable::HashFields => Some(cache::HASH_TAG),
        ElemTable::SetMembers => Some(cache::SET_TAG),
        ElemTable::ListItems => Some(cache::LIST_TAG),
        ElemTable::ZMembers => Some(cache::ZSET_TAG),
        ElemTable::ZScores | ElemTable::ZBlocks => None,
    }
}

/// The element table whose rows the record cache holds under `tag` (`None`: `meta`'s).
pub(crate) fn elem_table_of_tag(tag: u8) -> Option<ElemTable> {
    ElemTable::ALL
        .into_iter()
        .find(|&t| cache_tag(t) == Some(tag))
}

/// The table whose rows the record cache holds under `tag`.
pub(crate) fn table_of_tag(tag: u8) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match elem_table_of_tag(tag) {
        Some(table) => ELEM_TABLES[table as usize],
        None => META,
    }
}

const ELEM_TABLES: [TableDefinition<&[u8], &[u8]>; 6] = [
    TableDefinition::new("hash_fields"),
    TableDefinition::new("set_members"),
    TableDefinition::new("list_items"),
    TableDefinition::new("zset_members"),
    TableDefinition::new("zset_scores"),
    TableDefinition::new("zset_blocks"),
];

impl Kind {
    /// The element tables that hold this type's rows.
    pub fn elem_tables(self) -> &'static [ElemTable] {
        match self {
            Kind::String => &[],
            Kind::Hash => &[ElemTable::HashFields],
            Kind::Set => &[ElemTable::SetMembers],
            Kind::List => &[ElemTable::ListItems],
            Kind::ZSet => &[ElemTable::ZMembers, ElemTable::ZScores, ElemTable::ZBlocks],
        }
    }
}

/// An element and its value.
pub type ElemRow = (Vec<u8>, Vec<u8>);

/// Which elements of a key [`Keyspace::elem_range`] returns: element suffixes in `[from, to)`
/// (`None` = open end), in order or reversed, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct ElemRange<'a> {
    pub from: Option<&'a [u8]>,
    pub to: Option<&'a [u8]>,
    pub reverse: bool,
    pub limit: usize,
}

impl ElemRange<'_> {
    /// Every element, in order, at most `limit`.
    pub fn all(limit: usize) -> Self {
        ElemRange {
            from: None,
            to: None,
            reverse: false,
            limit,
        }
    }
}

/// The row-key prefix of `key`'s elements: `[phys][len u32 BE][key]`.
fn elem_prefix(buf: &mut Vec<u8>, phys: u8, key: &[u8]) {
    buf.clear();
    buf.push(phys);
    buf.extend_from_slice(&(key.len() as u32).to_be_bytes());
    buf.extend_from_slice(key);
}

/// `[start, end)` of every row of `key` in physical database `phys`, in any element table.
fn key_rows(phys: u8, key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = Vec::with_capacity(5 + key.len());
    elem_prefix(&mut prefix, phys, key);
    let end = rows_end(&prefix);
    (prefix, end)
}

/// The end of the rows starting with a key's row prefix (from [`elem_prefix`]).
fn rows_end(prefix: &[u8]) -> Vec<u8> {
    // Always `Some`: the prefix starts with a database number below 16, never 0xff.
    prefix_end(prefix).unwrap_or_else(|| vec![0xff; prefix.len() + 1])
}

/// The smallest byte string greater than every string that starts with `prefix`, if any.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

const HEADER: usize = 9;
/// Type-byte flag: a string last written by APPEND or SETRANGE.
const RAW_FLAG: u8 = 0x80;
/// Type-byte flag: a string Redis builds with `createStringObject` (INCRBYFLOAT's result).
const PLAIN_FLAG: u8 = 0x40;
/// The type byte without its flags.
const TYPE_MASK: u8 = 0x3f;

/// The type of a key's value, as TYPE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    String = 0,
    List = 1,
    Hash = 2,
    Set = 3,
    ZSet = 4,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::String,
            1 => Kind::List,
            2 => Kind::Hash,
            3 => Kind::Set,
            4 => Kind::ZSet,
            _ => return None,
        })
    }

    /// The name TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }
}

/// A key's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// A string last written by APPEND or SETRANGE: Redis then reports the `raw` encoding
    /// whatever the value (bit 7 of the type byte).
    pub raw: bool,
    /// A string INCRBYFLOAT wrote: Redis never gives it the `int` encoding, so it reports
    /// `embstr` (or `raw` past 44 bytes) even for "3" (bit 6 of the type byte).
    pub plain: bool,
    /// Absolute deadline in Unix milliseconds, if the key expires.
    pub expire_at: Option<i64>,
    /// The string's value, or a collection's bookkeeping.
    pub body: Vec<u8>,
}

fn decode(raw: &[u8]) -> Result<Entry, StorageError> {
    let (kind, body) = kind_and_body(raw)?;
    Ok(Entry {
        kind,
        raw: raw[0] & RAW_FLAG != 0,
        plain: raw[0] & PLAIN_FLAG != 0,
        expire_at: expire_of(raw),
        body: body.to_vec(),
    })
}

/// A key record's kind and body (what follows its header), borrowed.
fn kind_and_body(raw: &[u8]) -> Result<(Kind, &[u8]), StorageError> {
    if raw.len() < HEADER {
        return Err(StorageError::Redb("corrupt key record".into()));
    }
    let kind = Kind::from_byte(raw[0] & TYPE_MASK)
        .ok_or_else(|| StorageError::Redb("unknown key type".into()))?;
    Ok((kind, &raw[HEADER..]))
}

/// A `meta` row's deadline and tag byte.
fn row_meta(row: &[u8]) -> (Option<i64>, u8) {
    (expire_of(row), row.first().copied().unwrap_or(0))
}

fn expire_of(raw: &[u8]) -> Option<i64> {
    let at = i64::from_le_bytes(raw.get(1..9)?.try_into().ok()?);
    (at != 0).then_some(at)
}

/// A key with its record, as SCAN returns them.
pub type KeyEntry = (Vec<u8>, Entry);

/// Counters the engine keeps across transactions (persisted with every commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Keys per physical database (expired-but-not-yet-removed keys included, as in Redis).
    pub keys: [u64; DATABASES],
    /// Keys removed because their deadline passed (INFO's `expired_keys`).
    pub expired: u64,
    /// Logical database → physical database (SWAPDB swaps two entries).
    pub map: [u8; DATABASES],
}

impl Default for Counters {
    fn default() -> Self {
        let mut map = [0u8; DATABASES];
        for (i, m) in map.iter_mut().enumerate() {
            *m = i as u8;
        }
        Counters {
            keys: [0; DATABASES],
            expired: 0,
            map,
        }
    }
}

impl Counters {
    /// Keys in logical database `db`.
    pub fn db_keys(&self, db: usize) -> u64 {
        self.keys[usize::from(self.map[db])]
    }

    /// Serialises the counters for the `system` table.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DATABASES * 8 + 8 + DATABASES);
        for n in self.keys {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&self.expired.to_le_bytes());
        out.extend_from_slice(&self.map);
        out
    }

    /// Reads what [`Counters::encode`] wrote; `None` if it is damaged.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Counters> {
        let mut c = Counters::default();
        for (i, slot) in c.keys.iter_mut().enumerate() {
            *slot = u64::from_le_bytes(bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?);
        }
        let e = DATABASES * 8;
        c.expired = u64::from_le_bytes(bytes.get(e..e + 8)?.try_into().ok()?);
        c.map.copy_from_slice(bytes.get(e + 8..e + 8 + DATABASES)?);
        let mut seen = [false; DATABASES];
        for &m in &c.map {
            *seen.get_mut(usize::from(m))? = true;
        }
        seen.iter().all(|&s| s).then_some(c)
    }
}

/// The position of a key in its database's order: a 64-bit FNV-1a hash with a final mix, never
/// 0 (SCAN's cursor 0 means "start" and "done"). Part of the file format: never change it.
pub fn slot_of(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h.max(1)
}

/// The keyspace as seen by the commands of one group (one redb write transaction).
pub struct Keyspace<'a, 't> {
    txn: &'t WriteTransaction,
    held: &'a mut Held<'t>,
    now_ms: i64,
    counters: &'a mut Counters,
    cache: &'a mut RowCache,
    changed: bool,
    /// Keys written since tracking was switched on, for WATCH: `(physical db, key)`; a key of
    /// `None` stands for the whole database (FLUSHDB, SWAPDB).
    touched: Option<Vec<(u8, Option<Vec<u8>>)>>,
}

/// What the keyspace keeps across the jobs of one redb write transaction, which the engine
/// holds with it: the tables, each opened on first use (a GET answered by the record cache
/// opens none), and the key buffers. Opening a table costs thousands of instructions and
/// closing it about a fifth of that, together more than a whole SET. They must be dropped before the
/// transaction commits.
#[derive(Default)]
pub struct Held<'t> {
    meta: Option<Table<'t, &'static [u8], &'static [u8]>>,
    expires: Option<Table<'t, &'static [u8], ()>>,
    /// Element tables, by [`ElemTable`].
    elems: [Option<Table<'t, &'static [u8], &'static [u8]>>; 6],
    /// A `meta` row key being built.
    kbuf: Vec<u8>,
    /// An `expires` row key being built.
    ebuf: Vec<u8>,
}

/// Runs `f` on a keyspace over a fresh in-memory database (unit tests of the keyspace's parts).
#[cfg(test)]
pub(crate) fn with_test_keyspace<R>(f: impl FnOnce(&mut Keyspace<'_, '_>) -> R) -> R {
    let db = redb::Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .expect("an in-memory database opens");
    let txn = db.begin_write().expect("a write transaction begins");
    let mut held = Held::default();
    let mut counters = Counters::default();
    let mut cache = RowCache::new(1 << 20);
    let mut ks =
        Keyspace::open(&txn, &mut held, 0, &mut counters, &mut cache).expect("the keyspace opens");
    f(&mut ks)
}

/// The table in `slot`, opened in `txn` if not yet (a free function so that callers can borrow
/// other fields of the keyspace alongside).
fn opened<'a, 't, K: redb::Key + 'static, V: redb::Value + 'static>(
    slot: &'a mut Option<Table<'t, K, V>>,
    txn: &'t WriteTransaction,
    definition: TableDefinition<K, V>,
) -> Result<&'a mut Table<'t, K, V>, StorageError> {
    if slot.is_none() {
        *slot = Some(txn.open_table(definition)?);
    }
    Ok(slot.as_mut().expect("opened above"))
}

/// The element table `table`, opened from its slot in `elems` if not yet (a free function for
/// the same reason as [`opened`]).
fn opened_elem<'a, 't>(
    elems: &'a mut [Option<Table<'t, &'static [u8], &'static [u8]>>; 6],
    txn: &'t WriteTransaction,
    table: ElemTable,
) -> Result<&'a mut Table<'t, &'static [u8], &'static [u8]>, StorageError> {
    opened(&mut elems[table as usize], txn, ELEM_TABLES[table as usize])
}

/// `meta` (`None`) or an element table, opened in `held` (which borrows no more of the
/// keyspace than that).
fn opened_rows<'a, 't>(
    held: &'a mut Held<'t>,
    txn: &'t WriteTransaction,
    table: Option<ElemTable>,
) -> Result<&'a mut Table<'t, &'static [u8], &'static [u8]>, StorageError> {
    match table {
        None => opened(&mut held.meta, txn, META),
        Some(table) => opened_elem(&mut held.elems, txn, table),
    }
}

fn meta_key(buf: &mut Vec<u8>, phys: u8, key: &[u8]) {
    buf.clear();
    buf.push(phys);
    buf.extend_from_slice(&slot_of(key).to_be_bytes());
    buf.extend_from_slice(key);
}

const META_PREFIX: usize = 9;

fn expire_key(buf: &mut Vec<u8>, at: i64, phys: u8, key: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&(at as u64).to_be_bytes());
    buf.push(phys);
    buf.extend_from_slice(key);
}

impl<'a, 't> Keyspace<'a, 't> {
    /// The keyspace inside `txn`, over what it keeps there (`held`); `now_ms` is the clock
    /// every command of the group sees (logged with the group so replay sees the same).
    pub(crate) fn open(
        txn: &'t WriteTransaction,
        held: &'a mut Held<'t>,
        now_ms: i64,
        counters: &'a mut Counters,
        cache: &'a mut RowCache,
    ) -> Result<Self, StorageError> {
        Ok(Keyspace {
            txn,
            held,
            now_ms,
            counters,
            cache,
            changed: false,
            touched: None,
        })
    }

    /// Starts recording written keys (there are WATCHers).
    pub(crate) fn track_touches(&mut self) {
        if self.touched.is_none() {
            self.touched = Some(Vec::new());
        }
    }

    /// The keys written since the last call, if tracking.
    pub(crate) fn take_touched(&mut self) -> Vec<(u8, Option<Vec<u8>>)> {
        self.touched
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn touch(&mut self, phys: u8, key: Option<&[u8]>) {
        if let Some(t) = self.touched.as_mut() {
            t.push((phys, key.map(<[u8]>::to_vec)));
        }
    }

    /// The physical database behind logical database `db` (WATCH records it).
    pub fn physical_db(&self, db: usize) -> u8 {
        self.phys(db)
    }

    /// Whether anything was written through this view.
    pub(crate) fn changed(&self) -> bool {
        self.changed
    }

    /// The group's clock, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn phys(&self, db: usize) -> u8 {
        self.counters.map[db]
    }

    /// How many key records the database of the `meta` row `row` holds.
    fn keys_of_row(&self, row: &[u8]) -> u64 {
        row.first()
            .and_then(|&phys| self.counters.keys.get(usize::from(phys)))
            .copied()
            .unwrap_or(u64::MAX)
    }

    /// The live entry at `key`; an expired key is removed on the way (lazy expiry).
    pub fn get(&mut self, db: usize, key: &[u8]) -> Result<Option<Entry>, StorageError> {
        let phys = self.phys(db);
        meta_key(&mut self.held.kbuf, phys, key);
        let keys = self.counters.keys[usize::from(phys)];
        let entry = match self.cache.lookup_meta(&self.held.kbuf, keys) {
            Cached::Record(record) => decode(record)?,
            Cached::Absent => return Ok(None),
            Cached::Unknown => {
                match opened(&mut self.held.meta, self.txn, META)?.get(self.held.kbuf.as_slice())? {
                    Some(raw) => {
                        self.cache
                            .store(META_TAG, &self.held.kbuf, Some(raw.value()));
                        decode(raw.value())?
                    }
                    None => {
                        self.cache.store(META_TAG, &self.held.kbuf, None);
                        return Ok(None);
                    }
                }
            }
        };
        if entry.expire_at.is_some_and(|at| at <= self.now_ms) {
            self.remove_phys(phys, key)?;
            self.counters.expired += 1;
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// Calls `f` with the kind and body of the live entry at `key`, or with `None`, and returns
    /// what it returns; an expired key is removed on the way, as by [`Keyspace::get`]. Why: a
    /// record the cache holds is lent to `f` where `get` copies it out, and GET would then copy
    /// the value a second time into its reply (an allocation and a free per GET).
    pub fn peek<R>(
        &mut self,
        db: usize,
        key: &[u8],
        f: impl FnOnce(Option<(Kind, &[u8])>) -> R,
    ) -> Result<R, StorageError> {
        let phys = self.phys(db);
        meta_key(&mut self.held.kbuf, phys, key);
        let keys = self.counters.keys[usize::from(phys)];
        match self.cache.lookup_meta(&self.held.kbuf, keys) {
            Cached::Absent => return Ok(f(None)),
            Cached::Record(record) if expire_of(record).is_none_or(|at| at > self.now_ms) => {
                return Ok(f(Some(kind_and_body(record)?)));
            }
            // Not cached, or expired: the general path reads the B-tree or removes the key.
            _ => {}
        }
        Ok(match self.get(db, key)? {
            Some(entry) => f(Some((entry.kind, &entry.body))),
            None => f(None),
        })
    }

    /// Whether `key` exists (and has not expired).
    pub fn exists(&mut self, db: usize, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.get(db, key)?.is_some())
    }

    /// Writes `key`'s record, replacing any previous one and keeping the expiry index in step.
    pub fn put(
        &mut self,
        db: usize,
        key: &[u8],
        kind: Kind,
        expire_at: Option<i64>,
        body: &[u8],
    ) -> Result<(), StorageError> {
        let phys = self.phys(db);
        self.put_phys(phys, key, kind as u8, expire_at, body)
    }

    /// Writes a whole entry back (RENAME, MOVE, COPY, expiry changes), flags included.
    pub fn put_entry(&mut self, db: usize, key: &[u8], entry: &Entry) -> Result<(), StorageError> {
        let phys = self.phys(db);
        let tag = entry.kind as u8
            | if entry.raw { RAW_FLAG } else { 0 }
            | if entry.plain { PLAIN_FLAG } else { 0 };
        self.put_phys(phys, key, tag, entry.expire_at, &entry.body)
    }

    /// Writes a string that APPEND or SETRANGE produced (reported as `raw`).
    pub fn put_raw_string(
        &mut self,
        db: usize,
        key: &[u8],
        expire_at: Option<i64>,
        body: &[u8],
    ) -> Result<(), StorageError> {
        let phys = self.phys(db);
        self.put_phys(phys, key, Kind::String as u8 | RAW_FLAG, expire_at, body)
    }

    /// Writes a string that INCRBYFLOAT produced (never reported as `int`).
    pub fn put_plain_string(
        &mut self,
        db: usize,
        key: &[u8],
        expire_at: Option<i64>,
        body: &[u8],
    ) -> Result<(), StorageError> {
        let phys = self.phys(db);
        self.put_phys(phys, key, Kind::String as u8 | PLAIN_FLAG, expire_at, body)
    }

    fn put_phys(
        &mut self,
        phys: u8,
        key: &[u8],
        tag: u8,
        expire_at: Option<i64>,
        body: &[u8],
    ) -> Result<(), StorageError> {
        self.changed = true;
        self.touch(phys, Some(key));
        meta_key(&mut self.held.kbuf, phys, key);
        let mut record = Vec::with_capacity(HEADER + body.len());
        record.push(tag);
        record.extend_from_slice(&expire_at.unwrap_or(0).to_le_bytes());
        record.extend_from_slice(body);
        let old = self.write_meta(Some(&record))?;
        // A value of another type replaces a collection (SET or MSET over a hash, possibly one
        // whose deadline passed unseen): its elements go with it.
        if let Some(old_kind) = old.and_then(|(_, t)| Kind::from_byte(t & TYPE_MASK)) {
            if Some(old_kind) != Kind::from_byte(tag & TYPE_MASK) {
                for &table in old_kind.elem_tables() {
                    self.clear_rows(table, phys, key)?;
                }
            }
        }
        if old.is_some_and(|(at, _)| at.is_some_and(|at| at <= self.now_ms)) {
            // Replaced after its deadline without a read noticing first: it expired, as Redis
            // counts it (its write path deletes the expired key before writing).
            self.counters.expired += 1;
        }
        match old.map(|(at, _)| at) {
            None => self.counters.keys[usize::from(phys)] += 1,
            Some(old_at) if old_at == expire_at => return Ok(()),
            Some(Some(old_at)) => {
                expire_key(&mut self.held.ebuf, old_at, phys, key);
                opened(&mut self.held.expires, self.txn, EXPIRES)?
                    .remove(self.held.ebuf.as_slice())?;
            }
            Some(None) => {}
        }
        if let Some(at) = expire_at {
            expire_key(&mut self.held.ebuf, at, phys, key);
            opened(&mut self.held.expires, self.txn, EXPIRES)?
                .insert(self.held.ebuf.as_slice(), ())?;
        }
        Ok(())
    }

    /// Writes (`Some`) or removes (`None`) the `meta` row at `kbuf` (see [`Keyspace::write_row`]).
    /// Returns the old row's deadline and tag byte.
    fn write_meta(
        &mut self,
        record: Option<&[u8]>,
    ) -> Result<Option<(Option<i64>, u8)>, StorageError> {
        let key = std::mem::take(&mut self.held.kbuf);
        let old = self.write_row(None, &key, record, None, |row| row.map(row_meta));
        self.held.kbuf = key;
        old
    }

    /// `meta` (`None`) or an element table, opened.
    fn row_table(
        &mut self,
        table: Option<ElemTable>,
    ) -> Result<&mut Table<'t, &'static [u8], &'static [u8]>, StorageError> {
        opened_rows(self.held, self.txn, table)
    }

    /// Writes (`Some`) or removes (`None`) the row `row` of `meta` (`table` `None`) or of an
    /// element table, and returns what `old` makes of the row it replaces.
    /// - A row the record cache knows is written into the cache, as a pending entry, unless the
    ///   write changes nothing (the same value SET again, SADD of a member already there):
    ///   then nothing is written, so an unchanged group holds no pending entry either.
    /// - A row it does not know is written straight into the B-tree, where one walk both writes
    ///   it and finds the old one (a read, then a pending write, would walk it twice); the
    ///   cache then knows it.
    /// - A row of a table the cache does not serve, or too large for it, goes straight into the
    ///   B-tree, after the cache forgets it (a pending write of it must not reach the B-tree
    ///   after this one).
    ///
    /// `elems`: for a hash field or set member, how many its key holds right now, if known
    /// (see `RowCache::lookup_elem`).
    fn write_row<T>(
        &mut self,
        table: Option<ElemTable>,
        row: &[u8],
        value: Option<&[u8]>,
        elems: Option<u64>,
        old: impl Fn(Option<&[u8]>) -> T,
    ) -> Result<T, StorageError> {
        let tag = match table {
            None => Some(META_TAG),
            Some(table) => cache_tag(table),
        };
        let mut known = None;
        if let Some(tag) = tag {
            let admitted = self.cache.admits(tag, row, value);
            let cached = match elems {
                _ if tag == META_TAG => {
                    let keys = self.keys_of_row(row);
                    self.cache.lookup_meta(row, keys)
                }
                Some(count) => self.cache.lookup_elem(tag, row, count),
                None => self.cache.lookup(tag, row),
            };
            let (was, unchanged) = match cached {
                Cached::Record(prev) => (Some(old(Some(prev))), value == Some(prev)),
                Cached::Absent => (Some(old(None)), value.is_none()),
                Cached::Unknown => (None, false),
            };
            match was {
                Some(was) if admitted => {
                    if !unchanged {
                        self.cache.write(tag, row, value);
                        if self.cache.needs_flush() {
                            self.flush_fullest()?;
                        }
                    }
                    return Ok(was);
                }
                Some(was) => {
                    self.cache.forget(tag, row);
                    known = Some(was);
                }
                None => {}
            }
        }
        let stored = {
            let t = self.row_table(table)?;
            let prev = match value {
                Some(value) => t.insert(row, value)?,
                None => t.remove(row)?,
            };
            old(prev.as_ref().map(|g| g.value()))
        };
        if let Some(tag) = tag {
            self.cache.store(tag, row, value);
        }
        Ok(known.unwrap_or(stored))
    }

    /// Before a commit that writes every pending row (see `Engine::commit_near`): applies the
    /// record cache's fullest bucket if more than [`DRAIN_KEEP`] rows are pending. A
    /// bucket is at most 4096 rows, a pause of a few milliseconds, and the first buckets
    /// drained are the fullest, so a few dozen jobs leave the commit little to write.
    pub(crate) fn drain_step(&mut self) -> Result<(), StorageError> {
        if self.cache.pending_rows() > DRAIN_KEEP {
            self.flush_fullest()?;
        }
        Ok(())
    }

    /// Applies the pending writes of the record cache's fullest bucket (see `cache.rs`).
    fn flush_fullest(&mut self) -> Result<(), StorageError> {
        let (tag, bucket) = self.cache.fullest();
        let table = opened_rows(self.held, self.txn, elem_table_of_tag(tag))?;
        self.cache.flush_bucket(tag, bucket, table)
    }

    /// Applies the record cache's pending writes to the `meta` B-tree (before walking it).
    fn flush_meta(&mut self) -> Result<(), StorageError> {
        if !self.cache.has_pending_in(META_TAG) {
            return Ok(());
        }
        let table = opened(&mut self.held.meta, self.txn, META)?;
        self.cache.flush(META_TAG, table)
    }

    /// Applies the record cache's pending writes of `table` to its B-tree (before walking it or
    /// removing a range of it); for `ZBlocks`, writes the rank index back and drops it (see
    /// `ranks.rs`).
    fn flush_elems(&mut self, table: ElemTable) -> Result<(), StorageError> {
        if table == ElemTable::ZBlocks {
            return self.flush_ranks(true);
        }
        let Some(tag) = cache_tag(table) else {
            return Ok(());
        };
        if !self.cache.has_pending_in(tag) {
            return Ok(());
        }
        let t = opened_elem(&mut self.held.elems, self.txn, table)?;
        self.cache.flush(tag, t)
    }

    /// Applies every pending write of the record cache (the rank index stays, written back).
    pub(crate) fn flush_all(&mut self) -> Result<(), StorageError> {
        self.flush_meta()?;
        self.flush_elem_tables()
    }

    /// Applies the pending writes of every element table, and writes the rank index back
    /// without dropping it.
    fn flush_elem_tables(&mut self) -> Result<(), StorageError> {
        for table in ElemTable::ALL {
            if table != ElemTable::ZBlocks {
                self.flush_elems(table)?;
            }
        }
        self.flush_ranks(false)
    }

    /// Writes the rank index's changed blocks into `ZBlocks`; with `drop`, forgets the index.
    fn flush_ranks(&mut self, drop: bool) -> Result<(), StorageError> {
        if self.cache.ranks.is_dirty() {
            let t = opened_elem(&mut self.held.elems, self.txn, ElemTable::ZBlocks)?;
            self.cache.ranks.write_back(t)?;
        }
        if drop {
            self.cache.ranks.clear();
        }
        Ok(())
    }

    /// What the record cache knows of the `meta` row at `kbuf`: `None` if not cached, else
    /// the row's deadline and tag byte if it has one.
    fn cached_meta(&mut self) -> Option<Option<(Option<i64>, u8)>> {
        let keys = self.keys_of_row(&self.held.kbuf);
        match self.cache.lookup_meta(&self.held.kbuf, keys) {
            Cached::Record(row) => Some(Some(row_meta(row))),
            Cached::Absent => Some(None),
            Cached::Unknown => None,
        }
    }

    /// The deadline and tag byte of the `meta` row at `kbuf`, if any, without caching it.
    fn meta_of_kbuf(&mut self) -> Result<Option<(Option<i64>, u8)>, StorageError> {
        match self.cached_meta() {
            Some(known) => Ok(known),
            None => Ok(opened(&mut self.held.meta, self.txn, META)?
                .get(self.held.kbuf.as_slice())?
                .map(|g| row_meta(g.value()))),
        }
    }

    fn remove_phys(&mut self, phys: u8, key: &[u8]) -> Result<bool, StorageError> {
        meta_key(&mut self.held.kbuf, phys, key);
        let old = self.write_meta(None)?;
        let Some((old_at, tag)) = old else {
            return Ok(false);
        };
        if let Some(kind) = Kind::from_byte(tag & TYPE_MASK) {
            for &table in kind.elem_tables() {
                self.clear_rows(table, phys, key)?;
            }
        }
        self.changed = true;
        self.touch(phys, Some(key));
        let n = &mut self.counters.keys[usize::from(phys)];
        *n = n.saturating_sub(1);
        if let Some(at) = old_at {
            expire_key(&mut self.held.ebuf, at, phys, key);
            opened(&mut self.held.expires, self.txn, EXPIRES)?.remove(self.held.ebuf.as_slice())?;
        }
        Ok(true)
    }

    /// Removes a live key; false if it did not exist or had expired.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> Result<bool, StorageError> {
        if self.get(db, key)?.is_none() {
            return Ok(false);
        }
        let phys = self.phys(db);
        self.remove_phys(phys, key)
    }

    /// Sets or clears a live key's deadline; false if the key does not exist.
    pub fn set_expire(
        &mut self,
        db: usize,
        key: &[u8],
        expire_at: Option<i64>,
    ) -> Result<bool, StorageError> {
        let Some(mut entry) = self.get(db, key)? else {
            return Ok(false);
        };
        entry.expire_at = expire_at;
        self.put_entry(db, key, &entry)?;
        Ok(true)
    }

    /// Removes up to `budget` keys whose deadline has passed, oldest deadline first; returns how
    /// many were removed. Walks only the expiry index; entries that no longer match a record
    /// (left by FLUSHDB) are dropped on the way.
    pub fn expire_due(&mut self, budget: usize) -> Result<usize, StorageError> {
        let mut due = Vec::new();
        for item in opened(&mut self.held.expires, self.txn, EXPIRES)?.iter()? {
            let (k, _) = item?;
            let k = k.value();
            if k.len() < 9 || due.len() >= budget {
                break;
            }
            let at = u64::from_be_bytes(k[..8].try_into().unwrap_or_default()) as i64;
            if at > self.now_ms {
                break;
            }
            due.push((at, k[8], k[9..].to_vec()));
        }
        let mut removed = 0;
        for (at, phys, key) in &due {
            meta_key(&mut self.held.kbuf, *phys, key);
            let current = self.meta_of_kbuf()?.and_then(|(at, _)| at);
            if current == Some(*at) {
                self.remove_phys(*phys, key)?;
                self.counters.expired += 1;
                removed += 1;
            } else {
                expire_key(&mut self.held.ebuf, *at, *phys, key);
                opened(&mut self.held.expires, self.txn, EXPIRES)?
                    .remove(self.held.ebuf.as_slice())?;
                self.changed = true;
            }
        }
        Ok(removed)
    }

    /// Live keys of `db` in slot order from `cursor` (a slot; 0 = the start), visiting at most
    /// `count` records. Returns the keys with their entries and the cursor to continue from
    /// (0 when the iteration is complete). Used by SCAN, KEYS and RANDOMKEY.
    pub fn scan(
        &mut self,
        db: usize,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<KeyEntry>, u64), StorageError> {
        let phys = self.phys(db);
        let mut start = vec![phys];
        start.extend_from_slice(&cursor.to_be_bytes());
        let end = [phys + 1];
        let mut out = Vec::new();
        let mut expired = Vec::new();
        let mut next = 0;
        self.flush_meta()?;
        for item in opened(&mut self.held.meta, self.txn, META)?
            .range::<&[u8]>(start.as_slice()..end.as_slice())?
        {
            let (k, v) = item?;
            let k = k.value();
            if k.len() < META_PREFIX {
                continue;
            }
            let slot = u64::from_be_bytes(k[1..9].try_into().unwrap_or_default());
            if out.len() + expired.len() >= count {
                // Stop at a slot boundary so keys sharing a slot are never split.
                let last = out
                    .last()
                    .map(|(key, _): &KeyEntry| slot_of(key))
                    .unwrap_or(0);
                if slot != last {
                    next = slot;
                    break;
                }
            }
            let entry = decode(v.value())?;
            let key = k[META_PREFIX..].to_vec();
            if entry.expire_at.is_some_and(|at| at <= self.now_ms) {
                expired.push(key);
                continue;
            }
            out.push((key, entry));
        }
        for key in expired {
            if self.remove_phys(phys, &key)? {
                self.counters.expired += 1;
            }
        }
        Ok((out, next))
    }

    /// The first live key at or after `slot` (wrapping around), for RANDOMKEY.
    pub fn key_at_or_after(
        &mut self,
        db: usize,
        slot: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        for from in [slot, 0] {
            let mut cursor = from;
            loop {
                let (keys, next) = self.scan(db, cursor, 16)?;
                if let Some((key, _)) = keys.into_iter().next() {
                    return Ok(Some(key));
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(None)
    }

    /// Removes every key of `db`.
    pub fn flush_db(&mut self, db: usize) -> Result<(), StorageError> {
        let phys = self.phys(db);
        let start = [phys];
        let end = [phys + 1];
        // Pending writes of the other databases go into the B-trees first; the cache is then
        // cleared before the removal, so a failure half-way leaves no entry of a removed row.
        self.flush_all()?;
        self.cache.clear();
        opened(&mut self.held.meta, self.txn, META)?
            .retain_in::<&[u8], _>(start.as_slice()..end.as_slice(), |_, _| false)?;
        for table in ElemTable::ALL {
            self.elem_table(table)?
                .retain_in::<&[u8], _>(start.as_slice()..end.as_slice(), |_, _| false)?;
        }
        self.counters.keys[usize::from(phys)] = 0;
        self.changed = true;
        Ok(())
    }

    /// Swaps two logical databases (SWAPDB) in constant time.
    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.counters.map.swap(a, b);
        self.changed = true;
    }

    /// Number of key records in `db` (DBSIZE).
    pub fn db_size(&self, db: usize) -> u64 {
        self.counters.db_keys(db)
    }

    fn elem_table(
        &mut self,
        table: ElemTable,
    ) -> Result<&mut Table<'t, &'static [u8], &'static [u8]>, StorageError> {
        opened_elem(&mut self.held.elems, self.txn, table)
    }

    fn elem_key(&self, db: usize, key: &[u8], elem: &[u8]) -> Vec<u8> {
        let mut row = Vec::with_capacity(5 + key.len() + elem.len());
        elem_prefix(&mut row, self.phys(db), key);
        row.extend_from_slice(elem);
        row
    }

    /// The value of the row `row` of `table`: from the record cache if it knows it (else read
    /// and remembered there), or from the B-tree for a table it does not cache.
    fn elem_row(&mut self, table: ElemTable, row: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(known) = self.cached_elem(table, row) {
            return Ok(known);
        }
        let tag = cache_tag(table);
        let value = self
            .elem_table(table)?
            .get(row)?
            .map(|v| v.value().to_vec());
        if let Some(tag) = tag {
            self.cache.store(tag, row, value.as_deref());
        }
        Ok(value)
    }

    /// What the record cache knows of the row `row` of `table` (`Some(None)`: no such row);
    /// `None` if it does not know or does not cache that table.
    fn cached_elem(&mut self, table: ElemTable, row: &[u8]) -> Option<Option<Vec<u8>>> {
        match self.cache.lookup(cache_tag(table)?, row) {
            Cached::Record(value) => Some(Some(value.to_vec())),
            Cached::Absent => Some(None),
            Cached::Unknown => None,
        }
    }

    /// The value of element `elem` of `key` in `table`.
    pub fn elem_get(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        elem: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.bypass_ranks(table)?;
        let row = self.elem_key(db, key, elem);
        self.elem_row(table, &row)
    }

    /// Before `table` is read or written other than through the rank index: if it is the
    /// index's table, writes the index back and drops it.
    fn bypass_ranks(&mut self, table: ElemTable) -> Result<(), StorageError> {
        if table == ElemTable::ZBlocks {
            self.flush_ranks(true)?;
        }
        Ok(())
    }

    /// Sets element `elem` of `key` in `table`; returns the previous value.
    pub fn elem_put(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        elem: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.write_elem(table, (db, key, elem), Some(value), None, |old| {
            old.map(<[u8]>::to_vec)
        })
    }

    /// [`Keyspace::elem_put`] of a hash field, set member or sorted-set member, where `key`
    /// holds `count` elements right now. With the count, the record cache can tell a new
    /// element without a B-tree walk (see `RowCache::lookup_elem`).
    pub fn elem_upsert(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        elem: &[u8],
        value: &[u8],
        count: u64,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.write_elem(table, (db, key, elem), Some(value), Some(count), |old| {
            old.map(<[u8]>::to_vec)
        })
    }

    /// Sets (`Some`) or removes element `elem` of `key` in `table`, without reading the
    /// previous value out (a list's chunk rows, rewritten on every push).
    pub fn elem_write(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        elem: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), StorageError> {
        self.write_elem(table, (db, key, elem), value, None, |_| ())
    }

    /// Writes element `elem` of `key` (`(db, key, elem)`) through [`Keyspace::write_row`],
    /// marking the key changed.
    fn write_elem<T>(
        &mut self,
        table: ElemTable,
        (db, key, elem): (usize, &[u8], &[u8]),
        value: Option<&[u8]>,
        count: Option<u64>,
        old: impl Fn(Option<&[u8]>) -> T,
    ) -> Result<T, StorageError> {
        self.bypass_ranks(table)?;
        self.changed = true;
        self.touch(self.phys(db), Some(key));
        let row = self.elem_key(db, key, elem);
        self.write_row(Some(table), &row, value, count, old)
    }

    /// Removes element `elem` of `key` in `table`; returns its value.
    pub fn elem_remove(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        elem: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.bypass_ranks(table)?;
        let row = self.elem_key(db, key, elem);
        let old = self.write_row(Some(table), &row, None, None, |old| old.map(<[u8]>::to_vec))?;
        if old.is_some() {
            self.changed = true;
            self.touch(self.phys(db), Some(key));
        }
        Ok(old)
    }

    /// Removes the elements of `key` in `table` whose suffixes lie in `[from, to)`, in one pass
    /// over that range (LTRIM, LPOP with a count).
    pub fn elem_remove_range(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        from: &[u8],
        to: &[u8],
    ) -> Result<(), StorageError> {
        if from >= to {
            return Ok(());
        }
        let mut prefix = Vec::new();
        elem_prefix(&mut prefix, self.phys(db), key);
        let start = [prefix.as_slice(), from].concat();
        let end = [prefix.as_slice(), to].concat();
        self.remove_rows(table, start.as_slice()..end.as_slice())?;
        self.changed = true;
        Ok(())
    }

    /// Calls `visit(element, value)` for the elements of `key` in `table` within `range`, in
    /// order, until it returns false; returns how many it was called for. Nothing is copied:
    /// replies that stream many elements pay no allocation per element.
    pub fn elem_visit(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        range: ElemRange<'_>,
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<usize, StorageError> {
        let ElemRange {
            from,
            to,
            reverse,
            limit,
        } = range;
        let mut prefix = Vec::with_capacity(64);
        elem_prefix(&mut prefix, self.phys(db), key);
        let n = prefix.len();
        let start = [prefix.as_slice(), from.unwrap_or_default()].concat();
        let end = match to {
            Some(to) => Some([prefix.as_slice(), to].concat()),
            None => prefix_end(&prefix),
        };
        self.flush_elems(table)?;
        let t = opened_elem(&mut self.held.elems, self.txn, table)?;
        let mut range = match &end {
            Some(end) => t.range::<&[u8]>(start.as_slice()..end.as_slice())?,
            None => t.range::<&[u8]>(start.as_slice()..)?,
        };
        let mut seen = 0;
        while seen < limit {
            let item = if reverse {
                range.next_back()
            } else {
                range.next()
            };
            let Some(item) = item else { break };
            let (k, v) = item?;
            seen += 1;
            if !visit(&k.value()[n..], v.value()) {
                break;
            }
        }
        Ok(seen)
    }

    /// Elements of `key` in `table` within `range`: `(element, value)` pairs.
    pub fn elem_range(
        &mut self,
        table: ElemTable,
        db: usize,
        key: &[u8],
        range: ElemRange<'_>,
    ) -> Result<Vec<ElemRow>, StorageError> {
        let mut out = Vec::new();
        self.elem_visit(table, db, key, range, |elem, value| {
            out.push((elem.to_vec(), value.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// Removes every row of `key` in `table`.
    fn clear_rows(&mut self, table: ElemTable, phys: u8, key: &[u8]) -> Result<(), StorageError> {
        let (start, end) = key_rows(phys, key);
        self.remove_rows(table, start.as_slice()..end.as_slice())?;
        self.changed = true;
        Ok(())
    }

    /// Removes the rows of `table` in `range`, from the B-tree (with the writes pending for it)
    /// and from the record cache.
    fn remove_rows(
        &mut self,
        table: ElemTable,
        range: std::ops::Range<&[u8]>,
    ) -> Result<(), StorageError> {
        self.flush_elems(table)?;
        let tag = cache_tag(table);
        let cache = &mut *self.cache;
        let t = opened_elem(&mut self.held.elems, self.txn, table)?;
        t.retain_in::<&[u8], _>(range, |row, _| {
            if let Some(tag) = tag {
                cache.forget(tag, row);
            }
            false
        })?;
        Ok(())
    }

    /// Copies a live key with all its elements to `dst_db`/`dst` (which must not exist): used by
    /// RENAME, MOVE and COPY.
    pub fn copy_key(
        &mut self,
        entry: &Entry,
        db: usize,
        key: &[u8],
        dst_db: usize,
        dst: &[u8],
    ) -> Result<(), StorageError> {
        for &table in entry.kind.elem_tables() {
            let mut cursor: Option<Vec<u8>> = None;
            loop {
                let from = cursor.as_deref().map(|c| [c, &[0u8][..]].concat());
                let range = ElemRange {
                    from: from.as_deref(),
                    ..ElemRange::all(1024)
                };
                let batch = self.elem_range(table, db, key, range)?;
                let Some((last, _)) = batch.last() else { break };
                cursor = Some(last.clone());
                for (elem, value) in &batch {
                    self.elem_put(table, dst_db, dst, elem, value)?;
                }
            }
        }
        self.put_entry(dst_db, dst, entry)
    }

    /// The counters (key counts, expired keys).
    pub fn counters(&self) -> &Counters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::TableHandle;

    /// A set whose members are all in the record cache (its record counts them) takes a new
    /// member into the cache, without a B-tree walk; with a count that does not match, the
    /// member goes straight into the B-tree.
    #[test]
    fn a_wholly_cached_set_takes_a_new_member_into_the_cache() {
        with_test_keyspace(|ks| {
            use crate::keyspace::slotted;
            let t = ElemTable::SetMembers;
            let set = |ks: &mut Keyspace<'_, '_>, n: u64| {
                let mut body = [0u8; 9];
                body[..8].copy_from_slice(&n.to_le_bytes());
                ks.put(0, b"s", Kind::Set, None, &body).unwrap();
            };
            let in_btree = |ks: &mut Keyspace<'_, '_>, member: &[u8]| {
                let row = ks.elem_key(0, b"s", member);
                let table = ks.elem_table(t).unwrap();
                table.get(row.as_slice()).unwrap().is_some()
            };
            assert!(ks
                .elem_upsert(t, 0, b"s", &slotted(b"a"), b"", 0)
                .unwrap()
                .is_none());
            set(ks, 1);
            assert!(ks
                .elem_upsert(t, 0, b"s", &slotted(b"b"), b"", 1)
                .unwrap()
                .is_none());
            set(ks, 2);
            assert!(!in_btree(ks, &slotted(b"a")) && !in_btree(ks, &slotted(b"b")));
            assert!(ks
                .elem_upsert(t, 0, b"s", &slotted(b"a"), b"", 2)
                .unwrap()
                .is_some());
            // A count the cache does not match: the new member is written into the B-tree.
            assert!(ks
                .elem_upsert(t, 0, b"s", &slotted(b"c"), b"", 5)
                .unwrap()
                .is_none());
            assert!(in_btree(ks, &slotted(b"c")));
            set(ks, 3);
            ks.check_integrity().unwrap();
        });
    }

    #[test]
    fn each_cached_element_table_has_its_own_tag_and_finds_its_table_again() {
        let mut seen = vec![META_TAG];
        for table in ElemTable::ALL {
            if let Some(tag) = cache_tag(table) {
                assert!(usize::from(tag) < cache::TAGS, "{table:?}");
                assert!(!seen.contains(&tag), "{table:?}");
                seen.push(tag);
                assert_eq!(elem_table_of_tag(tag), Some(table));
                assert_eq!(table_of_tag(tag).name(), ELEM_TABLES[table as usize].name());
            }
        }
        assert_eq!(seen.len(), cache::TAGS);
        assert_eq!(table_of_tag(META_TAG).name(), META.name());
    }

    #[test]
    fn element_writes_wait_in_the_cache_and_range_removals_forget_them() {
        with_test_keyspace(|ks| {
            let t = ElemTable::SetMembers;
            let tag = cache_tag(t).unwrap();
            // Rows the cache does not know are written straight into the B-tree, and known.
            for m in [&b"a"[..], b"b", b"c"] {
                assert_eq!(ks.elem_put(t, 0, b"s", m, b"").unwrap(), None);
            }
            assert!(!ks.cache.has_pending_in(tag));
            // A known row's change waits in the cache; every read sees it.
            assert_eq!(ks.elem_remove(t, 0, b"s", b"b").unwrap(), Some(vec![]));
            assert!(ks.cache.has_pending_in(tag));
            assert_eq!(ks.elem_get(t, 0, b"s", b"b").unwrap(), None);
            assert_eq!(
                ks.elem_range(t, 0, b"s", ElemRange::all(10)).unwrap().len(),
                2
            );
            assert!(!ks.cache.has_pending_in(tag));
            // An unchanged write is not made.
            assert_eq!(ks.elem_put(t, 0, b"s", b"a", b"").unwrap(), Some(vec![]));
            assert!(!ks.cache.has_pending_in(tag));
            // A removal of the range drops the pending and clean entries too.
            assert_eq!(ks.elem_put(t, 0, b"s", b"b", b"").unwrap(), None);
            assert!(ks.cache.has_pending_in(tag));
            ks.clear_rows(t, 0, b"s").unwrap();
            for m in [&b"a"[..], b"b", b"c"] {
                assert_eq!(ks.elem_get(t, 0, b"s", m).unwrap(), None);
            }
            assert_eq!(ks.elem_put(t, 0, b"s", b"b", b"").unwrap(), None);
            ks.elem_remove_range(t, 0, b"s", b"a", b"c").unwrap();
            assert_eq!(ks.elem_get(t, 0, b"s", b"b").unwrap(), None);
        });
    }
}
