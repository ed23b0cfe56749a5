//! The accept loop, the shared engine, and graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use diskdb_core::{Engine, EngineConfig, Store};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::committer::{self, Shared};
use crate::config::{Config, StorageKind, LIMIT_PARAMS};
use crate::connection;

/// How long connections get to finish their current replies at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    #[error("TLS: {0}")]
    Tls(String),
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
            log_damage: config.log_damage,
        },
        &config.dir,
    )?;
    for warning in &engine.recovery().warnings {
        tracing::warn!("{warning}");
    }
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
        (
            "log-damage",
            match config.log_damage {
                diskdb_core::LogDamage::Refuse => "refuse",
                diskdb_core::LogDamage::Truncate => "truncate",
            },
        ),
    ] {
        state.set_param(name, value.as_bytes(), false);
    }
    for (name, value) in &config.params {
        state.set_param(name, value.as_bytes(), true);
    }
    state.set_param("requirepass", config.requirepass.as_bytes(), true);
    for name in LIMIT_PARAMS {
        let value = config.limits.get(name).unwrap_or_default();
        state.set_param(name, value.as_bytes(), true);
    }
    let path_text = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    for (name, value) in [
        ("tls-port", config.tls_port.to_string()),
        ("tls-cert-file", path_text(&config.tls_cert_file)),
        ("tls-key-file", path_text(&config.tls_key_file)),
        ("tls-auth-clients", "no".to_string()),
        ("idle-spin-us", config.idle_spin_us.to_string()),
    ] {
        state.set_param(name, value.as_bytes(), false);
    }
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
    let shared = Shared::new(
        engine,
        std::time::Duration::from_micros(config.idle_spin_us),
    );
    shared.refresh_limits(shared.engine().state());
    Ok(shared)
}

/// Loads the TLS certificate chain and private key (PEM) into a server configuration.
fn tls_acceptor(config: &Config) -> Result<Option<TlsAcceptor>, ServerError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&config.tls_cert_file, &config.tls_key_file) else {
        return Ok(None);
    };
    if config.tls_port == 0 {
        return Ok(None);
    }
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "no certificate in {}",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    Ok(Some(TlsAcceptor::from(Arc::new(server_config))))
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

/// Serves until SIGINT, SIGTERM or SHUTDOWN, then lets connections finish, checkpoints and returns.
pub async fn run(config: Config, shared: Arc<Shared>) -> Result<(), ServerError> {
    let tls = tls_acceptor(&config)?;
    let mut listeners = Vec::new();
    // As in Redis, `port 0` with TLS serves TLS only.
    let mut ports = Vec::new();
    if config.port != 0 || tls.is_none() {
        ports.push((config.port, false));
    }
    if tls.is_some() {
        ports.push((config.tls_port, true));
    }
    for &(port, is_tls) in &ports {
        for host in &config.bind {
            let addr = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
            listeners.push((listener, is_tls));
        }
    }
    let stop_committer = std::sync::Arc::new(tokio::sync::Notify::new());
    let committer = tokio::spawn(committer::run(shared.clone(), stop_committer.clone()));
    let spinner = {
        let shared = shared.clone();
        tokio::spawn(async move { shared.spin.run(|| shared.idle_turn()).await })
    };
    let mut connections: JoinSet<()> = JoinSet::new();
    tracing::info!(
        "DiskDB {} ready to accept connections on {}:{}{} (data in {})",
        env!("CARGO_PKG_VERSION"),
        config.bind.join(","),
        config.port,
        if tls.is_some() {
            format!(", TLS on port {}", config.tls_port)
        } else {
            String::new()
        },
        config.dir.display()
    );

    let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::unbounded_channel();
    for (listener, is_tls) in listeners {
        let accepted_tx = accepted_tx.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        if accepted_tx.send((stream, peer, is_tls)).is_err() {
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
            Some((stream, peer, is_tls)) = accepted_rx.recv() => {
                tracing::debug!("accepted {peer}");
                // Connections still in their TLS handshake count too, as in Redis.
                if connections.len() >= shared.limits().maxclients {
                    shared.engine().state_mut().stats.rejected_connections += 1;
                    tracing::warn!("rejected {peer}: max number of clients reached");
                    // Best effort, as in Redis; over TLS nothing can be said before a handshake.
                    if !is_tls {
                        let _ = stream.try_write(connection::MAX_CLIENTS_REACHED);
                    }
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                let shared = shared.clone();
                match (&tls, is_tls) {
                    (Some(acceptor), true) => {
                        let acceptor = acceptor.clone();
                        connections.spawn(async move {
                            let handshake = tokio::time::timeout(
                                TLS_HANDSHAKE_TIMEOUT,
                                acceptor.accept(stream),
                            );
                            match handshake.await {
                                Ok(Ok(stream)) => {
                                    connection::serve(stream, Some(peer), local, shared)
                                        .await
                                }
                                Ok(Err(err)) => tracing::debug!("TLS handshake with {peer} failed: {err}"),
                                Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                            }
                        });
                    }
                    _ => {
                        connections.spawn(connection::serve(stream, Some(peer), local, shared));
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut signal => break,
            _ = shared.shutdown_requested() => {
                tracing::info!("user requested shutdown");
                break;
            }
        }
    }

    tracing::info!("shutting down: closing {} connection(s)", connections.len());
    shared.close_all();
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
    spinner.abort();
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
