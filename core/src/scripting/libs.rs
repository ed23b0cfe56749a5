//! The libraries Redis loads into Lua besides Lua's own: `redis` (the parts that need no client
//! context), `cjson`, `cmsgpack`, `bit`, `struct`, and `math.random` on Redis's own generator. Written
//! here because the C libraries Redis vendors (lua_cjson, lua_cmsgpack, lua_bit) are not part of
//! the Lua that mlua builds; each follows the behaviour of the one Redis ships.

use std::sync::atomic::{AtomicU64, Ordering};

use mlua::{Lua, MultiValue, Table, Value, Variadic};

fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => std::str::from_utf8(&s.as_bytes()).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Lua's `luaL_where(L, 1)`: the position (`user_script:3: `) of the Lua code that called the
/// running library function.
fn position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// A function of one of the libraries Redis ports from C (`struct`, `cjson`, `cmsgpack`,
/// `bit`, `math.random`): its errors carry the caller's position, as `luaL_error`'s do.
fn lib_fn<A, R, F>(lua: &Lua, f: F) -> mlua::Result<mlua::Function>
where
    A: mlua::FromLuaMulti,
    R: mlua::IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
{
    lua.create_function(move |lua, args: A| {
        f(lua, args).map_err(|e| match e {
            mlua::Error::RuntimeError(msg) => {
                mlua::Error::RuntimeError(format!("{}{msg}", position(lua)))
            }
            other => other,
        })
    })
}

/// Redis's `rand.c` generator (the 48-bit linear congruential one of `lrand48`), so scripts see
/// the numbers Redis's scripts see.
static RAND48: AtomicU64 = AtomicU64::new(0x330E);

fn srand48(seed: i32) {
    RAND48.store((((seed as u32) as u64) << 16) | 0x330E, Ordering::Relaxed);
}

fn lrand48() -> i64 {
    let x = RAND48.load(Ordering::Relaxed);
    let next = x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & ((1 << 48) - 1);
    RAND48.store(next, Ordering::Relaxed);
    (next >> 17) as i64
}

/// Called before each script: nothing to reset today (Redis 7.0 keeps the generator's state
/// between scripts); kept as the one place a per-run reset would go.
pub fn reset_for_run(_lua: &Lua) {}

fn check_int(v: Option<&Value>, arg: usize, name: &str) -> mlua::Result<i32> {
    match v.and_then(num) {
        Some(n) => Ok(n as i32),
        None => Err(rt(format!(
            "bad argument #{arg} to '{name}' (number expected, got {})",
            v.map(|v| v.type_name()).unwrap_or("no value")
        ))),
    }
}

pub fn install(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    srand48(0);
    let math: Table = globals.raw_get("math")?;
    math.raw_set(
        "random",
        lib_fn(lua, |_, args: MultiValue| {
            const MAX: i64 = 2_147_483_647;
            let r = (lrand48() % MAX) as f64 / MAX as f64;
            let args: Vec<Value> = args.into_iter().collect();
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_int(args.first(), 1, "random")?;
                    if u < 1 {
                        return Err(rt("bad argument #1 to 'random' (interval is empty)"));
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                2 => {
                    let l = check_int(args.first(), 1, "random")?;
                    let u = check_int(args.get(1), 2, "random")?;
                    if l > u {
                        return Err(rt("bad argument #2 to 'random' (interval is empty)"));
                    }
                    Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
                }
                _ => Err(rt("wrong number of arguments")),
            }
        })?,
    )?;
    math.raw_set(
        "randomseed",
        lib_fn(lua, |_, args: MultiValue| {
            srand48(check_int(args.front(), 1, "randomseed")?);
            Ok(())
        })?,
    )?;
    globals.raw_set("bit", bit(lua)?)?;
    globals.raw_set("cjson", cjson(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack(lua)?)?;
    globals.raw_set("struct", structlib(lua)?)?;
    Ok(())
}

/// The parts of the `redis` table that need no client: the rest (`call`, `pcall`, `setresp`)
/// are bound per run.
pub fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(rt("wrong number of arguments"));
            }
            let bytes = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(v) => num(v)
                    .map(|n| n.to_string().into_bytes())
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            Ok(super::sha1_hex(&bytes))
        })?,
    )?;
    // Wrong arguments give an error *reply* (returned, not raised), as in Redis.
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let text = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
                _ => {
                    return super::convert::error_table(
                        lua,
                        b"ERR wrong number or type of arguments",
                    )
                }
            };
            let text = text.strip_prefix(b"-").unwrap_or(&text).to_vec();
            let text = if memchr::memchr(b' ', &text).is_some() {
                text
            } else {
                [b"ERR ".as_slice(), &text].concat()
            };
            super::convert::error_table(lua, &text)
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
            (1, Some(Value::String(s))) => {
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(Value::Table(t))
            }
            _ => super::convert::error_table(lua, b"ERR wrong number or type of arguments"),
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(rt("redis.log() requires two arguments or more."));
            }
            match args.front().and_then(num) {
                Some(level) if (0.0..=3.0).contains(&level) => Ok(()),
                Some(_) => Err(rt("Invalid debug level.")),
                None => Err(rt("First argument must be a number (log level).")),
            }
        })?,
    )?;
    redis.raw_set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    redis.raw_set(
        "replicate_commands",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    redis.raw_set(
        "breakpoint",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    redis.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, value)?;
    }
    let version = crate::commands::REDIS_VERSION;
    redis.raw_set("REDIS_VERSION", version)?;
    let parts: Vec<i64> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    let num = parts.iter().fold(0, |acc, p| (acc << 8) | p);
    redis.raw_set("REDIS_VERSION_NUM", num)?;
    Ok(redis)
}

/// LuaBitOp's `bit`: 32-bit operations on numbers.
fn bit(lua: &Lua) -> mlua::Result<Table> {
    /// Argument `index` of `name` as LuaBitOp reads it.
    fn tobit(v: Option<&Value>, index: usize, name: &str) -> mlua::Result<i32> {
        let n = v.and_then(num).ok_or_else(|| {
            rt(format!(
                "bad argument #{index} to '{name}' (number expected, got {})",
                v.map(|v| v.type_name()).unwrap_or("no value")
            ))
        })?;
        // LuaBitOp's normalisation: add 2^52+2^51 and keep the low 32 bits.
        let b = (n + 6_755_399_441_055_744.0).to_bits();
        Ok(b as u32 as i32)
    }
    type Unary = fn(i32) -> i32;
    type Binary = fn(i32, i32) -> i32;
    type Shift = fn(i32, u32) -> i32;
    let t = lua.create_table()?;
    let unary: [(&'static str, Unary); 3] = [
        ("tobit", |a| a),
        ("bnot", |a| !a),
        ("bswap", |a| a.swap_bytes()),
    ];
    for (name, op) in unary {
        let f = lib_fn(lua, move |_, args: Variadic<Value>| {
            Ok(op(tobit(args.first(), 1, name)?))
        })?;
        t.raw_set(name, f)?;
    }
    let folds: [(&'static str, Binary); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in folds {
        let f = lib_fn(lua, move |_, args: Variadic<Value>| {
            let mut acc = tobit(args.first(), 1, name)?;
            for (i, v) in args.iter().enumerate().skip(1) {
                acc = op(acc, tobit(Some(v), i + 1, name)?);
            }
            Ok(acc)
        })?;
        t.raw_set(name, f)?;
    }
    let shifts: [(&'static str, Shift); 5] = [
        ("lshift", |a, n| ((a as u32) << n) as i32),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ];
    for (name, op) in shifts {
        let f = lib_fn(lua, move |_, args: Variadic<Value>| {
            let a = tobit(args.first(), 1, name)?;
            let n = tobit(args.get(1), 2, name)?;
            Ok(op(a, (n & 31) as u32))
        })?;
        t.raw_set(name, f)?;
    }
    t.raw_set(
        "tohex",
        lib_fn(lua, |_, args: Variadic<Value>| {
            let x = tobit(args.first(), 1, "tohex")? as u32;
            let mut n = match args.get(1) {
                Some(Value::Nil) | None => 8,
                Some(v) => tobit(Some(v), 2, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let s = format!("{:08x}", x);
            let s = s[8 - n..].to_string();
            Ok(if upper { s.to_uppercase() } else { s })
        })?,
    )?;
    Ok(t)
}

/// Lua's `%.14g`, the way cjson and tostring print numbers.
fn lua_number(lua: &Lua, n: f64) -> mlua::Result<String> {
    Ok(lua
        .coerce_string(Value::Number(n))?
        .map(|s| s.to_string_lossy())
        .unwrap_or_default())
}

/// Whether a table is a sequence 1..n (cjson and cmsgpack encode those as arrays).
fn array_len(t: &Table) -> Option<usize> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.ok()?;
        match k {
            Value::Integer(i) if i >= 1 => max = max.max(i as usize),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as usize),
            _ => return None,
        }
        count += 1;
    }
    (max == count).then_some(max)
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let null = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
    t.raw_set("null", null)?;
    t.raw_set(
        "encode",
        lib_fn(lua, |lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(rt("bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let mut out = Vec::new();
            json_encode(lua, &args[0], &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lib_fn(lua, |lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return Err(rt("bad argument #1 to 'decode' (expected 1 argument)"));
            }
            let text = check_string(lua, args.first(), 1, "decode")?;
            super::json::decode(lua, &text)
        })?,
    )?;
    Ok(t)
}

/// lua_cjson's `lua_array_length`: the length to encode a table as an array (holes become
/// `null`), or `None` for an object. Keys must all be integers from 1; an array more than twice
/// as long as its element count and longer than 10 is "excessively sparse" (lua_cjson's
/// defaults: ratio 2, safe 10, no conversion), which is an error.
fn cjson_array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0f64, 0f64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k == 0.0 || k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        max = f64::max(max, k);
        items += 1.0;
    }
    if max > items * 2.0 && max > 10.0 {
        return Err(rt("Cannot serialise table: excessively sparse array"));
    }
    Ok((max > 0.0).then_some(max as usize))
}

fn json_encode(lua: &Lua, v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // Lua 5.1 has only doubles: lua_cjson prints every number with %.14g.
        Value::Integer(n) => out.extend_from_slice(lua_number(lua, *n as f64)?.as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(rt("Cannot serialise number: must not be NaN or Inf"));
            }
            out.extend_from_slice(lua_number(lua, *n)?.as_bytes())
        }
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let array = cjson_array_len(t)?;
            if depth + 1 > 1000 {
                return Err(rt(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                )));
            }
            if let Some(n) = array {
                if n > 0 {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        json_encode(lua, &t.raw_get::<Value>(i)?, out, depth + 1)?;
                    }
                    out.push(b']');
                    return Ok(());
                }
            }
            out.push(b'{');
            let mut first = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => json_string(&s.as_bytes(), out),
                    Value::Integer(_) | Value::Number(_) => {
                        let key = lua.coerce_string(k.clone())?.map(|s| s.as_bytes().to_vec());
                        json_string(&key.unwrap_or_default(), out)
                    }
                    other => {
                        return Err(rt(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            other.type_name()
                        )))
                    }
                }
                out.push(b':');
                json_encode(lua, &v, out, depth + 1)?;
            }
            out.push(b'}');
        }
        other => {
            return Err(rt(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// lua_cmsgpack: `pack(...)` concatenates the encodings of its arguments, `unpack(s)` returns
/// every object in `s`.
fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lib_fn(lua, |lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(rt(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                mp_encode(v, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lib_fn(lua, |lua, args: Variadic<Value>| {
            let data = check_string(lua, args.first(), 1, "unpack")?;
            mp_unpack_full(lua, &data, 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lib_fn(lua, |lua, args: Variadic<Value>| {
            let data = check_string(lua, args.first(), 1, "unpack_one")?;
            let offset = opt_int(args.get(1), 2, "unpack_one")?;
            mp_unpack_full(lua, &data, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lib_fn(lua, |lua, args: Variadic<Value>| {
            let data = check_string(lua, args.first(), 1, "unpack_limit")?;
            let limit = check_int(args.get(1), 2, "unpack_limit")?;
            let offset = opt_int(args.get(2), 3, "unpack_limit")?;
            mp_unpack_full(lua, &data, limit, offset)
        })?,
    )?;
    Ok(t)
}

/// `luaL_checklstring`: a string, or a number as Lua prints it.
fn check_string(lua: &Lua, v: Option<&Value>, arg: usize, name: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(lua_number(lua, *n as f64)?.into_bytes()),
        Some(Value::Number(n)) => Ok(lua_number(lua, *n)?.into_bytes()),
        other => Err(rt(format!(
            "bad argument #{arg} to '{name}' (string expected, got {})",
            other.map(|v| v.type_name()).unwrap_or("no value")
        ))),
    }
}

/// `luaL_optinteger(L, arg, 0)`.
fn opt_int(v: Option<&Value>, arg: usize, name: &str) -> mlua::Result<i32> {
    match v {
        None | Some(Value::Nil) => Ok(0),
        v => check_int(v, arg, name),
    }
}

/// lua_cmsgpack's `mp_unpack_full`: decodes up to `limit` objects from `offset` (all of them
/// when both are 0). With a limit or an offset, the first value returned is the offset to go on
/// from, -1 once the input is used up.
fn mp_unpack_full(lua: &Lua, data: &[u8], limit: i32, offset: i32) -> mlua::Result<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // lua_cmsgpack prints the input's length where it means the limit.
        return Err(rt(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len()
        )));
    }
    let start = offset as usize;
    if start > data.len() {
        return Err(rt(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )));
    }
    let limit = if decode_all {
        usize::MAX
    } else {
        limit as usize
    };
    let mut pos = start;
    let mut values = Vec::new();
    while pos < data.len() && values.len() < limit {
        values.push(mp_decode(lua, data, &mut pos, 0)?);
    }
    if !decode_all {
        let next = if pos == data.len() { -1 } else { pos as i64 };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_iter(values))
}

fn mp_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => mp_int(*n, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.is_finite() && n.abs() < 9.2e18 {
                mp_int(*n as i64, out)
            } else if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < 16 => {
            if let Some(n) = array_len(t) {
                mp_len(n, 0x90, 0xdc, out);
                for i in 1..=n {
                    mp_encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
            } else {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                mp_len(pairs.len(), 0x80, 0xde, out);
                for (k, v) in &pairs {
                    mp_encode(k, out, depth + 1)?;
                    mp_encode(v, out, depth + 1)?;
                }
            }
        }
        // Deeper tables and other types pack as nil, as lua_cmsgpack does.
        _ => out.push(0xc0),
    }
    Ok(())
}

fn mp_len(n: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn mp_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n < 128 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn mp_decode(lua: &Lua, b: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    let bad = || rt("Missing bytes in input.");
    let take = |pos: &mut usize, n: usize| -> mlua::Result<&[u8]> {
        let s = b.get(*pos..*pos + n).ok_or_else(bad)?;
        *pos += n;
        Ok(s)
    };
    if depth > 256 {
        return Err(rt("MessagePack nesting too deep"));
    }
    let tag = *take(pos, 1)?.first().ok_or_else(bad)?;
    let be = |s: &[u8]| s.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64);
    let num = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => num(tag as f64),
        0xe0..=0xff => num(tag as i8 as f64),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xcc..=0xcf => {
            let n = 1 << (tag - 0xcc);
            num(be(take(pos, n)?) as f64)
        }
        0xd0 => num(take(pos, 1)?[0] as i8 as f64),
        0xd1 => num(be(take(pos, 2)?) as u16 as i16 as f64),
        0xd2 => num(be(take(pos, 4)?) as u32 as i32 as f64),
        0xd3 => num(be(take(pos, 8)?) as i64 as f64),
        0xca => num(f32::from_bits(be(take(pos, 4)?) as u32) as f64),
        0xcb => num(f64::from_bits(be(take(pos, 8)?))),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let n = match tag {
                0xa0..=0xbf => (tag & 0x1f) as usize,
                0xd9 | 0xc4 => be(take(pos, 1)?) as usize,
                0xda | 0xc5 => be(take(pos, 2)?) as usize,
                _ => be(take(pos, 4)?) as usize,
            };
            Ok(Value::String(lua.create_string(take(pos, n)?)?))
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let n = match tag {
                0x90..=0x9f => (tag & 0x0f) as usize,
                0xdc => be(take(pos, 2)?) as usize,
                _ => be(take(pos, 4)?) as usize,
            };
            let t = lua.create_table()?;
            for i in 0..n {
                t.raw_set(i + 1, mp_decode(lua, b, pos, depth + 1)?)?;
            }
            Ok(Value::Table(t))
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let n = match tag {
                0x80..=0x8f => (tag & 0x0f) as usize,
                0xde => be(take(pos, 2)?) as usize,
                _ => be(take(pos, 4)?) as usize,
            };
            let t = lua.create_table()?;
            for _ in 0..n {
                let k = mp_decode(lua, b, pos, depth + 1)?;
                let v = mp_decode(lua, b, pos, depth + 1)?;
                if !matches!(k, Value::Nil) {
                    t.raw_set(k, v)?;
                }
            }
            Ok(Value::Table(t))
        }
        _ => Err(rt("Bad data format in input.")),
    }
}

/// What `redis` is while a library's code runs (FUNCTION LOAD): `register_function`, `log`
/// and the constants; anything else is the nonexistent-global error, as in Redis.
pub fn loading_api(lua: &Lua, register: mlua::Function) -> mlua::Result<Table> {
    let full = redis_table(lua)?;
    let api = lua.create_table()?;
    api.raw_set("register_function", register)?;
    for pair in full.pairs::<String, Value>() {
        let (name, value) = pair?;
        if name == "log" || name.starts_with("LOG_") || name.starts_with("REDIS_VERSION") {
            api.raw_set(name, value)?;
        }
    }
    // The API sits behind a read-only view, so `redis.call` while loading is the
    // nonexistent-global error.
    lua.load(
        r#"local api = ...
        return setmetatable({}, {
            __index = function(_, name)
                local v = rawget(api, name)
                if v == nil then
                    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
                end
                return v
            end,
            __newindex = function() error("Attempt to modify a readonly table", 2) end,
            __metatable = false,
        })"#,
    )
    .set_name("=redis")
    .call(api)
}

/// Roberto Ierusalimschy's `struct` library as Redis ships it (`lua_struct.c`): `pack`, `unpack`
/// and `size` of binary records described by a format string (`<` `>` byte order, `!n`
/// alignment, `b B h H l L T i[n] I[n]` integers, `f d` floats, `s` zero-terminated and `c[n]`
/// fixed strings, `x` padding).
fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lib_fn(lua, |lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let fmt = struct_format(args.first(), "pack")?;
            let mut out = Vec::new();
            let mut next = 1;
            let mut format = Format::new(&fmt);
            while let Some(item) = format.next_item("pack")? {
                let Item::Field { opt, size } = item else {
                    continue;
                };
                let pad = format.padding(out.len(), opt, size);
                out.resize(out.len() + pad, 0);
                let arg = args.get(next);
                match opt {
                    b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                        let n = arg_number(arg, next + 1, "pack")?;
                        next += 1;
                        let value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                        let mut bytes: Vec<u8> = (0..size)
                            .map(|i| if i < 8 { (value >> (8 * i)) as u8 } else { 0 })
                            .collect();
                        if format.big {
                            bytes.reverse();
                        }
                        out.extend_from_slice(&bytes);
                    }
                    b'x' => out.push(0),
                    b'f' | b'd' => {
                        let n = arg_number(arg, next + 1, "pack")?;
                        next += 1;
                        let mut bytes = if opt == b'f' {
                            (n as f32).to_le_bytes().to_vec()
                        } else {
                            n.to_le_bytes().to_vec()
                        };
                        if format.big {
                            bytes.reverse();
                        }
                        out.extend_from_slice(&bytes);
                    }
                    _ => {
                        // 'c' and 's'
                        let s = match arg {
                            Some(Value::String(s)) => s.as_bytes().to_vec(),
                            Some(v) if num(v).is_some() => lua
                                .coerce_string(v.clone())?
                                .map(|s| s.as_bytes().to_vec())
                                .unwrap_or_default(),
                            other => {
                                return Err(rt(format!(
                                    "bad argument #{} to 'pack' (string expected, got {})",
                                    next + 1,
                                    other.map(|v| v.type_name()).unwrap_or("no value")
                                )))
                            }
                        };
                        next += 1;
                        let size = if size == 0 { s.len() } else { size };
                        if s.len() < size {
                            // lua_struct names the argument after the string (its `arg++`).
                            return Err(rt(format!(
                                "bad argument #{} to 'pack' (string too short)",
                                next + 1
                            )));
                        }
                        out.extend_from_slice(&s[..size]);
                        if opt == b's' {
                            out.push(0);
                        }
                    }
                }
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lib_fn(lua, |lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let fmt = struct_format(args.first(), "unpack")?;
            let data = match args.get(1) {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                other => {
                    return Err(rt(format!(
                        "bad argument #2 to 'unpack' (string expected, got {})",
                        other.map(|v| v.type_name()).unwrap_or("no value")
                    )))
                }
            };
            let start = match args.get(2) {
                None | Some(Value::Nil) => 1.0,
                Some(v) => arg_number(Some(v), 3, "unpack")?,
            };
            if start < 1.0 || start as usize - 1 > data.len() {
                return Err(rt(
                    "bad argument #3 to 'unpack' (offset must be 1 or greater)",
                ));
            }
            let mut pos = start as usize - 1;
            let mut results: Vec<Value> = Vec::new();
            let short = || rt("bad argument #2 to 'unpack' (data string too short)");
            let mut format = Format::new(&fmt);
            while let Some(item) = format.next_item("unpack")? {
                let Item::Field { opt, mut size } = item else {
                    continue;
                };
                pos += format.padding(pos, opt, size);
                if size > data.len() || pos > data.len() - size {
                    return Err(short());
                }
                match opt {
                    b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                        let mut bytes = data[pos..pos + size].to_vec();
                        if format.big {
                            bytes.reverse();
                        }
                        let mut l: u64 = 0;
                        for (i, b) in bytes.iter().enumerate().take(8) {
                            l |= u64::from(*b) << (8 * i);
                        }
                        let signed = opt.is_ascii_lowercase();
                        let value = if signed && size < 8 && l & (1 << (size * 8 - 1)) != 0 {
                            (l | (u64::MAX << (size * 8 - 1))) as i64 as f64
                        } else if signed {
                            l as i64 as f64
                        } else {
                            l as f64
                        };
                        results.push(Value::Number(value));
                    }
                    b'x' => {}
                    b'f' | b'd' => {
                        let mut bytes = data[pos..pos + size].to_vec();
                        if format.big {
                            bytes.reverse();
                        }
                        let value = if opt == b'f' {
                            f64::from(f32::from_le_bytes(bytes.try_into().unwrap_or_default()))
                        } else {
                            f64::from_le_bytes(bytes.try_into().unwrap_or_default())
                        };
                        results.push(Value::Number(value));
                    }
                    b'c' => {
                        if size == 0 {
                            let previous = match results.last() {
                                Some(Value::Number(n)) => *n,
                                _ => return Err(rt("format 'c0' needs a previous size")),
                            };
                            results.pop();
                            size = previous.max(0.0) as usize;
                            if size > data.len() || pos > data.len() - size {
                                return Err(short());
                            }
                        }
                        results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
                    }
                    _ => {
                        // 's'
                        let Some(end) = memchr::memchr(0, &data[pos..]) else {
                            return Err(rt("unfinished string in data"));
                        };
                        results.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                        size = end + 1;
                    }
                }
                pos += size;
            }
            results.push(Value::Number((pos + 1) as f64));
            Ok(MultiValue::from_iter(results))
        })?,
    )?;
    t.raw_set(
        "size",
        lib_fn(lua, |_, args: MultiValue| {
            let fmt = struct_format(args.front(), "size")?;
            let mut pos = 0usize;
            let mut format = Format::new(&fmt);
            while let Some(item) = format.next_item("size")? {
                let Item::Field { opt, size } = item else {
                    continue;
                };
                pos += format.padding(pos, opt, size);
                if opt == b's' || (opt == b'c' && size == 0) {
                    let name = if opt == b's' { "s" } else { "c0" };
                    return Err(rt(format!(
                        "bad argument #1 to 'size' (option '{name}' has no fixed size)"
                    )));
                }
                pos += size;
            }
            Ok(pos as f64)
        })?,
    )?;
    Ok(t)
}

fn struct_format(v: Option<&Value>, func: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        other => Err(rt(format!(
            "bad argument #1 to '{func}' (string expected, got {})",
            other.map(|v| v.type_name()).unwrap_or("no value")
        ))),
    }
}

fn arg_number(v: Option<&Value>, index: usize, func: &str) -> mlua::Result<f64> {
    v.and_then(num).ok_or_else(|| {
        rt(format!(
            "bad argument #{index} to '{func}' (number expected, got {})",
            v.map(|v| v.type_name()).unwrap_or("no value")
        ))
    })
}

/// The most alignment `!` without a number asks for (a double's, on x86-64).
const MAX_ALIGN: usize = 8;
/// The widest integer `i[n]` / `I[n]` may be.
const MAX_INT_SIZE: usize = 32;

/// A format string being read, with the byte order and alignment its options set.
struct Format<'f> {
    fmt: &'f [u8],
    at: usize,
    big: bool,
    align: usize,
}

enum Item {
    /// A field: its option letter and size in bytes (0 for `s`, and for `c0`).
    Field { opt: u8, size: usize },
    /// An option that changes the byte order or alignment.
    Control,
}

impl<'f> Format<'f> {
    fn new(fmt: &'f [u8]) -> Self {
        Format {
            fmt,
            at: 0,
            big: false,
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.fmt.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut n: usize = 0;
        while let Some(d) = self.fmt.get(self.at).filter(|d| d.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .filter(|&n| n <= i32::MAX as usize)
                .ok_or_else(|| rt("integral size overflow"))?;
            self.at += 1;
        }
        Ok(n)
    }

    fn next_item(&mut self, func: &str) -> mlua::Result<Option<Item>> {
        let Some(&opt) = self.fmt.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        let size = match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b's' => 0,
            b'i' | b'I' => {
                let n = self.number(4)?;
                if n > MAX_INT_SIZE {
                    return Err(rt(format!(
                        "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                n
            }
            b' ' => return Ok(Some(Item::Control)),
            b'>' => {
                self.big = true;
                return Ok(Some(Item::Control));
            }
            b'<' | b'=' => {
                self.big = false;
                return Ok(Some(Item::Control));
            }
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(rt(format!("alignment {a} is not a power of 2")));
                }
                self.align = a;
                return Ok(Some(Item::Control));
            }
            other => {
                return Err(rt(format!(
                    "bad argument #1 to '{func}' (invalid format option '{}')",
                    other as char
                )))
            }
        };
        Ok(Some(Item::Field { opt, size }))
    }

    /// Padding before a field of `size` bytes at offset `len` (lua_struct's `gettoalign`).
    fn padding(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        if !size.is_power_of_two() {
            return 0;
        }
        (size - (len & (size - 1))) & (size - 1)
    }
}
