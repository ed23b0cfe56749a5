//! Set commands (Redis's `t_set.c`). Members live in the `SetMembers` element table in hash order
//! (see `keyspace/members.rs`); the key's record holds the member count and whether Redis would still hold
//! the set as an intset, which OBJECT ENCODING reports.

use std::collections::{BTreeSet, HashSet};

use super::{
    count_of, lookup_kind, parse_cursor, parse_i64, reply_scan, scan_options, store_record, Args,
    CommandSpec, Ctx,
};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::keyspace::{compact_of, Entry, Kind, Members};
use crate::random::random_u64;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("sadd", -3, Write, true, (1, 1, 1), sadd; DENYOOM),
    command!("scard", 2, Read, true, (1, 1, 1), scard),
    command!("sdiff", -2, Read, false, (1, -1, 1), sdiff),
    command!("sdiffstore", -3, Write, false, (1, -1, 1), sdiffstore; DENYOOM),
    command!("sinter", -2, Read, false, (1, -1, 1), sinter),
    command!("sintercard", -3, Read, false, (0, 0, 0), sintercard; MOVABLE_KEYS),
    command!("sinterstore", -3, Write, false, (1, -1, 1), sinterstore; DENYOOM),
    command!("sismember", 3, Read, true, (1, 1, 1), sismember),
    command!("smembers", 2, Read, false, (1, 1, 1), smembers),
    command!("smismember", -3, Read, true, (1, 1, 1), smismember),
    command!("smove", 4, Write, true, (1, 2, 1), smove),
    command!("spop", -2, Write, true, (1, 1, 1), spop),
    command!("srandmember", -2, Read, false, (1, 1, 1), srandmember),
    command!("srem", -3, Write, true, (1, 1, 1), srem),
    command!("sscan", -3, Read, false, (1, 1, 1), sscan),
    command!("sunion", -2, Read, false, (1, -1, 1), sunion),
    command!("sunionstore", -3, Write, false, (1, -1, 1), sunionstore; DENYOOM),
];

const T: Members = Members::Set;

/// Redis's `set-max-intset-entries`: past it an intset becomes a hash table.
const MAX_INTSET: u64 = 512;

/// Whether Redis can hold `member` in an intset (`isSdsRepresentableAsLongLong`).
fn is_int(member: &[u8]) -> bool {
    crate::protocol::string2ll(member).is_some()
}

fn is_member(ctx: &mut Ctx<'_, '_, '_>, key: &[u8], member: &[u8]) -> Result<bool, CommandError> {
    Ok(ctx.ks.member_get(T, ctx.session.db, key, member)?.is_some())
}

/// Every member of the set at `key`, as raw bytes, in hash order.
fn members(ctx: &mut Ctx<'_, '_, '_>, key: &[u8]) -> Result<Vec<Vec<u8>>, CommandError> {
    let rows = ctx.ks.members(T, ctx.session.db, key)?;
    Ok(rows.into_iter().map(|(member, _)| member).collect())
}

/// A random member: the first one at or after a random point of the hash order, wrapping
/// around (like RANDOMKEY).
fn random_member(ctx: &mut Ctx<'_, '_, '_>, key: &[u8]) -> Result<Option<Vec<u8>>, CommandError> {
    let picked = ctx
        .ks
        .member_at_or_after(T, ctx.session.db, key, random_u64())?;
    Ok(picked.map(|(member, _)| member))
}

/// Moves `k` randomly chosen items of `items` to its front (a partial Fisher-Yates shuffle).
fn shuffle_front<T>(items: &mut [T], k: usize) {
    let n = items.len();
    for i in 0..k.min(n) {
        let j = i + (random_u64() % (n - i) as u64) as usize;
        items.swap(i, j);
    }
}

/// Adds `members` to the set at `key` (whose record is `old`), converting the encoding as
/// Redis's `setTypeAdd` does. Returns how many were new.
fn add_members(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    old: Option<&Entry>,
    members: &[&[u8]],
) -> Result<u64, CommandError> {
    let (mut count, mut compact) = match old {
        Some(e) => (count_of(e), compact_of(e)),
        // `setTypeCreate`: an intset if the first member is an integer.
        None => (0, members.first().is_some_and(|m| is_int(m))),
    };
    let db = ctx.session.db;
    let mut added = 0;
    for member in members {
        if ctx
            .ks
            .member_upsert(T, db, key, member, b"", count)?
            .is_none()
        {
            added += 1;
            count += 1;
            compact &= is_int(member) && count <= MAX_INTSET;
        }
    }
    if added > 0 {
        store_record(ctx, key, Kind::Set, old, count, compact)?;
    }
    Ok(added)
}

/// Replaces `dst` with a new set of `members` (SINTERSTORE and friends): the result has no
/// deadline, and is an intset when it could be one; an empty result removes `dst`.
fn store_set(ctx: &mut Ctx<'_, '_, '_>, dst: &[u8], members: &[Vec<u8>]) -> CommandResult {
    let db = ctx.session.db;
    ctx.ks.delete(db, dst)?;
    for member in members {
        ctx.ks.member_put(T, db, dst, member, b"")?;
    }
    let count = members.len() as u64;
    let compact = count <= MAX_INTSET && members.iter().all(|m| is_int(m));
    store_record(ctx, dst, Kind::Set, None, count, compact)?;
    ctx.reply.integer(count as i64);
    Ok(())
}

fn reply_members(ctx: &mut Ctx<'_, '_, '_>, members: &[Vec<u8>]) {
    ctx.reply.set(members.len());
    for m in members {
        ctx.reply.bulk(m);
    }
}

/// `SADD key member [member ...]`
pub fn sadd(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let new = super::rest(args);
    let old = lookup_kind(ctx, key, Kind::Set)?;
    let added = add_members(ctx, key, old.as_ref(), &new)?;
    ctx.reply.integer(added as i64);
    Ok(())
}

/// `SREM key member [member ...]`
pub fn srem(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let Some(old) = lookup_kind(ctx, key, Kind::Set)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let db = ctx.session.db;
    let mut removed = 0u64;
    while let Some(member) = args.try_next() {
        if ctx.ks.member_remove(T, db, key, member)?.is_some() {
            removed += 1;
        }
    }
    if removed > 0 {
        let count = count_of(&old).saturating_sub(removed);
        store_record(ctx, key, Kind::Set, Some(&old), count, compact_of(&old))?;
    }
    ctx.reply.integer(removed as i64);
    Ok(())
}

/// `SMEMBERS key`
pub fn smembers(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let all = match lookup_kind(ctx, key, Kind::Set)? {
        Some(_) => members(ctx, key)?,
        None => Vec::new(),
    };
    reply_members(ctx, &all);
    Ok(())
}

/// `SISMEMBER key member`
pub fn sismember(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    let found = lookup_kind(ctx, key, Kind::Set)?.is_some() && is_member(ctx, key, member)?;
    ctx.reply.integer(i64::from(found));
    Ok(())
}

/// `SMISMEMBER key member [member ...]`
pub fn smismember(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let exists = lookup_kind(ctx, key, Kind::Set)?.is_some();
    let asked = super::rest(args);
    let mut found = Vec::with_capacity(asked.len());
    for member in asked {
        found.push(exists && is_member(ctx, key, member)?);
    }
    ctx.reply.array(found.len());
    for f in found {
        ctx.reply.integer(i64::from(f));
    }
    Ok(())
}

/// `SCARD key`
pub fn scard(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let n = lookup_kind(ctx, key, Kind::Set)?
        .as_ref()
        .map_or(0, count_of);
    ctx.reply.integer(n as i64);
    Ok(())
}

/// `SPOP key [count]`. Random, so it logs what it removed (`SREM key m1 m2 ...`, or `DEL key`
/// when it emptied the set) rather than itself.
pub fn spop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let count_arg = args.try_next();
    if args.remaining() > 0 {
        return Err(CommandError::Syntax);
    }
    // Nothing is logged unless something is removed.
    ctx.rewrite = Some(Vec::new());
    let Some(n) = count_arg else {
        let Some(old) = lookup_kind(ctx, key, Kind::Set)? else {
            ctx.reply.null();
            return Ok(());
        };
        let member = random_member(ctx, key)?
            .ok_or_else(|| CommandError::Storage("set record without members".into()))?;
        let db = ctx.session.db;
        ctx.ks.member_remove(T, db, key, &member)?;
        let count = count_of(&old).saturating_sub(1);
        store_record(ctx, key, Kind::Set, Some(&old), count, compact_of(&old))?;
        ctx.reply.bulk(&member);
        ctx.rewrite = Some(vec![b"SREM".to_vec(), key.to_vec(), member]);
        return Ok(());
    };
    // Redis's getPositiveLongFromObjectOrReply: one message for both failures.
    let n = parse_i64(n)
        .ok()
        .filter(|&n| n >= 0)
        .ok_or(CommandError::Static(
            "ERR value is out of range, must be positive",
        ))? as u64;
    let Some(old) = lookup_kind(ctx, key, Kind::Set)? else {
        ctx.reply.set(0);
        return Ok(());
    };
    if n == 0 {
        ctx.reply.set(0);
        return Ok(());
    }
    let size = count_of(&old);
    let db = ctx.session.db;
    if n >= size {
        let all = members(ctx, key)?;
        ctx.ks.delete(db, key)?;
        reply_members(ctx, &all);
        ctx.rewrite = Some(vec![b"DEL".to_vec(), key.to_vec()]);
        return Ok(());
    }
    let mut compact = compact_of(&old);
    let popped = if n * 2 <= size {
        let mut popped = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let Some(member) = random_member(ctx, key)? else {
                break;
            };
            ctx.ks.member_remove(T, db, key, &member)?;
            popped.push(member);
        }
        popped
    } else {
        let mut all = members(ctx, key)?;
        shuffle_front(&mut all, n as usize);
        let kept = all.split_off((n as usize).min(all.len()));
        for member in &all {
            ctx.ks.member_remove(T, db, key, member)?;
        }
        if (size - n) * 5 <= n {
            // Redis builds a new set from the members that stay (SPOP's "case 3"), which is
            // an intset again if they all are integers.
            compact = kept.len() as u64 <= MAX_INTSET && kept.iter().all(|m| is_int(m));
        }
        all
    };
    let count = size - popped.len() as u64;
    store_record(ctx, key, Kind::Set, Some(&old), count, compact)?;
    reply_members(ctx, &popped);
    let mut logged = vec![b"SREM".to_vec(), key.to_vec()];
    logged.extend(popped);
    ctx.rewrite = Some(logged);
    Ok(())
}

/// `SRANDMEMBER key [count]`
pub fn srandmember(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let count_arg = args.try_next();
    if args.remaining() > 0 {
        return Err(CommandError::Syntax);
    }
    let Some(n) = count_arg else {
        let member = match lookup_kind(ctx, key, Kind::Set)? {
            Some(_) => random_member(ctx, key)?,
            None => None,
        };
        match member {
            Some(m) => ctx.reply.bulk(&m),
            None => ctx.reply.null(),
        }
        return Ok(());
    };
    let n = super::parse_random_count(n)?;
    let Some(entry) = lookup_kind(ctx, key, Kind::Set)? else {
        ctx.reply.set(0);
        return Ok(());
    };
    let size = count_of(&entry);
    if n == 0 {
        ctx.reply.set(0);
    } else if n < 0 {
        // Repetitions allowed: an array, not a set.
        let n = n.unsigned_abs();
        ctx.reply.array(n as usize);
        for _ in 0..n {
            match random_member(ctx, key)? {
                Some(m) => ctx.reply.bulk(&m),
                None => ctx.reply.null(),
            }
        }
    } else if n as u64 >= size {
        let all = members(ctx, key)?;
        reply_members(ctx, &all);
    } else if n as u64 * 3 > size {
        let mut all = members(ctx, key)?;
        shuffle_front(&mut all, n as usize);
        all.truncate(n as usize);
        reply_members(ctx, &all);
    } else {
        let mut seen = HashSet::new();
        let mut chosen = Vec::new();
        while (chosen.len() as i64) < n {
            let Some(m) = random_member(ctx, key)? else {
                break;
            };
            if seen.insert(m.clone()) {
                chosen.push(m);
            }
        }
        reply_members(ctx, &chosen);
    }
    Ok(())
}

/// `SMOVE source destination member`
pub fn smove(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let member = args.next_bytes()?;
    let Some(src_entry) = lookup_kind(ctx, src, Kind::Set)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let dst_entry = lookup_kind(ctx, dst, Kind::Set)?;
    if src == dst {
        let found = is_member(ctx, src, member)?;
        ctx.reply.integer(i64::from(found));
        return Ok(());
    }
    let db = ctx.session.db;
    if ctx.ks.member_remove(T, db, src, member)?.is_none() {
        ctx.reply.integer(0);
        return Ok(());
    }
    let count = count_of(&src_entry).saturating_sub(1);
    store_record(
        ctx,
        src,
        Kind::Set,
        Some(&src_entry),
        count,
        compact_of(&src_entry),
    )?;
    add_members(ctx, dst, dst_entry.as_ref(), &[member])?;
    ctx.reply.integer(1);
    Ok(())
}

/// Looks up every key as a set (WRONGTYPE on the first other type; a missing key is `None`).
fn load_sets(
    ctx: &mut Ctx<'_, '_, '_>,
    keys: &[&[u8]],
) -> Result<Vec<Option<Entry>>, CommandError> {
    keys.iter()
        .map(|k| lookup_kind(ctx, k, Kind::Set))
        .collect()
}

/// The intersection of the sets at `keys`, stopping after `limit` members (0 = no limit).
fn intersect(
    ctx: &mut Ctx<'_, '_, '_>,
    keys: &[&[u8]],
    limit: u64,
) -> Result<Vec<Vec<u8>>, CommandError> {
    let entries = load_sets(ctx, keys)?;
    let mut sets = Vec::with_capacity(keys.len());
    for (key, entry) in keys.iter().zip(&entries) {
        match entry {
            Some(e) => sets.push((*key, count_of(e))),
            // Intersecting with an empty set gives the empty set.
            None => return Ok(Vec::new()),
        }
    }
    // Walk the smallest set, probe the others.
    sets.sort_by_key(|&(_, n)| n);
    let Some(&(first, _)) = sets.first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    'members: for member in members(ctx, first)? {
        for &(key, _) in &sets[1..] {
            if key != first && !is_member(ctx, key, &member)? {
                continue 'members;
            }
        }
        out.push(member);
        if limit > 0 && out.len() as u64 >= limit {
            break;
        }
    }
    Ok(out)
}

/// The union of the sets at `keys`.
fn union(ctx: &mut Ctx<'_, '_, '_>, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, CommandError> {
    let entries = load_sets(ctx, keys)?;
    let mut all = BTreeSet::new();
    for (key, entry) in keys.iter().zip(&entries) {
        if entry.is_some() {
            let rows = ctx.ks.members(T, ctx.session.db, key)?;
            all.extend(rows.into_iter().map(|(e, _)| e));
        }
    }
    Ok(all.into_iter().collect())
}

/// The members of the first set that are in none of the others.
fn difference(ctx: &mut Ctx<'_, '_, '_>, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, CommandError> {
    let entries = load_sets(ctx, keys)?;
    let Some((&first, others)) = keys.split_first() else {
        return Ok(Vec::new());
    };
    if entries.first().is_none_or(|e| e.is_none()) {
        return Ok(Vec::new());
    }
    let others: Vec<&[u8]> = others
        .iter()
        .zip(&entries[1..])
        .filter(|(_, e)| e.is_some())
        .map(|(k, _)| *k)
        .collect();
    let mut out = Vec::new();
    'members: for member in members(ctx, first)? {
        for key in &others {
            if *key == first || is_member(ctx, key, &member)? {
                continue 'members;
            }
        }
        out.push(member);
    }
    Ok(out)
}

/// `SINTER key [key ...]`
pub fn sinter(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let keys = super::rest(args);
    let result = intersect(ctx, &keys, 0)?;
    reply_members(ctx, &result);
    Ok(())
}

/// `SINTERSTORE destination key [key ...]`
pub fn sinterstore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let dst = args.next_bytes()?;
    let keys = super::rest(args);
    let result = intersect(ctx, &keys, 0)?;
    store_set(ctx, dst, &result)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn sintercard(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let numkeys_err = CommandError::Static("ERR numkeys should be greater than 0");
    let numkeys = parse_i64(args.next_bytes()?).map_err(|_| numkeys_err.clone())?;
    if numkeys < 1 {
        return Err(numkeys_err);
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(CommandError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let keys: Vec<&[u8]> = (0..numkeys).filter_map(|_| args.try_next()).collect();
    let mut limit = 0;
    while let Some(opt) = args.try_next() {
        if opt.eq_ignore_ascii_case(b"limit") && args.remaining() > 0 {
            let negative = CommandError::Static("ERR LIMIT can't be negative");
            let n = parse_i64(args.next_bytes()?).map_err(|_| negative.clone())?;
            if n < 0 {
                return Err(negative);
            }
            limit = n as u64;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let n = intersect(ctx, &keys, limit)?.len();
    ctx.reply.integer(n as i64);
    Ok(())
}

/// `SUNION key [key ...]`
pub fn sunion(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let keys = super::rest(args);
    let result = union(ctx, &keys)?;
    reply_members(ctx, &result);
    Ok(())
}

/// `SUNIONSTORE destination key [key ...]`
pub fn sunionstore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let dst = args.next_bytes()?;
    let keys = super::rest(args);
    let result = union(ctx, &keys)?;
    store_set(ctx, dst, &result)
}

/// `SDIFF key [key ...]`
pub fn sdiff(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let keys = super::rest(args);
    let result = difference(ctx, &keys)?;
    reply_members(ctx, &result);
    Ok(())
}

/// `SDIFFSTORE destination key [key ...]`
pub fn sdiffstore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let dst = args.next_bytes()?;
    let keys = super::rest(args);
    let result = difference(ctx, &keys)?;
    store_set(ctx, dst, &result)
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: as in Redis, the options are read only
/// once the key is known to exist, and an intset comes back whole.
pub fn sscan(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(args.next_bytes()?)?;
    let Some(entry) = lookup_kind(ctx, key, Kind::Set)? else {
        reply_scan(ctx.reply, 0, &[]);
        return Ok(());
    };
    let (pattern, count) = scan_options(args)?;
    let total = if compact_of(&entry) {
        0
    } else {
        count_of(&entry)
    };
    let (rows, next) = ctx
        .ks
        .members_scan(T, ctx.session.db, key, total, cursor, count)?;
    let items: Vec<&[u8]> = rows
        .iter()
        .map(|(member, _)| member.as_slice())
        .filter(|m| pattern.is_none_or(|p| glob::matches(p, m)))
        .collect();
    reply_scan(ctx.reply, next, &items);
    Ok(())
}
