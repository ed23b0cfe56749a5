//! A database whose single file the host can read out and replace: the stores of the JavaScript
//! API (memory, OPFS). The file is the same redb file the native server keeps in
//! `diskdb.redb`, so `export()` gives bytes the server opens and `import()` takes the server's.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use diskdb_core::storage::StorageError;
use diskdb_core::{Durability, Engine, EngineConfig, Store};
use redb::StorageBackend;

use crate::shell::Shell;

/// A byte store holding one database file.
pub trait FileStore {
    /// A redb backend over the file. Its `close` must not release the file: the store outlives
    /// the engines opened on it (export and import reopen).
    fn backend(&self) -> Box<dyn StorageBackend>;
    /// The whole file.
    fn read_all(&self) -> io::Result<Vec<u8>>;
    /// Replaces the whole file, durably.
    fn replace_all(&self, bytes: &[u8]) -> io::Result<()>;
    /// How commits reach the store.
    fn durability(&self) -> Durability;
}

/// Why an operation on a [`Db`] failed, as text for the host's error.
pub type DbError = String;

/// An open database plus its client session.
pub struct Db<S: FileStore> {
    store: S,
    shell: Option<Shell>,
    client_name: String,
}

fn open_engine<S: FileStore>(store: &S) -> Result<Engine, StorageError> {
    Engine::open(EngineConfig {
        store: Store::Backend(store.backend()),
        durability: store.durability(),
        // Browsers give a tab far less memory than a server has.
        cache_bytes: 16 * 1024 * 1024,
        ..EngineConfig::default()
    })
}

impl<S: FileStore> Db<S> {
    /// Opens (creating if empty) the database in `store`.
    pub fn open(store: S, now_ms: i64, client_name: &str) -> Result<Db<S>, DbError> {
        let engine = open_engine(&store).map_err(|e| e.to_string())?;
        Ok(Db {
            store,
            shell: Some(Shell::new(engine, now_ms, client_name)),
            client_name: client_name.to_string(),
        })
    }

    /// The session, or an error once the database is closed (or a reopen failed).
    pub fn shell(&mut self) -> Result<&mut Shell, DbError> {
        self.shell
            .as_mut()
            .ok_or_else(|| "ERR the database is closed".to_string())
    }

    /// The store, for hosts that release it after [`Db::close`].
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Makes everything durable and closes the engine: afterwards the store's file is a
    /// complete, cleanly closed redb file.
    fn close_engine(&mut self, now_ms: i64) -> Result<(), DbError> {
        let Some(mut shell) = self.shell.take() else {
            return Ok(());
        };
        if let Err(err) = shell.engine_mut().close(now_ms) {
            self.shell = Some(shell);
            return Err(err.to_string());
        }
        // Dropping the engine drops redb's Database, which closes the file.
        drop(shell.into_engine());
        Ok(())
    }

    /// Reopens the engine on the store (after export or import).
    fn reopen(&mut self, now_ms: i64) -> Result<(), DbError> {
        let engine = open_engine(&self.store).map_err(|e| e.to_string())?;
        self.shell = Some(Shell::new(engine, now_ms, &self.client_name));
        Ok(())
    }

    /// The database file's bytes, as the native server would find them in `diskdb.redb` after
    /// a clean shutdown. The session (selected database, protocol) starts afresh.
    pub fn export(&mut self, now_ms: i64) -> Result<Vec<u8>, DbError> {
        self.shell()?;
        self.close_engine(now_ms)?;
        let bytes = self.store.read_all().map_err(|e| e.to_string());
        self.reopen(now_ms)?;
        bytes
    }

    /// Replaces the database with a DiskDB database file (from `export()` or a server's
    /// `diskdb.redb` after SAVE or shutdown). The bytes are checked first: a file that is not a
    /// DiskDB database is refused and the current data is kept.
    pub fn import(&mut self, bytes: &[u8], now_ms: i64) -> Result<(), DbError> {
        self.shell()?;
        validate(bytes)?;
        self.close_engine(now_ms)?;
        if let Err(err) = self.store.replace_all(bytes) {
            // The old file may be gone; reopen whatever is there so the handle stays usable.
            let _ = self.reopen(now_ms);
            return Err(format!("ERR import failed: {err}"));
        }
        self.reopen(now_ms)
    }

    /// After a command: if it was SHUTDOWN, closes the database as [`Db::close`] does (Redis's
    /// server stops; here the database closes and later calls fail). Returns whether it closed.
    pub fn close_if_shut_down(&mut self, now_ms: i64) -> Result<bool, DbError> {
        let Some(shell) = self.shell.as_mut() else {
            return Ok(false);
        };
        if !std::mem::take(&mut shell.engine_mut().state_mut().shutdown_requested) {
            return Ok(false);
        }
        self.close_engine(now_ms)?;
        Ok(true)
    }

    /// Makes everything durable and closes the engine; later calls fail.
    pub fn close(&mut self, now_ms: i64) -> Result<(), DbError> {
        self.close_engine(now_ms)
    }
}

/// Checks that `bytes` hold a DiskDB database by opening a throwaway copy of them.
pub fn validate(bytes: &[u8]) -> Result<(), DbError> {
    if bytes.is_empty() {
        return Err("ERR import: not a DiskDB database (the file is empty)".into());
    }
    let copy = MemoryFile::from_bytes(bytes.to_vec());
    match open_engine(&copy) {
        Ok(_) => Ok(()),
        Err(err) => Err(format!("ERR import: {err}")),
    }
}

/// A database file in memory that the host can read out: redb's own in-memory backend hides
/// its bytes, which `export()` needs.
#[derive(Debug, Clone, Default)]
pub struct MemoryFile(Arc<Mutex<Vec<u8>>>);

impl MemoryFile {
    /// An empty file (a new database).
    pub fn new() -> MemoryFile {
        MemoryFile::default()
    }

    /// A file holding `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> MemoryFile {
        MemoryFile(Arc::new(Mutex::new(bytes)))
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, Vec<u8>>> {
        // A panic while holding the lock would leave a half-written page: refuse to go on.
        self.0
            .lock()
            .map_err(|_| io::Error::other("the in-memory database was poisoned by a panic"))
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "offset out of range")
}

fn range(offset: u64, len: usize) -> io::Result<std::ops::Range<usize>> {
    let start = usize::try_from(offset).map_err(|_| out_of_range())?;
    let end = start.checked_add(len).ok_or_else(out_of_range)?;
    Ok(start..end)
}

impl StorageBackend for MemoryFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.lock()?.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let data = self.lock()?;
        let src = data
            .get(range(offset, out.len())?)
            .ok_or_else(out_of_range)?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        self.lock()?.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut file = self.lock()?;
        let range = range(offset, data.len())?;
        if range.end > file.len() {
            file.resize(range.end, 0);
        }
        file[range].copy_from_slice(data);
        Ok(())
    }
}

impl FileStore for MemoryFile {
    fn backend(&self) -> Box<dyn StorageBackend> {
        Box::new(self.clone())
    }

    fn read_all(&self) -> io::Result<Vec<u8>> {
        Ok(self.lock()?.clone())
    }

    fn replace_all(&self, bytes: &[u8]) -> io::Result<()> {
        let mut file = self.lock()?;
        file.clear();
        file.extend_from_slice(bytes);
        Ok(())
    }

    fn durability(&self) -> Durability {
        // Nothing to sync: commits skip redb's durable path and checkpoints run once a second.
        Durability::No
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(db: &mut Db<MemoryFile>, args: &[&str]) -> Vec<u8> {
        db.shell().unwrap().execute(1_000, &args.to_vec())
    }

    #[test]
    fn export_then_import_round_trips_and_the_server_can_open_the_file() {
        let mut db = Db::open(MemoryFile::new(), 1_000, "test").unwrap();
        assert_eq!(run(&mut db, &["SET", "a", "1"]), b"+OK\r\n");
        assert_eq!(run(&mut db, &["HSET", "h", "f", "v"]), b":1\r\n");
        let bytes = db.export(1_000).unwrap();
        // Still usable after export.
        assert_eq!(run(&mut db, &["GET", "a"]), b"$1\r\n1\r\n");

        let mut other = Db::open(MemoryFile::new(), 1_000, "test").unwrap();
        other.import(&bytes, 1_000).unwrap();
        assert_eq!(run(&mut other, &["GET", "a"]), b"$1\r\n1\r\n");
        assert_eq!(run(&mut other, &["HGET", "h", "f"]), b"$1\r\nv\r\n");
        assert_eq!(run(&mut other, &["DBSIZE"]), b":2\r\n");

        // The same bytes as diskdb.redb in a directory: what the native server opens.
        let dir = std::env::temp_dir().join(format!("diskdb-wasm-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(diskdb_core::storage::DB_FILE), &bytes).unwrap();
        let engine = Engine::open(EngineConfig {
            store: Store::Dir(dir.clone()),
            ..EngineConfig::default()
        })
        .unwrap();
        let mut shell = Shell::new(engine, 1_000, "native");
        assert_eq!(shell.execute(1_000, &vec!["GET", "a"]), b"$1\r\n1\r\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn importing_garbage_is_refused_and_keeps_the_data() {
        let mut db = Db::open(MemoryFile::new(), 1_000, "test").unwrap();
        run(&mut db, &["SET", "a", "1"]);
        let err = db.import(&[7u8; 9000], 1_000).unwrap_err();
        assert!(err.contains("not a DiskDB database"), "{err}");
        assert!(db.import(&[], 1_000).is_err());
        assert_eq!(run(&mut db, &["GET", "a"]), b"$1\r\n1\r\n");
    }
}
