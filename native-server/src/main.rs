//! `diskdb-server`: DiskDB's native TCP server.

mod check;
mod committer;
mod config;
mod connection;
mod server;
mod spin;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let (args, table_flags) = config::split_table_flags(std::env::args());
    let mut cli = config::Cli::parse_from(args);
    cli.table_flags = table_flags;
    let (config, notes) = match config::Config::load(&cli) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("diskdb-server: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.loglevel))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    for note in notes {
        tracing::warn!("config: {note}");
    }
    if cli.check {
        return check::run(&config);
    }

    let shared = match server::open(&config) {
        Ok(shared) => shared,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("diskdb-server: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let idle = shared.clone();
    // One thread runs every command, as in Redis.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Commit the group when every ready client has run, before waiting for I/O again.
        .on_thread_park(move || idle.idle())
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("diskdb-server: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(config, shared)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}
