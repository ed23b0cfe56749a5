//! Instance-wide state that server commands read and change: settings (CONFIG), statistics
//! (INFO), the registry of connected clients (CLIENT LIST/KILL), and requests the host acts on
//! after a command (SAVE, CLIENT KILL).

use std::collections::BTreeMap;

/// What CLIENT LIST / CLIENT INFO show about one connection.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub created_ms: i64,
    pub last_ms: i64,
    pub db: usize,
    pub resp: u8,
    pub last_cmd: &'static str,
    pub no_evict: bool,
    pub multi: Option<usize>,
}

/// Counters INFO reports.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

/// One CONFIG parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub value: Vec<u8>,
    /// Whether CONFIG SET may change it at run time.
    pub mutable: bool,
}

/// Instance-wide state shared by every client's commands.
#[derive(Debug, Default)]
pub struct ServerState {
    /// Why writes are refused (the disk is full and a checkpoint failed), as the text after
    /// `MISCONF`: write commands get that error, reads go on, until a checkpoint succeeds.
    pub writes_refused: Option<String>,
    /// CONFIG parameters by name (lower case).
    pub config: BTreeMap<String, Param>,
    pub stats: Stats,
    /// Connected clients by id.
    pub clients: BTreeMap<u64, ClientInfo>,
    /// When the instance started (Unix ms).
    pub started_ms: i64,
    /// Last successful checkpoint (Unix seconds), for LASTSAVE and INFO.
    pub last_save_s: i64,
    /// A SAVE/BGSAVE asked for a checkpoint once the current group commits.
    pub save_requested: bool,
    /// SHUTDOWN asked the host to stop serving: close every client, checkpoint, exit.
    pub shutdown_requested: bool,
    /// CLIENT KILL asked for these connections to close.
    pub kill_requests: Vec<u64>,
    /// The host's description for INFO server (e.g. `tcp_port`, `executable`).
    pub host: BTreeMap<String, String>,
    /// Channel → subscribed client ids, in subscription order.
    pub channels: BTreeMap<Vec<u8>, Vec<u64>>,
    /// (pattern, client id) pairs, in subscription order.
    pub patterns: Vec<(Vec<u8>, u64)>,
    /// Messages for other clients (PUBLISH), for the host to deliver after the command.
    pub outbox: Vec<(u64, Vec<u8>)>,
    /// WATCHed keys: `(physical db, key)` → watching client ids.
    pub watchers: BTreeMap<(u8, Vec<u8>), Vec<u64>>,
    /// Clients one of whose WATCHed keys was written: their EXEC fails.
    pub dirty_cas: std::collections::BTreeSet<u64>,
    /// Keys that blocked clients wait on: `(physical db, key)` → client ids, first blocked first.
    pub blocked_on: BTreeMap<(u8, Vec<u8>), Vec<u64>>,
    /// Blocked clients to wake after this command (a key they wait on was written), in order.
    pub wake: Vec<u64>,
    /// Changes whenever a parameter is set, so a host can tell cheaply that its copy is stale.
    pub config_epoch: u64,
}

impl ServerState {
    /// Marks the watchers of written keys dirty.
    pub fn keys_touched(&mut self, touched: Vec<(u8, Option<Vec<u8>>)>) {
        for (phys, key) in touched {
            match key {
                Some(key) => {
                    let slot = (phys, key);
                    if let Some(ids) = self.watchers.get(&slot) {
                        self.dirty_cas.extend(ids.iter().copied());
                    }
                    if let Some(ids) = self.blocked_on.get(&slot) {
                        for id in ids {
                            if !self.wake.contains(id) {
                                self.wake.push(*id);
                            }
                        }
                    }
                }
                None => {
                    for ((p, _), ids) in &self.watchers {
                        if *p == phys {
                            self.dirty_cas.extend(ids.iter().copied());
                        }
                    }
                }
            }
        }
    }

    /// Forgets every WATCH of client `id`.
    pub fn unwatch_all(&mut self, id: u64) {
        self.watchers.retain(|_, ids| {
            ids.retain(|&i| i != id);
            !ids.is_empty()
        });
        self.dirty_cas.remove(&id);
    }
}

impl ServerState {
    /// Default settings: every parameter of [`crate::params::PARAMS`] at its default.
    pub fn new(started_ms: i64) -> ServerState {
        let mut state = ServerState {
            started_ms,
            last_save_s: started_ms / 1000,
            ..ServerState::default()
        };
        for p in crate::params::PARAMS {
            state.set_param(p.name, p.default.as_bytes(), p.mutable);
        }
        state
    }

    /// Sets a parameter's value (creating it).
    pub fn set_param(&mut self, name: &str, value: &[u8], mutable: bool) {
        self.config_epoch += 1;
        self.config.insert(
            name.to_string(),
            Param {
                value: value.to_vec(),
                mutable,
            },
        );
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.config.get(name).map(|p| p.value.as_slice())
    }

    /// Registers a new connection; returns its id.
    pub fn connect(&mut self, addr: String, laddr: String, now_ms: i64) -> u64 {
        let id = self
            .clients
            .keys()
            .next_back()
            .map_or(1, |last| last + 1)
            .max(self.stats.total_connections_received + 1);
        self.stats.total_connections_received += 1;
        self.clients.insert(
            id,
            ClientInfo {
                id,
                addr,
                laddr,
                created_ms: now_ms,
                last_ms: now_ms,
                resp: 2,
                last_cmd: "NULL",
                ..ClientInfo::default()
            },
        );
        id
    }

    /// Forgets a closed connection and its subscriptions.
    pub fn disconnect(&mut self, id: u64) {
        self.clients.remove(&id);
        self.channels.retain(|_, subs| {
            subs.retain(|&s| s != id);
            !subs.is_empty()
        });
        self.patterns.retain(|(_, s)| *s != id);
        self.unwatch_all(id);
        self.unblock(id);
    }

    /// Records that client `id` waits on `keys` of physical database `phys` (keeping its place
    /// in line if it was already waiting).
    pub fn block(&mut self, id: u64, phys: u8, keys: &[Vec<u8>]) {
        for key in keys {
            let line = self.blocked_on.entry((phys, key.clone())).or_default();
            if !line.contains(&id) {
                line.push(id);
            }
        }
    }

    /// Client `id` no longer waits (served, timed out, or gone).
    pub fn unblock(&mut self, id: u64) {
        self.blocked_on.retain(|_, ids| {
            ids.retain(|&i| i != id);
            !ids.is_empty()
        });
        self.wake.retain(|&i| i != id);
    }
}
