//! Blocking list commands (Redis's `blocked.c` with `t_list.c`): BLPOP BRPOP BRPOPLPUSH BLMOVE
//! BLMPOP. Each tries once; if nothing can be served it sets `session.block` and replies
//! nothing: the host runs it again when one of its keys is written (first blocked, first
//! served) or answers with a null when the deadline passes. Inside MULTI/EXEC (and during
//! replay) they never block: they answer as if the timeout had passed.

use super::lists::{self, End};
use super::{parse_timeout, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::session::Block;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("blmove", 6, Write, false, (1, 2, 1), blmove; NOSCRIPT | BLOCKING | DENYOOM),
    command!("blmpop", -5, Write, false, (0, 0, 0), blmpop; BLOCKING | MOVABLE_KEYS),
    command!("blpop", -3, Write, false, (1, -2, 1), blpop; NOSCRIPT | BLOCKING),
    command!("brpop", -3, Write, false, (1, -2, 1), brpop; NOSCRIPT | BLOCKING),
    command!("brpoplpush", 4, Write, false, (1, 2, 1), brpoplpush; NOSCRIPT | BLOCKING | DENYOOM),
];

/// Blocks on `keys`, or answers the timeout's null at once where blocking is not possible.
pub(crate) fn block_or_null(
    ctx: &mut Ctx<'_, '_, '_>,
    keys: Vec<Vec<u8>>,
    deadline: Option<i64>,
    null_array: bool,
) {
    if ctx.session.no_block && !ctx.session.in_exec {
        // As if the timeout had passed.
        ctx.reply.null_array();
        return;
    }
    if ctx.session.in_exec || deadline.is_some_and(|d| d <= ctx.ks.now_ms()) {
        if null_array {
            ctx.reply.null_array();
        } else {
            ctx.reply.null();
        }
        return;
    }
    ctx.session.block = Some(Block {
        db: ctx.session.db,
        keys,
        deadline_ms: deadline,
        null_array: true,
    });
}

fn bpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, end: End) -> CommandResult {
    let mut rest: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
    let timeout = rest.pop().ok_or(CommandError::WrongArity(args.name()))?;
    let deadline = parse_timeout(timeout, ctx.ks.now_ms())?;
    for key in &rest {
        if let Some(items) = lists::pop(ctx, key, end, 1)? {
            if let Some(item) = items.first() {
                ctx.reply.array(2);
                ctx.reply.bulk(key);
                ctx.reply.bulk(item);
                return Ok(());
            }
        }
    }
    let keys = rest.iter().map(|k| k.to_vec()).collect();
    block_or_null(ctx, keys, deadline, true);
    Ok(())
}

/// `BLPOP key [key ...] timeout`
pub fn blpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    bpop(ctx, args, End::Left)
}

/// `BRPOP key [key ...] timeout`
pub fn brpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    bpop(ctx, args, End::Right)
}

fn bmove(
    ctx: &mut Ctx<'_, '_, '_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    timeout: &[u8],
) -> CommandResult {
    let deadline = parse_timeout(timeout, ctx.ks.now_ms())?;
    match lists::move_item(ctx, src, dst, from, to)? {
        Some(item) => ctx.reply.bulk(&item),
        None => block_or_null(ctx, vec![src.to_vec()], deadline, false),
    }
    Ok(())
}

/// `BRPOPLPUSH source destination timeout`
pub fn brpoplpush(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let timeout = args.next_bytes()?;
    bmove(ctx, src, dst, End::Right, End::Left, timeout)
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
pub fn blmove(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let from = lists::parse_end(args.next_bytes()?)?;
    let to = lists::parse_end(args.next_bytes()?)?;
    let timeout = args.next_bytes()?;
    bmove(ctx, src, dst, from, to, timeout)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn blmpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let timeout = args.next_bytes()?;
    let deadline = parse_timeout(timeout, ctx.ks.now_ms())?;
    let (keys, end, count) = lists::parse_mpop(args)?;
    match lists::mpop(ctx, &keys, end, count)? {
        Some(popped) => lists::reply_mpop(ctx.reply, Some(popped)),
        None => {
            let keys = keys.iter().map(|k| k.to_vec()).collect();
            block_or_null(ctx, keys, deadline, true);
        }
    }
    Ok(())
}
