//! RESP on the wire: request parsing (C or Rust, identical by contract, see `docs/protocol.md`)
//! and the RESP2/RESP3 reply encoder.
//!
//! A parsed [`Request`] is an RAII guard: it borrows the input buffer and owns this thread's
//! argument arena until it is dropped, so that parsing a request allocates nothing once the arena
//! has grown to the largest request seen.

mod arena;
#[cfg(diskdb_c_parser)]
mod c_parser;
pub mod reply;
mod rust_parser;

use arena::ArenaGuard;
pub use reply::Reply;
pub use rust_parser::{split_args, string2ll};

/// Limits a request must respect (Redis's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest argument in bytes (Redis: `proto-max-bulk-len`).
    pub max_bulk_len: u64,
    /// Most arguments in one multibulk request.
    pub max_args: u64,
    /// Longest inline request line, and longest `*N` / `$N` header line.
    pub max_inline: usize,
}

impl Limits {
    /// Redis's tighter limits for a client that has not authenticated yet.
    pub const UNAUTHENTICATED: Limits = Limits {
        max_bulk_len: 16 * 1024,
        max_args: 10,
        max_inline: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_args: 1024 * 1024,
            max_inline: 64 * 1024,
        }
    }
}

/// A malformed request. The connection answers with [`ProtocolError::reply_text`] and closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("invalid bulk length")]
    InvalidBulkLength,
    #[error("expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("too big inline request")]
    TooBigInline,
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("too big bulk count string")]
    TooBigBulkCount,
    /// More than 10 arguments before AUTH when a password is required.
    #[error("unauthenticated multibulk length")]
    UnauthenticatedMultibulk,
    /// An argument over 16 KB before AUTH when a password is required.
    #[error("unauthenticated bulk length")]
    UnauthenticatedBulk,
}

impl ProtocolError {
    /// Redis's error reply text for this error, without the leading `-`.
    pub fn reply_text(&self) -> Vec<u8> {
        let mut text = b"ERR Protocol error: ".to_vec();
        match *self {
            // Redis formats the byte with `%c` into a C string: a NUL ends the message there, and
            // CR / LF are turned into spaces like every error text.
            ProtocolError::ExpectedDollar(byte) => {
                text.extend_from_slice(b"expected '$', got '");
                match byte {
                    0 => return text,
                    b'\r' | b'\n' => text.push(b' '),
                    other => text.push(other),
                }
                text.push(b'\'');
            }
            other => text.extend_from_slice(other.to_string().as_bytes()),
        }
        text
    }
}

/// Which implementation parsed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParserKind {
    /// The C parser in `csrc/`.
    C,
    /// The Rust fallback parser.
    Rust,
}

impl ParserKind {
    /// The parser this build uses by default: C where it was compiled, else Rust.
    pub const DEFAULT: ParserKind = if cfg!(diskdb_c_parser) {
        ParserKind::C
    } else {
        ParserKind::Rust
    };

    /// Whether this build contains the C parser.
    pub const fn c_available() -> bool {
        cfg!(diskdb_c_parser)
    }
}

/// Read access to a command's argument vector, whatever holds it.
pub trait Argv {
    /// Number of arguments, the command name included.
    fn argc(&self) -> usize;
    /// Argument `i`; panics if `i >= argc()`, like slice indexing.
    fn arg(&self, i: usize) -> &[u8];
}

impl<T: AsRef<[u8]>> Argv for [T] {
    fn argc(&self) -> usize {
        self.len()
    }
    fn arg(&self, i: usize) -> &[u8] {
        self[i].as_ref()
    }
}

impl<T: AsRef<[u8]>> Argv for Vec<T> {
    fn argc(&self) -> usize {
        self.len()
    }
    fn arg(&self, i: usize) -> &[u8] {
        self[i].as_ref()
    }
}

/// One complete request parsed from the start of a buffer.
///
/// Holds this thread's arena until dropped; its arguments borrow the input buffer (multibulk) or
/// the arena (unescaped inline text).
pub struct Request<'buf> {
    buf: &'buf [u8],
    arena: ArenaGuard,
    consumed: usize,
    kind: ParserKind,
}

impl<'buf> Request<'buf> {
    /// Bytes of the input this request occupied.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Number of arguments (0 for an empty line or `*0`; the caller skips those).
    pub fn len(&self) -> usize {
        self.arena.get().argc
    }

    /// Whether the request has no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parser that produced this request.
    pub fn parser(&self) -> ParserKind {
        self.kind
    }

    /// Argument `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let arena = self.arena.get();
        assert!(i < arena.argc, "argument index out of range");
        match self.kind {
            #[cfg(diskdb_c_parser)]
            ParserKind::C => c_parser::arg(arena, i),
            _ => arena.span(self.buf, i),
        }
    }

    /// The arguments, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Copies the arguments out, for callers that keep them past the guard.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }
}

impl Argv for Request<'_> {
    fn argc(&self) -> usize {
        self.len()
    }
    fn arg(&self, i: usize) -> &[u8] {
        self.get(i)
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("consumed", &self.consumed)
            .field("args", &self.to_vec())
            .finish()
    }
}

/// Parses one request for a client that has not authenticated (when a password is required):
/// Redis's tighter limits, with their own error texts.
pub fn parse_request_unauthenticated<'buf>(
    buf: &'buf [u8],
    limits: &Limits,
) -> Result<Option<Request<'buf>>, ProtocolError> {
    match parse_request(buf, &Limits::UNAUTHENTICATED) {
        Err(err @ (ProtocolError::InvalidMultibulkLength | ProtocolError::InvalidBulkLength)) => {
            // Only the tighter limit's fault if the normal limits accept it.
            match parse_request(buf, limits) {
                Err(e) if e == err => Err(err),
                _ if err == ProtocolError::InvalidMultibulkLength => {
                    Err(ProtocolError::UnauthenticatedMultibulk)
                }
                _ => Err(ProtocolError::UnauthenticatedBulk),
            }
        }
        other => other,
    }
}

/// Parses one request from the start of `buf` with this build's default parser.
///
/// `Ok(None)` means the buffer does not hold a complete request yet.
pub fn parse_request<'buf>(
    buf: &'buf [u8],
    limits: &Limits,
) -> Result<Option<Request<'buf>>, ProtocolError> {
    parse_request_with(ParserKind::DEFAULT, buf, limits)
}

/// Parses one request with a chosen parser; `ParserKind::C` falls back to Rust where the C parser
/// was not compiled.
pub fn parse_request_with<'buf>(
    kind: ParserKind,
    buf: &'buf [u8],
    limits: &Limits,
) -> Result<Option<Request<'buf>>, ProtocolError> {
    let mut arena = ArenaGuard::take();
    let (kind, outcome) = match kind {
        #[cfg(diskdb_c_parser)]
        ParserKind::C => (ParserKind::C, c_parser::parse(buf, limits, arena.get_mut())),
        _ => (
            ParserKind::Rust,
            rust_parser::parse(buf, limits, arena.get_mut()),
        ),
    };
    Ok(outcome?.map(|consumed| Request {
        buf,
        arena,
        consumed,
        kind,
    }))
}
