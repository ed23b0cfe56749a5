//! DiskDB for WebAssembly. For now a stub that links the whole core, so the build proves the
//! engine compiles and links for wasm32 without importing anything from the host's `env`.

use diskdb_core::protocol::{parse_request, Limits, Reply};
use diskdb_core::{Engine, Session};

/// Runs the RESP requests in `input` against a fresh in-memory engine and returns the replies.
pub fn execute_resp(input: &[u8]) -> Vec<u8> {
    let mut engine = Engine::memory();
    let mut session = Session::default();
    let mut reply = Reply::new();
    let limits = Limits::default();
    let mut pos = 0;
    while pos < input.len() {
        match parse_request(&input[pos..], &limits) {
            Ok(Some(request)) => {
                pos += request.consumed();
                let _ = engine.execute(0, &mut session, &request, &mut reply);
            }
            Ok(None) => break,
            Err(err) => {
                reply.error(&err.reply_text());
                break;
            }
        }
    }
    reply.take()
}

/// C ABI entry point so the cdylib keeps the engine: replies are written to `out` (up to
/// `out_cap` bytes); returns the full reply length.
///
/// # Safety
/// `input` must be readable for `len` bytes and `out` writable for `out_cap` bytes, both for the
/// duration of the call.
#[no_mangle]
pub unsafe extern "C" fn diskdb_execute_resp(
    input: *const u8,
    len: usize,
    out: *mut u8,
    out_cap: usize,
) -> usize {
    if input.is_null() || out.is_null() {
        return 0;
    }
    // SAFETY: guaranteed by this function's contract (see `# Safety`).
    let (input, out) = unsafe {
        (
            std::slice::from_raw_parts(input, len),
            std::slice::from_raw_parts_mut(out, out_cap),
        )
    };
    let replies = execute_resp(input);
    let n = replies.len().min(out.len());
    out[..n].copy_from_slice(&replies[..n]);
    replies.len()
}
