//! Pieces of Redis's RDB format (version 10, Redis 7.0) that DiskDB reads and writes: the
//! length and string encodings, LZF-compressed strings (read only), and the payload framing of
//! DUMP and FUNCTION DUMP (`<body><RDB version, 2 bytes LE><CRC64 of everything before, LE>`).

/// The RDB version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;
/// `RDB_OPCODE_FUNCTION2`: a function library's code follows.
pub const OPCODE_FUNCTION2: u8 = 245;

/// Redis's CRC-64 (Jones polynomial, reflected, as in `crc64.c`), computed bit by bit: payloads
/// are small, so a table would not pay for itself.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    for &byte in data {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Appends an RDB length.
pub fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string, uncompressed (Redis reads it whether or not it would have compressed it).
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Adds the version and checksum trailer to a payload body.
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// The body of a payload whose trailer is sound (a version Redis 7.0 reads, the right
/// checksum), or `None`.
pub fn unseal(payload: &[u8]) -> Option<&[u8]> {
    let n = payload.len().checked_sub(10)?;
    let version = u16::from_le_bytes([payload[n], payload[n + 1]]);
    let crc = u64::from_le_bytes(payload[n + 2..].try_into().ok()?);
    (version <= RDB_VERSION && crc64(0, &payload[..n + 2]) == crc).then_some(&payload[..n])
}

/// Reads RDB items from a byte slice, never past its end.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A length, or a special encoding of a string (`0xC0..`): its low six bits.
enum Len {
    Plain(u64),
    Special(u8),
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn len_or_special(&mut self) -> Option<Len> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            2 => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().ok()?,
                ))),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
            _ => Len::Special(first & 0x3f),
        })
    }

    pub fn length(&mut self) -> Option<u64> {
        match self.len_or_special()? {
            Len::Plain(n) => Some(n),
            Len::Special(_) => None,
        }
    }

    /// A string in any of Redis's encodings: plain, an integer, or LZF-compressed.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        match self.len_or_special()? {
            Len::Plain(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            Len::Special(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Len::Special(1) => {
                let v = i16::from_le_bytes(self.take(2)?.try_into().ok()?);
                Some(v.to_string().into_bytes())
            }
            Len::Special(2) => {
                let v = i32::from_le_bytes(self.take(4)?.try_into().ok()?);
                Some(v.to_string().into_bytes())
            }
            Len::Special(3) => {
                let clen = usize::try_from(self.length()?).ok()?;
                let ulen = usize::try_from(self.length()?).ok()?;
                lzf_decompress(self.take(clen)?, ulen)
            }
            Len::Special(_) => None,
        }
    }
}

/// LZF decompression (liblzf's format, which Redis uses for long strings), to exactly `ulen`
/// bytes; `None` on malformed input.
pub fn lzf_decompress(input: &[u8], ulen: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(ulen.min(1 << 26));
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run)?;
            if out.len() + run > ulen {
                return None;
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            let start = out.len().checked_sub(back)?;
            if out.len() + len + 2 > ulen {
                return None;
            }
            for i in 0..len + 2 {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == ulen).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_check_value() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn strings_round_trip_at_every_length_encoding() {
        for len in [0usize, 63, 64, 16383, 16384, 70000] {
            let s = vec![b'x'; len];
            let mut out = Vec::new();
            put_string(&mut out, &s);
            assert_eq!(Reader::new(&out).string(), Some(s));
        }
    }

    #[test]
    fn a_payload_with_a_wrong_checksum_or_version_is_refused() {
        let sealed = seal(vec![1, 2, 3]);
        assert_eq!(unseal(&sealed), Some(&[1u8, 2, 3][..]));
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert_eq!(unseal(&bad), None);
        assert_eq!(unseal(&sealed[..5]), None);
    }

    #[test]
    fn lzf_back_references_and_bad_input() {
        // "aaaaaaaaaa": a literal 'a', then a back reference of length 9 at distance 1.
        let data = [0x00, b'a', 0xe0, 0x00, 0x00];
        assert_eq!(lzf_decompress(&data, 10), Some(vec![b'a'; 10]));
        assert_eq!(lzf_decompress(&[0x20, 0x05], 3), None);
        assert_eq!(lzf_decompress(&[0x05, b'a'], 6), None);
    }
}
