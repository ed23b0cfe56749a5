//! Conversions between RESP replies and Lua values, as Redis documents them ("Data type
//! conversion" in the EVAL introduction), in both directions and for RESP2 and RESP3.

use mlua::{Lua, Table, Value};

use crate::protocol::reply::{Protocol, Reply};

/// Redis's `luaPushErrorBuff`: `text` is an error reply without its `-` (`CODE message`); a text
/// without a code gets `ERR`.
pub fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    let text = text.strip_suffix(b"\r\n").unwrap_or(text);
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(text)?)?;
    Ok(Value::Table(t))
}

/// An error reply seen by `redis.call` (`-CODE message`): `CODE message`, or `ERR message` when
/// the reply has no space to separate a code.
fn reply_error_text(line: &[u8]) -> Vec<u8> {
    match memchr::memchr(b' ', line) {
        Some(_) => line.to_vec(),
        None => {
            let mut out = b"ERR ".to_vec();
            out.extend_from_slice(line);
            out
        }
    }
}

/// Converts one reply (the whole of `bytes`) to a Lua value; `true` when it is an error.
pub fn reply_to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut pos = 0;
    let failed = bytes.first() == Some(&b'-');
    let value = parse(lua, bytes, &mut pos)?;
    Ok((value, failed))
}

fn line<'b>(bytes: &'b [u8], pos: &mut usize) -> mlua::Result<&'b [u8]> {
    let rest = bytes.get(*pos..).unwrap_or_default();
    let end = memchr::memmem::find(rest, b"\r\n")
        .ok_or_else(|| mlua::Error::RuntimeError("truncated reply".into()))?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn number(text: &[u8]) -> i64 {
    crate::protocol::string2ll(text).unwrap_or(0)
}

fn tagged(lua: &Lua, tag: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(tag, value)?;
    Ok(Value::Table(t))
}

fn parse(lua: &Lua, bytes: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let kind = *bytes
        .get(*pos)
        .ok_or_else(|| mlua::Error::RuntimeError("truncated reply".into()))?;
    *pos += 1;
    let head = line(bytes, pos)?;
    Ok(match kind {
        b'+' => tagged(lua, "ok", lua.create_string(head)?)?,
        b'-' => error_table(lua, &reply_error_text(head))?,
        b':' => Value::Number(number(head) as f64),
        b'$' | b'=' => {
            let n = number(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let start = *pos;
            let end = start + n as usize;
            let body = bytes
                .get(start..end)
                .ok_or_else(|| mlua::Error::RuntimeError("truncated reply".into()))?;
            *pos = end + 2;
            if kind == b'=' {
                let (format, text) = (
                    body.get(..3).unwrap_or_default(),
                    body.get(4..).unwrap_or_default(),
                );
                let v = lua.create_table()?;
                v.raw_set("format", lua.create_string(format)?)?;
                v.raw_set("string", lua.create_string(text)?)?;
                tagged(lua, "verbatim_string", v)?
            } else {
                Value::String(lua.create_string(body)?)
            }
        }
        b'*' | b'~' | b'%' | b'>' => {
            let n = number(head);
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            match kind {
                b'%' => {
                    for _ in 0..n {
                        let k = parse(lua, bytes, pos)?;
                        let v = parse(lua, bytes, pos)?;
                        t.raw_set(k, v)?;
                    }
                    tagged(lua, "map", t)?
                }
                b'~' => {
                    for _ in 0..n {
                        let k = parse(lua, bytes, pos)?;
                        t.raw_set(k, true)?;
                    }
                    tagged(lua, "set", t)?
                }
                _ => {
                    for i in 0..n {
                        let v = parse(lua, bytes, pos)?;
                        t.raw_set(i + 1, v)?;
                    }
                    Value::Table(t)
                }
            }
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let d = std::str::from_utf8(head)
                .ok()
                .and_then(|s| match s {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    other => other.parse().ok(),
                })
                .unwrap_or(0.0);
            tagged(lua, "double", d)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(head)?)?,
        _ => Value::Nil,
    })
}

fn text_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
    }
}

/// Redis's `luaReplyToRedisReply`: a script's return value (and the values inside it) as a reply
/// in the client's protocol; `resp` is the script's `redis.setresp` choice, which decides how
/// booleans are sent.
pub fn lua_to_reply(value: &Value, resp: Protocol, out: &mut Reply) {
    to_reply(value, resp, out, 0)
}

/// Nesting past which the reply gets Redis's "reached lua stack limit" error in place of the
/// deeper table. Redis reaches its Lua stack limit at 7995 levels; DiskDB stops earlier, so
/// that the recursive conversion stays well inside the server thread's stack.
const MAX_DEPTH: usize = 1000;

fn to_reply(value: &Value, resp: Protocol, out: &mut Reply, depth: usize) {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp == Protocol::Resp2 {
                if *b {
                    out.integer(1)
                } else {
                    out.null()
                }
            } else {
                out.boolean(*b)
            }
        }
        Value::Integer(n) => out.integer(*n),
        Value::Number(n) => out.integer(saturating_i64(*n)),
        Value::Table(_) if depth >= MAX_DEPTH => out.error(b"ERR reached lua stack limit"),
        Value::Table(t) => table_to_reply(t, resp, out, depth + 1),
        _ => out.null(),
    }
}

/// C's `(long long)` of a Lua number as x86-64 computes it: values it cannot represent (NaN,
/// infinities, out of range) become `i64::MIN`.
fn saturating_i64(n: f64) -> i64 {
    if n.is_finite() && n > -9.223_372_036_854_776e18 && n < 9.223_372_036_854_776e18 {
        n as i64
    } else {
        i64::MIN
    }
}

/// A number argument of `redis.call` as Redis writes it (`fpconv_dtoa`): the shortest text that
/// reads back as the same double, without an exponent for ordinary magnitudes.
pub fn shortest(n: f64) -> String {
    let magnitude = n.abs();
    if n == 0.0 || (1e-6..1e21).contains(&magnitude) {
        format!("{n}")
    } else if n.is_nan() {
        "nan".into()
    } else if n.is_infinite() {
        if n > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        let s = format!("{n:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    }
}

fn table_to_reply(t: &Table, resp: Protocol, out: &mut Reply, depth: usize) {
    let field = |name: &str| t.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Some(err) = text_of(&field("err")) {
        let mut text = err;
        if text.first() == Some(&b'-') {
            text.remove(0);
        }
        return out.error(&trim_newlines(text));
    }
    if let Some(ok) = text_of(&field("ok")) {
        let ok: Vec<u8> = ok
            .into_iter()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        return out.raw(&[b"+".as_slice(), &ok, b"\r\n"].concat());
    }
    if let Value::Number(d) = field("double") {
        return out.double(d);
    }
    if let Value::Integer(d) = field("double") {
        return out.double(d as f64);
    }
    if let Some(big) = text_of(&field("big_number")) {
        let big: Vec<u8> = big
            .into_iter()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        if out.protocol() == Protocol::Resp3 {
            return out.raw(&[b"(".as_slice(), &big, b"\r\n"].concat());
        }
        return out.bulk(&big);
    }
    if let Value::Table(v) = field("verbatim_string") {
        let format = text_of(&v.raw_get::<Value>("format").unwrap_or(Value::Nil));
        let string = text_of(&v.raw_get::<Value>("string").unwrap_or(Value::Nil));
        if let (Some(format), Some(string)) = (format, string) {
            if out.protocol() == Protocol::Resp3 && format.len() == 3 {
                let mut body = format;
                body.push(b':');
                body.extend_from_slice(&string);
                out.raw(format!("={}\r\n", body.len()).as_bytes());
                out.raw(&body);
                return out.raw(b"\r\n");
            }
            return out.bulk(&string);
        }
    }
    if let Value::Table(m) = field("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            to_reply(k, resp, out, depth);
            to_reply(v, resp, out, depth);
        }
        return;
    }
    if let Value::Table(s) = field("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        for k in &keys {
            to_reply(k, resp, out, depth);
        }
        return;
    }
    let mut items = Vec::new();
    let mut exhausted = false;
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) => break,
            Ok(v) => items.push(v),
            // Lua's stack ran out (a table nested thousands deep): Redis's error, in place.
            Err(_) => {
                exhausted = true;
                break;
            }
        }
    }
    out.array(items.len() + usize::from(exhausted));
    for v in &items {
        to_reply(v, resp, out, depth);
    }
    if exhausted {
        out.error(b"ERR reached lua stack limit");
    }
}

fn trim_newlines(mut text: Vec<u8>) -> Vec<u8> {
    while matches!(text.last(), Some(b'\r' | b'\n')) {
        text.pop();
    }
    text
}

/// The reply text (without `-`) of a script that raised `err` (a table from the error handler):
/// `message script: <sha>, on @user_script:<line>.` as Redis 7.0 words it.
pub fn error_text(err: &Value, sha: &str) -> String {
    let Value::Table(t) = err else {
        return format!("ERR Error running script {sha}, execution failure");
    };
    let msg = t
        .raw_get::<Value>("err")
        .ok()
        .and_then(|v| text_of(&v))
        .map(|m| String::from_utf8_lossy(&trim_newlines(m)).into_owned())
        .unwrap_or_else(|| "ERR unknown error".into());
    let msg = msg.strip_prefix('-').unwrap_or(&msg).to_owned();
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(source), Some(line)) => format!("{msg} script: {sha}, on {source}:{line}."),
        _ => msg,
    }
}
