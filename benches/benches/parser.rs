//! Request parsing throughput, one run, on the same bytes: DiskDB's C and Rust parsers and two
//! peers, the `redis-protocol` crate's RESP2 decoder and hiredis's reply reader.
//!
//! Each benchmark parses every request of a fixture (one request, or a pipeline of 100) from the
//! start of its buffer. Two groups measure the same work: `parse` reports requests per second,
//! `parse_bytes` bytes per second (criterion reports one throughput per group).

use std::ffi::{c_char, c_int, c_longlong, c_void};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use diskdb_benches::{parse_diskdb, parse_redis_protocol, parser_fixtures, ParserFixture};
use diskdb_core::protocol::{Limits, ParserKind};

/// The parsers compared, in the order they appear in reports.
#[derive(Clone, Copy, Debug)]
enum Parser {
    C,
    Rust,
    RedisProtocol,
    Hiredis,
}

impl Parser {
    const ALL: [Parser; 4] = [
        Parser::C,
        Parser::Rust,
        Parser::RedisProtocol,
        Parser::Hiredis,
    ];

    fn name(self) -> &'static str {
        match self {
            Parser::C => "C",
            Parser::Rust => "Rust",
            Parser::RedisProtocol => "redis-protocol",
            Parser::Hiredis => "hiredis",
        }
    }
}

// hiredis 0.14 (Debian's libhiredis-dev), linked by this crate's build.rs. Only what the benchmark
// calls; the reply struct is declared to check the parse, with the layout of `hiredis.h`.
#[repr(C)]
struct RedisReply {
    kind: c_int,
    integer: c_longlong,
    len: usize,
    str_: *mut c_char,
    elements: usize,
    element: *mut *mut RedisReply,
}

const REDIS_OK: c_int = 0;
const REDIS_REPLY_ARRAY: c_int = 2;

extern "C" {
    fn redisReaderCreate() -> *mut c_void;
    fn redisReaderFree(reader: *mut c_void);
    fn redisReaderFeed(reader: *mut c_void, buf: *const c_char, len: usize) -> c_int;
    fn redisReaderGetReply(reader: *mut c_void, reply: *mut *mut c_void) -> c_int;
    fn freeReplyObject(reply: *mut c_void);
}

/// A hiredis reader with its default reply-object functions, as hiredis users get it.
///
/// Per request it does what a hiredis user pays for: `redisReaderFeed` copies the bytes into the
/// reader's buffer, `redisReaderGetReply` builds a reply tree (one `calloc` for the array reply and
/// its element vector, then one reply object plus a copy of the bytes per argument) and
/// `freeReplyObject` frees it all again.
struct HiredisReader(*mut c_void);

impl HiredisReader {
    fn new() -> Self {
        // SAFETY: no arguments; returns an owned reader or NULL (out of memory), checked here.
        let reader = unsafe { redisReaderCreate() };
        assert!(!reader.is_null(), "redisReaderCreate failed");
        HiredisReader(reader)
    }

    /// Feeds `bytes` and takes out `requests` replies; returns the arguments seen.
    fn parse(&mut self, bytes: &[u8], requests: u64) -> usize {
        // SAFETY: `self.0` is a live reader; hiredis copies `bytes[..len]` during the call and
        // keeps no pointer to it.
        let rc = unsafe { redisReaderFeed(self.0, bytes.as_ptr().cast(), bytes.len()) };
        assert_eq!(rc, REDIS_OK, "redisReaderFeed failed");
        let mut args = 0;
        for _ in 0..requests {
            let mut reply: *mut c_void = std::ptr::null_mut();
            // SAFETY: `self.0` is a live reader and `reply` a valid out-pointer.
            let rc = unsafe { redisReaderGetReply(self.0, &mut reply) };
            assert!(rc == REDIS_OK && !reply.is_null(), "hiredis: no reply");
            // SAFETY: a non-NULL reply from the default object functions is a `redisReply`
            // (layout above), owned by us until `freeReplyObject`.
            let reply_ref = unsafe { &*reply.cast::<RedisReply>() };
            assert_eq!(reply_ref.kind, REDIS_REPLY_ARRAY, "a request is an array");
            args += reply_ref.elements;
            // SAFETY: `reply` came from `redisReaderGetReply`, is freed once, not used after.
            unsafe { freeReplyObject(reply) };
        }
        args
    }
}

impl HiredisReader {
    /// Whether the reader holds no further complete reply.
    fn drained(&mut self) -> bool {
        let mut reply: *mut c_void = std::ptr::null_mut();
        // SAFETY: as in `parse`; a reply taken here is freed at once.
        let rc = unsafe { redisReaderGetReply(self.0, &mut reply) };
        if !reply.is_null() {
            // SAFETY: `reply` came from `redisReaderGetReply` and is freed once.
            unsafe { freeReplyObject(reply) };
        }
        rc == REDIS_OK && reply.is_null()
    }
}

impl Drop for HiredisReader {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `redisReaderCreate` and is freed only here.
        unsafe { redisReaderFree(self.0) };
    }
}

/// Runs one parser over a fixture; the argument count checks every parser read the same requests.
fn run(
    parser: Parser,
    fixture: &ParserFixture,
    limits: &Limits,
    hiredis: &mut HiredisReader,
) -> usize {
    let bytes = black_box(&fixture.bytes[..]);
    match parser {
        Parser::C => parse_diskdb(ParserKind::C, bytes, limits),
        Parser::Rust => parse_diskdb(ParserKind::Rust, bytes, limits),
        Parser::RedisProtocol => parse_redis_protocol(bytes),
        Parser::Hiredis => hiredis.parse(bytes, fixture.requests),
    }
}

fn parsers(c: &mut Criterion) {
    assert!(ParserKind::c_available(), "the C parser was not compiled");
    let limits = Limits::default();
    let mut hiredis = HiredisReader::new();
    let fixtures = parser_fixtures();

    // Every parser must read the same requests and arguments from each fixture.
    for fixture in &fixtures {
        let want = fixture.args;
        for parser in Parser::ALL {
            let got = run(parser, fixture, &limits, &mut hiredis);
            assert_eq!(got, want, "{} by {}", fixture.name, parser.name());
        }
        assert!(
            hiredis.drained(),
            "hiredis left a reply of {}",
            fixture.name
        );
    }

    for (group_name, bytes_throughput) in [("parse", false), ("parse_bytes", true)] {
        let mut group = c.benchmark_group(group_name);
        for fixture in &fixtures {
            group.throughput(if bytes_throughput {
                Throughput::Bytes(fixture.bytes.len() as u64)
            } else {
                Throughput::Elements(fixture.requests)
            });
            for parser in Parser::ALL {
                group.bench_function(format!("{}/{}", fixture.name, parser.name()), |b| {
                    b.iter(|| run(parser, fixture, &limits, &mut hiredis))
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, parsers);
criterion_main!(benches);
