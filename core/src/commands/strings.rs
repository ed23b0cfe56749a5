//! String commands (Redis's `t_string.c`).

use super::{parse_i64, Args, CommandSpec, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::keyspace::Kind;
use crate::long_double::LongDouble;

/// This family's rows of the command table (name, arity, access, fast, keys, handler).
pub static COMMANDS: &[CommandSpec] = &[
    command!("append", 3, Write, true, (1, 1, 1), append; DENYOOM),
    command!("decr", 2, Write, true, (1, 1, 1), decr; DENYOOM),
    command!("decrby", 3, Write, true, (1, 1, 1), decrby; DENYOOM),
    command!("get", 2, Read, true, (1, 1, 1), get),
    command!("getdel", 2, Write, true, (1, 1, 1), getdel),
    command!("getex", -2, Write, true, (1, 1, 1), getex),
    command!("getrange", 4, Read, false, (1, 1, 1), getrange),
    command!("getset", 3, Write, true, (1, 1, 1), getset; DENYOOM),
    command!("incr", 2, Write, true, (1, 1, 1), incr; DENYOOM),
    command!("incrby", 3, Write, true, (1, 1, 1), incrby; DENYOOM),
    command!("incrbyfloat", 3, Write, true, (1, 1, 1), incrbyfloat; DENYOOM),
    command!("lcs", -3, Read, false, (1, 2, 1), lcs),
    command!("mget", -2, Read, true, (1, -1, 1), mget),
    command!("mset", -3, Write, false, (1, -1, 2), mset; DENYOOM),
    command!("msetnx", -3, Write, false, (1, -1, 2), msetnx; DENYOOM),
    command!("psetex", 4, Write, false, (1, 1, 1), psetex; DENYOOM),
    command!("set", -3, Write, false, (1, 1, 1), set; DENYOOM),
    command!("setex", 4, Write, false, (1, 1, 1), setex; DENYOOM),
    command!("setnx", 3, Write, true, (1, 1, 1), setnx; DENYOOM),
    command!("setrange", 4, Write, false, (1, 1, 1), setrange; DENYOOM),
    command!("strlen", 2, Read, true, (1, 1, 1), strlen),
    command!("substr", 4, Read, false, (1, 1, 1), getrange),
];

/// Redis's `proto-max-bulk-len` default: the longest string a command may build (512 MB).
const MAX_STRING: u64 = 512 * 1024 * 1024;

/// Redis's `checkStringLength`: `existing + added` bytes must not pass [`MAX_STRING`].
fn check_string_length(existing: u64, added: u64) -> CommandResult {
    match existing.checked_add(added) {
        Some(total) if total <= MAX_STRING => Ok(()),
        _ => Err(CommandError::Static(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

/// The string at `key`, or WRONGTYPE if the key holds another type.
fn get_string(ctx: &mut Ctx<'_, '_, '_>, key: &[u8]) -> Result<Option<Vec<u8>>, CommandError> {
    match ctx.ks.get(ctx.session.db, key)? {
        None => Ok(None),
        Some(entry) if entry.kind == Kind::String => Ok(Some(entry.body)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// `GET key`
pub fn get(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let reply = &mut *ctx.reply;
    // The value goes from the record cache straight into the reply.
    ctx.ks.peek(ctx.session.db, key, |entry| match entry {
        None => {
            reply.null();
            Ok(())
        }
        Some((Kind::String, value)) => {
            reply.bulk(value);
            Ok(())
        }
        Some(_) => Err(CommandError::WrongType),
    })?
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireArg {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireArg {
    /// The option `word` names (EX, PX, EXAT, PXAT, any case).
    fn parse(word: &[u8]) -> Option<ExpireArg> {
        Some(match word.to_ascii_lowercase().as_slice() {
            b"ex" => ExpireArg::Ex,
            b"px" => ExpireArg::Px,
            b"exat" => ExpireArg::ExAt,
            b"pxat" => ExpireArg::PxAt,
            _ => return None,
        })
    }

    /// EXAT and PXAT give a deadline; EX and PX a time from now.
    fn absolute(self) -> bool {
        matches!(self, ExpireArg::ExAt | ExpireArg::PxAt)
    }
}

/// Redis's `getExpireMillisecondsOrReply`: an expiry argument as an absolute deadline in
/// milliseconds. Zero, negative and overflowing times are "invalid expire time in '<cmd>'".
fn deadline(now: i64, unit: ExpireArg, arg: &[u8], cmd: &'static str) -> Result<i64, CommandError> {
    let invalid = || CommandError::InvalidExpireTime(cmd);
    let n = parse_i64(arg)?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        ExpireArg::Ex | ExpireArg::ExAt => n.checked_mul(1000).ok_or_else(invalid)?,
        ExpireArg::Px | ExpireArg::PxAt => n,
    };
    if unit.absolute() {
        Ok(ms)
    } else {
        ms.checked_add(now).ok_or_else(invalid)
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]`
pub fn set(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    let mut expire: Option<(ExpireArg, &[u8])> = None;
    while let Some(opt) = args.try_next() {
        let lower = opt.to_ascii_lowercase();
        match (lower.as_slice(), ExpireArg::parse(opt)) {
            (b"nx", _) if !xx => nx = true,
            (b"xx", _) if !nx => xx = true,
            (b"get", _) => get = true,
            (b"keepttl", _) if expire.is_none() => keepttl = true,
            (_, Some(unit))
                if !keepttl && expire.is_none_or(|(u, _)| u == unit) && args.remaining() > 0 =>
            {
                expire = Some((unit, args.next_bytes()?));
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let now = ctx.ks.now_ms();
    let expire_at = expire
        .map(|(unit, arg)| deadline(now, unit, arg, "set"))
        .transpose()?;
    let db = ctx.session.db;
    // A plain SET replaces whatever is there without looking: `put` deals with an old value of
    // another type or with a deadline.
    let old = if nx || xx || get || keepttl {
        ctx.ks.get(db, key)?
    } else {
        None
    };
    if get {
        match &old {
            Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
            Some(entry) => ctx.reply.bulk(&entry.body),
            None => ctx.reply.null(),
        }
    }
    if (nx && old.is_some()) || (xx && old.is_none()) {
        if !get {
            ctx.reply.null();
        }
        return Ok(());
    }
    let expire_at = if keepttl {
        old.as_ref().and_then(|e| e.expire_at)
    } else {
        expire_at
    };
    ctx.ks.put(db, key, Kind::String, expire_at, value)?;
    if !get {
        ctx.reply.ok();
    }
    Ok(())
}

/// `MGET key [key ...]`: a missing key or one of another type reads as nil.
pub fn mget(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    ctx.reply.array(args.remaining());
    while let Some(key) = args.try_next() {
        match ctx.ks.get(ctx.session.db, key)? {
            Some(entry) if entry.kind == Kind::String => ctx.reply.bulk(&entry.body),
            _ => ctx.reply.null(),
        }
    }
    Ok(())
}

/// `MSET key value [key value ...]`: all pairs in one step (one log record).
pub fn mset(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    if !args.remaining().is_multiple_of(2) {
        return Err(CommandError::WrongArity(args.name()));
    }
    while let Some(key) = args.try_next() {
        let value = args.next_bytes()?;
        ctx.ks.put(ctx.session.db, key, Kind::String, None, value)?;
    }
    ctx.reply.ok();
    Ok(())
}

fn incr_by(ctx: &mut Ctx<'_, '_, '_>, key: &[u8], delta: i64) -> CommandResult {
    let db = ctx.session.db;
    let (current, expire_at) = match ctx.ks.get(db, key)? {
        None => (0, None),
        Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
        Some(entry) => (parse_i64(&entry.body)?, entry.expire_at),
    };
    let value = current.checked_add(delta).ok_or(CommandError::Static(
        "ERR increment or decrement would overflow",
    ))?;
    let text = itoa::Buffer::new().format(value).as_bytes().to_vec();
    ctx.ks.put(db, key, Kind::String, expire_at, &text)?;
    ctx.reply.integer(value);
    Ok(())
}

/// `INCR key`
pub fn incr(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    incr_by(ctx, key, 1)
}

/// `DECR key`
pub fn decr(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    incr_by(ctx, key, -1)
}

/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let delta = parse_i64(args.next_bytes()?)?;
    incr_by(ctx, key, delta)
}

/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let delta = parse_i64(args.next_bytes()?)?;
    if delta == i64::MIN {
        return Err(CommandError::Static("ERR decrement would overflow"));
    }
    incr_by(ctx, key, -delta)
}

/// `APPEND key value`
pub fn append(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let db = ctx.session.db;
    let (mut body, expire_at, existed) = match ctx.ks.get(db, key)? {
        None => (Vec::new(), None, false),
        Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
        Some(entry) => (entry.body, entry.expire_at, true),
    };
    if existed {
        check_string_length(body.len() as u64, value.len() as u64)?;
    }
    body.extend_from_slice(value);
    if existed {
        ctx.ks.put_raw_string(db, key, expire_at, &body)?;
    } else {
        ctx.ks.put(db, key, Kind::String, expire_at, &body)?;
    }
    ctx.reply.integer(body.len() as i64);
    Ok(())
}

/// `STRLEN key`
pub fn strlen(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let len = get_string(ctx, key)?.map_or(0, |v| v.len());
    ctx.reply.integer(len as i64);
    Ok(())
}

/// `SETNX key value`: 1 if set, 0 if the key existed.
pub fn setnx(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let db = ctx.session.db;
    if ctx.ks.exists(db, key)? {
        ctx.reply.integer(0);
        return Ok(());
    }
    ctx.ks.put(db, key, Kind::String, None, value)?;
    ctx.reply.integer(1);
    Ok(())
}

fn set_with_expire(
    ctx: &mut Ctx<'_, '_, '_>,
    args: &mut Args<'_>,
    unit: ExpireArg,
) -> CommandResult {
    let key = args.next_bytes()?;
    let time = args.next_bytes()?;
    let value = args.next_bytes()?;
    let at = deadline(ctx.ks.now_ms(), unit, time, args.name())?;
    ctx.ks
        .put(ctx.session.db, key, Kind::String, Some(at), value)?;
    ctx.reply.ok();
    Ok(())
}

/// `SETEX key seconds value`
pub fn setex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    set_with_expire(ctx, args, ExpireArg::Ex)
}

/// `PSETEX key milliseconds value`
pub fn psetex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    set_with_expire(ctx, args, ExpireArg::Px)
}

/// `GETSET key value`: the old value; the new one is stored without a TTL.
pub fn getset(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    match get_string(ctx, key)? {
        Some(old) => ctx.reply.bulk(&old),
        None => ctx.reply.null(),
    }
    ctx.ks.put(ctx.session.db, key, Kind::String, None, value)?;
    Ok(())
}

/// `GETDEL key`
pub fn getdel(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    match get_string(ctx, key)? {
        Some(value) => {
            ctx.reply.bulk(&value);
            ctx.ks.delete(ctx.session.db, key)?;
        }
        None => ctx.reply.null(),
    }
    Ok(())
}

/// `GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]`. As in Redis the options are checked
/// first (syntax), then the key (nil, WRONGTYPE), then the time; a deadline already past
/// deletes the key after its value is returned.
pub fn getex(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let mut expire: Option<(ExpireArg, &[u8])> = None;
    let mut persist = false;
    while let Some(opt) = args.try_next() {
        match ExpireArg::parse(opt) {
            // The same unit may repeat (the last wins); units may not be mixed with each other
            // or with PERSIST.
            Some(unit)
                if !persist && expire.is_none_or(|(u, _)| u == unit) && args.remaining() > 0 =>
            {
                expire = Some((unit, args.next_bytes()?));
            }
            None if opt.eq_ignore_ascii_case(b"persist") && expire.is_none() => persist = true,
            _ => return Err(CommandError::Syntax),
        }
    }
    let db = ctx.session.db;
    let Some(value) = get_string(ctx, key)? else {
        ctx.reply.null();
        return Ok(());
    };
    let now = ctx.ks.now_ms();
    let at = expire
        .map(|(unit, arg)| deadline(now, unit, arg, "getex"))
        .transpose()?;
    ctx.reply.bulk(&value);
    match at {
        Some(at) if at <= now => {
            ctx.ks.delete(db, key)?;
        }
        Some(at) => {
            ctx.ks.set_expire(db, key, Some(at))?;
        }
        None if persist => {
            ctx.ks.set_expire(db, key, None)?;
        }
        None => {}
    }
    Ok(())
}

/// `MSETNX key value [key value ...]`: all pairs, or none if any key exists.
pub fn msetnx(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    if !args.remaining().is_multiple_of(2) {
        return Err(CommandError::WrongArity(args.name()));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while let Some(key) = args.try_next() {
        pairs.push((key, args.next_bytes()?));
    }
    let db = ctx.session.db;
    for (key, _) in &pairs {
        if ctx.ks.exists(db, key)? {
            ctx.reply.integer(0);
            return Ok(());
        }
    }
    for (key, value) in pairs {
        ctx.ks.put(db, key, Kind::String, None, value)?;
    }
    ctx.reply.integer(1);
    Ok(())
}

/// `INCRBYFLOAT key increment`: in x87 `long double` like Redis (see [`LongDouble`]); the key
/// keeps its TTL. Redis stores the result with `createStringObject`, never int-encoded.
pub fn incrbyfloat(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let incr = args.next_bytes()?;
    let db = ctx.session.db;
    let (current, expire_at) = match ctx.ks.get(db, key)? {
        None => (LongDouble::ZERO, None),
        Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
        Some(entry) => (
            LongDouble::parse(&entry.body).ok_or(CommandError::NotFloat)?,
            entry.expire_at,
        ),
    };
    let incr = LongDouble::parse(incr).ok_or(CommandError::NotFloat)?;
    let value = current + incr;
    if !value.is_finite() {
        return Err(CommandError::Static(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = value.to_human();
    ctx.ks
        .put_plain_string(db, key, expire_at, text.as_bytes())?;
    ctx.reply.bulk(text.as_bytes());
    Ok(())
}

/// `GETRANGE key start end` (and its old name `SUBSTR`): inclusive, negative from the end.
pub fn getrange(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let start = parse_i64(args.next_bytes()?)?;
    let end = parse_i64(args.next_bytes()?)?;
    let value = get_string(ctx, key)?.unwrap_or_default();
    ctx.reply.bulk(substring(&value, start, end));
    Ok(())
}

/// Redis's index arithmetic for GETRANGE: two negative indexes out of order select nothing
/// (even where clamping would leave one byte); otherwise both are clamped into the string.
fn substring(value: &[u8], start: i64, end: i64) -> &[u8] {
    let len = value.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return &[];
    }
    // `len + start` cannot overflow: len >= 0 and start < 0.
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end }.clamp(0, len - 1);
    if start > end {
        return &[];
    }
    &value[start as usize..=end as usize]
}

/// `SETRANGE key offset value`: overwrites from `offset`, zero-padding a shorter string; the
/// result is reported with the `raw` encoding, as in Redis.
pub fn setrange(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let key = args.next_bytes()?;
    let offset = parse_i64(args.next_bytes()?)?;
    let value = args.next_bytes()?;
    let offset =
        u64::try_from(offset).map_err(|_| CommandError::Static("ERR offset is out of range"))?;
    let db = ctx.session.db;
    let (mut body, expire_at) = match ctx.ks.get(db, key)? {
        // Setting nothing on a missing key creates nothing.
        None if value.is_empty() => {
            ctx.reply.integer(0);
            return Ok(());
        }
        None => (Vec::new(), None),
        Some(entry) if entry.kind != Kind::String => return Err(CommandError::WrongType),
        Some(entry) if value.is_empty() => {
            ctx.reply.integer(entry.body.len() as i64);
            return Ok(());
        }
        Some(entry) => (entry.body, entry.expire_at),
    };
    check_string_length(offset, value.len() as u64)?;
    // Both fit in usize: the total is at most 512 MB.
    let start = offset as usize;
    let end = start + value.len();
    if body.len() < end {
        body.resize(end, 0);
    }
    body[start..end].copy_from_slice(value);
    ctx.ks.put_raw_string(db, key, expire_at, &body)?;
    ctx.reply.integer(body.len() as i64);
    Ok(())
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: Redis's dynamic programming
/// over the two strings (missing keys read as ""), with its limits and reply shapes.
pub fn lcs(ctx: &mut Ctx<'_, '_, '_>, args: &mut Args<'_>) -> CommandResult {
    let ka = args.next_bytes()?;
    let kb = args.next_bytes()?;
    let db = ctx.session.db;
    let a = ctx.ks.get(db, ka)?;
    let b = ctx.ks.get(db, kb)?;
    if [&a, &b]
        .iter()
        .any(|e| e.as_ref().is_some_and(|e| e.kind != Kind::String))
    {
        return Err(CommandError::Static(
            "ERR The specified keys must contain string values",
        ));
    }
    let a = a.map(|e| e.body).unwrap_or_default();
    let b = b.map(|e| e.body).unwrap_or_default();
    let (mut get_len, mut get_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len: u64 = 0;
    while let Some(opt) = args.try_next() {
        if opt.eq_ignore_ascii_case(b"idx") {
            get_idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            get_len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            with_match_len = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && args.remaining() > 0 {
            // Negative means no minimum.
            min_match_len = parse_i64(args.next_bytes()?)?.max(0) as u64;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if get_idx && get_len {
        return Err(CommandError::Static(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let table = LcsTable::build(&a, &b)?;
    if get_len {
        ctx.reply.integer(i64::from(table.at(a.len(), b.len())));
        return Ok(());
    }
    let (text, matches) = table.walk(&a, &b, min_match_len);
    if !get_idx {
        ctx.reply.bulk(&text);
        return Ok(());
    }
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(matches.len());
    for m in &matches {
        ctx.reply.array(if with_match_len { 3 } else { 2 });
        for (start, end) in [(m.a_start, m.a_end), (m.b_start, m.b_end)] {
            ctx.reply.array(2);
            ctx.reply.integer(i64::from(start));
            ctx.reply.integer(i64::from(end));
        }
        if with_match_len {
            ctx.reply.integer(i64::from(m.a_end - m.a_start + 1));
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.integer(i64::from(table.at(a.len(), b.len())));
    Ok(())
}

/// One matching range of LCS IDX, inclusive, in each string.
struct LcsMatch {
    a_start: u32,
    a_end: u32,
    b_start: u32,
    b_end: u32,
}

/// `lcs[i][j]`: the LCS length of `a[..i]` and `b[..j]`.
struct LcsTable {
    cells: Vec<u32>,
    width: usize,
}

impl LcsTable {
    /// Redis refuses a table larger than `proto-max-bulk-len` (512 MB of u32 cells).
    fn build(a: &[u8], b: &[u8]) -> Result<LcsTable, CommandError> {
        if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
            return Err(CommandError::Static("ERR String too long for LCS"));
        }
        let width = b.len() + 1;
        let size = (a.len() as u64 + 1) * width as u64;
        if size * 4 > MAX_STRING {
            return Err(CommandError::Static(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ));
        }
        let mut cells = Vec::new();
        cells.try_reserve_exact(size as usize).map_err(|_| {
            CommandError::Static(
                "ERR Insufficient memory, failed allocating transient memory for LCS",
            )
        })?;
        cells.resize(size as usize, 0u32);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Ok(LcsTable { cells, width })
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end as Redis does: the LCS string, and the matching ranges from the
    /// last to the first, those shorter than `min_len` left out.
    fn walk(&self, a: &[u8], b: &[u8], min_len: u64) -> (Vec<u8>, Vec<LcsMatch>) {
        let total = self.at(a.len(), b.len()) as usize;
        let mut text = vec![0u8; total];
        let mut idx = total;
        let mut matches = Vec::new();
        // A range is open while `range` is Some: (a_start, a_end, b_start, b_end).
        let mut range: Option<(u32, u32, u32, u32)> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                text[idx - 1] = a[i - 1];
                let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
                range = match range {
                    None => Some((ai, ai, bj, bj)),
                    // Contiguous with the open range: extend it backwards.
                    Some((s, e, bs, be)) if s == ai + 1 && bs == bj + 1 => Some((ai, e, bj, be)),
                    Some(r) => {
                        emit = true;
                        Some(r)
                    }
                };
                if range.is_some_and(|(s, _, bs, _)| s == 0 || bs == 0) {
                    emit = true;
                }
                idx -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = range.is_some();
            }
            if emit {
                if let Some((s, e, bs, be)) = range.take() {
                    if u64::from(e - s + 1) >= min_len {
                        matches.push(LcsMatch {
                            a_start: s,
                            a_end: e,
                            b_start: bs,
                            b_end: be,
                        });
                    }
                }
            }
        }
        (text, matches)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{last, run};
    use super::*;
    use crate::protocol::reply::Protocol;

    #[test]
    fn lcs_idx_reply_shapes_in_resp2_and_resp3() {
        // The bytes redis-server 7.0.15 sends.
        let setup: [&[&str]; 2] = [&["SET", "a", "ohmytext"], &["SET", "b", "mynewtext"]];
        let idx: &[&str] = &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"];
        let resp3 = run(Protocol::Resp3, &[setup[0], setup[1], idx]);
        assert_eq!(
            resp3[2],
            b"%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
        );
        let idx: &[&str] = &["LCS", "a", "b", "IDX", "WITHMATCHLEN"];
        assert_eq!(
            last(&[setup[0], setup[1], idx]),
            "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"
        );
        assert_eq!(
            last(&[setup[0], setup[1], &["LCS", "a", "b", "LEN"]]),
            ":6\r\n"
        );
        assert_eq!(
            last(&[setup[0], setup[1], &["LCS", "a", "b"]]),
            "$6\r\nmytext\r\n"
        );
        assert_eq!(run(Protocol::Resp3, &[&["GETEX", "nokey"]])[0], b"_\r\n");
    }

    #[test]
    fn incrbyfloat_keeps_the_ttl_and_is_never_int_encoded() {
        let cmds: [&[&str]; 4] = [
            &["SET", "f", "1", "EX", "100"],
            &["INCRBYFLOAT", "f", "2"],
            &["OBJECT", "ENCODING", "f"],
            &["TTL", "f"],
        ];
        let replies = run(Protocol::Resp2, &cmds);
        assert_eq!(replies[1], b"$1\r\n3\r\n");
        assert_eq!(replies[2], b"$6\r\nembstr\r\n");
        assert_eq!(replies[3], b":100\r\n");
        assert_eq!(
            last(&[&["SET", "f", "abc"], &["INCRBYFLOAT", "f", "1"]]),
            "-ERR value is not a valid float\r\n"
        );
        assert_eq!(
            last(&[
                &["INCRBYFLOAT", "f", "1.1e4932"],
                &["INCRBYFLOAT", "f", "1.1e4932"]
            ]),
            "-ERR increment would produce NaN or Infinity\r\n"
        );
    }

    #[test]
    fn substring_follows_redis_index_rules() {
        let s = b"Hello World";
        assert_eq!(substring(s, 0, 4), b"Hello");
        assert_eq!(substring(s, -5, -1), b"World");
        assert_eq!(substring(s, 5, 1), b"");
        assert_eq!(substring(s, 0, 100), s);
        assert_eq!(substring(s, -100, -50), b"H");
        assert_eq!(substring(s, -50, -100), b"");
        assert_eq!(substring(s, i64::MIN, i64::MAX), s);
        assert_eq!(substring(s, i64::MAX, i64::MIN), b"");
        assert_eq!(substring(b"", 0, -1), b"");
    }

    #[test]
    fn lcs_walk_matches_redis_example() {
        // The example of Redis's LCS documentation.
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        let table = LcsTable::build(a, b).expect("small table");
        let (text, matches) = table.walk(a, b, 0);
        assert_eq!(text, b"mytext");
        let ranges: Vec<_> = matches
            .iter()
            .map(|m| (m.a_start, m.a_end, m.b_start, m.b_end))
            .collect();
        assert_eq!(ranges, vec![(4, 7, 5, 8), (2, 3, 0, 1)]);
        assert_eq!(table.walk(a, b, 4).1.len(), 1);
    }

    #[test]
    fn string_length_limit() {
        assert!(check_string_length(MAX_STRING - 1, 1).is_ok());
        assert!(check_string_length(MAX_STRING, 1).is_err());
        assert!(check_string_length(u64::MAX, 1).is_err());
    }
}
