//! Scripting's commands (Redis's `eval.c` and `functions.c`): EVAL, EVALSHA, their `_RO` forms,
//! SCRIPT, FCALL, FCALL_RO and FUNCTION. The table rows live here; the commands run in the
//! engine's [`super::ScriptHost`] (Lua, in `crate::scripting`), which builds on this layer and is
//! handed in through [`Ctx`] so that this layer never imports it.

use super::{Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};

/// This family's rows of the command table (name, arity, access, fast, keys, handler; flags).
pub static COMMANDS: &[CommandSpec] = &[
    command!("eval", -3, None, false, (0, 0, 0), in_host; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("evalsha", -3, None, false, (0, 0, 0), in_host; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("eval_ro", -3, Read, false, (0, 0, 0), in_host; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("evalsha_ro", -3, Read, false, (0, 0, 0), in_host; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("script", -2, None, false, (0, 0, 0), in_host; SUBCOMMANDS),
    command!("fcall", -3, None, false, (0, 0, 0), in_host; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    command!("fcall_ro", -3, Read, false, (0, 0, 0), in_host; NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS),
    // Its LOAD, DELETE, FLUSH and RESTORE write (they are logged); the others log nothing.
    command!("function", -2, None, false, (0, 0, 0), in_host; SUBCOMMANDS),
];

/// Runs the command in the engine's script host, taken out of the context for the length of
/// the command (the host gets the context to run commands through).
fn in_host(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let Some(mut host) = ctx.scripts.take() else {
        return Err(CommandError::Static(
            "ERR scripting is not available in this build of DiskDB",
        ));
    };
    let result = host.command(ctx, args);
    *ctx.scripts = Some(host);
    result
}
