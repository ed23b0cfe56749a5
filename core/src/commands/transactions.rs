//! Transactions (Redis's `multi.c`): MULTI, EXEC, DISCARD. While a client is in MULTI, the
//! engine queues its commands (see `Group::execute`); EXEC runs them back to back in the same
//! group, so their writes share one log record and are wholly present or wholly absent after a
//! crash.

use super::{Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("unwatch", 1, None, true, (0, 0, 0), unwatch),
    command!("watch", -2, None, true, (1, -1, 1), watch),
    command!("discard", 1, None, true, (0, 0, 0), discard),
    command!("exec", 1, None, false, (0, 0, 0), exec),
    command!("multi", 1, None, true, (0, 0, 0), multi),
];

/// `MULTI`
pub fn multi(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::Static("ERR MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(Vec::new());
    ctx.session.multi_failed = false;
    ctx.reply.ok();
    Ok(())
}

/// `DISCARD`
pub fn discard(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.take().is_none() {
        return Err(CommandError::Static("ERR DISCARD without MULTI"));
    }
    ctx.session.multi_failed = false;
    unwatch_session(ctx);
    ctx.reply.ok();
    Ok(())
}

/// `EXEC` outside MULTI (inside MULTI the engine runs the queue itself).
pub fn exec(_ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    Err(CommandError::Static("ERR EXEC without MULTI"))
}

fn unwatch_session(ctx: &mut Ctx<'_, '_, '_>) {
    ctx.session.watched.clear();
    let id = ctx.session.id;
    ctx.state.unwatch_all(id);
}

/// `WATCH key [key ...]`: EXEC will fail if one of them is written (or expires) before it.
pub fn watch(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::Static(
            "ERR WATCH inside MULTI is not allowed",
        ));
    }
    let (db, id) = (ctx.session.db, ctx.session.id);
    let phys = ctx.ks.physical_db(db);
    while let Some(key) = args.try_next() {
        if ctx
            .session
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        let existed = ctx.ks.exists(db, key)?;
        ctx.session.watched.push((db, key.to_vec(), existed));
        ctx.state
            .watchers
            .entry((phys, key.to_vec()))
            .or_default()
            .push(id);
    }
    ctx.reply.ok();
    Ok(())
}

/// `UNWATCH`
pub fn unwatch(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    unwatch_session(ctx);
    ctx.reply.ok();
    Ok(())
}
