//! Lua scripting, as Redis 7.0's `eval.c`, `script_lua.c` and `functions.c` define it: EVAL and
//! EVALSHA run a script atomically inside the group that holds the client's command,
//! `redis.call` runs commands through the same dispatch as a client's, and each write a script
//! makes is logged as its own command (Redis's effects replication), so the group's one log
//! record holds all of a script's writes or none of them.
//!
//! This module sits above `commands`: the engine owns a [`Scripts`] and hands it to the
//! scripting commands as their [`ScriptHost`]. The scripts' bodies live here by SHA1 (`SCRIPT
//! LOAD`); the Lua state is created on first use and replaced by `SCRIPT FLUSH`, as Redis does.
//! Function libraries have a Lua state of their own (`functions.rs`).

mod commands;
mod convert;
mod functions;
mod json;
mod libs;
mod vm;

use std::collections::HashMap;

use crate::commands::Ctx;
use crate::error::{CommandError, CommandResult};

/// A cached script: its body and the flags of its `#!` line.
struct Cached {
    body: Vec<u8>,
    flags: ScriptFlags,
}

/// The script cache, the Lua state that compiled it, and the function libraries.
#[derive(Default)]
pub struct Scripts {
    bodies: HashMap<String, Cached>,
    vm: Option<vm::Vm>,
    functions: functions::Registry,
}

/// What a script asks for in its `#!lua flags=...` line.
#[derive(Debug, Clone, Copy, Default)]
struct ScriptFlags {
    /// The script has a `#!` line (then, without `no-writes`, EVAL_RO refuses it).
    shebang: bool,
    no_writes: bool,
}

/// Lower-case hex SHA1, the name of a script.
fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

/// Reads the flags of a `#!lua flags=a,b` first line, and returns the code to compile: the body
/// with that line turned into a comment, so line numbers in errors count it as Redis's do.
fn shebang(body: &[u8]) -> Result<(ScriptFlags, std::borrow::Cow<'_, [u8]>), CommandError> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, std::borrow::Cow::Borrowed(body)));
    }
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    flags.shebang = true;
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(CommandError::owned(format!(
            "ERR Unexpected engine in script shebang: #!{engine}"
        )));
    }
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CommandError::owned(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(CommandError::owned(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )))
                }
            }
        }
    }
    let mut code = body.to_vec();
    code[..2].copy_from_slice(b"--");
    Ok((flags, std::borrow::Cow::Owned(code)))
}

/// Which script EVAL-family commands name.
enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

impl Scripts {
    fn exists(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha)
            .map(|s| self.bodies.contains_key(&s.to_ascii_lowercase()))
            .unwrap_or(false)
    }

    /// `SCRIPT FLUSH`: forgets every script and starts a fresh Lua state.
    fn flush(&mut self) {
        self.bodies.clear();
        self.vm = None;
    }

    /// `SCRIPT LOAD`: compiles and caches `body`, returning its SHA1.
    fn load(&mut self, body: &[u8]) -> Result<String, CommandError> {
        let sha = sha1_hex(body);
        let (flags, code) = shebang(body)?;
        let vm = match self.vm.as_mut() {
            Some(vm) => vm,
            None => self.vm.insert(vm::Vm::new()?),
        };
        vm.compile(&sha, &code)?;
        self.bodies.insert(
            sha.clone(),
            Cached {
                body: body.to_vec(),
                flags,
            },
        );
        Ok(sha)
    }

    /// Runs a script for EVAL, EVALSHA and their `_RO` forms, writing its reply.
    fn run(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        source: Source<'_>,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
    ) -> CommandResult {
        let (sha, given) = match source {
            Source::Body(body) => (sha1_hex(body), Some(body)),
            Source::Sha(sha) => (String::from_utf8_lossy(sha).to_ascii_lowercase(), None),
        };
        let flags = match (self.bodies.get(&sha), given) {
            (Some(cached), _) => cached.flags,
            (None, Some(body)) => shebang(body)?.0,
            (None, None) => {
                return Err(CommandError::Static(
                    "NOSCRIPT No matching script. Please use EVAL.",
                ))
            }
        };
        if read_only && flags.shebang && !flags.no_writes {
            return Err(CommandError::Static(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let vm = match self.vm.as_mut() {
            Some(vm) => vm,
            None => self.vm.insert(vm::Vm::new()?),
        };
        // Compiled on first use in this Lua state: the given body, or the cached one.
        if !vm.has(&sha) {
            let body = match given {
                Some(body) => body.to_vec(),
                None => self
                    .bodies
                    .get(&sha)
                    .map(|c| c.body.clone())
                    .unwrap_or_default(),
            };
            let (_, code) = shebang(&body)?;
            vm.compile(&sha, &code)?;
            self.bodies
                .entry(sha.clone())
                .or_insert(Cached { body, flags });
        }
        let result = vm.run(ctx, &sha, keys, argv, read_only || flags.no_writes);
        // The scripts' bodies stay, so a fresh state compiles them again on use.
        if vm.exhausted() {
            self.vm = None;
        }
        result
    }
}
