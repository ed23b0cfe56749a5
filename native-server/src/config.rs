//! Settings: command-line flags (clap) over an optional config file in redis.conf syntax.

use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use diskdb_core::protocol::split_args;
use diskdb_core::Durability;

/// Where the keyspace lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    /// A redb file plus its write-ahead log in `--dir`.
    File,
    /// redb's in-memory backend: nothing survives a restart.
    Memory,
}

/// Parses redis.conf's yes/no.
pub fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("expected yes or no, got '{text}'")),
    }
}

/// Parses a byte size as redis.conf writes them: `1048576`, `64mb`, `1gb`, `512k`.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits
        .parse()
        .map_err(|_| format!("invalid size '{text}'"))?;
    let mult: usize = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(format!("invalid size '{text}'")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size '{text}' is too large"))
}

/// DiskDB: a Redis-compatible database that keeps its data on disk.
#[derive(Debug, Parser)]
#[command(name = "diskdb-server", version)]
pub struct Cli {
    /// Optional config file in redis.conf syntax (`bind`, `port`, `dir`, `loglevel`);
    /// flags given on the command line override it.
    pub config: Option<PathBuf>,
    /// Addresses to listen on, space- or comma-separated [default: 127.0.0.1].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub bind: Option<Vec<String>>,
    /// TCP port to listen on [default: 6380].
    #[arg(long)]
    pub port: Option<u16>,
    /// Directory that holds the database files; created if missing [default: ./data].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// When acknowledged writes reach the disk: `always` (before the reply), `everysec`
    /// (within a second; a process crash loses nothing), or `no` (when the OS decides)
    /// [default: always].
    #[arg(long)]
    pub durability: Option<String>,
    /// Keyspace storage: `file` (in --dir) or `memory` (ephemeral) [default: file].
    #[arg(long, value_enum)]
    pub storage: Option<StorageKind>,
    /// redb page cache size, e.g. `64mb` or `1gb` [default: 64mb].
    #[arg(long)]
    pub cache_size: Option<String>,
    /// Password clients must give with AUTH (or HELLO ... AUTH) before other commands.
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Without a password, refuse clients that are not on loopback: yes or no [default: yes].
    #[arg(long)]
    pub protected_mode: Option<String>,
    /// Log level: error, warn, info, debug or trace [default: info].
    #[arg(long)]
    pub loglevel: Option<String>,
}

/// The effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub dir: PathBuf,
    pub durability: Durability,
    pub storage: StorageKind,
    pub cache_bytes: usize,
    pub requirepass: String,
    pub protected_mode: bool,
    pub loglevel: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 6380,
            dir: PathBuf::from("./data"),
            durability: Durability::Always,
            storage: StorageKind::File,
            cache_bytes: 64 * 1024 * 1024,
            requirepass: String::new(),
            protected_mode: true,
            loglevel: "info".into(),
        }
    }
}

/// A config file that cannot be used; the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Flag(String),
    #[error("config file {path}, line {line}: {message}")]
    Bad {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Redis directives that are accepted and ignored (logged), so an existing redis.conf loads.
const IGNORED: &[&str] = &[
    "daemonize",
    "tcp-backlog",
    "timeout",
    "tcp-keepalive",
    "logfile",
    "databases",
    "save",
    "appendonly",
    "dbfilename",
    "pidfile",
    "supervised",
    "always-show-logo",
];

impl Config {
    /// Merges the defaults, the config file (if any) and the flags, in that order.
    pub fn load(cli: &Cli) -> Result<(Config, Vec<String>), ConfigError> {
        let mut config = Config::default();
        let mut notes = Vec::new();
        if let Some(path) = &cli.config {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            notes = config.apply_file(path, &text)?;
        }
        if let Some(bind) = &cli.bind {
            config.bind = bind.clone();
        }
        if let Some(port) = cli.port {
            config.port = port;
        }
        if let Some(dir) = &cli.dir {
            config.dir = dir.clone();
        }
        if let Some(d) = &cli.durability {
            config.durability = d.parse().map_err(ConfigError::Flag)?;
        }
        if let Some(s) = cli.storage {
            config.storage = s;
        }
        if let Some(size) = &cli.cache_size {
            config.cache_bytes = parse_bytes(size).map_err(ConfigError::Flag)?;
        }
        if let Some(pass) = &cli.requirepass {
            config.requirepass = pass.clone();
        }
        if let Some(p) = &cli.protected_mode {
            config.protected_mode = parse_yes_no(p).map_err(ConfigError::Flag)?;
        }
        if let Some(level) = &cli.loglevel {
            config.loglevel = level.clone();
        }
        Ok((config, notes))
    }

    /// Applies redis.conf-style text; returns notes about directives it ignored.
    pub fn apply_file(&mut self, path: &Path, text: &str) -> Result<Vec<String>, ConfigError> {
        let mut notes = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| ConfigError::Bad {
                path: path.to_path_buf(),
                line: index + 1,
                message,
            };
            let words = split_args(line.as_bytes())
                .map_err(|_| bad("unbalanced quotes".into()))?
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect::<Vec<_>>();
            let Some((directive, values)) = words.split_first() else {
                continue;
            };
            let directive = directive.to_ascii_lowercase();
            let one = || match values {
                [v] => Ok(v.clone()),
                _ => Err(bad(format!("'{directive}' takes exactly one argument"))),
            };
            match directive.as_str() {
                "bind" if !values.is_empty() => self.bind = values.to_vec(),
                "bind" => return Err(bad("'bind' needs at least one address".into())),
                "port" => {
                    let v = one()?;
                    self.port = v.parse().map_err(|_| bad(format!("invalid port '{v}'")))?;
                }
                "dir" => self.dir = PathBuf::from(one()?),
                "loglevel" => self.loglevel = one()?,
                "durability" | "appendfsync" => {
                    self.durability = one()?.parse().map_err(bad)?;
                }
                "storage" => {
                    self.storage = StorageKind::from_str(&one()?, true).map_err(bad)?;
                }
                "cache-size" => self.cache_bytes = parse_bytes(&one()?).map_err(bad)?,
                "requirepass" => self.requirepass = one()?,
                "protected-mode" => self.protected_mode = parse_yes_no(&one()?).map_err(bad)?,
                d if IGNORED.contains(&d) => {
                    notes.push(format!("ignoring '{d}' (line {})", index + 1))
                }
                d => notes.push(format!(
                    "unknown directive '{d}' ignored (line {})",
                    index + 1
                )),
            }
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_sets_values_and_flags_override_them() {
        let dir = std::env::temp_dir().join(format!("diskdb-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("diskdb.conf");
        std::fs::write(
            &path,
            "# comment\nport 7000\nbind 0.0.0.0 ::1\ndir \"/tmp/a b\"\nsave 900 1\n",
        )
        .unwrap();
        let cli = Cli::parse_from(["diskdb-server", path.to_str().unwrap(), "--port", "7001"]);
        let (config, notes) = Config::load(&cli).unwrap();
        assert_eq!(config.port, 7001);
        assert_eq!(config.bind, vec!["0.0.0.0", "::1"]);
        assert_eq!(config.dir, PathBuf::from("/tmp/a b"));
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn bad_config_lines_name_the_line() {
        let mut config = Config::default();
        let err = config
            .apply_file(Path::new("x.conf"), "port 1\nport abc\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file x.conf, line 2: invalid port 'abc'"
        );
    }
}
