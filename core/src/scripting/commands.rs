//! The scripting commands' arguments and replies: EVAL, EVALSHA, their `_RO` forms, FCALL,
//! FCALL_RO, SCRIPT and FUNCTION, run by [`Scripts`] as the engine's script host.

use super::functions::{Library, Policy};
use super::{Scripts, Source};
use crate::commands::{flush_mode_ok, parse_i64, Args, Ctx, ScriptHost};
use crate::error::{CommandError, CommandResult};

/// A script's keys and its other arguments.
type KeysAndArgs<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

/// `numkeys key... arg...`: the keys and the other arguments.
fn keys_and_args<'a>(args: &mut Args<'a>) -> Result<KeysAndArgs<'a>, CommandError> {
    let numkeys = parse_i64(args.next_bytes()?)?;
    if numkeys < 0 {
        return Err(CommandError::Static("ERR Number of keys can't be negative"));
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(CommandError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut keys: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
    let argv = keys.split_off(numkeys as usize);
    Ok((keys, argv))
}

impl ScriptHost for Scripts {
    fn command(&mut self, ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
        match args.name() {
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => {
                let script = args.next_bytes()?;
                let (keys, argv) = keys_and_args(args)?;
                let name = args.name();
                let source = if name.starts_with("evalsha") {
                    Source::Sha(script)
                } else {
                    Source::Body(script)
                };
                self.run(ctx, source, &keys, &argv, name.ends_with("_ro"))
            }
            "fcall" | "fcall_ro" => {
                let function = args.next_bytes()?;
                let (keys, argv) = keys_and_args(args)?;
                let read_only = args.name() == "fcall_ro";
                self.functions.call(ctx, function, &keys, &argv, read_only)
            }
            "script" => self.script(ctx, args),
            "function" => self.function(ctx, args),
            other => Err(CommandError::owned(format!(
                "ERR unknown command '{other}' for the script host"
            ))),
        }
    }
}

impl Scripts {
    /// `FUNCTION LOAD | DELETE | FLUSH | LIST | DUMP | RESTORE | STATS | KILL | HELP`
    fn function(&mut self, ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
        let sub = args.next_bytes()?;
        let lower = sub.to_ascii_lowercase();
        if !matches!(
            lower.as_slice(),
            b"load" | b"delete" | b"flush" | b"restore"
        ) {
            // Reads: nothing to log.
            ctx.rewrite = Some(Vec::new());
        }
        match lower.as_slice() {
            b"load" => {
                let rest: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
                let Some((code, options)) = rest.split_last() else {
                    return Err(CommandError::WrongArity("function|load"));
                };
                let mut replace = false;
                for opt in options {
                    if opt.eq_ignore_ascii_case(b"replace") {
                        replace = true;
                    } else {
                        return Err(CommandError::owned(format!(
                            "ERR Unknown option given: {}",
                            String::from_utf8_lossy(opt)
                        )));
                    }
                }
                let name = self.functions.load_library(ctx, code, replace)?;
                ctx.reply.bulk(name.as_bytes());
            }
            b"delete" => {
                let name = args
                    .next_bytes()
                    .map_err(|_| CommandError::WrongArity("function|delete"))?;
                args.finish()
                    .map_err(|_| CommandError::WrongArity("function|delete"))?;
                self.functions.delete(ctx, name)?;
                ctx.reply.ok();
            }
            b"flush" => {
                if !flush_mode_ok(args) {
                    return Err(CommandError::Static(
                        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
                    ));
                }
                self.functions.flush(ctx)?;
                ctx.reply.ok();
            }
            b"list" => {
                let mut pattern: Option<&[u8]> = None;
                let mut with_code = false;
                while let Some(opt) = args.try_next() {
                    if opt.eq_ignore_ascii_case(b"withcode") && !with_code {
                        with_code = true;
                    } else if opt.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
                        pattern = Some(args.next_bytes().map_err(|_| {
                            CommandError::Static("ERR library name argument was not given")
                        })?);
                    } else {
                        return Err(CommandError::owned(format!(
                            "ERR Unknown argument {}",
                            String::from_utf8_lossy(opt)
                        )));
                    }
                }
                let protocol = ctx.reply.protocol();
                let listed = |libs: &std::collections::BTreeMap<String, Library>| {
                    let chosen: Vec<_> = libs
                        .iter()
                        .filter(|(name, _)| {
                            pattern.is_none_or(|p| crate::glob::matches(p, name.as_bytes()))
                        })
                        .collect();
                    let mut out = crate::protocol::Reply::new();
                    out.set_protocol(protocol);
                    out.array(chosen.len());
                    for (name, lib) in chosen {
                        out.map(if with_code { 4 } else { 3 });
                        out.bulk(b"library_name");
                        out.bulk(name.as_bytes());
                        out.bulk(b"engine");
                        out.bulk(b"LUA");
                        out.bulk(b"functions");
                        out.array(lib.functions.len());
                        for f in &lib.functions {
                            out.map(3);
                            out.bulk(b"name");
                            out.bulk(f.name.as_bytes());
                            out.bulk(b"description");
                            match &f.description {
                                Some(d) => out.bulk(d),
                                None => out.null(),
                            }
                            out.bulk(b"flags");
                            out.set(f.flags.len());
                            for flag in &f.flags {
                                out.simple(flag);
                            }
                        }
                        if with_code {
                            out.bulk(b"library_code");
                            out.bulk(&lib.code);
                        }
                    }
                    out.take()
                };
                let bytes = listed(self.functions.libraries(ctx)?);
                ctx.reply.raw(&bytes);
            }
            b"stats" => {
                args.finish()
                    .map_err(|_| CommandError::WrongArity("function|stats"))?;
                let libs = self.functions.libraries(ctx)?;
                let (libraries, count) = (
                    libs.len(),
                    libs.values().map(|l| l.functions.len()).sum::<usize>(),
                );
                ctx.reply.map(2);
                ctx.reply.bulk(b"running_script");
                ctx.reply.null();
                ctx.reply.bulk(b"engines");
                ctx.reply.map(1);
                ctx.reply.bulk(b"LUA");
                ctx.reply.map(2);
                ctx.reply.bulk(b"libraries_count");
                ctx.reply.integer(libraries as i64);
                ctx.reply.bulk(b"functions_count");
                ctx.reply.integer(count as i64);
            }
            b"dump" => {
                args.finish()
                    .map_err(|_| CommandError::WrongArity("function|dump"))?;
                let mut body = Vec::new();
                for lib in self.functions.libraries(ctx)?.values() {
                    body.push(crate::rdb::OPCODE_FUNCTION2);
                    crate::rdb::put_string(&mut body, &lib.code);
                }
                ctx.reply.bulk(&crate::rdb::seal(body));
            }
            b"restore" => {
                let payload = args
                    .next_bytes()
                    .map_err(|_| CommandError::WrongArity("function|restore"))?;
                let policy = match args.try_next() {
                    None => Policy::Append,
                    Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
                    Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
                    Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
                    Some(_) => {
                        return Err(CommandError::Static("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."))
                    }
                };
                args.finish()
                    .map_err(|_| CommandError::WrongArity("function|restore"))?;
                let body = crate::rdb::unseal(payload).ok_or(CommandError::Static(
                    "ERR DUMP payload version or checksum are wrong",
                ))?;
                let mut reader = crate::rdb::Reader::new(body);
                let mut codes = Vec::new();
                while !reader.at_end() {
                    let code = match reader.byte() {
                        Some(crate::rdb::OPCODE_FUNCTION2) => reader.string(),
                        _ => None,
                    };
                    codes.push(code.ok_or(CommandError::Static(
                        "ERR given payload is not a valid function payload",
                    ))?);
                }
                self.functions.restore(ctx, codes, policy)?;
                ctx.reply.ok();
            }
            b"kill" => {
                args.finish()
                    .map_err(|_| CommandError::WrongArity("function|kill"))?;
                return Err(CommandError::Static(
                    "NOTBUSY No scripts in execution right now.",
                ));
            }
            _ => return Err(CommandError::unknown_subcommand(b"FUNCTION", sub)),
        }
        Ok(())
    }

    /// `SCRIPT LOAD | EXISTS | FLUSH [ASYNC|SYNC] | KILL | HELP`
    fn script(&mut self, ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
        let sub = args.next_bytes()?;
        match sub.to_ascii_lowercase().as_slice() {
            b"load" => {
                let body = args
                    .next_bytes()
                    .map_err(|_| CommandError::WrongArity("script|load"))?;
                args.finish()
                    .map_err(|_| CommandError::WrongArity("script|load"))?;
                let sha = self.load(body)?;
                ctx.reply.bulk(sha.as_bytes());
            }
            b"exists" => {
                if args.remaining() == 0 {
                    return Err(CommandError::WrongArity("script|exists"));
                }
                let shas: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
                ctx.reply.array(shas.len());
                for sha in shas {
                    let known = self.exists(sha);
                    ctx.reply.integer(i64::from(known));
                }
            }
            b"flush" => {
                if !flush_mode_ok(args) {
                    return Err(CommandError::Static(
                        "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
                    ));
                }
                self.flush();
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
                crate::commands::reply_help(ctx.reply, &lines);
            }
            _ => return Err(CommandError::unknown_subcommand(b"SCRIPT", sub)),
        }
        Ok(())
    }
}
