//! The command table, in the manner of Redis's `server.c` command table: one row per command
//! (name, arity, flags, key positions, handler); the handlers live one family per file, and
//! [`dispatch`] admits a command by its row's flags and calls it.

/// One row: `command!(name, arity, Write|Read|None, fast, (first, last, step), handler)`,
/// optionally followed by `; FLAG | FLAG` naming more of Redis's flags (see [`flags`]).
macro_rules! command {
    ($name:literal, $arity:expr, $access:ident, $fast:expr, $keys:expr, $handler:path) => {
        command!($name, $arity, $access, $fast, $keys, $handler; NONE)
    };
    ($name:literal, $arity:expr, $access:ident, $fast:expr, $keys:expr, $handler:path;
     $($flag:ident)|+) => {
        $crate::commands::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $crate::commands::Access::$access.flags()
                | if $fast { $crate::commands::flags::FAST } else { 0 }
                $(| $crate::commands::flags::$flag)+,
            keys: $keys,
            handler: $handler,
        }
    };
}

mod args;
mod blocking;
pub mod catalogue;
mod connection;
pub mod dispatch;
mod expire;
mod hashes;
mod keys;
mod lists;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod strings;
mod transactions;
mod zsets;

pub use args::{
    db_in_range, flush_mode_ok, parse_cursor, parse_db, parse_i64, parse_int, parse_random_count,
    parse_timeout, rest, scan_options,
};
pub use server::REDIS_VERSION;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::{CommandError, CommandResult};
pub use crate::keyspace::count_of;
use crate::keyspace::{Entry, Keyspace, Kind};
use crate::protocol::{Argv, Reply};
use crate::session::Session;
use crate::state::ServerState;

/// A command's effect on data, as in Redis's command flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// May modify the keyspace.
    Write,
    /// Only reads the keyspace.
    Read,
    /// Touches no key (connection and server commands).
    None,
}

impl Access {
    pub const fn flags(self) -> u32 {
        match self {
            Access::Write => flags::WRITE,
            Access::Read => flags::READONLY,
            Access::None => 0,
        }
    }
}

/// Redis's command flags (`CMD_*` in `server.h`), and two of DiskDB's own that stand for lists
/// Redis writes out in `processCommand`.
pub mod flags {
    pub const NONE: u32 = 0;
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    /// Not callable from a script.
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    /// Allowed before the client has authenticated.
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_ASYNC_LOADING: u32 = 1 << 15;
    /// Refused inside MULTI (and aborts it).
    pub const NO_MULTI: u32 = 1 << 16;
    pub const MOVABLE_KEYS: u32 = 1 << 17;
    pub const ALLOW_BUSY: u32 = 1 << 18;
    /// DiskDB's: a container (CONFIG, CLIENT, ...) whose subcommands carry their own flags in
    /// Redis's table (`catalogue.rs`); it is admitted by its subcommand's.
    pub const SUBCOMMANDS: u32 = 1 << 29;
    /// DiskDB's: allowed in RESP2's subscribed mode.
    pub const SUBSCRIBED: u32 = 1 << 30;
    /// DiskDB's: runs at once inside MULTI instead of being queued (EXEC, DISCARD, ...).
    pub const TRANSACTION: u32 = 1 << 31;

    /// DiskDB's own flags (not Redis's).
    pub const DISKDB: u32 = SUBCOMMANDS | SUBSCRIBED | TRANSACTION;

    /// The flags Redis prints, in `COMMAND INFO`'s order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// What a handler works with: the keyspace, the client's session, and its reply buffer.
pub struct Ctx<'a, 'k, 't> {
    pub ks: &'a mut Keyspace<'k, 't>,
    pub session: &'a mut Session,
    pub reply: &'a mut Reply,
    /// Settings, statistics and the client registry.
    pub state: &'a mut ServerState,
    /// What the write-ahead log records for this command instead of its arguments, when the
    /// handler sets it: a command whose effect is random (SPOP) logs its outcome, so replay
    /// repeats the same effect (Redis propagates SPOP as SREM the same way). An empty vector
    /// logs nothing.
    pub rewrite: Option<Vec<Vec<u8>>>,
    /// Where written commands are logged (the group's write-ahead log record).
    pub(crate) log: &'a mut crate::wal::RecordBuilder,
    /// Set when storage failed under a command: the group's transaction may hold part of it, so
    /// every later command of the group fails.
    pub(crate) failure: &'a mut Option<crate::storage::StorageError>,
    /// Replaying the log: writes are not logged again nor refused.
    pub(crate) replaying: bool,
    pub(crate) now_ms: i64,
    pub(crate) caller: dispatch::Caller,
    /// The engine's script host (absent in builds without scripting, and while it runs a
    /// script).
    pub(crate) scripts: &'a mut Option<Box<dyn ScriptHost>>,
}

/// What runs the scripting family's commands (EVAL, FCALL, SCRIPT, FUNCTION ...). Scripts call
/// commands back through [`dispatch::call`], so the host sits above this layer: the engine owns
/// one and hands it in through [`Ctx::scripts`].
pub trait ScriptHost: Send {
    /// Runs the command `args` names (`args.name()`), with its arguments after the name.
    fn command(&mut self, ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult;
}

impl<'k, 't> Ctx<'_, 'k, 't> {
    /// The same context with replies going to `reply` (a script's `redis.call`).
    pub fn with_reply<'r>(&'r mut self, reply: &'r mut Reply) -> Ctx<'r, 'k, 't> {
        let mut inner = self.reborrow();
        inner.reply = reply;
        inner
    }

    /// The same context for a nested command (EXEC's queue, a script's `redis.call`).
    pub fn reborrow(&mut self) -> Ctx<'_, 'k, 't> {
        Ctx {
            ks: &mut *self.ks,
            session: &mut *self.session,
            reply: &mut *self.reply,
            state: &mut *self.state,
            rewrite: None,
            log: &mut *self.log,
            failure: &mut *self.failure,
            replaying: self.replaying,
            now_ms: self.now_ms,
            caller: self.caller,
            scripts: &mut *self.scripts,
        }
    }
}

pub type Handler = fn(&mut Ctx<'_, '_, '_>, &mut Args<'_>) -> CommandResult;

/// One row of the command table.
pub struct CommandSpec {
    /// Lower-case name, as Redis reports it.
    pub name: &'static str,
    /// Redis arity: `n` means exactly `n` arguments (name included), `-n` at least `n`.
    pub arity: i32,
    /// Redis's flags for it ([`flags`]).
    pub flags: u32,
    /// First key argument, last key argument (negative: from the end), step; 0 when keyless.
    pub keys: (i32, i32, i32),
    pub handler: Handler,
}

/// Every family's rows; a family lists its commands next to their handlers.
static FAMILIES: &[&[CommandSpec]] = &[
    blocking::COMMANDS,
    connection::COMMANDS,
    expire::COMMANDS,
    hashes::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    pubsub::COMMANDS,
    scripting::COMMANDS,
    server::COMMANDS,
    sets::COMMANDS,
    strings::COMMANDS,
    transactions::COMMANDS,
    zsets::COMMANDS,
];

/// Every command DiskDB knows.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// Longest command name; longer input cannot name a command.
const MAX_NAME: usize = 32;

/// The command table by lower-case name. Its keys are fixed, so a fast unkeyed hasher is safe
/// (SipHash showed in profiles of pipelined GETs).
type Table = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::FixedState>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| all().map(|c| (c.name.as_bytes(), c)).collect())
}

/// Finds a command by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > MAX_NAME {
        return None;
    }
    let mut lower = [0u8; MAX_NAME];
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    table().get(&lower[..name.len()]).copied()
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn is_write(&self) -> bool {
        self.has(flags::WRITE)
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {
            argc == arity
        } else {
            argc >= arity
        }
    }
}

/// The live value at `key` if it is of `kind`: `None` when missing, WRONGTYPE when another type.
pub fn lookup_kind(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    kind: Kind,
) -> Result<Option<Entry>, CommandError> {
    match ctx.ks.get(ctx.session.db, key)? {
        Some(entry) if entry.kind != kind => Err(CommandError::WrongType),
        other => Ok(other),
    }
}

/// Stores a collection's new element count, keeping its deadline; a count of 0 removes the key,
/// as Redis removes a collection with its last element.
pub fn store_count(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    kind: Kind,
    old: Option<&Entry>,
    count: u64,
) -> CommandResult {
    let db = ctx.session.db;
    if count == 0 {
        ctx.ks.delete(db, key)?;
    } else {
        let expire_at = old.and_then(|e| e.expire_at);
        ctx.ks
            .put(db, key, kind, expire_at, &crate::keyspace::counted(count))?;
    }
    Ok(())
}

/// Writes a collection record (count and compact flag), keeping the old deadline; a count of 0
/// removes the key, as Redis removes a collection with its last element.
pub fn store_record(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    kind: Kind,
    old: Option<&Entry>,
    count: u64,
    compact: bool,
) -> CommandResult {
    let db = ctx.session.db;
    if count == 0 {
        ctx.ks.delete(db, key)?;
    } else {
        let body = crate::keyspace::counted_compact(count, compact);
        let expire_at = old.and_then(|e| e.expire_at);
        ctx.ks.put(db, key, kind, expire_at, &body)?;
    }
    Ok(())
}

/// Writes a container command's HELP reply: its lines as status replies.
pub fn reply_help(reply: &mut Reply, lines: &[&str]) {
    reply.array(lines.len());
    for line in lines {
        reply.simple(line);
    }
}

/// Writes a *SCAN reply: the cursor, then the items.
pub fn reply_scan(reply: &mut Reply, cursor: u64, items: &[&[u8]]) {
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    reply.array(items.len());
    for item in items {
        reply.bulk(item);
    }
}

/// A cursor over a command's arguments, so each handler reads like its syntax line.
pub struct Args<'a> {
    argv: &'a dyn Argv,
    pos: usize,
    name: &'static str,
}

impl<'a> Args<'a> {
    /// A cursor positioned after the command name.
    pub fn new(argv: &'a dyn Argv, name: &'static str) -> Self {
        Args { argv, pos: 1, name }
    }

    /// Arguments not yet read.
    pub fn remaining(&self) -> usize {
        self.argv.argc() - self.pos
    }

    /// The next argument; a missing one is an arity error.
    pub fn next_bytes(&mut self) -> Result<&'a [u8], CommandError> {
        if self.pos >= self.argv.argc() {
            return Err(CommandError::WrongArity(self.name));
        }
        self.pos += 1;
        Ok(self.argv.arg(self.pos - 1))
    }

    /// The next argument, if any.
    pub fn try_next(&mut self) -> Option<&'a [u8]> {
        self.next_bytes().ok()
    }

    /// The command's name, for error texts.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Fails with an arity error if arguments are left over.
    pub fn finish(&self) -> CommandResult {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(CommandError::WrongArity(self.name))
        }
    }
}

/// Running commands in unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::engine::Engine;
    use crate::protocol::reply::{Protocol, Reply};
    use crate::session::Session;

    /// Runs `commands` in order on a fresh in-memory engine, as one client speaking `proto`, at
    /// a fixed clock; returns each reply's bytes.
    pub fn run(proto: Protocol, commands: &[&[&str]]) -> Vec<Vec<u8>> {
        let mut engine = Engine::memory();
        let mut session = Session::default();
        commands
            .iter()
            .map(|args| {
                let mut reply = Reply::new();
                reply.set_protocol(proto);
                let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
                let _ = engine.execute(1_700_000_000_000, &mut session, &argv, &mut reply);
                reply.take()
            })
            .collect()
    }

    /// The last reply of [`run`] in RESP2, as text.
    pub fn last(commands: &[&[&str]]) -> String {
        let replies = run(Protocol::Resp2, commands);
        String::from_utf8_lossy(replies.last().map_or(&[][..], |r| r)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_unique_and_lowercase() {
        let mut names: Vec<&str> = all().map(|c| c.name).collect();
        names.sort_unstable();
        for pair in names.windows(2) {
            assert_ne!(pair[0], pair[1], "{} is in the table twice", pair[0]);
        }
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.name.len() <= MAX_NAME);
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }
}
