//! Server commands (Redis's `server.c`, `config.c`, `debug.c`): INFO, CONFIG, COMMAND, TIME,
//! LASTSAVE, SAVE, BGSAVE, SHUTDOWN, FUNCTION, WAIT, DEBUG.

use super::{catalogue, parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::keyspace::DATABASES;
use crate::params;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("bgsave", -1, None, false, (0, 0, 0), bgsave; NOSCRIPT | NO_ASYNC_LOADING | ADMIN),
    command!("command", -1, None, false, (0, 0, 0), command; LOADING | STALE | SUBCOMMANDS),
    command!("config", -2, None, false, (0, 0, 0), config; SUBCOMMANDS),
    command!("debug", -2, None, false, (0, 0, 0), debug; ADMIN | NOSCRIPT | LOADING | STALE),
    command!("info", -1, None, false, (0, 0, 0), info; LOADING | STALE),
    command!("lastsave", 1, None, true, (0, 0, 0), lastsave; LOADING | STALE),
    command!("save", 1, None, false, (0, 0, 0), save; NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI | ADMIN),
    command!("shutdown", -1, None, false, (0, 0, 0), shutdown; ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY),
    command!("time", 1, None, true, (0, 0, 0), time; LOADING | STALE),
    command!("wait", 3, None, false, (0, 0, 0), wait; NOSCRIPT),
];

/// The Redis version DiskDB's replies are compatible with (clients read it to pick features).
pub const REDIS_VERSION: &str = "7.0.15";

/// `TIME`
pub fn time(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    let now = ctx.ks.now_ms();
    ctx.reply.array(2);
    ctx.reply
        .bulk(itoa::Buffer::new().format(now / 1000).as_bytes());
    ctx.reply
        .bulk(itoa::Buffer::new().format((now % 1000) * 1000).as_bytes());
    Ok(())
}

/// `LASTSAVE`
pub fn lastsave(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    ctx.reply.integer(ctx.state.last_save_s);
    Ok(())
}

/// `SAVE`: a durable checkpoint of the keyspace, written before the reply leaves.
pub fn save(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    ctx.state.save_requested = true;
    ctx.reply.ok();
    Ok(())
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: asks the host to stop. As in Redis a
/// successful SHUTDOWN sends no reply: the connection closes, and the host closes the others,
/// commits and checkpoints. Every acknowledged write is already durable, so NOSAVE keeps the
/// checkpoint (it only saves the next start a log replay) and SAVE, NOW and FORCE change nothing.
/// There are no replicas to wait for, so there is never a shutdown in progress to ABORT.
pub fn shutdown(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let (mut save, mut nosave, mut now_or_force, mut abort) = (false, false, false, false);
    while let Some(arg) = args.try_next() {
        match arg.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" | b"force" => now_or_force = true,
            b"abort" => abort = true,
            _ => return Err(CommandError::Syntax),
        }
    }
    if (abort && (save || nosave || now_or_force)) || (save && nosave) {
        return Err(CommandError::Syntax);
    }
    if abort {
        return Err(CommandError::Static("ERR No shutdown in progress."));
    }
    ctx.state.shutdown_requested = true;
    ctx.session.close_after_reply = true;
    Ok(())
}

/// `BGSAVE [SCHEDULE]`: the same checkpoint (it takes milliseconds, so it is not forked off).
pub fn bgsave(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    match args.try_next() {
        None => {}
        Some(s) if s.eq_ignore_ascii_case(b"schedule") && args.remaining() == 0 => {}
        Some(_) => return Err(CommandError::Syntax),
    }
    ctx.state.save_requested = true;
    ctx.reply.simple("Background saving started");
    Ok(())
}

/// `WAIT numreplicas timeout`: DiskDB has no replicas.
pub fn wait(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    parse_i64(args.next_bytes()?)?;
    let timeout = parse_i64(args.next_bytes()?)
        .map_err(|_| CommandError::Static("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CommandError::Static("ERR timeout is negative"));
    }
    ctx.reply.integer(0);
    Ok(())
}

/// `DEBUG SLEEP seconds` (blocks the server, as in Redis) and `DEBUG JMAP`-free subset.
pub fn debug(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    if sub.eq_ignore_ascii_case(b"sleep") {
        let secs: f64 = std::str::from_utf8(args.next_bytes()?)
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .unwrap_or(0.0);
        // A browser's main thread cannot sleep; there DEBUG SLEEP returns at once.
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        let _ = secs;
        ctx.reply.ok();
        return Ok(());
    }
    Err(CommandError::Static(
        "ERR DEBUG supports only SLEEP in DiskDB",
    ))
}

/// `CONFIG GET pattern [pattern ...]`, `CONFIG SET name value [name value ...]`,
/// `CONFIG RESETSTAT`, `CONFIG REWRITE`, `CONFIG HELP`.
pub fn config(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    match sub.to_ascii_lowercase().as_slice() {
        b"get" => {
            if args.remaining() == 0 {
                return Err(CommandError::WrongArity("config|get"));
            }
            let mut found: Vec<(&String, &[u8])> = Vec::new();
            while let Some(pattern) = args.try_next() {
                let lower = pattern.to_ascii_lowercase();
                for (name, param) in &ctx.state.config {
                    if glob::matches(&lower, name.as_bytes())
                        && !found.iter().any(|(n, _)| *n == name)
                    {
                        found.push((name, &param.value));
                    }
                }
            }
            ctx.reply.map(found.len());
            for (name, value) in found {
                ctx.reply.bulk(name.as_bytes());
                ctx.reply.bulk(value);
            }
        }
        b"set" => {
            if args.remaining() == 0 || !args.remaining().is_multiple_of(2) {
                return Err(CommandError::WrongArity("config|set"));
            }
            let mut updates = Vec::new();
            while let Some(name) = args.try_next() {
                let value = args.next_bytes()?;
                let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
                match ctx.state.config.get(&lower) {
                    Some(p) if p.mutable => {
                        let value = match params::lookup(&lower) {
                            Some(param) => param
                                .check(
                                    &String::from_utf8_lossy(value),
                                    &String::from_utf8_lossy(&p.value),
                                )
                                .map_err(|reason| {
                                    CommandError::Raw(
                                        format!(
                                            "ERR CONFIG SET failed (possibly related to argument '{lower}') - {reason}"
                                        )
                                        .into_bytes()
                                        .into(),
                                    )
                                })?
                                .into_bytes(),
                            None => value.to_vec(),
                        };
                        updates.push((lower, value));
                    }
                    Some(_) => {
                        return Err(CommandError::Raw(
                            format!(
                                "ERR CONFIG SET failed (possibly related to argument '{lower}') - can't set immutable config"
                            )
                            .into_bytes()
                            .into(),
                        ))
                    }
                    None => {
                        return Err(CommandError::Raw(
                            format!(
                                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                                String::from_utf8_lossy(name)
                            )
                            .into_bytes()
                            .into(),
                        ))
                    }
                }
            }
            for (name, value) in updates {
                ctx.state.set_param(&name, &value, true);
            }
            ctx.reply.ok();
        }
        b"resetstat" => {
            args.finish()
                .map_err(|_| CommandError::WrongArity("config|resetstat"))?;
            ctx.state.stats = Default::default();
            ctx.reply.ok();
        }
        b"rewrite" => {
            return Err(CommandError::Static(
                "ERR The server is running without a config file",
            ))
        }
        b"help" => {
            let lines = [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Prints this help.",
            ];
            super::reply_help(ctx.reply, &lines);
        }
        _ => return Err(CommandError::unknown_subcommand(b"CONFIG", sub)),
    }
    Ok(())
}

/// The implemented command (or `container|subcommand` of one) a name gives, with Redis's
/// entry for it.
fn described(name: &[u8]) -> Option<&'static catalogue::Entry> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let top = name.split('|').next().unwrap_or_default();
    super::lookup(top.as_bytes())?;
    catalogue::lookup(&name)
}

/// Names of the implemented commands and their subcommands, as `COMMAND LIST` prints them.
fn listed() -> impl Iterator<Item = &'static str> {
    super::all().flat_map(|spec| {
        let subs = catalogue::lookup(spec.name).map_or(&[][..], |e| &e.subcommands[..]);
        std::iter::once(spec.name).chain(subs.iter().map(String::as_str))
    })
}

/// `COMMAND`, `COMMAND COUNT | LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p] | INFO [name ...]
/// | DOCS [name ...] | GETKEYS cmd ... | GETKEYSANDFLAGS cmd ... | HELP`, with Redis 7.0's
/// descriptions of the commands (see `catalogue.rs`).
pub fn command(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let Some(sub) = args.try_next() else {
        let all: Vec<_> = super::all()
            .filter_map(|spec| catalogue::lookup(spec.name))
            .collect();
        ctx.reply.array(all.len());
        for entry in all {
            entry.write_info(ctx.reply);
        }
        return Ok(());
    };
    match sub.to_ascii_lowercase().as_slice() {
        b"count" => {
            args.finish()
                .map_err(|_| CommandError::WrongArity("command|count"))?;
            ctx.reply.integer(super::all().count() as i64);
        }
        b"list" => {
            let rest: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
            let names: Vec<&str> = match rest[..] {
                [] => listed().collect(),
                [by, kind, value] if by.eq_ignore_ascii_case(b"filterby") => {
                    match kind.to_ascii_lowercase().as_slice() {
                        b"module" => Vec::new(),
                        b"aclcat" => {
                            let cat = format!("@{}", String::from_utf8_lossy(value));
                            listed()
                                .filter(|n| {
                                    catalogue::lookup(n).is_some_and(|e| {
                                        e.acl_categories()
                                            .iter()
                                            .any(|c| c.eq_ignore_ascii_case(&cat))
                                    })
                                })
                                .collect()
                        }
                        b"pattern" => {
                            // Redis matches without case; the names are lowercase.
                            let pattern = value.to_ascii_lowercase();
                            listed()
                                .filter(|n| glob::matches(&pattern, n.as_bytes()))
                                .collect()
                        }
                        _ => return Err(CommandError::Syntax),
                    }
                }
                _ => return Err(CommandError::Syntax),
            };
            ctx.reply.array(names.len());
            for name in names {
                ctx.reply.bulk(name.as_bytes());
            }
        }
        b"info" => {
            let names: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
            let entries: Vec<Option<&catalogue::Entry>> = if names.is_empty() {
                super::all()
                    .map(|spec| catalogue::lookup(spec.name))
                    .collect()
            } else {
                names.iter().map(|n| described(n)).collect()
            };
            ctx.reply.array(entries.len());
            for entry in entries {
                match entry {
                    Some(entry) => entry.write_info(ctx.reply),
                    None => ctx.reply.null(),
                }
            }
        }
        b"docs" => {
            let names: Vec<Vec<u8>> = std::iter::from_fn(|| args.try_next())
                .map(<[u8]>::to_ascii_lowercase)
                .collect();
            let entries: Vec<(&[u8], &catalogue::Entry)> = if names.is_empty() {
                super::all()
                    .filter_map(|spec| Some((spec.name.as_bytes(), catalogue::lookup(spec.name)?)))
                    .collect()
            } else {
                names
                    .iter()
                    .filter_map(|n| Some((n.as_slice(), described(n)?)))
                    .collect()
            };
            ctx.reply.map(entries.len());
            for (name, entry) in entries {
                ctx.reply.bulk(name);
                if !entry.write_docs(ctx.reply) {
                    ctx.reply.map(0);
                }
            }
        }
        b"getkeys" | b"getkeysandflags" => {
            let with_flags = sub.eq_ignore_ascii_case(b"getkeysandflags");
            let argv: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
            if argv.len() < 2 {
                return Err(CommandError::WrongArity(if with_flags {
                    "command|getkeysandflags"
                } else {
                    "command|getkeys"
                }));
            }
            command_keys(ctx, &argv, with_flags)?;
        }
        b"help" => {
            args.finish()
                .map_err(|_| CommandError::WrongArity("command|help"))?;
            super::reply_help(
                ctx.reply,
                &[
                    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "(no subcommand)",
                    "    Return details about all Redis commands.",
                    "COUNT",
                    "    Return the total number of commands in this Redis server.",
                    "LIST",
                    "    Return a list of all commands in this Redis server.",
                    "INFO [<command-name> ...]",
                    "    Return details about multiple Redis commands.",
                    "    If no command names are given, documentation details for all",
                    "    commands are returned.",
                    "DOCS [<command-name> ...]",
                    "    Return documentation details about multiple Redis commands.",
                    "    If no command names are given, documentation details for all",
                    "    commands are returned.",
                    "GETKEYS <full-command>",
                    "    Return the keys from a full Redis command.",
                    "GETKEYSANDFLAGS <full-command>",
                    "    Return the keys and the access flags from a full Redis command.",
                    "HELP",
                    "    Prints this help.",
                ],
            );
        }
        _ => return Err(CommandError::unknown_subcommand(b"COMMAND", sub)),
    }
    Ok(())
}

/// `COMMAND GETKEYS | GETKEYSANDFLAGS <command> <args>`: the keys Redis's key specs find in a
/// command (Redis's `getKeysSubcommandImpl`).
fn command_keys(ctx: &mut Ctx<'_, '_, '_>, argv: &[&[u8]], with_flags: bool) -> CommandResult {
    let invalid = CommandError::Static("ERR Invalid command specified");
    let spec = super::lookup(argv[0]).ok_or(invalid.clone())?;
    let name = if spec.has(super::flags::SUBCOMMANDS) {
        format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(argv[1]).to_ascii_lowercase()
        )
    } else {
        spec.name.to_string()
    };
    let entry = catalogue::lookup(&name).ok_or(invalid)?;
    if !entry.has_keys() {
        return Err(CommandError::Static("ERR The command has no key arguments"));
    }
    let (arity, argc) = (entry.arity(), argv.len() as i64);
    if (arity > 0 && arity != argc) || argc < -arity {
        return Err(CommandError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = if name == "set" {
        // SET's key flags depend on GET (Redis's `setGetKeys`).
        let get = argv[3.min(argv.len())..]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(b"get"));
        let flags = if get {
            vec!["RW", "access", "update"]
        } else {
            vec!["OW", "update"]
        };
        Some(vec![(1, flags)])
    } else {
        entry.keys(argv)
    };
    match keys {
        Some(keys) if !keys.is_empty() => {
            ctx.reply.array(keys.len());
            for (pos, flags) in keys {
                if with_flags {
                    ctx.reply.array(2);
                    ctx.reply.bulk(argv[pos]);
                    ctx.reply.set(flags.len());
                    for flag in flags {
                        ctx.reply.simple(flag);
                    }
                } else {
                    ctx.reply.bulk(argv[pos]);
                }
            }
        }
        _ if entry.flags().contains(&"no_mandatory_keys") => ctx.reply.array(0),
        _ => {
            return Err(CommandError::Static(
                "ERR Invalid arguments specified for command",
            ))
        }
    }
    Ok(())
}

/// `INFO [section ...]`: the sections and fields clients and dashboards read.
pub fn info(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let wanted: Vec<Vec<u8>> = std::iter::from_fn(|| args.try_next())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == b"all" || w == b"everything" || w == b"default");
    let want = |name: &str| all || wanted.iter().any(|w| w == name.as_bytes());
    let now = ctx.ks.now_ms();
    let st = &*ctx.state;
    let host = |k: &str| st.host.get(k).cloned().unwrap_or_default();
    let mut out = String::new();
    let mut section = |title: &str, fields: Vec<(String, String)>| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        out.push_str("# ");
        out.push_str(title);
        out.push_str("\r\n");
        for (k, v) in fields {
            out.push_str(&k);
            out.push(':');
            out.push_str(&v);
            out.push_str("\r\n");
        }
    };
    let uptime = ((now - st.started_ms) / 1000).max(0);
    if want("server") {
        section(
            "Server",
            vec![
                ("redis_version".into(), REDIS_VERSION.into()),
                ("diskdb_version".into(), env!("CARGO_PKG_VERSION").into()),
                ("redis_mode".into(), "standalone".into()),
                ("os".into(), host("os")),
                ("arch_bits".into(), (usize::BITS).to_string()),
                ("process_id".into(), host("process_id")),
                ("tcp_port".into(), host("tcp_port")),
                ("server_time_usec".into(), (now * 1000).to_string()),
                ("uptime_in_seconds".into(), uptime.to_string()),
                ("uptime_in_days".into(), (uptime / 86400).to_string()),
                ("executable".into(), host("executable")),
                ("config_file".into(), host("config_file")),
            ],
        );
    }
    if want("clients") {
        section(
            "Clients",
            vec![
                (
                    "connected_clients".into(),
                    st.clients.len().max(1).to_string(),
                ),
                (
                    "maxclients".into(),
                    String::from_utf8_lossy(st.param("maxclients").unwrap_or(b"10000")).into(),
                ),
                ("blocked_clients".into(), "0".into()),
                ("pubsub_clients".into(), "0".into()),
            ],
        );
    }
    if want("memory") {
        let rss = host("used_memory_rss");
        section(
            "Memory",
            vec![
                (
                    "used_memory".into(),
                    if rss.is_empty() {
                        "0".into()
                    } else {
                        rss.clone()
                    },
                ),
                ("used_memory_human".into(), human(rss.parse().unwrap_or(0))),
                ("used_memory_rss".into(), rss),
                ("maxmemory".into(), "0".into()),
                ("maxmemory_policy".into(), "noeviction".into()),
                (
                    "cache_size".into(),
                    String::from_utf8_lossy(st.param("cache-size").unwrap_or(b"0")).into(),
                ),
            ],
        );
    }
    if want("persistence") {
        section(
            "Persistence",
            vec![
                ("loading".into(), "0".into()),
                ("rdb_changes_since_last_save".into(), "0".into()),
                ("rdb_bgsave_in_progress".into(), "0".into()),
                ("rdb_last_save_time".into(), st.last_save_s.to_string()),
                ("rdb_last_bgsave_status".into(), "ok".into()),
                ("aof_enabled".into(), "1".into()),
                ("aof_rewrite_in_progress".into(), "0".into()),
                ("aof_last_write_status".into(), "ok".into()),
                (
                    "durability".into(),
                    String::from_utf8_lossy(st.param("durability").unwrap_or(b"always")).into(),
                ),
            ],
        );
    }
    if want("stats") {
        let s = &st.stats;
        section(
            "Stats",
            vec![
                (
                    "total_connections_received".into(),
                    s.total_connections_received.to_string(),
                ),
                (
                    "total_commands_processed".into(),
                    s.total_commands_processed.to_string(),
                ),
                (
                    "rejected_connections".into(),
                    s.rejected_connections.to_string(),
                ),
                ("expired_keys".into(), ctx.ks.counters().expired.to_string()),
                ("evicted_keys".into(), "0".into()),
                ("keyspace_hits".into(), s.keyspace_hits.to_string()),
                ("keyspace_misses".into(), s.keyspace_misses.to_string()),
                ("pubsub_channels".into(), "0".into()),
                ("pubsub_patterns".into(), "0".into()),
            ],
        );
    }
    if want("replication") {
        section(
            "Replication",
            vec![
                ("role".into(), "master".into()),
                ("connected_slaves".into(), "0".into()),
            ],
        );
    }
    if want("keyspace") {
        let mut fields = Vec::new();
        for db in 0..DATABASES {
            let keys = ctx.ks.db_size(db);
            if keys > 0 {
                fields.push((
                    format!("db{db}"),
                    format!("keys={keys},expires=0,avg_ttl=0"),
                ));
            }
        }
        section("Keyspace", fields);
    }
    ctx.reply.bulk(out.as_bytes());
    Ok(())
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}
