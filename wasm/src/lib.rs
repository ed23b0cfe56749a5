//! DiskDB for WebAssembly.
//!
//! - [`shell`]: one client session over an engine with the host's clock; shared by every host.
//! - [`db`]: a database in one file the host can export and import (the memory and OPFS stores).
//! - [`resp`]: replies decoded back into values (JavaScript values, redis-cli text).
//! - `web` (wasm32-unknown-unknown only): the wasm-bindgen API the npm package wraps, including
//!   the OPFS backend.
//! - `src/bin/diskdb.rs`: the `diskdb` command for wasm32-wasip1 (wasmtime).

pub mod db;
pub mod resp;
pub mod shell;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod web;
