//! Reading doubles the way Redis does: C's `strtod` (glibc), then Redis's own checks on top.
//!
//! `strtod` accepts more than Rust's `f64::from_str`: leading white space, `infinity`,
//! `nan(...)`, hexadecimal floats (`0x1p3`), and it reports overflow and underflow (`ERANGE`),
//! which ZADD rejects. The decimal digits themselves go through `f64::from_str`, which rounds
//! correctly, as glibc does.

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn starts_with_ci(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// What `strtod` made of a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strtod {
    pub value: f64,
    /// Bytes used (`endptr - nptr`); 0 when no number was found.
    pub used: usize,
    /// `errno == ERANGE` with a result of ±HUGE_VAL or zero (overflow, or underflow to zero).
    pub out_of_range: bool,
}

const NOTHING: Strtod = Strtod {
    value: 0.0,
    used: 0,
    out_of_range: false,
};

/// glibc's `strtod` on bytes (a NUL byte ends the string, as in C).
pub fn strtod(s: &[u8]) -> Strtod {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let sign_at = i;
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let signed = |v: f64| if negative { -v } else { v };
    let rest = &s[i..];
    if starts_with_ci(rest, b"inf") {
        let used = if starts_with_ci(rest, b"infinity") {
            8
        } else {
            3
        };
        return Strtod {
            value: signed(f64::INFINITY),
            used: i + used,
            out_of_range: false,
        };
    }
    if starts_with_ci(rest, b"nan") {
        let mut used = i + 3;
        if s.get(used) == Some(&b'(') {
            let mut k = used + 1;
            while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
                k += 1;
            }
            if s.get(k) == Some(&b')') {
                used = k + 1;
            }
        }
        return Strtod {
            value: f64::NAN,
            used,
            out_of_range: false,
        };
    }
    if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        let after = &rest[2..];
        let hex_digit_next = after.first().is_some_and(u8::is_ascii_hexdigit)
            || (after.first() == Some(&b'.') && after.get(1).is_some_and(u8::is_ascii_hexdigit));
        if hex_digit_next {
            let (value, used, nonzero) = hex(after);
            return finish(signed(value), i + 2 + used, nonzero);
        }
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one digit in the mantissa.
    let mut j = i;
    let mut digits = 0;
    let mut nonzero = false;
    while j < s.len() && s[j].is_ascii_digit() {
        nonzero |= s[j] != b'0';
        digits += 1;
        j += 1;
    }
    if s.get(j) == Some(&b'.') {
        j += 1;
        while j < s.len() && s[j].is_ascii_digit() {
            nonzero |= s[j] != b'0';
            digits += 1;
            j += 1;
        }
    }
    if digits == 0 {
        return NOTHING;
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            j = k;
        }
    }
    let parsed = std::str::from_utf8(&s[sign_at..j])
        .ok()
        .and_then(|t| t.parse::<f64>().ok());
    match parsed {
        Some(value) => finish(value, j, nonzero),
        None => NOTHING,
    }
}

/// Flags overflow (digits, not `inf`, that come out infinite) and underflow to zero.
fn finish(value: f64, used: usize, nonzero: bool) -> Strtod {
    let out_of_range = value.is_infinite() || (value == 0.0 && nonzero);
    Strtod {
        value,
        used,
        out_of_range,
    }
}

/// A hexadecimal float after its `0x`: (magnitude, bytes used, any nonzero digit).
fn hex(s: &[u8]) -> (f64, usize, bool) {
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut nonzero = false;
    let mut i = 0;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_point => {
                seen_point = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        nonzero |= d != 0;
        if mantissa >> 58 == 0 {
            mantissa = mantissa << 4 | u64::from(d);
            if seen_point {
                exp -= 4;
            }
        } else {
            // Out of room: drop the digit, remembering it for rounding.
            sticky |= d != 0;
            if !seen_point {
                exp += 4;
            }
        }
        i += 1;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut k = i + 1;
        let neg = match s.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        if s.get(k).is_some_and(u8::is_ascii_digit) {
            let mut e: i64 = 0;
            while k < s.len() && s[k].is_ascii_digit() {
                e = (e * 10 + i64::from(s[k] - b'0')).min(1 << 20);
                k += 1;
            }
            exp += if neg { -e } else { e };
            i = k;
        }
    }
    let mut value = (mantissa | u64::from(sticky)) as f64;
    let mut e = exp;
    while e > 1000 {
        value *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        value *= 2f64.powi(-1000);
        e += 1000;
    }
    value *= 2f64.powi(e as i32);
    (value, i, nonzero)
}

/// Redis's `getDoubleFromObject`: the whole string must be a number, without leading space,
/// not NaN, and neither overflowing nor underflowing to zero.
pub fn parse_double(s: &[u8]) -> Option<f64> {
    if s.is_empty() || is_c_space(s[0]) {
        return None;
    }
    let r = strtod(s);
    (r.used == s.len() && !r.out_of_range && !r.value.is_nan()).then_some(r.value)
}

/// A bound of ZRANGEBYSCORE and friends (`zslParseRange`): `strtod` up to the end of the C
/// string (a NUL byte ends it), not NaN. Leading space and overflow to ±inf are accepted, and
/// an empty string reads as 0.
pub fn parse_bound(s: &[u8]) -> Option<f64> {
    let r = strtod(s);
    let ends = r.used == s.len() || s[r.used] == 0;
    (ends && !r.value.is_nan()).then_some(r.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_parse_like_redis() {
        for (text, want) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+3", 3.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("inf", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
            ("+Infinity", f64::INFINITY),
            ("0x10", 16.0),
            ("0x1p3", 8.0),
            ("0x.8", 0.5),
            ("-0", -0.0),
            ("4e-320", 4e-320),
        ] {
            assert_eq!(parse_double(text.as_bytes()), Some(want), "{text}");
        }
        for bad in [
            "", " 1", "1 ", "abc", "nan", "1e400", "-1e400", "1e-400", "1e", "1x", "0x", "inf1",
            "1\x002", ".", "-",
        ] {
            assert_eq!(parse_double(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn range_bounds_are_laxer() {
        assert_eq!(parse_bound(b""), Some(0.0));
        assert_eq!(parse_bound(b" 1"), Some(1.0));
        assert_eq!(parse_bound(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_bound(b"1\x00junk"), Some(1.0));
        assert_eq!(parse_bound(b"1 "), None);
        assert_eq!(parse_bound(b"nan"), None);
        assert_eq!(parse_bound(b"x"), None);
        assert_eq!(parse_bound(b" "), None);
    }
}
