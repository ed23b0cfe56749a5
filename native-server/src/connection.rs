//! One client connection: read bytes, execute every complete request in the engine's open group,
//! wait for the group commit if the job depends on uncommitted writes, write the replies in
//! order. Pipelining falls out of that loop; a protocol error gets Redis's error reply after the
//! replies to the requests before it, then the connection closes.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use diskdb_core::protocol::{
    parse_request, parse_request_unauthenticated, Limits, ProtocolError, Reply,
};
use diskdb_core::{CommandError, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::committer::{now_ms, Shared, Signals};

/// Read buffer growth step (Redis reads 16 KB at a time).
const READ_CHUNK: usize = 16 * 1024;
/// Most bytes of requests executed before replies are written, so one client's huge pipeline
/// runs in slices and its replies do not pile up.
const MAX_JOB_BYTES: usize = 256 * 1024;

/// Removes the client from the registry when the connection ends, however it ends.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.disconnect(self.id);
    }
}

/// Redis's refusal of a non-loopback client when no password is set and protected mode is on.
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// What one job did.
struct JobOutcome {
    consumed: usize,
    commands: usize,
    close: bool,
    error: Option<ProtocolError>,
    /// Where the request that blocked (if one did) starts: it ends at `consumed`.
    blocked_at: Option<usize>,
}

/// Executes the complete requests at the start of `input` into the open group.
fn run_job(
    shared: &Shared,
    input: &[u8],
    limits: &Limits,
    session: &mut Session,
    reply: &mut Reply,
) -> Result<JobOutcome, String> {
    let mut engine = shared.engine();
    engine
        .execute_job(now_ms(), |group| {
            let mut out = JobOutcome {
                consumed: 0,
                commands: 0,
                close: false,
                error: None,
                blocked_at: None,
            };
            while out.consumed < input.len() && out.consumed < MAX_JOB_BYTES {
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
                            // The rest of the pipeline waits until this command is served.
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
        })
        .map_err(|e| CommandError::from(e).to_string())
}

/// Serves one client until it disconnects, sends QUIT, breaks the protocol, or the server stops.
pub async fn serve(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let addr = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let peer_ip = stream.peer_addr().map(|a| a.ip()).ok();
    let (password, protected) = {
        let engine = shared.engine();
        let state = engine.state();
        (
            state.param("requirepass").unwrap_or_default().to_vec(),
            state.param("protected-mode") != Some(b"no"),
        )
    };
    if protected && password.is_empty() && !peer_ip.is_some_and(|ip| ip.is_loopback()) {
        let _ = stream.write_all(PROTECTED_MODE_DENIED).await;
        return;
    }
    let mut signals = shared.connect(addr, laddr);
    let id = signals.id;
    let _registration = Registration {
        shared: shared.clone(),
        id,
    };
    let limits = Limits::default();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut reply = Reply::new();
    let mut session = Session {
        id,
        authenticated: password.is_empty(),
        ..Session::default()
    };
    loop {
        tokio::select! {
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = shutdown.changed() => return,
            _ = signals.kill.notified() => return,
            Some(message) = signals.inbox.recv() => {
                if stream.write_all(&message).await.is_err() {
                    return;
                }
                continue;
            }
        }
        loop {
            let outcome = match run_job(&shared, &input, &limits, &mut session, &mut reply) {
                Ok(outcome) => outcome,
                Err(text) => {
                    reply.error(text.as_bytes());
                    let _ = stream.write_all(reply.as_bytes()).await;
                    return;
                }
            };
            let blocked = outcome
                .blocked_at
                .map(|start| input[start..outcome.consumed].to_vec());
            input.advance(outcome.consumed);
            if finish_job(&shared, &mut stream, &mut reply, &outcome)
                .await
                .is_err()
            {
                return;
            }
            if let Some(request) = blocked {
                let waited = wait_while_blocked(
                    &shared,
                    &mut stream,
                    &mut session,
                    &mut reply,
                    &request,
                    &limits,
                    &mut signals,
                    &mut shutdown,
                    &mut input,
                )
                .await;
                if waited.is_err() {
                    return;
                }
                continue;
            }
            // More complete requests than one job takes: go on without reading.
            if outcome.consumed < MAX_JOB_BYTES || input.is_empty() {
                break;
            }
        }
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
    }
}

/// The connection must end (socket error, QUIT, protocol error, kill, shutdown).
struct Closed;

/// After a job: deliver what it published, wait for the commit its writes need, write the
/// replies (and a protocol error), and close if the job said so.
async fn finish_job(
    shared: &Shared,
    stream: &mut TcpStream,
    reply: &mut Reply,
    outcome: &JobOutcome,
) -> Result<(), Closed> {
    shared.deliver();
    if outcome.commands > 0 && shared.engine().pending_writes() {
        if let Err(text) = shared.wait_for_commit().await {
            // The group was rolled back: every command of this job failed.
            reply.truncate(0);
            for _ in 0..outcome.commands {
                reply.error(text.as_bytes());
            }
        }
    }
    let mut close = outcome.close;
    if let (Some(err), false) = (outcome.error, close) {
        reply.error(&err.reply_text());
        close = true;
    }
    if !reply.is_empty() {
        stream
            .write_all(reply.as_bytes())
            .await
            .map_err(|_| Closed)?;
        reply.truncate(0);
    }
    if close {
        let _ = stream.shutdown().await;
        return Err(Closed);
    }
    Ok(())
}

/// Waits until the blocked request can be served (a key it waits on was written: run it again)
/// or its deadline passes (reply with its null). Published messages are still delivered; bytes
/// the client sends meanwhile are kept for after.
#[allow(clippy::too_many_arguments)]
async fn wait_while_blocked(
    shared: &Shared,
    stream: &mut TcpStream,
    session: &mut Session,
    reply: &mut Reply,
    request: &[u8],
    limits: &Limits,
    signals: &mut Signals,
    shutdown: &mut watch::Receiver<bool>,
    input: &mut BytesMut,
) -> Result<(), Closed> {
    loop {
        let Some(block) = session.block.clone() else {
            return Ok(());
        };
        let timeout = async {
            match block.deadline_ms {
                Some(at) => {
                    let wait = (at - now_ms()).max(0) as u64;
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = signals.wake.notified() => {
                session.block = None;
                let outcome = run_job(shared, request, limits, session, reply).map_err(|_| Closed)?;
                if session.block.is_some() {
                    continue;
                }
                return finish_job(shared, stream, reply, &outcome).await;
            }
            _ = timeout => {
                session.block = None;
                shared.unblock(session.id);
                if block.null_array {
                    reply.null_array();
                } else {
                    reply.null();
                }
                stream.write_all(reply.as_bytes()).await.map_err(|_| Closed)?;
                reply.truncate(0);
                return Ok(());
            }
            _ = signals.kill.notified() => return Err(Closed),
            _ = shutdown.changed() => return Err(Closed),
            Some(message) = signals.inbox.recv() => {
                stream.write_all(&message).await.map_err(|_| Closed)?;
            }
            read = stream.read_buf(input) => match read {
                Ok(0) | Err(_) => return Err(Closed),
                Ok(_) => {}
            },
        }
    }
}
