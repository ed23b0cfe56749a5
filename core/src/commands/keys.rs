//! Generic key commands (Redis's `db.c`): DEL, EXISTS, TYPE, RENAME, KEYS, SCAN, SELECT, ...

use std::sync::atomic::{AtomicU64, Ordering};

use super::{parse_db, parse_i64, Args, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::keyspace::{Entry, Kind};

/// `DEL key [key ...]` and `UNLINK key [key ...]`
pub fn del(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let mut removed = 0;
    while let Some(key) = args.try_next() {
        removed += i64::from(ctx.ks.delete(ctx.session.db, key)?);
    }
    ctx.reply.integer(removed);
    Ok(())
}

/// `EXISTS key [key ...]` and `TOUCH key [key ...]`: a key named twice counts twice.
pub fn exists(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let mut found = 0;
    while let Some(key) = args.try_next() {
        found += i64::from(ctx.ks.exists(ctx.session.db, key)?);
    }
    ctx.reply.integer(found);
    Ok(())
}

/// `TYPE key`
pub fn type_(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let name = match ctx.ks.get(ctx.session.db, key)? {
        Some(entry) => entry.kind.name(),
        None => "none",
    };
    ctx.reply.simple(name);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, nx: bool) -> CommandResult {
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
    ctx.ks
        .put(db, dst, entry.kind, entry.expire_at, &entry.body)?;
    ctx.ks.delete(db, src)?;
    if nx {
        ctx.reply.integer(1);
    } else {
        ctx.reply.ok();
    }
    Ok(())
}

/// `RENAME key newkey`
pub fn rename(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    rename_generic(ctx, args, false)
}

/// `RENAMENX key newkey`
pub fn renamenx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    rename_generic(ctx, args, true)
}

/// `KEYS pattern`
pub fn keys(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
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
pub fn scan(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
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

/// Redis's cursor parsing: an unsigned decimal (`strtoull`), else "invalid cursor".
fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or(CommandError::InvalidCursor)
}

static RANDOM: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

/// A fast non-cryptographic random number (splitmix64), for RANDOMKEY and friends.
pub(crate) fn random_u64() -> u64 {
    let mut z = RANDOM.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `RANDOMKEY`
pub fn randomkey(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>) -> CommandResult {
    match ctx.ks.key_at_or_after(ctx.session.db, random_u64())? {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `DBSIZE`
pub fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>) -> CommandResult {
    ctx.reply.integer(ctx.ks.db_size(ctx.session.db) as i64);
    Ok(())
}

fn flush_mode(args: &mut Args<'_>) -> CommandResult {
    match args.try_next() {
        None => Ok(()),
        Some(m) if m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async") => {
            args.finish().map_err(|_| CommandError::Syntax)
        }
        Some(_) => Err(CommandError::Syntax),
    }
}

/// `FLUSHDB [ASYNC|SYNC]`
pub fn flushdb(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    flush_mode(args)?;
    ctx.ks.flush_db(ctx.session.db)?;
    ctx.reply.ok();
    Ok(())
}

/// `FLUSHALL [ASYNC|SYNC]`
pub fn flushall(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    flush_mode(args)?;
    for db in 0..crate::keyspace::DATABASES {
        ctx.ks.flush_db(db)?;
    }
    ctx.reply.ok();
    Ok(())
}

/// `SELECT index`
pub fn select(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let db = parse_db(args.next_bytes()?, CommandError::NotInteger)?;
    ctx.session.db = db;
    ctx.reply.ok();
    Ok(())
}

/// `SWAPDB index1 index2`
pub fn swapdb(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let a = parse_db(args.next_bytes()?, CommandError::InvalidDbIndex("first"))?;
    let b = parse_db(args.next_bytes()?, CommandError::InvalidDbIndex("second"))?;
    ctx.ks.swap_db(a, b);
    ctx.reply.ok();
    Ok(())
}

/// `MOVE key db`
pub fn move_(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let dst = parse_db(args.next_bytes()?, CommandError::NotInteger)?;
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
    ctx.ks
        .put(dst, key, entry.kind, entry.expire_at, &entry.body)?;
    ctx.ks.delete(src, key)?;
    ctx.reply.integer(1);
    Ok(())
}

/// `COPY source destination [DB destination-db] [REPLACE]`
pub fn copy(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let mut replace = false;
    let mut dst_db = ctx.session.db;
    while let Some(opt) = args.try_next() {
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && args.remaining() > 0 {
            let n = parse_i64(args.next_bytes()?)?;
            dst_db = usize::try_from(n)
                .ok()
                .filter(|&d| d < crate::keyspace::DATABASES)
                .ok_or(CommandError::DbIndexOutOfRange)?;
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
    ctx.ks
        .put(dst_db, dst, entry.kind, entry.expire_at, &entry.body)?;
    ctx.reply.integer(1);
    Ok(())
}

/// `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP key`
pub fn object(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    if sub.eq_ignore_ascii_case(b"help") && args.remaining() == 0 {
        let lines = [
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the <key>.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Print this help.",
        ];
        ctx.reply.array(lines.len());
        for line in lines {
            ctx.reply.simple(line);
        }
        return Ok(());
    }
    let known = [&b"encoding"[..], b"freq", b"idletime", b"refcount"];
    if args.remaining() != 1 || !known.iter().any(|k| sub.eq_ignore_ascii_case(k)) {
        return Err(CommandError::UnknownSubcommand {
            sub: sub.to_vec(),
            command: "OBJECT",
        });
    }
    let key = args.next_bytes()?;
    let Some(entry) = ctx.ks.get(ctx.session.db, key)? else {
        ctx.reply.null();
        return Ok(());
    };
    if sub.eq_ignore_ascii_case(b"freq") {
        // DiskDB tracks no access frequency: Redis's answer under its default policy.
        return Err(CommandError::NoLfu);
    }
    if sub.eq_ignore_ascii_case(b"idletime") {
        // Access times are not tracked on disk; every key reads as just used.
        ctx.reply.integer(0);
    } else if sub.eq_ignore_ascii_case(b"refcount") {
        ctx.reply.integer(1);
    } else {
        ctx.reply.bulk(encoding_of(&entry).as_bytes());
    }
    Ok(())
}

fn encoding_of(entry: &Entry) -> &'static str {
    match entry.kind {
        Kind::String => {
            let v = &entry.body;
            if v.len() <= 20 && crate::protocol::string2ll(v).is_some() {
                "int"
            } else if v.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        Kind::List => "quicklist",
        Kind::Hash => "hashtable",
        Kind::Set => "hashtable",
        Kind::ZSet => "skiplist",
    }
}
