//! The accept loop, the shared engine, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use diskdb_core::{Engine, EngineConfig, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::committer::{self, Shared};
use crate::config::{Config, StorageKind};
use crate::connection;

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
    #[error("the database in {path} is damaged and cannot be read ({reason})")]
    Damaged { path: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// Opens the keyspace (replaying its log) as the configuration says.
pub fn open(config: &Config) -> Result<Arc<Shared>, ServerError> {
    std::fs::create_dir_all(&config.dir).map_err(|source| ServerError::DataDir {
        path: config.dir.display().to_string(),
        source,
    })?;
    let store = match config.storage {
        StorageKind::File => Store::Dir(config.dir.clone()),
        StorageKind::Memory => Store::Memory,
    };
    let started = std::time::Instant::now();
    let engine = open_engine(
        EngineConfig {
            store,
            durability: config.durability,
            cache_bytes: config.cache_bytes,
        },
        &config.dir,
    )?;
    tracing::info!(
        "keyspace opened in {} ms ({:?} storage, durability {:?}, {} keys in db0)",
        started.elapsed().as_millis(),
        config.storage,
        config.durability,
        engine.counters().db_keys(0)
    );
    let mut engine = engine;
    let state = engine.state_mut();
    state.started_ms = committer::now_ms();
    let (bind, port) = (config.bind.join(" "), config.port.to_string());
    for (name, value) in [
        ("bind", bind.as_str()),
        ("port", port.as_str()),
        ("dir", &config.dir.display().to_string()),
        ("durability", durability_name(config.durability)),
        ("appendfsync", durability_name(config.durability)),
        ("cache-size", &config.cache_bytes.to_string()),
    ] {
        state.set_param(name, value.as_bytes(), false);
    }
    state.set_param("requirepass", config.requirepass.as_bytes(), true);
    let protected = if config.protected_mode { "yes" } else { "no" };
    state.set_param("protected-mode", protected.as_bytes(), true);
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    for (name, value) in [
        ("tcp_port", port),
        ("process_id", std::process::id().to_string()),
        ("executable", executable),
        (
            "os",
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        ),
    ] {
        state.host.insert(name.into(), value);
    }
    Ok(Shared::new(engine))
}

/// Opens the engine, turning a panic inside the storage engine on a damaged file (redb does not
/// checksum every page) into a clear error instead of a crash report.
fn open_engine(config: EngineConfig, dir: &std::path::Path) -> Result<Engine, ServerError> {
    let hook = std::panic::take_hook();
    let message = Arc::new(std::sync::Mutex::new(String::new()));
    let seen = message.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut m) = seen.lock() {
            let what = info.payload_as_str().unwrap_or("an internal check failed");
            *m = match info.location() {
                Some(at) => format!("{what}, at {}:{}", at.file(), at.line()),
                None => what.to_string(),
            };
        }
    }));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Engine::open(config)));
    std::panic::set_hook(hook);
    match opened {
        Ok(result) => Ok(result?),
        Err(_) => Err(ServerError::Damaged {
            path: dir.display().to_string(),
            reason: message.lock().map(|m| m.clone()).unwrap_or_default(),
        }),
    }
}

fn durability_name(d: diskdb_core::Durability) -> &'static str {
    match d {
        diskdb_core::Durability::Always => "always",
        diskdb_core::Durability::Everysec => "everysec",
        diskdb_core::Durability::No => "no",
    }
}

/// Serves until SIGINT or SIGTERM, then lets connections finish, checkpoints and returns.
pub async fn run(config: Config, shared: Arc<Shared>) -> Result<(), ServerError> {
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
    let stop_committer = std::sync::Arc::new(tokio::sync::Notify::new());
    let committer = tokio::spawn(committer::run(shared.clone(), stop_committer.clone()));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut connections: JoinSet<()> = JoinSet::new();
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
                connections.spawn(connection::serve(stream, shared.clone(), shutdown_rx.clone()));
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
    // Commit what is left and checkpoint, so the next start replays nothing.
    stop_committer.notify_one();
    let _ = committer.await;
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
