//! The engine: the keyspace on redb, the write-ahead log, and the command table, executing
//! commands one at a time in groups that commit together (group commit).
//!
//! The engine has no clock and no threads: callers pass the time (`now_ms`) and decide when to
//! call [`Engine::tick`], so the same engine runs in the native server, in a browser and on WASI.

use redb::Database;

use crate::commands::dispatch::{self, Caller};
use crate::commands::{Ctx, ScriptHost};
use crate::error::CommandError;
use crate::keyspace::{Counters, Held, IntegrityError, Keyspace, RowCache, DATABASES};
use crate::protocol::{Argv, Reply};
use crate::seal::{self, Seal};
use crate::session::Session;
use crate::state::ServerState;
use crate::storage::{self, StorageError, Store, SYSTEM};
use crate::wal::{self, LogImage, RecordBuilder, Tail, Wal, WalRecord};

/// When an acknowledged write reaches the disk (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Before its reply is sent: the log is `fdatasync`ed once per group.
    #[default]
    Always,
    /// Within about a second: the log is written at once and synced every second, so a process
    /// crash loses nothing acknowledged.
    Everysec,
    /// When the operating system decides.
    No,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(Durability::Always),
            "everysec" => Ok(Durability::Everysec),
            "no" => Ok(Durability::No),
            other => Err(format!(
                "unknown durability '{other}' (always, everysec or no)"
            )),
        }
    }
}

/// How to open an engine.
#[derive(Debug)]
pub struct EngineConfig {
    pub store: Store,
    pub durability: Durability,
    /// Memory for cached pages and key records, in bytes: a quarter goes to the key-record
    /// cache ([`RowCache`]), the rest to redb's page cache.
    pub cache_bytes: usize,
    /// What to do with a log damaged in the middle.
    pub log_damage: LogDamage,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            store: Store::Memory,
            durability: Durability::Always,
            cache_bytes: 64 * 1024 * 1024,
            log_damage: LogDamage::Refuse,
        }
    }
}

/// How often redb is made durable and the log emptied while the engine is idle (no job since
/// the previous tick).
const CHECKPOINT_EVERY_MS: i64 = 1000;
/// How often while jobs keep coming, for a store with a log. Why: a checkpoint writes every page
/// the transaction dirtied and syncs, a pause of its own during which every client waits; the
/// log already makes the writes durable,
/// so under traffic it waits for an idle tick, up to this long.
const CHECKPOINT_BUSY_MS: i64 = 5000;
/// Checkpoint early when the log grows past this.
const CHECKPOINT_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// How close to a commit that writes every pending row of the record cache the jobs start
/// draining it (see [`Engine::commit_near`]): in time before a checkpoint under traffic, in
/// writes before [`SPAN_WRITES`], in bytes before [`CHECKPOINT_LOG_BYTES`].
const DRAIN_AHEAD_MS: i64 = 120;
const DRAIN_AHEAD_WRITES: u64 = 1 << 15;
const DRAIN_AHEAD_LOG_BYTES: u64 = 2 * 1024 * 1024;
/// Keys removed per active-expiry pass.
const EXPIRE_BUDGET: usize = 200;

/// Runs commands against the keyspace, serially, as Redis does.
///
/// Commands execute inside an *open group*: one redb write transaction that many jobs (a job is
/// one client's batch of requests) share. [`Engine::commit`] closes the group: the transaction
/// commits without fsync and the group's logged writes are appended to the write-ahead log as
/// one record; the caller syncs the log (`always`) before releasing the replies of jobs that
/// [`depend`](Engine::pending_writes) on those writes.
pub struct Engine {
    db: Database,
    wal: Option<Wal>,
    durable_backend: bool,
    durability: Durability,
    record: RecordBuilder,
    open: Option<OpenGroup>,
    /// Sequence number of the next logged group.
    next_lsn: u64,
    /// Highest sequence number committed to redb.
    applied_lsn: u64,
    /// The log's epoch: the number of the last durable checkpoint (see `wal.rs`).
    epoch: u64,
    counters: Counters,
    /// Key records of the open transaction's state; cleared whenever that state is dropped.
    cache: RowCache,
    state: ServerState,
    /// Runs EVAL, FCALL and the other scripting commands (none where Lua is not built).
    scripts: Option<Box<dyn ScriptHost>>,
    last_checkpoint_ms: i64,
    /// A job ran since the previous tick.
    busy: bool,
    last_sync_ms: i64,
    /// Groups committed to redb since the last durable checkpoint.
    uncheckpointed: bool,
    /// A file store's directory and cache size, to reopen redb after a failed I/O.
    reopen: Option<(std::path::PathBuf, usize)>,
    /// redb failed an I/O (typically a full disk) and refuses every later operation until it
    /// is reopened: [`Engine::heal`] does that before the next job.
    broken: bool,
    /// When [`Engine::heal`] may try again.
    heal_after_ms: i64,
    /// [`Engine::close`] released the file: every later job fails.
    closed: bool,
    /// The reserve file of a file store (see [`storage::Reserve`]).
    reserve: Option<storage::Reserve>,
    recovery: RecoveryReport,
}

/// What to do when the log is damaged in the middle: acknowledged records follow a record that
/// fails its checksum (see [`Tail::Damaged`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogDamage {
    /// Refuse to open (as Redis refuses an AOF damaged in the middle).
    #[default]
    Refuse,
    /// Keep a copy of the log, replay the records before the damage and drop the rest.
    Truncate,
}

impl std::str::FromStr for LogDamage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "refuse" => Ok(LogDamage::Refuse),
            "truncate" => Ok(LogDamage::Truncate),
            other => Err(format!("unknown log-damage '{other}' (refuse or truncate)")),
        }
    }
}

/// What recovery found in the log and did about it.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Log records replayed into redb.
    pub replayed: usize,
    /// Every page's checksum was checked (after an unclean shutdown).
    pub verified_pages: bool,
    /// Warnings for the operator: a torn tail dropped, damage truncated, where copies went.
    pub warnings: Vec<String>,
}

impl RecoveryReport {
    /// Notes (or refuses) what ends the log's chain. Intact records dropped are first copied
    /// beside the log, so that nothing is lost beyond recall.
    fn tail(
        &mut self,
        tail: &Tail,
        policy: LogDamage,
        wal: &Wal,
        dir: Option<&std::path::Path>,
    ) -> Result<(), StorageError> {
        let (offset, dropped, damaged) = match *tail {
            Tail::Clean => return Ok(()),
            Tail::Torn { offset, dropped } => (offset, dropped, None),
            Tail::Damaged {
                offset,
                lsn,
                intact_after,
            } => (offset, intact_after, Some(lsn)),
        };
        if let (Some(lsn), LogDamage::Refuse) = (damaged, policy) {
            return Err(StorageError::DamagedLog {
                path: wal.name().to_string(),
                offset,
                lsn,
                intact_after: dropped,
            });
        }
        let copy = match dir {
            Some(dir) if dropped > 0 => {
                let kind = if damaged.is_some() { "damaged" } else { "torn" };
                let to = dir.join(format!("{}.{kind}-{}", storage::WAL_FILE, wal.epoch()));
                std::fs::copy(dir.join(storage::WAL_FILE), &to)?;
                format!("; the log was copied to {}", to.display())
            }
            _ => String::new(),
        };
        self.warnings.push(match damaged {
            Some(lsn) => format!(
                "{}: damaged at byte {offset} (record {lsn}); {dropped} acknowledged records after the damage were dropped (log-damage truncate){copy}",
                wal.name()
            ),
            None if dropped > 0 => format!(
                "{}: torn at byte {offset}; {dropped} later records that were never known to be on disk were dropped (a machine crash){copy}",
                wal.name()
            ),
            None => format!(
                "{}: a torn record at byte {offset} was dropped (a crash while it was written; it was never acknowledged in `always` mode)",
                wal.name()
            ),
        });
        Ok(())
    }
}

self_cell::self_cell!(
    /// A redb write transaction and what the keyspace keeps in it across the jobs it carries:
    /// open tables, key buffers (see [`Held`]).
    struct OpenTxn {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: Held,
    }
);

impl OpenTxn {
    /// The transaction, its tables closed (before it commits or aborts).
    fn into_txn(self) -> redb::WriteTransaction {
        self.into_owner()
    }
}

struct OpenGroup {
    txn: OpenTxn,
    /// Counters as they were when the transaction opened, restored if it fails.
    counters_before: Counters,
    changed: bool,
    failure: Option<StorageError>,
    /// Log records already appended (and acknowledged) whose writes this still-open transaction
    /// holds: the last one's sequence number, and how many write commands they hold.
    spanned: Option<(u64, u64)>,
}

/// How many logged writes one redb transaction may carry across groups before it commits. The
/// log makes each group durable; committing redb less often spares re-copying the B-tree pages
/// that consecutive groups touch (copy-on-write), the main cost of random-key writes. The
/// checkpoint (see [`CHECKPOINT_EVERY_MS`]) usually commits first: a low limit made redb commit
/// many times a second under pipelined writes, each commit writing out the pages it had
/// copied, which cost random SETs a third of their throughput and multiplied their p99. This
/// limit only backs the checkpoint up.
const SPAN_WRITES: u64 = 1 << 20;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("durability", &self.durability)
            .field("applied_lsn", &self.applied_lsn)
            .finish()
    }
}

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Write commands logged by the committed group.
    pub writes: u32,
    /// The log holds records not yet synced (the caller syncs in `always` mode).
    pub needs_sync: bool,
}

impl Engine {
    /// An ephemeral engine on redb's in-memory backend.
    pub fn memory() -> Engine {
        Engine::open(EngineConfig::default()).expect("the in-memory backend cannot fail to open")
    }

    /// Opens the store, replays the write-ahead log past the last checkpoint, and checkpoints
    /// (starting a new epoch of the log, so that nothing written before is ever replayed
    /// after what is written next).
    pub fn open(config: EngineConfig) -> Result<Engine, StorageError> {
        let record_cache = config.cache_bytes / 4;
        let reopen = match &config.store {
            Store::Dir(dir) => Some((dir.clone(), config.cache_bytes - record_cache)),
            _ => None,
        };
        // Whether the file must have its pages checked before use: it was not closed cleanly,
        // or it changed since (see `seal.rs`).
        let mut seal_state = None;
        let (store, image, durable_backend) = match config.store {
            Store::Dir(dir) => {
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(storage::WAL_FILE);
                let name = path.display().to_string();
                let wal_err = |source| StorageError::Wal {
                    path: name.clone(),
                    source,
                };
                let file = wal::FsLog::open(&path).map_err(wal_err)?;
                let image = LogImage::read(Box::new(file), name.clone()).map_err(wal_err)?;
                // Log records exist only after the database file was created, so they beside an
                // empty file mean the file was lost: replaying them onto nothing would bring
                // back a fragment of the data.
                let db_path = dir.join(storage::DB_FILE);
                let db_len = std::fs::metadata(&db_path).map_or(0, |m| m.len());
                if db_len == 0 && image.holds_records() {
                    return Err(StorageError::LostDatabase {
                        path: db_path.display().to_string(),
                        wal: name,
                    });
                }
                let sealed = seal::check(&dir)?;
                if let Seal::Damaged(what) = sealed {
                    return Err(StorageError::DamagedWhileStopped {
                        path: db_path.display().to_string(),
                        found: what,
                        seal: dir.join(seal::SEAL_FILE).display().to_string(),
                    });
                }
                seal_state = Some((sealed, db_len > 0));
                (Store::Dir(dir), Some(image), true)
            }
            Store::Files { db, log } => {
                let image =
                    LogImage::read(log, "log".into()).map_err(|source| StorageError::Wal {
                        path: "log".into(),
                        source,
                    })?;
                (Store::Backend(db), Some(image), true)
            }
            Store::Memory => (Store::Memory, None, false),
            store @ Store::Backend(_) => (store, None, true),
        };
        let dir = match &store {
            Store::Dir(dir) => Some(dir.clone()),
            _ => None,
        };
        if let Some(dir) = &dir {
            // Its room is what recovery may need on a full disk; it is made again below.
            storage::Reserve::new(dir).release();
        }
        let mut db = storage::open_database(store, config.cache_bytes - record_cache)?;
        let mut report = RecoveryReport::default();
        if let Some(dir) = &dir {
            // Both files' names must survive a power loss, not only their contents.
            storage::sync_dir(dir)?;
            seal::remove(dir)?;
        }
        if let (Some((Seal::Differs, _)), Some(dir)) = (&seal_state, &dir) {
            report.verified_pages = true;
            check_changed_file(&mut db, dir, &mut report)?;
        }
        let mut system = read_system(&db)?;
        let (wal, records) = match image {
            Some(image) => {
                let (wal, recovered) =
                    image.recover(system.epoch, system.base).map_err(|source| {
                        StorageError::Wal {
                            path: dir.as_ref().map_or("log".into(), |d| {
                                d.join(storage::WAL_FILE).display().to_string()
                            }),
                            source,
                        }
                    })?;
                report.tail(&recovered.tail, config.log_damage, &wal, dir.as_deref())?;
                // After an unclean shutdown (no seal, or the log holds writes), every page's
                // checksum is checked before anything is replayed onto them: redb itself checks
                // pages only when it must repair.
                let unclean = matches!(seal_state, Some((Seal::Absent, true)));
                if (unclean || !recovered.records.is_empty() || recovered.tail != Tail::Clean)
                    && !report.verified_pages
                {
                    report.verified_pages = true;
                    if !storage::verify_pages(&mut db)? {
                        report.warnings.push(
                            "the database file had damaged pages: redb rolled it back to its last intact commit; writes since then that the log no longer holds are lost".into(),
                        );
                        system = read_system(&db)?;
                    }
                }
                (Some(wal), recovered.records)
            }
            None => (None, Vec::new()),
        };
        let mut engine = Engine {
            db,
            wal,
            durable_backend,
            durability: config.durability,
            record: RecordBuilder::default(),
            open: None,
            next_lsn: system.applied + 1,
            applied_lsn: system.applied,
            epoch: system.epoch,
            counters: system.counters,
            cache: RowCache::new(record_cache),
            state: ServerState::new(0),
            scripts: script_host(),
            last_checkpoint_ms: 0,
            busy: false,
            last_sync_ms: 0,
            uncheckpointed: false,
            reopen,
            broken: false,
            heal_after_ms: 0,
            closed: false,
            reserve: dir.as_deref().map(storage::Reserve::new),
            recovery: RecoveryReport::default(),
        };
        let applied = engine.applied_lsn;
        let replay: Vec<&WalRecord> = records.iter().filter(|r| r.lsn > applied).collect();
        report.replayed = replay.len();
        engine.replay(&replay)?;
        if let Err(err) = engine.checkpoint(0) {
            if !err.is_disk_full() {
                return Err(err);
            }
            // The data is there (in the open transaction); writes wait for space.
            report.warnings.push(format!(
                "the disk is full: reads are served, writes are refused until space returns ({err})"
            ));
        }
        if !engine.take_reserve() {
            engine.refuse_writes(&StorageError::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no room for the reserve file",
            )));
        }
        engine.recovery = report;
        Ok(engine)
    }

    /// What recovery found and did when the engine opened, for the host to log.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Key counts and expiry statistics.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether the open group holds logged writes not yet committed (or a SAVE): a job that ran
    /// in it must wait for the next commit (and sync) before its replies leave.
    pub fn pending_writes(&self) -> bool {
        !self.record.is_empty() || self.state.save_requested
    }

    /// Instance-wide state: settings, statistics, clients.
    pub fn state(&self) -> &ServerState {
        &self.state
    }

    /// Instance-wide state, for the host to register clients and describe itself.
    pub fn state_mut(&mut self) -> &mut ServerState {
        &mut self.state
    }

    /// Runs one job in the open group (opening one if needed): `f` calls [`Group::execute`]
    /// for each command. Nothing is durable until [`Engine::commit`].
    pub fn execute_job<R>(
        &mut self,
        now_ms: i64,
        f: impl FnOnce(&mut Group<'_, '_>) -> R,
    ) -> Result<R, StorageError> {
        self.heal(now_ms)?;
        self.busy = true;
        self.ensure_open()?;
        let drain = self.commit_near(now_ms);
        let open = self.open.as_mut().expect("opened above");
        let (counters, cache) = (&mut self.counters, &mut self.cache);
        let (record, state) = (&mut self.record, &mut self.state);
        let scripts = &mut self.scripts;
        let failure = &mut open.failure;
        let changed = &mut open.changed;
        open.txn.with_dependent_mut(|txn, held| {
            let keyspace = Keyspace::open(txn, held, now_ms, counters, cache)?;
            let mut group = Group {
                keyspace,
                record,
                state,
                scripts,
                failure: failure.take(),
                replaying: false,
                now_ms,
            };
            let result = f(&mut group);
            if drain {
                if let Err(err) = group.keyspace.drain_step() {
                    // The transaction is half-written: the group fails, as on a write error.
                    group.failure.get_or_insert(err);
                }
            }
            *changed |= group.keyspace.changed();
            *failure = group.failure.take();
            Ok(result)
        })
    }

    /// Opens a group (a redb write transaction) if none is open.
    fn ensure_open(&mut self) -> Result<(), StorageError> {
        if self.open.is_some() {
            return Ok(());
        }
        self.record.begin(self.next_lsn);
        let txn = (|| {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(redb::Durability::None)?;
            Ok::<_, StorageError>(txn)
        })();
        let txn = self.watch(txn)?;
        self.open = Some(OpenGroup {
            txn: OpenTxn::new(txn, |_| Held::default()),
            counters_before: self.counters.clone(),
            changed: false,
            failure: None,
            spanned: None,
        });
        Ok(())
    }

    /// Replays logged records into the open group, as if they had just been logged there: the
    /// transaction carries them until the next commit, so nothing needs the disk before then
    /// (on a full disk, reads go on and that commit fails instead).
    fn replay(&mut self, records: &[&WalRecord]) -> Result<(), StorageError> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        self.ensure_open()?;
        let open = self.open.as_mut().expect("opened above");
        let (counters, cache) = (&mut self.counters, &mut self.cache);
        let (record, state) = (&mut self.record, &mut self.state);
        let scripts = &mut self.scripts;
        let replayed = open.txn.with_dependent_mut(|txn, held| {
            let mut reply = Reply::new();
            for cmd in records.iter().flat_map(|r| &r.commands) {
                let keyspace = Keyspace::open(txn, held, cmd.time_ms, counters, cache)?;
                let mut group = Group {
                    keyspace,
                    record: &mut *record,
                    state: &mut *state,
                    scripts: &mut *scripts,
                    failure: None,
                    replaying: true,
                    now_ms: cmd.time_ms,
                };
                let mut session = Session {
                    db: usize::from(cmd.db) % DATABASES,
                    no_block: true,
                    ..Session::default()
                };
                reply.truncate(0);
                group.execute(&mut session, &cmd.argv, &mut reply);
                if let Some(err) = group.failure {
                    return Err(err);
                }
            }
            Ok(())
        });
        if let Err(err) = replayed {
            // The transaction is half-written: drop it and what it carried.
            if let Some(open) = self.open.take() {
                self.counters = open.counters_before;
                let _ = open.txn.into_txn().abort();
            }
            self.cache.clear();
            return Err(err);
        }
        let commands: usize = records.iter().map(|r| r.commands.len()).sum();
        open.changed = true;
        let carried = open.spanned.map_or(0, |(_, n)| n) + commands as u64;
        open.spanned = Some((last.lsn, carried));
        self.next_lsn = last.lsn + 1;
        self.record.begin(self.next_lsn);
        Ok(())
    }

    /// Whether a redb commit that writes every pending row of the record cache is near: a
    /// checkpoint under traffic, the transaction's [`SPAN_WRITES`], or a log big enough for an
    /// early checkpoint. Then each job ends with one step of draining the cache (see
    /// `Keyspace::drain_step`), so that the commit finds few rows to write. Why: writing them
    /// all at once, then the checkpoint's durable commit, was one pause every client waited
    /// for, the longest request under pipelined writes. Draining to `DRAIN_KEEP` rows
    /// shortens it; draining further costs throughput, the rows reaching the B-tree fewer per
    /// leaf.
    fn commit_near(&self, now_ms: i64) -> bool {
        let carried = self
            .open
            .as_ref()
            .and_then(|open| open.spanned)
            .map_or(0, |(_, n)| n);
        carried + DRAIN_AHEAD_WRITES >= SPAN_WRITES
            || now_ms - self.last_checkpoint_ms >= CHECKPOINT_BUSY_MS - DRAIN_AHEAD_MS
            || self
                .wal
                .as_ref()
                .is_some_and(|w| w.len() + DRAIN_AHEAD_LOG_BYTES > CHECKPOINT_LOG_BYTES)
    }

    /// Closes the open group: appends its writes to the log (without syncing) and, unless the
    /// redb transaction may go on carrying further groups (see [`SPAN_WRITES`]), commits redb
    /// (without fsync, or durably for a backend without a log in `always` mode). On `Err`
    /// nothing of the group was applied (earlier, acknowledged groups are kept).
    pub fn commit(&mut self) -> Result<CommitOutcome, StorageError> {
        let outcome = self.commit_inner(false);
        self.watch(outcome)
    }

    /// Commits the redb transaction even if it could carry more groups (checkpoints).
    fn commit_all(&mut self) -> Result<CommitOutcome, StorageError> {
        self.commit_inner(true)
    }

    fn commit_inner(&mut self, force: bool) -> Result<CommitOutcome, StorageError> {
        // A group that changed nothing stays open for the next jobs: beginning a redb write
        // transaction costs more than a whole GET.
        match &self.open {
            None => return Ok(CommitOutcome::default()),
            // Nothing new to log: keep going unless forced to commit what the transaction
            // carries (a transaction carrying logged groups commits on the next tick).
            Some(open)
                if open.failure.is_none()
                    && self.record.is_empty()
                    && if force {
                        open.spanned.is_none() && !open.changed
                    } else {
                        open.spanned.is_some() || !open.changed
                    } =>
            {
                return Ok(CommitOutcome::default());
            }
            Some(_) => {}
        }
        let Some(mut open) = self.open.take() else {
            return Ok(CommitOutcome::default());
        };
        if let Some(err) = open.failure.take() {
            return self.abort_open(open, err);
        }
        let writes = self.record.len();
        let lsn = self.next_lsn;
        if writes > 0 {
            if let Some(wal) = self.wal.as_mut() {
                if let Err(source) = wal.append(&mut self.record) {
                    let err = StorageError::Wal {
                        path: wal.name().to_string(),
                        source,
                    };
                    return self.abort_open(open, err);
                }
                self.next_lsn += 1;
                self.record.begin(self.next_lsn);
                let carried = open.spanned.map_or(0, |(_, n)| n) + u64::from(writes);
                open.spanned = Some((lsn, carried));
                if !force && carried < SPAN_WRITES {
                    // Durable through the log once synced; redb commits later.
                    self.open = Some(open);
                    return Ok(CommitOutcome {
                        writes,
                        needs_sync: true,
                    });
                }
            }
        }
        let applied = match open.spanned {
            Some((last, _)) => last,
            None if writes > 0 => lsn,
            None => self.applied_lsn,
        };
        let OpenGroup {
            txn,
            counters_before,
            ..
        } = open;
        let mut txn = txn.into_txn();
        let durable_now =
            self.wal.is_none() && self.durable_backend && self.durability == Durability::Always;
        let committed = (|| {
            if durable_now {
                txn.set_durability(redb::Durability::Immediate)?;
            }
            self.cache.flush_txn(&txn)?;
            write_system(&txn, applied, &self.counters)?;
            txn.commit()?;
            Ok::<(), StorageError>(())
        })();
        if let Err(err) = committed {
            self.counters = counters_before;
            self.cache.clear();
            self.record.begin(self.next_lsn);
            // Whatever the log already holds was acknowledged: bring it back from the log, into
            // a reopened redb if the failure was an I/O error (which leaves redb unusable).
            if self.reopen.is_some() {
                self.broken = true;
                let _ = self.heal(0);
            } else {
                self.recover_from_log()?;
            }
            return Err(err);
        }
        if self.wal.is_none() && writes > 0 {
            self.next_lsn += 1;
        }
        self.record.begin(self.next_lsn);
        self.applied_lsn = applied;
        self.uncheckpointed |= !durable_now;
        Ok(CommitOutcome {
            writes,
            needs_sync: writes > 0 && self.wal.is_some(),
        })
    }

    /// Drops the open transaction after a failure: the failing group's writes are lost (its
    /// clients get the error), and acknowledged groups it carried are replayed from the log.
    fn abort_open(
        &mut self,
        open: OpenGroup,
        err: StorageError,
    ) -> Result<CommitOutcome, StorageError> {
        let OpenGroup {
            txn,
            counters_before,
            spanned,
            ..
        } = open;
        self.counters = counters_before;
        self.cache.clear();
        self.record.begin(self.next_lsn);
        let _ = txn.into_txn().abort();
        if spanned.is_some() {
            self.recover_from_log()?;
        }
        Err(err)
    }

    /// Replays the log records redb does not hold (after an aborted transaction), read back
    /// from what this process appended: the log goes on from its end.
    fn recover_from_log(&mut self) -> Result<(), StorageError> {
        let Some(wal) = self.wal.as_mut() else {
            return Ok(());
        };
        let records = wal.read_back().map_err(|source| StorageError::Wal {
            path: wal.name().to_string(),
            source,
        })?;
        let applied = self.applied_lsn;
        let replay: Vec<&WalRecord> = records.iter().filter(|r| r.lsn > applied).collect();
        self.replay(&replay)?;
        self.next_lsn = self.next_lsn.max(self.applied_lsn + 1);
        self.record.begin(self.next_lsn);
        Ok(())
    }

    /// Notes that redb needs reopening when `result` is a failure of redb itself (a log failure
    /// leaves redb usable).
    fn watch<T>(&mut self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(err) = &result {
            if err.is_disk_full() {
                self.refuse_writes(err);
            }
            if self.reopen.is_some() && !matches!(err, StorageError::Wal { .. }) {
                self.broken = true;
            }
        }
        result
    }

    /// Refuses write commands until a checkpoint succeeds: redb cannot commit, and what the
    /// log holds past a failed commit must not be followed by more in the same epoch.
    fn refuse_writes(&mut self, err: &StorageError) {
        let text = CommandError::from(err).reply_text().into_owned();
        let text = String::from_utf8_lossy(&text);
        let reason = text.strip_prefix("MISCONF ").unwrap_or(&text).to_string();
        self.state.writes_refused = Some(reason);
        // Its room lets redb reopen, replay and checkpoint, so reads and recovery go on.
        if let Some(reserve) = &mut self.reserve {
            reserve.release();
        }
    }

    /// Makes the reserve file if it is missing; `false` if the disk has no room for it (then
    /// writes stay refused). Stores without one always have room.
    fn take_reserve(&mut self) -> bool {
        self.reserve.as_mut().is_none_or(storage::Reserve::take)
    }

    /// Reopens redb after a failed I/O left it refusing every operation, and replays from the
    /// log what its lost non-durable commits held, so a full disk heals without a restart once
    /// space returns. While the disk still refuses what this needs, it fails and the next job
    /// tries again.
    fn heal(&mut self, now_ms: i64) -> Result<(), StorageError> {
        if self.closed {
            return Err(StorageError::Closed);
        }
        if !self.broken {
            return Ok(());
        }
        // Not at every command while the disk stays full: once a second.
        if now_ms < self.heal_after_ms {
            return Err(StorageError::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "the storage failed and is reopened once space returns",
            )));
        }
        self.heal_after_ms = now_ms + 1000;
        let Some((dir, cache_bytes)) = self.reopen.clone() else {
            self.broken = false;
            return Ok(());
        };
        if let Some(open) = self.open.take() {
            let _ = open.txn.into_txn().abort();
        }
        self.cache.clear();
        self.record.begin(self.next_lsn);
        // redb allows one handle per file: release the failed one before opening again.
        let placeholder = storage::open_database(Store::Memory, 0)?;
        drop(std::mem::replace(&mut self.db, placeholder));
        self.db = storage::open_database(Store::Dir(dir), cache_bytes)?;
        let system = read_system(&self.db)?;
        self.applied_lsn = system.applied;
        self.counters = system.counters;
        self.recover_from_log()?;
        self.broken = false;
        Ok(())
    }

    /// Runs one job and commits it, syncing the log in `always` mode: the simple path for
    /// callers without their own group commit (tests, WebAssembly). Replies may be sent when it
    /// returns `Ok`; on `Err` they must be discarded.
    pub fn run_group<R>(
        &mut self,
        now_ms: i64,
        f: impl FnOnce(&mut Group<'_, '_>) -> R,
    ) -> Result<R, StorageError> {
        let result = self.execute_job(now_ms, f)?;
        self.commit_group(now_ms)?;
        Ok(result)
    }

    /// Commits the open group as a host does between jobs: the commit, the log's sync in
    /// `always` mode, and the checkpoint a SAVE asked for.
    pub fn commit_group(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let outcome = self.commit()?;
        if outcome.needs_sync && self.durability == Durability::Always {
            self.sync_log()?;
        }
        self.save_if_requested(now_ms)
    }

    /// Executes one command in a group of its own.
    pub fn execute(
        &mut self,
        now_ms: i64,
        session: &mut Session,
        argv: &dyn Argv,
        reply: &mut Reply,
    ) -> Result<(), StorageError> {
        let mark = reply.len();
        let outcome = self.run_group(now_ms, |g| g.execute(session, argv, reply));
        if let Err(err) = &outcome {
            reply.truncate(mark);
            reply.error(CommandError::from(err).reply_text().as_ref());
        }
        outcome
    }

    /// Checks every page of the database file against its checksum (redb's integrity check):
    /// `Ok(false)` if damage was found and redb rolled the file back to an intact commit.
    /// Commits first; reads the whole file.
    pub fn verify_pages(&mut self) -> Result<bool, StorageError> {
        self.checkpoint(0)?;
        if let Some(open) = self.open.take() {
            let _ = open.txn.into_txn().abort();
        }
        self.cache.clear();
        storage::verify_pages(&mut self.db)
    }

    /// Checks the whole keyspace, as the open group sees it, against the invariants of
    /// [`Keyspace::check_integrity`]. Reads every row: for tests and fuzzing.
    pub fn check_integrity(&mut self) -> Result<(), IntegrityError> {
        self.execute_job(0, |g| g.keyspace.check_integrity())?
    }

    /// Background duties, to call about every 100 ms between groups: active expiry, the
    /// `everysec` log sync, and periodic checkpoints.
    pub fn tick(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let busy = std::mem::take(&mut self.busy);
        let expired = self.run_group(now_ms, |g| g.expire_due(EXPIRE_BUDGET));
        // The tick's own job is not traffic.
        self.busy = false;
        expired?;
        if self.durability == Durability::Everysec && now_ms - self.last_sync_ms >= 1000 {
            self.sync_log()?;
            self.last_sync_ms = now_ms;
        }
        let log_big = self
            .wal
            .as_ref()
            .is_some_and(|w| w.len() > CHECKPOINT_LOG_BYTES);
        // The open transaction goes on carrying logged groups until the checkpoint (or
        // `SPAN_WRITES`) commits it: committing it at every tick instead made a slow writer's
        // writes (a single client's SETs) copy a fresh B-tree page nearly every time, about
        // half of such a SET's instructions.
        let carrying = self
            .open
            .as_ref()
            .is_some_and(|open| open.spanned.is_some());
        // Without a log (the WebAssembly stores), the checkpoint is what makes `everysec` and
        // `no` writes durable: it keeps its pace.
        let every = if busy && self.wal.is_some() {
            CHECKPOINT_BUSY_MS
        } else {
            CHECKPOINT_EVERY_MS
        };
        let refused = self.state.writes_refused.is_some();
        if refused
            && now_ms - self.last_checkpoint_ms >= CHECKPOINT_EVERY_MS
            && !self.take_reserve()
        {
            // Still full: try again in a second.
            self.last_checkpoint_ms = now_ms;
            return Ok(());
        }
        let every = if refused { CHECKPOINT_EVERY_MS } else { every };
        if (self.uncheckpointed || carrying || refused)
            && (now_ms - self.last_checkpoint_ms >= every || (log_big && !refused))
        {
            if let Err(err) = self.checkpoint(now_ms) {
                // Not again at every tick (a full disk): the log keeps the data meanwhile.
                self.last_checkpoint_ms = now_ms;
                return Err(err);
            }
        }
        Ok(())
    }

    /// Writes the checkpoint a SAVE or BGSAVE asked for, if any.
    pub fn save_if_requested(&mut self, now_ms: i64) -> Result<(), StorageError> {
        if std::mem::take(&mut self.state.save_requested) {
            self.checkpoint(now_ms)?;
        }
        Ok(())
    }

    /// Syncs the write-ahead log if it has unsynced records.
    pub fn sync_log(&mut self) -> Result<(), StorageError> {
        if let Some(wal) = self.wal.as_mut() {
            wal.sync().map_err(|source| StorageError::Wal {
                path: wal.name().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// Whether the log holds records appended since its last sync (`everysec`, `no`).
    pub fn log_has_unsynced(&self) -> bool {
        self.wal.as_ref().is_some_and(Wal::has_unsynced)
    }

    /// Shuts down: checkpoints, closes redb's file and seals it (see `seal.rs`), so the next
    /// start knows the file is as this run left it. Every later job fails.
    pub fn close(&mut self, now_ms: i64) -> Result<(), StorageError> {
        self.checkpoint(now_ms)?;
        let dir = self.reopen.take().map(|(dir, _)| dir);
        self.closed = true;
        // redb rewrites its header when it closes the file: seal only after that.
        let placeholder = storage::open_database(Store::Memory, 0)?;
        drop(std::mem::replace(&mut self.db, placeholder));
        if let Some(dir) = dir {
            seal::write(&dir)?;
        }
        Ok(())
    }

    /// Commits the open group, then makes redb durable and empties the log (SAVE, shutdown,
    /// and periodically).
    pub fn checkpoint(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let result = self.checkpoint_inner(now_ms);
        self.watch(result)
    }

    fn checkpoint_inner(&mut self, now_ms: i64) -> Result<(), StorageError> {
        self.heal(now_ms)?;
        self.commit_all()?;
        if let Some(open) = self.open.take() {
            // An unchanged group is left open by `commit`; close it to write the checkpoint.
            // (It holds no pending record writes: any write marks the group changed.)
            if self.cache.has_pending() {
                self.cache.clear();
            }
            let _ = open.txn.into_txn().abort();
        }
        // A new epoch: records written from now on never chain onto anything the log held.
        let (epoch, base) = (self.epoch + 1, self.next_lsn - 1);
        let mut txn = self.db.begin_write()?;
        write_system(&txn, self.applied_lsn, &self.counters)?;
        {
            let mut table = txn.open_table(SYSTEM)?;
            table.insert("log_epoch", epoch.to_le_bytes().as_slice())?;
            table.insert("log_base", base.to_le_bytes().as_slice())?;
        }
        txn.set_durability(redb::Durability::Immediate)?;
        txn.commit()?;
        self.epoch = epoch;
        if let Some(wal) = self.wal.as_mut() {
            wal.reset(epoch, base).map_err(|source| StorageError::Wal {
                path: wal.name().to_string(),
                source,
            })?;
        }
        self.last_checkpoint_ms = now_ms;
        self.uncheckpointed = false;
        if self.reserve.as_ref().is_none_or(storage::Reserve::held) {
            self.state.writes_refused = None;
        }
        if now_ms > 0 {
            self.state.last_save_s = now_ms / 1000;
        }
        Ok(())
    }
}

/// Checks every page of a file that changed since its clean close (its seal differs): a change
/// in free space is only noted; damage is refused, and the seal made to say so.
fn check_changed_file(
    db: &mut Database,
    dir: &std::path::Path,
    report: &mut RecoveryReport,
) -> Result<(), StorageError> {
    let path = dir.join(storage::DB_FILE).display().to_string();
    let found = match storage::verify_pages(db) {
        Ok(true) => {
            report.warnings.push(format!(
                "{path} changed since it was closed cleanly, but every page in use matches its checksum"
            ));
            return Ok(());
        }
        Ok(false) => "damaged pages; redb rolled the file back to its last intact commit, which lacks acknowledged writes".to_string(),
        // Nothing to start from: the seal changes nothing.
        Err(err) => return Err(err),
    };
    let _ = seal::mark_damaged(dir, &found);
    Err(StorageError::DamagedWhileStopped {
        path,
        found,
        seal: dir.join(seal::SEAL_FILE).display().to_string(),
    })
}

/// What the system table holds about the keyspace and the log.
struct System {
    /// The last log record redb holds.
    applied: u64,
    counters: Counters,
    /// The log's epoch and the sequence number its chain starts after (written by checkpoints).
    epoch: u64,
    base: u64,
}

fn read_system(db: &Database) -> Result<System, StorageError> {
    use redb::ReadableDatabase;
    let read = db.begin_read()?;
    let table = read.open_table(SYSTEM)?;
    let number = |name: &str| -> Result<u64, StorageError> {
        Ok(match table.get(name)? {
            Some(v) => u64::from_le_bytes(v.value().try_into().unwrap_or_default()),
            None => 0,
        })
    };
    let counters = match table.get("counters")? {
        Some(v) => Counters::decode(v.value())
            .ok_or_else(|| StorageError::Redb("damaged key counters in the system table".into()))?,
        None => Counters::default(),
    };
    Ok(System {
        applied: number("applied_lsn")?,
        counters,
        epoch: number("log_epoch")?,
        base: number("log_base")?,
    })
}

fn write_system(
    txn: &redb::WriteTransaction,
    applied: u64,
    counters: &Counters,
) -> Result<(), StorageError> {
    let mut table = txn.open_table(SYSTEM)?;
    table.insert("applied_lsn", applied.to_le_bytes().as_slice())?;
    table.insert("counters", counters.encode().as_slice())?;
    Ok(())
}

/// The scripting commands' host: Lua where it is built.
fn script_host() -> Option<Box<dyn ScriptHost>> {
    #[cfg(not(target_family = "wasm"))]
    {
        Some(Box::new(crate::scripting::Scripts::default()))
    }
    #[cfg(target_family = "wasm")]
    {
        None
    }
}

/// The commands of one group, sharing one redb write transaction.
pub struct Group<'g, 't> {
    keyspace: Keyspace<'g, 't>,
    record: &'g mut RecordBuilder,
    state: &'g mut ServerState,
    scripts: &'g mut Option<Box<dyn ScriptHost>>,
    failure: Option<StorageError>,
    replaying: bool,
    now_ms: i64,
}

impl Group<'_, '_> {
    /// Executes one client command (`argv[0]` is its name) and appends its reply to `reply`.
    pub fn execute(&mut self, session: &mut Session, argv: &dyn Argv, reply: &mut Reply) {
        let mut ctx = Ctx {
            ks: &mut self.keyspace,
            session,
            reply,
            state: &mut *self.state,
            rewrite: None,
            log: &mut *self.record,
            failure: &mut self.failure,
            replaying: self.replaying,
            now_ms: self.now_ms,
            caller: Caller::Client,
            scripts: &mut *self.scripts,
        };
        dispatch::call(&mut ctx, argv);
    }

    /// Removes keys whose deadline has passed (active expiry; not logged: replay sees the same
    /// keys as expired through its recorded clock).
    pub fn expire_due(&mut self, budget: usize) -> usize {
        match self.keyspace.expire_due(budget) {
            Ok(n) => n,
            Err(err) => {
                self.failure = Some(err);
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(engine: &mut Engine, now: i64, args: &[&str]) -> Vec<u8> {
        let mut session = Session::default();
        let mut reply = Reply::new();
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let _ = engine.execute(now, &mut session, &argv, &mut reply);
        reply.take()
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("diskdb-engine-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn open_dir(dir: &std::path::Path) -> Engine {
        Engine::open(EngineConfig {
            store: Store::Dir(dir.to_path_buf()),
            ..EngineConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn writes_survive_reopen_through_the_log_without_a_checkpoint() {
        let dir = temp_dir("reopen");
        {
            let mut e = open_dir(&dir);
            assert_eq!(run(&mut e, 1, &["SET", "a", "1"]), b"+OK\r\n");
            assert_eq!(run(&mut e, 2, &["SET", "b", "2"]), b"+OK\r\n");
            assert_eq!(run(&mut e, 3, &["DEL", "a"]), b":1\r\n");
            // Dropped without a checkpoint: like a crash after the log sync.
        }
        let mut e = open_dir(&dir);
        assert_eq!(run(&mut e, 4, &["GET", "a"]), b"$-1\r\n");
        assert_eq!(run(&mut e, 5, &["GET", "b"]), b"$1\r\n2\r\n");
        assert_eq!(e.counters().keys[0], 1);
    }

    #[test]
    fn a_foreign_file_is_refused_with_a_clear_message() {
        let dir = temp_dir("foreign");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(storage::DB_FILE), vec![7u8; 8192]).unwrap();
        let err = Engine::open(EngineConfig {
            store: Store::Dir(dir.clone()),
            ..EngineConfig::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("is not a DiskDB database"),
            "{err}"
        );
    }

    #[test]
    fn jobs_near_a_commit_of_every_pending_row_drain_the_record_cache() {
        let dir = temp_dir("drain");
        let mut e = open_dir(&dir);
        let set_many = |e: &mut Engine, now: i64, from: usize, n: usize| {
            let mut session = Session::default();
            let mut reply = Reply::new();
            e.execute_job(now, |g| {
                for i in from..from + n {
                    let key = format!("key:{i}");
                    let argv: Vec<&[u8]> = vec![b"SET", key.as_bytes(), b"v"];
                    g.execute(&mut session, &argv, &mut reply);
                }
            })
            .unwrap();
            e.commit_group(now).unwrap();
        };
        // Far from a checkpoint (the last one was at 0): new keys' records wait in the cache.
        let far = 1000;
        assert!(!e.commit_near(far));
        set_many(&mut e, far, 0, 60_000);
        assert!(e.cache.pending_rows() > 2 * crate::keyspace::DRAIN_KEEP);
        // Near the checkpoint each job ends by flushing the fullest bucket: about 940 rows of
        // these 60 000 (64 buckets), so 64 jobs leave no more than what drain_step keeps.
        let near = CHECKPOINT_BUSY_MS - DRAIN_AHEAD_MS;
        assert!(e.commit_near(near));
        for i in 0..64 {
            set_many(&mut e, near, 60_000 + i, 1);
        }
        assert!(e.cache.pending_rows() <= crate::keyspace::DRAIN_KEEP + 64);
        e.check_integrity().unwrap();
        assert_eq!(run(&mut e, near, &["DBSIZE"]), b":60064\r\n");
        drop(e);
        let mut e = open_dir(&dir);
        assert_eq!(run(&mut e, near, &["GET", "key:59999"]), b"$1\r\nv\r\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    mod record_cache {
        use super::*;
        use proptest::prelude::*;

        const COMMANDS: &[&[&str]] = &[
            &["SET", "k"],
            &["SET", "k", "PX", "3"],
            &["GET", "k"],
            &["DEL", "k"],
            &["EXISTS", "k"],
            &["TYPE", "k"],
            &["APPEND", "k"],
            &["INCR", "k"],
            &["PEXPIRE", "k", "2"],
            &["PERSIST", "k"],
            &["HSET", "k", "f"],
            &["HGET", "k", "f"],
            &["LPUSH", "k"],
            &["LPOP", "k"],
            &["SADD", "k"],
            &["ZADD", "k", "1"],
            &["RENAME", "k", "k2"],
            &["MOVE", "k", "1"],
            &["COPY", "k", "k2", "REPLACE"],
            &["SELECT", "1"],
            &["SELECT", "0"],
            &["SWAPDB", "0", "1"],
            &["FLUSHDB"],
            &["MSET", "k", "v", "k2", "v2"],
            &["GETDEL", "k"],
            // A whole iteration, and not DBSIZE: a key that expired and was reclaimed by a read
            // (not logged) is back after a replay, expired, and counted until reclaimed again
            // (docs/storage.md); a partial SCAN would stop at a different cursor for it.
            &["SCAN", "0", "COUNT", "100"],
            &["KEYS", "*"],
            &["PTTL", "k"],
            &["SET", "k", "PX", "1"],
            &["UNLINK", "k", "k2"],
            // Element rows, which the cache holds too.
            &["SREM", "k"],
            &["SISMEMBER", "k"],
            &["SMEMBERS", "k"],
            &["SMOVE", "k", "k2", "1"],
            // Several members at once: a set partly cached must not look whole mid-command.
            &["SADD", "k", "0", "1", "2", "3", "e"],
            &["HSET", "k", "0", "x", "1", "y", "h", "z"],
            &["SINTERSTORE", "k2", "k"],
            &["HSET", "k", "g", "1", "f", "2"],
            &["HDEL", "k", "f"],
            &["HINCRBY", "k", "g", "1"],
            &["HGETALL", "k"],
            &["RPUSH", "k", "a", "b"],
            &["RPOP", "k"],
            &["LRANGE", "k", "0", "-1"],
            &["LTRIM", "k", "1", "-1"],
            &["LSET", "k", "0", "x"],
            &["LREM", "k", "0", "1"],
            &["LINSERT", "k", "AFTER", "1", "2"],
            &["LINDEX", "k", "-1"],
            &["LRANGE", "k", "1", "2"],
            &["ZREM", "k"],
            &["ZSCORE", "k", "2"],
            &["ZINCRBY", "k", "1", "2"],
            &["ZRANGE", "k", "0", "-1", "WITHSCORES"],
            // Enough members for the rank index's blocks to split and merge (tiny in tests).
            &[
                "ZADD", "k", "3", "m1", "1", "m2", "2", "m3", "0", "m4", "4", "m5", "2", "m6", "5",
                "m7", "1", "m8", "6",
            ],
            &["ZREM", "k", "m1", "m3", "m5", "m7"],
            &["ZRANK", "k", "m4"],
            &["ZRANGE", "k", "2", "5"],
            &["ZREMRANGEBYRANK", "k", "1", "2"],
        ];

        fn argv(op: usize, key: u8, value: u8) -> Vec<String> {
            let key = format!("key{}", key % 3);
            COMMANDS[op % COMMANDS.len()]
                .iter()
                .map(|a| match *a {
                    "k" => key.clone(),
                    "k2" => format!("{key}x"),
                    _ => (*a).to_string(),
                })
                .chain(
                    // Commands whose table entry stops before their value get one.
                    matches!(
                        COMMANDS[op % COMMANDS.len()][0],
                        "SET"
                            | "APPEND"
                            | "HSET"
                            | "LPUSH"
                            | "SADD"
                            | "ZADD"
                            | "SREM"
                            | "SISMEMBER"
                            | "ZREM"
                    )
                    .then(|| format!("{}", value % 4)),
                )
                .collect()
        }

        /// Changes of known element rows wait in the cache across commands; range reads of
        /// each cached table (and of the key after a removal) must see them, and list reads
        /// answered from the cache must see every write since.
        #[test]
        fn range_reads_see_the_element_changes_waiting_in_the_cache() {
            let dir = temp_dir("cache-elems");
            let mut cached = Engine::open(EngineConfig {
                store: Store::Dir(dir.clone()),
                ..EngineConfig::default()
            })
            .unwrap();
            let mut plain = Engine::open(EngineConfig {
                cache_bytes: 0,
                ..EngineConfig::default()
            })
            .unwrap();
            let (mut s1, mut s2) = (Session::default(), Session::default());
            let script: &[&[&str]] = &[
                &["SADD", "s", "a", "b", "c"],
                &["SREM", "s", "a"],
                &["SADD", "s", "d"],
                &["SMEMBERS", "s"],
                &["HSET", "h", "f", "1", "g", "2"],
                &["HSET", "h", "f", "3"],
                &["HDEL", "h", "g"],
                &["HGETALL", "h"],
                &["ZADD", "z", "1", "a", "2", "b"],
                &["ZADD", "z", "3", "a"],
                &["ZREM", "z", "b"],
                &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
                &["SREM", "s", "b"],
                &["COPY", "s", "s2"],
                &["SMEMBERS", "s2"],
                // List items are cached when read and forgotten when written.
                &["RPUSH", "l", "a", "b", "c", "d"],
                &["LRANGE", "l", "0", "-1"],
                &["LSET", "l", "1", "x"],
                &["LRANGE", "l", "0", "-1"],
                &["LINSERT", "l", "BEFORE", "c", "y"],
                &["LRANGE", "l", "1", "3"],
                &["LINDEX", "l", "2"],
                &["LREM", "l", "0", "a"],
                &["LRANGE", "l", "0", "-1"],
                &["LPUSH", "l", "z"],
                &["RPOP", "l"],
                &["LRANGE", "l", "0", "-1"],
                &["LTRIM", "l", "1", "2"],
                &["LRANGE", "l", "0", "-1"],
                &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
                &["LRANGE", "l", "0", "-1"],
                &["DEL", "l"],
                &["RPUSH", "l", "n"],
                &["LRANGE", "l", "0", "-1"],
            ];
            for argv in script {
                let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
                let (mut r1, mut r2) = (Reply::new(), Reply::new());
                let _ = cached.execute(1_000, &mut s1, &argv, &mut r1);
                let _ = plain.execute(1_000, &mut s2, &argv, &mut r2);
                assert_eq!(
                    String::from_utf8_lossy(&r1.take()),
                    String::from_utf8_lossy(&r2.take()),
                    "{argv:?}"
                );
            }
            assert!(
                cached.cache.has_pending(),
                "the script left nothing pending"
            );
            drop(cached);
            let _ = std::fs::remove_dir_all(&dir);
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

            /// The record cache never changes a reply: the same commands (with expiries, type
            /// changes, database moves and swaps, key walks, reopen and log replay) give the same
            /// replies on a file store with the cache (large, or small enough that its pending
            /// writes flush every other write and its sweeps evict) as on a memory store without
            /// it, and the keyspace's invariants hold throughout.
            #[test]
            fn the_record_cache_never_changes_a_reply(
                ops in proptest::collection::vec((0usize..256, any::<u8>(), any::<u8>(), 0i64..3), 1..80),
                reopen_at in 0usize..80,
                small in any::<bool>(),
            ) {
                let dir = temp_dir("cache-prop");
                let cache_bytes = if small { 16 * 1024 } else { EngineConfig::default().cache_bytes };
                let open = |dir: &std::path::Path| Engine::open(EngineConfig {
                    store: Store::Dir(dir.to_path_buf()),
                    cache_bytes,
                    ..EngineConfig::default()
                }).unwrap();
                let mut cached = open(&dir);
                let mut plain = Engine::open(EngineConfig { cache_bytes: 0, ..EngineConfig::default() }).unwrap();
                let (mut s1, mut s2) = (Session::default(), Session::default());
                let mut now = 1_000;
                for (i, (op, key, value, tick)) in ops.into_iter().enumerate() {
                    if i == reopen_at {
                        drop(cached);
                        cached = open(&dir);
                    }
                    now += tick;
                    if value % 8 == 7 {
                        // A checkpoint commits redb with what the cache holds pending.
                        prop_assert!(cached.checkpoint(now).is_ok());
                    }
                    let args = argv(op, key, value);
                    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
                    let (mut r1, mut r2) = (Reply::new(), Reply::new());
                    let _ = cached.execute(now, &mut s1, &argv, &mut r1);
                    let _ = plain.execute(now, &mut s2, &argv, &mut r2);
                    let (b1, b2) = (r1.take(), r2.take());
                    prop_assert_eq!(
                        String::from_utf8_lossy(&b1),
                        String::from_utf8_lossy(&b2),
                        "{:?}", args
                    );
                    // Not after every command: the check applies the pending element writes,
                    // which must also be seen while they wait.
                    if value % 8 == 0 {
                        let checked = cached.check_integrity();
                        prop_assert!(checked.is_ok(), "{:?}: {:?}", args, checked);
                    }
                }
                drop(cached);
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}
