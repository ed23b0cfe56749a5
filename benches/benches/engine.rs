//! Engine throughput: one command per group through `Engine::run_group`, on redb's in-memory
//! store and on the file store (with its write-ahead log; `no` durability so the figure is the
//! engine's, not the disk's fsync).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use diskdb_core::protocol::Reply;
use diskdb_core::{Durability, Engine, EngineConfig, Session, Store};

/// Builds the n-th request of a benchmark case.
type MakeArgv = Box<dyn Fn(u64) -> Vec<Vec<u8>>>;

fn engines() -> Vec<(&'static str, Engine, Option<std::path::PathBuf>)> {
    let dir = std::env::temp_dir().join(format!("diskdb-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = Engine::open(EngineConfig {
        store: Store::Dir(dir.clone()),
        durability: Durability::No,
        cache_bytes: 64 * 1024 * 1024,
        ..EngineConfig::default()
    })
    .expect("open the file store");
    vec![
        ("memory", Engine::memory(), None),
        ("file", file, Some(dir)),
    ]
}

fn commands(c: &mut Criterion) {
    let mut group = c.benchmark_group("execute");
    group.throughput(Throughput::Elements(1));
    for (store, mut engine, dir) in engines() {
        let mut session = Session::default();
        let mut reply = Reply::new();
        let mut now = 1_700_000_000_000i64;
        // Preload keys so GET and HSET hit existing data.
        for i in 0..10_000 {
            let argv = vec![
                b"SET".to_vec(),
                format!("key:{i}").into_bytes(),
                b"value-0123456789".to_vec(),
            ];
            let _ = engine.execute(now, &mut session, &argv, &mut reply);
            reply.truncate(0);
        }
        let cases: Vec<(&str, MakeArgv)> = vec![
            (
                "GET",
                Box::new(|i| vec![b"GET".to_vec(), format!("key:{}", i % 10_000).into_bytes()]),
            ),
            (
                "SET",
                Box::new(|i| {
                    vec![
                        b"SET".to_vec(),
                        format!("key:{}", i % 10_000).into_bytes(),
                        b"value-0123456789".to_vec(),
                    ]
                }),
            ),
            (
                "HSET",
                Box::new(|i| {
                    vec![
                        b"HSET".to_vec(),
                        b"hash".to_vec(),
                        format!("f{}", i % 1000).into_bytes(),
                        b"v".to_vec(),
                    ]
                }),
            ),
            (
                "ZADD",
                Box::new(|i| {
                    vec![
                        b"ZADD".to_vec(),
                        b"zset".to_vec(),
                        (i % 1000).to_string().into_bytes(),
                        format!("m{}", i % 1000).into_bytes(),
                    ]
                }),
            ),
            (
                "LPUSH",
                Box::new(|i| {
                    vec![
                        b"LPUSH".to_vec(),
                        format!("list{}", i % 100).into_bytes(),
                        b"item".to_vec(),
                    ]
                }),
            ),
        ];
        for (name, make) in &cases {
            let mut i = 0u64;
            group.bench_function(format!("{name}/{store}"), |b| {
                b.iter_batched_ref(
                    || {
                        i += 1;
                        make(i)
                    },
                    |argv| {
                        now += 1;
                        let _ = engine.execute(now, &mut session, argv, &mut reply);
                        black_box(reply.len());
                        reply.truncate(0);
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        drop(engine);
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    group.finish();
}

criterion_group!(benches, commands);
criterion_main!(benches);
