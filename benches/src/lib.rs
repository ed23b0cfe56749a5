//! Request fixtures and parser drivers shared by the benchmarks and `examples/parse_loop.rs`.

use std::hint::black_box;

use diskdb_core::protocol::{parse_request_with, Limits, ParserKind};

/// Encodes a command as a RESP multibulk request, as clients send it.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One parser benchmark input: `requests` complete requests back to back in `bytes`, with
/// `args` arguments in all.
pub struct ParserFixture {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub requests: u64,
    pub args: usize,
}

/// A request as (bytes, number of arguments).
type Encoded = (Vec<u8>, usize);

fn encoded(args: &[&[u8]]) -> Encoded {
    (resp(args), args.len())
}

fn get() -> Encoded {
    encoded(&[b"GET", b"key:000000000001"])
}

fn set(value: &[u8]) -> Encoded {
    encoded(&[b"SET", b"key:000000000001", value])
}

fn zadd5() -> Encoded {
    encoded(&[
        b"ZADD",
        b"leaderboard",
        b"1",
        b"alice",
        b"2",
        b"bob",
        b"3",
        b"carol",
        b"4",
        b"dave",
        b"5",
        b"erin",
    ])
}

fn lpush5() -> Encoded {
    encoded(&[
        b"LPUSH",
        b"queue:jobs",
        b"job-0001",
        b"job-0002",
        b"job-0003",
        b"job-0004",
        b"job-0005",
    ])
}

/// The requests the parser benchmarks and the figures use.
pub fn parser_fixtures() -> Vec<ParserFixture> {
    let one = |name, (bytes, args)| ParserFixture {
        name,
        bytes,
        requests: 1,
        args,
    };
    // A pipelined batch as a busy client sends it: the single requests above, cycled, with the
    // 1 KB SET one time in ten so the batch is not dominated by bulk bytes.
    let (mut bytes, mut args) = (Vec::new(), 0);
    for i in 0..100 {
        let (request, n) = match i % 10 {
            0 => set(&[b'v'; 1024]),
            1 | 4 | 7 => get(),
            2 | 5 | 8 => set(b"value-0123456789"),
            3 => zadd5(),
            _ => lpush5(),
        };
        bytes.extend_from_slice(&request);
        args += n;
    }
    vec![
        one("GET", get()),
        one("SET16", set(b"value-0123456789")),
        one("SET1K", set(&[b'v'; 1024])),
        one("ZADD5", zadd5()),
        one("LPUSH5", lpush5()),
        ParserFixture {
            name: "PIPELINE100",
            bytes,
            requests: 100,
            args,
        },
    ]
}

/// DiskDB's parser: arguments are slices of `bytes`, the slice array is the per-thread arena.
/// Returns the arguments seen (checked against the fixture; also keeps the work alive).
pub fn parse_diskdb(kind: ParserKind, bytes: &[u8], limits: &Limits) -> usize {
    let mut offset = 0;
    let mut args = 0;
    while offset < bytes.len() {
        let request = parse_request_with(kind, &bytes[offset..], limits)
            .expect("valid")
            .expect("complete");
        black_box(request.get(request.len() - 1));
        args += request.len();
        offset += request.consumed();
    }
    args
}

/// `redis-protocol`'s fastest entry point: `decode_range` is the zero-copy decoder its `Bytes`
/// interfaces are built on; frames are byte ranges into the input (an array frame still costs it
/// one `Vec` per request).
pub fn parse_redis_protocol(bytes: &[u8]) -> usize {
    use redis_protocol::resp2::{decode::decode_range, types::RangeFrame};
    let mut offset = 0;
    let mut args = 0;
    while offset < bytes.len() {
        let (frame, consumed) = decode_range(&bytes[offset..])
            .expect("valid")
            .expect("complete");
        let RangeFrame::Array(items) = frame else {
            panic!("a request is an array")
        };
        args += items.len();
        offset += consumed;
    }
    args
}
