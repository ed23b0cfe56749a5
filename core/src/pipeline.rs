//! The request loop every host runs: take the complete requests at the start of a client's
//! input, execute them in the open group, and stop at a close (QUIT), a command that blocked, a
//! protocol error, or a host's bounds. The native server, the npm package and the WASI command
//! all run this; what they do around it (sockets, commits, blocking) is theirs.

use crate::engine::Group;
use crate::protocol::{parse_request, parse_request_unauthenticated, Limits, ProtocolError, Reply};
use crate::session::Session;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Input bytes taken (complete requests, including the one that blocked).
    pub consumed: usize,
    /// Commands executed (not counting one that blocked).
    pub commands: usize,
    /// QUIT (or RESET's close) asked to close once the replies are sent.
    pub close: bool,
    /// The input held a malformed request: the connection must close after the replies so far
    /// and this error (the host writes it).
    pub error: Option<ProtocolError>,
    /// Where the request that blocked (BLPOP, ...) starts: it ends at `consumed`, and the rest
    /// of the pipeline waits until it is served.
    pub blocked_at: Option<usize>,
    /// The run stopped at a bound: complete requests may remain in the input.
    pub more: bool,
}

/// How much one run may do, so one client's pipeline cannot hold the engine or grow its
/// output without limit.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Stop after this many input bytes.
    pub max_input: usize,
    /// Stop while this many reply bytes past `sent` wait to be written.
    pub max_unsent: usize,
    /// Reply bytes already written to the client.
    pub sent: usize,
}

impl Bounds {
    /// No bound (a host that hands over its whole input and takes all the replies).
    pub const NONE: Bounds = Bounds {
        max_input: usize::MAX,
        max_unsent: usize::MAX,
        sent: 0,
    };
}

/// Executes the complete requests at the start of `input` for `session`, appending their
/// replies to `reply`.
pub fn run(
    group: &mut Group<'_, '_>,
    session: &mut Session,
    input: &[u8],
    limits: &Limits,
    reply: &mut Reply,
    bounds: Bounds,
) -> Outcome {
    let mut out = Outcome::default();
    while out.consumed < input.len() {
        if out.consumed >= bounds.max_input
            || reply.len().saturating_sub(bounds.sent) >= bounds.max_unsent
        {
            out.more = true;
            break;
        }
        let rest = &input[out.consumed..];
        let parsed = if session.authenticated {
            parse_request(rest, limits)
        } else {
            parse_request_unauthenticated(rest, limits)
        };
        match parsed {
            Ok(Some(request)) => {
                let start = out.consumed;
                out.consumed += request.consumed();
                if request.is_empty() {
                    continue;
                }
                out.commands += 1;
                group.execute(session, &request, reply);
                if std::mem::take(&mut session.close_after_reply) {
                    out.close = true;
                    break;
                }
                if session.block.is_some() {
                    out.commands -= 1;
                    out.blocked_at = Some(start);
                    break;
                }
            }
            Ok(None) => break,
            Err(err) => {
                out.error = Some(err);
                break;
            }
        }
    }
    out
}
