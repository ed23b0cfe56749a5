//! The accept loop, the shared engine, and graceful shutdown.

use std::time::Duration;

use diskdb_core::{Engine, EngineConfig, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, StorageKind};
use crate::connection;
use crate::executor::Executor;

/// How long connections get to finish their current replies at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Storage(#[from] diskdb_core::storage::StorageError),
    #[error("cannot start the executor: {0}")]
    Executor(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Serves until SIGINT or SIGTERM, then lets connections finish and returns.
pub async fn run(config: Config) -> Result<(), ServerError> {
    std::fs::create_dir_all(&config.dir).map_err(|source| ServerError::DataDir {
        path: config.dir.display().to_string(),
        source,
    })?;
    let mut listeners = Vec::new();
    for host in &config.bind {
        let addr = if host.contains(':') {
            format!("[{host}]:{}", config.port)
        } else {
            format!("{host}:{}", config.port)
        };
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.clone(),
                source,
            })?;
        listeners.push(listener);
    }
    let store = match config.storage {
        StorageKind::File => Store::Dir(config.dir.clone()),
        StorageKind::Memory => Store::Memory,
    };
    let started = std::time::Instant::now();
    let engine = Engine::open(EngineConfig {
        store,
        durability: config.durability,
        cache_bytes: config.cache_bytes,
    })?;
    tracing::info!(
        "keyspace opened in {} ms ({:?} storage, durability {:?}, {} keys in db0)",
        started.elapsed().as_millis(),
        config.storage,
        config.durability,
        engine.counters().db_keys(0)
    );
    let executor = Executor::spawn(engine).map_err(ServerError::Executor)?;
    let mut next_client: u64 = 0;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tracing::info!(
        "DiskDB {} ready to accept connections on {}:{} (data in {})",
        env!("CARGO_PKG_VERSION"),
        config.bind.join(","),
        config.port,
        config.dir.display()
    );

    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::unbounded_channel();
    for listener in listeners {
        let accepted_tx = accepted_tx.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if accepted_tx.send((stream, peer)).is_err() {
                            break;
                        }
                    }
                    // Out of file descriptors and the like: keep serving the others.
                    Err(err) => {
                        tracing::warn!("accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    drop(accepted_tx);

    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            Some((stream, peer)) = accepted_rx.recv() => {
                tracing::debug!("accepted {peer}");
                next_client += 1;
                connections.spawn(connection::serve(
                    stream,
                    next_client,
                    executor.jobs.clone(),
                    shutdown_rx.clone(),
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut signal => break,
        }
    }

    tracing::info!("shutting down: closing {} connection(s)", connections.len());
    let _ = shutdown_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    // Every job sender is gone now: the executor drains, checkpoints and stops.
    let _ = tokio::task::spawn_blocking(move || executor.join()).await;
    tracing::info!("DiskDB is now ready to exit, bye bye...");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
                    _ = term.recv() => tracing::info!("received SIGTERM"),
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
