//! Settings: command-line flags (clap) over an optional config file in redis.conf syntax.

use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use diskdb_core::params;
use diskdb_core::protocol::split_args;
use diskdb_core::{Durability, LogDamage};

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

pub use diskdb_core::params::{parse_bytes, ClassLimit, OutputLimits};

/// Limits on clients; every one can also be changed at run time with CONFIG SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    /// Most connected clients; the next one gets `-ERR max number of clients reached`.
    pub maxclients: usize,
    /// Seconds of idleness after which a client is closed (0: never). Subscribers and blocked
    /// clients are exempt, as in Redis.
    pub timeout_s: u64,
    /// Largest argument of a request (`proto-max-bulk-len`).
    pub proto_max_bulk_len: u64,
    /// Most bytes of unparsed request data held for one client (`client-query-buffer-limit`).
    pub query_buffer_limit: usize,
    pub output: OutputLimits,
}

impl Default for ClientLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        ClientLimits {
            maxclients: 10000,
            timeout_s: 0,
            proto_max_bulk_len: 512 << 20,
            query_buffer_limit: 1 << 30,
            output: OutputLimits::default(),
        }
    }
}

/// Names of the parameters [`ClientLimits`] is made of, as CONFIG and redis.conf spell them.
pub const LIMIT_PARAMS: &[&str] = &[
    "maxclients",
    "timeout",
    "proto-max-bulk-len",
    "client-query-buffer-limit",
    "client-output-buffer-limit",
];

impl ClientLimits {
    /// Sets one parameter from its text (redis.conf, a flag, or CONFIG SET), checking it as
    /// Redis does and with Redis's error texts. `Ok(false)`: not one of these parameters.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, String> {
        if !LIMIT_PARAMS.contains(&name) {
            return Ok(false);
        }
        let Some(param) = params::lookup(name) else {
            return Ok(false);
        };
        let current = self.get(name).unwrap_or_default();
        let value = param.check(value, &current)?;
        // Checked above: the value parses.
        let number = || value.parse::<u64>().unwrap_or_default();
        match name {
            "maxclients" => self.maxclients = number() as usize,
            "timeout" => self.timeout_s = number(),
            "proto-max-bulk-len" => self.proto_max_bulk_len = number(),
            "client-query-buffer-limit" => self.query_buffer_limit = number() as usize,
            _ => self.output.apply(&value)?,
        }
        Ok(true)
    }

    /// A parameter's value as CONFIG GET shows it.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "maxclients" => self.maxclients.to_string(),
            "timeout" => self.timeout_s.to_string(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "client-query-buffer-limit" => self.query_buffer_limit.to_string(),
            "client-output-buffer-limit" => self.output.render(),
            _ => return None,
        })
    }
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
    /// Most connected clients [default: 10000].
    #[arg(long)]
    pub maxclients: Option<String>,
    /// Close clients idle this many seconds; 0 never [default: 0].
    #[arg(long)]
    pub timeout: Option<String>,
    /// Largest request argument, e.g. `512mb` [default: 512mb].
    #[arg(long)]
    pub proto_max_bulk_len: Option<String>,
    /// Most unparsed request bytes held per client, e.g. `1gb` [default: 1gb].
    #[arg(long)]
    pub client_query_buffer_limit: Option<String>,
    /// Output limits, `<class> <hard> <soft> <seconds>` for class normal, replica or pubsub
    /// [default: "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60"].
    #[arg(long)]
    pub client_output_buffer_limit: Option<String>,
    /// Also serve TLS on this port (0: no TLS) [default: 0].
    #[arg(long)]
    pub tls_port: Option<u16>,
    /// The TLS certificate chain (PEM); needed with --tls-port.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// The TLS private key (PEM); needed with --tls-port.
    #[arg(long)]
    pub tls_key_file: Option<PathBuf>,
    /// Microseconds to keep polling the sockets after the last request before sleeping, so
    /// that the next request finds the server awake; 0 never [default: 50 with more than one
    /// CPU, else 0].
    #[arg(long)]
    pub idle_spin_us: Option<u64>,
    /// When the write-ahead log is damaged in the middle (acknowledged records follow a bad
    /// one): `refuse` to start, or `truncate` it there after copying it aside [default: refuse].
    #[arg(long)]
    pub log_damage: Option<String>,
    /// Check the data directory (the log, every database page and the keyspace's invariants),
    /// print a report and exit: 0 if it is sound, 1 if not. Changes nothing.
    #[arg(long)]
    pub check: bool,
    /// Other run-time parameters of the table given as flags, as redis-server takes them
    /// (`--hz 20`); see [`split_table_flags`].
    #[arg(skip)]
    pub table_flags: Vec<(String, String)>,
}

/// Takes out of `args` the `--name value` (or `--name=value`) pairs that name a run-time
/// parameter of the table without a flag of its own (`--hz 20`, `--maxmemory-policy lru`),
/// as redis-server accepts any parameter on its command line; clap parses the rest.
pub fn split_table_flags(
    args: impl IntoIterator<Item = String>,
) -> (Vec<String>, Vec<(String, String)>) {
    use clap::CommandFactory;
    let own: Vec<String> = Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut rest = Vec::new();
    let mut pairs = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            rest.push(arg);
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_ascii_lowercase(), Some(value.to_string())),
            None => (flag.to_ascii_lowercase(), None),
        };
        let table = params::lookup(&name).is_some_and(|p| p.mutable);
        if !table || own.contains(&name) {
            rest.push(arg);
            continue;
        }
        match inline.or_else(|| args.next()) {
            Some(value) => pairs.push((name, value)),
            // No value: let clap report the flag.
            None => rest.push(arg),
        }
    }
    (rest, pairs)
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
    pub limits: ClientLimits,
    /// TLS port (0: no TLS listener).
    pub tls_port: u16,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// Polling after the last request, in microseconds (`spin.rs`).
    pub idle_spin_us: u64,
    /// What to do with a log damaged in the middle.
    pub log_damage: LogDamage,
    /// Other parameters of the table (`diskdb_core::params`) the config file sets, checked,
    /// as CONFIG GET shows them (`hz`, `maxmemory-policy`, ...).
    pub params: Vec<(String, String)>,
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
            limits: ClientLimits::default(),
            tls_port: 0,
            tls_cert_file: None,
            tls_key_file: None,
            idle_spin_us: crate::spin::default_window_us(),
            log_damage: LogDamage::Refuse,
            params: Vec::new(),
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
        if let Some(us) = cli.idle_spin_us {
            config.idle_spin_us = us;
        }
        if let Some(policy) = &cli.log_damage {
            config.log_damage = policy.parse().map_err(ConfigError::Flag)?;
        }
        for (name, value) in [
            ("maxclients", &cli.maxclients),
            ("timeout", &cli.timeout),
            ("proto-max-bulk-len", &cli.proto_max_bulk_len),
            ("client-query-buffer-limit", &cli.client_query_buffer_limit),
            (
                "client-output-buffer-limit",
                &cli.client_output_buffer_limit,
            ),
        ] {
            if let Some(value) = value {
                config
                    .limits
                    .set(name, value)
                    .map_err(|e| ConfigError::Flag(format!("--{name}: {e}")))?;
            }
        }
        for (name, value) in &cli.table_flags {
            config
                .set_param(name, value)
                .map_err(|e| ConfigError::Flag(format!("--{name}: {e}")))?;
        }
        if let Some(port) = cli.tls_port {
            config.tls_port = port;
        }
        if let Some(path) = &cli.tls_cert_file {
            config.tls_cert_file = Some(path.clone());
        }
        if let Some(path) = &cli.tls_key_file {
            config.tls_key_file = Some(path.clone());
        }
        if config.tls_port != 0 && (config.tls_cert_file.is_none() || config.tls_key_file.is_none())
        {
            return Err(ConfigError::Flag(
                "tls-port needs tls-cert-file and tls-key-file".into(),
            ));
        }
        Ok((config, notes))
    }

    /// Sets a run-time parameter of the table (`hz`, ...), checked as CONFIG SET checks it;
    /// the last value given wins.
    fn set_param(&mut self, name: &str, value: &str) -> Result<(), String> {
        let param = params::lookup(name).ok_or_else(|| format!("unknown parameter '{name}'"))?;
        let value = param.check(value, param.default)?;
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_string(), value));
        Ok(())
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
                "idle-spin-us" => {
                    let v = one()?;
                    self.idle_spin_us = v
                        .parse()
                        .map_err(|_| bad(format!("invalid microseconds '{v}'")))?;
                }
                "log-damage" => self.log_damage = one()?.parse().map_err(bad)?,
                "requirepass" => self.requirepass = one()?,
                "protected-mode" => self.protected_mode = parse_yes_no(&one()?).map_err(bad)?,
                // One line may carry several classes; repeated lines add up, as in Redis.
                "client-output-buffer-limit" => {
                    self.limits.output.apply(&values.join(" ")).map_err(bad)?
                }
                d if LIMIT_PARAMS.contains(&d) => {
                    self.limits.set(d, &one()?).map_err(bad)?;
                }
                "tls-port" => {
                    let v = one()?;
                    self.tls_port = v.parse().map_err(|_| bad(format!("invalid port '{v}'")))?;
                }
                "tls-cert-file" => self.tls_cert_file = Some(PathBuf::from(one()?)),
                "tls-key-file" => self.tls_key_file = Some(PathBuf::from(one()?)),
                // DiskDB does not ask clients for certificates: only "no" is honest.
                "tls-auth-clients" => {
                    if !one()?.eq_ignore_ascii_case("no") {
                        return Err(bad(
                            "only 'tls-auth-clients no' is supported (DiskDB does not verify client certificates)".into(),
                        ));
                    }
                }
                d if IGNORED.contains(&d) => {
                    notes.push(format!("ignoring '{d}' (line {})", index + 1))
                }
                d if params::lookup(d).is_some_and(|p| p.mutable) => {
                    self.set_param(d, &values.join(" ")).map_err(bad)?;
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
    fn any_run_time_parameter_is_a_flag_as_in_redis_server() {
        let args = [
            "diskdb-server",
            "--hz",
            "20",
            "--maxmemory-policy=ALLKEYS-LRU",
            "--port",
            "7000",
            "--save",
            "",
        ];
        let (rest, pairs) = split_table_flags(args.iter().map(|s| s.to_string()));
        assert_eq!(rest, ["diskdb-server", "--port", "7000"]);
        let mut cli = Cli::parse_from(rest);
        cli.table_flags = pairs;
        let (config, _) = Config::load(&cli).unwrap();
        assert_eq!(config.port, 7000);
        assert_eq!(
            config.params,
            [
                ("hz".to_string(), "20".to_string()),
                ("maxmemory-policy".to_string(), "allkeys-lru".to_string()),
                ("save".to_string(), String::new()),
            ]
        );
        let (rest, pairs) = split_table_flags(["x", "--hz", "abc"].iter().map(|s| s.to_string()));
        let mut cli = Cli::parse_from(rest);
        cli.table_flags = pairs;
        let err = Config::load(&cli).unwrap_err().to_string();
        assert!(
            err.contains("--hz: argument couldn't be parsed into an integer"),
            "{err}"
        );
    }

    #[test]
    fn config_file_sets_any_parameter_of_the_table_checked_as_config_set_checks_it() {
        let mut config = Config::default();
        let notes = config
            .apply_file(
                Path::new("t.conf"),
                "hz 20\nmaxmemory 1mb\nmaxmemory-policy ALLKEYS-LRU\n",
            )
            .unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(
            config.params,
            [
                ("hz".to_string(), "20".to_string()),
                ("maxmemory".to_string(), "1048576".to_string()),
                ("maxmemory-policy".to_string(), "allkeys-lru".to_string()),
            ]
        );
        let err = Config::default()
            .apply_file(Path::new("t.conf"), "activerehashing maybe\n")
            .unwrap_err();
        assert!(
            err.to_string().contains("argument must be 'yes' or 'no'"),
            "{err}"
        );
    }

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
    fn limit_and_tls_directives_are_read_like_redis_conf() {
        let mut config = Config::default();
        let notes = config
            .apply_file(
                Path::new("x.conf"),
                "maxclients 50\ntimeout 300\nproto-max-bulk-len 2mb\n\
                 client-query-buffer-limit 64mb\n\
                 client-output-buffer-limit normal 1mb 512kb 10\n\
                 client-output-buffer-limit pubsub 4mb 1mb 30 replica 1gb 1gb 0\n\
                 tls-port 6390\ntls-cert-file /c.pem\ntls-key-file /k.pem\ntls-auth-clients no\n",
            )
            .unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let l = config.limits;
        assert_eq!((l.maxclients, l.timeout_s), (50, 300));
        assert_eq!(l.proto_max_bulk_len, 2 << 20);
        assert_eq!(l.query_buffer_limit, 64 << 20);
        assert_eq!(
            l.output.render(),
            "normal 1048576 524288 10 slave 1073741824 1073741824 0 pubsub 4194304 1048576 30"
        );
        assert_eq!(config.tls_port, 6390);
        assert_eq!(config.tls_key_file, Some(PathBuf::from("/k.pem")));
    }

    #[test]
    fn bad_limits_are_refused_with_redis_texts() {
        let mut limits = ClientLimits::default();
        assert_eq!(
            limits.set("proto-max-bulk-len", "1000").unwrap_err(),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            limits.set("maxclients", "x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            limits
                .set("client-output-buffer-limit", "normal 1mb 0")
                .unwrap_err(),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(limits, ClientLimits::default());
        let mut config = Config::default();
        assert!(config
            .apply_file(Path::new("x.conf"), "tls-auth-clients yes\n")
            .is_err());
    }

    #[test]
    fn the_idle_spin_is_set_by_file_and_flag() {
        let mut config = Config::default();
        config
            .apply_file(Path::new("x.conf"), "idle-spin-us 0\n")
            .unwrap();
        assert_eq!(config.idle_spin_us, 0);
        let err = config
            .apply_file(Path::new("x.conf"), "idle-spin-us -1\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file x.conf, line 1: invalid microseconds '-1'"
        );
        let cli = Cli::parse_from(["diskdb-server", "--idle-spin-us", "200"]);
        assert_eq!(Config::load(&cli).unwrap().0.idle_spin_us, 200);
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
