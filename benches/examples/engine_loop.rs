//! Runs one redis-benchmark-like workload through the engine, in groups of 800 commands (50
//! clients × 16 pipelined), on the file store: for instruction counts under callgrind
//! (`valgrind --tool=callgrind target/release/examples/engine_loop ZADD 50000`), which other
//! load on the machine cannot move, unlike timings. `ENGINE_LOOP_GROUP=1` runs one command per
//! job instead, like a single client without pipelining.

use diskdb_core::protocol::Reply;
use diskdb_core::{Durability, Engine, EngineConfig, Session, Store};

fn main() {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "SET".into()).to_uppercase();
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let dir = std::env::temp_dir().join(format!("diskdb-engine-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut engine = Engine::open(EngineConfig {
        store: Store::Dir(dir.clone()),
        durability: Durability::No,
        cache_bytes: 64 * 1024 * 1024,
        ..EngineConfig::default()
    })
    .expect("open the file store");
    let mut session = Session::default();
    let mut reply = Reply::new();
    // A fixed sequence of "random" ints in 0..100 000, as redis-benchmark's -r 100000.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % 100_000
    };
    let mut now = 1_700_000_000_000i64;
    if command == "LRANGE_100" {
        engine
            .execute_job(now, |g| {
                for _ in 0..1000 {
                    let argv = vec![b"LPUSH".to_vec(), b"mylist".to_vec(), b"xxx".to_vec()];
                    g.execute(&mut session, &argv, &mut reply);
                }
            })
            .expect("the list fills");
        reply.truncate(0);
    }
    // Commands per job: 800 by default; `ENGINE_LOOP_GROUP=1` is one client without pipelining.
    let per_job: u64 = std::env::var("ENGINE_LOOP_GROUP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(800);
    let mut done = 0;
    while done < n {
        let group = (n - done).min(per_job);
        let argvs: Vec<Vec<Vec<u8>>> = (0..group)
            .map(|_| {
                let r = format!("{:012}", rand()).into_bytes();
                let e = [b"element:".as_slice(), &r].concat();
                let k = [b"key:".as_slice(), &r].concat();
                match command.as_str() {
                    "SET" => vec![b"SET".to_vec(), k, b"xxx".to_vec()],
                    "GET" => vec![b"GET".to_vec(), k],
                    "SADD" => vec![b"SADD".to_vec(), b"myset".to_vec(), e],
                    "HSET" => vec![b"HSET".to_vec(), b"myhash".to_vec(), e, b"xxx".to_vec()],
                    // redis-benchmark draws each `__rand_int__` of a command apart: the score
                    // is not the member's number, so most ZADDs move a member.
                    "ZADD" => {
                        let score = rand().to_string().into_bytes();
                        vec![b"ZADD".to_vec(), b"myzset".to_vec(), score, e]
                    }
                    "LPUSH" => vec![b"LPUSH".to_vec(), b"mylist".to_vec(), b"xxx".to_vec()],
                    "INCR" => vec![b"INCR".to_vec(), [b"counter:".as_slice(), &r].concat()],
                    // redis-benchmark's LRANGE_100 reads a list its LPUSH test filled first.
                    "LRANGE_100" => vec![
                        b"LRANGE".to_vec(),
                        b"mylist".to_vec(),
                        b"0".to_vec(),
                        b"99".to_vec(),
                    ],
                    other => panic!("unknown workload {other}"),
                }
            })
            .collect();
        now += 1;
        engine
            .execute_job(now, |g| {
                for argv in &argvs {
                    g.execute(&mut session, argv, &mut reply);
                }
            })
            .expect("the group runs");
        engine.commit().expect("the group commits");
        reply.truncate(0);
        done += group;
    }
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}
