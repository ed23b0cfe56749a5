//! Connection commands (Redis's `networking.c`): PING, ECHO, QUIT, HELLO, AUTH, CLIENT, RESET.

use super::{parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::protocol::reply::Protocol;
use crate::state::ClientInfo;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("auth", -2, None, true, (0, 0, 0), auth; NOSCRIPT | LOADING | STALE | NO_AUTH | ALLOW_BUSY),
    command!("client", -2, None, false, (0, 0, 0), client; SUBCOMMANDS),
    command!("hello", -1, None, true, (0, 0, 0), hello; NOSCRIPT | LOADING | STALE | NO_AUTH | ALLOW_BUSY),
    command!("reset", 1, None, true, (0, 0, 0), reset; NOSCRIPT | LOADING | STALE | NO_AUTH | ALLOW_BUSY | SUBSCRIBED | TRANSACTION),
    command!("echo", 2, None, true, (0, 0, 0), echo; LOADING | STALE),
    command!("ping", -1, None, true, (0, 0, 0), ping; SUBSCRIBED),
    command!("quit", -1, None, true, (0, 0, 0), quit; ALLOW_BUSY | NOSCRIPT | LOADING | STALE | NO_AUTH | SUBSCRIBED | TRANSACTION),
];

/// `PING [message]`
pub fn ping(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    if ctx.session.subscribed() && ctx.reply.protocol() == Protocol::Resp2 {
        // In subscribed mode Redis answers with a pub/sub-shaped array.
        let message = args.try_next().unwrap_or_default();
        args.finish()?;
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(message);
        return Ok(());
    }
    match args.try_next() {
        None => ctx.reply.simple("PONG"),
        Some(message) => {
            args.finish()?;
            ctx.reply.bulk(message);
        }
    }
    Ok(())
}

/// `ECHO message`
pub fn echo(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let message = args.next_bytes()?;
    ctx.reply.bulk(message);
    Ok(())
}

/// `QUIT`: replies OK, then the server closes the connection once the reply is sent.
pub fn quit(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    ctx.reply.ok();
    ctx.session.close_after_reply = true;
    Ok(())
}

fn client_info_line(info: &ClientInfo, now_ms: i64) -> String {
    let age = ((now_ms - info.created_ms) / 1000).max(0);
    let idle = ((now_ms - info.last_ms) / 1000).max(0);
    let flags = if info.multi.is_some() { "x" } else { "N" };
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        info.id,
        info.addr,
        info.laddr,
        String::from_utf8_lossy(&info.name),
        age,
        idle,
        flags,
        info.db,
        info.multi.map_or(-1, |n| n as i64),
        info.last_cmd,
        info.resp,
        String::from_utf8_lossy(&info.lib_name),
        String::from_utf8_lossy(&info.lib_ver),
    )
}

/// This client's registry entry, created on demand for hosts that keep no registry.
fn me<'c>(ctx: &'c mut Ctx<'_, '_, '_>) -> &'c mut ClientInfo {
    let id = ctx.session.id;
    let resp = if ctx.reply.protocol() == Protocol::Resp3 {
        3
    } else {
        2
    };
    let entry = ctx.state.clients.entry(id).or_insert_with(|| ClientInfo {
        id,
        resp,
        ..ClientInfo::default()
    });
    entry.resp = resp;
    entry
}

fn sync_me(ctx: &mut Ctx<'_, '_, '_>) {
    let db = ctx.session.db;
    let multi = ctx.session.multi.as_ref().map(Vec::len);
    let me = me(ctx);
    me.db = db;
    me.multi = multi;
}

/// Redis's rule for client names: printable ASCII without spaces.
fn valid_name(name: &[u8]) -> Result<(), CommandError> {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(CommandError::Static(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

/// Checks a password for a user; DiskDB has only the `default` user, with no password unless
/// `requirepass` is set.
fn check_auth(ctx: &Ctx<'_, '_, '_>, user: &[u8], pass: &[u8]) -> CommandResult {
    let required = ctx.state.param("requirepass").unwrap_or_default();
    let ok = user == b"default" && (required.is_empty() || required == pass);
    if ok {
        Ok(())
    } else {
        Err(CommandError::Static(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

/// `AUTH [username] password`
pub fn auth(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let first = args.next_bytes()?;
    let (user, pass) = match args.try_next() {
        Some(pass) => {
            args.finish().map_err(|_| CommandError::Syntax)?;
            (first, pass)
        }
        None => {
            if ctx
                .state
                .param("requirepass")
                .unwrap_or_default()
                .is_empty()
            {
                return Err(CommandError::Static(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (&b"default"[..], first)
        }
    };
    check_auth(ctx, user, pass)?;
    ctx.session.authenticated = true;
    ctx.reply.ok();
    Ok(())
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
pub fn hello(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let mut proto = None;
    if let Some(v) = args.try_next() {
        let n = crate::protocol::string2ll(v).ok_or(CommandError::Static(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&n) {
            return Err(CommandError::Static("NOPROTO unsupported protocol version"));
        }
        proto = Some(n);
    }
    let mut name = None;
    while let Some(opt) = args.try_next() {
        if opt.eq_ignore_ascii_case(b"auth") && args.remaining() >= 2 {
            let user = args.next_bytes()?;
            let pass = args.next_bytes()?;
            check_auth(ctx, user, pass)?;
            ctx.session.authenticated = true;
        } else if opt.eq_ignore_ascii_case(b"setname") && args.remaining() >= 1 {
            let n = args.next_bytes()?;
            valid_name(n)?;
            name = Some(n.to_vec());
        } else {
            return Err(CommandError::Raw(
                format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(opt)
                )
                .into_bytes()
                .into(),
            ));
        }
    }
    if !ctx.session.authenticated {
        return Err(CommandError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    match proto {
        Some(3) => ctx.reply.set_protocol(Protocol::Resp3),
        Some(_) => ctx.reply.set_protocol(Protocol::Resp2),
        None => {}
    }
    let id = ctx.session.id;
    let resp = if ctx.reply.protocol() == Protocol::Resp3 {
        3
    } else {
        2
    };
    if let Some(n) = name {
        me(ctx).name = n;
    }
    me(ctx).resp = resp;
    ctx.reply.map(7);
    ctx.reply.bulk(b"server");
    ctx.reply.bulk(b"redis");
    ctx.reply.bulk(b"version");
    ctx.reply.bulk(super::server::REDIS_VERSION.as_bytes());
    ctx.reply.bulk(b"proto");
    ctx.reply.integer(i64::from(resp));
    ctx.reply.bulk(b"id");
    ctx.reply.integer(id as i64);
    ctx.reply.bulk(b"mode");
    ctx.reply.bulk(b"standalone");
    ctx.reply.bulk(b"role");
    ctx.reply.bulk(b"master");
    ctx.reply.bulk(b"modules");
    ctx.reply.array(0);
    Ok(())
}

/// `RESET`: back to a fresh connection's state.
pub fn reset(ctx: &mut Ctx<'_, '_, '_>, _args: &mut Args<'_>) -> CommandResult {
    let id = ctx.session.id;
    ctx.session.channels.clear();
    ctx.session.patterns.clear();
    ctx.state.channels.retain(|_, subs| {
        subs.retain(|&s| s != id);
        !subs.is_empty()
    });
    ctx.state.patterns.retain(|(_, s)| *s != id);
    ctx.session.db = 0;
    ctx.session.authenticated = ctx
        .state
        .param("requirepass")
        .unwrap_or_default()
        .is_empty();
    ctx.session.watched.clear();
    ctx.state.unwatch_all(id);
    ctx.session.multi = None;
    ctx.session.multi_failed = false;
    ctx.reply.set_protocol(Protocol::Resp2);
    let me = me(ctx);
    me.name.clear();
    me.no_evict = false;
    me.resp = 2;
    sync_me(ctx);
    ctx.reply.simple("RESET");
    Ok(())
}

/// `CLIENT ID|SETNAME|GETNAME|INFO|LIST|KILL|SETINFO|NO-EVICT|HELP`
pub fn client(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    let lower = sub.to_ascii_lowercase();
    let arity = |args: &Args<'_>, n: usize, name: &'static str| {
        if args.remaining() == n {
            Ok(())
        } else {
            Err(CommandError::WrongArity(name))
        }
    };
    sync_me(ctx);
    let now = ctx.ks.now_ms();
    match lower.as_slice() {
        b"id" => {
            arity(args, 0, "client|id")?;
            ctx.reply.integer(ctx.session.id as i64);
        }
        b"setname" => {
            arity(args, 1, "client|setname")?;
            let name = args.next_bytes()?;
            valid_name(name)?;
            me(ctx).name = name.to_vec();
            ctx.reply.ok();
        }
        b"getname" => {
            arity(args, 0, "client|getname")?;
            let name = me(ctx).name.clone();
            if name.is_empty() {
                ctx.reply.null();
            } else {
                ctx.reply.bulk(&name);
            }
        }
        b"setinfo" => {
            arity(args, 2, "client|setinfo")?;
            let attr = args.next_bytes()?;
            let value = args.next_bytes()?;
            valid_name(value).map_err(|_| {
                CommandError::Static("ERR lib-name or lib-ver cannot contain spaces, newlines or special characters.")
            })?;
            if attr.eq_ignore_ascii_case(b"lib-name") {
                me(ctx).lib_name = value.to_vec();
            } else if attr.eq_ignore_ascii_case(b"lib-ver") {
                me(ctx).lib_ver = value.to_vec();
            } else {
                return Err(CommandError::Raw(
                    format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(attr)
                    )
                    .into_bytes()
                    .into(),
                ));
            }
            ctx.reply.ok();
        }
        b"no-evict" => {
            arity(args, 1, "client|no-evict")?;
            let v = args.next_bytes()?;
            let on = if v.eq_ignore_ascii_case(b"on") {
                true
            } else if v.eq_ignore_ascii_case(b"off") {
                false
            } else {
                return Err(CommandError::Syntax);
            };
            me(ctx).no_evict = on;
            ctx.reply.ok();
        }
        b"info" => {
            arity(args, 0, "client|info")?;
            let line = client_info_line(me(ctx), now) + "\n";
            ctx.reply.bulk(line.as_bytes());
        }
        b"list" => {
            let mut ids: Option<Vec<u64>> = None;
            while let Some(opt) = args.try_next() {
                if opt.eq_ignore_ascii_case(b"type") && args.remaining() >= 1 {
                    let t = args.next_bytes()?.to_ascii_lowercase();
                    if !matches!(t.as_slice(), b"normal" | b"master" | b"replica" | b"pubsub") {
                        return Err(CommandError::Raw(
                            format!("ERR Unknown client type '{}'", String::from_utf8_lossy(&t))
                                .into_bytes()
                                .into(),
                        ));
                    }
                    if t != b"normal" {
                        ids = Some(Vec::new());
                    }
                } else if opt.eq_ignore_ascii_case(b"id") && args.remaining() >= 1 {
                    let mut list = Vec::new();
                    while let Some(id) = args.try_next() {
                        let n = parse_i64(id)
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or(CommandError::Static("ERR Invalid client ID"))?;
                        list.push(n as u64);
                    }
                    ids = Some(list);
                } else {
                    return Err(CommandError::Syntax);
                }
            }
            let mut out = String::new();
            for info in ctx.state.clients.values() {
                if ids.as_ref().is_none_or(|ids| ids.contains(&info.id)) {
                    out.push_str(&client_info_line(info, now));
                    out.push('\n');
                }
            }
            ctx.reply.bulk(out.as_bytes());
        }
        b"kill" => {
            let first = args.next_bytes()?;
            if args.remaining() == 0 {
                // Old form: CLIENT KILL addr:port.
                let addr = String::from_utf8_lossy(first).into_owned();
                let id = ctx
                    .state
                    .clients
                    .values()
                    .find(|c| c.addr == addr)
                    .map(|c| c.id)
                    .ok_or(CommandError::Static("ERR No such client"))?;
                ctx.state.kill_requests.push(id);
                ctx.reply.ok();
                return Ok(());
            }
            let mut filter_id = None;
            let mut filter_addr = None;
            let mut filter_laddr = None;
            let mut skipme = true;
            let mut opt = Some(first);
            while let Some(o) = opt {
                let value = args.next_bytes().map_err(|_| CommandError::Syntax)?;
                match o.to_ascii_lowercase().as_slice() {
                    b"id" => {
                        filter_id = Some(parse_i64(value).ok().filter(|n| *n > 0).ok_or(
                            CommandError::Static("ERR client-id should be greater than 0"),
                        )? as u64)
                    }
                    b"addr" => filter_addr = Some(String::from_utf8_lossy(value).into_owned()),
                    b"laddr" => filter_laddr = Some(String::from_utf8_lossy(value).into_owned()),
                    b"skipme" => {
                        skipme = if value.eq_ignore_ascii_case(b"yes") {
                            true
                        } else if value.eq_ignore_ascii_case(b"no") {
                            false
                        } else {
                            return Err(CommandError::Syntax);
                        }
                    }
                    b"type" | b"user" | b"maxage" => {}
                    _ => return Err(CommandError::Syntax),
                }
                opt = args.try_next();
            }
            let me_id = ctx.session.id;
            let victims: Vec<u64> = ctx
                .state
                .clients
                .values()
                .filter(|c| filter_id.is_none_or(|id| c.id == id))
                .filter(|c| filter_addr.as_ref().is_none_or(|a| &c.addr == a))
                .filter(|c| filter_laddr.as_ref().is_none_or(|a| &c.laddr == a))
                .filter(|c| !(skipme && c.id == me_id))
                .map(|c| c.id)
                .collect();
            ctx.state.kill_requests.extend(&victims);
            if victims.contains(&me_id) {
                ctx.session.close_after_reply = true;
            }
            ctx.reply.integer(victims.len() as i64);
        }
        b"help" => {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID, ADDR, LADDR, SKIPME.",
                "LIST [options ...]",
                "    Return information about client connections. Options: TYPE, ID.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "    Set client library name or version.",
                "HELP",
                "    Prints this help.",
            ];
            super::reply_help(ctx.reply, &lines);
        }
        _ => return Err(CommandError::unknown_subcommand(b"CLIENT", sub)),
    }
    Ok(())
}
