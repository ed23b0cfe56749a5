//! `cjson.decode`, token for token as Redis's lua_cjson decodes (it is not a strict JSON parser):
//! the input ends at its first NUL byte, numbers are whatever C's `strtod` reads (`+1`, `0x1F`,
//! `01`, `-inf`, `nan`), nesting stops at 1000 levels, and errors say "Expected <what> but found
//! <token> at character <n>".
//! Written here, not with a JSON crate, because scripts see those numbers and texts.

use mlua::{Lua, Value};

/// lua_cjson's `decode_max_depth` default in Redis 7.0.
const MAX_DEPTH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// An invalid token, with lua_cjson's description of it.
    Error(&'static str),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Boolean(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(what) => what,
        }
    }
}

struct Token {
    kind: Kind,
    /// Where it starts (or where the error is), 0-based.
    index: usize,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// The last string token's bytes.
    string: Vec<u8>,
    /// Objects and arrays open.
    depth: usize,
}

fn error(text: String) -> mlua::Error {
    mlua::Error::RuntimeError(text)
}

/// Decodes `data` as lua_cjson does (the caller checked the argument).
pub fn decode(lua: &Lua, data: &[u8]) -> mlua::Result<Value> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(error(
            "JSON parser does not support UTF-16 or UTF-32".into(),
        ));
    }
    let mut p = Parser {
        data,
        pos: 0,
        string: Vec::new(),
        depth: 0,
    };
    let token = p.next_token();
    let value = p.value(lua, token)?;
    let token = p.next_token();
    if token.kind != Kind::End {
        return Err(p.unexpected("the end", &token));
    }
    Ok(value)
}

impl Parser<'_> {
    /// The byte at `i`, NUL past the end (lua_cjson reads a NUL-terminated copy).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn unexpected(&self, expected: &str, token: &Token) -> mlua::Error {
        error(format!(
            "Expected {expected} but found {} at character {}",
            token.kind.name(),
            token.index + 1
        ))
    }

    /// Enters an object or array (its bracket just read).
    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            )));
        }
        Ok(())
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = match self.at(index) {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b':' => Some(Kind::Colon),
            b',' => Some(Kind::Comma),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return Token { kind, index };
        }
        let rest = &self.data[index.min(self.data.len())..];
        let kind = match self.at(index) {
            0 => Kind::End,
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => self.number_token(),
            _ if rest.starts_with(b"true") => {
                self.pos += 4;
                Kind::Boolean(true)
            }
            _ if rest.starts_with(b"false") => {
                self.pos += 5;
                Kind::Boolean(false)
            }
            _ if rest.starts_with(b"null") => {
                self.pos += 4;
                Kind::Null
            }
            b'+' | b'i' | b'I' | b'n' | b'N' if self.invalid_number() => self.number_token(),
            _ => Kind::Error("invalid token"),
        };
        Token { kind, index }
    }

    /// lua_cjson's `json_is_invalid_number`: forms `strtod` reads that JSON does not have.
    fn invalid_number(&self) -> bool {
        let mut i = self.pos;
        if self.at(i) == b'+' {
            return true;
        }
        if self.at(i) == b'-' {
            i += 1;
        }
        if self.at(i) == b'0' {
            let next = self.at(i + 1);
            return next | 0x20 == b'x' || next.is_ascii_digit();
        }
        if self.at(i) <= b'9' {
            return false;
        }
        let word = [self.at(i), self.at(i + 1), self.at(i + 2)].map(|b| b.to_ascii_lowercase());
        &word == b"inf" || &word == b"nan"
    }

    fn number_token(&mut self) -> Kind {
        match strtod(&self.data[self.pos.min(self.data.len())..]) {
            Some((value, used)) => {
                self.pos += used;
                Kind::Number(value)
            }
            None => Kind::Error("invalid number"),
        }
    }

    fn string_token(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        self.string.clear();
        loop {
            let ch = self.at(self.pos);
            match ch {
                b'"' => break,
                0 => return self.error_here("unexpected end of string"),
                b'\\' => {
                    let escaped = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if !self.unicode_escape() {
                                return self.error_here("invalid unicode escape code");
                            }
                            continue;
                        }
                        _ => return self.error_here("invalid escape code"),
                    };
                    self.string.push(escaped);
                    self.pos += 2;
                }
                _ => {
                    self.string.push(ch);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Token {
            kind: Kind::Str,
            index: start,
        }
    }

    fn error_here(&self, what: &'static str) -> Token {
        Token {
            kind: Kind::Error(what),
            index: self.pos,
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let digit = (self.at(at + i) as char).to_digit(16)?;
            Some(acc << 4 | digit)
        })
    }

    /// `\uXXXX` (or a surrogate pair of them) at `pos`, appended as UTF-8.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut code) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if code & 0xF800 == 0xD800 {
            if code & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u'
            {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // lua_cjson's own encoder: no check that the code point is a scalar value.
        let mut buf = [0u8; 4];
        let n = if code <= 0x7F {
            buf[0] = code as u8;
            1
        } else if code <= 0x7FF {
            buf[0] = (code >> 6) as u8 | 0xC0;
            buf[1] = (code & 0x3F) as u8 | 0x80;
            2
        } else if code <= 0xFFFF {
            buf[0] = (code >> 12) as u8 | 0xE0;
            buf[1] = ((code >> 6) & 0x3F) as u8 | 0x80;
            buf[2] = (code & 0x3F) as u8 | 0x80;
            3
        } else {
            buf[0] = (code >> 18) as u8 | 0xF0;
            buf[1] = ((code >> 12) & 0x3F) as u8 | 0x80;
            buf[2] = ((code >> 6) & 0x3F) as u8 | 0x80;
            buf[3] = (code & 0x3F) as u8 | 0x80;
            4
        };
        self.string.extend_from_slice(&buf[..n]);
        self.pos += len;
        true
    }

    fn value(&mut self, lua: &Lua, token: Token) -> mlua::Result<Value> {
        Ok(match token.kind {
            Kind::Str => Value::String(lua.create_string(&self.string)?),
            Kind::Number(n) => Value::Number(n),
            Kind::Boolean(b) => Value::Boolean(b),
            Kind::Null => Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
            Kind::ObjBegin => self.object(lua)?,
            Kind::ArrBegin => self.array(lua)?,
            _ => return Err(self.unexpected("value", &token)),
        })
    }

    fn object(&mut self, lua: &Lua) -> mlua::Result<Value> {
        self.descend()?;
        let table = lua.create_table()?;
        let mut token = self.next_token();
        if token.kind != Kind::ObjEnd {
            loop {
                if token.kind != Kind::Str {
                    return Err(self.unexpected("object key string", &token));
                }
                let key = lua.create_string(&self.string)?;
                token = self.next_token();
                if token.kind != Kind::Colon {
                    return Err(self.unexpected("colon", &token));
                }
                let next = self.next_token();
                let value = self.value(lua, next)?;
                table.raw_set(key, value)?;
                token = self.next_token();
                if token.kind == Kind::ObjEnd {
                    break;
                }
                if token.kind != Kind::Comma {
                    return Err(self.unexpected("comma or object end", &token));
                }
                token = self.next_token();
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn array(&mut self, lua: &Lua) -> mlua::Result<Value> {
        self.descend()?;
        let table = lua.create_table()?;
        let mut token = self.next_token();
        let mut i = 1;
        if token.kind != Kind::ArrEnd {
            loop {
                let value = self.value(lua, token)?;
                table.raw_set(i, value)?;
                i += 1;
                token = self.next_token();
                if token.kind == Kind::ArrEnd {
                    break;
                }
                if token.kind != Kind::Comma {
                    return Err(self.unexpected("comma or array end", &token));
                }
                token = self.next_token();
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }
}

/// C's `strtod` in the C locale: the number at the start of `s` and the bytes it used, or
/// `None` where it reads nothing. Decimal, hexadecimal (`0x1.8p3`), `inf`, `infinity`, `nan`
/// and `nan(...)`, each with an optional sign.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let negative = match at(0) {
        b'-' => {
            i = 1;
            true
        }
        b'+' => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let word = |i: usize, w: &[u8]| {
        s.get(i..i + w.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(w))
    };
    if word(i, b"inf") {
        let used = if word(i, b"infinity") { i + 8 } else { i + 3 };
        return Some((sign * f64::INFINITY, used));
    }
    if word(i, b"nan") {
        let mut used = i + 3;
        if at(used) == b'(' {
            let mut k = used + 1;
            while at(k).is_ascii_alphanumeric() || at(k) == b'_' {
                k += 1;
            }
            if at(k) == b')' {
                used = k + 1;
            }
        }
        return Some((f64::NAN, used));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((value, used)) = hex_float(&s[i + 2..]) {
            return Some((sign * value, i + 2 + used));
        }
        // "0x" without digits: strtod reads the 0.
        return Some((0.0 * sign, i + 1));
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'e' {
        let mut k = i + 1;
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            while at(k).is_ascii_digit() {
                k += 1;
            }
            i = k;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    // Rust reads what strtod reads here ("1.", ".5", "1e5"), rounding the same way.
    let value: f64 = text
        .parse()
        .ok()
        .or_else(|| format!("{text}0").parse().ok())?;
    Some((sign * value, i))
}

/// The digits of a hexadecimal float after `0x`: value and bytes used, `None` if no digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut value = 0.0f64;
    let mut digits = 0;
    while let Some(d) = (at(i) as char).to_digit(16) {
        value = value * 16.0 + f64::from(d);
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        let mut scale = 1.0 / 16.0;
        let mut k = i + 1;
        while let Some(d) = (at(k) as char).to_digit(16) {
            value += f64::from(d) * scale;
            scale /= 16.0;
            k += 1;
            digits += 1;
        }
        if digits > 0 {
            i = k;
        }
    }
    if digits == 0 {
        return None;
    }
    if at(i) | 0x20 == b'p' {
        let mut k = i + 1;
        let negative = at(k) == b'-';
        if matches!(at(k), b'+' | b'-') {
            k += 1;
        }
        if at(k).is_ascii_digit() {
            let mut exp: i32 = 0;
            while at(k).is_ascii_digit() {
                exp = exp
                    .saturating_mul(10)
                    .saturating_add(i32::from(at(k) - b'0'));
                k += 1;
            }
            value *= 2f64.powi(if negative { -exp } else { exp });
            i = k;
        }
    }
    Some((value, i))
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_reads_what_c_reads() {
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"+1,"), Some((1.0, 2)));
        assert_eq!(strtod(b"01"), Some((1.0, 2)));
        assert_eq!(strtod(b"0x1F]"), Some((31.0, 4)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"-inf"), Some((f64::NEG_INFINITY, 4)));
        assert_eq!(strtod(b"Infinity"), Some((f64::INFINITY, 8)));
        assert_eq!(strtod(b"1.5e+3x"), Some((1500.0, 6)));
        assert_eq!(strtod(b".5"), Some((0.5, 2)));
        assert_eq!(strtod(b"1."), Some((1.0, 2)));
        assert_eq!(strtod(b"-"), None);
        assert_eq!(strtod(b"+x"), None);
        assert!(strtod(b"nan(12)").is_some_and(|(v, n)| v.is_nan() && n == 7));
    }
}
