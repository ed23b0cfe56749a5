//! The executor: one thread that owns the engine and runs every client's commands in arrival
//! order (Redis's serial semantics), in groups that commit together. A group's replies are
//! released only after its writes are durable (mode `always`): group commit.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use diskdb_core::protocol::{parse_request, Limits, Reply};
use diskdb_core::{CommandError, Engine, Session};
use tokio::sync::oneshot;

/// Most jobs folded into one group.
const MAX_GROUP: usize = 512;
/// How often background duties (active expiry, log sync, checkpoints) run when idle.
const TICK: Duration = Duration::from_millis(100);

/// Work for the executor.
pub enum Job {
    /// Execute the complete requests in `input` for `client`; replies go to `reply`.
    Run {
        client: u64,
        input: Bytes,
        reply: Reply,
        done: oneshot::Sender<Done>,
    },
    /// The client went away: forget its session.
    Disconnect { client: u64 },
}

/// The replies to one job.
pub struct Done {
    pub reply: Reply,
    /// QUIT was executed: close once the replies are written.
    pub close: bool,
}

/// Handle to the executor thread.
pub struct Executor {
    pub jobs: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
}

/// Milliseconds since the Unix epoch: the engine's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Executor {
    /// Starts the executor thread over `engine`.
    pub fn spawn(engine: Engine) -> std::io::Result<Executor> {
        let (jobs, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("diskdb-executor".into())
            .spawn(move || run(engine, rx))?;
        Ok(Executor { jobs, thread })
    }

    /// Waits for the executor to finish (after every job sender is gone) and its final checkpoint.
    pub fn join(self) {
        drop(self.jobs);
        let _ = self.thread.join();
    }
}

struct Pending {
    reply: Reply,
    done: oneshot::Sender<Done>,
    close: bool,
    commands: usize,
    mark: usize,
}

fn run(mut engine: Engine, rx: mpsc::Receiver<Job>) {
    let limits = Limits::default();
    let mut sessions: HashMap<u64, Session> = HashMap::new();
    let mut last_tick = now_ms();
    let mut batch = Vec::with_capacity(MAX_GROUP);
    loop {
        match rx.recv_timeout(TICK) {
            Ok(job) => batch.push(job),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let now = now_ms();
        if !batch.is_empty() {
            run_group(&mut engine, &mut sessions, &limits, &mut batch, now);
        }
        if now - last_tick >= TICK.as_millis() as i64 {
            if let Err(err) = engine.tick(now) {
                tracing::error!("background duties failed: {err}");
            }
            last_tick = now;
        }
    }
    match engine.checkpoint(now_ms()) {
        Ok(()) => tracing::info!("checkpoint written, data is on disk"),
        Err(err) => tracing::error!("final checkpoint failed: {err}"),
    }
}

fn run_group(
    engine: &mut Engine,
    sessions: &mut HashMap<u64, Session>,
    limits: &Limits,
    batch: &mut Vec<Job>,
    now: i64,
) {
    let mut pending = Vec::with_capacity(batch.len());
    let result = engine.run_group(now, |group| {
        for job in batch.drain(..) {
            match job {
                Job::Run {
                    client,
                    input,
                    mut reply,
                    done,
                } => {
                    let session = sessions.entry(client).or_default();
                    let mark = reply.len();
                    let mut pos = 0;
                    let mut commands = 0;
                    // The connection sent only complete, well-formed requests.
                    while let Ok(Some(request)) = parse_request(&input[pos..], limits) {
                        pos += request.consumed();
                        if request.is_empty() {
                            continue;
                        }
                        commands += 1;
                        group.execute(session, &request, &mut reply);
                        if session.close_after_reply {
                            break;
                        }
                    }
                    let close = std::mem::take(&mut session.close_after_reply);
                    pending.push(Pending {
                        reply,
                        done,
                        close,
                        commands,
                        mark,
                    });
                }
                Job::Disconnect { client } => {
                    sessions.remove(&client);
                }
            }
        }
    });
    if let Err(err) = &result {
        // Nothing of the group was applied: every command gets the error instead of its reply.
        tracing::error!("group failed: {err}");
        let text = CommandError::from(err).reply_text().into_owned();
        for p in &mut pending {
            p.reply.truncate(p.mark);
            for _ in 0..p.commands {
                p.reply.error(&text);
            }
        }
    }
    for p in pending {
        let _ = p.done.send(Done {
            reply: p.reply,
            close: p.close,
        });
    }
}
