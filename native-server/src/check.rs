//! `diskdb-server --check`: checks a data directory (the log, every database page, the
//! keyspace's invariants) and prints what it finds, changing nothing: opening replays the log
//! and checkpoints, and redb's page check may repair, so both run on a copy of the files.

use std::path::Path;
use std::process::ExitCode;

use diskdb_core::seal::SEAL_FILE;
use diskdb_core::storage::{DB_FILE, WAL_FILE};
use diskdb_core::{Engine, EngineConfig, LogDamage, Store};

use crate::config::Config;

/// Runs the check on `config.dir` and returns the exit code: success if the data is sound.
pub fn run(config: &Config) -> ExitCode {
    let dir = &config.dir;
    if !dir.join(DB_FILE).exists() {
        println!("{}: no database file, nothing to check", dir.display());
        return ExitCode::SUCCESS;
    }
    let copy = std::env::temp_dir().join(format!("diskdb-check-{}", std::process::id()));
    let result = copy_files(dir, &copy).map_err(|e| format!("cannot copy the files: {e}"));
    let sound = match result {
        Ok(()) => check_copy(&copy, config.cache_bytes),
        Err(err) => {
            println!("FAIL {err}");
            false
        }
    };
    let _ = std::fs::remove_dir_all(&copy);
    if sound {
        println!("{}: sound", dir.display());
        ExitCode::SUCCESS
    } else {
        println!("{}: damaged (see above)", dir.display());
        ExitCode::FAILURE
    }
}

fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to)?;
    for name in [DB_FILE, WAL_FILE, SEAL_FILE] {
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name))?;
        }
    }
    Ok(())
}

fn check_copy(copy: &Path, cache_bytes: usize) -> bool {
    // redb reports some damage by panicking; a check must report it instead.
    let checked = std::panic::catch_unwind(|| {
        let mut engine = match Engine::open(EngineConfig {
            store: Store::Dir(copy.to_path_buf()),
            cache_bytes,
            log_damage: LogDamage::Refuse,
            ..EngineConfig::default()
        }) {
            Ok(engine) => engine,
            Err(err) => {
                println!("FAIL opening: {err}");
                return false;
            }
        };
        let recovery = engine.recovery().clone();
        println!("log: {} records replayed", recovery.replayed);
        for warning in &recovery.warnings {
            println!("WARN log: {warning}");
        }
        let pages = match engine.verify_pages() {
            Ok(true) => {
                println!("pages: every page matches its checksum");
                true
            }
            Ok(false) => {
                println!("FAIL pages: damaged pages (redb could roll back to an earlier commit)");
                false
            }
            Err(err) => {
                println!("FAIL pages: {err}");
                false
            }
        };
        let keyspace = match engine.check_integrity() {
            Ok(()) => {
                let keys: u64 = (0..16).map(|db| engine.counters().db_keys(db)).sum();
                println!("keyspace: invariants hold, {keys} keys");
                true
            }
            Err(err) => {
                println!("FAIL keyspace: {err}");
                false
            }
        };
        pages && keyspace
    });
    checked.unwrap_or_else(|_| {
        println!("FAIL the storage engine stopped on damaged data (see the panic message above)");
        false
    })
}
