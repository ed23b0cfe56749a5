//! The Rust request parser: the same rules as `csrc/diskdb_resp.c` (see `docs/protocol.md`), for
//! targets without the C parser. The differential test in `core/tests/parser_differential.rs`
//! holds the two to identical outcomes.

use super::arena::{Arena, Span};
use super::{Limits, ProtocolError};

/// Parses one request into `arena.spans`; `Ok(Some(n))` is the bytes consumed.
pub(crate) fn parse(
    buf: &[u8],
    limits: &Limits,
    arena: &mut Arena,
) -> Result<Option<usize>, ProtocolError> {
    arena.spans.clear();
    arena.argc = 0;
    if buf.first() == Some(&b'*') {
        arena.inline = false;
        parse_multibulk(buf, limits, arena)
    } else {
        arena.inline = true;
        parse_inline(buf, limits, arena)
    }
}

/// Position of the first `needle` at or after `from`, or `None` when absent or preceded by a NUL
/// (Redis scans with `strchr`, which stops at a NUL).
fn find_before_nul(buf: &[u8], from: usize, needle: u8) -> Option<usize> {
    let at = from + memchr::memchr2(needle, 0, &buf[from..])?;
    (buf[at] == needle).then_some(at)
}

/// The common case of a header line at `buf[at..]`, without a search: `prefix`, then `0` or a
/// digit 1-9 and at most 17 more digits, then `\r` and one more byte. Returns the value and the
/// position after the line, or `None` for anything else, which the general path then handles.
///
/// Where this answers, the general path would answer the same: the line holds no `\r` or NUL
/// before the one found here, and `string2ll` accepts these digits with this value (at most 18
/// digits, so no overflow is possible).
#[inline(always)]
fn quick_header(buf: &[u8], at: usize, prefix: u8) -> Option<(u64, usize)> {
    let [p, first, rest @ ..] = buf.get(at..)? else {
        return None;
    };
    let mut value = u64::from(first.wrapping_sub(b'0'));
    if *p != prefix || value > 9 {
        return None;
    }
    for (i, &b) in rest.iter().enumerate().take(18) {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 && value != 0 {
            value = value * 10 + u64::from(digit);
        } else if b == b'\r' && i + 1 < rest.len() {
            return Some((value, at + i + 4));
        } else {
            // A leading zero, another byte, or no byte after the '\r': the general path decides.
            return None;
        }
    }
    None
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    arena: &mut Arena,
) -> Result<Option<usize>, ProtocolError> {
    let (count, mut pos) = match quick_header(buf, 0, b'*') {
        Some((0, next)) => return Ok(Some(next)),
        Some((n, next)) if n <= limits.max_args => (n as usize, next),
        Some(_) => return Err(ProtocolError::InvalidMultibulkLength),
        None => match count_line(buf, limits)? {
            Count::Args(n, next) => (n, next),
            Count::Done(consumed) => return Ok(consumed),
        },
    };
    arena.spans.reserve(count);
    for _ in 0..count {
        let (blen, start) = match quick_header(buf, pos, b'$') {
            Some((n, next)) if n <= limits.max_bulk_len => (n, next),
            Some(_) => return Err(ProtocolError::InvalidBulkLength),
            None => match bulk_header(buf, pos, limits)? {
                Some(header) => header,
                None => return Ok(None),
            },
        };
        // The bulk and its two trailing bytes (unchecked, as in Redis) must be present.
        if ((buf.len() - start) as u64) < blen + 2 {
            return Ok(None);
        }
        let len = blen as usize;
        arena.spans.push(Span { start, len });
        pos = start + len + 2;
    }
    arena.argc = count;
    Ok(Some(pos))
}

/// What the general path made of a `*N` line.
enum Count {
    /// `n > 0` arguments follow, from the given position.
    Args(usize, usize),
    /// No arguments to read: `Some(consumed)` for a count `<= 0`, `None` when incomplete.
    Done(Option<usize>),
}

/// The `*N` line by the rules of `docs/protocol.md`, for any input.
fn count_line(buf: &[u8], limits: &Limits) -> Result<Count, ProtocolError> {
    let Some(cr) = find_before_nul(buf, 0, b'\r') else {
        return if buf.len() > limits.max_inline {
            Err(ProtocolError::TooBigMultibulkCount)
        } else {
            Ok(Count::Done(None))
        };
    };
    // Redis skips the byte after '\r' without checking it is '\n'.
    if cr + 1 >= buf.len() {
        return Ok(Count::Done(None));
    }
    match string2ll(&buf[1..cr]) {
        Some(n) if n <= 0 => Ok(Count::Done(Some(cr + 2))),
        Some(n) if (n as u64) <= limits.max_args => Ok(Count::Args(n as usize, cr + 2)),
        _ => Err(ProtocolError::InvalidMultibulkLength),
    }
}

/// A `$N` line at `pos` by the rules of `docs/protocol.md`, for any input: the bulk length and
/// the position of its data, or `None` when incomplete.
fn bulk_header(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
) -> Result<Option<(u64, usize)>, ProtocolError> {
    let Some(cr) = find_before_nul(buf, pos, b'\r') else {
        return if buf.len() - pos > limits.max_inline {
            Err(ProtocolError::TooBigBulkCount)
        } else {
            Ok(None)
        };
    };
    if cr + 1 >= buf.len() {
        return Ok(None);
    }
    if buf[pos] != b'$' {
        return Err(ProtocolError::ExpectedDollar(buf[pos]));
    }
    match string2ll(&buf[pos + 1..cr]) {
        Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => Ok(Some((n as u64, cr + 2))),
        _ => Err(ProtocolError::InvalidBulkLength),
    }
}

fn parse_inline(
    buf: &[u8],
    limits: &Limits,
    arena: &mut Arena,
) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[..buf.len().min(limits.max_inline.saturating_add(1))];
    let newline = match memchr::memchr2(b'\n', 0, window) {
        Some(at) if window[at] == b'\n' && at <= limits.max_inline => at,
        _ if buf.len() > limits.max_inline => return Err(ProtocolError::TooBigInline),
        _ => return Ok(None),
    };
    let mut line = &buf[..newline];
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    arena.scratch.clear();
    split_into(line, &mut arena.scratch, &mut arena.spans)?;
    arena.argc = arena.spans.len();
    Ok(Some(newline + 1))
}

/// Splits a line into arguments with Redis's rules for inline requests and config files
/// (`sdssplitargs`): whitespace separates, `"…"` takes C-like escapes, `'…'` takes `\'`.
pub fn split_args(line: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let mut scratch = Vec::new();
    let mut spans = Vec::new();
    split_into(line, &mut scratch, &mut spans)?;
    Ok(spans
        .iter()
        .map(|s| scratch[s.start..s.start + s.len].to_vec())
        .collect())
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Appends each argument's unescaped bytes to `out` and its span to `spans`.
fn split_into(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<Span>) -> Result<(), ProtocolError> {
    // A NUL ends the line for `sdssplitargs`; the caller's newline search already guarantees none.
    let line = &line[..memchr::memchr(0, line).unwrap_or(line.len())];
    let at = |i: usize| line.get(i).copied();
    let mut p = 0;
    loop {
        while at(p).is_some_and(is_space) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let start = out.len();
        #[derive(PartialEq)]
        enum Mode {
            Plain,
            Double,
            Single,
        }
        let mut mode = Mode::Plain;
        loop {
            let Some(c) = at(p) else {
                if mode != Mode::Plain {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                break;
            };
            match mode {
                Mode::Double => match c {
                    b'\\'
                        if at(p + 1) == Some(b'x')
                            && at(p + 2).and_then(hex_value).is_some()
                            && at(p + 3).and_then(hex_value).is_some() =>
                    {
                        let hi = at(p + 2).and_then(hex_value).unwrap_or(0);
                        let lo = at(p + 3).and_then(hex_value).unwrap_or(0);
                        out.push(hi * 16 + lo);
                        p += 3;
                    }
                    b'\\' if at(p + 1).is_some() => {
                        p += 1;
                        out.push(match line[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    b'"' => {
                        if at(p + 1).is_some_and(|n| !is_space(n)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    other => out.push(other),
                },
                Mode::Single => match c {
                    b'\\' if at(p + 1) == Some(b'\'') => {
                        p += 1;
                        out.push(b'\'');
                    }
                    b'\'' => {
                        if at(p + 1).is_some_and(|n| !is_space(n)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    other => out.push(other),
                },
                Mode::Plain => match c {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => mode = Mode::Double,
                    b'\'' => mode = Mode::Single,
                    other => out.push(other),
                },
            }
            p += 1;
        }
        spans.push(Span {
            start,
            len: out.len() - start,
        });
    }
}

/// Redis's `string2ll`: strict decimal, no `+`, no leading zeros, no spaces, fits in `i64`.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_matches_redis_edge_cases() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"123456789012345678901",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn split_args_follows_sdssplitargs() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"set k v", &[b"set", b"k", b"v"]),
            (b"  a   b  ", &[b"a", b"b"]),
            (b"set k \"a b\"", &[b"set", b"k", b"a b"]),
            (b"\"\\x41\\n\"", &[b"A\n"]),
            (b"'it\\'s'", &[b"it's"]),
            (b"a\"b c\"", &[b"ab c"]),
            (b"\"\\q\"", &[b"q"]),
            (b"\"\\x4\"", &[b"x4"]),
            (b"''", &[b""]),
        ];
        for (line, want) in cases {
            let got = split_args(line).unwrap();
            let want: Vec<Vec<u8>> = want.iter().map(|w| w.to_vec()).collect();
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(line));
        }
        for bad in [&b"\"abc"[..], b"'abc", b"\"a\"b", b"'a'b", b"\"a\\"] {
            assert_eq!(split_args(bad), Err(ProtocolError::UnbalancedQuotes));
        }
    }
}
