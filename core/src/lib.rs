//! DiskDB's engine, shared by the native server and the WebAssembly builds: RESP parsing
//! (`protocol`), the command table (`commands`), and the keyspace (`keyspace`).
//!
//! No tokio and no OS threads here, so the crate builds for every target.

pub mod commands;
pub mod engine;
pub mod error;
pub mod glob;
pub mod keyspace;
pub mod long_double;
pub mod params;
pub mod pipeline;
pub mod protocol;
pub mod random;
pub mod rdb;
#[cfg(not(target_family = "wasm"))]
pub mod scripting;
pub mod seal;
pub mod session;
pub mod state;
pub mod storage;
pub mod wal;

pub use engine::{CommitOutcome, Durability, Engine, EngineConfig, LogDamage, RecoveryReport};
pub use error::{CommandError, CommandResult};
pub use session::Session;
pub use storage::Store;
