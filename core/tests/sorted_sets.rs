//! Sorted sets and sets through the engine: ranks on a large set against a model (the rank index
//! spans hundreds of blocks), and SPOP's logged outcome surviving a restart.

use std::time::Instant;

use diskdb_core::protocol::Reply;
use diskdb_core::{Engine, EngineConfig, Session, Store};

fn run(engine: &mut Engine, args: &[&[u8]]) -> Vec<u8> {
    let mut session = Session::default();
    let mut reply = Reply::new();
    engine
        .execute(1, &mut session, &args.to_vec(), &mut reply)
        .expect("storage");
    reply.take()
}

fn run_str(engine: &mut Engine, args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    run(engine, &args)
}

fn bulk(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
}

/// The RESP2 reply of a ZRANGE ... WITHSCORES over `items`.
fn expected_range(items: &[(u64, String)]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len() * 2).into_bytes();
    for (score, member) in items {
        bulk(&mut out, member);
        bulk(&mut out, &score.to_string());
    }
    out
}

/// Members with scores that repeat and do not follow the member order, so the score order
/// interleaves members; sorted like Redis's skiplist (score, then member).
fn model(n: u64) -> Vec<(u64, String)> {
    let mut items: Vec<(u64, String)> = (0..n)
        .map(|i| ((i * 7919) % 50_021, format!("m{i:07}")))
        .collect();
    items.sort();
    items
}

fn check_ranks(engine: &mut Engine, items: &[(u64, String)]) {
    let n = items.len();
    let card = run_str(engine, &["ZCARD", "big"]);
    assert_eq!(card, format!(":{n}\r\n").into_bytes());
    let step = (n / 97).max(1);
    for rank in (0..n).step_by(step).chain([n - 1]) {
        let member = &items[rank].1;
        let got = run_str(engine, &["ZRANK", "big", member]);
        assert_eq!(got, format!(":{rank}\r\n").into_bytes(), "ZRANK {member}");
        let got = run_str(engine, &["ZREVRANK", "big", member]);
        assert_eq!(got, format!(":{}\r\n", n - 1 - rank).into_bytes());
    }
    for (start, stop) in [(0, 4), (511, 515), (n / 2, n / 2 + 9), (n - 5, n - 1)] {
        let got = run_str(
            engine,
            &[
                "ZRANGE",
                "big",
                &start.to_string(),
                &stop.to_string(),
                "WITHSCORES",
            ],
        );
        assert_eq!(
            got,
            expected_range(&items[start..=stop]),
            "ZRANGE {start} {stop}"
        );
    }
    // Negative indexes and REV count from the end.
    let got = run_str(engine, &["ZRANGE", "big", "-3", "-1", "WITHSCORES"]);
    assert_eq!(got, expected_range(&items[n - 3..]));
    let got = run_str(
        engine,
        &["ZRANGE", "big", "1000", "1002", "REV", "WITHSCORES"],
    );
    let mut rev: Vec<(u64, String)> = items[n - 1003..n - 1000].to_vec();
    rev.reverse();
    assert_eq!(got, expected_range(&rev));
}

fn zadd_all(engine: &mut Engine, items: &[(u64, String)]) -> Vec<u8> {
    let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"big".to_vec()];
    for (score, member) in items {
        args.push(score.to_string().into_bytes());
        args.push(member.clone().into_bytes());
    }
    let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    run(engine, &args)
}

#[test]
fn ranks_and_rank_ranges_on_a_large_sorted_set() {
    const N: u64 = 200_000;
    let mut engine = Engine::memory();
    let mut items = model(N);
    // One ZADD creates the key: the rank index is written block by block (~400 blocks).
    let started = Instant::now();
    assert_eq!(
        zadd_all(&mut engine, &items),
        format!(":{N}\r\n").into_bytes()
    );
    eprintln!("ZADD of {N} members: {:?}", started.elapsed());
    let started = Instant::now();
    check_ranks(&mut engine, &items);
    eprintln!("rank checks: {:?}", started.elapsed());

    // Each ZRANK sums block counts (a few hundred rows) and walks one block, whatever the rank.
    let started = Instant::now();
    for rank in [0, N as usize / 2, N as usize - 1] {
        for _ in 0..20 {
            run_str(&mut engine, &["ZRANK", "big", &items[rank].1]);
        }
    }
    eprintln!("60 ZRANKs: {:?}", started.elapsed());

    // Then one element at a time: new members land in existing blocks (which split), ...
    let started = Instant::now();
    let extra: Vec<(u64, String)> = (0..3000u64)
        .map(|i| ((i * 104_729) % 50_021, format!("n{i:07}")))
        .collect();
    for chunk in extra.chunks(1000) {
        assert_eq!(zadd_all(&mut engine, chunk), b":1000\r\n");
    }
    items.extend(extra);
    items.sort();
    check_ranks(&mut engine, &items);
    // ... a band of ranks goes (whole blocks go, the blocks at its edges shrink and merge), ...
    let got = run_str(&mut engine, &["ZREMRANGEBYRANK", "big", "1000", "5999"]);
    assert_eq!(got, b":5000\r\n");
    items.drain(1000..6000);
    check_ranks(&mut engine, &items);
    // ... and updates move members across blocks, including to either end.
    for (score, member) in [(70_000, "m0000001"), (0, "m0150000"), (60_000, "n0000002")] {
        run_str(&mut engine, &["ZADD", "big", &score.to_string(), member]);
        if let Some(pos) = items.iter().position(|(_, m)| m == member) {
            items.remove(pos);
        }
        items.push((score, member.to_string()));
    }
    items.sort();
    check_ranks(&mut engine, &items);
    eprintln!("incremental changes: {:?}", started.elapsed());

    // A LIMIT offset deep into a score range is found through the rank index too.
    let got = run_str(
        &mut engine,
        &[
            "ZRANGEBYSCORE",
            "big",
            "-inf",
            "+inf",
            "WITHSCORES",
            "LIMIT",
            "40000",
            "3",
        ],
    );
    assert_eq!(got, expected_range(&items[40_000..40_003]));
    let got = run_str(
        &mut engine,
        &[
            "ZREVRANGEBYSCORE",
            "big",
            "+inf",
            "-inf",
            "WITHSCORES",
            "LIMIT",
            "40000",
            "3",
        ],
    );
    let n = items.len();
    let mut rev = items[n - 40_003..n - 40_000].to_vec();
    rev.reverse();
    assert_eq!(got, expected_range(&rev));
    let got = run_str(&mut engine, &["ZCOUNT", "big", "100", "(30000"]);
    let want = items
        .iter()
        .filter(|(s, _)| (100..30_000).contains(s))
        .count();
    assert_eq!(got, format!(":{want}\r\n").into_bytes());
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("diskdb-sets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn open_dir(dir: &std::path::Path) -> Engine {
    Engine::open(EngineConfig {
        store: Store::Dir(dir.to_path_buf()),
        ..EngineConfig::default()
    })
    .expect("open")
}

/// The members of a RESP2 array reply of bulk strings, sorted.
fn sorted_members(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n").skip(1);
    let mut out = Vec::new();
    while let (Some(_len), Some(value)) = (lines.next(), lines.next()) {
        out.push(value.to_string());
    }
    out.sort();
    out
}

#[test]
fn spop_replays_what_it_removed() {
    let dir = temp_dir("spop");
    let (members, zset) = {
        let mut e = open_dir(&dir);
        let all: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
        let mut args = vec!["SADD", "s"];
        args.extend(all.iter().map(String::as_str));
        assert_eq!(run_str(&mut e, &args), b":200\r\n");
        run_str(&mut e, &["SPOP", "s"]);
        run_str(&mut e, &["SPOP", "s", "20"]);
        run_str(&mut e, &["SPOP", "s", "150"]);
        assert_eq!(run_str(&mut e, &["SCARD", "s"]), b":29\r\n");
        run_str(&mut e, &["SADD", "t", "a", "b"]);
        run_str(&mut e, &["SPOP", "t", "5"]);
        run_str(&mut e, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
        run_str(&mut e, &["ZPOPMIN", "z"]);
        let members = sorted_members(&run_str(&mut e, &["SMEMBERS", "s"]));
        let zset = run_str(&mut e, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]);
        // Dropped without a checkpoint: the reopen replays the log.
        (members, zset)
    };
    let mut e = open_dir(&dir);
    assert_eq!(
        sorted_members(&run_str(&mut e, &["SMEMBERS", "s"])),
        members
    );
    assert_eq!(run_str(&mut e, &["SCARD", "s"]), b":29\r\n");
    assert_eq!(run_str(&mut e, &["EXISTS", "t"]), b":0\r\n");
    assert_eq!(
        run_str(&mut e, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        zset
    );
    assert_eq!(run_str(&mut e, &["ZRANK", "z", "c"]), b":1\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One-member ZADDs on a set past the listpack's limits take the path that passes the set's
/// count to the record cache (a new member then needs no B-tree walk). With a cache small
/// enough to evict member rows, and with members moved, removed and added again, every score
/// and the cardinality match a model, and the keyspace's invariants hold.
#[test]
fn one_member_zadds_on_a_large_set_match_a_model() {
    for cache_bytes in [256 * 1024, 64 * 1024 * 1024] {
        let mut engine = Engine::open(EngineConfig {
            cache_bytes,
            ..EngineConfig::default()
        })
        .expect("opens");
        let mut model = std::collections::BTreeMap::new();
        let mut x: u64 = 12345;
        for step in 0..6000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let member = format!("member:{:04}", (x >> 33) % 2000);
            let score = ((x >> 20) % 1000).to_string();
            if step % 7 == 3 {
                let got = run_str(&mut engine, &["ZREM", "z", &member]);
                let had = model.remove(&member).is_some();
                assert_eq!(got, format!(":{}\r\n", u8::from(had)).into_bytes());
            } else {
                let got = run_str(&mut engine, &["ZADD", "z", &score, &member]);
                let new = model.insert(member.clone(), score.clone()).is_none();
                assert_eq!(got, format!(":{}\r\n", u8::from(new)).into_bytes());
            }
        }
        let card = run_str(&mut engine, &["ZCARD", "z"]);
        assert_eq!(card, format!(":{}\r\n", model.len()).into_bytes());
        for (member, score) in model.iter().step_by(7) {
            let got = run_str(&mut engine, &["ZSCORE", "z", member]);
            assert_eq!(got, format!("${}\r\n{score}\r\n", score.len()).into_bytes());
        }
        engine
            .check_integrity()
            .expect("the keyspace is consistent");
    }
}
