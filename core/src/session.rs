//! Per-client state: what a connection (or a script, or a WASM handle) carries between
//! commands. The engine and the command handlers both use it; it imports neither.

/// Per-client state that commands read and change.
#[derive(Debug)]
pub struct Session {
    /// The client's id in [`ServerState::clients`] (0 when the host keeps no registry).
    pub id: u64,
    /// Selected logical database.
    pub db: usize,
    /// Set by QUIT: the connection closes once the replies so far are sent.
    pub close_after_reply: bool,
    /// Commands queued since MULTI.
    pub multi: Option<Vec<Vec<Vec<u8>>>>,
    /// A command queued since MULTI was rejected: EXEC fails with EXECABORT.
    pub multi_failed: bool,
    /// WATCHed keys: logical db, key, and whether it existed at WATCH time.
    pub watched: Vec<(usize, Vec<u8>, bool)>,
    /// Set by a blocking command (BLPOP, ...) that found nothing to serve: the host keeps the
    /// request and runs it again when one of the keys is written or the deadline passes.
    pub block: Option<Block>,
    /// The client passed AUTH (or no password is required); hosts that require a password
    /// create sessions with this false.
    pub authenticated: bool,
    /// Blocking commands must not block (a host that cannot wait, replay): they answer as if
    /// their timeout had passed.
    pub no_block: bool,
    /// Inside EXEC: blocking commands answer at once, with Redis's in-transaction nulls.
    pub in_exec: bool,
    /// Subscribed channels, in subscription order.
    pub channels: Vec<Vec<u8>>,
    /// Subscribed patterns, in subscription order.
    pub patterns: Vec<Vec<u8>>,
}

/// What a blocked client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Logical database and keys whose writes may serve it.
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// Unix ms after which it gives up (`None`: forever).
    pub deadline_ms: Option<i64>,
    /// What to reply on timeout: a null array (BLPOP, BZPOPMIN, ...) or a null bulk (BLMOVE).
    pub null_array: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            id: 0,
            db: 0,
            close_after_reply: false,
            multi: None,
            multi_failed: false,
            watched: Vec::new(),
            block: None,
            authenticated: true,
            no_block: false,
            in_exec: false,
            channels: Vec::new(),
            patterns: Vec::new(),
        }
    }
}

impl Session {
    /// Whether the client is in subscribed mode (RESP2 limits it to pub/sub commands).
    pub fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }
}
