//! String commands (Redis's `t_string.c`).

use super::{parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::keyspace::Kind;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("append", 3, Write, true, (1, 1, 1), append),
    command!("decr", 2, Write, true, (1, 1, 1), decr),
    command!("decrby", 3, Write, true, (1, 1, 1), decrby),
    command!("get", 2, Read, true, (1, 1, 1), get),
    command!("incr", 2, Write, true, (1, 1, 1), incr),
    command!("incrby", 3, Write, true, (1, 1, 1), incrby),
    command!("mget", -2, Read, true, (1, -1, 1), mget),
    command!("mset", -3, Write, false, (1, -1, 2), mset),
    command!("set", -3, Write, false, (1, 1, 1), set),
    command!("strlen", 2, Read, true, (1, 1, 1), strlen),
];

/// The string at `key`, or WRONGTYPE if the key holds another type.
fn get_string(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<Vec<u8>>, CommandError> {
    match ctx.ks.get(ctx.session.db, key)? {
        None => Ok(None),
        Some(entry) if entry.kind == Kind::String => Ok(Some(entry.body)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// `GET key`
pub fn get(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    match get_string(ctx, key)? {
        Some(value) => ctx.reply.bulk(&value),
        None => ctx.reply.null(),
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireArg {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]`
pub fn set(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut expire: Option<(ExpireArg, &[u8])> = None;
    while let Some(opt) = args.try_next() {
        let lower = opt.to_ascii_lowercase();
        let unit = match lower.as_slice() {
            b"ex" => Some(ExpireArg::Ex),
            b"px" => Some(ExpireArg::Px),
            b"exat" => Some(ExpireArg::ExAt),
            b"pxat" => Some(ExpireArg::PxAt),
            _ => None,
        };
        match (lower.as_slice(), unit) {
            (b"nx", _) if !xx => nx = true,
            (b"xx", _) if !nx => xx = true,
            (b"get", _) => get = true,
            (b"keepttl", _) if expire.is_none() => keepttl = true,
            (_, Some(unit))
                if !keepttl && expire.is_none_or(|(u, _)| u == unit) && args.remaining() > 0 =>
            {
                expire = Some((unit, args.next_bytes()?));
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let now = ctx.ks.now_ms();
    let expire_at = match expire {
        None => None,
        Some((unit, arg)) => {
            let invalid = || CommandError::InvalidExpireTime("set");
            let n = parse_i64(arg)?;
            if n <= 0 {
                return Err(invalid());
            }
            let ms = match unit {
                ExpireArg::Ex | ExpireArg::ExAt => n.checked_mul(1000).ok_or_else(invalid)?,
                ExpireArg::Px | ExpireArg::PxAt => n,
            };
            let at = match unit {
                ExpireArg::Ex | ExpireArg::Px => ms.checked_add(now).ok_or_else(invalid)?,
                ExpireArg::ExAt | ExpireArg::PxAt => ms,
            };
            Some(at)
        }
    };
    let db = ctx.session.db;
    let old = ctx.ks.get(db, key)?;
    if get {
        match &old {
            Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
            Some(entry) => ctx.reply.bulk(&entry.body),
            None => ctx.reply.null(),
        }
    }
    if (nx && old.is_some()) || (xx && old.is_none()) {
        if !get {
            ctx.reply.null();
        }
        return Ok(());
    }
    let expire_at = if keepttl {
        old.as_ref().and_then(|e| e.expire_at)
    } else {
        expire_at
    };
    ctx.ks.put(db, key, Kind::String, expire_at, value)?;
    if !get {
        ctx.reply.ok();
    }
    Ok(())
}

/// `MGET key [key ...]`: a missing key or one of another type reads as nil.
pub fn mget(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    ctx.reply.array(args.remaining());
    while let Some(key) = args.try_next() {
        match ctx.ks.get(ctx.session.db, key)? {
            Some(entry) if entry.kind == Kind::String => ctx.reply.bulk(&entry.body),
            _ => ctx.reply.null(),
        }
    }
    Ok(())
}

/// `MSET key value [key value ...]`: all pairs in one step (one log record).
pub fn mset(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    if !args.remaining().is_multiple_of(2) {
        return Err(CommandError::WrongArity(args.name()));
    }
    while let Some(key) = args.try_next() {
        let value = args.next_bytes()?;
        ctx.ks.put(ctx.session.db, key, Kind::String, None, value)?;
    }
    ctx.reply.ok();
    Ok(())
}

fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64) -> CommandResult {
    let db = ctx.session.db;
    let (current, expire_at) = match ctx.ks.get(db, key)? {
        None => (0, None),
        Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
        Some(entry) => (parse_i64(&entry.body)?, entry.expire_at),
    };
    let value = current.checked_add(delta).ok_or(CommandError::Static(
        "ERR increment or decrement would overflow",
    ))?;
    let text = itoa::Buffer::new().format(value).as_bytes().to_vec();
    ctx.ks.put(db, key, Kind::String, expire_at, &text)?;
    ctx.reply.integer(value);
    Ok(())
}

/// `INCR key`
pub fn incr(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    incr_by(ctx, key, 1)
}

/// `DECR key`
pub fn decr(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    incr_by(ctx, key, -1)
}

/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let delta = parse_i64(args.next_bytes()?)?;
    incr_by(ctx, key, delta)
}

/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let delta = parse_i64(args.next_bytes()?)?;
    if delta == i64::MIN {
        return Err(CommandError::Static("ERR decrement would overflow"));
    }
    incr_by(ctx, key, -delta)
}

/// `APPEND key value`
pub fn append(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let db = ctx.session.db;
    let (mut body, expire_at, existed) = match ctx.ks.get(db, key)? {
        None => (Vec::new(), None, false),
        Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
        Some(entry) => (entry.body, entry.expire_at, true),
    };
    body.extend_from_slice(value);
    if existed {
        ctx.ks.put_raw_string(db, key, expire_at, &body)?;
    } else {
        ctx.ks.put(db, key, Kind::String, expire_at, &body)?;
    }
    ctx.reply.integer(body.len() as i64);
    Ok(())
}

/// `STRLEN key`
pub fn strlen(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let len = get_string(ctx, key)?.map_or(0, |v| v.len());
    ctx.reply.integer(len as i64);
    Ok(())
}
