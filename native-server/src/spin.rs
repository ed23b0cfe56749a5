//! Polling the sockets for a moment after the last request, before the thread sleeps.
//!
//! Why: a client whose request finds the server's thread asleep in `epoll_wait` pays for
//! waking it inside its own `send` (on these 2-vCPU virtual machines, an interprocessor
//! interrupt). With `-c 50` the client, not the server, is the bottleneck, so that cost set
//! the throughput: redis-benchmark spent about twice the share of its CPU in the wake-up path
//! against DiskDB as against Redis, which is busier and so more often awake. Keeping the runtime polling for `window` after the
//! last request lets the next one find the thread awake.
//!
//! How: a task that yields in a loop. tokio's current-thread scheduler then checks epoll
//! without blocking between turns (`park_yield`), so a request is served as soon as it
//! arrives; the runtime sleeps once a whole window passed with no request. An idle server
//! spins for one window after its last request, then sleeps as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub struct Spin {
    /// How long to keep polling after the last request (zero: never).
    window: Duration,
    /// Jobs run (requests executed), and their number when the last window was asked for.
    jobs: AtomicU64,
    seen: AtomicU64,
    /// How many times [`Spin::absorb`] ran: a change ends the window under way.
    absorbed: AtomicU64,
    start: Notify,
}

impl Spin {
    pub fn new(window: Duration) -> Spin {
        Spin {
            window,
            jobs: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            absorbed: AtomicU64::new(0),
            start: Notify::new(),
        }
    }

    /// A connection executed requests.
    pub fn note_job(&self) {
        self.jobs.fetch_add(1, Ordering::Relaxed);
    }

    /// The runtime is about to sleep (its `on_thread_park` hook): if requests ran since the
    /// last window began, begin another, which keeps the runtime from sleeping.
    pub fn before_park(&self) {
        if self.window.is_zero() {
            return;
        }
        let jobs = self.jobs.load(Ordering::Relaxed);
        if self.seen.swap(jobs, Ordering::Relaxed) != jobs {
            self.start.notify_one();
        }
    }

    /// The requests run so far need no window, and a window under way ends: they waited for
    /// the log's `fdatasync` (`always` mode). Polling around those syncs made each one slower,
    /// and a client that waits for the disk anyway gains nothing from a server that stays awake.
    pub fn absorb(&self) {
        let jobs = self.jobs.load(Ordering::Relaxed);
        self.seen.store(jobs, Ordering::Relaxed);
        self.absorbed.fetch_add(1, Ordering::Relaxed);
    }

    /// The polling task: one window each time [`Spin::before_park`] asks for one. After each
    /// turn, in which the runtime polled epoll and ran every task that became ready, it calls
    /// `turn`: the work the runtime's `on_thread_park` hook does (the group commit), which
    /// would otherwise wait for the window's end, as the runtime does not park meanwhile.
    pub async fn run(&self, turn: impl Fn()) {
        loop {
            self.start.notified().await;
            let absorbed = self.absorbed.load(Ordering::Relaxed);
            let until = Instant::now() + self.window;
            while Instant::now() < until {
                tokio::task::yield_now().await;
                turn();
                if self.absorbed.load(Ordering::Relaxed) != absorbed {
                    break;
                }
            }
        }
    }
}

/// The default window: 50 µs where the machine has more than one CPU; none on one CPU, where
/// polling would take the CPU from the very client it waits for.
pub fn default_window_us() -> u64 {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() > 1 => 50,
        _ => 0,
    }
}
