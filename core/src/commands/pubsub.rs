//! Publish/subscribe (Redis's `pubsub.c`): SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE PUBLISH
//! PUBSUB. Subscriptions live in the instance state; PUBLISH leaves the encoded messages in its
//! outbox and the host delivers them to the subscribers' connections.

use super::{Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::protocol::reply::{Protocol, Reply};

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("psubscribe", -2, None, false, (0, 0, 0), psubscribe; PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED),
    command!("publish", 3, None, true, (0, 0, 0), publish; PUBSUB | LOADING | STALE),
    command!("pubsub", -2, None, false, (0, 0, 0), pubsub; SUBCOMMANDS),
    command!("punsubscribe", -1, None, false, (0, 0, 0), punsubscribe; PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED),
    command!("subscribe", -2, None, false, (0, 0, 0), subscribe; PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED),
    command!("unsubscribe", -1, None, false, (0, 0, 0), unsubscribe; PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED),
];

/// The confirmation Redis sends for each (un)subscription: `[kind, name or nil, count]`, a push
/// in RESP3.
fn confirm(reply: &mut Reply, kind: &str, name: Option<&[u8]>, count: usize) {
    reply.push(3);
    reply.bulk(kind.as_bytes());
    match name {
        Some(n) => reply.bulk(n),
        None => reply.null(),
    }
    reply.integer(count as i64);
}

fn count(ctx: &Ctx<'_, '_, '_>) -> usize {
    ctx.session.channels.len() + ctx.session.patterns.len()
}

/// `SUBSCRIBE channel [channel ...]`
pub fn subscribe(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::Static(
            "ERR Command not allowed inside a transaction",
        ));
    }
    let id = ctx.session.id;
    while let Some(channel) = args.try_next() {
        if !ctx.session.channels.iter().any(|c| c == channel) {
            ctx.session.channels.push(channel.to_vec());
            ctx.state
                .channels
                .entry(channel.to_vec())
                .or_default()
                .push(id);
        }
        let n = count(ctx);
        confirm(ctx.reply, "subscribe", Some(channel), n);
    }
    Ok(())
}

/// `PSUBSCRIBE pattern [pattern ...]`
pub fn psubscribe(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    if ctx.session.multi.is_some() {
        return Err(CommandError::Static(
            "ERR Command not allowed inside a transaction",
        ));
    }
    let id = ctx.session.id;
    while let Some(pattern) = args.try_next() {
        if !ctx.session.patterns.iter().any(|p| p == pattern) {
            ctx.session.patterns.push(pattern.to_vec());
            ctx.state.patterns.push((pattern.to_vec(), id));
        }
        let n = count(ctx);
        confirm(ctx.reply, "psubscribe", Some(pattern), n);
    }
    Ok(())
}

fn drop_channel(ctx: &mut Ctx<'_, '_, '_>, channel: &[u8]) -> bool {
    let Some(pos) = ctx.session.channels.iter().position(|c| c == channel) else {
        return false;
    };
    ctx.session.channels.remove(pos);
    let id = ctx.session.id;
    if let Some(subs) = ctx.state.channels.get_mut(channel) {
        subs.retain(|&s| s != id);
        if subs.is_empty() {
            ctx.state.channels.remove(channel);
        }
    }
    true
}

/// `UNSUBSCRIBE [channel ...]`
pub fn unsubscribe(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let named: Vec<Vec<u8>> = std::iter::from_fn(|| args.try_next())
        .map(<[u8]>::to_vec)
        .collect();
    let targets = if named.is_empty() {
        ctx.session.channels.clone()
    } else {
        named
    };
    if targets.is_empty() {
        let n = count(ctx);
        confirm(ctx.reply, "unsubscribe", None, n);
    }
    for channel in targets {
        drop_channel(ctx, &channel);
        let n = count(ctx);
        confirm(ctx.reply, "unsubscribe", Some(&channel), n);
    }
    Ok(())
}

/// `PUNSUBSCRIBE [pattern ...]`
pub fn punsubscribe(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let named: Vec<Vec<u8>> = std::iter::from_fn(|| args.try_next())
        .map(<[u8]>::to_vec)
        .collect();
    let targets = if named.is_empty() {
        ctx.session.patterns.clone()
    } else {
        named
    };
    if targets.is_empty() {
        let n = count(ctx);
        confirm(ctx.reply, "punsubscribe", None, n);
    }
    let id = ctx.session.id;
    for pattern in targets {
        if let Some(pos) = ctx.session.patterns.iter().position(|p| *p == pattern) {
            ctx.session.patterns.remove(pos);
            ctx.state
                .patterns
                .retain(|(p, s)| !(*s == id && *p == pattern));
        }
        let n = count(ctx);
        confirm(ctx.reply, "punsubscribe", Some(&pattern), n);
    }
    Ok(())
}

/// `PUBLISH channel message`: the number of clients that received it.
pub fn publish(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let channel = args.next_bytes()?;
    let message = args.next_bytes()?;
    let mut deliveries: Vec<(u64, Option<Vec<u8>>)> = Vec::new();
    if let Some(subs) = ctx.state.channels.get(channel) {
        deliveries.extend(subs.iter().map(|&id| (id, None)));
    }
    for (pattern, id) in &ctx.state.patterns {
        if glob::matches(pattern, channel) {
            deliveries.push((*id, Some(pattern.clone())));
        }
    }
    for (id, pattern) in &deliveries {
        let resp3 = ctx.state.clients.get(id).is_some_and(|c| c.resp == 3);
        let mut out = Reply::new();
        out.set_protocol(if resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        });
        match pattern {
            None => {
                out.push(3);
                out.bulk(b"message");
            }
            Some(p) => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(p);
            }
        }
        out.bulk(channel);
        out.bulk(message);
        ctx.state.outbox.push((*id, out.take()));
    }
    ctx.reply.integer(deliveries.len() as i64);
    Ok(())
}

/// `PUBSUB CHANNELS [pattern]`, `PUBSUB NUMSUB [channel ...]`, `PUBSUB NUMPAT`, `PUBSUB HELP`.
pub fn pubsub(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let sub = args.next_bytes()?;
    match sub.to_ascii_lowercase().as_slice() {
        b"channels" => {
            let pattern = args.try_next();
            if args.remaining() > 0 {
                return Err(CommandError::WrongArity("pubsub|channels"));
            }
            let names: Vec<&Vec<u8>> = ctx
                .state
                .channels
                .keys()
                .filter(|c| pattern.is_none_or(|p| glob::matches(p, c)))
                .collect();
            ctx.reply.array(names.len());
            for name in names {
                ctx.reply.bulk(name);
            }
        }
        b"numsub" => {
            let channels: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
            ctx.reply.array(channels.len() * 2);
            for channel in channels {
                let n = ctx.state.channels.get(channel).map_or(0, Vec::len);
                ctx.reply.bulk(channel);
                ctx.reply.integer(n as i64);
            }
        }
        b"numpat" => {
            if args.remaining() > 0 {
                return Err(CommandError::WrongArity("pubsub|numpat"));
            }
            let mut distinct: Vec<&Vec<u8>> = ctx.state.patterns.iter().map(|(p, _)| p).collect();
            distinct.sort();
            distinct.dedup();
            ctx.reply.integer(distinct.len() as i64);
        }
        _ => return Err(CommandError::unknown_subcommand(b"PUBSUB", sub)),
    }
    Ok(())
}
