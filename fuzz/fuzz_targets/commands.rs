//! The command layer: scripts of random commands run against an in-memory engine never panic,
//! never fail in the store, always reply well-formed RESP, and leave the keyspace consistent
//! (`Engine::check_integrity`) after every command. See `diskdb_fuzz::run_commands`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    diskdb_fuzz::run_commands(data);
});
