//! Parses one benchmark fixture N times with DiskDB's C or Rust parser, for instruction counts
//! that a shared machine cannot disturb:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/parse_loop rust ZADD5 100000
//! ```
//!
//! Instructions per request = (Ir at N - Ir at 0) / (N * requests in the fixture).

use std::hint::black_box;

use diskdb_benches::parser_fixtures;
use diskdb_core::protocol::{parse_request_with, Limits, ParserKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, parser, fixture, iterations] = &args[..] else {
        eprintln!("usage: parse_loop c|rust FIXTURE ITERATIONS");
        std::process::exit(2);
    };
    let kind = match parser.as_str() {
        "c" => ParserKind::C,
        "rust" => ParserKind::Rust,
        other => panic!("unknown parser {other}"),
    };
    let fixture = parser_fixtures()
        .into_iter()
        .find(|f| f.name == fixture)
        .expect("a fixture name from benches/src/lib.rs");
    let iterations: u64 = iterations.parse().expect("a count");
    let limits = Limits::default();
    let mut args = 0;
    for _ in 0..iterations {
        let bytes = black_box(&fixture.bytes[..]);
        let mut offset = 0;
        while offset < bytes.len() {
            let request = parse_request_with(kind, &bytes[offset..], &limits)
                .expect("valid")
                .expect("complete");
            black_box(request.get(request.len() - 1));
            args += request.len();
            offset += request.consumed();
        }
    }
    assert_eq!(args, fixture.args * iterations as usize);
}
