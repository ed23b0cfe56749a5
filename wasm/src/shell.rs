//! One client session over an engine, as the WebAssembly hosts need it: no sockets, no threads,
//! the host's clock passed in. The `diskdb` WASI command and the JavaScript API both drive the
//! engine through this, so they behave the same way.

use diskdb_core::pipeline::{self, Bounds};
use diskdb_core::protocol::{parse_request, Argv, Limits, ProtocolError, Reply};
use diskdb_core::storage::StorageError;
use diskdb_core::{CommandError, Engine, Session};

/// Active expiry and checkpoints run at most this often (the native server ticks every 100 ms).
const TICK_EVERY_MS: i64 = 100;

/// What [`Shell::execute_pipeline`] did with its input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pipeline {
    /// Bytes of complete requests consumed; the rest is an incomplete request (or unread after
    /// QUIT or an error).
    pub consumed: usize,
    /// Requests executed (empty lines not counted).
    pub commands: usize,
    /// QUIT was executed: the host should stop reading.
    pub quit: bool,
    /// The input broke the protocol at `consumed`; its error reply has been written and, as
    /// Redis closes the connection, nothing after it is read.
    pub error: Option<ProtocolError>,
}

/// An engine plus one client's session and reply buffer.
pub struct Shell {
    engine: Engine,
    session: Session,
    reply: Reply,
    limits: Limits,
    last_tick_ms: i64,
}

impl Shell {
    /// Wraps an opened engine with a fresh session registered as a client (so CLIENT ID,
    /// CLIENT LIST and INFO clients see it).
    pub fn new(mut engine: Engine, now_ms: i64, name: &str) -> Shell {
        let id = engine
            .state_mut()
            .connect(name.to_string(), String::new(), now_ms);
        Shell {
            engine,
            session: Session {
                id,
                // No other client can ever write the keys a blocking command waits for, so
                // BLPOP and friends answer at once as if their timeout had passed.
                no_block: true,
                ..Session::default()
            },
            reply: Reply::new(),
            limits: Limits::default(),
            last_tick_ms: now_ms,
        }
    }

    /// The engine, for checkpoints and for hosts that need to close it.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Gives the engine back (its session is forgotten).
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// Swaps in another engine (after an import) keeping the session's settings (protocol,
    /// selected database) but not its transaction or watches, which referred to the old data.
    pub fn replace_engine(&mut self, mut engine: Engine, now_ms: i64, name: &str) -> Engine {
        let id = engine
            .state_mut()
            .connect(name.to_string(), String::new(), now_ms);
        self.session.id = id;
        self.session.multi = None;
        self.session.multi_failed = false;
        self.session.watched.clear();
        std::mem::replace(&mut self.engine, engine)
    }

    /// Runs background duties (active expiry, periodic checkpoints) if they are due. The hosts
    /// call this before each command, so a database that is used gets them on time without a
    /// timer (a timer would keep Node.js from exiting).
    pub fn tick_if_due(&mut self, now_ms: i64) -> Result<(), StorageError> {
        if now_ms - self.last_tick_ms >= TICK_EVERY_MS || now_ms < self.last_tick_ms {
            self.last_tick_ms = now_ms;
            self.engine.tick(now_ms)?;
        }
        Ok(())
    }

    /// Runs one command and returns its RESP reply. A storage failure is reported as the
    /// command's error reply, as the server does.
    pub fn execute(&mut self, now_ms: i64, argv: &dyn Argv) -> Vec<u8> {
        self.reply.truncate(0);
        if argv.argc() == 0 {
            return Vec::new();
        }
        if let Err(err) = self.tick_if_due(now_ms) {
            self.reply
                .error(CommandError::from(&err).reply_text().as_ref());
            return self.reply.take();
        }
        // Engine::execute already turns a storage error into this command's error reply.
        let _ = self
            .engine
            .execute(now_ms, &mut self.session, argv, &mut self.reply);
        self.session.close_after_reply = false;
        self.reply.take()
    }

    /// Runs the complete requests at the start of `input` (RESP multibulk or inline lines) as one
    /// group: one commit for the whole pipeline, as the server commits one client's batch.
    /// Replies are appended to `out`.
    pub fn execute_pipeline(&mut self, now_ms: i64, input: &[u8], out: &mut Vec<u8>) -> Pipeline {
        if let Err(err) = self.tick_if_due(now_ms) {
            let mut reply = Reply::new();
            reply.error(CommandError::from(&err).reply_text().as_ref());
            out.extend_from_slice(reply.as_bytes());
            return Pipeline::default();
        }
        self.reply.truncate(0);
        let limits = self.limits;
        let session = &mut self.session;
        let reply = &mut self.reply;
        let ran = self.engine.run_group(now_ms, |group| {
            let run = pipeline::run(group, session, input, &limits, reply, Bounds::NONE);
            if let Some(err) = &run.error {
                reply.error(&err.reply_text());
            }
            Pipeline {
                consumed: run.consumed,
                commands: run.commands,
                quit: run.close,
                error: run.error,
            }
        });
        match ran {
            Ok(done) => {
                out.extend_from_slice(self.reply.as_bytes());
                done
            }
            Err(err) => {
                // Nothing of the group was applied: every command in it failed. The requests
                // are consumed all the same, as a server's client would see error replies.
                let text = CommandError::from(&err).reply_text().into_owned();
                let mut consumed = 0;
                let mut commands = 0;
                let mut reply = Reply::new();
                while let Ok(Some(request)) = parse_request(&input[consumed..], &limits) {
                    consumed += request.consumed();
                    if !request.is_empty() {
                        commands += 1;
                        reply.error(&text);
                    }
                }
                out.extend_from_slice(reply.as_bytes());
                Pipeline {
                    consumed,
                    commands,
                    ..Pipeline::default()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipeline_runs_in_order_and_keeps_an_incomplete_tail() {
        let mut shell = Shell::new(Engine::memory(), 1_000, "test");
        let mut out = Vec::new();
        let input = b"SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nINCR a\n*2\r\n$3\r\nGET";
        let done = shell.execute_pipeline(1_000, input, &mut out);
        assert_eq!(out, b"+OK\r\n$1\r\n1\r\n:2\r\n");
        assert_eq!(done.commands, 3);
        assert_eq!(&input[done.consumed..], b"*2\r\n$3\r\nGET");
    }

    #[test]
    fn a_protocol_error_stops_the_pipeline_with_redis_text() {
        let mut shell = Shell::new(Engine::memory(), 1_000, "test");
        let mut out = Vec::new();
        let done = shell.execute_pipeline(1_000, b"PING\r\n*1\r\nx\r\nPING\r\n", &mut out);
        assert_eq!(
            out,
            b"+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n"
        );
        assert!(done.error.is_some());
    }

    #[test]
    fn expiry_follows_the_clock_passed_in() {
        let mut shell = Shell::new(Engine::memory(), 1_000, "test");
        assert_eq!(
            shell.execute(1_000, &vec!["SET", "k", "v", "PX", "50"]),
            b"+OK\r\n"
        );
        assert_eq!(shell.execute(1_020, &vec!["GET", "k"]), b"$1\r\nv\r\n");
        assert_eq!(shell.execute(1_060, &vec!["GET", "k"]), b"$-1\r\n");
    }
}
