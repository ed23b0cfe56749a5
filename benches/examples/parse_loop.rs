//! Parses one benchmark fixture N times with DiskDB's C or Rust parser or the `redis-protocol`
//! crate, for instruction counts that a shared machine cannot disturb:
//!
//! ```text
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/parse_loop rust ZADD5 100000
//! ```
//!
//! Instructions per request = (Ir at N - Ir at 0) / (N * requests in the fixture).

use std::hint::black_box;

use diskdb_benches::{parse_diskdb, parse_redis_protocol, parser_fixtures};
use diskdb_core::protocol::{Limits, ParserKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, parser, fixture, iterations] = &args[..] else {
        eprintln!("usage: parse_loop c|rust|redis-protocol FIXTURE ITERATIONS");
        std::process::exit(2);
    };
    let fixture = parser_fixtures()
        .into_iter()
        .find(|f| f.name == fixture)
        .expect("a fixture name from benches/src/lib.rs");
    let iterations: u64 = iterations.parse().expect("a count");
    let limits = Limits::default();
    let bytes = &fixture.bytes[..];
    let mut args = 0;
    for _ in 0..iterations {
        let bytes = black_box(bytes);
        args += match parser.as_str() {
            "c" => parse_diskdb(ParserKind::C, bytes, &limits),
            "rust" => parse_diskdb(ParserKind::Rust, bytes, &limits),
            "redis-protocol" => parse_redis_protocol(bytes),
            other => panic!("unknown parser {other}"),
        };
    }
    assert_eq!(args, fixture.args * iterations as usize);
}
