//! The write-ahead log: what makes an acknowledged write durable before redb's own (slow, ~2 ms)
//! durable commit.
//!
//! Each group of executed write commands becomes one record, appended (and, in `always` mode,
//! `fdatasync`ed) before any reply of the group leaves. redb commits those groups without fsync;
//! a periodic checkpoint makes redb durable and empties the log. On start, the records newer than
//! the checkpoint stored in redb (`applied_lsn`) are replayed. See `docs/storage.md`.
//!
//! File: a 16-byte header, then records `[len u32][crc32 u32][payload]` where the payload is
//! `[lsn u64][count u32]` followed by `count` commands `[time_ms i64][db u8][argc u32]([len u32][bytes])*`
//! (each command carries the clock it ran with, so replay sees the same expiries).
//! A torn or corrupt tail (crash mid-append) fails its checksum; replay stops there.
//!
//! The file is preallocated with zeros in steps of [`PREALLOC`] and records overwrite them, so an
//! `fdatasync` after an append need not also write the inode (the file size does not change):
//! measured here, about 90 µs instead of 120 µs. A checkpoint rewinds to the start instead of
//! truncating. Older records left beyond the end are never replayed: sequence numbers must rise
//! strictly from record to record, and a stale record's number is lower than the one before it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"DISKDB-WAL-v1\0\0\n";
const MAX_RECORD: u32 = 1 << 31;
/// Preallocation step of the log file.
pub const PREALLOC: u64 = 8 * 1024 * 1024;
/// A log file larger than this is shrunk back at a checkpoint.
const SHRINK_ABOVE: u64 = 8 * PREALLOC;

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

/// The open log file.
#[derive(Debug)]
pub struct Wal {
    file: File,
    path: PathBuf,
    /// End of the last record: where the next one is written.
    len: u64,
    /// Bytes the file holds (zeros past `len`).
    allocated: u64,
    unsynced: bool,
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
        self.buf.extend_from_slice(&0u32.to_le_bytes());
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

    fn finish(&mut self) -> &[u8] {
        let count = self.count.to_le_bytes();
        self.buf[16..20].copy_from_slice(&count);
        let payload_len = (self.buf.len() - 8) as u32;
        let crc = crc32fast::hash(&self.buf[8..]);
        self.buf[0..4].copy_from_slice(&payload_len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        &self.buf
    }
}

fn decode(payload: &[u8]) -> Option<WalRecord> {
    let mut p = Cursor(payload);
    let lsn = u64::from_le_bytes(p.take(8)?.try_into().ok()?);
    let count = p.u32()?;
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
    Some(WalRecord { lsn, commands })
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

impl Wal {
    /// Opens (or creates) the log at `path` and returns the intact records in it, oldest first.
    /// A file that is not a DiskDB log is an error.
    pub fn open(path: &Path) -> std::io::Result<(Wal, Vec<WalRecord>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut records: Vec<WalRecord> = Vec::new();
        let mut good = MAGIC.len() as u64;
        if data.is_empty() {
            file.write_all(MAGIC)?;
            data.extend_from_slice(MAGIC);
        } else if data.len() < MAGIC.len() || &data[..MAGIC.len()] != MAGIC {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a DiskDB write-ahead log", path.display()),
            ));
        } else {
            let mut pos = MAGIC.len();
            while data.len() - pos >= 8 {
                let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap_or_default());
                let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap_or_default());
                let end = pos + 8 + len as usize;
                if len == 0 || len >= MAX_RECORD || end > data.len() {
                    break;
                }
                let payload = &data[pos + 8..end];
                if crc32fast::hash(payload) != crc {
                    break;
                }
                let Some(record) = decode(payload) else { break };
                if records.last().is_some_and(|last| record.lsn <= last.lsn) {
                    break; // a record from before the last checkpoint's rewind
                }
                records.push(record);
                pos = end;
                good = pos as u64;
            }
        }
        let allocated = data.len() as u64;
        file.seek(SeekFrom::Start(good))?;
        let mut wal = Wal {
            file,
            path: path.to_path_buf(),
            len: good,
            allocated,
            unsynced: false,
        };
        if wal.allocated < PREALLOC {
            wal.grow(PREALLOC)?;
        }
        Ok((wal, records))
    }

    /// Extends the file with zeros to `target` bytes and makes the new size durable.
    fn grow(&mut self, target: u64) -> std::io::Result<()> {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        self.file.seek(SeekFrom::Start(self.allocated))?;
        while self.allocated < target {
            let n = (target - self.allocated).min(ZEROS.len() as u64) as usize;
            self.file.write_all(&ZEROS[..n])?;
            self.allocated += n as u64;
        }
        self.file.sync_all()?;
        self.file.seek(SeekFrom::Start(self.len))?;
        Ok(())
    }

    /// Appends a finished record (written, not yet synced).
    pub fn append(&mut self, record: &mut RecordBuilder) -> std::io::Result<()> {
        let bytes = record.finish();
        let end = self.len + bytes.len() as u64;
        if end > self.allocated {
            let target = end.div_ceil(PREALLOC) * PREALLOC;
            if let Err(err) = self.grow(target) {
                let _ = self.file.seek(SeekFrom::Start(self.len));
                return Err(err);
            }
        }
        if let Err(err) = self.file.write_all(bytes) {
            // The next record starts where this one did; its partial bytes fail their checksum.
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(err);
        }
        self.len = end;
        self.unsynced = true;
        Ok(())
    }

    /// Makes everything appended so far durable (`fdatasync`).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Whether records were appended since the last sync.
    pub fn has_unsynced(&self) -> bool {
        self.unsynced
    }

    /// Bytes in the log, header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len <= MAGIC.len() as u64
    }

    /// Empties the log after a checkpoint made every record in it durable in redb: the next
    /// record is written at the start again.
    pub fn reset(&mut self) -> std::io::Result<()> {
        self.len = MAGIC.len() as u64;
        self.unsynced = false;
        if self.allocated > SHRINK_ABOVE {
            self.file.set_len(PREALLOC)?;
            self.file.sync_all()?;
            self.allocated = PREALLOC;
        }
        self.file.seek(SeekFrom::Start(self.len))?;
        Ok(())
    }

    /// A second handle on the log file, to `fdatasync` it from another thread while the engine
    /// goes on executing the next group.
    pub fn sync_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// Records that a sync made through [`Wal::sync_handle`] completed.
    pub fn mark_synced(&mut self) {
        self.unsynced = false;
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("diskdb-wal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("wal")
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_ignored() {
        let path = temp("torn");
        let (mut wal, records) = Wal::open(&path).unwrap();
        assert!(records.is_empty());
        let mut rb = RecordBuilder::default();
        for lsn in 1..=3u64 {
            rb.begin(lsn);
            let argv = vec![b"SET".to_vec(), b"k".to_vec(), lsn.to_string().into_bytes()];
            rb.command(1000 + lsn as i64, 0, &argv);
            wal.append(&mut rb).unwrap();
        }
        wal.sync().unwrap();
        let full = wal.len();
        drop(wal);
        // A crash in the middle of the third record: its last bytes never reached the disk.
        let mut f = OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(full - 3)).unwrap();
        f.write_all(&[0, 0, 0]).unwrap();
        drop(f);
        let (wal, records) = Wal::open(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].lsn, 2);
        assert_eq!(records[1].commands[0].time_ms, 1002);
        assert_eq!(records[1].commands[0].argv[2], b"2");
        assert!(wal.len() < full - 3);
    }

    #[test]
    fn records_from_before_a_rewind_are_not_replayed() {
        let path = temp("rewind");
        let (mut wal, _) = Wal::open(&path).unwrap();
        let mut rb = RecordBuilder::default();
        for lsn in 1..=3u64 {
            rb.begin(lsn);
            rb.command(
                0,
                0,
                &vec![b"SET".to_vec(), b"key".to_vec(), b"a-long-value".to_vec()],
            );
            wal.append(&mut rb).unwrap();
        }
        wal.reset().unwrap();
        rb.begin(4);
        rb.command(0, 0, &vec![b"DEL".to_vec(), b"k".to_vec()]);
        wal.append(&mut rb).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (_, records) = Wal::open(&path).unwrap();
        let lsns: Vec<u64> = records.iter().map(|r| r.lsn).collect();
        assert_eq!(lsns, vec![4]);
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let path = temp("foreign");
        std::fs::write(&path, b"hello, this is not a log at all").unwrap();
        assert!(Wal::open(&path).is_err());
    }
}
