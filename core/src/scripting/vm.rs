//! The Lua state: Redis's sandbox, its `redis` library, and running one script with
//! `redis.call` bound to the calling client's context.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use super::convert;
use crate::commands::dispatch::{self, Caller};
use crate::commands::Ctx;
use crate::error::{CommandError, CommandResult};
use crate::protocol::reply::{Protocol, Reply};

/// Lua's memory for all scripts together; past it a script fails with Lua's "not enough memory"
/// instead of growing the server without bound.
const MEMORY_LIMIT: usize = 256 * 1024 * 1024;

/// Runs `f` (Lua code of a script) under [`MEMORY_LIMIT`]. Outside scripts the state has no
/// limit: with one, mlua wraps every operation (a table set, a string push) in a protected call
/// that allocates a closure, which was most of an EVALSHA's cost.
fn limited<R>(lua: &Lua, f: impl FnOnce() -> R) -> R {
    let _ = lua.set_memory_limit(MEMORY_LIMIT);
    let result = f();
    let _ = lua.set_memory_limit(0);
    result
}

/// Redis 7.0.15's globals a script may read (`script_lua.c`'s allow lists); everything else the
/// libraries define is removed, so reading it is the "nonexistent global" error, as in Redis.
const ALLOWED_GLOBALS: &[&str] = &[
    "string",
    "cjson",
    "bit",
    "cmsgpack",
    "math",
    "table",
    "struct",
    "redis",
    "xpcall",
    "tostring",
    "setmetatable",
    "next",
    "assert",
    "tonumber",
    "rawequal",
    "collectgarbage",
    "getmetatable",
    "rawset",
    "pcall",
    "coroutine",
    "type",
    "_G",
    "select",
    "unpack",
    "gcinfo",
    "pairs",
    "loadstring",
    "ipairs",
    "error",
    "rawget",
    "load",
    "_VERSION",
];

/// Lua parts of the `redis` library and the sandbox. `bridge.fn` is the per-run Rust function
/// that runs a command; `call` raises its error table, `pcall` returns it. The error handler
/// (Redis's `__redis__err__handler`) turns any error into `{err=..., source=..., line=...}`,
/// naming the line of the user's script that failed.
const PRELUDE: &str = r#"
local bridge, getinfo = ...
local raising = function(...)
  return bridge.fn(true, ...)
end
redis.pcall = function(...)
  return (bridge.fn(false, ...))
end
local function handler(err)
  if type(err) == 'userdata' then
    -- An error raised by one of DiskDB's Rust functions: keep only its message.
    local text = tostring(err)
    text = string.gsub(text, '^runtime error: ', '')
    text = string.gsub(text, '\n?stack traceback:.*$', '')
    err = {err = 'ERR ' .. text}
  elseif type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  for level = 2, 64 do
    local info = getinfo(level, 'Sl')
    if not info then break end
    if info.source == '@user_script' or info.source == '@user_function' then
      err.source = info.source
      err.line = info.currentline
      break
    end
  end
  return err
end
local function run(f, keys, args)
  if keys then
    return xpcall(function() return f(keys, args) end, handler)
  end
  return xpcall(f, handler)
end
-- Redis 7.0's pcall hands a script an error table's message rather than the table, as
-- Redis 6 scripts expect (luaRedisPcall).
local raw_pcall, unpack, select = pcall, unpack, select
local function pack(...) return select('#', ...), {...} end
pcall = function(...)
  local n, result = pack(raw_pcall(...))
  if not result[1] then
    local e = result[2]
    if type(e) == 'table' and type(e.err) == 'string' then e = e.err end
    return false, e
  end
  return unpack(result, 1, n)
end
return run, raising
"#;

/// Redis's sandbox: library tables and the globals are read-only, and reading a global that does
/// not exist is an error. Scripts run with the returned table as their environment.
const PROTECT: &str = r#"
local G = _G
local function ro() error("Attempt to modify a readonly table", 2) end
-- Tables no script may change, by any route (Redis marks them read-only in C).
local protected = {[G] = true}
for _, name in ipairs({'string', 'math', 'table', 'redis', 'cjson', 'bit', 'cmsgpack', 'struct', 'coroutine'}) do
  local lib = rawget(G, name)
  if lib then
    local view = setmetatable({}, {__index = lib, __newindex = ro, __metatable = false})
    protected[lib] = true
    protected[view] = true
    rawset(G, name, view)
  end
end
local env = setmetatable({}, {__index = G, __newindex = ro, __metatable = false})
protected[env] = true
-- Libraries (FUNCTION LOAD) see `redis` as `api.current`: the loading API while their code
-- runs, the full library afterwards, when their functions are called.
local api = {current = rawget(G, 'redis')}
local library_env = setmetatable({}, {
  __index = function(_, name)
    if name == 'redis' then return api.current end
    return G[name]
  end,
  __newindex = ro,
  __metatable = false,
})
protected[library_env] = true
-- rawset refuses the protected tables (in Redis they are read-only in C), so no script can
-- change what later scripts see.
local raw_rawset = rawset
raw_rawset(G, 'rawset', function(t, k, v)
  if protected[t] then error("Attempt to modify a readonly table", 0) end
  return raw_rawset(t, k, v)
end)
setmetatable(G, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = ro,
  __metatable = false,
})
return env, library_env, api
"#;

/// Registry name of the Lua function [`call_raising`] calls.
const RAISING: &std::ffi::CStr = c"diskdb.redis_call";

/// `redis.call`, as a C function: Lua 5.1 replaces the caller's frame on `return f(...)` only
/// for Lua functions, so with a C function the script's frame stays and its error names the
/// script's line, as Redis's (also C) `redis.call` does. It runs the command through the
/// registry's Lua function and raises the error table that comes back on failure.
unsafe extern "C-unwind" fn call_raising(state: *mut mlua::lua_State) -> std::ffi::c_int {
    // SAFETY: called by Lua with a valid state. A C function may use LUA_MINSTACK (20) slots,
    // and this one uses one more than its arguments. `lua_error` and errors inside `lua_call`
    // unwind through this frame, which owns nothing that needs dropping.
    unsafe {
        let n = mlua::ffi::lua_gettop(state);
        mlua::ffi::lua_getfield(state, mlua::ffi::LUA_REGISTRYINDEX, RAISING.as_ptr());
        mlua::ffi::lua_insert(state, 1);
        mlua::ffi::lua_call(state, n, 2);
        let failed = mlua::ffi::lua_toboolean(state, -1) != 0;
        mlua::ffi::lua_pop(state, 1);
        if failed {
            mlua::ffi::lua_error(state);
        }
        1
    }
}

/// Stops a script that runs past `busy-reply-threshold` without having written, as if SCRIPT
/// KILL had been sent: the engine serves no other client while a script runs, so nobody could
/// send it. A script that wrote runs to completion (Redis would only allow SHUTDOWN NOSAVE).
#[derive(Default)]
struct Watchdog {
    /// Unix ms after which the running script is stopped (0: none running).
    deadline_ms: AtomicI64,
    wrote: AtomicBool,
}

/// The protocol `redis.setresp` chose.
fn protocol(resp: &AtomicU8) -> Protocol {
    match resp.load(Ordering::Relaxed) {
        3 => Protocol::Resp3,
        _ => Protocol::Resp2,
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Instructions between the watchdog's looks at the clock.
const WATCHDOG_EVERY: u32 = 100_000;

pub struct Vm {
    lua: Lua,
    watchdog: Arc<Watchdog>,
    /// The RESP version `redis.setresp` chose for this run (2 or 3).
    resp: Arc<AtomicU8>,
    /// The scripts compiled so far, by SHA1.
    functions: HashMap<String, Function>,
    /// `bridge.fn` is set for the length of a run.
    bridge: Table,
    /// The read-only environment scripts run in.
    env: Table,
    /// The environment of libraries' code, and the switch of what `redis` is in it.
    library_env: Table,
    library_api: Table,
    /// Runs a function under the error handler: `(ok, value or error table)`.
    runner: Function,
}

/// Redis's reply to code that does not compile: `what`, then Lua's message.
fn compile_error(what: &str, e: mlua::Error) -> CommandError {
    let text = match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => other.to_string(),
    };
    CommandError::owned(format!("ERR {what}: {}", text.trim_end()))
}

fn lua_err(e: mlua::Error) -> CommandError {
    CommandError::owned(format!("ERR Error running script: {e}"))
}

impl Vm {
    pub fn new() -> Result<Vm, CommandError> {
        // SAFETY: the debug library is what makes `unsafe_new_with` unsafe (it can reach mlua's
        // internals). Only the error handler keeps `debug.getinfo`, which reads a frame's source
        // and line; `debug` itself is removed from the globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        let globals = lua.globals();
        super::libs::install(&lua).map_err(lua_err)?;
        let redis = super::libs::redis_table(&lua).map_err(lua_err)?;
        globals.raw_set("redis", redis.clone()).map_err(lua_err)?;
        let bridge = lua.create_table().map_err(lua_err)?;
        let debug: Table = globals.raw_get("debug").map_err(lua_err)?;
        let getinfo: Function = debug.raw_get("getinfo").map_err(lua_err)?;
        let (runner, raising): (Function, Function) = lua
            .load(PRELUDE)
            .set_name("=redis")
            .call((bridge.clone(), getinfo))
            .map_err(lua_err)?;
        lua.set_named_registry_value(RAISING.to_str().unwrap_or_default(), raising)
            .map_err(lua_err)?;
        // SAFETY: `call_raising` follows Lua's C function protocol (see its comment).
        let call = unsafe { lua.create_c_function(call_raising) }.map_err(lua_err)?;
        redis.raw_set("call", call).map_err(lua_err)?;
        let names: Vec<String> = globals
            .pairs::<String, Value>()
            .filter_map(|pair| pair.ok().map(|(k, _)| k))
            .collect();
        for name in names {
            if !ALLOWED_GLOBALS.contains(&name.as_str()) {
                globals.raw_set(name, Value::Nil).map_err(lua_err)?;
            }
        }
        let (env, library_env, library_api): (Table, Table, Table) = lua
            .load(PROTECT)
            .set_name("=redis")
            .call(())
            .map_err(lua_err)?;
        let watchdog = Arc::new(Watchdog::default());
        let dog = watchdog.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(WATCHDOG_EVERY),
            move |_, _| {
                let deadline = dog.deadline_ms.load(Ordering::Relaxed);
                if deadline != 0 && !dog.wrote.load(Ordering::Relaxed) && unix_ms() > deadline {
                    return Err(mlua::Error::RuntimeError(
                        "Script killed by user with SCRIPT KILL...".into(),
                    ));
                }
                Ok(VmState::Continue)
            },
        )
        .map_err(lua_err)?;
        // `redis.setresp` lives as long as the state (made per run, it cost each EVALSHA a
        // scoped closure); the run resets its choice.
        let resp = Arc::new(AtomicU8::new(2));
        let chosen = resp.clone();
        let setresp = lua
            .create_function(move |_, args: MultiValue| {
                let version = match args.front() {
                    Some(Value::Integer(n)) if args.len() == 1 => *n as f64,
                    Some(Value::Number(n)) if args.len() == 1 => *n,
                    _ => {
                        return Err(mlua::Error::RuntimeError(
                            "redis.setresp() requires one argument.".into(),
                        ))
                    }
                };
                match version as i64 {
                    v @ (2 | 3) => chosen.store(v as u8, Ordering::Relaxed),
                    _ => {
                        return Err(mlua::Error::RuntimeError(
                            "RESP version must be 2 or 3.".into(),
                        ))
                    }
                }
                Ok(())
            })
            .map_err(lua_err)?;
        redis.raw_set("setresp", setresp).map_err(lua_err)?;
        Ok(Vm {
            lua,
            watchdog,
            resp,
            functions: HashMap::new(),
            bridge,
            env,
            library_env,
            library_api,
            runner,
        })
    }

    /// Compiles `code` as chunk `name` (what error texts call it) to run in `env`; `what` starts
    /// Redis's error text when it does not compile.
    fn compile_chunk(
        &self,
        code: &[u8],
        name: &str,
        what: &str,
        env: &Table,
    ) -> Result<Function, CommandError> {
        let chunk = self
            .lua
            .load(code)
            .set_name(name)
            .into_function()
            .map_err(|e| compile_error(what, e))?;
        chunk.set_environment(env.clone()).map_err(lua_err)?;
        Ok(chunk)
    }

    /// Whether the script `sha` is compiled in this state.
    pub fn has(&self, sha: &str) -> bool {
        self.functions.contains_key(sha)
    }

    /// Compiles `code` under `sha` unless it already is.
    pub fn compile(&mut self, sha: &str, code: &[u8]) -> Result<(), CommandError> {
        if self.functions.contains_key(sha) {
            return Ok(());
        }
        let function = self.compile_chunk(
            code,
            "@user_script",
            "Error compiling script (new function)",
            &self.env,
        )?;
        self.functions.insert(sha.to_owned(), function);
        Ok(())
    }

    /// Runs the compiled script `sha` with `KEYS` and `ARGV`, writing its reply to `ctx.reply`.
    pub fn run(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        sha: &str,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
    ) -> CommandResult {
        let function = self
            .functions
            .get(sha)
            .cloned()
            .ok_or(CommandError::Static(
                "NOSCRIPT No matching script. Please use EVAL.",
            ))?;
        let globals = self.lua.globals();
        globals
            .raw_set("KEYS", self.strings(keys).map_err(lua_err)?)
            .map_err(lua_err)?;
        globals
            .raw_set("ARGV", self.strings(argv).map_err(lua_err)?)
            .map_err(lua_err)?;
        self.execute(ctx, sha, function, None, read_only)
    }

    /// Runs a library's function (FCALL): `callback(keys, args)`.
    pub fn run_function(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        name: &str,
        callback: Function,
        keys: &[&[u8]],
        argv: &[&[u8]],
        read_only: bool,
    ) -> CommandResult {
        let args = (
            self.strings(keys).map_err(lua_err)?,
            self.strings(argv).map_err(lua_err)?,
        );
        self.execute(ctx, name, callback, Some(args), read_only)
    }

    fn strings(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }

    /// Loads a library's code (FUNCTION LOAD): runs it with the loading API, whose
    /// `register_function` collects the functions it defines.
    pub fn load_library(
        &mut self,
        code: &[u8],
        state: &crate::state::ServerState,
    ) -> Result<Vec<Registered>, CommandError> {
        let chunk = self.compile_chunk(
            code,
            "@user_function",
            "Error compiling function",
            &self.library_env,
        )?;
        let lua = &self.lua;
        let registered = RefCell::new(Vec::<Registered>::new());
        self.arm_watchdog(state);
        let outcome = lua.scope(|scope| {
            let register = scope.create_function(|_, args: MultiValue| {
                let entry = register_args(args)?;
                let mut list = registered.borrow_mut();
                if list.iter().any(|r| r.name == entry.name) {
                    return Err(mlua::Error::RuntimeError(
                        "Function already exists in the library".into(),
                    ));
                }
                list.push(entry);
                Ok(())
            })?;
            let api = super::libs::loading_api(lua, register)?;
            self.library_api.raw_set("current", api)?;
            let result: (bool, Value) = limited(lua, || self.runner.call(chunk))?;
            self.library_api.raw_set("current", self.redis_view()?)?;
            Ok(result)
        });
        self.watchdog.deadline_ms.store(0, Ordering::Relaxed);
        let (ok, value) = match outcome {
            Ok(pair) => pair,
            Err(e) => {
                let _ = self
                    .redis_view()
                    .and_then(|view| self.library_api.raw_set("current", view));
                return Err(lua_err(e));
            }
        };
        if !ok {
            let text = convert::error_text(&value, "");
            let text = text.split(" script: ").next().unwrap_or(&text).to_owned();
            return Err(CommandError::owned(format!(
                "ERR Error registering functions: {text}"
            )));
        }
        Ok(registered.into_inner())
    }

    /// Whether the Lua state is still mostly full after a run (and a full collection): then it
    /// is dropped and a fresh one made, so one script that filled it does not fail every later
    /// one.
    pub fn exhausted(&self) -> bool {
        self.lua.used_memory() > MEMORY_LIMIT / 2
    }

    /// Starts the watchdog's clock for a run, from `busy-reply-threshold` (or its old name
    /// `lua-time-limit`, whichever is lower); 0 disables it.
    fn arm_watchdog(&self, state: &crate::state::ServerState) {
        let limit = ["busy-reply-threshold", "lua-time-limit"]
            .iter()
            .filter_map(|name| state.param(name))
            .filter_map(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
            .min()
            .unwrap_or(5000);
        let deadline = if limit > 0 { unix_ms() + limit } else { 0 };
        self.watchdog.wrote.store(false, Ordering::Relaxed);
        self.watchdog.deadline_ms.store(deadline, Ordering::Relaxed);
    }

    /// What scripts see as `redis` (the read-only view of the library).
    fn redis_view(&self) -> mlua::Result<Value> {
        self.lua.globals().raw_get("redis")
    }

    /// Runs `function` (with `args` for a library function) under the error handler, with
    /// `redis.call` bound to `ctx`; `label` names it in error texts.
    fn execute(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        label: &str,
        function: Function,
        args: Option<(Table, Table)>,
        read_only: bool,
    ) -> CommandResult {
        let lua = &self.lua;
        super::libs::reset_for_run(lua);
        let client_proto = ctx.reply.protocol();
        // Blocking commands answer at once inside a script, as inside EXEC; a SELECT inside the
        // script does not change the caller's database (Redis 7.0).
        let no_block = std::mem::replace(&mut ctx.session.no_block, true);
        let db = ctx.session.db;
        self.arm_watchdog(&*ctx.state);
        self.resp.store(2, Ordering::Relaxed);
        let state = RefCell::new(RunState {
            ctx,
            read_only,
            resp: &self.resp,
            watchdog: &self.watchdog,
        });
        let outcome = lua.scope(|scope| {
            let bridge_fn = scope.create_function_mut(|lua, args: MultiValue| {
                let mut st = state.borrow_mut();
                // DiskDB's own work (the command, its reply's conversion) runs without the
                // script's limit, as its setup does; the script's next allocation meets it.
                let _ = lua.set_memory_limit(0);
                let result = st.call(lua, args);
                let _ = lua.set_memory_limit(MEMORY_LIMIT);
                result
            })?;
            self.bridge.raw_set("fn", bridge_fn)?;
            let (ok, value): (bool, Value) = limited(lua, || match args {
                Some((keys, argv)) => self.runner.call((function, keys, argv)),
                None => self.runner.call(function),
            })?;
            let resp = protocol(&self.resp);
            let mut out = Reply::new();
            out.set_protocol(client_proto);
            let reply = if ok {
                convert::lua_to_reply(&value, resp, &mut out);
                Ok(out.take())
            } else {
                Err(convert::error_text(&value, label))
            };
            self.bridge.raw_set("fn", Value::Nil)?;
            Ok(reply)
        });
        self.watchdog.deadline_ms.store(0, Ordering::Relaxed);
        let ctx = state.into_inner().ctx;
        ctx.session.no_block = no_block;
        ctx.session.db = db;
        // Lua's incremental collector keeps up by itself; after a run that filled the Lua
        // state, collect all of it, so the next script has room.
        if lua.used_memory() > MEMORY_LIMIT / 2 {
            let _ = lua.gc_collect();
            let _ = lua.gc_collect();
        }
        match outcome {
            Ok(Ok(bytes)) => {
                ctx.reply.raw(&bytes);
                Ok(())
            }
            Ok(Err(text)) => Err(CommandError::owned(text)),
            Err(mlua::Error::MemoryError(_)) => Err(CommandError::Static(
                "ERR Error running script: not enough memory (the Lua state is full)",
            )),
            Err(e) => Err(lua_err(e)),
        }
    }
}

/// A function a library registered.
pub struct Registered {
    pub name: String,
    pub callback: Function,
    pub description: Option<Vec<u8>>,
    /// Redis's script flags given to it (`no-writes`, ...), in the order given.
    pub flags: Vec<&'static str>,
}

const FUNCTION_FLAGS: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

fn rt(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=..., callback=..., flags={...}, description=...}`.
fn register_args(args: MultiValue) -> mlua::Result<Registered> {
    let args: Vec<Value> = args.into_iter().collect();
    let (name, callback, flags, description) = match args.as_slice() {
        [Value::Table(t)] => {
            let mut name = None;
            let mut callback = None;
            let mut flags = None;
            let mut description = None;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => s.to_string_lossy(),
                    _ => return Err(rt("named argument key given to redis.register_function is not a string")),
                };
                match key.as_str() {
                    "function_name" => name = Some(v),
                    "callback" => callback = Some(v),
                    "flags" => flags = Some(v),
                    "description" => description = Some(v),
                    _ => return Err(rt("unknown argument given to redis.register_function")),
                }
            }
            let name = name.ok_or_else(|| rt("redis.register_function must get a function name argument"))?;
            let callback = callback.ok_or_else(|| rt("redis.register_function must get a callback argument"))?;
            (name, callback, flags, description)
        }
        [_] => {
            return Err(rt("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."))
        }
        [name, callback] => (name.clone(), callback.clone(), None, None),
        _ => return Err(rt("wrong number of arguments to redis.register_function")),
    };
    let name = match name {
        Value::String(s) => s.to_string_lossy(),
        _ => {
            return Err(rt(
                "function_name argument given to redis.register_function must be a string",
            ))
        }
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        // Redis 7.0 words a bad function name as a bad library name.
        return Err(rt("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"));
    }
    let Value::Function(callback) = callback else {
        return Err(rt(if flags.is_none() && description.is_none() {
            "second argument to redis.register_function must be a function"
        } else {
            "callback argument given to redis.register_function must be a function"
        }));
    };
    let mut flag_names = Vec::new();
    match flags {
        None | Some(Value::Nil) => {}
        Some(Value::Table(t)) => {
            for i in 1..=t.raw_len() {
                let flag = match t.raw_get::<Value>(i)? {
                    Value::String(s) => s.to_string_lossy(),
                    _ => return Err(rt("unknown flag given")),
                };
                match FUNCTION_FLAGS.iter().find(|f| **f == flag) {
                    Some(f) => flag_names.push(*f),
                    None => return Err(rt("unknown flag given")),
                }
            }
        }
        Some(_) => return Err(rt(
            "flags argument to redis.register_function must be a table representing function flags",
        )),
    }
    let description = match description {
        None | Some(Value::Nil) => None,
        Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(_) => {
            return Err(rt(
                "description argument given to redis.register_function must be a string",
            ))
        }
    };
    Ok(Registered {
        name,
        callback,
        description,
        flags: flag_names,
    })
}

/// What `redis.call` needs while a script runs.
struct RunState<'c, 'a, 'k, 't> {
    ctx: &'c mut Ctx<'a, 'k, 't>,
    read_only: bool,
    /// The protocol commands reply in (`redis.setresp`).
    resp: &'c AtomicU8,
    watchdog: &'c Watchdog,
}

impl RunState<'_, '_, '_, '_> {
    /// `bridge.fn(raise, name, args...)`: runs one command; returns its reply converted to Lua
    /// and whether it failed (the reply is then an error table).
    fn call(&mut self, lua: &Lua, mut args: MultiValue) -> mlua::Result<(Value, bool)> {
        let _raise = args.pop_front();
        let fail = |text: &str| -> mlua::Result<(Value, bool)> {
            Ok((convert::error_table(lua, text.as_bytes())?, true))
        };
        if args.is_empty() {
            return fail("ERR Please specify at least one argument for this redis lib call");
        }
        let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                Value::String(s) => argv.push(s.as_bytes().to_vec()),
                Value::Integer(n) => argv.push(n.to_string().into_bytes()),
                Value::Number(n) => argv.push(convert::shortest(n).into_bytes()),
                _ => {
                    return fail("ERR Lua redis lib command arguments must be strings or integers")
                }
            }
        }
        let Some(spec) = crate::commands::lookup(&argv[0]) else {
            return fail("ERR Unknown Redis command called from script");
        };
        if !spec.arity_ok(argv.len()) {
            return fail("ERR Wrong number of args calling Redis command from script");
        }
        let mut out = Reply::new();
        out.set_protocol(protocol(self.resp));
        {
            let mut inner = self.ctx.with_reply(&mut out);
            inner.caller = Caller::Script {
                read_only: self.read_only,
            };
            dispatch::call(&mut inner, &argv);
        }
        if dispatch::flags_of(spec, &argv) & crate::commands::flags::WRITE != 0 {
            self.watchdog.wrote.store(true, Ordering::Relaxed);
        }
        convert::reply_to_lua(lua, out.as_bytes())
    }
}
