//! The configuration parameters: one table (Redis's `static_configs[]`) giving each parameter's
//! name, default, whether CONFIG SET may change it, and how a value is checked and written back
//! (Redis's rules and error texts). `ServerState` takes its defaults from it, CONFIG SET checks
//! with it, and the native server's flags and config file check their values with it too.
//!
//! Hosts add parameters of their own (the port they listen on, TLS files) as fixed values; only
//! the ones here can be set at run time.

/// How a parameter's value is read.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Any text.
    Text,
    /// `yes` or `no`.
    Bool,
    /// An integer in a range.
    Int { min: i64, max: i64 },
    /// A byte size (`1048576`, `64mb`, `1gb`), written back in bytes.
    Memory { min: u64, max: u64 },
    /// One of the names.
    Enum(&'static [&'static str]),
    /// Checked and written back by a function of the value and the current value.
    Custom(fn(&str, &str) -> Result<String, String>),
}

/// One parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub default: &'static str,
    /// CONFIG SET may change it.
    pub mutable: bool,
    pub kind: Kind,
}

const I32: i64 = i32::MAX as i64;
const MB: u64 = 1 << 20;
const LONG: u64 = i64::MAX as u64;

// The kinds most rows share (Redis's ranges).
const COUNT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const COUNT_I32: Kind = Kind::Int { min: 0, max: I32 };
const ANY_I32: Kind = Kind::Int {
    min: i32::MIN as i64,
    max: I32,
};
const BUFFER: Kind = Kind::Memory { min: MB, max: LONG };
const FSYNC: Kind = Kind::Enum(&["always", "everysec", "no"]);
const POLICIES: Kind = Kind::Enum(&[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
]);
const LOG_LEVELS: Kind = Kind::Enum(&["debug", "verbose", "notice", "warning"]);
const OUTPUT_LIMITS: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

const fn param(name: &'static str, default: &'static str, mutable: bool, kind: Kind) -> Param {
    Param {
        name,
        default,
        mutable,
        kind,
    }
}

/// Every parameter DiskDB knows. Redis's tuning parameters that have no effect on DiskDB's
/// storage are accepted and checked as Redis checks them, so tools that read or set them keep
/// working.
#[rustfmt::skip]
pub static PARAMS: &[Param] = &[
    param("appendfsync", "always", false, FSYNC),
    param("appendonly", "yes", false, Kind::Bool),
    param("bind", "127.0.0.1", false, Kind::Text),
    param("cache-size", "67108864", false, Kind::Memory { min: 0, max: LONG }),
    param("databases", "16", false, Kind::Int { min: 1, max: I32 }),
    param("dir", "./data", false, Kind::Text),
    param("durability", "always", false, FSYNC),
    param("port", "6380", false, Kind::Int { min: 0, max: 65535 }),
    param("save", "", true, Kind::Text),
    param("maxclients", "10000", true, Kind::Int { min: 1, max: u32::MAX as i64 }),
    param("timeout", "0", true, COUNT_I32),
    param("requirepass", "", true, Kind::Text),
    param("protected-mode", "yes", true, Kind::Bool),
    param("maxmemory", "0", true, Kind::Memory { min: 0, max: u64::MAX }),
    param("maxmemory-policy", "noeviction", true, POLICIES),
    param("proto-max-bulk-len", "536870912", true, BUFFER),
    param("client-query-buffer-limit", "1073741824", true, BUFFER),
    param("client-output-buffer-limit", OUTPUT_LIMITS, true, Kind::Custom(output_buffer_limit)),
    param("loglevel", "notice", true, LOG_LEVELS),
    param("notify-keyspace-events", "", true, Kind::Text),
    param("lazyfree-lazy-user-del", "no", true, Kind::Bool),
    param("hash-max-listpack-entries", "512", true, COUNT),
    param("hash-max-listpack-value", "64", true, COUNT),
    param("hash-max-ziplist-entries", "512", true, COUNT),
    param("hash-max-ziplist-value", "64", true, COUNT),
    param("list-max-listpack-size", "-2", true, ANY_I32),
    param("list-max-ziplist-size", "-2", true, ANY_I32),
    param("list-compress-depth", "0", true, COUNT_I32),
    param("set-max-intset-entries", "512", true, COUNT),
    param("zset-max-listpack-entries", "128", true, COUNT),
    param("zset-max-listpack-value", "64", true, COUNT),
    param("zset-max-ziplist-entries", "128", true, COUNT),
    param("zset-max-ziplist-value", "64", true, COUNT),
    param("activerehashing", "yes", true, Kind::Bool),
    param("hz", "10", true, Kind::Custom(hz)),
    param("slowlog-log-slower-than", "10000", true, Kind::Int { min: -1, max: i64::MAX }),
    param("slowlog-max-len", "128", true, COUNT),
    param("latency-monitor-threshold", "0", true, COUNT),
    param("busy-reply-threshold", "5000", true, COUNT),
    param("lua-time-limit", "5000", true, COUNT),
];

/// The parameter of a (lowercase) name.
pub fn lookup(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name == name)
}

impl Param {
    /// Checks `value` as Redis does and returns it as CONFIG GET shows it (`1mb` becomes
    /// `1048576`); `current` is the value it replaces. The error is Redis's reason text.
    pub fn check(&self, value: &str, current: &str) -> Result<String, String> {
        match self.kind {
            Kind::Text => Ok(value.to_string()),
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                v @ ("yes" | "no") => Ok(v.to_string()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Memory { min, max } => {
                let n = parse_bytes(value)
                    .map_err(|_| "argument must be a memory value".to_string())?
                    as u64;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Enum(names) => {
                let lower = value.to_ascii_lowercase();
                match names.iter().find(|n| **n == lower) {
                    Some(n) => Ok(n.to_string()),
                    None => Err(format!(
                        "argument(s) must be one of the following: {}",
                        names.join(", ")
                    )),
                }
            }
            Kind::Custom(check) => check(value, current),
        }
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

/// Redis accepts any `hz` from 0 and keeps it within 1..=500.
fn hz(value: &str, _current: &str) -> Result<String, String> {
    let n: i64 = value
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if !(0..=I32).contains(&n) {
        return Err(format!("argument must be between 0 and {I32} inclusive"));
    }
    Ok(n.clamp(1, 500).to_string())
}

/// Output buffer limits of one client class (`client-output-buffer-limit <class> <hard> <soft>
/// <soft seconds>`): a client whose unsent output exceeds `hard` bytes, or stays above `soft`
/// bytes for `soft_seconds`, is disconnected. Zero disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for the classes Redis names (`replica` is accepted and shown, but
/// DiskDB has no replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: ClassLimit,
    pub replica: ClassLimit,
    pub pubsub: ClassLimit,
}

impl Default for OutputLimits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        OutputLimits {
            normal: ClassLimit {
                hard: 0,
                soft: 0,
                soft_seconds: 0,
            },
            replica: ClassLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: ClassLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputLimits {
    /// Applies `<class> <hard> <soft> <seconds>` triples (classes not named keep their limits),
    /// with Redis's error texts.
    pub fn apply(&mut self, text: &str) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for triple in words.chunks(4) {
            let class = match triple[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "replica" | "slave" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            *class = ClassLimit {
                hard: parse_bytes(triple[1]).map_err(|_| bad())?,
                soft: parse_bytes(triple[2]).map_err(|_| bad())?,
                soft_seconds: triple[3].parse().map_err(|_| bad())?,
            };
        }
        *self = next;
        Ok(())
    }

    /// The value as CONFIG GET shows it (Redis's format, `slave` and all).
    pub fn render(&self) -> String {
        let c = |l: ClassLimit| format!("{} {} {}", l.hard, l.soft, l.soft_seconds);
        format!(
            "normal {} slave {} pubsub {}",
            c(self.normal),
            c(self.replica),
            c(self.pubsub)
        )
    }
}

/// Classes the new value does not name keep their current limits.
fn output_buffer_limit(value: &str, current: &str) -> Result<String, String> {
    let mut limits = OutputLimits::default();
    let _ = limits.apply(current);
    limits.apply(value)?;
    Ok(limits.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_their_own_checks_and_names_are_unique() {
        for p in PARAMS {
            assert_eq!(
                p.check(p.default, p.default).as_deref(),
                Ok(p.default),
                "{}",
                p.name
            );
            assert_eq!(PARAMS.iter().filter(|q| q.name == p.name).count(), 1);
        }
    }

    #[test]
    fn values_are_checked_with_redis_texts_and_written_back_as_redis_shows_them() {
        let check = |name: &str, v: &str| {
            lookup(name)
                .unwrap()
                .check(v, lookup(name).unwrap().default)
        };
        assert_eq!(check("maxmemory", "1gb").as_deref(), Ok("1073741824"));
        assert_eq!(check("hz", "100000").as_deref(), Ok("500"));
        assert_eq!(check("activerehashing", "YES").as_deref(), Ok("yes"));
        assert_eq!(
            check("maxclients", "0").unwrap_err(),
            "argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            check("maxmemory", "abc").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            check("lua-time-limit", "x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert!(check("loglevel", "foo")
            .unwrap_err()
            .starts_with("argument(s) must be one of the following: debug, verbose"));
        assert_eq!(
            check("client-output-buffer-limit", "pubsub 1mb 2mb 3").as_deref(),
            Ok("normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 3")
        );
    }
}
