//! The wasm-bindgen API that the npm package wraps (`wasm/npm/index.js`), and the OPFS store.
//!
//! Replies come back as JavaScript values: simple and bulk strings as strings (a bulk string
//! that is not UTF-8 as a `Uint8Array`), integers as numbers (as `BigInt` beyond 2^53), nulls as
//! `null`, arrays as arrays, RESP3 maps as objects (or `Map` when a key is not a string),
//! doubles as numbers, booleans as booleans. An error reply is thrown as an `Error` whose message
//! is Redis's text; inside an array (EXEC) it is an `Error` element instead.

use std::io;
use std::sync::Arc;

use diskdb_core::protocol::{split_args, Argv};
use diskdb_core::Durability;
use js_sys::{Array, Object, Reflect, Uint8Array};
use redb::StorageBackend;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{FileSystemReadWriteOptions, FileSystemSyncAccessHandle};

use crate::db::{Db, FileStore, MemoryFile};
use crate::resp::{self, Value};

// The `Send`/`Sync` claims below hold only while the module has a single thread.
#[cfg(target_feature = "atomics")]
compile_error!("diskdb-wasm's OPFS store assumes a single-threaded module (no atomics)");

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

fn error(text: &str) -> JsValue {
    js_sys::Error::new(text).into()
}

/// An OPFS sync access handle, which JavaScript owns and only this worker's thread can use.
struct Handle(FileSystemSyncAccessHandle);

// SAFETY: redb requires `Send + Sync` backends because it may be used from several threads.
// This module is built without atomics (checked above), so it has exactly one thread: the
// dedicated worker that created the handle. The handle is therefore never touched from another
// thread, and no two calls on it can overlap.
unsafe impl Send for Handle {}
// SAFETY: as for `Send` above: with a single thread no shared access can be concurrent.
unsafe impl Sync for Handle {}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileSystemSyncAccessHandle")
    }
}

/// A database file in the origin private file system.
#[derive(Debug, Clone)]
pub struct OpfsFile {
    handle: Arc<Handle>,
    durability: Durability,
}

fn js_io(err: JsValue) -> io::Error {
    let text = err
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{err:?}"));
    io::Error::other(format!("OPFS: {text}"))
}

fn at(offset: u64) -> FileSystemReadWriteOptions {
    let options = FileSystemReadWriteOptions::new();
    // Offsets are below 2^53 (files are far smaller), so f64 holds them exactly.
    options.set_at(offset as f64);
    options
}

impl StorageBackend for OpfsFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.handle.0.get_size().map_err(js_io)? as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < out.len() {
            let n = self
                .handle
                .0
                .read_with_u8_array_and_options(&mut out[done..], &at(offset + done as u64))
                .map_err(js_io)? as usize;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "OPFS: read past the end of the database file",
                ));
            }
            done += n;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.handle.0.truncate_with_f64(len as f64).map_err(js_io)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.handle.0.flush().map_err(js_io)
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < data.len() {
            let n = self
                .handle
                .0
                .write_with_u8_array_and_options(&data[done..], &at(offset + done as u64))
                .map_err(js_io)? as usize;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "OPFS: the write stored nothing (quota exceeded?)",
                ));
            }
            done += n;
        }
        Ok(())
    }

    // `close` keeps the default (nothing): the worker closes the handle when the database is
    // closed, and export/import reopen the engine on the same handle.
}

impl FileStore for OpfsFile {
    fn backend(&self) -> Box<dyn StorageBackend> {
        Box::new(self.clone())
    }

    fn read_all(&self) -> io::Result<Vec<u8>> {
        let len = usize::try_from(StorageBackend::len(self)?)
            .map_err(|_| io::Error::other("OPFS: the database file is too large to export"))?;
        let mut bytes = vec![0u8; len];
        StorageBackend::read(self, 0, &mut bytes)?;
        Ok(bytes)
    }

    fn replace_all(&self, bytes: &[u8]) -> io::Result<()> {
        self.set_len(0)?;
        StorageBackend::write(self, 0, bytes)?;
        self.sync_data()
    }

    fn durability(&self) -> Durability {
        self.durability
    }
}

enum Store {
    Memory(Db<MemoryFile>),
    Opfs(Db<OpfsFile>),
}

/// One open database and its client session.
#[wasm_bindgen]
pub struct Database {
    store: Store,
    /// An incomplete request at the end of the last `executeResp` input, completed by the next.
    pending: Vec<u8>,
}

macro_rules! with_db {
    ($self:ident, $db:ident => $body:expr) => {
        match &mut $self.store {
            Store::Memory($db) => $body,
            Store::Opfs($db) => $body,
        }
    };
}

#[wasm_bindgen]
impl Database {
    /// A database in memory: empty, or the database file `bytes` (from `export()` or a server's
    /// `diskdb.redb`).
    #[wasm_bindgen(js_name = openMemory)]
    pub fn open_memory(bytes: Option<Vec<u8>>) -> Result<Database, JsValue> {
        let file = match bytes {
            Some(bytes) => {
                crate::db::validate(&bytes).map_err(|e| error(&e))?;
                MemoryFile::from_bytes(bytes)
            }
            None => MemoryFile::new(),
        };
        let db = Db::open(file, now_ms(), "js").map_err(|e| error(&e))?;
        Ok(Database {
            store: Store::Memory(db),
            pending: Vec::new(),
        })
    }

    /// A database in an OPFS file, through a sync access handle opened by the calling worker
    /// (which keeps owning it and closes it after `close()`). `durability`: `always` (default:
    /// each write is flushed before its reply), `everysec` or `no` (flushed by a checkpoint
    /// about once a second while the database is used, and by `close()`).
    #[wasm_bindgen(js_name = openOpfs)]
    pub fn open_opfs(
        handle: FileSystemSyncAccessHandle,
        durability: Option<String>,
    ) -> Result<Database, JsValue> {
        let durability = match durability.as_deref() {
            None => Durability::Always,
            Some(text) => text.parse().map_err(|e: String| error(&e))?,
        };
        let file = OpfsFile {
            handle: Arc::new(Handle(handle)),
            durability,
        };
        let db = Db::open(file, now_ms(), "js").map_err(|e| error(&e))?;
        Ok(Database {
            store: Store::Opfs(db),
            pending: Vec::new(),
        })
    }

    /// Runs one command written as redis-cli takes it (`SET "a key" 'v'`) and returns the reply
    /// as a JavaScript value; an error reply is thrown.
    pub fn execute(&mut self, command: &str) -> Result<JsValue, JsValue> {
        let argv = split_args(command.as_bytes())
            .map_err(|e| error(&String::from_utf8_lossy(&e.reply_text())))?;
        if argv.is_empty() {
            return Ok(JsValue::NULL);
        }
        self.run(&argv)
    }

    /// Runs one command given as its arguments (strings or `Uint8Array`s).
    #[wasm_bindgen(js_name = executeArgs)]
    pub fn execute_args(&mut self, args: Array) -> Result<JsValue, JsValue> {
        let mut argv = Vec::with_capacity(args.length() as usize);
        for arg in args.iter() {
            if let Some(text) = arg.as_string() {
                argv.push(text.into_bytes());
            } else if let Some(bytes) = arg.dyn_ref::<Uint8Array>() {
                argv.push(bytes.to_vec());
            } else if let Some(n) = arg.as_f64() {
                // Numbers are written as Redis would receive them from a client.
                argv.push(js_number_text(n).into_bytes());
            } else {
                return Err(error(
                    "ERR executeArgs takes strings, numbers or Uint8Arrays",
                ));
            }
        }
        if argv.is_empty() {
            return Err(error("ERR executeArgs needs at least the command name"));
        }
        self.run(&argv)
    }

    /// Runs raw RESP requests (a pipeline; inline lines also work) and returns the raw RESP
    /// replies, exactly as a server would send them. The requests run as one group (one commit,
    /// so one flush on OPFS). An incomplete request at the end is kept and completed by the next
    /// call's bytes, as on a connection.
    #[wasm_bindgen(js_name = executeResp)]
    pub fn execute_resp(&mut self, bytes: &[u8]) -> Result<Vec<u8>, JsValue> {
        let now = now_ms();
        let mut out = Vec::new();
        let mut input = std::mem::take(&mut self.pending);
        input.extend_from_slice(bytes);
        let done = with_db!(self, db => {
            let done = db.shell().map_err(|e| error(&e))?
                .execute_pipeline(now, &input, &mut out);
            db.close_if_shut_down(now).map_err(|e| error(&e))?;
            done
        });
        if done.error.is_none() && !done.quit {
            input.drain(..done.consumed);
            self.pending = input;
        }
        Ok(out)
    }

    /// Active expiry and periodic checkpoints; `execute` also runs them when due, so calling
    /// this is only needed to expire keys in a database nobody is using.
    pub fn tick(&mut self) -> Result<(), JsValue> {
        let now = now_ms();
        with_db!(self, db => db.shell().map_err(|e| error(&e))?.tick_if_due(now))
            .map_err(|e| error(&e.to_string()))
    }

    /// The database file's bytes (a cleanly closed redb file, as `diskdb.redb`).
    pub fn export(&mut self) -> Result<Vec<u8>, JsValue> {
        let now = now_ms();
        with_db!(self, db => db.export(now)).map_err(|e| error(&e))
    }

    /// Replaces the whole database with a DiskDB database file; refused (keeping the data) if
    /// the bytes are not one.
    pub fn import(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        let now = now_ms();
        self.pending.clear();
        with_db!(self, db => db.import(bytes, now)).map_err(|e| error(&e))
    }

    /// Makes everything durable and closes the database; the caller then closes the OPFS
    /// handle. Further calls throw.
    pub fn close(&mut self) -> Result<(), JsValue> {
        let now = now_ms();
        with_db!(self, db => db.close(now)).map_err(|e| error(&e))
    }
}

impl Database {
    fn run(&mut self, argv: &dyn Argv) -> Result<JsValue, JsValue> {
        let now = now_ms();
        let (reply, closed) = with_db!(self, db => {
            let reply = db.shell().map_err(|e| error(&e))?.execute(now, argv);
            (reply, db.close_if_shut_down(now).map_err(|e| error(&e))?)
        });
        if closed {
            // SHUTDOWN has no reply: the database is closed, as after `close()`.
            return Ok(JsValue::NULL);
        }
        let (value, _) =
            resp::decode(&reply).map_err(|_| error("ERR internal: malformed reply"))?;
        match value {
            Value::Error(text) => Err(error(&String::from_utf8_lossy(&text))),
            other => Ok(to_js(other)),
        }
    }
}

/// A number as a client would send it: integers without a fraction.
fn js_number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn bytes_to_js(bytes: Vec<u8>) -> JsValue {
    match String::from_utf8(bytes) {
        Ok(text) => JsValue::from_str(&text),
        Err(err) => Uint8Array::from(err.as_bytes()).into(),
    }
}

const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

fn to_js(value: Value) -> JsValue {
    match value {
        Value::Simple(s) | Value::Bulk(s) => bytes_to_js(s),
        Value::Error(e) => error(&String::from_utf8_lossy(&e)),
        Value::Integer(n) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n) => {
            JsValue::from_f64(n as f64)
        }
        Value::Integer(n) => js_sys::BigInt::from(n).into(),
        Value::Null => JsValue::NULL,
        Value::Double(d) => JsValue::from_f64(d),
        Value::Boolean(b) => JsValue::from_bool(b),
        Value::BigNumber(digits) => {
            let text = String::from_utf8_lossy(&digits).into_owned();
            js_sys::BigInt::new(&JsValue::from_str(&text))
                .map(JsValue::from)
                .unwrap_or_else(|_| JsValue::from_str(&text))
        }
        Value::Array(items) => items.into_iter().map(to_js).collect::<Array>().into(),
        Value::Map(pairs) => {
            let string_keys = pairs
                .iter()
                .all(|(k, _)| matches!(k, Value::Simple(_) | Value::Bulk(_)));
            if string_keys {
                let object = Object::new();
                for (k, v) in pairs {
                    // Setting a property on a fresh plain object cannot fail.
                    let _ = Reflect::set(&object, &to_js(k), &to_js(v));
                }
                object.into()
            } else {
                let map = js_sys::Map::new();
                for (k, v) in pairs {
                    map.set(&to_js(k), &to_js(v));
                }
                map.into()
            }
        }
    }
}
