//! Hash commands (Redis's `t_hash.c`). Fields live in the `HashFields` element table in hash
//! order (see `keyspace/members.rs`); the key's record holds the field count.

use super::{
    count_of, lookup_kind, parse_cursor, parse_i64, reply_scan, scan_options, store_count, Args,
    CommandSpec, Ctx,
};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::keyspace::{Kind, Members};
use crate::long_double::LongDouble;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("hdel", -3, Write, true, (1, 1, 1), hdel),
    command!("hexists", 3, Read, true, (1, 1, 1), hexists),
    command!("hget", 3, Read, true, (1, 1, 1), hget),
    command!("hgetall", 2, Read, false, (1, 1, 1), hgetall),
    command!("hincrby", 4, Write, true, (1, 1, 1), hincrby; DENYOOM),
    command!("hincrbyfloat", 4, Write, true, (1, 1, 1), hincrbyfloat; DENYOOM),
    command!("hkeys", 2, Read, false, (1, 1, 1), hkeys),
    command!("hlen", 2, Read, true, (1, 1, 1), hlen),
    command!("hmget", -3, Read, true, (1, 1, 1), hmget),
    command!("hmset", -4, Write, true, (1, 1, 1), hmset; DENYOOM),
    command!("hrandfield", -2, Read, false, (1, 1, 1), hrandfield),
    command!("hscan", -3, Read, false, (1, 1, 1), hscan),
    command!("hset", -4, Write, true, (1, 1, 1), hset; DENYOOM),
    command!("hsetnx", 4, Write, true, (1, 1, 1), hsetnx; DENYOOM),
    command!("hstrlen", 3, Read, true, (1, 1, 1), hstrlen),
    command!("hvals", 2, Read, false, (1, 1, 1), hvals),
];

const T: Members = Members::Hash;

fn field_value(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    field: &[u8],
) -> Result<Option<Vec<u8>>, CommandError> {
    Ok(ctx.ks.member_get(T, ctx.session.db, key, field)?)
}

fn set_fields(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> Result<i64, CommandError> {
    let key = args.next_bytes()?;
    if !args.remaining().is_multiple_of(2) {
        return Err(CommandError::WrongArity(args.name()));
    }
    let old = lookup_kind(ctx, key, Kind::Hash)?;
    let mut count = old.as_ref().map_or(0, count_of);
    let mut added = 0;
    while let Some(field) = args.try_next() {
        let value = args.next_bytes()?;
        let db = ctx.session.db;
        if ctx
            .ks
            .member_upsert(T, db, key, field, value, count)?
            .is_none()
        {
            added += 1;
            count += 1;
        }
    }
    store_count(ctx, key, Kind::Hash, old.as_ref(), count)?;
    Ok(added)
}

/// `HSET key field value [field value ...]`
pub fn hset(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let added = set_fields(ctx, args)?;
    ctx.reply.integer(added);
    Ok(())
}

/// `HMSET key field value [field value ...]`
pub fn hmset(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    set_fields(ctx, args)?;
    ctx.reply.ok();
    Ok(())
}

/// `HSETNX key field value`
pub fn hsetnx(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let value = args.next_bytes()?;
    let old = lookup_kind(ctx, key, Kind::Hash)?;
    if old.is_some() && field_value(ctx, key, field)?.is_some() {
        ctx.reply.integer(0);
        return Ok(());
    }
    let db = ctx.session.db;
    ctx.ks.member_put(T, db, key, field, value)?;
    let count = old.as_ref().map_or(0, count_of) + 1;
    store_count(ctx, key, Kind::Hash, old.as_ref(), count)?;
    ctx.reply.integer(1);
    Ok(())
}

/// `HGET key field`
pub fn hget(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let value = match lookup_kind(ctx, key, Kind::Hash)? {
        Some(_) => field_value(ctx, key, field)?,
        None => None,
    };
    match value {
        Some(v) => ctx.reply.bulk(&v),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `HMGET key field [field ...]`
pub fn hmget(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let exists = lookup_kind(ctx, key, Kind::Hash)?.is_some();
    let mut values = Vec::with_capacity(args.remaining());
    while let Some(field) = args.try_next() {
        values.push(if exists {
            field_value(ctx, key, field)?
        } else {
            None
        });
    }
    ctx.reply.array(values.len());
    for v in values {
        match v {
            Some(v) => ctx.reply.bulk(&v),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

/// `HDEL key field [field ...]`
pub fn hdel(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let Some(old) = lookup_kind(ctx, key, Kind::Hash)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let mut removed = 0u64;
    while let Some(field) = args.try_next() {
        let db = ctx.session.db;
        if ctx.ks.member_remove(T, db, key, field)?.is_some() {
            removed += 1;
        }
    }
    let count = count_of(&old).saturating_sub(removed);
    store_count(ctx, key, Kind::Hash, Some(&old), count)?;
    ctx.reply.integer(removed as i64);
    Ok(())
}

/// `HLEN key`
pub fn hlen(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let n = lookup_kind(ctx, key, Kind::Hash)?
        .as_ref()
        .map_or(0, count_of);
    ctx.reply.integer(n as i64);
    Ok(())
}

/// `HSTRLEN key field`
pub fn hstrlen(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let len = match lookup_kind(ctx, key, Kind::Hash)? {
        Some(_) => field_value(ctx, key, field)?.map_or(0, |v| v.len()),
        None => 0,
    };
    ctx.reply.integer(len as i64);
    Ok(())
}

/// `HEXISTS key field`
pub fn hexists(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let found = match lookup_kind(ctx, key, Kind::Hash)? {
        Some(_) => field_value(ctx, key, field)?.is_some(),
        None => false,
    };
    ctx.reply.integer(i64::from(found));
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keys,
    Values,
    Both,
}

fn all_fields(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, part: Part) -> CommandResult {
    let key = args.next_bytes()?;
    let rows = match lookup_kind(ctx, key, Kind::Hash)? {
        Some(_) => ctx.ks.members(T, ctx.session.db, key)?,
        None => Vec::new(),
    };
    match part {
        Part::Both => ctx.reply.map(rows.len()),
        _ => ctx.reply.array(rows.len()),
    }
    for (field, value) in &rows {
        if part != Part::Values {
            ctx.reply.bulk(field);
        }
        if part != Part::Keys {
            ctx.reply.bulk(value);
        }
    }
    Ok(())
}

/// `HKEYS key`
pub fn hkeys(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    all_fields(ctx, args, Part::Keys)
}

/// `HVALS key`
pub fn hvals(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    all_fields(ctx, args, Part::Values)
}

/// `HGETALL key`
pub fn hgetall(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    all_fields(ctx, args, Part::Both)
}

/// `HINCRBY key field increment`
pub fn hincrby(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let delta = parse_i64(args.next_bytes()?)?;
    let old = lookup_kind(ctx, key, Kind::Hash)?;
    let current = match &old {
        Some(_) => field_value(ctx, key, field)?,
        None => None,
    };
    let base = match &current {
        Some(v) => crate::protocol::string2ll(v)
            .ok_or(CommandError::Static("ERR hash value is not an integer"))?,
        None => 0,
    };
    let value = base.checked_add(delta).ok_or(CommandError::Static(
        "ERR increment or decrement would overflow",
    ))?;
    let db = ctx.session.db;
    let text = itoa::Buffer::new().format(value).as_bytes().to_vec();
    ctx.ks.member_put(T, db, key, field, &text)?;
    if current.is_none() {
        let count = old.as_ref().map_or(0, count_of) + 1;
        store_count(ctx, key, Kind::Hash, old.as_ref(), count)?;
    }
    ctx.reply.integer(value);
    Ok(())
}

/// `HINCRBYFLOAT key field increment`: in x87 `long double` like INCRBYFLOAT (see
/// [`LongDouble`]). Redis reads the increment before it looks at the key, so a bad increment
/// wins over WRONGTYPE.
pub fn hincrbyfloat(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let incr = LongDouble::parse(args.next_bytes()?).ok_or(CommandError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CommandError::Static("ERR value is NaN or Infinity"));
    }
    let old = lookup_kind(ctx, key, Kind::Hash)?;
    let current = match &old {
        Some(_) => field_value(ctx, key, field)?,
        None => None,
    };
    let base = match &current {
        Some(v) => {
            LongDouble::parse(v).ok_or(CommandError::Static("ERR hash value is not a float"))?
        }
        None => LongDouble::ZERO,
    };
    let value = base + incr;
    if !value.is_finite() {
        return Err(CommandError::Static(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = value.to_human();
    let db = ctx.session.db;
    ctx.ks.member_put(T, db, key, field, text.as_bytes())?;
    if current.is_none() {
        let count = old.as_ref().map_or(0, count_of) + 1;
        store_count(ctx, key, Kind::Hash, old.as_ref(), count)?;
    }
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}

/// The most fields HRANDFIELD returns for a negative count (which may repeat fields).
const MAX_RANDOM_PICKS: u64 = 1 << 24;

/// `HRANDFIELD key [count [WITHVALUES]]`
pub fn hrandfield(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    // Redis checks the count, then the syntax, then the count's range with WITHVALUES.
    let count = match args.try_next() {
        None => None,
        Some(arg) => Some(super::parse_random_count(arg)?),
    };
    let with_values = match args.try_next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case(b"withvalues") && args.remaining() == 0 => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    // Twice the count must fit in a long (Redis replies with field and value for each).
    if with_values && count.is_some_and(|n| n.unsigned_abs() > (i64::MAX / 2) as u64) {
        return Err(CommandError::Static("ERR value is out of range"));
    }
    // Deliberately unlike Redis, which starts building a reply of that many fields and never
    // answers (it runs out of memory): a negative count past MAX_RANDOM_PICKS is refused.
    if count.is_some_and(|n| n < 0 && n.unsigned_abs() > MAX_RANDOM_PICKS) {
        return Err(CommandError::Static("ERR value is out of range"));
    }
    let Some(entry) = lookup_kind(ctx, key, Kind::Hash)? else {
        match count {
            None => ctx.reply.null(),
            Some(_) => ctx.reply.array(0),
        }
        return Ok(());
    };
    let rows = ctx.ks.members(T, ctx.session.db, key)?;
    let total = rows.len().max(count_of(&entry) as usize).min(rows.len());
    let pick = |rng: u64| rng as usize % total.max(1);
    match count {
        None => {
            let (field, _) = &rows[pick(crate::random::random_u64())];
            ctx.reply.bulk(field);
        }
        Some(n) => {
            let chosen: Vec<usize> = if n >= 0 {
                // Distinct fields: a random rotation of the whole list, cut to n.
                let start = pick(crate::random::random_u64());
                (0..total.min(n as usize))
                    .map(|i| (start + i) % total)
                    .collect()
            } else {
                (0..n.unsigned_abs() as usize)
                    .map(|_| pick(crate::random::random_u64()))
                    .collect()
            };
            if with_values && ctx.reply.protocol() == crate::protocol::reply::Protocol::Resp3 {
                ctx.reply.array(chosen.len());
                for i in chosen {
                    ctx.reply.array(2);
                    ctx.reply.bulk(&rows[i].0);
                    ctx.reply.bulk(&rows[i].1);
                }
            } else {
                ctx.reply
                    .array(chosen.len() * if with_values { 2 } else { 1 });
                for i in chosen {
                    ctx.reply.bulk(&rows[i].0);
                    if with_values {
                        ctx.reply.bulk(&rows[i].1);
                    }
                }
            }
        }
    }
    Ok(())
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
pub fn hscan(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(args.next_bytes()?)?;
    // As in Redis, the key is looked up before the options are read: a missing key gives an
    // empty reply and another type WRONGTYPE, whatever follows.
    let Some(entry) = lookup_kind(ctx, key, Kind::Hash)? else {
        reply_scan(ctx.reply, 0, &[]);
        return Ok(());
    };
    let (pattern, count) = scan_options(args)?;
    let (rows, next) =
        ctx.ks
            .members_scan(T, ctx.session.db, key, count_of(&entry), cursor, count)?;
    let mut items: Vec<&[u8]> = Vec::new();
    for (field, value) in &rows {
        if pattern.is_none_or(|p| glob::matches(p, field)) {
            items.push(field);
            items.push(value);
        }
    }
    reply_scan(ctx.reply, next, &items);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::last;

    #[test]
    fn a_value_of_another_type_takes_the_fields_with_it() {
        let cmds: [&[&str]; 5] = [
            &["HSET", "h", "f", "1"],
            &["SET", "h", "s"],
            &["DEL", "h"],
            &["HSET", "h", "g", "2"],
            &["HGETALL", "h"],
        ];
        assert_eq!(last(&cmds), "*2\r\n$1\r\ng\r\n$1\r\n2\r\n");
        let cmds: [&[&str]; 3] = [
            &["HSET", "h", "f", "1"],
            &["MSET", "h", "s"],
            &["LCS", "h", "h"],
        ];
        assert_eq!(last(&cmds), "$1\r\ns\r\n");
    }

    #[test]
    fn hincrbyfloat() {
        let cmds: [&[&str]; 3] = [
            &["HSET", "h", "f", "0.1"],
            &["HINCRBYFLOAT", "h", "f", "0.2"],
            &["HGET", "h", "f"],
        ];
        assert_eq!(last(&cmds), "$3\r\n0.3\r\n");
        // The increment is read before the key's type is checked.
        let cmds: [&[&str]; 2] = [&["SET", "s", "1"], &["HINCRBYFLOAT", "s", "f", "x"]];
        assert_eq!(last(&cmds), "-ERR value is not a valid float\r\n");
        let cmds: [&[&str]; 1] = [&["HINCRBYFLOAT", "h", "f", "inf"]];
        assert_eq!(last(&cmds), "-ERR value is NaN or Infinity\r\n");
        let cmds: [&[&str]; 2] = [&["HSET", "h", "f", "x"], &["HINCRBYFLOAT", "h", "f", "1"]];
        assert_eq!(last(&cmds), "-ERR hash value is not a float\r\n");
    }

    #[test]
    fn hrandfield_checks_the_count_before_the_syntax() {
        let cmds: [&[&str]; 1] = [&["HRANDFIELD", "h", "x", "y"]];
        assert_eq!(
            last(&cmds),
            "-ERR value is not an integer or out of range\r\n"
        );
        let cmds: [&[&str]; 1] = [&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]];
        assert_eq!(last(&cmds), "-ERR value is out of range\r\n");
        // Redis never answers this one; DiskDB refuses it.
        let cmds: [&[&str]; 2] = [
            &["HSET", "h", "f", "1"],
            &["HRANDFIELD", "h", "-4611686018427387903"],
        ];
        assert_eq!(last(&cmds), "-ERR value is out of range\r\n");
    }
}
