//! Opening the keyspace's redb database over any byte store: a file (native, WASI), redb's
//! in-memory backend, or a caller-supplied `redb::StorageBackend` (OPFS in the browser).
//!
//! The database carries a format version in its `system` table; a file that is not a DiskDB
//! database, or one written by a newer format, is refused with a clear message.

use std::path::PathBuf;

use redb::backends::InMemoryBackend;
use redb::{Database, ReadableDatabase, StorageBackend, TableDefinition};

/// The keyspace format this build writes and reads. Format 2 keeps a list's items in chunk
/// rows (`keyspace/lists.rs`); a format-1 file, whose list items all have their own rows, is
/// read as is and stamped 2 on opening, so an older build then refuses it instead of misreading
/// the chunks.
pub const FORMAT_VERSION: u32 = 2;

/// Scalar bookkeeping: format version, last applied log sequence number, key counts.
pub(crate) const SYSTEM: TableDefinition<&str, &[u8]> = TableDefinition::new("diskdb_system");

/// Where the keyspace lives.
pub enum Store {
    /// redb's in-memory backend: an ephemeral database.
    Memory,
    /// A directory holding `diskdb.redb` and its write-ahead log `diskdb.wal`.
    Dir(PathBuf),
    /// Any other redb backend (for example OPFS), without a write-ahead log.
    Backend(Box<dyn StorageBackend>),
    /// A redb backend and a write-ahead log on byte stores of the caller's (the power-loss
    /// test's simulated disk).
    Files {
        db: Box<dyn StorageBackend>,
        log: Box<dyn crate::wal::LogFile>,
    },
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Memory => f.write_str("Memory"),
            Store::Dir(p) => write!(f, "Dir({})", p.display()),
            Store::Backend(_) => f.write_str("Backend"),
            Store::Files { .. } => f.write_str("Files"),
        }
    }
}

/// Why the keyspace could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path} is not a DiskDB database ({reason})")]
    NotDiskDb { path: String, reason: String },
    #[error("{path} was written by a newer DiskDB (format {found}); this build reads format {FORMAT_VERSION}")]
    NewerFormat { path: String, found: u32 },
    #[error("{path} is missing or empty but the write-ahead log {wal} holds writes: the database file was lost or replaced. Refusing to start; restore the file, or move the log away to start empty")]
    LostDatabase { path: String, wal: String },
    #[error("the write-ahead log {path} is damaged at byte {offset} (record {lsn}), and {intact_after} acknowledged records follow the damage: refusing to start. Start with --log-damage truncate (config `log-damage truncate`) to drop the records from the damage on (the log is copied to {path}.damaged-<epoch> first); `diskdb-server --check` reports on the log and the database")]
    DamagedLog {
        path: String,
        offset: u64,
        lsn: u64,
        intact_after: usize,
    },
    #[error("the database file is damaged and cannot be repaired ({reason}); `diskdb-server --check` reports on it")]
    DamagedDatabase { reason: String },
    #[error("{path} changed while DiskDB was stopped and is damaged ({found}). Refusing to start: restore the data directory from a backup, or delete {seal} to start from what redb kept")]
    DamagedWhileStopped {
        path: String,
        found: String,
        seal: String,
    },
    #[error("{path} is in use by another DiskDB process")]
    Locked { path: String },
    #[error("write-ahead log {path}: {source}")]
    Wal {
        path: String,
        source: std::io::Error,
    },
    #[error("the database is closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("storage: {0}")]
    Redb(String),
    #[error("storage: corrupt {0}")]
    Corrupt(&'static str),
}

// An I/O error keeps its kind (a full disk must be told apart from a damaged file).
macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StorageError {
            fn from(e: $t) -> Self {
                match redb::Error::from(e) {
                    redb::Error::Io(io) => StorageError::Io(io),
                    other => StorageError::Redb(other.to_string()),
                }
            }
        }
    )*};
}

impl StorageError {
    /// Whether a write failed for want of space: the disk or a quota is full (ENOSPC, EDQUOT),
    /// or the file size limit was reached (EFBIG). Writes fail until space returns; the data
    /// written before is intact.
    pub fn is_disk_full(&self) -> bool {
        let io = match self {
            StorageError::Io(e) | StorageError::Wal { source: e, .. } => e,
            _ => return false,
        };
        matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull
                | std::io::ErrorKind::QuotaExceeded
                | std::io::ErrorKind::FileTooLarge
        )
    }
}
from_redb!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Opens (creating if needed) the redb database of `store` with a page cache of `cache_bytes`,
/// and checks or stamps its format version.
pub(crate) fn open_database(store: Store, cache_bytes: usize) -> Result<Database, StorageError> {
    let mut builder = Database::builder();
    builder.set_cache_size(cache_bytes);
    let (db, name) = match store {
        Store::Memory => (
            builder.create_with_backend(InMemoryBackend::new()),
            "memory".to_string(),
        ),
        Store::Dir(dir) => {
            let path = dir.join(DB_FILE);
            let name = path.display().to_string();
            (builder.create(&path), name)
        }
        Store::Backend(backend) | Store::Files { db: backend, .. } => (
            builder.create_with_backend(BoxedBackend(backend)),
            "backend".into(),
        ),
    };
    let db = db.map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StorageError::Locked { path: name.clone() },
        other => StorageError::NotDiskDb {
            path: name.clone(),
            reason: other.to_string(),
        },
    })?;
    check_format(&db, &name)?;
    Ok(db)
}

/// Makes the directory's entries durable (the files created or renamed in it). Where a
/// directory cannot be opened as a file (WASI preview 1), there is nothing more to do.
pub(crate) fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// redb's integrity check: every page against the checksum its parent holds. `Ok(false)`: damage
/// was found and redb rolled back to an intact commit; an unrepairable file is an error.
pub(crate) fn verify_pages(db: &mut Database) -> Result<bool, StorageError> {
    db.check_integrity()
        .map_err(|e| StorageError::DamagedDatabase {
            reason: e.to_string(),
        })
}

/// A file of zeros kept in the data directory so that a full disk never leaves DiskDB without
/// room to reopen, replay the log and checkpoint: it is deleted when a write finds the disk
/// full (writes are then refused, reads go on) and made again, once there is room, before
/// writes resume.
#[derive(Debug)]
pub(crate) struct Reserve {
    path: PathBuf,
    held: bool,
}

/// Size of the reserve file.
pub const RESERVE_BYTES: u64 = 16 * 1024 * 1024;
/// The reserve file's name inside the data directory.
pub const RESERVE_FILE: &str = "diskdb.reserve";

impl Reserve {
    pub(crate) fn new(dir: &std::path::Path) -> Reserve {
        Reserve {
            path: dir.join(RESERVE_FILE),
            held: false,
        }
    }

    /// Whether the file is there.
    pub(crate) fn held(&self) -> bool {
        self.held
    }

    /// Deletes the file, giving its room back.
    pub(crate) fn release(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        self.held = false;
    }

    /// Makes the file if it is not held; `false` if the disk has no room for it.
    pub(crate) fn take(&mut self) -> bool {
        if !self.held {
            self.held = Reserve::write(&self.path).is_ok();
            if !self.held {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        self.held
    }

    fn write(path: &std::path::Path) -> std::io::Result<()> {
        use std::io::Write;
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        let mut file = std::fs::File::create(path)?;
        let mut left = RESERVE_BYTES;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            file.write_all(&ZEROS[..n])?;
            left -= n as u64;
        }
        file.sync_all()
    }
}

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "diskdb.redb";
/// The write-ahead log's name inside the data directory.
pub const WAL_FILE: &str = "diskdb.wal";

fn check_format(db: &Database, name: &str) -> Result<(), StorageError> {
    let read = db.begin_read()?;
    let found = match read.open_table(SYSTEM) {
        Ok(table) => match table.get("format")? {
            Some(v) => Some(parse_u32(v.value()).ok_or_else(|| StorageError::NotDiskDb {
                path: name.into(),
                reason: "unreadable format version".into(),
            })?),
            None => None,
        },
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let has_tables = read.list_tables()?.next().is_some();
    drop(read);
    match found {
        Some(v) if v > FORMAT_VERSION => Err(StorageError::NewerFormat {
            path: name.into(),
            found: v,
        }),
        Some(v) if v == FORMAT_VERSION => Ok(()),
        Some(_) => stamp_format(db),
        None if has_tables => Err(StorageError::NotDiskDb {
            path: name.into(),
            reason: "a redb database without DiskDB's tables".into(),
        }),
        None => stamp_format(db),
    }
}

fn stamp_format(db: &Database) -> Result<(), StorageError> {
    let mut write = db.begin_write()?;
    write.set_durability(redb::Durability::Immediate)?;
    {
        let mut table = write.open_table(SYSTEM)?;
        table.insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
    }
    write.commit()?;
    Ok(())
}

fn parse_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Lets a boxed backend chosen at run time be handed to redb, which wants a concrete type.
#[derive(Debug)]
struct BoxedBackend(Box<dyn StorageBackend>);

impl StorageBackend for BoxedBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.0.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_format_is_refused_with_a_clear_message() {
        let dir = std::env::temp_dir().join(format!("diskdb-format-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            let db = Database::create(dir.join(DB_FILE)).unwrap();
            let write = db.begin_write().unwrap();
            {
                let mut table = write.open_table(SYSTEM).unwrap();
                table
                    .insert("format", 99u32.to_le_bytes().as_slice())
                    .unwrap();
            }
            write.commit().unwrap();
        }
        let err = open_database(Store::Dir(dir.clone()), 1 << 20).unwrap_err();
        assert!(
            err.to_string()
                .contains("written by a newer DiskDB (format 99)"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
