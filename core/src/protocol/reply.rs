//! The reply encoder: writes RESP2 or RESP3 straight into a connection's output buffer.
//!
//! Commands describe replies in RESP3 terms (maps, sets, doubles, nulls); in RESP2 mode they are
//! written the way Redis downgrades them (a map as a flat array, a double as a bulk string, ...).

/// Which RESP version the client speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// An output buffer plus the protocol it is encoded in.
#[derive(Debug, Default)]
pub struct Reply {
    buf: Vec<u8>,
    proto: Protocol,
}

impl Reply {
    /// An empty RESP2 buffer.
    pub fn new() -> Self {
        Reply::default()
    }

    /// The protocol replies are encoded in.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// Switches the protocol for the replies that follow.
    pub fn set_protocol(&mut self, proto: Protocol) {
        self.proto = proto;
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops the first `n` bytes (already sent), keeping the allocation.
    pub fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }

    /// Forgets everything written after `len` (used to undo a partly written reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Takes the written bytes out, leaving the buffer empty.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn header(&mut self, prefix: u8, n: i64) {
        // Short lengths and counts (most bulk items, LRANGE's) are written in one append
        // rather than formatted and appended in three pieces.
        match n {
            0..=9 => self
                .buf
                .extend_from_slice(&[prefix, b'0' + n as u8, b'\r', b'\n']),
            10..=99 => self.buf.extend_from_slice(&[
                prefix,
                b'0' + (n / 10) as u8,
                b'0' + (n % 10) as u8,
                b'\r',
                b'\n',
            ]),
            _ => {
                self.buf.push(prefix);
                self.buf
                    .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// `+text`. The text must not contain CR or LF.
    pub fn simple(&mut self, text: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(text.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `-text`, with CR and LF turned into spaces as Redis does so the reply stays one line.
    pub fn error(&mut self, text: &[u8]) {
        self.buf.push(b'-');
        self.buf.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `:n`.
    pub fn integer(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// `$len\r\nbytes\r\n`.
    pub fn bulk(&mut self, bytes: &[u8]) {
        self.header(b'$', bytes.len() as i64);
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A null: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// A null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// An array of `n` elements follows.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map of `n` key/value pairs follows (a flat array of `2n` in RESP2).
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', 2 * n as i64),
            Protocol::Resp3 => self.header(b'%', n as i64),
        }
    }

    /// A set of `n` elements follows (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n as i64),
            Protocol::Resp3 => self.header(b'~', n as i64),
        }
    }

    /// An out-of-band push of `n` elements follows (an array in RESP2).
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n as i64),
            Protocol::Resp3 => self.header(b'>', n as i64),
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        match self.proto {
            Protocol::Resp2 => self.integer(i64::from(b)),
            Protocol::Resp3 => self
                .buf
                .extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A double, formatted as Redis formats scores: `,d` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        match self.proto {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(text.as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Raw, already encoded RESP.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }
}

/// Formats a double the way Redis replies with one (`%.17g`, with `inf` / `-inf`).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d.is_nan() {
        return "nan".to_string();
    }
    format_g17(d)
}

/// C's `%.17g`: 17 significant digits, shortest of fixed or exponent form, trailing zeros cut.
fn format_g17(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        let fixed = format!("{:.*}", decimals, d);
        trim_zeros(&fixed).to_string()
    } else {
        let m = trim_zeros(mantissa);
        format!("{}e{}{:02}", m, if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_percent_g17() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(0.1), "0.10000000000000001");
        assert_eq!(format_double(-2.5e-5), "-2.5000000000000001e-05");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(123456789.0), "123456789");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn resp2_and_resp3_encode_the_same_shapes_differently() {
        let mut r = Reply::new();
        r.map(1);
        r.null();
        r.double(2.0);
        assert_eq!(r.as_bytes(), b"*2\r\n$-1\r\n$1\r\n2\r\n");
        let mut r = Reply::new();
        r.set_protocol(Protocol::Resp3);
        r.map(1);
        r.null();
        r.double(2.0);
        assert_eq!(r.as_bytes(), b"%1\r\n_\r\n,2\r\n");
    }

    #[test]
    fn errors_stay_on_one_line() {
        let mut r = Reply::new();
        r.error(b"ERR a\r\nb");
        assert_eq!(r.as_bytes(), b"-ERR a  b\r\n");
    }
}
