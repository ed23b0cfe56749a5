//! The C parser and the Rust parser must agree on every input: valid requests, truncated ones,
//! requests split across reads, mutated bytes and random noise, under default and tiny limits.

use diskdb_core::protocol::{parse_request_with, Limits, ParserKind, ProtocolError};
use proptest::prelude::*;

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Complete { consumed: usize, args: Vec<Vec<u8>> },
    Incomplete,
    Error(ProtocolError),
}

fn outcome(kind: ParserKind, buf: &[u8], limits: &Limits) -> Outcome {
    match parse_request_with(kind, buf, limits) {
        Ok(Some(req)) => Outcome::Complete {
            consumed: req.consumed(),
            args: req.to_vec(),
        },
        Ok(None) => Outcome::Incomplete,
        Err(e) => Outcome::Error(e),
    }
}

fn assert_same(buf: &[u8], limits: &Limits) -> Outcome {
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

/// Feeds `stream` in chunks as a connection would, consuming complete requests; both parsers must
/// take the same path.
fn assert_same_stream(stream: &[u8], cuts: &[usize], limits: &Limits) {
    let mut received = 0;
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.push(stream.len());
    cuts.sort_unstable();
    for cut in cuts {
        received = received.max(cut);
        loop {
            match assert_same(&stream[start..received], limits) {
                Outcome::Complete { consumed, .. } => start += consumed,
                Outcome::Incomplete => break,
                Outcome::Error(_) => return,
            }
            if start == received {
                break;
            }
        }
    }
}

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        proptest::collection::vec(prop::sample::select(b"ab \"'\\x41\r\n\t\0".to_vec()), 0..12),
    ]
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let inline_token = proptest::collection::vec(
        prop::sample::select(b"abcXYZ019 \"'\\xnrt\t".to_vec()),
        0..10,
    );
    prop_oneof![
        3 => proptest::collection::vec(arg(), 0..6).prop_map(|a| multibulk(&a)),
        1 => proptest::collection::vec(inline_token, 0..5).prop_map(|words| {
            let mut line = words.join(&b' ');
            line.extend_from_slice(if line.len() % 2 == 0 { b"\r\n" } else { b"\n" });
            line
        }),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (0u64..20, 0u64..6, 0usize..24).prop_map(|(b, a, i)| Limits {
            max_bulk_len: b,
            max_args: a,
            max_inline: i,
        }),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop::sample::select(b"*$\r\n0123456789-+ \"'\\\0xa".to_vec());
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len();
        match *m {
            Mutation::Flip(i, b) if n > 0 => bytes[i % n] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Mutation::Delete(i) if n > 0 => {
                bytes.remove(i % n);
            }
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn valid_requests_parse_identically(req in request(), limits in limits()) {
        assert_same(&req, &limits);
    }

    #[test]
    fn every_truncation_parses_identically(req in request(), limits in limits()) {
        for end in 0..=req.len() {
            assert_same(&req[..end], &limits);
        }
    }

    #[test]
    fn pipelines_split_across_reads_parse_identically(
        reqs in proptest::collection::vec(request(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limits in limits(),
    ) {
        assert_same_stream(&reqs.concat(), &cuts, &limits);
    }

    #[test]
    fn mutated_requests_parse_identically(
        reqs in proptest::collection::vec(request(), 1..3),
        mutations in proptest::collection::vec(mutation(), 1..5),
        limits in limits(),
    ) {
        let bytes = apply(reqs.concat(), &mutations);
        assert_same_stream(&bytes, &[], &limits);
    }

    #[test]
    fn noise_parses_identically(
        bytes in proptest::collection::vec(prop::sample::select(b"*$\r\n0123456789- \"'\\\0x".to_vec()), 0..40),
        limits in limits(),
    ) {
        assert_same(&bytes, &limits);
    }
}

#[test]
fn the_c_parser_is_built_when_required() {
    if std::env::var("DISKDB_REQUIRE_C_PARSER").as_deref() == Ok("1") {
        assert!(
            ParserKind::c_available(),
            "the C parser was not compiled into this build"
        );
    }
}

#[test]
fn valid_multibulk_yields_its_arguments() {
    let out = assert_same(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nextra", &Limits::default());
    assert_eq!(
        out,
        Outcome::Complete {
            consumed: 20,
            args: vec![b"GET".to_vec(), b"k".to_vec()]
        }
    );
}

#[test]
fn redis_error_texts_are_exact() {
    let d = Limits::default();
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*2147483648\r\n",
            b"ERR Protocol error: invalid multibulk length",
        ),
        (b"*1\r\n$-1\r\n", b"ERR Protocol error: invalid bulk length"),
        (
            b"*1\r\nx3\r\n",
            b"ERR Protocol error: expected '$', got 'x'",
        ),
        (
            b"\"abc\r\n",
            b"ERR Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, text) in cases {
        match assert_same(input, &d) {
            Outcome::Error(e) => assert_eq!(e.reply_text(), *text),
            other => panic!("{other:?}"),
        }
    }
    let big = vec![b'a'; 70 * 1024];
    match assert_same(&big, &d) {
        Outcome::Error(e) => assert_eq!(
            e.reply_text(),
            b"ERR Protocol error: too big inline request"
        ),
        other => panic!("{other:?}"),
    }
}

/// Header lines around the Rust parser's quick path (at most 18 digits, no leading zero, a byte
/// after the `\r`) and the general path it falls back to.
#[test]
fn header_lines_at_the_edges_parse_identically() {
    let mut numbers: Vec<String> = ["0", "00", "01", "-0", "-1", "+1", "", " 1", "1 "]
        .map(String::from)
        .to_vec();
    for digits in 1..=21 {
        numbers.push("9".repeat(digits));
        numbers.push(format!("1{}", "0".repeat(digits - 1)));
    }
    numbers.push(i64::MAX.to_string());
    numbers.push((i64::MAX as u64 + 1).to_string());
    numbers.push(u64::MAX.to_string());
    let wide = Limits {
        max_bulk_len: u64::MAX,
        ..Limits::default()
    };
    let tiny = Limits {
        max_bulk_len: 3,
        max_args: 2,
        max_inline: 2,
    };
    for n in &numbers {
        for tail in [
            &b""[..],
            b"\r",
            b"\r\n",
            b"\r\nabc\r\n",
            b"\0\r\n",
            b"x\r\n",
        ] {
            let mut bulk = format!("*1\r\n${n}").into_bytes();
            bulk.extend_from_slice(tail);
            let mut count = format!("*{n}").into_bytes();
            count.extend_from_slice(tail);
            for limits in [&Limits::default(), &wide, &tiny] {
                assert_same(&bulk, limits);
                // Huge valid counts would make the C side size its arena for them.
                if n.len() <= 7 {
                    assert_same(&count, limits);
                }
            }
        }
    }
}
