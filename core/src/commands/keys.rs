//! Generic key commands (Redis's `db.c`): DEL, EXISTS, TYPE, RENAME, KEYS, SCAN, SELECT, ...

use super::{db_in_range, parse_cursor, parse_db, parse_i64, parse_int, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::keyspace::{Entry, Kind};
use crate::random::random_u64;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("copy", -3, Write, false, (1, 2, 1), copy; DENYOOM),
    command!("dbsize", 1, Read, true, (0, 0, 0), dbsize),
    command!("del", -2, Write, false, (1, -1, 1), del),
    command!("exists", -2, Read, true, (1, -1, 1), exists),
    command!("flushall", -1, Write, false, (0, 0, 0), flushall),
    command!("flushdb", -1, Write, false, (0, 0, 0), flushdb),
    command!("keys", 2, Read, false, (0, 0, 0), keys),
    command!("move", 3, Write, true, (1, 1, 1), move_),
    command!("object", -2, None, false, (2, 2, 1), object; SUBCOMMANDS),
    command!("randomkey", 1, Read, false, (0, 0, 0), randomkey),
    command!("rename", 3, Write, false, (1, 2, 1), rename),
    command!("renamenx", 3, Write, true, (1, 2, 1), renamenx),
    command!("scan", -2, Read, false, (0, 0, 0), scan),
    command!("select", 2, None, true, (0, 0, 0), select; LOADING | STALE),
    command!("swapdb", 3, Write, true, (0, 0, 0), swapdb),
    command!("touch", -2, Read, true, (1, -1, 1), exists),
    command!("type", 2, Read, true, (1, 1, 1), type_),
    command!("unlink", -2, Write, true, (1, -1, 1), del),
];

/// `DEL key [key ...]` and `UNLINK key [key ...]`
pub fn del(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let mut removed = 0;
    while let Some(key) = args.try_next() {
        removed += i64::from(ctx.ks.delete(ctx.session.db, key)?);
    }
    ctx.reply.integer(removed);
    Ok(())
}

/// `EXISTS key [key ...]` and `TOUCH key [key ...]`: a key named twice counts twice.
pub fn exists(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let mut found = 0;
    while let Some(key) = args.try_next() {
        found += i64::from(ctx.ks.exists(ctx.session.db, key)?);
    }
    ctx.reply.integer(found);
    Ok(())
}

/// `TYPE key`
pub fn type_(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let name = match ctx.ks.get(ctx.session.db, key)? {
        Some(entry) => entry.kind.name(),
        None => "none",
    };
    ctx.reply.simple(name);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, nx: bool) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let db = ctx.session.db;
    let Some(entry) = ctx.ks.get(db, src)? else {
        return Err(CommandError::NoSuchKey);
    };
    if src == dst {
        if nx {
            ctx.reply.integer(0);
        } else {
            ctx.reply.ok();
        }
        return Ok(());
    }
    if nx && ctx.ks.exists(db, dst)? {
        ctx.reply.integer(0);
        return Ok(());
    }
    ctx.ks.delete(db, dst)?;
    ctx.ks.copy_key(&entry, db, src, db, dst)?;
    ctx.ks.delete(db, src)?;
    if nx {
        ctx.reply.integer(1);
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

/// `RENAME key newkey`
pub fn rename(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    rename_generic(ctx, args, false)
}

/// `RENAMENX key newkey`
pub fn renamenx(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    rename_generic(ctx, args, true)
}

/// `KEYS pattern`
pub fn keys(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let pattern = args.next_bytes()?;
    let all = pattern == b"*";
    let mut found = Vec::new();
    let mut cursor = 0;
    loop {
        let (batch, next) = ctx.ks.scan(ctx.session.db, cursor, 1024)?;
        found.extend(
            batch
                .into_iter()
                .filter(|(k, _)| all || glob::matches(pattern, k))
                .map(|(k, _)| k),
        );
        if next == 0 {
            break;
        }
        cursor = next;
    }
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
    Ok(())
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
pub fn scan(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let cursor = parse_cursor(args.next_bytes()?)?;
    let mut pattern: Option<&[u8]> = None;
    let mut count: i64 = 10;
    let mut kind: Option<&[u8]> = None;
    while let Some(opt) = args.try_next() {
        if args.remaining() == 0 {
            return Err(CommandError::Syntax);
        }
        if opt.eq_ignore_ascii_case(b"match") {
            pattern = Some(args.next_bytes()?);
        } else if opt.eq_ignore_ascii_case(b"count") {
            count = parse_i64(args.next_bytes()?)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
        } else if opt.eq_ignore_ascii_case(b"type") {
            kind = Some(args.next_bytes()?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    // Like Redis, a bare `*` is no filter at all (it would not match the empty key).
    let pattern = pattern.filter(|p| *p != b"*");
    let (batch, next) = ctx.ks.scan(ctx.session.db, cursor, count as usize)?;
    let keep = |(k, e): &(Vec<u8>, Entry)| {
        pattern.is_none_or(|p| glob::matches(p, k))
            && kind.is_none_or(|t| t.eq_ignore_ascii_case(e.kind.name().as_bytes()))
    };
    let keys: Vec<&Vec<u8>> = batch
        .iter()
        .filter(|item| keep(item))
        .map(|(k, _)| k)
        .collect();
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.array(keys.len());
    for key in keys {
        ctx.reply.bulk(key);
    }
    Ok(())
}

/// `RANDOMKEY`
pub fn randomkey(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    match ctx.ks.key_at_or_after(ctx.session.db, random_u64())? {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `DBSIZE`
pub fn dbsize(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    ctx.reply.integer(ctx.ks.db_size(ctx.session.db) as i64);
    Ok(())
}

fn flush_mode(args: &mut Args<'_>) -> CommandResult {
    if super::flush_mode_ok(args) {
        Ok(())
    } else {
        Err(CommandError::Syntax)
    }
}

/// FLUSHDB, FLUSHALL and SWAPDB modify every WATCHed key of the databases that exists in one
/// of them (Redis's `touchAllWatchedKeysInDb`).
fn touch_watched(ctx: &mut Ctx<'_, '_, '_>, dbs: &[usize]) -> CommandResult {
    let phys: Vec<u8> = dbs.iter().map(|&d| ctx.ks.physical_db(d)).collect();
    let candidates: Vec<(u8, Vec<u8>)> = ctx
        .state
        .watchers
        .keys()
        .filter(|(p, _)| phys.contains(p))
        .cloned()
        .collect();
    for (p, key) in candidates {
        let mut exists = false;
        for &db in dbs {
            exists |= ctx.ks.exists(db, &key)?;
        }
        if exists {
            if let Some(ids) = ctx.state.watchers.get(&(p, key)) {
                let ids = ids.clone();
                ctx.state.dirty_cas.extend(ids);
            }
        }
    }
    Ok(())
}

/// `FLUSHDB [ASYNC|SYNC]`
pub fn flushdb(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    flush_mode(args)?;
    touch_watched(ctx, &[ctx.session.db])?;
    ctx.ks.flush_db(ctx.session.db)?;
    ctx.reply.ok();
    Ok(())
}

/// `FLUSHALL [ASYNC|SYNC]`
pub fn flushall(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    flush_mode(args)?;
    let all: Vec<usize> = (0..crate::keyspace::DATABASES).collect();
    touch_watched(ctx, &all)?;
    for db in 0..crate::keyspace::DATABASES {
        ctx.ks.flush_db(db)?;
    }
    ctx.reply.ok();
    Ok(())
}

/// `SELECT index`
pub fn select(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let db = parse_db(args.next_bytes()?)?;
    ctx.session.db = db;
    ctx.reply.ok();
    Ok(())
}

/// `SWAPDB index1 index2`: both indexes are read as integers before either is range-checked.
pub fn swapdb(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let first = args.next_bytes()?;
    let second = args.next_bytes()?;
    let a = parse_int(first).map_err(|_| CommandError::InvalidDbIndex("first"))?;
    let b = parse_int(second).map_err(|_| CommandError::InvalidDbIndex("second"))?;
    let (a, b) = (db_in_range(a)?, db_in_range(b)?);
    touch_watched(ctx, &[a, b])?;
    ctx.ks.swap_db(a, b);
    ctx.reply.ok();
    Ok(())
}

/// `MOVE key db`
pub fn move_(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let dst = parse_db(args.next_bytes()?)?;
    let src = ctx.session.db;
    if src == dst {
        return Err(CommandError::SameObject);
    }
    let Some(entry) = ctx.ks.get(src, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    if ctx.ks.exists(dst, key)? {
        ctx.reply.integer(0);
        return Ok(());
    }
    ctx.ks.copy_key(&entry, src, key, dst, key)?;
    ctx.ks.delete(src, key)?;
    ctx.reply.integer(1);
    Ok(())
}

/// `COPY source destination [DB destination-db] [REPLACE]`
pub fn copy(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let mut replace = false;
    let mut dst_db = ctx.session.db;
    while let Some(opt) = args.try_next() {
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && args.remaining() > 0 {
            dst_db = parse_db(args.next_bytes()?)?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let db = ctx.session.db;
    if db == dst_db && src == dst {
        return Err(CommandError::SameObject);
    }
    let Some(entry) = ctx.ks.get(db, src)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    if ctx.ks.exists(dst_db, dst)? {
        if !replace {
            ctx.reply.integer(0);
            return Ok(());
        }
        ctx.ks.delete(dst_db, dst)?;
    }
    ctx.ks.copy_key(&entry, db, src, dst_db, dst)?;
    ctx.reply.integer(1);
    Ok(())
}

/// `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key` and `OBJECT HELP`: in Redis 7 each is a
/// subcommand with its own arity.
pub fn object(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    let lower = sub.to_ascii_lowercase();
    let name = match lower.as_slice() {
        b"help" => "object|help",
        b"encoding" => "object|encoding",
        b"freq" => "object|freq",
        b"idletime" => "object|idletime",
        b"refcount" => "object|refcount",
        _ => return Err(CommandError::unknown_subcommand(b"OBJECT", sub)),
    };
    if name == "object|help" {
        if args.remaining() != 0 {
            return Err(CommandError::WrongArity(name));
        }
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ];
        super::reply_help(ctx.reply, &lines);
        return Ok(());
    }
    if args.remaining() != 1 {
        return Err(CommandError::WrongArity(name));
    }
    let key = args.next_bytes()?;
    let Some(entry) = ctx.ks.get(ctx.session.db, key)? else {
        ctx.reply.null();
        return Ok(());
    };
    match name {
        // DiskDB tracks no access frequency: Redis's answer under its default policy.
        "object|freq" => return Err(CommandError::NoLfu),
        // Access times are not kept on disk (a write per read); every key reads as just used.
        "object|idletime" => ctx.reply.integer(0),
        "object|refcount" => ctx.reply.integer(refcount_of(&entry)),
        _ => ctx.reply.bulk(encoding_of(&entry).as_bytes()),
    }
    Ok(())
}

/// Redis shares the integers 0..9999 between keys and reports `INT_MAX` references for them.
fn refcount_of(entry: &Entry) -> i64 {
    match crate::protocol::string2ll(&entry.body) {
        Some(n)
            if entry.kind == Kind::String
                && !entry.raw
                && !entry.plain
                && (0..10_000).contains(&n) =>
        {
            i64::from(i32::MAX)
        }
        _ => 1,
    }
}

fn encoding_of(entry: &Entry) -> &'static str {
    match entry.kind {
        Kind::String if entry.raw => "raw",
        Kind::String => {
            let v = &entry.body;
            if !entry.plain && v.len() <= 20 && crate::protocol::string2ll(v).is_some() {
                "int"
            } else if v.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Kind::List => "quicklist",
        Kind::Hash => "hashtable",
        // The record remembers whether Redis would still use the compact encoding.
        Kind::Set if crate::keyspace::compact_of(entry) => "intset",
        Kind::Set => "hashtable",
        Kind::ZSet if crate::keyspace::compact_of(entry) => "listpack",
        Kind::ZSet => "skiplist",
    }
}
