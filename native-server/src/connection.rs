//! One client connection, over TCP or TLS alike: read bytes, execute every complete request in
//! the engine's open group, wait for the group commit if the job depends on uncommitted writes,
//! write the replies in order. Pipelining falls out of that loop; a protocol error gets Redis's
//! error reply after the replies to the requests before it, then the connection closes.
//!
//! One event loop per connection reads, writes, delivers published messages and watches the
//! timers, so a client that stops reading never stops the server from noticing CLIENT KILL,
//! shutdown, or that its output has grown past `client-output-buffer-limit`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use diskdb_core::pipeline::{self, Bounds, Outcome as JobOutcome};
use diskdb_core::protocol::{Limits, Reply};
use diskdb_core::{CommandError, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::committer::{now_ms, Letter, Shared};
use crate::config::{ClassLimit, ClientLimits};

/// Read buffer growth step (Redis reads 16 KB at a time).
const READ_CHUNK: usize = 16 * 1024;
/// Most bytes of requests executed before replies are written, so one client's huge pipeline
/// runs in slices and other clients get their turn.
const MAX_JOB_BYTES: usize = 256 * 1024;
/// Unsent output at which the connection stops executing and reading this client's requests
/// until the client reads some: a client that pipelines without reading its replies holds at
/// most this much (plus its last reply) instead of growing without bound. Redis keeps executing
/// (its `normal` class has no limit by default); see docs/security.md.
const OUTPUT_HIGH_WATER: usize = 1024 * 1024;
/// An output buffer this large is freed once sent rather than kept for the next replies.
const KEEP_OUTPUT_CAPACITY: usize = 1024 * 1024;

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

/// Redis's refusal of a non-loopback client when no password is set and protected mode is on
/// (networking.c in Redis 7.0, byte for byte).
const PROTECTED_MODE_DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Redis's refusal of a client over `maxclients`.
pub const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

/// Executes the complete requests at the start of `input` into the open group (core's
/// pipeline runner), until the input runs out, `MAX_JOB_BYTES` of it ran, or the unsent output
/// (`reply` past `sent`) reaches `OUTPUT_HIGH_WATER`.
fn run_job(
    shared: &Shared,
    input: &[u8],
    limits: &Limits,
    session: &mut Session,
    reply: &mut Reply,
    sent: usize,
) -> Result<JobOutcome, String> {
    shared.spin.note_job();
    let mut engine = shared.engine();
    let bounds = Bounds {
        max_input: MAX_JOB_BYTES,
        max_unsent: OUTPUT_HIGH_WATER,
        sent,
    };
    let outcome = engine
        .execute_job(now_ms(), |group| {
            pipeline::run(group, session, input, limits, reply, bounds)
        })
        .map_err(|e| CommandError::from(e).to_string());
    // CONFIG SET may have changed a limit.
    shared.refresh_limits(engine.state());
    outcome
}

/// After a job: deliver what it published, wait for the commit its writes need (on failure every
/// command of the job gets the error, replacing its replies from `job_start` on), and add the
/// protocol error if there was one. Returns whether the connection must close once the output
/// is sent.
async fn finish_job(
    shared: &Shared,
    reply: &mut Reply,
    job_start: usize,
    outcome: &JobOutcome,
) -> bool {
    shared.deliver();
    if outcome.commands > 0 && shared.engine().pending_writes() {
        let committed = if shared.may_commit_alone() {
            shared.commit_now()
        } else {
            shared.wait_for_commit().await
        };
        if let Err(text) = committed {
            reply.truncate(job_start);
            for _ in 0..outcome.commands {
                reply.error(text.as_bytes());
            }
        }
    }
    if outcome.close {
        return true;
    }
    if let Some(err) = outcome.error {
        reply.error(&err.reply_text());
        return true;
    }
    false
}

/// Redis's `checkClientOutputBufferLimits`: over the hard limit at once, or over the soft limit
/// on two checks more than `soft_seconds` apart.
fn over_output_limit(limit: ClassLimit, pending: usize, soft_since: &mut Option<Instant>) -> bool {
    if limit.hard > 0 && pending >= limit.hard {
        return true;
    }
    if limit.soft > 0 && pending >= limit.soft {
        match soft_since {
            None => *soft_since = Some(Instant::now()),
            Some(since) => {
                return since.elapsed() > Duration::from_secs(limit.soft_seconds);
            }
        }
    } else {
        *soft_since = None;
    }
    false
}

/// What woke the connection's event loop.
enum Event {
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Messages(Vec<Vec<u8>>),
    Wake,
    BlockTimeout,
    Idle,
    Close,
}

/// A client stream split into a read half and a write half that the connection's event loop
/// polls at once. A TCP stream splits into its owned halves; a TLS session needs
/// `tokio::io::split`, which takes a lock on every read and write.
pub trait Halves {
    type Read: AsyncRead + Unpin;
    type Write: AsyncWrite + Unpin;
    fn halves(self) -> (Self::Read, Self::Write);
}

impl Halves for tokio::net::TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    fn halves(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Halves for tokio_rustls::server::TlsStream<S> {
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;
    fn halves(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

/// Serves one client until it disconnects, sends QUIT, breaks the protocol, breaks a limit, is
/// killed, or the server stops. `stream` is a TCP stream or a TLS session over one.
pub async fn serve<S: Halves>(
    stream: S,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
    shared: Arc<Shared>,
) {
    let (rd, mut wr) = stream.halves();
    let (password, protected) = {
        let engine = shared.engine();
        let state = engine.state();
        (
            state.param("requirepass").unwrap_or_default().to_vec(),
            state.param("protected-mode") != Some(b"no"),
        )
    };
    if protected && password.is_empty() && !peer.is_some_and(|a| a.ip().is_loopback()) {
        let _ = wr.write_all(PROTECTED_MODE_DENIED).await;
        let _ = wr.shutdown().await;
        return;
    }
    let addr = peer.map(|a| a.to_string()).unwrap_or_default();
    let signals = shared.connect(
        addr.clone(),
        local.map(|a| a.to_string()).unwrap_or_default(),
    );
    let id = signals.id;
    let _registration = Registration {
        shared: shared.clone(),
        id,
    };
    let limits = shared.limits();
    let mut handler = Handler {
        shared,
        rd,
        wr,
        signals,
        addr,
        limits,
        input: BytesMut::with_capacity(READ_CHUNK),
        reply: Reply::new(),
        sent: 0,
        session: Session {
            id,
            authenticated: password.is_empty(),
            ..Session::default()
        },
        blocked: None,
        input_ready: false,
        closing: false,
        read_closed: false,
        soft_since: None,
        last_interaction: Instant::now(),
        interacted: false,
    };
    handler.run().await;
}

/// One connection's state, and the steps of its event loop (mini-redis's `Handler`).
struct Handler<R, W> {
    shared: Arc<Shared>,
    rd: R,
    wr: W,
    signals: crate::committer::Signals,
    addr: String,
    /// The client limits, read again before each turn: CONFIG SET (from any client) applies
    /// from this client's next request on.
    limits: ClientLimits,
    input: BytesMut,
    /// The output buffer: `reply[..sent]` is written, `reply[sent..]` waits for the socket.
    reply: Reply,
    sent: usize,
    session: Session,
    /// The request that blocked (BLPOP, ...), run again when woken.
    blocked: Option<Vec<u8>>,
    /// Complete requests may be waiting in `input`.
    input_ready: bool,
    /// QUIT or a protocol error: send what is pending, then close.
    closing: bool,
    /// The client shut its sending side: answer what it sent, then close.
    read_closed: bool,
    soft_since: Option<Instant>,
    last_interaction: Instant,
    /// The client did something since `last_interaction` was read: the clock is read again only
    /// when an idle timeout needs it, not on every read and write.
    interacted: bool,
}

/// What the immediate write after executing found.
enum Flush {
    /// The peer is gone.
    Closed,
    /// It made room for more of a long pipeline: execute again.
    RunMore,
    Done,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Handler<R, W> {
    async fn run(&mut self) {
        loop {
            self.limits = self.shared.limits();
            let parse_limits = Limits {
                max_bulk_len: self.limits.proto_max_bulk_len,
                ..Limits::default()
            };
            self.execute_ready(&parse_limits).await;
            match self.flush_now().await {
                Flush::Closed => return,
                Flush::RunMore => continue,
                Flush::Done => {}
            }
            let pending = self.reply.len() - self.sent;
            if pending > 0 && !self.closing && self.over_output_limit(pending) {
                tracing::warn!(
                    "Client id={} addr={} closed for overcoming of output buffer limits.",
                    self.session.id,
                    self.addr
                );
                return;
            }
            if (self.closing || (self.read_closed && !self.input_ready)) && pending == 0 {
                let _ = self.wr.shutdown().await;
                return;
            }
            let event = self.next_event(pending).await;
            if !self.handle(event, &parse_limits).await {
                return;
            }
        }
    }

    fn may_execute(&self) -> bool {
        may_execute(
            self.input_ready,
            self.closing,
            self.blocked.is_some(),
            self.reply.len() - self.sent,
        )
    }

    /// Executes what is complete, unless the client is blocked or its output is backed up.
    async fn execute_ready(&mut self, parse_limits: &Limits) {
        while self.may_execute() {
            let job_start = self.reply.len();
            let outcome = match run_job(
                &self.shared,
                &self.input,
                parse_limits,
                &mut self.session,
                &mut self.reply,
                self.sent,
            ) {
                Ok(outcome) => outcome,
                Err(text) => {
                    self.reply.error(text.as_bytes());
                    self.closing = true;
                    break;
                }
            };
            if let Some(start) = outcome.blocked_at {
                self.blocked = Some(self.input[start..outcome.consumed].to_vec());
            }
            self.input.advance(outcome.consumed);
            self.input_ready = outcome.more || outcome.blocked_at.is_some();
            self.closing = finish_job(&self.shared, &mut self.reply, job_start, &outcome).await;
            if outcome.more {
                // A long pipeline runs in slices; let the other clients in between.
                tokio::task::yield_now().await;
            }
        }
    }

    /// Writes the replies now if the socket takes them: they usually fit at once, and waiting
    /// for the event loop's next turn would cost a turn.
    async fn flush_now(&mut self) -> Flush {
        if self.reply.len() <= self.sent {
            return Flush::Done;
        }
        let (wr, reply, sent) = (&mut self.wr, &self.reply, self.sent);
        let now = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(
                match std::pin::Pin::new(&mut *wr).poll_write(cx, &reply.as_bytes()[sent..]) {
                    std::task::Poll::Ready(result) => Some(result),
                    std::task::Poll::Pending => None,
                },
            )
        })
        .await;
        match now {
            Some(Ok(0) | Err(_)) => return Flush::Closed,
            Some(Ok(n)) => {
                self.interacted = true;
                advance_output(&mut self.reply, &mut self.sent, n);
            }
            None => {}
        }
        if self.may_execute() {
            Flush::RunMore
        } else {
            Flush::Done
        }
    }

    fn over_output_limit(&mut self, pending: usize) -> bool {
        let class = if self.session.channels.is_empty() && self.session.patterns.is_empty() {
            self.limits.output.normal
        } else {
            self.limits.output.pubsub
        };
        over_output_limit(class, pending, &mut self.soft_since)
    }

    /// Waits for what happens next: a signal, input, room to write, or a deadline.
    async fn next_event(&mut self, pending: usize) -> Event {
        let can_read = !self.closing && !self.read_closed && pending < OUTPUT_HIGH_WATER;
        // An emptied buffer also goes back to the front of its allocation (`reserve` reclaims
        // it without allocating), so that each read lands on the same, cached, lines instead of
        // walking through the whole buffer.
        if can_read
            && (self.input.capacity() - self.input.len() < READ_CHUNK / 4
                || (self.input.is_empty() && self.input.capacity() < READ_CHUNK))
        {
            self.input.reserve(READ_CHUNK);
        }
        let block_wait = self
            .blocked
            .as_ref()
            .and(self.session.block.as_ref())
            .map(|b| {
                b.deadline_ms
                    .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
            });
        let block_deadline = match block_wait {
            Some(Some(wait)) => Some(tokio::time::Instant::now() + wait),
            _ => None,
        };
        // Redis never times out subscribers or blocked clients; output being written is not
        // idleness either.
        let timeout_s = self.limits.timeout_s;
        let idle_deadline = (timeout_s > 0
            && pending == 0
            && self.blocked.is_none()
            && self.session.channels.is_empty()
            && self.session.patterns.is_empty())
        .then(|| {
            if std::mem::take(&mut self.interacted) {
                self.last_interaction = Instant::now();
            }
            tokio::time::Instant::from_std(self.last_interaction) + Duration::from_secs(timeout_s)
        });
        let blocked = self.blocked.is_some();
        let mailbox = &self.signals.mailbox;
        let (rd, wr, input) = (&mut self.rd, &mut self.wr, &mut self.input);
        let unsent = &self.reply.as_bytes()[self.sent..];
        // In this order rather than a random one (tokio's default draws a random number at
        // every turn): the mailbox first, so that a client that never stops sending is still
        // killed or woken, then the socket.
        tokio::select! {
            biased;
            letter = std::future::poll_fn(|cx| mailbox.poll_take(cx, blocked)) => {
                match letter {
                    Letter::Kill => Event::Close,
                    Letter::Messages(messages) => Event::Messages(messages),
                    Letter::Wake => Event::Wake,
                }
            }
            read = rd.read_buf(input), if can_read => Event::Read(read),
            wrote = wr.write(unsent), if pending > 0 => Event::Wrote(wrote),
            _ = sleep_until(block_deadline), if block_deadline.is_some() => Event::BlockTimeout,
            _ = sleep_until(idle_deadline), if idle_deadline.is_some() => Event::Idle,
        }
    }

    /// Acts on an event; `false` when the connection must end now.
    async fn handle(&mut self, event: Event, parse_limits: &Limits) -> bool {
        match event {
            // Redis drops a blocked client whose peer is gone.
            Event::Read(Ok(0)) if self.blocked.is_none() => self.read_closed = true,
            Event::Read(Ok(0) | Err(_)) | Event::Wrote(Ok(0) | Err(_)) | Event::Close => {
                return false
            }
            Event::Read(Ok(_)) => {
                self.interacted = true;
                if self.input.len() > self.limits.query_buffer_limit {
                    tracing::warn!(
                        "Closing client that reached max query buffer length: id={} addr={} qbuf={}",
                        self.session.id,
                        self.addr,
                        self.input.len()
                    );
                    return false;
                }
                self.input_ready = true;
            }
            Event::Wrote(Ok(n)) => {
                self.interacted = true;
                advance_output(&mut self.reply, &mut self.sent, n);
            }
            Event::Messages(messages) => {
                for message in &messages {
                    self.reply.raw(message);
                }
            }
            Event::Wake => return self.serve_woken(parse_limits).await,
            Event::BlockTimeout => {
                let Some(block) = self.session.block.take() else {
                    return true;
                };
                self.blocked = None;
                self.shared.unblock(self.session.id);
                if block.null_array {
                    self.reply.null_array();
                } else {
                    self.reply.null();
                }
                self.input_ready = true;
                self.interacted = true;
            }
            Event::Idle => {
                tracing::debug!(
                    "Closing idle client id={} addr={}",
                    self.session.id,
                    self.addr
                );
                return false;
            }
        }
        true
    }

    /// A key the blocked client waits on was written: run its request again.
    async fn serve_woken(&mut self, parse_limits: &Limits) -> bool {
        let Some(request) = self.blocked.take() else {
            return true;
        };
        self.session.block = None;
        let job_start = self.reply.len();
        let Ok(outcome) = run_job(
            &self.shared,
            &request,
            parse_limits,
            &mut self.session,
            &mut self.reply,
            self.sent,
        ) else {
            return false;
        };
        if self.session.block.is_some() {
            // Someone else was served first: wait again.
            self.blocked = Some(request);
            return true;
        }
        self.closing = finish_job(&self.shared, &mut self.reply, job_start, &outcome).await;
        self.input_ready = true;
        // Its idle time counts from when it was served.
        self.interacted = true;
        true
    }
}

/// Whether the connection may execute requests now: complete ones wait in the input, and the
/// client is not closing, not blocked, and has read enough of its replies.
fn may_execute(input_ready: bool, closing: bool, blocked: bool, unsent: usize) -> bool {
    input_ready && !closing && !blocked && unsent < OUTPUT_HIGH_WATER
}

/// Marks `n` more bytes of `reply` as written.
fn advance_output(reply: &mut Reply, sent: &mut usize, n: usize) {
    *sent += n;
    if *sent == reply.len() {
        if reply.len() > KEEP_OUTPUT_CAPACITY {
            drop(reply.take());
        } else {
            reply.truncate(0);
        }
        *sent = 0;
    } else if *sent >= KEEP_OUTPUT_CAPACITY && *sent * 2 >= reply.len() {
        // Compact now and then so a client that reads slowly but steadily does not make the
        // buffer grow.
        reply.consume(*sent);
        *sent = 0;
    }
}

/// Sleeps until `deadline`; never returns without one (its select branch is disabled then).
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
