//! Group commit, on the server's single thread (Redis's model: one thread runs every command in
//! arrival order, so commands are serial).
//!
//! Connections execute their requests straight into the engine's open group. A connection whose
//! job depends on uncommitted writes enlists and waits. The group is committed when the runtime
//! has run every ready task and is about to wait for I/O again (the runtime's `on_thread_park`
//! hook, like Redis's `beforeSleep`): one redb transaction, one log record, one `fdatasync`, then
//! the waiting replies are released. A fallback task commits if the thread never idles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diskdb_core::state::ServerState;
use diskdb_core::{Durability, Engine};

use crate::config::{ClientLimits, LIMIT_PARAMS};
use crate::spin::Spin;
use tokio::sync::{oneshot, Notify};

/// How often background duties (active expiry, the `everysec` sync, checkpoints) run.
const TICK: Duration = Duration::from_millis(100);

/// What the rest of the server tells one connection besides its socket: CLIENT KILL (or the
/// server's shutdown), published messages, and that a key it is blocked on was written.
///
/// Why one mailbox rather than a `Notify` per signal and a channel: the connection's event loop
/// polls everything it waits on at every turn, and each of those futures cost a noticeable
/// share of a GET's instructions per poll, where this is one uncontended lock.
#[derive(Default)]
pub struct Mailbox(Mutex<Mail>);

#[derive(Default)]
struct Mail {
    killed: bool,
    /// Set by a write to a key the client blocks on; kept until the client is blocked (a
    /// client woken for nothing runs its blocked command again and blocks again).
    woken: bool,
    messages: Vec<Vec<u8>>,
    waker: Option<Waker>,
}

/// What the mailbox held.
pub enum Letter {
    Kill,
    Messages(Vec<Vec<u8>>),
    Wake,
}

impl Mailbox {
    fn mail(&self) -> MutexGuard<'_, Mail> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// CLIENT KILL, or shutdown: the connection closes at its next turn.
    fn kill(&self) {
        self.post(|m| m.killed = true);
    }

    fn post(&self, f: impl FnOnce(&mut Mail)) {
        let mut mail = self.mail();
        f(&mut mail);
        if let Some(waker) = mail.waker.take() {
            waker.wake();
        }
    }

    /// Takes what is there, in order of urgency (a kill first, then messages, then a wake-up
    /// if `blocked`); else registers the task to be woken when something arrives.
    pub fn poll_take(&self, cx: &mut Context<'_>, blocked: bool) -> Poll<Letter> {
        let mut mail = self.mail();
        if mail.killed {
            return Poll::Ready(Letter::Kill);
        }
        if !mail.messages.is_empty() {
            return Poll::Ready(Letter::Messages(std::mem::take(&mut mail.messages)));
        }
        if blocked && std::mem::take(&mut mail.woken) {
            return Poll::Ready(Letter::Wake);
        }
        match &mut mail.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// What a connection listens to besides its socket.
pub struct Signals {
    pub id: u64,
    pub mailbox: Arc<Mailbox>,
}

/// The outcome a waiting job gets: `Err` carries the error text every command of the job gets.
pub type CommitResult = Result<(), String>;

/// State shared by the connections and the committer (all on one thread).
///
/// Everything runs on one thread, so the mutexes are never contended; they only make the
/// state `Send` for tokio's current-thread scheduler (cheaper per wake-up than a `LocalSet`).
pub struct Shared {
    engine: Mutex<Engine>,
    waiters: Mutex<Vec<oneshot::Sender<CommitResult>>>,
    wake: Notify,
    connections: Mutex<Connections>,
    /// The client limits as CONFIG last set them, and the config epoch they were read at.
    limits: Mutex<(u64, ClientLimits)>,
    /// The runtime went idle since a job last wrote (see [`Shared::may_commit_alone`]).
    idled: AtomicBool,
    /// A client sent SHUTDOWN (the accept loop waits on it, as on SIGTERM).
    shutdown: Notify,
    /// Polling after the last request before the runtime sleeps (`spin.rs`).
    pub spin: Spin,
}

/// The connections' mailboxes (CLIENT KILL, PUBLISH, wake-ups of blocked clients).
#[derive(Default)]
struct Connections {
    mailboxes: HashMap<u64, Arc<Mailbox>>,
    /// The server is shutting down: a connection that registers now is closed at once.
    closing: bool,
}

/// Milliseconds since the Unix epoch: the engine's clock.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Shared {
    /// `spin`: how long to keep polling after the last request (`spin.rs`).
    pub fn new(engine: Engine, spin: Duration) -> Arc<Shared> {
        Arc::new(Shared {
            engine: Mutex::new(engine),
            waiters: Mutex::new(Vec::new()),
            wake: Notify::new(),
            connections: Mutex::default(),
            limits: Mutex::new((0, ClientLimits::default())),
            idled: AtomicBool::new(false),
            shutdown: Notify::new(),
            spin: Spin::new(spin),
        })
    }

    /// The client limits in force.
    pub fn limits(&self) -> ClientLimits {
        self.limits.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    /// Re-reads the client limits from the CONFIG parameters if any parameter changed since.
    pub fn refresh_limits(&self, state: &ServerState) {
        let mut cached = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 == state.config_epoch {
            return;
        }
        let mut limits = ClientLimits::default();
        for name in LIMIT_PARAMS {
            let value = state.param(name).unwrap_or_default();
            // The values were checked when set; an unreadable one keeps its default.
            let _ = limits.set(name, &String::from_utf8_lossy(value));
        }
        *cached = (state.config_epoch, limits);
    }

    /// The engine. A panic while it was held leaves it as it was; keep serving.
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connections(&self) -> MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new connection.
    pub fn connect(&self, addr: String, laddr: String) -> Signals {
        let id = self.engine().state_mut().connect(addr, laddr, now_ms());
        let mailbox = Arc::new(Mailbox::default());
        let mut connections = self.connections();
        if connections.closing {
            mailbox.kill();
        }
        connections.mailboxes.insert(id, mailbox.clone());
        Signals { id, mailbox }
    }

    /// Stops waiting for a blocked client (timeout).
    pub fn unblock(&self, id: u64) {
        self.engine().state_mut().unblock(id);
    }

    /// Forgets a closed connection (and its subscriptions).
    pub fn disconnect(&self, id: u64) {
        self.engine().state_mut().disconnect(id);
        self.connections().mailboxes.remove(&id);
    }

    /// Closes every connection, and any that registers from now on (shutdown).
    pub fn close_all(&self) {
        let mut connections = self.connections();
        connections.closing = true;
        connections.mailboxes.values().for_each(|m| m.kill());
    }

    /// Resolves once a client has sent SHUTDOWN.
    pub async fn shutdown_requested(&self) {
        self.shutdown.notified().await
    }

    /// After a job: delivers published messages, closes the connections CLIENT KILL named and
    /// passes on a SHUTDOWN.
    pub fn deliver(&self) {
        let (victims, mail, woken) = {
            let mut engine = self.engine();
            let state = engine.state_mut();
            if state.kill_requests.is_empty()
                && state.outbox.is_empty()
                && state.wake.is_empty()
                && !state.shutdown_requested
            {
                return;
            }
            if std::mem::take(&mut state.shutdown_requested) {
                // A stored permit: the accept loop sees it even if it is not waiting yet.
                self.shutdown.notify_one();
            }
            (
                std::mem::take(&mut state.kill_requests),
                std::mem::take(&mut state.outbox),
                std::mem::take(&mut state.wake),
            )
        };
        let connections = &self.connections().mailboxes;
        for (id, message) in mail {
            if let Some(c) = connections.get(&id) {
                c.post(|m| m.messages.push(message));
            }
        }
        for id in victims {
            if let Some(c) = connections.get(&id) {
                c.kill();
            }
        }
        // In the order they blocked: the runtime runs woken tasks first in, first out.
        for id in woken {
            if let Some(c) = connections.get(&id) {
                c.post(|m| m.woken = true);
            }
        }
    }

    fn waiters(&self) -> MutexGuard<'_, Vec<oneshot::Sender<CommitResult>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the open group (which the caller's job ran in) is committed and durable.
    pub async fn wait_for_commit(&self) -> CommitResult {
        let (tx, rx) = oneshot::channel();
        self.waiters().push(tx);
        self.wake.notify_one();
        rx.await
            .unwrap_or_else(|_| Err("ERR DiskDB is shutting down".into()))
    }
}

impl Shared {
    /// The runtime is about to wait for I/O: commit what waits, then poll a while longer if
    /// requests ran since the last time (see `spin.rs`).
    pub fn idle(&self) {
        self.idle_turn();
        self.spin.before_park();
    }

    /// What each idle turn does, parked or polling: commit what waits.
    pub fn idle_turn(&self) {
        self.commit_pending();
        self.idled.store(true, Ordering::Relaxed);
    }

    /// Whether a job that wrote may commit its group itself, at once, rather than enlist for
    /// the group commit: without a log sync to share (`everysec`, `no`), when it is the first
    /// job to write since the runtime was idle. Why: a lone client's write otherwise costs a
    /// turn of the fallback task and a second poll of its connection (a oneshot, a wake-up,
    /// about a quarter of a lone SET's instructions); clients that become ready together
    /// still share one commit after the first one's.
    pub fn may_commit_alone(&self) -> bool {
        self.idled.swap(false, Ordering::Relaxed)
            && self.engine().durability() != Durability::Always
    }

    /// Commits the open group now for the calling job (see [`Shared::may_commit_alone`]),
    /// releasing any waiters with it.
    pub fn commit_now(&self) -> CommitResult {
        let waiters = std::mem::take(&mut *self.waiters());
        if !waiters.is_empty() && self.engine().durability() == Durability::Always {
            // These jobs waited for the log's sync: no polling for them (see `spin.rs`).
            self.spin.absorb();
        }
        let result = self.commit_group();
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
        result
    }

    /// Commits the open group if jobs wait on it, syncs the log in `always` mode, and releases
    /// the waiters. Called when the runtime is about to idle, and by the fallback task.
    pub fn commit_pending(&self) {
        if !self.waiters().is_empty() {
            let _ = self.commit_now();
        }
    }

    /// Commits the open group, syncing the log in `always` mode.
    fn commit_group(&self) -> CommitResult {
        let result = self.engine().commit_group(now_ms());
        result.map_err(|e| {
            tracing::error!("commit failed: {e}");
            diskdb_core::CommandError::from(&e).to_string()
        })
    }
}

/// The fallback commit, and background duties in a task of their own, until `stop` fires;
/// then commits what is left and checkpoints.
pub async fn run(shared: Arc<Shared>, stop: Arc<Notify>) {
    // The duties' timer lives in its own task, so that a commit's wake-up polls nothing else.
    let duties = tokio::spawn(duties(shared.clone()));
    let mut stopped = std::pin::pin!(stop.notified());
    loop {
        tokio::select! {
            _ = shared.wake.notified() => {
                // Normally the idle hook commits first; this only matters if the thread never
                // idles (other clients keep it busy). In `always` mode, yield while more jobs
                // keep joining the group (at most 4 times), so that one commit and one sync
                // serve them all, but no longer than that: a lone client's write waits for no
                // one. Without a sync to share, commit at once: the jobs already queued ran
                // before this task, and a yield costs a lone client's write a turn of the
                // event loop (an `epoll_wait`).
                let rounds = if shared.engine().durability() == Durability::Always {
                    4
                } else {
                    0
                };
                for _ in 0..rounds {
                    let before = shared.waiters().len();
                    tokio::task::yield_now().await;
                    let after = shared.waiters().len();
                    if after == 0 || after == before {
                        break;
                    }
                }
                shared.commit_pending();
            }
            _ = &mut stopped => break,
        }
    }
    duties.abort();
    let _ = duties.await;
    shared.commit_pending();
    match shared.engine().close(now_ms()) {
        Ok(()) => tracing::info!("checkpoint written and database file sealed, data is on disk"),
        Err(err) => tracing::error!("final checkpoint failed: {err}"),
    }
}

/// Every [`TICK`]: commits what waits, then active expiry, the `everysec` sync and checkpoints.
async fn duties(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        shared.commit_pending();
        let mut engine = shared.engine();
        if let Err(err) = engine.tick(now_ms()) {
            tracing::error!("background duties failed: {err}");
        }
        if let Some(rss) = resident_bytes() {
            engine
                .state_mut()
                .host
                .insert("used_memory_rss".into(), rss.to_string());
        }
    }
}

/// This process's resident memory, for INFO (Linux; elsewhere unknown).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
