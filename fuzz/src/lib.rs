//! Shared pieces of DiskDB's fuzz targets: how an input picks parser limits, the parser outcome
//! both parsers must agree on, and the command-script runner with its invariant checks.

use diskdb_core::protocol::{parse_request_with, split_args, Limits, ParserKind, ProtocolError};
use diskdb_core::{Engine, Session};

/// Splits a parser input into limits and the bytes to parse. An input starting with `0xff`
/// takes tiny limits from its next three bytes (so the limit checks are reached with short
/// inputs); any other input is parsed whole with the default limits, so a plain request is a
/// meaningful seed.
pub fn limits_and_buf(data: &[u8]) -> (Limits, &[u8]) {
    match data {
        [0xff, b, a, i, rest @ ..] => (
            Limits {
                max_bulk_len: u64::from(*b % 64),
                max_args: u64::from(*a % 16),
                max_inline: usize::from(*i % 64),
            },
            rest,
        ),
        _ => (Limits::default(), data),
    }
}

/// What one parse call gave: the contract of `docs/protocol.md`.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Complete { consumed: usize, args: Vec<Vec<u8>> },
    Incomplete,
    Error(ProtocolError),
}

/// Parses one request from the start of `buf` with `kind`, checking the guarantees every outcome
/// gives: a complete request consumed at least one byte and no more than it was given.
pub fn outcome(kind: ParserKind, buf: &[u8], limits: &Limits) -> Outcome {
    match parse_request_with(kind, buf, limits) {
        Ok(Some(req)) => {
            let consumed = req.consumed();
            assert!(
                consumed > 0 && consumed <= buf.len(),
                "{kind:?} consumed {consumed} of {} bytes",
                buf.len()
            );
            Outcome::Complete {
                consumed,
                args: req.to_vec(),
            }
        }
        Ok(None) => Outcome::Incomplete,
        Err(e) => Outcome::Error(e),
    }
}

/// Parses requests one after another from `buf`, as a connection does, until the buffer ends,
/// a request is incomplete or an error stops it; `each` sees every outcome with its start.
pub fn parse_stream(buf: &[u8], mut each: impl FnMut(usize, &[u8]) -> Outcome) {
    let mut start = 0;
    while start < buf.len() {
        match each(start, &buf[start..]) {
            Outcome::Complete { consumed, .. } => start += consumed,
            Outcome::Incomplete | Outcome::Error(_) => return,
        }
    }
}

/// The clock a command script starts at (Unix ms).
const START_MS: i64 = 1_700_000_000_000;
/// Sessions a script can switch between with `@client N` (WATCH, MULTI and blocking interplay).
const SESSIONS: usize = 3;
/// Largest size-like number passed to the commands whose work grows with it (below).
const MAX_COST: i64 = 1 << 16;

/// Whether running `argv` would spend time or memory in proportion to a number in it rather than
/// to the data (SETRANGE to a 512 MB offset, SRANDMEMBER with a count of -10^18), or sleep
/// (DEBUG SLEEP). Redis does the same work; a fuzzer only gets stuck on it.
fn too_costly(argv: &[Vec<u8>]) -> bool {
    let name = argv[0].to_ascii_lowercase();
    let numbers_matter = match name.as_slice() {
        b"debug" => return true,
        b"setrange" | b"srandmember" | b"hrandfield" | b"zrandmember" => true,
        _ => false,
    };
    numbers_matter
        && argv[1..].iter().any(|a| {
            diskdb_core::protocol::string2ll(a)
                .is_some_and(|n| !(-MAX_COST..=MAX_COST).contains(&n))
        })
}

/// Length of the one RESP2/RESP3 value at the start of `buf`, or `None` if it is not one.
pub fn resp_value_len(buf: &[u8]) -> Option<usize> {
    fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
        let end = buf.windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[1..end], end + 2))
    }
    fn number(text: &[u8]) -> Option<i64> {
        std::str::from_utf8(text).ok()?.parse().ok()
    }
    let first = *buf.first()?;
    let (text, mut at) = line(buf)?;
    match first {
        b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => Some(at),
        b'$' | b'=' | b'!' => {
            let n = number(text)?;
            if n < 0 {
                return (first == b'$' && n == -1).then_some(at);
            }
            let end = at.checked_add(usize::try_from(n).ok()?)?;
            (buf.get(end..end + 2)? == b"\r\n").then_some(end + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number(text)?;
            if n < 0 {
                return (first == b'*' && n == -1).then_some(at);
            }
            let items = if matches!(first, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            for _ in 0..items {
                at += resp_value_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => None,
    }
}

/// Runs a command script against a fresh in-memory engine and checks, after every command,
/// that nothing failed in the store, that the reply is well-formed RESP (exactly one value for
/// the commands that answer once), and that the keyspace passes
/// [`Engine::check_integrity`]. Panics (a fuzzer finding) when one does not hold.
///
/// The script is text, one command per line in redis-cli quoting (as in `tests/compat/cases`):
/// `#` starts a comment line, `@sleep MS` advances the clock and runs background duties
/// (active expiry), `@client N` switches the session that runs the next commands.
pub fn run_commands(script: &[u8]) {
    let mut engine = Engine::memory();
    let mut now = START_MS;
    let mut sessions: Vec<(Session, diskdb_core::protocol::Reply)> = (0..SESSIONS)
        .map(|_| {
            let id = engine
                .state_mut()
                .connect("fuzz".into(), String::new(), now);
            (
                Session {
                    id,
                    ..Session::default()
                },
                diskdb_core::protocol::Reply::new(),
            )
        })
        .collect();
    let mut current = 0;
    for line in script.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            continue;
        }
        let Ok(argv) = split_args(line) else { continue };
        let Some(name) = argv.first() else { continue };
        if name.as_slice() == b"@sleep" || name.as_slice() == b"@client" {
            let n = argv
                .get(1)
                .and_then(|a| diskdb_core::protocol::string2ll(a))
                .unwrap_or(0);
            if name.as_slice() == b"@client" {
                current = n.unsigned_abs() as usize % SESSIONS;
            } else {
                now += n.clamp(0, 1 << 40);
                if let Err(err) = engine.tick(now) {
                    panic!("background duties failed on an in-memory store: {err}");
                }
            }
            continue;
        }
        if too_costly(&argv) {
            continue;
        }
        let (session, reply) = &mut sessions[current];
        if let Err(err) = engine.execute(now, session, &argv, reply) {
            panic!(
                "{:?} failed in the store: {err}",
                String::from_utf8_lossy(name)
            );
        }
        let out = reply.take();
        let lower = name.to_ascii_lowercase();
        let many = lower.ends_with(b"subscribe");
        if session.block.take().is_some() {
            // The host would wait; the fuzzer times the client out at once, as the server does.
            engine.state_mut().unblock(session.id);
            assert!(out.is_empty(), "a blocked command replied {out:?}");
        } else if !many {
            let len = resp_value_len(&out);
            assert_eq!(
                len,
                Some(out.len()),
                "{:?} did not reply one RESP value: {:?}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(&out)
            );
        }
        if session.close_after_reply {
            // QUIT: the client reconnects with a fresh session.
            let id = engine
                .state_mut()
                .connect("fuzz".into(), String::new(), now);
            engine.state_mut().disconnect(session.id);
            *session = Session {
                id,
                ..Session::default()
            };
            *reply = diskdb_core::protocol::Reply::new();
        }
        if let Err(err) = engine.check_integrity() {
            panic!(
                "after {:?}: {err}",
                argv.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_values_are_measured() {
        assert_eq!(resp_value_len(b"+OK\r\n"), Some(5));
        assert_eq!(resp_value_len(b"*2\r\n$1\r\na\r\n:1\r\n"), Some(15));
        assert_eq!(resp_value_len(b"*2\r\n$1\r\na\r\n"), None);
        assert_eq!(resp_value_len(b"%1\r\n+a\r\n_\r\n"), Some(11));
    }

    #[test]
    fn a_script_runs() {
        run_commands(b"SET a 1\nZADD z 1 a 2 b\n@sleep 10\nMULTI\nINCR a\nEXEC\n");
    }
}
