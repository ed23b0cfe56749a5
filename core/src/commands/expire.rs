//! Expiry commands (Redis's `expire.c`): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.

use super::{parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("expire", -3, Write, true, (1, 1, 1), expire),
    command!("expireat", -3, Write, true, (1, 1, 1), expireat),
    command!("expiretime", 2, Read, true, (1, 1, 1), expiretime),
    command!("persist", 2, Write, true, (1, 1, 1), persist),
    command!("pexpire", -3, Write, true, (1, 1, 1), pexpire),
    command!("pexpireat", -3, Write, true, (1, 1, 1), pexpireat),
    command!("pexpiretime", 2, Read, true, (1, 1, 1), pexpiretime),
    command!("pttl", 2, Read, true, (1, 1, 1), pttl),
    command!("ttl", 2, Read, true, (1, 1, 1), ttl),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

#[derive(Clone, Copy, Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_conditions(args: &mut Args<'_>) -> Result<Conditions, CommandError> {
    let mut c = Conditions::default();
    while let Some(opt) = args.try_next() {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => c.nx = true,
            b"xx" => c.xx = true,
            b"gt" => c.gt = true,
            b"lt" => c.lt = true,
            _ => return Err(CommandError::UnsupportedOption(opt.to_vec())),
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(CommandError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(CommandError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

fn expire_generic(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    unit: Unit,
    relative: bool,
) -> CommandResult {
    let key = args.next_bytes()?;
    let when_arg = args.next_bytes()?;
    let conditions = parse_conditions(args)?;
    let mut when = parse_i64(when_arg)?;
    let invalid = || CommandError::InvalidExpireTime(args.name());
    if unit == Unit::Seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    if relative {
        when = when.checked_add(ctx.ks.now_ms()).ok_or_else(invalid)?;
    }
    let db = ctx.session.db;
    let Some(mut entry) = ctx.ks.get(db, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let current = entry.expire_at;
    let refused = (conditions.nx && current.is_some())
        || (conditions.xx && current.is_none())
        || (conditions.gt && current.is_none_or(|c| when <= c))
        || (conditions.lt && current.is_some_and(|c| when >= c));
    if refused {
        ctx.reply.integer(0);
        return Ok(());
    }
    if when <= ctx.ks.now_ms() {
        ctx.ks.delete(db, key)?;
    } else {
        entry.expire_at = Some(when);
        ctx.ks.put_entry(db, key, &entry)?;
    }
    ctx.reply.integer(1);
    Ok(())
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`
pub fn expire(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    expire_generic(ctx, args, Unit::Seconds, true)
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
pub fn pexpire(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    expire_generic(ctx, args, Unit::Millis, true)
}

/// `EXPIREAT key unix-time-seconds [NX|XX|GT|LT]`
pub fn expireat(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    expire_generic(ctx, args, Unit::Seconds, false)
}

/// `PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]`
pub fn pexpireat(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    expire_generic(ctx, args, Unit::Millis, false)
}

fn ttl_generic(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    millis: bool,
    absolute: bool,
) -> CommandResult {
    let key = args.next_bytes()?;
    let reply = match ctx.ks.get(ctx.session.db, key)? {
        None => -2,
        Some(entry) => match entry.expire_at {
            None => -1,
            Some(at) => {
                let value = if absolute {
                    at
                } else {
                    (at - ctx.ks.now_ms()).max(0)
                };
                if millis {
                    value
                } else {
                    // (value + 500) / 1000 without overflow near i64::MAX.
                    value / 1000 + i64::from(value % 1000 >= 500)
                }
            }
        },
    };
    ctx.reply.integer(reply);
    Ok(())
}

/// `TTL key`
pub fn ttl(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    ttl_generic(ctx, args, false, false)
}

/// `PTTL key`
pub fn pttl(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    ttl_generic(ctx, args, true, false)
}

/// `EXPIRETIME key`
pub fn expiretime(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    ttl_generic(ctx, args, false, true)
}

/// `PEXPIRETIME key`
pub fn pexpiretime(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    ttl_generic(ctx, args, true, true)
}

/// `PERSIST key`
pub fn persist(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let db = ctx.session.db;
    let removed = match ctx.ks.get(db, key)? {
        Some(mut entry) if entry.expire_at.is_some() => {
            entry.expire_at = None;
            ctx.ks.put_entry(db, key, &entry)?;
            1
        }
        _ => 0,
    };
    ctx.reply.integer(removed);
    Ok(())
}
