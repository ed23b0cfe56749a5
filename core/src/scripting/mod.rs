//! Lua scripting, as Redis 7.0's `eval.c` and `script_lua.c` define it: EVAL and EVALSHA run a
//! script atomically inside the group that holds the client's command, `redis.call` runs
//! commands through the same dispatch as a client's, and each write a script makes is logged as
//! its own command (Redis's effects replication), so the group's one log record holds all of a
//! script's writes or none of them.
//!
//! The scripts' bodies live here by SHA1 (`SCRIPT LOAD`); the Lua state is created on first use
//! and replaced by `SCRIPT FLUSH`, as Redis does.

#[cfg(not(target_family = "wasm"))]
mod convert;
#[cfg(not(target_family = "wasm"))]
pub mod functions;
#[cfg(not(target_family = "wasm"))]
mod libs;
#[cfg(not(target_family = "wasm"))]
mod vm;

use std::collections::HashMap;

use crate::commands::Ctx;
use crate::error::{CommandError, CommandResult};

/// A cached script: its body and the flags of its `#!` line.
struct Cached {
    #[cfg_attr(target_family = "wasm", allow(dead_code))]
    body: Vec<u8>,
    #[cfg_attr(target_family = "wasm", allow(dead_code))]
    flags: ScriptFlags,
}

/// The script cache: bodies by lower-case hex SHA1, and the Lua state that compiled them.
#[derive(Default)]
pub struct Scripts {
    bodies: HashMap<String, Cached>,
    #[cfg(not(target_family = "wasm"))]
    vm: Option<vm::Vm>,
    /// Function libraries (FUNCTION, FCALL), in a Lua state of their own.
    #[cfg(not(target_family = "wasm"))]
    pub(crate) functions: functions::Registry,
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("scripts", &self.bodies.len())
            .finish()
    }
}

/// What a script asks for in its `#!lua flags=...` line.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptFlags {
    /// The script has a `#!` line (then, without `no-writes`, EVAL_RO refuses it).
    pub shebang: bool,
    pub no_writes: bool,
}

impl Scripts {
    pub fn exists(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha)
            .map(|s| self.bodies.contains_key(&s.to_ascii_lowercase()))
            .unwrap_or(false)
    }

    /// `SCRIPT FLUSH`: forgets every script and starts a fresh Lua state.
    pub fn flush(&mut self) {
        self.bodies.clear();
        #[cfg(not(target_family = "wasm"))]
        {
            self.vm = None;
        }
    }
}

/// Lower-case hex SHA1, the name of a script.
#[cfg(not(target_family = "wasm"))]
pub fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

#[cfg(not(target_family = "wasm"))]
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

/// `SCRIPT LOAD`: compiles and caches `body`, returning its SHA1.
pub fn load(ctx: &mut Ctx<'_, '_, '_>, body: &[u8]) -> Result<String, CommandError> {
    #[cfg(not(target_family = "wasm"))]
    {
        let sha = sha1_hex(body);
        let (flags, code) = shebang(body)?;
        let scripts = &mut ctx.state.scripts;
        let vm = match scripts.vm.as_mut() {
            Some(vm) => vm,
            None => scripts.vm.insert(vm::Vm::new()?),
        };
        vm.compile(&sha, &code)?;
        scripts.bodies.insert(
            sha.clone(),
            Cached {
                body: body.to_vec(),
                flags,
            },
        );
        Ok(sha)
    }
    #[cfg(target_family = "wasm")]
    {
        let _ = (ctx, body);
        Err(not_in_this_build())
    }
}

#[cfg(target_family = "wasm")]
pub fn not_in_this_build() -> CommandError {
    CommandError::Static("ERR scripting is not available in this build of DiskDB")
}

/// Which script EVAL-family commands name.
pub enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

/// Runs a script for EVAL, EVALSHA and their `_RO` forms, writing its reply.
pub fn run(
    ctx: &mut Ctx<'_, '_, '_>,
    source: Source<'_>,
    keys: &[&[u8]],
    argv: &[&[u8]],
    read_only: bool,
) -> CommandResult {
    #[cfg(not(target_family = "wasm"))]
    {
        let (sha, given) = match source {
            Source::Body(body) => (sha1_hex(body), Some(body)),
            Source::Sha(sha) => (String::from_utf8_lossy(sha).to_ascii_lowercase(), None),
        };
        let flags = match (ctx.state.scripts.bodies.get(&sha), given) {
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
        if ctx.state.scripts.vm.is_none() {
            ctx.state.scripts.vm = Some(vm::Vm::new()?);
        }
        let Some(mut vm) = ctx.state.scripts.vm.take() else {
            return Err(CommandError::Static("ERR scripting is unavailable"));
        };
        // Compiled on first use in this Lua state: the given body, or the cached one.
        let mut compiled = Ok(());
        if !vm.has(&sha) {
            let body = match given {
                Some(body) => body.to_vec(),
                None => ctx
                    .state
                    .scripts
                    .bodies
                    .get(&sha)
                    .map(|c| c.body.clone())
                    .unwrap_or_default(),
            };
            compiled = shebang(&body).and_then(|(_, code)| vm.compile(&sha, &code));
            if compiled.is_ok() {
                ctx.state
                    .scripts
                    .bodies
                    .entry(sha.clone())
                    .or_insert(Cached { body, flags });
            }
        }
        let result =
            compiled.and_then(|()| vm.run(ctx, &sha, keys, argv, read_only || flags.no_writes));
        // A SCRIPT FLUSH cannot run inside a script, so the state put back is still current.
        // The scripts' bodies stay, so a fresh state compiles them again on use.
        if !vm.exhausted() {
            ctx.state.scripts.vm = Some(vm);
        }
        result
    }
    #[cfg(target_family = "wasm")]
    {
        let _ = (ctx, source, keys, argv, read_only);
        Err(not_in_this_build())
    }
}
