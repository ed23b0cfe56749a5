//! The engine: the keyspace plus the command table, executing one command at a time.

use crate::commands::{self, Ctx};
use crate::keyspace::Keyspace;
use crate::protocol::{Argv, Reply};

/// Per-client state that commands read and change.
#[derive(Debug, Default)]
pub struct Session {
    /// Selected logical database.
    pub db: usize,
    /// Set by QUIT: the connection closes once the replies so far are sent.
    pub close_after_reply: bool,
}

/// Runs commands against a keyspace. Commands run one at a time, in order, as in Redis.
#[derive(Debug, Default)]
pub struct Engine {
    keyspace: Keyspace,
}

impl Engine {
    /// An engine over an empty keyspace.
    pub fn new() -> Self {
        Engine::default()
    }

    /// Executes one command (`argv[0]` is its name) and appends its reply to `reply`.
    /// An empty argument vector is ignored, as Redis ignores an empty request.
    pub fn execute(&mut self, session: &mut Session, argv: &dyn Argv, reply: &mut Reply) {
        if argv.argc() == 0 {
            return;
        }
        let mut ctx = Ctx {
            keyspace: &mut self.keyspace,
            session,
            reply,
        };
        commands::dispatch(&mut ctx, argv);
    }
}
