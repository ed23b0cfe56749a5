//! The Rust parser against the C parser: on every input, and on a request stream consumed the
//! way a connection consumes it (including prefixes, as partial reads deliver them), both give
//! the same outcome: the same arguments and consumed length, "incomplete", or the same error.

#![no_main]

use diskdb_core::protocol::ParserKind;
use diskdb_fuzz::{limits_and_buf, outcome, parse_stream};
use libfuzzer_sys::fuzz_target;

/// Prefixes of each request compared, spread over its length (all of them for short inputs).
const PREFIXES: usize = 16;

fn same(buf: &[u8], limits: &diskdb_core::protocol::Limits) -> diskdb_fuzz::Outcome {
    let c = outcome(ParserKind::C, buf, limits);
    let rust = outcome(ParserKind::Rust, buf, limits);
    assert_eq!(
        c,
        rust,
        "parsers disagree on {:?} with {limits:?}",
        String::from_utf8_lossy(buf)
    );
    rust
}

fuzz_target!(|data: &[u8]| {
    assert!(ParserKind::c_available(), "the C parser is not compiled in");
    let (limits, buf) = limits_and_buf(data);
    parse_stream(buf, |_, rest| {
        let step = (rest.len() / PREFIXES).max(1);
        for end in (0..rest.len()).step_by(step) {
            same(&rest[..end], &limits);
        }
        same(rest, &limits)
    });
});
