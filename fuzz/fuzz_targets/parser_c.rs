//! The C request parser alone, on arbitrary bytes: no crash, no out-of-bounds access (the C code
//! is built with AddressSanitizer and coverage by `scripts/fuzz.sh`), and every complete request
//! consumes a sane length and yields arguments that can be read in full.

#![no_main]

use diskdb_core::protocol::ParserKind;
use diskdb_fuzz::{limits_and_buf, outcome, parse_stream, Outcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Without the C parser this target would silently fuzz the Rust one.
    assert!(ParserKind::c_available(), "the C parser is not compiled in");
    let (limits, buf) = limits_and_buf(data);
    parse_stream(buf, |_, rest| {
        let out = outcome(ParserKind::C, rest, &limits);
        if let Outcome::Complete { args, .. } = &out {
            // Reading every byte of every argument lets the sanitizer see a bad slice.
            let total: usize = args
                .iter()
                .map(|a| a.iter().map(|&b| usize::from(b)).sum::<usize>())
                .sum();
            std::hint::black_box(total);
            if rest[0] == b'*' {
                assert!(
                    args.len() as u64 <= limits.max_args,
                    "more arguments than max_args"
                );
            }
        }
        out
    });
});
