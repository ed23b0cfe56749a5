//! The write-ahead log: what makes an acknowledged write durable before redb's own (slow) durable
//! commit.
//!
//! Each group of executed write commands becomes one record, appended (and, in `always` mode,
//! `fdatasync`ed) before any reply of the group leaves. redb commits those groups without fsync;
//! a periodic checkpoint makes redb durable, starts a new *epoch* and rewinds the log. On start,
//! the records of the current epoch newer than redb's `applied_lsn` are replayed. The format and
//! its invariants are in `docs/storage.md` ("The log file").
//!
//! File: a 16-byte header, then records `[len u32][crc u32][payload]` where the payload is
//! `[lsn u64][epoch u64][synced u64][count u32]` followed by `count` commands
//! `[time_ms i64][db u8][argc u32]([len u32][bytes])*` (each command carries the clock it ran
//! with, so replay sees the same expiries). `synced` is the highest sequence number known to be
//! on disk when the record was written: a later intact record vouches that an earlier one was
//! acknowledged, which tells damage in the middle of the log from a torn tail.
//!
//! Only an unbroken chain is replayed: the records of the epoch stored in redb, with sequence
//! numbers `base + 1, base + 2, …` from its start. Records of earlier epochs left beyond the end
//! after a rewind, and records of this epoch after a gap, never are.
//!
//! The file is preallocated with zeros in steps of [`PREALLOC`] and records overwrite them, so an
//! `fdatasync` after an append need not also write the inode (the file size does not change),
//! which makes each sync cheaper.

use std::io::{Read, Seek, SeekFrom, Write};

const MAGIC: &[u8; 16] = b"DISKDB-WAL-v2\0\0\n";
/// Format 1 (no epochs): read once after an upgrade, then rewritten as format 2.
const MAGIC_V1: &[u8; 16] = b"DISKDB-WAL-v1\0\0\n";
const HEADER: u64 = MAGIC.len() as u64;
/// Seed of a format-2 record's CRC-32, so that a format-1 record never passes for one.
const CRC_SEED: u32 = 0x5744_4232;
const MAX_RECORD: u32 = 1 << 31;
/// Bytes of a format-2 payload before its commands.
const PAYLOAD_HEAD: usize = 28;
/// Preallocation step of the log file.
pub const PREALLOC: u64 = 8 * 1024 * 1024;
/// A log file larger than this is shrunk back at a checkpoint.
const SHRINK_ABOVE: u64 = 8 * PREALLOC;

/// The bytes under the log: a file natively and on WASI, a simulated disk in the power-loss
/// test (`core/tests/power_loss.rs`), which drops unsynced writes the way a machine crash can.
pub trait LogFile: Send {
    /// The whole file.
    fn read_all(&mut self) -> std::io::Result<Vec<u8>>;
    /// Writes `bytes` at `offset` (not durable until a sync).
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()>;
    /// Makes the written bytes durable (`fdatasync`).
    fn sync_data(&mut self) -> std::io::Result<()>;
    /// Makes the written bytes and the file's size durable (`fsync`).
    fn sync_all(&mut self) -> std::io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&mut self, len: u64) -> std::io::Result<()>;
}

/// A log file on the file system.
#[derive(Debug)]
pub struct FsLog {
    file: std::fs::File,
    /// The file position, so that an append needs no seek.
    pos: u64,
}

impl FsLog {
    /// Opens (creating if missing) the log file at `path`.
    pub fn open(path: &std::path::Path) -> std::io::Result<FsLog> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(FsLog { file, pos: 0 })
    }
}

impl LogFile for FsLog {
    fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        let mut data = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.pos = 0;
        self.file.read_to_end(&mut data)?;
        self.pos = data.len() as u64;
        Ok(data)
    }
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        if self.pos != offset {
            self.pos = u64::MAX; // unknown until the seek succeeds
            self.file.seek(SeekFrom::Start(offset))?;
            self.pos = offset;
        }
        let result = self.file.write_all(bytes);
        self.pos = if result.is_ok() {
            offset + bytes.len() as u64
        } else {
            u64::MAX
        };
        result
    }
    fn sync_data(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }
    fn sync_all(&mut self) -> std::io::Result<()> {
        self.file.sync_all()
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)
    }
}

/// One replayable group of write commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    pub lsn: u64,
    pub commands: Vec<LoggedCommand>,
}

/// One logged write command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedCommand {
    pub time_ms: i64,
    pub db: u8,
    pub argv: Vec<Vec<u8>>,
}

/// What ends the chain of records that recovery replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The chain ends where writing stopped.
    Clean,
    /// The record after the chain is torn or missing (a crash mid-append, or unsynced pages
    /// lost with the machine): nothing after it was known to be on disk when it was written.
    /// `dropped` intact records of this epoch follow the gap; they were never acknowledged in
    /// `always` mode.
    Torn { offset: u64, dropped: usize },
    /// A record that a later intact record vouches was on disk fails its checksum or is
    /// missing: the log was damaged after it was written, and `intact_after` acknowledged
    /// records follow the damage.
    Damaged {
        offset: u64,
        lsn: u64,
        intact_after: usize,
    },
}

/// What recovery found in the log.
#[derive(Debug)]
pub struct Recovered {
    /// The chain to replay, oldest first (records redb already holds included).
    pub records: Vec<WalRecord>,
    pub tail: Tail,
}

/// The open log file.
pub struct Wal {
    file: Box<dyn LogFile>,
    name: String,
    /// End of the last record: where the next one is written.
    len: u64,
    /// Bytes the file holds (zeros or older records past `len`).
    allocated: u64,
    /// The current epoch and the sequence number its chain continues from.
    epoch: u64,
    base: u64,
    /// Sequence number of the last record appended, and of the last one known on disk.
    appended: u64,
    synced: u64,
    /// The header still says format 1: rewritten at the next rewind.
    v1: bool,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("epoch", &self.epoch)
            .finish()
    }
}

/// Builds a record's payload while commands execute, without a copy per argument later.
#[derive(Debug, Default)]
pub struct RecordBuilder {
    buf: Vec<u8>,
    count: u32,
}

impl RecordBuilder {
    /// Starts a record (clearing any previous one).
    pub fn begin(&mut self, lsn: u64) {
        self.buf.clear();
        self.buf.extend_from_slice(&[0u8; 8]); // len + crc, filled by `finish`
        self.buf.extend_from_slice(&lsn.to_le_bytes());
        self.buf.extend_from_slice(&[0u8; 20]); // epoch, synced, count: filled by `finish`
        self.count = 0;
    }

    /// Appends one command as executed in database `db` at `time_ms`.
    pub fn command(&mut self, time_ms: i64, db: u8, argv: &dyn crate::protocol::Argv) {
        self.buf.extend_from_slice(&time_ms.to_le_bytes());
        self.buf.push(db);
        self.buf
            .extend_from_slice(&(argv.argc() as u32).to_le_bytes());
        for i in 0..argv.argc() {
            let arg = argv.arg(i);
            self.buf
                .extend_from_slice(&(arg.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(arg);
        }
        self.count += 1;
    }

    /// Commands recorded since `begin`.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether no command was recorded.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Drops the commands recorded after the mark (a failed transaction leaves nothing behind).
    pub fn mark(&self) -> (usize, u32) {
        (self.buf.len(), self.count)
    }

    /// Rolls back to a mark taken with [`RecordBuilder::mark`].
    pub fn rollback(&mut self, mark: (usize, u32)) {
        self.buf.truncate(mark.0);
        self.count = mark.1;
    }

    fn lsn(&self) -> u64 {
        u64::from_le_bytes(self.buf[8..16].try_into().unwrap_or_default())
    }

    fn finish(&mut self, epoch: u64, synced: u64) -> &[u8] {
        self.buf[16..24].copy_from_slice(&epoch.to_le_bytes());
        self.buf[24..32].copy_from_slice(&synced.to_le_bytes());
        self.buf[32..36].copy_from_slice(&self.count.to_le_bytes());
        let payload_len = (self.buf.len() - 8) as u32;
        let crc = crc(&self.buf[8..]);
        self.buf[0..4].copy_from_slice(&payload_len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        &self.buf
    }
}

fn crc(payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(CRC_SEED);
    hasher.update(payload);
    hasher.finalize()
}

/// A format-2 record's fixed fields.
#[derive(Debug, Clone, Copy)]
struct Head {
    lsn: u64,
    epoch: u64,
    synced: u64,
}

fn le_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap_or_default())
}

fn le_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap_or_default())
}

/// The fixed fields and end of a record that fits in `data` at `pos`, checksum not checked.
fn head_at(data: &[u8], pos: usize) -> Option<(Head, usize)> {
    if data.len() < pos + 8 + PAYLOAD_HEAD {
        return None;
    }
    let len = le_u32(data, pos);
    if (len as usize) < PAYLOAD_HEAD || len >= MAX_RECORD {
        return None;
    }
    let end = pos.checked_add(8 + len as usize)?;
    if end > data.len() {
        return None;
    }
    let p = pos + 8;
    let head = Head {
        lsn: le_u64(data, p),
        epoch: le_u64(data, p + 8),
        synced: le_u64(data, p + 16),
    };
    Some((head, end))
}

fn crc_holds(data: &[u8], pos: usize, end: usize) -> bool {
    crc(&data[pos + 8..end]) == le_u32(data, pos + 4)
}

/// Decodes `count` commands (format 1 and 2 encode them alike).
fn decode_commands(lsn: u64, count: u32, body: &[u8]) -> Option<WalRecord> {
    let mut p = Cursor(body);
    let mut commands = Vec::new();
    for _ in 0..count {
        let time_ms = i64::from_le_bytes(p.take(8)?.try_into().ok()?);
        let db = p.take(1)?[0];
        let argc = p.u32()?;
        let mut argv = Vec::new();
        for _ in 0..argc {
            let len = p.u32()? as usize;
            argv.push(p.take(len)?.to_vec());
        }
        commands.push(LoggedCommand { time_ms, db, argv });
    }
    p.0.is_empty().then_some(WalRecord { lsn, commands })
}

fn decode_v2(payload: &[u8]) -> Option<WalRecord> {
    let lsn = le_u64(payload, 0);
    let count = le_u32(payload, 24);
    decode_commands(lsn, count, &payload[PAYLOAD_HEAD..])
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

/// The chain of format-2 records of `epoch` from `base + 1` at the start of `data`, and where
/// it ends.
fn chain(data: &[u8], epoch: u64, base: u64) -> (Vec<WalRecord>, usize) {
    let mut records = Vec::new();
    let mut pos = HEADER as usize;
    let mut next = base + 1;
    while let Some((head, end)) = head_at(data, pos) {
        if head.epoch != epoch || head.lsn != next || !crc_holds(data, pos, end) {
            break;
        }
        let Some(record) = decode_v2(&data[pos + 8..end]) else {
            break;
        };
        records.push(record);
        pos = end;
        next += 1;
    }
    (records, pos)
}

/// Classifies what follows the chain ending at `end` (whose next record would be `next`): a
/// byte-by-byte search for intact records of the same epoch beyond it.
fn tail_after(data: &[u8], end: usize, epoch: u64, next: u64) -> Tail {
    let torn_here =
        head_at(data, end).is_some_and(|(head, _)| head.epoch == epoch && head.lsn == next);
    let (mut intact, mut vouched) = (0usize, false);
    let mut p = end + 1;
    while p + 8 + PAYLOAD_HEAD <= data.len() {
        // Skip zeros (the preallocated rest of the file) eight bytes at a time: a record whose
        // length field holds no byte past them cannot start before the first non-zero one.
        static ZEROS: [u8; 512] = [0; 512];
        let mut z = p;
        while z + 512 <= data.len() && data[z..z + 512] == ZEROS {
            z += 512;
        }
        while z + 8 <= data.len() && data[z..z + 8] == ZEROS[..8] {
            z += 8;
        }
        if z - p >= 8 {
            p = p.max(z.saturating_sub(3));
            continue;
        }
        if let Some((head, e)) = head_at(data, p) {
            if head.epoch == epoch && head.lsn >= next && crc_holds(data, p, e) {
                intact += 1;
                vouched |= head.synced >= next;
                p = e;
                continue;
            }
        }
        p += 1;
    }
    if vouched {
        Tail::Damaged {
            offset: end as u64,
            lsn: next,
            intact_after: intact,
        }
    } else if intact > 0 || torn_here {
        Tail::Torn {
            offset: end as u64,
            dropped: intact,
        }
    } else {
        Tail::Clean
    }
}

/// A format-1 log: records while the checksum holds and the sequence number rises.
fn chain_v1(data: &[u8]) -> (Vec<WalRecord>, usize) {
    let mut records: Vec<WalRecord> = Vec::new();
    let mut pos = HEADER as usize;
    while data.len() - pos >= 8 {
        let len = le_u32(data, pos);
        let end = pos + 8 + len as usize;
        if !(12..MAX_RECORD).contains(&len) || end > data.len() {
            break;
        }
        let payload = &data[pos + 8..end];
        if crc32fast::hash(payload) != le_u32(data, pos + 4) {
            break;
        }
        let lsn = le_u64(payload, 0);
        let Some(record) = decode_commands(lsn, le_u32(payload, 8), &payload[12..]) else {
            break;
        };
        if records.last().is_some_and(|last| record.lsn <= last.lsn) {
            break;
        }
        records.push(record);
        pos = end;
    }
    (records, pos)
}

/// A log file read at start, before redb says which epoch to recover.
pub struct LogImage {
    file: Box<dyn LogFile>,
    name: String,
    data: Vec<u8>,
    v1: bool,
}

impl LogImage {
    /// Reads the log (`name` is for messages). An empty file is a new log; a file that is not
    /// a DiskDB log is an error.
    pub fn read(mut file: Box<dyn LogFile>, name: String) -> std::io::Result<LogImage> {
        let data = file.read_all()?;
        let v1 = data.len() >= MAGIC.len() && &data[..MAGIC.len()] == MAGIC_V1;
        if !data.is_empty() && !v1 && (data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{name} is not a DiskDB write-ahead log"),
            ));
        }
        Ok(LogImage {
            file,
            name,
            data,
            v1,
        })
    }

    /// Whether the log starts with an intact record of any epoch: then it was written to, and
    /// the database file must exist.
    pub fn holds_records(&self) -> bool {
        if self.v1 {
            return !chain_v1(&self.data).0.is_empty();
        }
        let pos = HEADER as usize;
        head_at(&self.data, pos).is_some_and(|(_, end)| crc_holds(&self.data, pos, end))
    }

    /// Finds the chain of `epoch` from `base + 1` (a format-1 log: every intact record) and
    /// opens the log to append after it.
    pub fn recover(self, epoch: u64, base: u64) -> std::io::Result<(Wal, Recovered)> {
        let LogImage {
            file,
            name,
            data,
            v1,
        } = self;
        let (records, end, tail) = if v1 {
            let (records, end) = chain_v1(&data);
            (records, end, Tail::Clean)
        } else if data.is_empty() {
            (Vec::new(), HEADER as usize, Tail::Clean)
        } else {
            let (records, end) = chain(&data, epoch, base);
            let next = base + 1 + records.len() as u64;
            let tail = tail_after(&data, end, epoch, next);
            (records, end, tail)
        };
        let last = records.last().map_or(base, |r| r.lsn);
        let mut wal = Wal {
            file,
            name,
            len: end as u64,
            allocated: data.len() as u64,
            epoch,
            base,
            appended: last,
            synced: last,
            v1,
        };
        if data.is_empty() {
            wal.file.write_at(0, MAGIC)?;
            wal.allocated = HEADER;
        }
        if wal.allocated < PREALLOC {
            wal.grow(PREALLOC)?;
        }
        Ok((wal, Recovered { records, tail }))
    }
}

impl Wal {
    /// Extends the file with zeros to `target` bytes and makes the new size durable.
    fn grow(&mut self, target: u64) -> std::io::Result<()> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        while self.allocated < target {
            let n = (target - self.allocated).min(ZEROS.len() as u64) as usize;
            self.file.write_at(self.allocated, &ZEROS[..n])?;
            self.allocated += n as u64;
        }
        self.file.sync_all()
    }

    /// Appends a finished record (written, not yet synced). On `Err` the next append starts
    /// where this one did; the partial bytes fail their checksum.
    pub fn append(&mut self, record: &mut RecordBuilder) -> std::io::Result<()> {
        if self.v1 {
            return Err(std::io::Error::other(format!(
                "{}: a format-1 log takes new records only after a checkpoint",
                self.name
            )));
        }
        let lsn = record.lsn();
        let bytes = record.finish(self.epoch, self.synced);
        let end = self.len + bytes.len() as u64;
        if end > self.allocated {
            let target = end.div_ceil(PREALLOC) * PREALLOC;
            self.grow(target)?;
        }
        self.file.write_at(self.len, bytes)?;
        self.len = end;
        self.appended = lsn;
        Ok(())
    }

    /// Makes everything appended so far durable (`fdatasync`).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.appended != self.synced {
            self.file.sync_data()?;
            self.synced = self.appended;
        }
        Ok(())
    }

    /// Whether records were appended since the last sync.
    pub fn has_unsynced(&self) -> bool {
        self.appended != self.synced
    }

    /// Bytes in the log, header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER
    }

    /// Empties the log after a checkpoint made every record in it durable in redb, in a new
    /// `epoch` whose chain continues from `base`: the next record is written at the start again.
    pub fn reset(&mut self, epoch: u64, base: u64) -> std::io::Result<()> {
        self.len = HEADER;
        self.epoch = epoch;
        self.base = base;
        self.appended = base;
        self.synced = base;
        if self.v1 {
            self.file.write_at(0, MAGIC)?;
            self.file.sync_data()?;
            self.v1 = false;
        }
        if self.allocated > SHRINK_ABOVE {
            self.file.set_len(PREALLOC)?;
            self.file.sync_all()?;
            self.allocated = PREALLOC;
        }
        Ok(())
    }

    /// The records appended since the last rewind, read back (to replay them into a reopened
    /// redb after a failed write).
    pub fn read_back(&mut self) -> std::io::Result<Vec<WalRecord>> {
        let data = self.file.read_all()?;
        let len = (self.len as usize).min(data.len());
        let (records, end) = if self.v1 {
            chain_v1(&data[..len])
        } else {
            chain(&data[..len], self.epoch, self.base)
        };
        if end != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: a record written by this process fails its checksum at byte {end}",
                    self.name
                ),
            ));
        }
        Ok(records)
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The log's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A log in memory that can be shared with a later "process".
    #[derive(Clone, Default)]
    struct MemLog(Arc<Mutex<Vec<u8>>>);

    impl LogFile for MemLog {
        fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
            Ok(self.0.lock().unwrap().clone())
        }
        fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
            let mut data = self.0.lock().unwrap();
            let end = offset as usize + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[offset as usize..end].copy_from_slice(bytes);
            Ok(())
        }
        fn sync_data(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn sync_all(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn set_len(&mut self, len: u64) -> std::io::Result<()> {
            self.0.lock().unwrap().resize(len as usize, 0);
            Ok(())
        }
    }

    fn open(log: &MemLog, epoch: u64, base: u64) -> (Wal, Recovered) {
        LogImage::read(Box::new(log.clone()), "wal".into())
            .unwrap()
            .recover(epoch, base)
            .unwrap()
    }

    fn set(wal: &mut Wal, lsn: u64, key: &str, value: &str) -> u64 {
        let start = wal.len();
        let mut rb = RecordBuilder::default();
        rb.begin(lsn);
        let argv = vec![
            b"SET".to_vec(),
            key.as_bytes().to_vec(),
            value.as_bytes().to_vec(),
        ];
        rb.command(1000 + lsn as i64, 0, &argv);
        wal.append(&mut rb).unwrap();
        wal.sync().unwrap();
        start
    }

    fn values(records: &[WalRecord]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.commands[0].argv[2]).into_owned())
            .collect()
    }

    fn flip(log: &MemLog, at: u64) {
        log.0.lock().unwrap()[at as usize] ^= 0x10;
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_ignored() {
        let log = MemLog::default();
        let (mut wal, recovered) = open(&log, 1, 0);
        assert!(recovered.records.is_empty());
        for lsn in 1..=3 {
            set(&mut wal, lsn, "k", &lsn.to_string());
        }
        let full = wal.len();
        drop(wal);
        // A crash in the middle of the third record: its last bytes never reached the disk.
        log.clone().write_at(full - 3, &[0, 0, 0]).unwrap();
        let (wal, recovered) = open(&log, 1, 0);
        assert_eq!(values(&recovered.records), ["1", "2"]);
        assert_eq!(recovered.records[1].commands[0].time_ms, 1002);
        assert!(matches!(recovered.tail, Tail::Torn { dropped: 0, .. }));
        assert!(wal.len() < full - 3);
    }

    #[test]
    fn a_record_written_after_recovery_does_not_chain_into_older_records() {
        // The sequence: a damaged second record, recovery, a rewind into a new epoch,
        // then a new record that ends exactly where an old intact one begins.
        let log = MemLog::default();
        let (mut wal, _) = open(&log, 1, 0);
        set(&mut wal, 1, "a", "1");
        let second = set(&mut wal, 2, "b", "2");
        let third = set(&mut wal, 3, "g", "OLD");
        set(&mut wal, 4, "c", "4");
        drop(wal);
        flip(&log, second + 20);
        let (mut wal, recovered) = open(&log, 1, 0);
        assert_eq!(values(&recovered.records), ["1"]);
        // The checkpoint after recovery: epoch 2, chain from lsn 1.
        wal.reset(2, 1).unwrap();
        let value = "N".repeat((third - 16 - 65) as usize);
        set(&mut wal, 2, "g", &value);
        assert_eq!(
            wal.len(),
            third,
            "the new record ends where the old one starts"
        );
        drop(wal);
        let (_, recovered) = open(&log, 2, 1);
        assert_eq!(values(&recovered.records), [value]);
        assert_eq!(recovered.tail, Tail::Clean);
    }

    #[test]
    fn damage_vouched_for_by_a_later_record_is_told_from_a_torn_tail() {
        let log = MemLog::default();
        let (mut wal, _) = open(&log, 7, 40);
        let mut starts = Vec::new();
        for lsn in 41..=50 {
            starts.push(set(&mut wal, lsn, "k", &lsn.to_string()));
        }
        drop(wal);
        flip(&log, starts[3] + 30);
        let (_, recovered) = open(&log, 7, 40);
        assert_eq!(recovered.records.len(), 3);
        assert_eq!(
            recovered.tail,
            Tail::Damaged {
                offset: starts[3],
                lsn: 44,
                intact_after: 6
            }
        );
    }

    #[test]
    fn a_hole_of_unsynced_records_is_a_torn_tail() {
        let log = MemLog::default();
        let (mut wal, _) = open(&log, 1, 0);
        let mut rb = RecordBuilder::default();
        let mut starts = Vec::new();
        for lsn in 1..=5u64 {
            starts.push(wal.len());
            rb.begin(lsn);
            rb.command(0, 0, &vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
            wal.append(&mut rb).unwrap(); // never synced (everysec between two syncs)
        }
        drop(wal);
        // The machine lost the page holding the third record but kept the later ones.
        for b in starts[2]..starts[3] {
            log.0.lock().unwrap()[b as usize] = 0;
        }
        let (_, recovered) = open(&log, 1, 0);
        assert_eq!(recovered.records.len(), 2);
        assert_eq!(
            recovered.tail,
            Tail::Torn {
                offset: starts[2],
                dropped: 2
            }
        );
    }

    #[test]
    fn records_of_another_epoch_are_not_replayed() {
        let log = MemLog::default();
        let (mut wal, _) = open(&log, 3, 10);
        set(&mut wal, 11, "k", "v");
        drop(wal);
        let (_, recovered) = open(&log, 4, 11);
        assert!(recovered.records.is_empty());
        assert_eq!(recovered.tail, Tail::Clean);
    }

    #[test]
    fn a_format_1_log_is_replayed_then_rewritten() {
        let log = MemLog::default();
        let mut v1 = MAGIC_V1.to_vec();
        for lsn in 5..=6u64 {
            let mut payload = lsn.to_le_bytes().to_vec();
            payload.extend_from_slice(&1u32.to_le_bytes());
            payload.extend_from_slice(&0i64.to_le_bytes());
            payload.push(0);
            payload.extend_from_slice(&2u32.to_le_bytes());
            for arg in [&b"DEL"[..], b"k"] {
                payload.extend_from_slice(&(arg.len() as u32).to_le_bytes());
                payload.extend_from_slice(arg);
            }
            v1.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            v1.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            v1.extend_from_slice(&payload);
        }
        log.clone().write_at(0, &v1).unwrap();
        let (mut wal, recovered) = open(&log, 0, 0);
        let lsns: Vec<u64> = recovered.records.iter().map(|r| r.lsn).collect();
        assert_eq!(lsns, [5, 6]);
        wal.reset(1, 6).unwrap();
        set(&mut wal, 7, "k", "v");
        drop(wal);
        assert_eq!(&log.0.lock().unwrap()[..16], MAGIC);
        let (_, recovered) = open(&log, 1, 6);
        assert_eq!(values(&recovered.records), ["v"]);
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let log = MemLog::default();
        log.clone()
            .write_at(0, b"hello, this is not a log at all")
            .unwrap();
        assert!(LogImage::read(Box::new(log), "wal".into()).is_err());
    }
}
