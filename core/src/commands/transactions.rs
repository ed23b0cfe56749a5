//! Transactions (Redis's `multi.c`): MULTI, EXEC, DISCARD. While a client is in MULTI, the
//! engine queues its commands (see `Group::execute`); EXEC runs them back to back in the same
//! group, so their writes share one log record and are wholly present or wholly absent after a
//! crash.

use super::{Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("discard", 1, None, true, (0, 0, 0), discard),
    command!("exec", 1, None, false, (0, 0, 0), exec),
    command!("multi", 1, None, true, (0, 0, 0), multi),
];

/// `MULTI`
pub fn multi(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::Static("ERR MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(Vec::new());
    ctx.session.multi_failed = false;
    ctx.reply.ok();
    Ok(())
}

/// `DISCARD`
pub fn discard(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.take().is_none() {
        return Err(CommandError::Static("ERR DISCARD without MULTI"));
    }
    ctx.session.multi_failed = false;
    ctx.reply.ok();
    Ok(())
}

/// `EXEC` outside MULTI (inside MULTI the engine runs the queue itself).
pub fn exec(_ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>) -> CommandResult {
    Err(CommandError::Static("ERR EXEC without MULTI"))
}
