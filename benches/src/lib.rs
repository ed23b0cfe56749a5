//! Request fixtures shared by the benchmarks.

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

/// The requests the parser benchmarks and the figures use: (name, bytes).
pub fn parser_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("GET", resp(&[b"GET", b"key:000000000001"])),
        (
            "SET",
            resp(&[b"SET", b"key:000000000001", b"value-0123456789"]),
        ),
        (
            "ZADD5",
            resp(&[
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
            ]),
        ),
    ]
}
