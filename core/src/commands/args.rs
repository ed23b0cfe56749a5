//! Argument parsing shared by the command families, written once: integers, database indexes,
//! cursors, timeouts, random counts, and the `MATCH`/`COUNT` options of the *SCAN commands.

use super::Args;
use crate::error::CommandError;

/// Redis's `getLongLongFromObject`: a strict decimal integer.
pub fn parse_i64(arg: &[u8]) -> Result<i64, CommandError> {
    crate::protocol::string2ll(arg).ok_or(CommandError::NotInteger)
}

/// The count of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER: any integer but `i64::MIN`, whose
/// magnitude Redis cannot negate (its `getRangeLongFromObjectOrReply` bounds).
pub fn parse_random_count(arg: &[u8]) -> Result<i64, CommandError> {
    match parse_i64(arg)? {
        i64::MIN => Err(CommandError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        n => Ok(n),
    }
}

/// Redis's `getIntFromObject`: a strict decimal that fits in 32 bits.
pub fn parse_int(arg: &[u8]) -> Result<i32, CommandError> {
    let n = parse_i64(arg)?;
    i32::try_from(n).map_err(|_| {
        CommandError::Static(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        )
    })
}

/// A logical database index must be within 0..16.
pub fn db_in_range(n: i32) -> Result<usize, CommandError> {
    usize::try_from(n)
        .ok()
        .filter(|&d| d < crate::keyspace::DATABASES)
        .ok_or(CommandError::DbIndexOutOfRange)
}

/// A logical database index argument (SELECT, MOVE, COPY ... DB).
pub fn parse_db(arg: &[u8]) -> Result<usize, CommandError> {
    db_in_range(parse_int(arg)?)
}

/// Parses `[MATCH pattern] [COUNT count]` of the *SCAN commands.
pub fn scan_options<'a>(args: &mut Args<'a>) -> Result<(Option<&'a [u8]>, usize), CommandError> {
    let mut pattern = None;
    let mut count = 10;
    while let Some(opt) = args.try_next() {
        if args.remaining() == 0 {
            return Err(CommandError::Syntax);
        }
        if opt.eq_ignore_ascii_case(b"match") {
            pattern = Some(args.next_bytes()?).filter(|p| *p != b"*");
        } else if opt.eq_ignore_ascii_case(b"count") {
            let n = parse_i64(args.next_bytes()?)?;
            if n < 1 {
                return Err(CommandError::Syntax);
            }
            count = n as usize;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((pattern, count))
}

/// Redis's cursor parsing, which is C's `strtoul` on a C string: an optional sign (a negative
/// value wraps), digits, nothing after them; the empty string reads as 0; a leading space or an
/// overflow is "invalid cursor".
pub fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let s = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    if s.is_empty() {
        return Ok(0);
    }
    if s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return Err(CommandError::InvalidCursor);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CommandError::InvalidCursor);
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(CommandError::InvalidCursor)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Redis's timeout argument: seconds as a float, 0 = forever; returns the deadline in Unix ms.
pub fn parse_timeout(arg: &[u8], now_ms: i64) -> Result<Option<i64>, CommandError> {
    let not_float = CommandError::Static("ERR timeout is not a float or out of range");
    let text = std::str::from_utf8(arg).map_err(|_| not_float.clone())?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(not_float);
    }
    let secs: f64 = text.parse().map_err(|_| not_float.clone())?;
    if secs.is_nan() {
        return Err(not_float);
    }
    let ms = (secs * 1000.0).ceil();
    // Redis casts to a 64-bit integer; on x86 anything too big (inf included) lands on the most
    // negative value, hence its "negative" answer.
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CommandError::Static("ERR timeout is negative"));
    }
    let ms = ms as i64;
    if ms == 0 {
        return Ok(None);
    }
    ms.checked_add(now_ms)
        .map(Some)
        .ok_or(CommandError::Static("ERR timeout is out of range"))
}
/// The arguments not read yet.
pub fn rest<'a>(args: &mut Args<'a>) -> Vec<&'a [u8]> {
    std::iter::from_fn(|| args.try_next()).collect()
}

/// The optional `ASYNC | SYNC` of FLUSHALL, FLUSHDB, SCRIPT FLUSH and FUNCTION FLUSH, as the last
/// argument: whether it is absent or one of those (each command has its own error text).
pub fn flush_mode_ok(args: &mut Args<'_>) -> bool {
    match args.try_next() {
        None => true,
        Some(m) => {
            (m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async"))
                && args.remaining() == 0
        }
    }
}
