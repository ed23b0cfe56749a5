//! Generic key commands (Redis's `db.c`).

use super::{Args, Ctx};
use crate::error::CommandResult;

/// `DEL key [key ...]`
pub fn del(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> CommandResult {
    let mut removed = 0;
    while let Some(key) = args.try_next() {
        removed += i64::from(ctx.keyspace.remove(ctx.session.db, key));
    }
    ctx.reply.integer(removed);
    Ok(())
}

/// `EXISTS key [key ...]`: a key named twice counts twice, as in Redis.
pub fn exists(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> CommandResult {
    let mut found = 0;
    while let Some(key) = args.try_next() {
        found += i64::from(ctx.keyspace.contains(ctx.session.db, key));
    }
    ctx.reply.integer(found);
    Ok(())
}
