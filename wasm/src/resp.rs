//! Reading RESP replies back into values: the JavaScript API returns replies as JS values and the
//! `diskdb` command can print them the way redis-cli does. The engine writes RESP (it is what the
//! native server sends), so decoding its output keeps one encoder as the single source of truth.

/// One decoded reply (RESP2 or RESP3).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `+OK`
    Simple(Vec<u8>),
    /// `-ERR ...` or a RESP3 blob error.
    Error(Vec<u8>),
    /// `:5`
    Integer(i64),
    /// `$3 abc`, or a RESP3 verbatim string (its `txt:` prefix removed).
    Bulk(Vec<u8>),
    /// `$-1`, `*-1`, or RESP3 `_`.
    Null,
    /// `*N`, or RESP3 sets (`~`) and pushes (`>`), which JavaScript gets as arrays too.
    Array(Vec<Value>),
    /// RESP3 `%N`.
    Map(Vec<(Value, Value)>),
    /// RESP3 `,1.5` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(123...`, kept as its decimal digits.
    BigNumber(Vec<u8>),
}

/// A reply that is not valid RESP (a bug in the encoder, never user input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError;

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed RESP reply")
    }
}

impl std::error::Error for DecodeError {}

/// Nesting deeper than this is refused instead of risking the (small) wasm stack.
const MAX_DEPTH: usize = 512;

/// Decodes every reply in `buf`, which must hold whole replies.
pub fn decode_all(buf: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let (value, used) = decode(&buf[pos..])?;
        out.push(value);
        pos += used;
    }
    Ok(out)
}

/// Decodes the first reply in `buf`; returns it and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut pos = 0;
    let value = value(buf, &mut pos, 0)?;
    Ok((value, pos))
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], DecodeError> {
    let rest = buf.get(*pos..).ok_or(DecodeError)?;
    let end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(DecodeError)?;
    *pos += end + 2;
    Ok(&rest[..end])
}

fn number(text: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(DecodeError)
}

fn blob<'a>(buf: &'a [u8], pos: &mut usize, len: i64) -> Result<&'a [u8], DecodeError> {
    let len = usize::try_from(len).map_err(|_| DecodeError)?;
    let end = pos.checked_add(len).ok_or(DecodeError)?;
    let data = buf.get(*pos..end).ok_or(DecodeError)?;
    if buf.get(end..end + 2) != Some(b"\r\n".as_slice()) {
        return Err(DecodeError);
    }
    *pos = end + 2;
    Ok(data)
}

fn value(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError);
    }
    let kind = *buf.get(*pos).ok_or(DecodeError)?;
    *pos += 1;
    let head = line(buf, pos)?;
    Ok(match kind {
        b'+' => Value::Simple(head.to_vec()),
        b'-' => Value::Error(head.to_vec()),
        b':' => Value::Integer(number(head)?),
        b'$' | b'!' | b'=' => {
            let len = number(head)?;
            if len < 0 {
                return Ok(Value::Null);
            }
            let data = blob(buf, pos, len)?;
            match kind {
                b'!' => Value::Error(data.to_vec()),
                // A verbatim string starts with its three-letter format and a colon.
                b'=' => Value::Bulk(data.get(4..).unwrap_or_default().to_vec()),
                _ => Value::Bulk(data.to_vec()),
            }
        }
        b'*' | b'~' | b'>' => {
            let n = number(head)?;
            if n < 0 {
                return Ok(Value::Null);
            }
            let n = usize::try_from(n).map_err(|_| DecodeError)?;
            // Every element takes at least 3 bytes: a hostile count cannot reserve much.
            let mut items = Vec::with_capacity(n.min(buf.len() / 3));
            for _ in 0..n {
                items.push(value(buf, pos, depth + 1)?);
            }
            Value::Array(items)
        }
        b'%' | b'|' => {
            let n = usize::try_from(number(head)?).map_err(|_| DecodeError)?;
            let mut pairs = Vec::with_capacity(n.min(buf.len() / 6));
            for _ in 0..n {
                let k = value(buf, pos, depth + 1)?;
                let v = value(buf, pos, depth + 1)?;
                pairs.push((k, v));
            }
            if kind == b'|' {
                // Attributes describe the reply that follows; callers only want that reply.
                return value(buf, pos, depth + 1);
            }
            Value::Map(pairs)
        }
        b'_' => Value::Null,
        b'#' => Value::Boolean(head == b"t"),
        b',' => Value::Double(parse_double(head)?),
        b'(' => Value::BigNumber(head.to_vec()),
        _ => return Err(DecodeError),
    })
}

fn parse_double(text: &[u8]) -> Result<f64, DecodeError> {
    match text {
        b"inf" => Ok(f64::INFINITY),
        b"-inf" => Ok(f64::NEG_INFINITY),
        b"nan" | b"-nan" => Ok(f64::NAN),
        _ => std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(DecodeError),
    }
}

/// Quotes bytes as redis-cli does (`sdscatrepr`): printable ASCII as is, the usual escapes,
/// everything else as `\xHH`.
pub fn quote(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
}

/// Formats a reply the way an interactive redis-cli prints it, one line per scalar.
pub fn to_cli_text(value: &Value) -> String {
    let mut out = String::new();
    cli(value, "", &mut out);
    out
}

fn cli(value: &Value, indent: &str, out: &mut String) {
    match value {
        Value::Simple(s) => out.push_str(&String::from_utf8_lossy(s)),
        Value::Error(e) => {
            out.push_str("(error) ");
            out.push_str(&String::from_utf8_lossy(e));
        }
        Value::Integer(n) => out.push_str(&format!("(integer) {n}")),
        Value::Bulk(b) => quote(b, out),
        Value::Null => out.push_str("(nil)"),
        Value::Double(d) => out.push_str(&format!(
            "(double) {}",
            diskdb_core::protocol::reply::format_double(*d)
        )),
        Value::Boolean(b) => out.push_str(if *b { "(true)" } else { "(false)" }),
        Value::BigNumber(n) => {
            out.push_str("(big number) ");
            out.push_str(&String::from_utf8_lossy(n));
        }
        Value::Array(items) if items.is_empty() => out.push_str("(empty array)"),
        Value::Map(pairs) if pairs.is_empty() => out.push_str("(empty hash)"),
        Value::Array(items) => {
            let width = items.len().to_string().len();
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("{:>width$}) ", i + 1);
                if i > 0 {
                    out.push('\n');
                    out.push_str(indent);
                }
                out.push_str(&prefix);
                let nested = format!("{indent}{}", " ".repeat(prefix.len()));
                cli(item, &nested, out);
            }
        }
        Value::Map(pairs) => {
            let width = pairs.len().to_string().len();
            for (i, (k, v)) in pairs.iter().enumerate() {
                let prefix = format!("{:>width$}# ", i + 1);
                if i > 0 {
                    out.push('\n');
                    out.push_str(indent);
                }
                out.push_str(&prefix);
                let nested = format!("{indent}{}", " ".repeat(prefix.len()));
                cli(k, &nested, out);
                out.push_str(" => ");
                cli(v, &nested, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_resp2_and_resp3() {
        let input =
            b"+OK\r\n-ERR x\r\n:-5\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n:1\r\n*-1\r\n%1\r\n+k\r\n,1.5\r\n#t\r\n_\r\n=7\r\ntxt:abc\r\n";
        let values = decode_all(input).unwrap();
        assert_eq!(
            values,
            vec![
                Value::Simple(b"OK".to_vec()),
                Value::Error(b"ERR x".to_vec()),
                Value::Integer(-5),
                Value::Bulk(b"a\r\n".to_vec()),
                Value::Null,
                Value::Array(vec![Value::Integer(1), Value::Null]),
                Value::Map(vec![(Value::Simple(b"k".to_vec()), Value::Double(1.5))]),
                Value::Boolean(true),
                Value::Null,
                Value::Bulk(b"abc".to_vec()),
            ]
        );
    }

    #[test]
    fn truncated_or_hostile_input_is_an_error_not_a_panic() {
        for bad in [
            &b"$5\r\nab\r\n"[..],
            b"*3\r\n:1\r\n",
            b":x\r\n",
            b"?\r\n",
            b"*99999999999\r\n",
            b"$-7\r\n",
        ] {
            let _ = decode_all(bad);
        }
        assert!(decode_all(b"$5\r\nab\r\n").is_err());
    }

    #[test]
    fn renders_like_redis_cli() {
        let v = Value::Array(vec![
            Value::Array(vec![Value::Bulk(b"a".to_vec()), Value::Integer(2)]),
            Value::Bulk(b"x\n\"\xff".to_vec()),
            Value::Null,
        ]);
        assert_eq!(
            to_cli_text(&v),
            "1) 1) \"a\"\n   2) (integer) 2\n2) \"x\\n\\\"\\xff\"\n3) (nil)"
        );
        assert_eq!(to_cli_text(&Value::Array(vec![])), "(empty array)");
        assert_eq!(to_cli_text(&Value::Simple(b"OK".to_vec())), "OK");
    }
}
