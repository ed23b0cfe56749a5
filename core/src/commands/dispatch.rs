//! One command's way through the engine, whoever calls it (a client, EXEC, a script): look it
//! up, admit it by its row's flags (Redis's `processCommand`), run its handler, log its writes
//! (Redis's `call`).

use super::{flags, lookup, Args, Ctx};
use crate::error::CommandError;
use crate::protocol::reply::Protocol;
use crate::protocol::Argv;
use crate::storage::StorageError;

/// Who runs a command: the admission rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A client's request.
    Client,
    /// A queued command run by EXEC.
    Exec,
    /// `redis.call` / `redis.pcall` in a script; `read_only` for EVAL_RO, FCALL_RO and scripts
    /// flagged `no-writes`.
    Script { read_only: bool },
}

/// Admits and runs `argv` for the client of `ctx`, appending its reply to `ctx.reply`. An empty
/// argument vector is ignored, as Redis ignores an empty request.
pub fn call(ctx: &mut Ctx<'_, '_, '_>, argv: &dyn Argv) {
    if argv.argc() == 0 {
        return;
    }
    if let Some(err) = &*ctx.failure {
        ctx.reply
            .error(CommandError::from(err).reply_text().as_ref());
        return;
    }
    let in_multi = ctx.session.multi.is_some() && ctx.caller == Caller::Client;
    let spec = match lookup(argv.arg(0)) {
        None => {
            ctx.session.multi_failed |= in_multi;
            let err = CommandError::unknown_command(argv);
            return ctx.reply.error(&err.reply_text());
        }
        Some(spec) if !spec.arity_ok(argv.argc()) => {
            let err = CommandError::WrongArity(spec.name)
                .reply_text()
                .into_owned();
            if spec.name == "exec" && ctx.caller == Caller::Client {
                // Redis aborts the transaction when EXEC itself is rejected.
                ctx.session.multi = None;
                ctx.session.multi_failed = false;
                let mut text = b"EXECABORT Transaction discarded because of: ".to_vec();
                text.extend_from_slice(err.strip_prefix(b"ERR ").unwrap_or(&err));
                return ctx.reply.error(&text);
            }
            ctx.session.multi_failed |= in_multi;
            return ctx.reply.error(&err);
        }
        Some(spec) => spec,
    };
    let flags = flags_of(spec, argv);
    if let Err(text) = admit(ctx, spec, flags, in_multi) {
        ctx.session.multi_failed |= in_multi;
        return ctx.reply.error(text.as_bytes());
    }
    if in_multi && flags & flags::TRANSACTION == 0 {
        if let Some(queue) = ctx.session.multi.as_mut() {
            queue.push((0..argv.argc()).map(|i| argv.arg(i).to_vec()).collect());
        }
        return ctx.reply.simple("QUEUED");
    }
    let mark = ctx.reply.len();
    let db = ctx.session.db;
    ctx.state.stats.total_commands_processed += 1;
    if ctx.caller == Caller::Client {
        if let Some(client) = ctx.state.clients.get_mut(&ctx.session.id) {
            client.last_cmd = spec.name;
            client.last_ms = ctx.now_ms;
        }
    }
    let mut inner = ctx.reborrow();
    let watching = !inner.state.watchers.is_empty() || !inner.state.blocked_on.is_empty();
    if watching {
        inner.ks.track_touches();
    }
    let result = (spec.handler)(&mut inner, &mut Args::new(argv, spec.name));
    let rewrite = inner.rewrite.take();
    if watching {
        let touched = inner.ks.take_touched();
        inner.state.keys_touched(touched);
    }
    match &inner.session.block {
        Some(block) => {
            let phys = inner.ks.physical_db(block.db);
            inner.state.block(inner.session.id, phys, &block.keys);
        }
        None if !inner.state.blocked_on.is_empty() => inner.state.unblock(inner.session.id),
        None => {}
    }
    match result {
        Ok(()) => {
            if flags & flags::WRITE != 0 && !ctx.replaying && ctx.session.block.is_none() {
                match &rewrite {
                    None => ctx.log.command(ctx.now_ms, db as u8, argv),
                    Some(logged) if !logged.is_empty() => {
                        ctx.log.command(ctx.now_ms, db as u8, logged)
                    }
                    Some(_) => {}
                }
            }
        }
        Err(err) => {
            ctx.reply.truncate(mark);
            match &err {
                // The transaction may hold part of this command: the whole group fails.
                CommandError::Storage(e) => *ctx.failure = Some(StorageError::Redb(e.clone())),
                CommandError::DiskFull(e) => {
                    let io = std::io::Error::new(std::io::ErrorKind::StorageFull, e.clone());
                    *ctx.failure = Some(StorageError::Io(io));
                }
                _ => {}
            }
            ctx.reply.error(&err.reply_text());
        }
    }
}

/// The flags `argv` is admitted and logged by: its row's, or for a container its subcommand's
/// as Redis's table gives them (CONFIG GET is `admin`, FUNCTION LOAD `write`), with DiskDB's
/// own flags of the row.
pub(crate) fn flags_of(spec: &super::CommandSpec, argv: &dyn Argv) -> u32 {
    if !spec.has(flags::SUBCOMMANDS) || argv.argc() < 2 {
        return spec.flags;
    }
    super::catalogue::subcommand_flags(spec.name, argv.arg(1))
        .map_or(spec.flags, |sub| sub | (spec.flags & flags::DISKDB))
}

/// Redis's admission checks, in its order; the error text when refused.
fn admit(
    ctx: &Ctx<'_, '_, '_>,
    spec: &super::CommandSpec,
    flags: u32,
    in_multi: bool,
) -> Result<(), String> {
    let has = |flag: u32| flags & flag != 0;
    if !ctx.session.authenticated && !has(flags::NO_AUTH) {
        return Err("NOAUTH Authentication required.".into());
    }
    if let Caller::Script { read_only } = ctx.caller {
        if has(flags::NOSCRIPT) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        if read_only && has(flags::WRITE) {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
    }
    if ctx.caller == Caller::Client
        && ctx.session.subscribed()
        && ctx.reply.protocol() == Protocol::Resp2
        && !has(flags::SUBSCRIBED)
    {
        return Err(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
    }
    if has(flags::WRITE) && !ctx.replaying {
        if let Some(reason) = &ctx.state.writes_refused {
            // As Redis refuses writes it cannot persist; queued in MULTI, the refusal aborts
            // the transaction.
            return Err(format!("MISCONF {reason}"));
        }
    }
    if in_multi && has(flags::NO_MULTI) {
        return Err("ERR Command not allowed inside a transaction".into());
    }
    Ok(())
}
