//! DiskDB's engine, shared by the native server and the WebAssembly builds: RESP parsing
//! (`protocol`), the command table (`commands`), and the keyspace (`keyspace`).
//!
//! No tokio and no OS threads here, so the crate builds for every target.

pub mod commands;
pub mod engine;
pub mod error;
pub mod keyspace;
pub mod protocol;

pub use engine::{Engine, Session};
pub use error::{CommandError, CommandResult};
