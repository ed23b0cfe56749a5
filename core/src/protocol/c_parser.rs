//! Safe bindings to the C request parser in `csrc/diskdb_resp.c`.

use super::arena::{Arena, RawArg};
use super::{Limits, ProtocolError};

const INCOMPLETE: isize = -1;
const NEED_ARENA: isize = -2;

#[repr(C)]
struct CLimits {
    max_bulk_len: u64,
    max_args: u64,
    max_inline: usize,
}

#[repr(C)]
struct CRequest {
    args: *mut RawArg,
    args_cap: usize,
    scratch: *mut u8,
    scratch_cap: usize,
    argc: usize,
    need_args: usize,
    need_scratch: usize,
    err_byte: u8,
}

extern "C" {
    fn diskdb_parse_request(
        buf: *const u8,
        len: usize,
        limits: *const CLimits,
        req: *mut CRequest,
    ) -> isize;
}

/// Parses one request into `arena.raw`; `Ok(Some(n))` is the bytes consumed.
pub(crate) fn parse(
    buf: &[u8],
    limits: &Limits,
    arena: &mut Arena,
) -> Result<Option<usize>, ProtocolError> {
    let climits = CLimits {
        max_bulk_len: limits.max_bulk_len,
        max_args: limits.max_args,
        max_inline: limits.max_inline,
    };
    loop {
        // The C side writes only within the capacities we pass; `set_len` below only exposes
        // what it reported as written.
        let raw_cap = arena.raw.capacity();
        let scratch_cap = arena.scratch.capacity();
        let mut req = CRequest {
            args: arena.raw.as_mut_ptr(),
            args_cap: raw_cap,
            scratch: arena.scratch.as_mut_ptr(),
            scratch_cap,
            argc: 0,
            need_args: 0,
            need_scratch: 0,
            err_byte: 0,
        };
        // SAFETY: `buf` is valid for `buf.len()` bytes; `args` and `scratch` point to allocations
        // of at least `args_cap` / `scratch_cap` elements (a Vec's capacity), and the C parser
        // promises to read only `buf[..len]` and write only within those capacities. The pointers
        // are not retained past the call.
        let rc = unsafe { diskdb_parse_request(buf.as_ptr(), buf.len(), &climits, &mut req) };
        match rc {
            n if n > 0 => {
                if req.argc > raw_cap {
                    unreachable!("C parser reported more arguments than the arena holds");
                }
                // SAFETY: the parser initialised `argc <= args_cap` entries of `raw`.
                unsafe { arena.raw.set_len(req.argc) };
                arena.argc = req.argc;
                return Ok(Some(n as usize));
            }
            INCOMPLETE => return Ok(None),
            NEED_ARENA => {
                arena.raw.clear();
                arena
                    .raw
                    .reserve(req.need_args.saturating_sub(arena.raw.len()));
                arena.scratch.clear();
                arena.scratch.reserve(req.need_scratch);
                if arena.raw.capacity() <= raw_cap && arena.scratch.capacity() <= scratch_cap {
                    unreachable!("C parser asked for an arena it already has");
                }
            }
            -10 => return Err(ProtocolError::InvalidMultibulkLength),
            -11 => return Err(ProtocolError::InvalidBulkLength),
            -12 => return Err(ProtocolError::ExpectedDollar(req.err_byte)),
            -13 => return Err(ProtocolError::UnbalancedQuotes),
            -14 => return Err(ProtocolError::TooBigInline),
            -15 => return Err(ProtocolError::TooBigMultibulkCount),
            -16 => return Err(ProtocolError::TooBigBulkCount),
            other => unreachable!("unknown C parser return code {other}"),
        }
    }
}

/// Argument `i` of the last request parsed into `arena` by the C parser.
pub(crate) fn arg(arena: &Arena, i: usize) -> &[u8] {
    let RawArg { ptr, len } = arena.raw[i];
    // SAFETY: `ptr`/`len` were written by the C parser for the request this arena holds; they
    // point into the input buffer or into `arena.scratch`. The `Request` guard that calls this
    // borrows the input buffer and owns the arena, so both are alive and unchanged.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}
