//! Lists against a `VecDeque` model: a 100k-item list keeps LINDEX, LPOP, RPOP, LPUSH, RPUSH,
//! LSET and LRANGE right (every end operation touches one end of the stored rows), and short
//! lists with many repeated items keep the middle edits (LINSERT, LREM, LTRIM, LMOVE) right on
//! whichever side they shift.

use std::collections::VecDeque;

use diskdb_core::protocol::reply::Protocol;
use diskdb_core::protocol::Reply;
use diskdb_core::{Engine, Session};
use proptest::prelude::*;

struct Db {
    engine: Engine,
    session: Session,
    now: i64,
}

impl Db {
    fn new() -> Self {
        Db {
            engine: Engine::memory(),
            session: Session::default(),
            now: 1_000,
        }
    }

    /// Runs the commands in one group; one reply per command.
    fn run_all(&mut self, commands: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
        self.now += 1;
        let session = &mut self.session;
        self.engine
            .run_group(self.now, |g| {
                commands
                    .iter()
                    .map(|argv| {
                        let mut reply = Reply::new();
                        g.execute(session, argv, &mut reply);
                        reply.take()
                    })
                    .collect()
            })
            .expect("in-memory group commits")
    }

    fn run(&mut self, argv: &[&[u8]]) -> Vec<u8> {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        self.run_all(&[argv]).remove(0)
    }
}

fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", b.len()).into_bytes();
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
    out
}

fn opt_bulk(b: Option<&Vec<u8>>) -> Vec<u8> {
    b.map_or_else(|| b"$-1\r\n".to_vec(), |b| bulk(b))
}

fn array<'a>(items: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<u8> {
    let items: Vec<&Vec<u8>> = items.into_iter().collect();
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend(bulk(item));
    }
    out
}

/// Redis's index rule.
fn model_index(len: usize, index: i64) -> Option<usize> {
    let i = if index < 0 {
        len as i128 + i128::from(index)
    } else {
        i128::from(index)
    };
    (0..len as i128).contains(&i).then_some(i as usize)
}

/// Redis's LRANGE/LTRIM clamping: (first index, item count).
fn model_range(len: usize, start: i64, end: i64) -> (usize, usize) {
    let len = len as i128;
    let (mut s, mut e) = (i128::from(start), i128::from(end));
    if s < 0 {
        s += len;
    }
    if e < 0 {
        e += len;
    }
    s = s.max(0);
    if s > e || s >= len {
        return (0, 0);
    }
    e = e.min(len - 1);
    (s as usize, (e - s + 1) as usize)
}

/// Every fifth item is too long to sit inside a chunk row and gets its own row.
fn item(n: u32) -> Vec<u8> {
    let mut v = format!("v{n}").into_bytes();
    if n.is_multiple_of(5) {
        v.resize(200, b'.');
    }
    v
}

/// A letter's item: `d` is too long to sit inside a chunk row.
fn one(c: u8) -> Vec<u8> {
    if c == b'd' {
        vec![c; 200]
    } else {
        vec![c]
    }
}

fn build(db: &mut Db, key: &[u8], items: &[Vec<u8>]) {
    for chunk in items.chunks(1000) {
        let mut argv = vec![b"RPUSH".to_vec(), key.to_vec()];
        argv.extend(chunk.iter().cloned());
        let replies = db.run_all(&[argv]);
        assert!(replies[0].starts_with(b":"), "{:?}", replies[0]);
    }
}

#[derive(Debug, Clone)]
enum BigOp {
    Index(i64),
    LPop(Option<u64>),
    RPop(Option<u64>),
    LPush(Vec<u32>),
    RPush(Vec<u32>),
    Set(i64, u32),
    Range(i64, i64),
    Len,
    /// LINSERT around the item at this index (wrapped into the list).
    Insert(usize, bool, u32),
    /// LREM of the item at this index, from the head or the tail.
    Rem(usize, i64),
    /// LPOS of the item at this index.
    Pos(usize),
}

const BIG: usize = 100_000;

fn big_index() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -(BIG as i64 + 100)..(BIG as i64 + 100),
        1 => prop_oneof![Just(0i64), Just(-1), Just(i64::MIN), Just(i64::MAX)],
    ]
}

fn big_op() -> impl Strategy<Value = BigOp> {
    let count = proptest::option::of(prop_oneof![0u64..5, 500u64..3000]);
    prop_oneof![
        6 => big_index().prop_map(BigOp::Index),
        3 => count.clone().prop_map(BigOp::LPop),
        3 => count.prop_map(BigOp::RPop),
        3 => proptest::collection::vec(any::<u32>(), 1..4).prop_map(BigOp::LPush),
        3 => proptest::collection::vec(any::<u32>(), 1..4).prop_map(BigOp::RPush),
        2 => (big_index(), any::<u32>()).prop_map(|(i, v)| BigOp::Set(i, v)),
        2 => (big_index(), prop_oneof![0i64..20, 500i64..2000])
            .prop_map(|(s, n)| BigOp::Range(s, s.saturating_add(n))),
        1 => Just(BigOp::Len),
        1 => (any::<usize>(), any::<bool>(), any::<u32>())
            .prop_map(|(i, after, v)| BigOp::Insert(i, after, v)),
        1 => (any::<usize>(), prop_oneof![Just(0i64), Just(1), Just(-1)])
            .prop_map(|(i, c)| BigOp::Rem(i, c)),
        1 => any::<usize>().prop_map(BigOp::Pos),
    ]
}

fn check_big(db: &mut Db, model: &mut VecDeque<Vec<u8>>, op: &BigOp) {
    let key: &[u8] = b"big";
    match op {
        BigOp::Index(i) => {
            let got = db.run(&[b"LINDEX", key, i.to_string().as_bytes()]);
            let want = opt_bulk(model_index(model.len(), *i).map(|i| &model[i]));
            assert_eq!(got, want, "LINDEX {i}");
        }
        BigOp::LPop(count) | BigOp::RPop(count) => {
            let left = matches!(op, BigOp::LPop(_));
            let name: &[u8] = if left { b"LPOP" } else { b"RPOP" };
            let mut popped = Vec::new();
            let n = count.unwrap_or(1).min(model.len() as u64);
            for _ in 0..n {
                popped.extend(if left {
                    model.pop_front()
                } else {
                    model.pop_back()
                });
            }
            let got = match count {
                None => db.run(&[name, key]),
                Some(c) => db.run(&[name, key, c.to_string().as_bytes()]),
            };
            let want = match count {
                None => opt_bulk(popped.first()),
                Some(_) if model.is_empty() && popped.is_empty() => b"*-1\r\n".to_vec(),
                Some(_) => array(&popped),
            };
            assert_eq!(got, want, "{} {count:?}", String::from_utf8_lossy(name));
        }
        BigOp::LPush(values) | BigOp::RPush(values) => {
            let left = matches!(op, BigOp::LPush(_));
            let mut argv = vec![
                if left {
                    b"LPUSH".to_vec()
                } else {
                    b"RPUSH".to_vec()
                },
                key.to_vec(),
            ];
            for &v in values {
                argv.push(item(v));
                if left {
                    model.push_front(item(v));
                } else {
                    model.push_back(item(v));
                }
            }
            let got = db.run_all(&[argv]).remove(0);
            assert_eq!(got, int(model.len() as i64));
        }
        BigOp::Set(i, v) => {
            let got = db.run(&[b"LSET", key, i.to_string().as_bytes(), &item(*v)]);
            let want: Vec<u8> = if model.is_empty() {
                b"-ERR no such key\r\n".to_vec()
            } else if let Some(i) = model_index(model.len(), *i) {
                model[i] = item(*v);
                b"+OK\r\n".to_vec()
            } else {
                b"-ERR index out of range\r\n".to_vec()
            };
            assert_eq!(got, want, "LSET {i}");
        }
        BigOp::Range(s, e) => {
            let got = db.run(&[
                b"LRANGE",
                key,
                s.to_string().as_bytes(),
                e.to_string().as_bytes(),
            ]);
            let (from, n) = model_range(model.len(), *s, *e);
            assert_eq!(got, array(model.range(from..from + n)), "LRANGE {s} {e}");
        }
        BigOp::Len => {
            assert_eq!(db.run(&[b"LLEN", key]), int(model.len() as i64));
        }
        BigOp::Insert(i, after, v) => {
            let Some(pivot) = pick(model, *i) else { return };
            let place: &[u8] = if *after { b"AFTER" } else { b"BEFORE" };
            let got = db.run(&[b"LINSERT", key, place, &pivot, &item(*v)]);
            let at = model.iter().position(|x| *x == pivot).unwrap_or(0);
            model.insert(at + usize::from(*after), item(*v));
            assert_eq!(got, int(model.len() as i64), "LINSERT {i}");
        }
        BigOp::Rem(i, count) => {
            let Some(target) = pick(model, *i) else {
                return;
            };
            let got = db.run(&[b"LREM", key, count.to_string().as_bytes(), &target]);
            let before = model.len();
            let mut hits: Vec<usize> = (0..model.len()).filter(|&j| model[j] == target).collect();
            if *count < 0 {
                hits.reverse();
            }
            if *count != 0 {
                hits.truncate(count.unsigned_abs() as usize);
            }
            hits.sort_unstable();
            for &j in hits.iter().rev() {
                model.remove(j);
            }
            assert_eq!(got, int((before - model.len()) as i64), "LREM {count}");
        }
        BigOp::Pos(i) => {
            let Some(target) = pick(model, *i) else {
                return;
            };
            let got = db.run(&[b"LPOS", key, &target, b"RANK", b"-1"]);
            let last = model.iter().rposition(|x| *x == target).unwrap_or(0);
            assert_eq!(got, int(last as i64), "LPOS");
        }
    }
}

/// The item at index `i` wrapped into the list, if it has any.
fn pick(model: &VecDeque<Vec<u8>>, i: usize) -> Option<Vec<u8>> {
    (!model.is_empty()).then(|| model[i % model.len()].clone())
}

/// Building the list costs ~100k row inserts, which an unoptimised test build runs ~40 times
/// slower than a release one: fewer cases there.
const BIG_CASES: u32 = if cfg!(debug_assertions) { 2 } else { 8 };

proptest! {
    #![proptest_config(ProptestConfig { cases: BIG_CASES, ..ProptestConfig::default() })]

    #[test]
    fn a_100k_item_list_matches_a_vecdeque(ops in proptest::collection::vec(big_op(), 30..70)) {
        let mut db = Db::new();
        let mut model: VecDeque<Vec<u8>> = (0..BIG as u32).map(item).collect();
        build(&mut db, b"big", model.make_contiguous());
        assert_eq!(db.run(&[b"LLEN", b"big"]), int(BIG as i64));
        for op in &ops {
            check_big(&mut db, &mut model, op);
        }
        // Both ends and the middle, after everything.
        for i in [0i64, 1, -1, -2, model.len() as i64 / 2] {
            check_big(&mut db, &mut model, &BigOp::Index(i));
        }
        let exists = db.run(&[b"EXISTS", b"big"]);
        assert_eq!(exists, int(i64::from(!model.is_empty())));
        let checked = db.engine.check_integrity();
        prop_assert!(checked.is_ok(), "{:?}", checked);
    }
}

#[derive(Debug, Clone)]
enum EditOp {
    Insert(bool, u8, u8),
    Rem(i64, u8),
    Trim(i64, i64),
    Set(i64, u8),
    Move(bool, bool),
    LPush(u8),
    RPush(u8),
    LPop(u64),
    RPop(u64),
}

fn letter() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(b'd')]
}

fn edit_op() -> impl Strategy<Value = EditOp> {
    prop_oneof![
        4 => (any::<bool>(), letter(), letter()).prop_map(|(a, p, v)| EditOp::Insert(a, p, v)),
        4 => (-4i64..5, letter()).prop_map(|(c, v)| EditOp::Rem(c, v)),
        1 => (-70i64..70, -70i64..70).prop_map(|(s, e)| EditOp::Trim(s, e)),
        1 => (-70i64..70, letter()).prop_map(|(i, v)| EditOp::Set(i, v)),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(f, t)| EditOp::Move(f, t)),
        2 => letter().prop_map(EditOp::LPush),
        2 => letter().prop_map(EditOp::RPush),
        1 => (0u64..4).prop_map(EditOp::LPop),
        1 => (0u64..4).prop_map(EditOp::RPop),
    ]
}

fn apply_edit(db: &mut Db, model: &mut VecDeque<Vec<u8>>, op: &EditOp) {
    let key: &[u8] = b"l";
    let end = |left: bool| -> &'static [u8] {
        if left {
            b"LEFT"
        } else {
            b"RIGHT"
        }
    };
    let (got, want) = match op {
        EditOp::Insert(after, pivot, v) => {
            let place: &[u8] = if *after { b"AFTER" } else { b"BEFORE" };
            let got = db.run(&[b"LINSERT", key, place, &one(*pivot), &one(*v)]);
            let want = if model.is_empty() {
                int(0)
            } else if let Some(i) = model.iter().position(|x| x == &one(*pivot)) {
                model.insert(i + usize::from(*after), one(*v));
                int(model.len() as i64)
            } else {
                int(-1)
            };
            (got, want)
        }
        EditOp::Rem(count, v) => {
            let got = db.run(&[b"LREM", key, count.to_string().as_bytes(), &one(*v)]);
            let limit = if *count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut hits: Vec<usize> = model
                .iter()
                .enumerate()
                .filter(|(_, x)| **x == one(*v))
                .map(|(i, _)| i)
                .collect();
            if *count < 0 {
                hits.reverse();
            }
            hits.truncate(limit);
            hits.sort_unstable();
            for &i in hits.iter().rev() {
                model.remove(i);
            }
            (got, int(hits.len() as i64))
        }
        EditOp::Trim(s, e) => {
            let got = db.run(&[
                b"LTRIM",
                key,
                s.to_string().as_bytes(),
                e.to_string().as_bytes(),
            ]);
            let (from, n) = model_range(model.len(), *s, *e);
            *model = model.range(from..from + n).cloned().collect();
            (got, b"+OK\r\n".to_vec())
        }
        EditOp::Set(i, v) => {
            let got = db.run(&[b"LSET", key, i.to_string().as_bytes(), &one(*v)]);
            let want = if model.is_empty() {
                b"-ERR no such key\r\n".to_vec()
            } else if let Some(i) = model_index(model.len(), *i) {
                model[i] = one(*v);
                b"+OK\r\n".to_vec()
            } else {
                b"-ERR index out of range\r\n".to_vec()
            };
            (got, want)
        }
        EditOp::Move(from_left, to_left) => {
            let got = db.run(&[b"LMOVE", key, key, end(*from_left), end(*to_left)]);
            let moved = if *from_left {
                model.pop_front()
            } else {
                model.pop_back()
            };
            if let Some(m) = &moved {
                if *to_left {
                    model.push_front(m.clone());
                } else {
                    model.push_back(m.clone());
                }
            }
            (got, opt_bulk(moved.as_ref()))
        }
        EditOp::LPush(v) | EditOp::RPush(v) => {
            let left = matches!(op, EditOp::LPush(_));
            let name: &[u8] = if left { b"LPUSH" } else { b"RPUSH" };
            let got = db.run(&[name, key, &one(*v)]);
            if left {
                model.push_front(one(*v));
            } else {
                model.push_back(one(*v));
            }
            (got, int(model.len() as i64))
        }
        EditOp::LPop(n) | EditOp::RPop(n) => {
            let left = matches!(op, EditOp::LPop(_));
            let name: &[u8] = if left { b"LPOP" } else { b"RPOP" };
            let got = db.run(&[name, key, n.to_string().as_bytes()]);
            let want = if model.is_empty() {
                b"*-1\r\n".to_vec()
            } else {
                let mut popped = Vec::new();
                for _ in 0..*n {
                    popped.extend(if left {
                        model.pop_front()
                    } else {
                        model.pop_back()
                    });
                }
                array(&popped)
            };
            (got, want)
        }
    };
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "{op:?}"
    );
    let all = db.run(&[b"LRANGE", key, b"0", b"-1"]);
    assert_eq!(all, array(model.iter()), "contents after {op:?}");
    assert_eq!(
        db.run(&[b"EXISTS", key]),
        int(i64::from(!model.is_empty())),
        "the key goes with its last item"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn middle_edits_match_a_vecdeque(
        initial in proptest::collection::vec(letter(), 0..60),
        ops in proptest::collection::vec(edit_op(), 1..40),
    ) {
        let mut db = Db::new();
        let mut model: VecDeque<Vec<u8>> = initial.iter().map(|&c| one(c)).collect();
        if !model.is_empty() {
            build(&mut db, b"l", model.make_contiguous());
        }
        for op in &ops {
            apply_edit(&mut db, &mut model, op);
            let checked = db.engine.check_integrity();
            prop_assert!(checked.is_ok(), "{:?}: {:?}", op, checked);
        }
    }
}

#[test]
fn nil_replies_follow_the_protocol() {
    let mut db = Db::new();
    let mut run3 = |argv: &[&[u8]]| {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let mut reply = Reply::new();
        reply.set_protocol(Protocol::Resp3);
        let session = &mut db.session;
        db.engine
            .run_group(1, |g| g.execute(session, &argv, &mut reply))
            .expect("in-memory group commits");
        reply.take()
    };
    assert_eq!(run3(&[b"LPOP", b"missing"]), b"_\r\n");
    assert_eq!(run3(&[b"LPOP", b"missing", b"2"]), b"_\r\n");
    assert_eq!(run3(&[b"LMPOP", b"1", b"missing", b"LEFT"]), b"_\r\n");
    assert_eq!(run3(&[b"LINDEX", b"missing", b"0"]), b"_\r\n");
    assert_eq!(
        run3(&[b"LMOVE", b"missing", b"x", b"LEFT", b"LEFT"]),
        b"_\r\n"
    );
    assert_eq!(run3(&[b"LPOS", b"missing", b"a"]), b"_\r\n");
    assert_eq!(
        run3(&[b"LPOS", b"missing", b"a", b"COUNT", b"0"]),
        b"*0\r\n"
    );
    let mut db = Db::new();
    assert_eq!(db.run(&[b"LPOP", b"missing"]), b"$-1\r\n");
    assert_eq!(db.run(&[b"LPOP", b"missing", b"2"]), b"*-1\r\n");
    assert_eq!(db.run(&[b"RPUSH", b"l", b"a"]), int(1));
    assert_eq!(db.run(&[b"LPOP", b"l", b"0"]), b"*0\r\n");
}

#[test]
fn lists_survive_reopen_and_replay() {
    let dir = std::env::temp_dir().join(format!("diskdb-lists-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = || diskdb_core::EngineConfig {
        store: diskdb_core::Store::Dir(dir.clone()),
        ..diskdb_core::EngineConfig::default()
    };
    let run = |engine: &mut Engine, argv: &[&[u8]]| {
        let mut session = Session::default();
        let mut reply = Reply::new();
        let _ = engine.execute(1, &mut session, &argv.to_vec(), &mut reply);
        reply.take()
    };
    {
        let mut e = Engine::open(config()).expect("opens");
        run(&mut e, &[b"RPUSH", b"l", b"a", b"b", b"c", b"d"]);
        run(&mut e, &[b"LPUSH", b"l", b"z"]);
        run(&mut e, &[b"LINSERT", b"l", b"AFTER", b"b", b"x"]);
        run(&mut e, &[b"LREM", b"l", b"1", b"a"]);
        run(&mut e, &[b"LMOVE", b"l", b"m", b"RIGHT", b"LEFT"]);
        // Dropped without a checkpoint: the log replays every command.
    }
    let mut e = Engine::open(config()).expect("reopens");
    let want = array(&[b"z".to_vec(), b"b".to_vec(), b"x".to_vec(), b"c".to_vec()]);
    assert_eq!(run(&mut e, &[b"LRANGE", b"l", b"0", b"-1"]), want);
    assert_eq!(
        run(&mut e, &[b"LRANGE", b"m", b"0", b"-1"]),
        array(&[b"d".to_vec()])
    );
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}
