//! List commands (Redis's `t_list.c`), the non-blocking part.
//!
//! Layout: a list's record body is `[count u64 LE][head i64 LE][tail i64 LE]` (count first, so
//! [`super::count_of`] reads it like any collection's), and its items sit at the dense positions
//! `head..tail`, in chunk rows of 32 positions (`keyspace/lists.rs`). Pushing writes at
//! `head - 1` or at `tail`, popping removes at one end, LINDEX and LSET touch one chunk and
//! LRANGE reads one chunk per 32 items: no command rewrites the whole list. Edits in the middle
//! (LINSERT, LREM) shift the items on the shorter side of the edit.
//!
//! The push/pop/move cores ([`push`], [`pop`], [`move_item`], [`mpop`]) are separate from the
//! command handlers so the blocking variants (BLPOP, BLMOVE, BLMPOP, ...) can reuse them.

use super::{lookup_kind, parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::keyspace::Kind;
use crate::protocol::Reply;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("lindex", 3, Read, false, (1, 1, 1), lindex),
    command!("linsert", 5, Write, false, (1, 1, 1), linsert; DENYOOM),
    command!("llen", 2, Read, true, (1, 1, 1), llen),
    command!("lmove", 5, Write, false, (1, 2, 1), lmove; DENYOOM),
    // Keys follow a count (Redis's `movablekeys`): no fixed range to state.
    command!("lmpop", -4, Write, false, (0, 0, 0), lmpop; MOVABLE_KEYS),
    command!("lpop", -2, Write, true, (1, 1, 1), lpop),
    command!("lpos", -3, Read, false, (1, 1, 1), lpos),
    command!("lpush", -3, Write, true, (1, 1, 1), lpush; DENYOOM),
    command!("lpushx", -3, Write, true, (1, 1, 1), lpushx; DENYOOM),
    command!("lrange", 4, Read, false, (1, 1, 1), lrange),
    command!("lrem", 4, Write, false, (1, 1, 1), lrem),
    command!("lset", 4, Write, false, (1, 1, 1), lset; DENYOOM),
    command!("ltrim", 4, Write, false, (1, 1, 1), ltrim),
    command!("rpop", -2, Write, true, (1, 1, 1), rpop),
    command!("rpoplpush", 3, Write, false, (1, 2, 1), rpoplpush; DENYOOM),
    command!("rpush", -3, Write, true, (1, 1, 1), rpush; DENYOOM),
    command!("rpushx", -3, Write, true, (1, 1, 1), rpushx; DENYOOM),
];

/// Rows read per range scan when walking a list, so a long list is never held in memory whole
/// (except where the reply itself holds it).
const BATCH: usize = 512;

/// Pops of up to this many items remove rows one by one; longer ones remove a range.
const SMALL_POP: u64 = 8;

const OUT_OF_RANGE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// A record or row that breaks the layout's invariants. A storage error, so the whole group
/// fails and nothing this command may already have written is committed.
fn corrupt() -> CommandError {
    CommandError::Storage("corrupt list record".into())
}

/// One end of a list: LEFT is the head (index 0), RIGHT the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Left,
    Right,
}

/// Parses `LEFT|RIGHT` (LMOVE, LMPOP and their blocking forms).
pub(crate) fn parse_end(arg: &[u8]) -> Result<End, CommandError> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Right)
    } else {
        Err(CommandError::Syntax)
    }
}

/// Redis's `getPositiveLongFromObjectOrReply` with a message: a non-integer and a negative
/// number get the same error text.
fn parse_non_negative(arg: &[u8], msg: &'static str) -> Result<u64, CommandError> {
    parse_i64(arg)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(CommandError::Static(msg))
}

/// Redis's `getRangeLongFromObjectOrReply(.., 1, LONG_MAX, .., msg)`.
fn parse_at_least_one(arg: &[u8], msg: &'static str) -> Result<u64, CommandError> {
    parse_non_negative(arg, msg)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or(CommandError::Static(msg))
}

/// A list's bookkeeping while a command works on it: where its items are, and the deadline to
/// keep when its record is rewritten. Changes to `head`/`tail` reach the store with [`List::save`].
struct List<'k> {
    key: &'k [u8],
    /// Position of the first item.
    head: i64,
    /// Position after the last item.
    tail: i64,
    expire_at: Option<i64>,
}

/// The list at `key`: `None` when missing, WRONGTYPE when the key holds another type.
fn load<'k>(ctx: &mut Ctx<'_, '_, '_>, key: &'k [u8]) -> Result<Option<List<'k>>, CommandError> {
    let Some(entry) = lookup_kind(ctx, key, Kind::List)? else {
        return Ok(None);
    };
    let field = |i: usize| -> Option<[u8; 8]> { entry.body.get(i * 8..i * 8 + 8)?.try_into().ok() };
    let (Some(count), Some(head), Some(tail)) = (field(0), field(1), field(2)) else {
        return Err(corrupt());
    };
    let (count, head, tail) = (
        u64::from_le_bytes(count),
        i64::from_le_bytes(head),
        i64::from_le_bytes(tail),
    );
    if tail < head || tail.abs_diff(head) != count {
        return Err(corrupt());
    }
    Ok(Some(List {
        key,
        head,
        tail,
        expire_at: entry.expire_at,
    }))
}

/// Items at positions in `[lo, hi)`, [`BATCH`] at a time, from either end.
struct Walk {
    lo: i64,
    hi: i64,
    reverse: bool,
}

impl Walk {
    /// The next items as `(position, item)`; empty once the range is exhausted.
    fn next(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        key: &[u8],
    ) -> Result<Vec<(i64, Vec<u8>)>, CommandError> {
        if self.lo >= self.hi {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(BATCH.min(self.hi.abs_diff(self.lo) as usize));
        let want = BATCH as u64;
        let read = ctx.ks.list_read(
            ctx.session.db,
            key,
            (self.lo, self.hi),
            self.reverse,
            want,
            |pos, item| out.push((pos, item.to_vec())),
        )?;
        match out.last() {
            // `p` lies in [lo, hi), so `p + 1` cannot overflow.
            Some(&(p, _)) if read == want => {
                if self.reverse {
                    self.hi = p;
                } else {
                    self.lo = p + 1;
                }
            }
            _ if read == want.min(self.hi.abs_diff(self.lo)) => self.lo = self.hi,
            _ => return Err(corrupt()),
        }
        Ok(out)
    }
}

impl<'k> List<'k> {
    /// A list about to be created at `key`.
    fn new(key: &'k [u8]) -> Self {
        List {
            key,
            head: 0,
            tail: 0,
            expire_at: None,
        }
    }

    fn len(&self) -> u64 {
        self.tail.abs_diff(self.head)
    }

    /// The position of the item at index `i` (`i <= len`).
    fn at(&self, i: u64) -> i64 {
        // The true sum lies within [head, tail], so the wrapping addition is exact.
        self.head.wrapping_add(i as i64)
    }

    /// Redis's index rule: a negative index counts from the tail; `None` outside the list.
    fn index(&self, index: i64) -> Option<u64> {
        let len = i128::from(self.len());
        let i = if index < 0 {
            len + i128::from(index)
        } else {
            i128::from(index)
        };
        (0..len).contains(&i).then_some(i as u64)
    }

    /// Fails unless `n` more items fit at `end`. Positions span 2^64 values and a list only
    /// drifts by one per push, so this cannot happen in practice; it keeps arithmetic exact.
    fn room(&self, end: End, n: u64) -> CommandResult {
        let fits = match end {
            End::Left => i128::from(self.head) - i128::from(n) >= i128::from(i64::MIN),
            End::Right => i128::from(self.tail) + i128::from(n) <= i128::from(i64::MAX),
        };
        if fits {
            Ok(())
        } else {
            Err(CommandError::Static(
                "ERR list has no room left at this end",
            ))
        }
    }

    /// Writes the record back, or removes the key once it holds no item (as Redis does).
    fn save(&self, ctx: &mut Ctx<'_, '_, '_>) -> CommandResult {
        let db = ctx.session.db;
        if self.len() == 0 {
            ctx.ks.delete(db, self.key)?;
            return Ok(());
        }
        let mut body = [0u8; 24];
        body[..8].copy_from_slice(&self.len().to_le_bytes());
        body[8..16].copy_from_slice(&self.head.to_le_bytes());
        body[16..].copy_from_slice(&self.tail.to_le_bytes());
        ctx.ks
            .put(db, self.key, Kind::List, self.expire_at, &body)?;
        Ok(())
    }

    fn get(&self, ctx: &mut Ctx<'_, '_, '_>, pos: i64) -> Result<Vec<u8>, CommandError> {
        ctx.ks
            .list_get(ctx.session.db, self.key, pos)?
            .ok_or_else(corrupt)
    }

    /// Writes the item at `pos`: one of the list's, or the one just outside `head..tail` that a
    /// push or a shift is about to take in.
    fn put(&self, ctx: &mut Ctx<'_, '_, '_>, pos: i64, item: &[u8]) -> CommandResult {
        let fresh = pos < self.head || pos >= self.tail;
        ctx.ks
            .list_put(ctx.session.db, self.key, pos, item, fresh)?;
        Ok(())
    }

    /// Removes the items at `lo..hi`, which start or end the list.
    fn remove_range(&self, ctx: &mut Ctx<'_, '_, '_>, lo: i64, hi: i64) -> CommandResult {
        ctx.ks.list_remove_range(ctx.session.db, self.key, lo, hi)?;
        Ok(())
    }

    fn walk(&self, lo: i64, hi: i64, reverse: bool) -> Walk {
        Walk { lo, hi, reverse }
    }

    /// Pushes `items` one by one at `end` (so LPUSH a b c leaves c first, as in Redis).
    fn push<V: AsRef<[u8]>>(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        end: End,
        items: &[V],
    ) -> CommandResult {
        self.room(end, items.len() as u64)?;
        for item in items {
            match end {
                End::Left => {
                    self.put(ctx, self.head - 1, item.as_ref())?;
                    self.head -= 1;
                }
                End::Right => {
                    self.put(ctx, self.tail, item.as_ref())?;
                    self.tail += 1;
                }
            }
        }
        Ok(())
    }

    /// Removes up to `n` items from `end`, returned in the order they leave (from the tail
    /// first for RIGHT, as Redis's RPOP with a count replies).
    fn pop(
        &mut self,
        ctx: &mut Ctx<'_, '_, '_>,
        end: End,
        n: u64,
    ) -> Result<Vec<Vec<u8>>, CommandError> {
        let n = n.min(self.len());
        if n == 0 {
            return Ok(Vec::new());
        }
        let (lo, hi) = match end {
            End::Left => (self.head, self.at(n)),
            End::Right => (self.at(self.len() - n), self.tail),
        };
        if n <= SMALL_POP {
            // One item at a time from the end: each changes the end's chunk in the cache.
            let mut items = Vec::with_capacity(n as usize);
            for i in 0..n as i64 {
                let pos = match end {
                    End::Left => lo + i,
                    End::Right => hi - 1 - i,
                };
                let item = ctx
                    .ks
                    .list_pop(ctx.session.db, self.key, pos)?
                    .ok_or_else(corrupt)?;
                items.push(item);
            }
            match end {
                End::Left => self.head = hi,
                End::Right => self.tail = lo,
            }
            return Ok(items);
        }
        let mut items = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(BATCH));
        let read = ctx.ks.list_read(
            ctx.session.db,
            self.key,
            (lo, hi),
            end == End::Right,
            n,
            |_, item| items.push(item.to_vec()),
        )?;
        if read != n {
            return Err(corrupt());
        }
        self.remove_range(ctx, lo, hi)?;
        match end {
            End::Left => self.head = hi,
            End::Right => self.tail = lo,
        }
        Ok(items)
    }

    /// Inserts `item` so that it ends up at index `i` (`i <= len`), shifting the items on the
    /// shorter side by one position.
    fn insert(&mut self, ctx: &mut Ctx<'_, '_, '_>, i: u64, item: &[u8]) -> CommandResult {
        let len = self.len();
        // The shorter side, unless its end has no room left.
        let left = if i < len - i {
            self.room(End::Left, 1).is_ok()
        } else {
            self.room(End::Right, 1).is_err()
        };
        if left {
            self.room(End::Left, 1)?;
            // Items before the insertion point move one position towards the head, in
            // ascending order so each lands on a row already read.
            let mut walk = self.walk(self.head, self.at(i), false);
            loop {
                let rows = walk.next(ctx, self.key)?;
                if rows.is_empty() {
                    break;
                }
                for (p, value) in rows {
                    self.put(ctx, p - 1, &value)?;
                }
            }
            self.head -= 1;
        } else {
            self.room(End::Right, 1)?;
            let mut walk = self.walk(self.at(i), self.tail, true);
            loop {
                let rows = walk.next(ctx, self.key)?;
                if rows.is_empty() {
                    break;
                }
                for (p, value) in rows {
                    self.put(ctx, p + 1, &value)?;
                }
            }
            self.tail += 1;
        }
        self.put(ctx, self.at(i), item)
    }

    /// Removes the items at `removed` (ascending, non-empty, all within the list) and closes
    /// the gaps by moving the kept items on the side that has fewer of them to move.
    fn remove_positions(&mut self, ctx: &mut Ctx<'_, '_, '_>, removed: &[i64]) -> CommandResult {
        let (Some(&first), Some(&last)) = (removed.first(), removed.last()) else {
            return Ok(());
        };
        let k = removed.len() as u64;
        // Kept items in [head, last) and in (first, tail): the ones each direction would move.
        let kept_before = last.abs_diff(self.head) - (k - 1);
        let kept_after = self.tail.abs_diff(first) - 1 - (k - 1);
        if kept_before <= kept_after {
            // Walk down from `last`, moving each kept item to the highest free position.
            let mut w = last;
            let mut next = removed.len();
            let mut walk = self.walk(self.head, last + 1, true);
            loop {
                let rows = walk.next(ctx, self.key)?;
                if rows.is_empty() {
                    break;
                }
                for (p, value) in rows {
                    if next > 0 && removed[next - 1] == p {
                        next -= 1;
                        continue;
                    }
                    if p != w {
                        self.put(ctx, w, &value)?;
                    }
                    w -= 1;
                }
            }
            // Now [head, w] holds stale rows: exactly k of them.
            let new_head = w + 1;
            self.remove_range(ctx, self.head, new_head)?;
            self.head = new_head;
        } else {
            let mut w = first;
            let mut next = 0;
            let mut walk = self.walk(first, self.tail, false);
            loop {
                let rows = walk.next(ctx, self.key)?;
                if rows.is_empty() {
                    break;
                }
                for (p, value) in rows {
                    if next < removed.len() && removed[next] == p {
                        next += 1;
                        continue;
                    }
                    if p != w {
                        self.put(ctx, w, &value)?;
                    }
                    w += 1;
                }
            }
            self.remove_range(ctx, w, self.tail)?;
            self.tail = w;
        }
        Ok(())
    }
}

/// Pushes `items` at `end` of the list at `key`, creating it unless `only_existing` (LPUSHX).
/// Returns the new length; `None` when the key is missing and `only_existing`.
pub(crate) fn push(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    end: End,
    items: &[&[u8]],
    only_existing: bool,
) -> Result<Option<u64>, CommandError> {
    let mut list = match load(ctx, key)? {
        Some(list) => list,
        None if only_existing => return Ok(None),
        None => List::new(key),
    };
    list.push(ctx, end, items)?;
    list.save(ctx)?;
    Ok(Some(list.len()))
}

/// Pops up to `count` items from `end` of the list at `key` (tail first for RIGHT), removing the
/// key with its last item. `None` when the key is missing; an empty vector when `count` is 0.
pub(crate) fn pop(
    ctx: &mut Ctx<'_, '_, '_>,
    key: &[u8],
    end: End,
    count: u64,
) -> Result<Option<Vec<Vec<u8>>>, CommandError> {
    let Some(mut list) = load(ctx, key)? else {
        return Ok(None);
    };
    let items = list.pop(ctx, end, count)?;
    if !items.is_empty() {
        list.save(ctx)?;
    }
    Ok(Some(items))
}

/// LMOVE's core: pops one item from `from` of `src` and pushes it at `to` of `dst`, creating
/// `dst` if needed. `None` when `src` is missing (then `dst` is not even looked at, as in
/// Redis); WRONGTYPE, before anything is written, when either key holds another type.
pub(crate) fn move_item(
    ctx: &mut Ctx<'_, '_, '_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CommandError> {
    let Some(mut source) = load(ctx, src)? else {
        return Ok(None);
    };
    if source.len() == 0 {
        return Ok(None);
    }
    if src == dst {
        // One record: the key (and its deadline) stays even when it holds a single item.
        source.room(to, 1)?;
        let items = source.pop(ctx, from, 1)?;
        source.push(ctx, to, &items)?;
        source.save(ctx)?;
        return Ok(items.into_iter().next());
    }
    let mut dest = match load(ctx, dst)? {
        Some(list) => list,
        None => List::new(dst),
    };
    dest.room(to, 1)?;
    let items = source.pop(ctx, from, 1)?;
    source.save(ctx)?;
    dest.push(ctx, to, &items)?;
    dest.save(ctx)?;
    Ok(items.into_iter().next())
}

/// What LMPOP popped: the key and its items.
pub(crate) type Popped<'k> = (&'k [u8], Vec<Vec<u8>>);

/// LMPOP's core: pops up to `count` items from `end` of the first non-empty list among `keys`.
/// A key of another type met before that list is a WRONGTYPE error; `None` when all are missing.
pub(crate) fn mpop<'k>(
    ctx: &mut Ctx<'_, '_, '_>,
    keys: &[&'k [u8]],
    end: End,
    count: u64,
) -> Result<Option<Popped<'k>>, CommandError> {
    for &key in keys {
        let Some(mut list) = load(ctx, key)? else {
            continue;
        };
        if list.len() == 0 {
            continue;
        }
        let items = list.pop(ctx, end, count)?;
        list.save(ctx)?;
        return Ok(Some((key, items)));
    }
    Ok(None)
}

/// An array of items.
pub(crate) fn reply_items(reply: &mut Reply, items: &[Vec<u8>]) {
    reply.array(items.len());
    for item in items {
        reply.bulk(item);
    }
}

fn push_command(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    end: End,
    only_existing: bool,
) -> CommandResult {
    let key = args.next_bytes()?;
    let mut items = Vec::with_capacity(args.remaining());
    while let Some(item) = args.try_next() {
        items.push(item);
    }
    let len = push(ctx, key, end, &items, only_existing)?.unwrap_or(0);
    ctx.reply.integer(len as i64);
    Ok(())
}

/// `LPUSH key element [element ...]`
pub fn lpush(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    push_command(ctx, args, End::Left, false)
}

/// `RPUSH key element [element ...]`
pub fn rpush(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    push_command(ctx, args, End::Right, false)
}

/// `LPUSHX key element [element ...]`
pub fn lpushx(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    push_command(ctx, args, End::Left, true)
}

/// `RPUSHX key element [element ...]`
pub fn rpushx(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    push_command(ctx, args, End::Right, true)
}

fn pop_command(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>, end: End) -> CommandResult {
    let key = args.next_bytes()?;
    let count_arg = args.try_next();
    args.finish()?;
    let Some(count_arg) = count_arg else {
        // Without a count: one item, or nil.
        match pop(ctx, key, end, 1)?.and_then(|items| items.into_iter().next()) {
            Some(item) => ctx.reply.bulk(&item),
            None => ctx.reply.null(),
        }
        return Ok(());
    };
    let count = parse_non_negative(count_arg, OUT_OF_RANGE_POSITIVE)?;
    match pop(ctx, key, end, count)? {
        Some(items) => reply_items(ctx.reply, &items),
        None => ctx.reply.null_array(),
    }
    Ok(())
}

/// `LPOP key [count]`
pub fn lpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    pop_command(ctx, args, End::Left)
}

/// `RPOP key [count]`
pub fn rpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    pop_command(ctx, args, End::Right)
}

/// `LLEN key`
pub fn llen(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let len = load(ctx, key)?.map_or(0, |list| list.len());
    ctx.reply.integer(len as i64);
    Ok(())
}

/// Redis's start/end rule for LRANGE and LTRIM: negative indexes count from the tail, then
/// both are clamped to the list. Returns the first index and the number of items, `None` when
/// the range is empty.
fn clamp_range(len: u64, start: i64, end: i64) -> Option<(u64, u64)> {
    let len = i128::from(len);
    let (mut start, mut end) = (i128::from(start), i128::from(end));
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        return None;
    }
    end = end.min(len - 1);
    Some((start as u64, (end - start + 1) as u64))
}

/// `LRANGE key start stop`
pub fn lrange(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let start = parse_i64(args.next_bytes()?)?;
    let end = parse_i64(args.next_bytes()?)?;
    let range = match load(ctx, key)? {
        Some(list) => clamp_range(list.len(), start, end).map(|(from, n)| (list, from, n)),
        None => None,
    };
    let Some((list, from, n)) = range else {
        ctx.reply.array(0);
        return Ok(());
    };
    // Items go straight from their chunks into the reply; a short read fails the command,
    // which discards what was written.
    ctx.reply.array(usize::try_from(n).unwrap_or(usize::MAX));
    let reply = &mut *ctx.reply;
    let sent = ctx.ks.list_read(
        ctx.session.db,
        list.key,
        (list.at(from), list.at(from + n)),
        false,
        n,
        |_, item| reply.bulk(item),
    )?;
    if sent != n {
        return Err(corrupt());
    }
    Ok(())
}

/// `LINDEX key index`
pub fn lindex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let index_arg = args.next_bytes()?;
    // Redis looks the key up before it parses the index.
    let Some(list) = load(ctx, key)? else {
        ctx.reply.null();
        return Ok(());
    };
    let index = parse_i64(index_arg)?;
    match list.index(index) {
        Some(i) => {
            let item = list.get(ctx, list.at(i))?;
            ctx.reply.bulk(&item);
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `LSET key index element`
pub fn lset(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let index_arg = args.next_bytes()?;
    let item = args.next_bytes()?;
    let list = load(ctx, key)?.ok_or(CommandError::NoSuchKey)?;
    let index = parse_i64(index_arg)?;
    let i = list
        .index(index)
        .ok_or(CommandError::Static("ERR index out of range"))?;
    list.put(ctx, list.at(i), item)?;
    ctx.reply.ok();
    Ok(())
}

/// The index of the first item equal to `item`, from the head.
fn find_first(
    ctx: &mut Ctx<'_, '_, '_>,
    list: &List<'_>,
    item: &[u8],
) -> Result<Option<u64>, CommandError> {
    let mut walk = list.walk(list.head, list.tail, false);
    loop {
        let rows = walk.next(ctx, list.key)?;
        if rows.is_empty() {
            return Ok(None);
        }
        if let Some((p, _)) = rows.iter().find(|(_, v)| v == item) {
            return Ok(Some(p.abs_diff(list.head)));
        }
    }
}

/// `LINSERT key BEFORE|AFTER pivot element`
pub fn linsert(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let place = args.next_bytes()?;
    let pivot = args.next_bytes()?;
    let item = args.next_bytes()?;
    let after = if place.eq_ignore_ascii_case(b"after") {
        true
    } else if place.eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let Some(mut list) = load(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    let Some(i) = find_first(ctx, &list, pivot)? else {
        ctx.reply.integer(-1);
        return Ok(());
    };
    list.insert(ctx, i + u64::from(after), item)?;
    list.save(ctx)?;
    ctx.reply.integer(list.len() as i64);
    Ok(())
}

/// `LREM key count element`
pub fn lrem(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let count = parse_i64(args.next_bytes()?)?;
    let item = args.next_bytes()?;
    let Some(mut list) = load(ctx, key)? else {
        ctx.reply.integer(0);
        return Ok(());
    };
    // A negative count removes from the tail; 0 removes every match.
    let limit = if count == 0 {
        u64::MAX
    } else {
        count.unsigned_abs()
    };
    let mut removed = Vec::new();
    let mut walk = list.walk(list.head, list.tail, count < 0);
    'scan: loop {
        let rows = walk.next(ctx, key)?;
        if rows.is_empty() {
            break;
        }
        for (p, value) in rows {
            if value == item {
                removed.push(p);
                if removed.len() as u64 >= limit {
                    break 'scan;
                }
            }
        }
    }
    if count < 0 {
        removed.reverse();
    }
    if !removed.is_empty() {
        list.remove_positions(ctx, &removed)?;
        list.save(ctx)?;
    }
    ctx.reply.integer(removed.len() as i64);
    Ok(())
}

/// `LTRIM key start stop`
pub fn ltrim(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let start = parse_i64(args.next_bytes()?)?;
    let end = parse_i64(args.next_bytes()?)?;
    if let Some(mut list) = load(ctx, key)? {
        let len = list.len();
        let (keep_from, keep) = clamp_range(len, start, end).unwrap_or((len, 0));
        let (lo, hi) = (list.at(keep_from), list.at(keep_from + keep));
        if lo != list.head || hi != list.tail {
            list.remove_range(ctx, list.head, lo)?;
            list.remove_range(ctx, hi, list.tail)?;
            list.head = lo;
            list.tail = hi;
            list.save(ctx)?;
        }
    }
    ctx.reply.ok();
    Ok(())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub fn lpos(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let item = args.next_bytes()?;
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    while let Some(opt) = args.try_next() {
        let more = args.remaining() > 0;
        if opt.eq_ignore_ascii_case(b"rank") && more {
            rank = parse_i64(args.next_bytes()?)?;
            if rank == 0 {
                return Err(CommandError::Static(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            count = Some(parse_non_negative(
                args.next_bytes()?,
                "ERR COUNT can't be negative",
            )?);
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            maxlen = parse_non_negative(args.next_bytes()?, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    // A negative rank searches from the tail. Redis negates it in a C `long`, so RANK
    // -9223372036854775808 stays negative there: every match then qualifies, and a COUNT never
    // stops the search. Wrapping arithmetic below reproduces that.
    let reverse = rank < 0;
    if reverse {
        rank = rank.wrapping_neg();
    }
    let Some(list) = load(ctx, key)? else {
        match count {
            Some(_) => ctx.reply.array(0),
            None => ctx.reply.null(),
        }
        return Ok(());
    };
    let len = list.len();
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    let mut index: u64 = 0;
    let mut walk = list.walk(list.head, list.tail, reverse);
    'scan: loop {
        let rows = walk.next(ctx, key)?;
        if rows.is_empty() {
            break;
        }
        for (_, value) in rows {
            if maxlen != 0 && index >= maxlen {
                break 'scan;
            }
            if value == item {
                matches += 1;
                if matches >= rank {
                    found.push(if reverse { len - index - 1 } else { index });
                    // Without COUNT the first qualifying match is the answer; COUNT 0 means
                    // every match.
                    let done = match count {
                        None => true,
                        Some(0) => false,
                        Some(c) => matches.wrapping_sub(rank).wrapping_add(1) >= c as i64,
                    };
                    if done {
                        break 'scan;
                    }
                }
            }
            index += 1;
        }
    }
    match count {
        Some(_) => {
            ctx.reply.array(found.len());
            for i in found {
                ctx.reply.integer(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.reply.integer(i as i64),
            None => ctx.reply.null(),
        },
    }
    Ok(())
}

fn move_command(
    ctx: &mut Ctx<'_, '_, '_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> CommandResult {
    match move_item(ctx, src, dst, from, to)? {
        Some(item) => ctx.reply.bulk(&item),
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
pub fn lmove(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    let from = parse_end(args.next_bytes()?)?;
    let to = parse_end(args.next_bytes()?)?;
    move_command(ctx, src, dst, from, to)
}

/// `RPOPLPUSH source destination`
pub fn rpoplpush(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let src = args.next_bytes()?;
    let dst = args.next_bytes()?;
    move_command(ctx, src, dst, End::Right, End::Left)
}

/// Parses LMPOP's arguments after the command name (BLMPOP's after its timeout):
/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]`, with Redis's error texts.
pub(crate) fn parse_mpop<'a>(
    args: &mut Args<'a>,
) -> Result<(Vec<&'a [u8]>, End, u64), CommandError> {
    let numkeys = parse_at_least_one(args.next_bytes()?, "ERR numkeys should be greater than 0")?;
    // The direction must follow the keys.
    if numkeys >= args.remaining() as u64 {
        return Err(CommandError::Syntax);
    }
    let mut keys = Vec::with_capacity(numkeys as usize);
    for _ in 0..numkeys {
        keys.push(args.next_bytes()?);
    }
    let end = parse_end(args.next_bytes()?)?;
    let mut count = None;
    while let Some(opt) = args.try_next() {
        if count.is_none() && opt.eq_ignore_ascii_case(b"count") && args.remaining() > 0 {
            count = Some(parse_at_least_one(
                args.next_bytes()?,
                "ERR count should be greater than 0",
            )?);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok((keys, end, count.unwrap_or(1)))
}

/// The reply of LMPOP (and BLMPOP): `[key, [items...]]`, or a null array.
pub(crate) fn reply_mpop(reply: &mut Reply, popped: Option<Popped<'_>>) {
    match popped {
        Some((key, items)) => {
            reply.array(2);
            reply.bulk(key);
            reply_items(reply, &items);
        }
        None => reply.null_array(),
    }
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub fn lmpop(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let (keys, end, count) = parse_mpop(args)?;
    let popped = mpop(ctx, &keys, end, count)?;
    reply_mpop(ctx.reply, popped);
    Ok(())
}
