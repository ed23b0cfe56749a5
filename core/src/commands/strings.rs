//! String commands (Redis's `t_string.c`).

use super::{Args, Ctx};
use crate::error::{CommandError, CommandResult};

/// `GET key`
pub fn get(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    match ctx.keyspace.get(ctx.session.db, key) {
        Some(value) => ctx.reply.bulk(value),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `SET key value` (options arrive with the string family).
pub fn set(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    if args.remaining() > 0 {
        return Err(CommandError::Syntax);
    }
    ctx.keyspace.set(ctx.session.db, key, value);
    ctx.reply.ok();
    Ok(())
}
