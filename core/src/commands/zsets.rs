//! Sorted-set commands (Redis's `t_zset.c`). Storage is `keyspace::zset`: members with their
//! scores, the score order, and a rank index, so ZRANK and ranges by rank stay fast on large
//! sets. The key's record holds the member count and whether Redis would still hold the set as
//! a listpack (up to 128 members of up to 64 bytes), which shows in OBJECT ENCODING, in ZSCAN's
//! score texts, and in -0 scores (a listpack stores -0 as 0).

mod float;

use std::borrow::Cow;
use std::collections::HashMap;

use super::{
    count_of, lookup_kind, parse_cursor, parse_i64, reply_scan, rest, scan_options, store_record,
    Args, CommandSpec, Ctx,
};
use crate::error::{CommandError, CommandResult};
use crate::glob;
use crate::keyspace::{compact_of, position, sortable, ElemRange, Entry, Kind, Members, ZItem};
use crate::protocol::reply::{format_double, Protocol};
use crate::random::random_u64;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("zadd", -4, Write, true, (1, 1, 1), zadd; DENYOOM),
    command!("zcard", 2, Read, true, (1, 1, 1), zcard),
    command!("zcount", 4, Read, true, (1, 1, 1), zcount),
    command!("zdiff", -3, Read, false, (0, 0, 0), zdiff; MOVABLE_KEYS),
    command!("zdiffstore", -4, Write, false, (1, 1, 1), zdiffstore; DENYOOM | MOVABLE_KEYS),
    command!("zincrby", 4, Write, true, (1, 1, 1), zincrby; DENYOOM),
    command!("zinter", -3, Read, false, (0, 0, 0), zinter; MOVABLE_KEYS),
    command!("zintercard", -3, Read, false, (0, 0, 0), zintercard; MOVABLE_KEYS),
    command!("zinterstore", -4, Write, false, (1, 1, 1), zinterstore; DENYOOM | MOVABLE_KEYS),
    command!("zlexcount", 4, Read, true, (1, 1, 1), zlexcount),
    command!("zmpop", -4, Write, false, (0, 0, 0), zmpop; MOVABLE_KEYS),
    command!("bzmpop", -5, Write, false, (0, 0, 0), bzmpop; BLOCKING | MOVABLE_KEYS),
    command!("bzpopmax", -3, Write, true, (1, -2, 1), bzpopmax; NOSCRIPT | BLOCKING),
    command!("bzpopmin", -3, Write, true, (1, -2, 1), bzpopmin; NOSCRIPT | BLOCKING),
    command!("zmscore", -3, Read, true, (1, 1, 1), zmscore),
    command!("zpopmax", -2, Write, true, (1, 1, 1), zpopmax),
    command!("zpopmin", -2, Write, true, (1, 1, 1), zpopmin),
    command!("zrandmember", -2, Read, false, (1, 1, 1), zrandmember),
    command!("zrange", -4, Read, false, (1, 1, 1), zrange),
    command!("zrangebylex", -4, Read, false, (1, 1, 1), zrangebylex),
    command!("zrangebyscore", -4, Read, false, (1, 1, 1), zrangebyscore),
    command!("zrangestore", -5, Write, false, (1, 2, 1), zrangestore; DENYOOM),
    command!("zrank", 3, Read, true, (1, 1, 1), zrank),
    command!("zrem", -3, Write, true, (1, 1, 1), zrem),
    command!("zremrangebylex", 4, Write, false, (1, 1, 1), zremrangebylex),
    command!(
        "zremrangebyrank",
        4,
        Write,
        false,
        (1, 1, 1),
        zremrangebyrank
    ),
    command!(
        "zremrangebyscore",
        4,
        Write,
        false,
        (1, 1, 1),
        zremrangebyscore
    ),
    command!("zrevrange", -4, Read, false, (1, 1, 1), zrevrange),
    command!("zrevrangebylex", -4, Read, false, (1, 1, 1), zrevrangebylex),
    command!(
        "zrevrangebyscore",
        -4,
        Read,
        false,
        (1, 1, 1),
        zrevrangebyscore
    ),
    command!("zrevrank", 3, Read, true, (1, 1, 1), zrevrank),
    command!("zscan", -3, Read, false, (1, 1, 1), zscan),
    command!("zscore", 3, Read, true, (1, 1, 1), zscore),
    command!("zunion", -3, Read, false, (0, 0, 0), zunion; MOVABLE_KEYS),
    command!("zunionstore", -4, Write, false, (1, 1, 1), zunionstore; DENYOOM | MOVABLE_KEYS),
];

/// Redis's `zset-max-listpack-entries` and `zset-max-listpack-value`.
const LISTPACK_ENTRIES: u64 = 128;
const LISTPACK_VALUE: usize = 64;

/// Past this LIMIT offset, a range finds its first element through the rank index instead of
/// stepping over the skipped ones.
const SKIP_BY_RANK: u64 = 256;

const NOT_FLOAT: CommandError = CommandError::Static("ERR value is not a valid float");
const NAN_SCORE: CommandError = CommandError::Static("ERR resulting score is not a number (NaN)");
const BAD_SCORE_RANGE: CommandError = CommandError::Static("ERR min or max is not a float");
const BAD_LEX_RANGE: CommandError =
    CommandError::Static("ERR min or max not valid string range item");

/// A score as a listpack stores it: -0 becomes 0 (Redis writes integral scores as integers).
fn listpack_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

fn db(ctx: &Ctx<'_, '_, '_>) -> usize {
    ctx.session.db
}

fn lookup(ctx: &mut Ctx<'_, '_, '_>, key: &[u8]) -> Result<Option<Entry>, CommandError> {
    lookup_kind(ctx, key, Kind::ZSet)
}

fn score_of(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    member: &[u8],
) -> Result<Option<f64>, CommandError> {
    Ok(ctx.ks.zset_score(db(ctx), key, member)?)
}

fn is_resp3(ctx: &Ctx<'_, '_, '_>) -> bool {
    ctx.reply.protocol() == Protocol::Resp3
}

/// Elements, with scores if asked: a flat array in RESP2, `[member, score]` pairs in RESP3.
fn reply_items(ctx: &mut Ctx<'_, '_, '_>, items: &[ZItem], withscores: bool) {
    let pairs = withscores && is_resp3(ctx);
    ctx.reply.array(if withscores && !pairs {
        items.len() * 2
    } else {
        items.len()
    });
    for item in items {
        if pairs {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(&item.member);
        if withscores {
            ctx.reply.double(item.score);
        }
    }
}

// --- ranges ---------------------------------------------------------------------------------

/// A score interval (`zrangespec`): `(` makes a bound exclusive.
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    /// `zslParseRange`.
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        fn bound(arg: &[u8]) -> Option<(f64, bool)> {
            match arg.strip_prefix(b"(") {
                Some(rest) => float::parse_bound(rest).map(|v| (v, true)),
                None => float::parse_bound(arg).map(|v| (v, false)),
            }
        }
        let (min, minex) = bound(min).ok_or(BAD_SCORE_RANGE)?;
        let (max, maxex) = bound(max).ok_or(BAD_SCORE_RANGE)?;
        Ok(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    /// The positions `[from, to)` of the score order inside the interval.
    fn positions(&self) -> (Vec<u8>, Vec<u8>) {
        let after = |v: f64| (u64::from_be_bytes(sortable(v)) + 1).to_be_bytes().to_vec();
        let from = if self.minex {
            after(self.min)
        } else {
            sortable(self.min).to_vec()
        };
        let to = if self.maxex {
            sortable(self.max).to_vec()
        } else {
            after(self.max)
        };
        (from, to)
    }
}

/// One end of a lexicographic interval (`zlexrangespec`).
#[derive(Debug, Clone)]
enum LexBound {
    /// `-`: below every string.
    Min,
    /// `+`: above every string.
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    /// `zslParseLexRangeItem`.
    fn parse(arg: &[u8]) -> Result<Self, CommandError> {
        // Redis reads the item as a C string: `+` or `-` followed by a NUL byte still counts.
        let alone = arg.get(1).is_none_or(|&b| b == 0);
        match arg.first() {
            Some(b'+') if alone => Ok(LexBound::Max),
            Some(b'-') if alone => Ok(LexBound::Min),
            Some(b'(') => Ok(LexBound::Excl(arg[1..].to_vec())),
            Some(b'[') => Ok(LexBound::Incl(arg[1..].to_vec())),
            _ => Err(BAD_LEX_RANGE),
        }
    }

    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }

    /// `sdscmplex` of two bounds (used to spot empty intervals).
    fn cmp(&self, other: &LexBound) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        use LexBound::*;
        match (self, other) {
            (Min, Min) | (Max, Max) => Equal,
            (Min, _) | (_, Max) => Less,
            (Max, _) | (_, Min) => Greater,
            (Incl(a) | Excl(a), Incl(b) | Excl(b)) => a.cmp(b),
        }
    }

    /// `sdscmplex(value, bound)`.
    fn cmp_value(&self, value: &[u8]) -> std::cmp::Ordering {
        match self {
            LexBound::Min => std::cmp::Ordering::Greater,
            LexBound::Max => std::cmp::Ordering::Less,
            LexBound::Incl(b) | LexBound::Excl(b) => value.cmp(b),
        }
    }
}

#[derive(Debug, Clone)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        Ok(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    fn gte_min(&self, value: &[u8]) -> bool {
        let c = self.min.cmp_value(value);
        if self.min.exclusive() {
            c.is_gt()
        } else {
            c.is_ge()
        }
    }

    fn lte_max(&self, value: &[u8]) -> bool {
        let c = self.max.cmp_value(value);
        if self.max.exclusive() {
            c.is_lt()
        } else {
            c.is_le()
        }
    }

    /// Ranges that are empty whatever the set holds.
    fn is_empty(&self) -> bool {
        let c = self.min.cmp(&self.max);
        c.is_gt() || (c.is_eq() && (self.min.exclusive() || self.max.exclusive()))
    }
}

/// The elements a lexicographic range covers.
enum LexSpan {
    /// All scores are equal, so the member order is the score order: positions `[from, to)`.
    Positions(Vec<u8>, Vec<u8>),
    /// Mixed scores (which Redis leaves unspecified): what Redis's listpack walk sees, the
    /// elements from the first in range on, in the walk's direction. Callers stop at the first
    /// element out of range, after skipping any LIMIT offset, as Redis does.
    Walk(Vec<ZItem>),
    Empty,
}

fn lex_span(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    range: &LexRange,
    reverse: bool,
) -> Result<LexSpan, CommandError> {
    if range.is_empty() {
        return Ok(LexSpan::Empty);
    }
    let d = db(ctx);
    let first = ctx.ks.zset_walk(d, key, ElemRange::all(1))?;
    let last = ctx.ks.zset_walk(
        d,
        key,
        ElemRange {
            reverse: true,
            ..ElemRange::all(1)
        },
    )?;
    let (Some(first), Some(last)) = (first.first(), last.first()) else {
        return Ok(LexSpan::Empty);
    };
    let s = sortable(first.score);
    if s == sortable(last.score) {
        let at = |m: &[u8], past: bool| {
            let mut p = s.to_vec();
            p.extend_from_slice(m);
            if past {
                p.push(0);
            }
            p
        };
        let from = match &range.min {
            LexBound::Min => s.to_vec(),
            LexBound::Max => return Ok(LexSpan::Empty),
            LexBound::Incl(m) => at(m, false),
            LexBound::Excl(m) => at(m, true),
        };
        let to = match &range.max {
            LexBound::Max => (u64::from_be_bytes(s) + 1).to_be_bytes().to_vec(),
            LexBound::Min => return Ok(LexSpan::Empty),
            LexBound::Incl(m) => at(m, true),
            LexBound::Excl(m) => at(m, false),
        };
        return Ok(LexSpan::Positions(from, to));
    }
    // zzlIsInLexRange, then zzlFirstInLexRange / zzlLastInLexRange.
    if !range.gte_min(&last.member) || !range.lte_max(&first.member) {
        return Ok(LexSpan::Empty);
    }
    let mut items = ctx.ks.zset_walk(d, key, ElemRange::all(usize::MAX))?;
    if reverse {
        items.reverse();
    }
    let start = items.iter().position(|it| {
        if reverse {
            range.lte_max(&it.member)
        } else {
            range.gte_min(&it.member)
        }
    });
    let Some(start) = start else {
        return Ok(LexSpan::Empty);
    };
    let first_in = &items[start].member;
    let inside = if reverse {
        range.gte_min(first_in)
    } else {
        range.lte_max(first_in)
    };
    if !inside {
        return Ok(LexSpan::Empty);
    }
    items.drain(..start);
    Ok(LexSpan::Walk(items))
}

/// Elements in positions `[from, to)`, in order or reversed, after skipping `offset` and at
/// most `limit` (negative: no limit). A negative offset selects nothing, as in Redis.
fn walk_positions(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    total: u64,
    (from, to): (&[u8], &[u8]),
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<ZItem>, CommandError> {
    if offset < 0 || limit == 0 || from >= to {
        return Ok(Vec::new());
    }
    let d = db(ctx);
    let (mut from, mut to) = (from.to_vec(), to.to_vec());
    let mut skip = offset as u64;
    if skip > SKIP_BY_RANK {
        if reverse {
            let below = ctx.ks.zset_count_below(d, key, &to)?;
            let Some(rank) = below.checked_sub(skip + 1) else {
                return Ok(Vec::new());
            };
            let Some(mut p) = ctx.ks.zset_nth(d, key, rank, total)? else {
                return Ok(Vec::new());
            };
            p.push(0);
            to = p;
        } else {
            let rank = ctx.ks.zset_count_below(d, key, &from)?.saturating_add(skip);
            let Some(p) = ctx.ks.zset_nth(d, key, rank, total)? else {
                return Ok(Vec::new());
            };
            from = p;
        }
        skip = 0;
        if from >= to {
            return Ok(Vec::new());
        }
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let range = ElemRange {
        from: Some(&from),
        to: Some(&to),
        reverse,
        limit: limit.saturating_add(skip as usize),
    };
    let mut items = ctx.ks.zset_walk(d, key, range)?;
    items.drain(..(skip as usize).min(items.len()));
    Ok(items)
}

/// Elements of a lexicographic range with LIMIT applied.
fn lex_items(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    total: u64,
    range: &LexRange,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<ZItem>, CommandError> {
    match lex_span(ctx, key, range, reverse)? {
        LexSpan::Empty => Ok(Vec::new()),
        LexSpan::Positions(from, to) => {
            walk_positions(ctx, key, total, (&from, &to), reverse, offset, limit)
        }
        LexSpan::Walk(items) => {
            if offset < 0 {
                return Ok(Vec::new());
            }
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            Ok(items
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take_while(|it| {
                    if reverse {
                        range.gte_min(&it.member)
                    } else {
                        range.lte_max(&it.member)
                    }
                })
                .take(limit)
                .collect())
        }
    }
}

/// Elements of positions `[start, end]` of the order (Redis's index rules: negative counts
/// from the end, out-of-range parts are cut).
fn rank_items(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    total: u64,
    start: i64,
    end: i64,
    reverse: bool,
) -> Result<Vec<ZItem>, CommandError> {
    let len = total as i64;
    let (mut start, mut end) = (start, end);
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return Ok(Vec::new());
    }
    end = end.min(len - 1);
    let n = (end - start + 1) as usize;
    let d = db(ctx);
    let first = if reverse { len - 1 - start } else { start } as u64;
    let Some(at) = ctx.ks.zset_nth(d, key, first, total)? else {
        return Ok(Vec::new());
    };
    let past = [at.as_slice(), &[0u8][..]].concat();
    let range = if reverse {
        ElemRange {
            from: None,
            to: Some(&past),
            reverse: true,
            limit: n,
        }
    } else {
        ElemRange {
            from: Some(&at),
            ..ElemRange::all(n)
        }
    };
    Ok(ctx.ks.zset_walk(d, key, range)?)
}

// --- writing --------------------------------------------------------------------------------

/// Removes `members` from the sorted set at `key` (record `entry`) and stores the new count.
fn remove_members<'m>(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    entry: &Entry,
    members: impl IntoIterator<Item = &'m [u8]>,
) -> Result<u64, CommandError> {
    let d = db(ctx);
    let mut removed = 0;
    for member in members {
        if ctx.ks.zset_remove(d, key, member)?.is_some() {
            removed += 1;
        }
    }
    if removed > 0 {
        let count = count_of(entry).saturating_sub(removed);
        store_record(ctx, key, Kind::ZSet, Some(entry), count, compact_of(entry))?;
    }
    Ok(removed)
}

/// Replaces `dst` with `items` added one by one as ZRANGESTORE does: the new set starts as a
/// listpack (unless `compact` is false) and turns into a skiplist when it outgrows one.
fn store_in_order(
    ctx: &mut Ctx<'_, '_, '_>,
    dst: &[u8],
    mut items: Vec<ZItem>,
    mut compact: bool,
) -> CommandResult {
    let d = db(ctx);
    ctx.ks.delete(d, dst)?;
    for (i, item) in items.iter_mut().enumerate() {
        if compact && (i as u64 + 1 > LISTPACK_ENTRIES || item.member.len() > LISTPACK_VALUE) {
            compact = false;
        }
        if compact {
            item.score = listpack_score(item.score);
        }
    }
    ctx.ks.zset_load(d, dst, &items)?;
    let count = items.len() as u64;
    store_record(ctx, dst, Kind::ZSet, None, count, compact)?;
    ctx.reply.integer(count as i64);
    Ok(())
}

/// Replaces `dst` with `items` as ZUNIONSTORE and friends do: built as a skiplist, then made a
/// listpack if it fits one.
fn store_result(ctx: &mut Ctx<'_, '_, '_>, dst: &[u8], items: Vec<ZItem>) -> CommandResult {
    let fits = items.len() as u64 <= LISTPACK_ENTRIES
        && items.iter().all(|it| it.member.len() <= LISTPACK_VALUE);
    store_in_order(ctx, dst, items, fits)
}

// --- ZADD -----------------------------------------------------------------------------------

fn zadd_generic(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, zincrby: bool) -> CommandResult {
    let key = args.next_bytes()?;
    let argv = rest(args);
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, zincrby);
    let mut at = 0;
    if !zincrby {
        while let Some(opt) = argv.get(at) {
            match opt.to_ascii_lowercase().as_slice() {
                b"nx" => nx = true,
                b"xx" => xx = true,
                b"ch" => ch = true,
                b"incr" => incr = true,
                b"gt" => gt = true,
                b"lt" => lt = true,
                _ => break,
            }
            at += 1;
        }
    }
    let pairs = &argv[at..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if nx && xx {
        return Err(CommandError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CommandError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && pairs.len() > 2 {
        return Err(CommandError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks(2) {
        scores.push(float::parse_double(pair[0]).ok_or(NOT_FLOAT)?);
    }
    let old = lookup(ctx, key)?;
    let (mut count, mut compact) = match &old {
        Some(e) => (count_of(e), compact_of(e)),
        None if xx => {
            // No key and XX: nothing to do.
            if incr {
                ctx.reply.null();
            } else {
                ctx.reply.integer(0);
            }
            return Ok(());
        }
        // Redis creates a skiplist right away when the first member is too long for a listpack.
        None => (0, pairs[1].len() <= LISTPACK_VALUE),
    };
    let d = db(ctx);
    // A new key is built in memory and written in one go (Keyspace::zset_load).
    let mut fresh: Option<HashMap<&[u8], f64>> = old.is_none().then(HashMap::new);
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    // Without options, a set past the listpack's limits stores each score as given: one walk
    // of the member table both finds and writes it.
    let plain = !(nx || xx || gt || lt || incr);
    for (pair, &score) in pairs.chunks(2).zip(&scores) {
        let member = pair[1];
        if plain && !compact && fresh.is_none() {
            match ctx.ks.zset_upsert(d, key, member, score, count)? {
                None => {
                    count += 1;
                    added += 1;
                }
                Some(current) if current != score => updated += 1,
                Some(_) => {}
            }
            processed += 1;
            last = score;
            continue;
        }
        let current = match &fresh {
            Some(map) => map.get(member).copied(),
            None => score_of(ctx, key, member)?,
        };
        match current {
            Some(current) => {
                if nx {
                    continue;
                }
                let mut new = score;
                if incr {
                    new += current;
                    if new.is_nan() {
                        return Err(NAN_SCORE);
                    }
                }
                if (lt && new >= current) || (gt && new <= current) {
                    continue;
                }
                processed += 1;
                last = new;
                if new != current {
                    let stored = if compact { listpack_score(new) } else { new };
                    match &mut fresh {
                        Some(map) => {
                            map.insert(member, stored);
                        }
                        None => ctx.ks.zset_insert(d, key, member, stored, Some(current))?,
                    }
                    updated += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                if compact && (count + 1 > LISTPACK_ENTRIES || member.len() > LISTPACK_VALUE) {
                    compact = false;
                }
                let stored = if compact {
                    listpack_score(score)
                } else {
                    score
                };
                match &mut fresh {
                    Some(map) => {
                        map.insert(member, stored);
                    }
                    None => ctx.ks.zset_insert(d, key, member, stored, None)?,
                }
                count += 1;
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    if let Some(map) = fresh {
        let items: Vec<ZItem> = map
            .into_iter()
            .map(|(member, score)| ZItem {
                member: member.to_vec(),
                score,
            })
            .collect();
        ctx.ks.zset_load(d, key, &items)?;
    }
    // Only an addition changes the count or the encoding (a new key always gets one).
    if added > 0 {
        store_record(ctx, key, Kind::ZSet, old.as_ref(), count, compact)?;
    }
    if incr {
        if processed > 0 {
            ctx.reply.double(last);
        } else {
            ctx.reply.null();
        }
    } else {
        ctx.reply
            .integer((if ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
pub fn zadd(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zadd_generic(ctx, args, false)
}

/// `ZINCRBY key increment member`
pub fn zincrby(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zadd_generic(ctx, args, true)
}

/// `ZREM key member [member ...]`
pub fn zrem(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let members = rest(args);
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let removed = remove_members(ctx, key, &entry, members)?;
    ctx.reply.integer(removed as i64);
    Ok(())
}

// --- reading single members -----------------------------------------------------------------

/// `ZCARD key`
pub fn zcard(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let n = lookup(ctx, key)?.as_ref().map_or(0, count_of);
    ctx.reply.integer(n as i64);
    Ok(())
}

/// `ZSCORE key member`
pub fn zscore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    let score = match lookup(ctx, key)? {
        Some(_) => score_of(ctx, key, member)?,
        None => None,
    };
    match score {
        Some(s) => ctx.reply.double(s),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `ZMSCORE key member [member ...]`
pub fn zmscore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let members = rest(args);
    let exists = lookup(ctx, key)?.is_some();
    let mut scores = Vec::with_capacity(members.len());
    for m in members {
        scores.push(if exists { score_of(ctx, key, m)? } else { None });
    }
    ctx.reply.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.reply.double(s),
            None => ctx.reply.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, reverse: bool) -> CommandResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.null();
        return Ok(());
    };
    let Some(score) = score_of(ctx, key, member)? else {
        ctx.reply.null();
        return Ok(());
    };
    let d = db(ctx);
    let rank = ctx.ks.zset_count_below(d, key, &position(score, member))?;
    let rank = if reverse {
        count_of(&entry).saturating_sub(rank + 1)
    } else {
        rank
    };
    ctx.reply.integer(rank as i64);
    Ok(())
}

/// `ZRANK key member`
pub fn zrank(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    rank_generic(ctx, args, false)
}

/// `ZREVRANK key member`
pub fn zrevrank(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    rank_generic(ctx, args, true)
}

/// `ZCOUNT key min max`
pub fn zcount(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let range = ScoreRange::parse(args.next_bytes()?, args.next_bytes()?)?;
    if lookup(ctx, key)?.is_none() {
        ctx.reply.integer(0);
        return Ok(());
    }
    let (from, to) = range.positions();
    let n = if from < to {
        let d = db(ctx);
        let below_to = ctx.ks.zset_count_below(d, key, &to)?;
        below_to.saturating_sub(ctx.ks.zset_count_below(d, key, &from)?)
    } else {
        0
    };
    ctx.reply.integer(n as i64);
    Ok(())
}

/// `ZLEXCOUNT key min max`
pub fn zlexcount(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let range = LexRange::parse(args.next_bytes()?, args.next_bytes()?)?;
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let n = match lex_span(ctx, key, &range, false)? {
        LexSpan::Empty => 0,
        LexSpan::Positions(from, to) if from < to => {
            let d = db(ctx);
            let below_to = ctx.ks.zset_count_below(d, key, &to)?;
            below_to.saturating_sub(ctx.ks.zset_count_below(d, key, &from)?)
        }
        LexSpan::Positions(..) => 0,
        LexSpan::Walk(_) => {
            lex_items(ctx, key, count_of(&entry), &range, false, 0, -1)?.len() as u64
        }
    };
    ctx.reply.integer(n as i64);
    Ok(())
}

// --- ZRANGE and friends -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// Redis's `zrangeGenericCommand`: every range command, and ZRANGESTORE (`store`).
fn zrange_generic(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    store: bool,
    mut rtype: RangeType,
    mut dir: Direction,
) -> CommandResult {
    let dst = if store {
        Some(args.next_bytes()?)
    } else {
        None
    };
    let key = args.next_bytes()?;
    let (mut min, mut max) = (args.next_bytes()?, args.next_bytes()?);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    while let Some(opt) = args.try_next() {
        if !store && opt.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if opt.eq_ignore_ascii_case(b"limit") && args.remaining() >= 2 {
            offset = parse_i64(args.next_bytes()?)?;
            limit = parse_i64(args.next_bytes()?)?;
        } else if dir == Direction::Auto && opt.eq_ignore_ascii_case(b"rev") {
            dir = Direction::Reverse;
        } else if rtype == RangeType::Auto && opt.eq_ignore_ascii_case(b"bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && opt.eq_ignore_ascii_case(b"byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let reverse = dir == Direction::Reverse;
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(CommandError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(CommandError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if reverse && rtype != RangeType::Rank {
        // Reversed ranges by score or member are written `max min`.
        std::mem::swap(&mut min, &mut max);
    }
    enum Parsed {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let parsed = match rtype {
        RangeType::Score => Parsed::Score(ScoreRange::parse(min, max)?),
        RangeType::Lex => Parsed::Lex(LexRange::parse(min, max)?),
        _ => Parsed::Rank(parse_i64(min)?, parse_i64(max)?),
    };
    let Some(entry) = lookup(ctx, key)? else {
        match dst {
            Some(dst) => store_in_order(ctx, dst, Vec::new(), true)?,
            None => ctx.reply.array(0),
        }
        return Ok(());
    };
    let total = count_of(&entry);
    let items = match &parsed {
        Parsed::Rank(start, end) => rank_items(ctx, key, total, *start, *end, reverse)?,
        Parsed::Score(range) => {
            if offset > 0 && offset as u64 >= total {
                Vec::new()
            } else {
                let (from, to) = range.positions();
                walk_positions(ctx, key, total, (&from, &to), reverse, offset, limit)?
            }
        }
        Parsed::Lex(range) => lex_items(ctx, key, total, range, reverse, offset, limit)?,
    };
    match dst {
        Some(dst) => {
            // A range by rank announces its length, and starts as a skiplist when long.
            let compact =
                !matches!(parsed, Parsed::Rank(..)) || items.len() as u64 <= LISTPACK_ENTRIES;
            store_in_order(ctx, dst, items, compact)
        }
        None => {
            reply_items(ctx, &items, withscores);
            Ok(())
        }
    }
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub fn zrange(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, false, RangeType::Auto, Direction::Auto)
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`
pub fn zrangestore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, true, RangeType::Auto, Direction::Auto)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn zrevrange(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, false, RangeType::Rank, Direction::Reverse)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn zrangebyscore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, false, RangeType::Score, Direction::Forward)
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn zrevrangebyscore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, false, RangeType::Score, Direction::Reverse)
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub fn zrangebylex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, false, RangeType::Lex, Direction::Forward)
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub fn zrevrangebylex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zrange_generic(ctx, args, false, RangeType::Lex, Direction::Reverse)
}

// --- removing ranges and popping ------------------------------------------------------------

/// `ZREMRANGEBYRANK key start stop`
pub fn zremrangebyrank(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let start = parse_i64(args.next_bytes()?)?;
    let end = parse_i64(args.next_bytes()?)?;
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let items = rank_items(ctx, key, count_of(&entry), start, end, false)?;
    let removed = remove_members(
        ctx,
        key,
        &entry,
        items.iter().map(|it| it.member.as_slice()),
    )?;
    ctx.reply.integer(removed as i64);
    Ok(())
}

/// `ZREMRANGEBYSCORE key min max`
pub fn zremrangebyscore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let range = ScoreRange::parse(args.next_bytes()?, args.next_bytes()?)?;
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let (from, to) = range.positions();
    let items = walk_positions(ctx, key, count_of(&entry), (&from, &to), false, 0, -1)?;
    let removed = remove_members(
        ctx,
        key,
        &entry,
        items.iter().map(|it| it.member.as_slice()),
    )?;
    ctx.reply.integer(removed as i64);
    Ok(())
}

/// `ZREMRANGEBYLEX key min max`
pub fn zremrangebylex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let range = LexRange::parse(args.next_bytes()?, args.next_bytes()?)?;
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let items = lex_items(ctx, key, count_of(&entry), &range, false, 0, -1)?;
    let removed = remove_members(
        ctx,
        key,
        &entry,
        items.iter().map(|it| it.member.as_slice()),
    )?;
    ctx.reply.integer(removed as i64);
    Ok(())
}

/// How a pop replies (Redis's `genericZpopCommand` flags).
struct PopReply {
    /// ZMPOP: `[key, [[member, score], ...]]`.
    with_key: bool,
    /// Pairs as nested arrays.
    nested: bool,
    /// Nothing to pop: a null array rather than an empty one.
    nil_when_empty: bool,
}

/// Pops up to `count` (-1: one, unnested) lowest or highest elements of the first non-empty
/// sorted set among `keys`.
fn pop_generic(
    ctx: &mut Ctx<'_, '_, '_>,
    keys: &[&[u8]],
    max: bool,
    count: i64,
    how: PopReply,
) -> CommandResult {
    let mut found = None;
    for key in keys {
        if let Some(entry) = lookup(ctx, key)? {
            found = Some((*key, entry));
            break;
        }
    }
    let Some((key, entry)) = found else {
        if how.nil_when_empty {
            ctx.reply.null_array();
        } else {
            ctx.reply.array(0);
        }
        return Ok(());
    };
    if count == 0 {
        ctx.reply.array(0);
        return Ok(());
    }
    let count = if count < 0 { 1 } else { count as u64 };
    let n = count.min(count_of(&entry)) as usize;
    let d = db(ctx);
    let range = ElemRange {
        reverse: max,
        ..ElemRange::all(n)
    };
    let items = ctx.ks.zset_walk(d, key, range)?;
    if how.with_key {
        ctx.reply.array(2);
        ctx.reply.bulk(key);
        ctx.reply.array(items.len());
    } else if how.nested {
        ctx.reply.array(items.len());
    } else {
        ctx.reply.array(items.len() * 2);
    }
    for item in &items {
        if how.nested {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(&item.member);
        ctx.reply.double(item.score);
    }
    remove_members(
        ctx,
        key,
        &entry,
        items.iter().map(|it| it.member.as_slice()),
    )?;
    Ok(())
}

fn zpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, max: bool) -> CommandResult {
    let key = args.next_bytes()?;
    if args.remaining() > 1 {
        return Err(CommandError::Syntax);
    }
    let count = match args.try_next() {
        // Redis's getPositiveLongFromObjectOrReply: one message for both failures.
        Some(c) => parse_i64(c)
            .ok()
            .filter(|&n| n >= 0)
            .ok_or(CommandError::Static(
                "ERR value is out of range, must be positive",
            ))?,
        None => -1,
    };
    let how = PopReply {
        with_key: false,
        nested: is_resp3(ctx) && count != -1,
        nil_when_empty: false,
    };
    pop_generic(ctx, &[key], max, count, how)
}

/// `ZPOPMIN key [count]`
pub fn zpopmin(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zpop(ctx, args, false)
}

/// `ZPOPMAX key [count]`
pub fn zpopmax(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zpop(ctx, args, true)
}

/// ZMPOP's arguments after the command name (or after BZMPOP's timeout): keys, MIN|MAX, count.
fn parse_zmpop<'a>(args: &mut Args<'a>) -> Result<(Vec<&'a [u8]>, bool, i64), CommandError> {
    let numkeys_err = CommandError::Static("ERR numkeys should be greater than 0");
    let numkeys = parse_i64(args.next_bytes()?).map_err(|_| numkeys_err.clone())?;
    if numkeys < 1 {
        return Err(numkeys_err);
    }
    if numkeys as u64 >= args.remaining() as u64 {
        return Err(CommandError::Syntax);
    }
    let keys: Vec<&[u8]> = (0..numkeys).filter_map(|_| args.try_next()).collect();
    let max = match args.next_bytes()?.to_ascii_lowercase().as_slice() {
        b"min" => false,
        b"max" => true,
        _ => return Err(CommandError::Syntax),
    };
    let mut count = -1;
    while let Some(opt) = args.try_next() {
        if count == -1 && opt.eq_ignore_ascii_case(b"count") && args.remaining() > 0 {
            let bad = CommandError::Static("ERR count should be greater than 0");
            let n = parse_i64(args.next_bytes()?).map_err(|_| bad.clone())?;
            if n < 1 {
                return Err(bad);
            }
            count = n;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((keys, max, count.max(1)))
}

const ZMPOP_REPLY: PopReply = PopReply {
    with_key: true,
    nested: true,
    nil_when_empty: true,
};

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`
pub fn zmpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let (keys, max, count) = parse_zmpop(args)?;
    pop_generic(ctx, &keys, max, count, ZMPOP_REPLY)
}

fn bzpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, max: bool) -> CommandResult {
    let mut keys: Vec<&[u8]> = std::iter::from_fn(|| args.try_next()).collect();
    let timeout = keys.pop().ok_or(CommandError::WrongArity(args.name()))?;
    let deadline = super::parse_timeout(timeout, ctx.ks.now_ms())?;
    for key in &keys {
        let Some(entry) = lookup(ctx, key)? else {
            continue;
        };
        let range = ElemRange {
            reverse: max,
            ..ElemRange::all(1)
        };
        let items = ctx.ks.zset_walk(db(ctx), key, range)?;
        if let Some(item) = items.first() {
            ctx.reply.array(3);
            ctx.reply.bulk(key);
            ctx.reply.bulk(&item.member);
            ctx.reply.double(item.score);
        }
        remove_members(
            ctx,
            key,
            &entry,
            items.iter().map(|it| it.member.as_slice()),
        )?;
        return Ok(());
    }
    let keys = keys.iter().map(|k| k.to_vec()).collect();
    super::blocking::block_or_null(ctx, keys, deadline, true);
    Ok(())
}

/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    bzpop(ctx, args, false)
}

/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    bzpop(ctx, args, true)
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
pub fn bzmpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let deadline = super::parse_timeout(args.next_bytes()?, ctx.ks.now_ms())?;
    let (keys, max, count) = parse_zmpop(args)?;
    for key in &keys {
        if lookup(ctx, key)?.is_some() {
            return pop_generic(ctx, &keys, max, count, ZMPOP_REPLY);
        }
    }
    let keys = keys.iter().map(|k| k.to_vec()).collect();
    super::blocking::block_or_null(ctx, keys, deadline, true);
    Ok(())
}

// --- ZUNION, ZINTER, ZDIFF ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// `zunionInterAggregate`: a sum of +inf and -inf is 0.
fn aggregate(target: &mut f64, value: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += value;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if value < *target {
                *target = value;
            }
        }
        Aggregate::Max => {
            if value > *target {
                *target = value;
            }
        }
    }
}

/// One input of a set operation: a sorted set, a plain set (every member scores 1), or a
/// missing key (empty).
struct Source<'a> {
    key: &'a [u8],
    kind: Option<Kind>,
    len: u64,
    weight: f64,
}

impl Source<'_> {
    fn items(&self, ctx: &mut Ctx<'_, '_, '_>) -> Result<Vec<ZItem>, CommandError> {
        let d = db(ctx);
        Ok(match self.kind {
            Some(Kind::ZSet) => ctx.ks.zset_walk(d, self.key, ElemRange::all(usize::MAX))?,
            Some(_) => ctx
                .ks
                .members(Members::Set, d, self.key)?
                .into_iter()
                .map(|(member, _)| ZItem { member, score: 1.0 })
                .collect(),
            None => Vec::new(),
        })
    }

    fn score(&self, ctx: &mut Ctx<'_, '_, '_>, member: &[u8]) -> Result<Option<f64>, CommandError> {
        let d = db(ctx);
        Ok(match self.kind {
            Some(Kind::ZSet) => ctx.ks.zset_score(d, self.key, member)?,
            Some(_) => ctx
                .ks
                .member_get(Members::Set, d, self.key, member)?
                .map(|_| 1.0),
            None => None,
        })
    }
}

/// Redis's `zunionInterDiffGenericCommand`.
fn zsetop(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    op: SetOp,
    store: bool,
    card_only: bool,
) -> CommandResult {
    let dst = if store {
        Some(args.next_bytes()?)
    } else {
        None
    };
    let setnum = parse_i64(args.next_bytes()?)?;
    if setnum < 1 {
        let msg = format!(
            "ERR at least 1 input key is needed for '{}' command",
            args.name()
        );
        return Err(CommandError::Raw(Cow::Owned(msg.into_bytes())));
    }
    if setnum as u64 > args.remaining() as u64 {
        return Err(CommandError::Syntax);
    }
    let mut sources = Vec::with_capacity(setnum as usize);
    for _ in 0..setnum {
        let key = args.next_bytes()?;
        let entry = ctx.ks.get(db(ctx), key)?;
        let kind = match &entry {
            Some(e) if e.kind == Kind::ZSet || e.kind == Kind::Set => Some(e.kind),
            Some(_) => return Err(CommandError::WrongType),
            None => None,
        };
        sources.push(Source {
            key,
            kind,
            len: entry.as_ref().map_or(0, count_of),
            weight: 1.0,
        });
    }
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0u64;
    while let Some(opt) = args.try_next() {
        let left = args.remaining();
        if op != SetOp::Diff
            && !card_only
            && left >= sources.len()
            && opt.eq_ignore_ascii_case(b"weights")
        {
            for src in sources.iter_mut() {
                let w = args.next_bytes()?;
                src.weight = float::parse_double(w)
                    .ok_or(CommandError::Static("ERR weight value is not a float"))?;
            }
        } else if op != SetOp::Diff
            && !card_only
            && left >= 1
            && opt.eq_ignore_ascii_case(b"aggregate")
        {
            how = match args.next_bytes()?.to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Err(CommandError::Syntax),
            };
        } else if dst.is_none() && !card_only && opt.eq_ignore_ascii_case(b"withscores") {
            withscores = true;
        } else if card_only && left >= 1 && opt.eq_ignore_ascii_case(b"limit") {
            let negative = CommandError::Static("ERR LIMIT can't be negative");
            let n = parse_i64(args.next_bytes()?).map_err(|_| negative.clone())?;
            if n < 0 {
                return Err(negative);
            }
            limit = n as u64;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if op != SetOp::Diff {
        // Smallest first (a stable sort, like glibc's qsort): the order sums are taken in.
        sources.sort_by_key(|s| s.len);
    }
    let mut result: Vec<ZItem> = Vec::new();
    let mut cardinality = 0u64;
    match op {
        SetOp::Inter => {
            if sources[0].len > 0 {
                'members: for item in sources[0].items(ctx)? {
                    let mut score = sources[0].weight * item.score;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for src in &sources[1..] {
                        let Some(value) = src.score(ctx, &item.member)? else {
                            continue 'members;
                        };
                        aggregate(&mut score, value * src.weight, how);
                    }
                    if card_only {
                        cardinality += 1;
                        if limit > 0 && cardinality >= limit {
                            break;
                        }
                    } else {
                        result.push(ZItem {
                            member: item.member,
                            score,
                        });
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for src in &sources {
                if src.len == 0 {
                    continue;
                }
                for item in src.items(ctx)? {
                    let mut score = src.weight * item.score;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&item.member) {
                        Some(total) => aggregate(total, score, how),
                        None => {
                            acc.insert(item.member, score);
                        }
                    }
                }
            }
            result = acc
                .into_iter()
                .map(|(member, score)| ZItem { member, score })
                .collect();
        }
        SetOp::Diff => {
            if sources[0].len > 0 {
                'diff: for item in sources[0].items(ctx)? {
                    for src in &sources[1..] {
                        if src.key == sources[0].key || src.score(ctx, &item.member)?.is_some() {
                            continue 'diff;
                        }
                    }
                    result.push(item);
                }
            }
        }
    }
    if card_only {
        ctx.reply.integer(cardinality as i64);
        return Ok(());
    }
    // The result is a skiplist: ordered by score, then member.
    result.sort_by(|a, b| {
        sortable(a.score)
            .cmp(&sortable(b.score))
            .then_with(|| a.member.cmp(&b.member))
    });
    match dst {
        Some(dst) => store_result(ctx, dst, result),
        None => {
            reply_items(ctx, &result, withscores);
            Ok(())
        }
    }
}

/// `ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub fn zunion(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Union, false, false)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub fn zinter(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Inter, false, false)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub fn zdiff(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Diff, false, false)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
pub fn zunionstore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Union, true, false)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
pub fn zinterstore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Inter, true, false)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
pub fn zdiffstore(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Diff, true, false)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
pub fn zintercard(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    zsetop(ctx, args, SetOp::Inter, false, true)
}

// --- random members and ZSCAN ---------------------------------------------------------------

/// A random member with its score: the first at or after a random point of the hash order,
/// wrapping around.
fn random_item(ctx: &mut Ctx<'_, '_, '_>, key: &[u8]) -> Result<Option<ZItem>, CommandError> {
    let d = db(ctx);
    let picked = ctx
        .ks
        .member_at_or_after(Members::ZSet, d, key, random_u64())?;
    Ok(picked.map(|(member, v)| ZItem {
        score: score_bytes(&v),
        member,
    }))
}

fn score_bytes(v: &[u8]) -> f64 {
    v.try_into()
        .map(|b| f64::from_bits(u64::from_be_bytes(b)))
        .unwrap_or(0.0)
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`
pub fn zrandmember(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let Some(count_arg) = args.try_next() else {
        let item = match lookup(ctx, key)? {
            Some(_) => random_item(ctx, key)?,
            None => None,
        };
        match item {
            Some(it) => ctx.reply.bulk(&it.member),
            None => ctx.reply.null(),
        }
        return Ok(());
    };
    let n = super::parse_random_count(count_arg)?;
    let withscores = match args.try_next() {
        None => false,
        Some(w) if args.remaining() == 0 && w.eq_ignore_ascii_case(b"withscores") => true,
        Some(_) => return Err(CommandError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
        return Err(CommandError::Static("ERR value is out of range"));
    }
    let Some(entry) = lookup(ctx, key)? else {
        ctx.reply.array(0);
        return Ok(());
    };
    let size = count_of(&entry);
    let count = n.unsigned_abs();
    let items = if count == 0 {
        Vec::new()
    } else if n < 0 || count == 1 {
        let mut picks = Vec::new();
        for _ in 0..count {
            match random_item(ctx, key)? {
                Some(it) => picks.push(it),
                None => break,
            }
        }
        picks
    } else if count >= size {
        ctx.ks.zset_walk(db(ctx), key, ElemRange::all(usize::MAX))?
    } else if count * 3 > size {
        let mut all = ctx.ks.zset_walk(db(ctx), key, ElemRange::all(usize::MAX))?;
        for i in 0..count as usize {
            let j = i + (random_u64() % (all.len() - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count as usize);
        all
    } else {
        let mut seen = std::collections::HashSet::new();
        let mut picks = Vec::new();
        while (picks.len() as u64) < count {
            let Some(it) = random_item(ctx, key)? else {
                break;
            };
            if seen.insert(it.member.clone()) {
                picks.push(it);
            }
        }
        picks
    };
    reply_items(ctx, &items, withscores);
    Ok(())
}

/// A score as ZSCAN shows it: a listpack holds integral scores (up to 2^62) as integers and
/// others as `%.17g` text; a skiplist's are formatted like every other score reply.
fn scan_score(score: f64, compact: bool) -> String {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if compact && score.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&score) {
        return itoa::Buffer::new().format(score as i64).to_string();
    }
    format_double(score)
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: the options are read once the key is
/// known to exist, and a listpack comes back whole, as in Redis.
pub fn zscan(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let cursor = parse_cursor(args.next_bytes()?)?;
    let Some(entry) = lookup(ctx, key)? else {
        reply_scan(ctx.reply, 0, &[]);
        return Ok(());
    };
    let (pattern, count) = scan_options(args)?;
    let compact = compact_of(&entry);
    let total = if compact { 0 } else { count_of(&entry) };
    let (rows, next) =
        ctx.ks
            .members_scan(Members::ZSet, ctx.session.db, key, total, cursor, count)?;
    let mut texts = Vec::new();
    for (e, v) in &rows {
        let member = e;
        if pattern.is_none_or(|p| glob::matches(p, member)) {
            texts.push((member, scan_score(score_bytes(v), compact)));
        }
    }
    let items: Vec<&[u8]> = texts.iter().flat_map(|(m, s)| [*m, s.as_bytes()]).collect();
    reply_scan(ctx.reply, next, &items);
    Ok(())
}
