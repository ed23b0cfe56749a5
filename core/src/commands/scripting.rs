//! Scripting (Redis's `eval.c`): EVAL, EVALSHA, their `_RO` forms, and SCRIPT. The Lua side is
//! in `crate::scripting`.

use super::{parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::scripting::{self, Source};

/// This family's rows of the command table (name, arity, access, fast, keys, handler; flags).
pub static COMMANDS: &[CommandSpec] = &[
    command!("eval", -3, None, false, (0, 0, 0), eval; NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("evalsha", -3, None, false, (0, 0, 0), evalsha; NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("eval_ro", -3, Read, false, (0, 0, 0), eval_ro; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("evalsha_ro", -3, Read, false, (0, 0, 0), evalsha_ro; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("script", -2, None, false, (0, 0, 0), script; NOSCRIPT),
];

fn run(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    by_sha: bool,
    read_only: bool,
) -> CommandResult {
    let script = args.next_bytes()?;
    let numkeys = parse_i64(args.next_bytes()?)?;
    if numkeys < 0 {
        return Err(CommandError::Static("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(CommandError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let rest: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
    let (keys, argv) = rest.split_at(numkeys as usize);
    let source = if by_sha {
        Source::Sha(script)
    } else {
        Source::Body(script)
    };
    scripting::run(ctx, source, keys, argv, read_only)
}

/// `EVAL script numkeys [key ...] [arg ...]`
pub fn eval(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    run(ctx, args, false, false)
}

/// `EVALSHA sha1 numkeys [key ...] [arg ...]`
pub fn evalsha(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    run(ctx, args, true, false)
}

/// `EVAL_RO script numkeys [key ...] [arg ...]`: the script may not write.
pub fn eval_ro(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    run(ctx, args, false, true)
}

/// `EVALSHA_RO sha1 numkeys [key ...] [arg ...]`
pub fn evalsha_ro(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    run(ctx, args, true, true)
}

/// `SCRIPT LOAD | EXISTS | FLUSH [ASYNC|SYNC] | KILL | HELP`
pub fn script(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    match sub.to_ascii_lowercase().as_slice() {
        b"load" => {
            let body = args
                .next_bytes()
                .map_err(|_| CommandError::WrongArity("script|load"))?;
            args.finish()
                .map_err(|_| CommandError::WrongArity("script|load"))?;
            let sha = scripting::load(ctx, body)?;
            ctx.reply.bulk(sha.as_bytes());
        }
        b"exists" => {
            if args.remaining() == 0 {
                return Err(CommandError::WrongArity("script|exists"));
            }
            let shas: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
            ctx.reply.array(shas.len());
            for sha in shas {
                let known = ctx.state.scripts.exists(sha);
                ctx.reply.integer(i64::from(known));
            }
        }
        b"flush" => {
            let mode = args.try_next();
            let valid = mode.is_none_or(|m| {
                m.eq_ignore_ascii_case(b"async") || m.eq_ignore_ascii_case(b"sync")
            });
            if !valid || args.remaining() > 0 {
                return Err(CommandError::Static(
                    "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                ));
            }
            ctx.state.scripts.flush();
            ctx.reply.ok();
        }
        b"kill" => {
            args.finish()
                .map_err(|_| CommandError::WrongArity("script|kill"))?;
            // Scripts run to completion on the engine's one thread, so none is running when a
            // client can ask.
            return Err(CommandError::Static(
                "NOTBUSY No scripts in execution right now.",
            ));
        }
        b"help" => {
            let lines = [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DEBUG (YES|SYNC|NO)",
                "    Set the debug mode for subsequent scripts executed.",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Prints this help.",
            ];
            ctx.reply.array(lines.len());
            for line in lines {
                ctx.reply.simple(line);
            }
        }
        _ => return Err(CommandError::unknown_subcommand(b"SCRIPT", sub)),
    }
    Ok(())
}
