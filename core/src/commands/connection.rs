//! Connection commands: PING, ECHO, QUIT.

use super::{Args, CommandSpec, Ctx};
use crate::error::CommandResult;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("echo", 2, None, true, (0, 0, 0), echo),
    command!("ping", -1, None, true, (0, 0, 0), ping),
    command!("quit", -1, None, true, (0, 0, 0), quit),
];

/// `PING [message]`
pub fn ping(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    match args.try_next() {
        None => ctx.reply.simple("PONG"),
        Some(message) => {
            args.finish()?;
            ctx.reply.bulk(message);
        }
    }
    Ok(())
}

/// `ECHO message`
pub fn echo(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>) -> CommandResult {
    let message = args.next_bytes()?;
    ctx.reply.bulk(message);
    Ok(())
}

/// `QUIT`: replies OK, then the server closes the connection once the reply is sent.
pub fn quit(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>) -> CommandResult {
    ctx.reply.ok();
    ctx.session.close_after_reply = true;
    Ok(())
}
