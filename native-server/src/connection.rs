//! One client connection: read bytes, parse every complete request, execute them in order under
//! one lock, write the replies in order. Pipelining falls out of that loop.

use bytes::{Buf, BytesMut};
use diskdb_core::protocol::{parse_request, Limits, Reply};
use diskdb_core::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::server::SharedEngine;

/// Initial read buffer size (Redis reads 16 KB at a time).
const READ_CHUNK: usize = 16 * 1024;
/// Flush replies once this much is pending, so a long pipeline does not pile up output.
const FLUSH_AT: usize = 64 * 1024;

/// Serves one client until it disconnects, sends QUIT, breaks the protocol, or the server stops.
pub async fn serve(
    mut stream: TcpStream,
    engine: SharedEngine,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let limits = Limits::default();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut reply = Reply::new();
    let mut session = Session::default();
    loop {
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = shutdown.changed() => return,
        }
        loop {
            let (consumed, close, more) =
                execute_batch(&engine, &input, &limits, &mut session, &mut reply);
            input.advance(consumed);
            if !reply.is_empty() {
                if stream.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                reply.consume(reply.len());
            }
            if close {
                let _ = stream.shutdown().await;
                return;
            }
            if !more {
                break;
            }
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
    }
}

/// Executes the complete requests at the start of `input`. Returns the bytes consumed, whether
/// the connection must close after the replies, and whether complete requests may remain (the
/// batch stopped early to flush output).
fn execute_batch(
    engine: &SharedEngine,
    input: &[u8],
    limits: &Limits,
    session: &mut Session,
    reply: &mut Reply,
) -> (usize, bool, bool) {
    let mut pos = 0;
    // A panic elsewhere must not take every other client down with a poisoned lock.
    let mut engine = engine
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    while pos < input.len() {
        match parse_request(&input[pos..], limits) {
            Ok(Some(request)) => {
                pos += request.consumed();
                engine.execute(session, &request, reply);
                if session.close_after_reply {
                    return (pos, true, false);
                }
                if reply.len() >= FLUSH_AT {
                    return (pos, false, true);
                }
            }
            Ok(None) => break,
            Err(err) => {
                reply.error(&err.reply_text());
                return (pos, true, false);
            }
        }
    }
    (pos, false, false)
}
