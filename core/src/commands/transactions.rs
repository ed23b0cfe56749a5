//! Transactions (Redis's `multi.c`): MULTI, EXEC, DISCARD. While a client is in MULTI, the
//! engine queues its commands (see `Group::execute`); EXEC runs them back to back in the same
//! group, so their writes share one log record and are wholly present or wholly absent after a
//! crash.

use super::dispatch::{self, Caller};
use super::{Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("unwatch", 1, None, true, (0, 0, 0), unwatch; NOSCRIPT | LOADING | STALE | ALLOW_BUSY),
    command!("watch", -2, None, true, (1, -1, 1), watch; NOSCRIPT | LOADING | STALE | ALLOW_BUSY | TRANSACTION),
    command!("discard", 1, None, true, (0, 0, 0), discard; NOSCRIPT | LOADING | STALE | ALLOW_BUSY | TRANSACTION),
    command!("exec", 1, None, false, (0, 0, 0), exec; NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | TRANSACTION),
    command!("multi", 1, None, true, (0, 0, 0), multi; NOSCRIPT | LOADING | STALE | ALLOW_BUSY | TRANSACTION),
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

/// `EXEC`: runs the queued commands back to back, or fails the whole transaction if one was
/// rejected while queueing or a WATCHed key changed.
pub fn exec(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    let Some(queue) = ctx.session.multi.take() else {
        return Err(CommandError::Static("ERR EXEC without MULTI"));
    };
    let id = ctx.session.id;
    if std::mem::take(&mut ctx.session.multi_failed) {
        ctx.state.unwatch_all(id);
        return Err(CommandError::Static(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    // A WATCHed key that has expired since WATCH counts as modified (Redis 7.0).
    let watched = std::mem::take(&mut ctx.session.watched);
    let mut expired = false;
    for (db, key, existed) in &watched {
        if *existed && ctx.ks.get(*db, key)?.is_none() {
            expired = true;
        }
    }
    let dirty = ctx.state.dirty_cas.contains(&id) || expired;
    ctx.state.unwatch_all(id);
    if dirty {
        ctx.reply.null_array();
        return Ok(());
    }
    ctx.reply.array(queue.len());
    let in_exec = std::mem::replace(&mut ctx.session.in_exec, true);
    let mut inner = ctx.reborrow();
    inner.caller = Caller::Exec;
    for argv in &queue {
        dispatch::call(&mut inner, argv);
    }
    ctx.session.in_exec = in_exec;
    Ok(())
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
