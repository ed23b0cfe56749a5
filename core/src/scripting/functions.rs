//! Function libraries (Redis 7.0's `functions.c` and `function_lua.c`): FUNCTION LOAD runs a
//! library's code once to learn the functions it registers; FCALL calls one. Libraries are kept
//! in the database (`keyspace/functions.rs`) and loaded into their own Lua state on first use,
//! as Redis keeps functions apart from EVAL's scripts.

use std::collections::{BTreeMap, HashMap};

use super::vm::Vm;
use crate::commands::Ctx;
use crate::error::{CommandError, CommandResult};

/// A loaded library's description (FUNCTION LIST).
pub struct Library {
    pub code: Vec<u8>,
    pub functions: Vec<FunctionMeta>,
}

pub struct FunctionMeta {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: Vec<&'static str>,
}

/// The libraries and their Lua state.
#[derive(Default)]
pub struct Registry {
    /// Whether the database's libraries have been read in.
    loaded: bool,
    pub libraries: BTreeMap<String, Library>,
    vm: Option<Vm>,
    /// Function name → (library, callback, `no-writes`).
    callbacks: HashMap<String, (String, mlua::Function, bool)>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The library name from a `#!lua name=<name>` first line, and the code to compile (that line
/// turned into a comment so line numbers count it).
fn metadata(code: &[u8]) -> Result<(String, Vec<u8>), CommandError> {
    if !code.starts_with(b"#!") {
        return Err(CommandError::Static("ERR Missing library metadata"));
    }
    let end = memchr::memchr(b'\n', code).unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(CommandError::owned(format!(
            "ERR Engine '{engine}' not found"
        )));
    }
    let mut name = None;
    for part in parts {
        match part.strip_prefix("name=") {
            Some(n) => name = Some(n.to_owned()),
            None => {
                return Err(CommandError::owned(format!(
                    "ERR Invalid metadata value given: {part}"
                )))
            }
        }
    }
    let name = name.ok_or(CommandError::Static("ERR Library name was not given"))?;
    if !valid_name(&name) {
        return Err(CommandError::Static("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    let mut compiled = code.to_vec();
    compiled[..2].copy_from_slice(b"--");
    Ok((name, compiled))
}

impl Registry {
    /// Reads the database's libraries in, once.
    fn ensure_loaded(&mut self, ctx: &mut Ctx<'_, '_, '_>) -> CommandResult {
        if self.loaded {
            return Ok(());
        }
        self.loaded = true;
        for (_, code) in ctx.ks.function_libraries()? {
            // A library that no longer loads (it should not happen: each was loaded before it
            // was stored) is skipped rather than making every FCALL fail.
            let _ = self.load(ctx, &code, true, false);
        }
        Ok(())
    }

    fn vm(&mut self) -> Result<&mut Vm, CommandError> {
        match self.vm {
            Some(ref mut vm) => Ok(vm),
            None => Ok(self.vm.insert(Vm::new()?)),
        }
    }

    /// Loads `code` as a library; `store` writes it to the database. Returns its name.
    fn load(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        code: &[u8],
        replace: bool,
        store: bool,
    ) -> Result<String, CommandError> {
        let (name, compiled) = metadata(code)?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(CommandError::owned(format!(
                "ERR Library '{name}' already exists"
            )));
        }
        let registered = self.vm()?.load_library(&compiled, ctx.state)?;
        if registered.is_empty() {
            return Err(CommandError::Static("ERR No functions registered"));
        }
        for f in &registered {
            if let Some((owner, _, _)) = self.callbacks.get(&f.name) {
                if *owner != name {
                    return Err(CommandError::owned(format!(
                        "ERR Function {} already exists",
                        f.name
                    )));
                }
            }
        }
        if store {
            ctx.ks.put_function_library(&name, code)?;
        }
        self.callbacks.retain(|_, (owner, _, _)| *owner != name);
        let mut functions = Vec::new();
        for f in registered {
            let no_writes = f.flags.contains(&"no-writes");
            self.callbacks
                .insert(f.name.clone(), (name.clone(), f.callback, no_writes));
            functions.push(FunctionMeta {
                name: f.name,
                description: f.description,
                flags: f.flags,
            });
        }
        self.libraries.insert(
            name.clone(),
            Library {
                code: code.to_vec(),
                functions,
            },
        );
        Ok(name)
    }
}

impl Registry {
    /// `FUNCTION LOAD [REPLACE] code`
    pub fn load_library(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        code: &[u8],
        replace: bool,
    ) -> Result<String, CommandError> {
        self.ensure_loaded(ctx)?;
        self.load(ctx, code, replace, true)
    }

    /// `FUNCTION DELETE library`
    pub fn delete(&mut self, ctx: &mut Ctx<'_, '_, '_>, name: &[u8]) -> CommandResult {
        self.ensure_loaded(ctx)?;
        let name = String::from_utf8_lossy(name).into_owned();
        if self.libraries.remove(&name).is_none() {
            return Err(CommandError::Static("ERR Library not found"));
        }
        self.callbacks.retain(|_, (owner, _, _)| *owner != name);
        ctx.ks.delete_function_library(&name)?;
        Ok(())
    }

    /// `FUNCTION FLUSH`: every library goes, and their Lua state with them.
    pub fn flush(&mut self, ctx: &mut Ctx<'_, '_, '_>) -> CommandResult {
        ctx.ks.clear_function_libraries()?;
        *self = Registry {
            loaded: true,
            ..Registry::default()
        };
        Ok(())
    }

    /// The libraries, read in if not yet, for FUNCTION LIST / STATS / DUMP.
    pub fn libraries(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
    ) -> Result<&BTreeMap<String, Library>, CommandError> {
        self.ensure_loaded(ctx)?;
        Ok(&self.libraries)
    }

    /// `FCALL` / `FCALL_RO`.
    pub fn call(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        name: &[u8],
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
    ) -> CommandResult {
        self.ensure_loaded(ctx)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let Some((_, callback, no_writes)) = self.callbacks.get(&name).cloned() else {
            return Err(CommandError::Static("ERR Function not found"));
        };
        if read_only && !no_writes {
            return Err(CommandError::Static(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let vm = self.vm()?;
        let result = vm.run_function(ctx, &name, callback, keys, argv, read_only || no_writes);
        // If the call filled the Lua state, the libraries are read in again, into a fresh one,
        // on next use.
        if vm.exhausted() {
            *self = Registry::default();
        }
        result
    }

    /// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]` after the payload was decoded into
    /// libraries' code: all are checked before any is kept.
    pub fn restore(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        codes: Vec<Vec<u8>>,
        policy: Policy,
    ) -> CommandResult {
        self.ensure_loaded(ctx)?;
        for code in &codes {
            let (name, _) = metadata(code)?;
            if policy == Policy::Append && self.libraries.contains_key(&name) {
                return Err(CommandError::owned(format!(
                    "ERR Library {name} already exists"
                )));
            }
        }
        if policy == Policy::Flush {
            self.flush(ctx)?;
        }
        for code in &codes {
            self.load(ctx, code, true, true)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Flush,
    Append,
    Replace,
}
