//! Native baseline for the `execute()` figures: the same path the JavaScript `execute()` takes
//! (redis-cli quoting, one command per group, reply decoded) without JavaScript.
//! `cargo run --release -p diskdb-wasm --example core_ops [N]`

use std::time::Instant;

use diskdb_core::protocol::split_args;
use diskdb_wasm::db::{Db, MemoryFile};
use diskdb_wasm::resp;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mut db = match Db::open(MemoryFile::new(), 1, "bench") {
        Ok(db) => db,
        Err(err) => {
            eprintln!("open: {err}");
            std::process::exit(1);
        }
    };
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    };
    for (name, line) in [("SET", "SET key:{i} value-{i}"), ("GET", "GET key:{i}")] {
        let start = Instant::now();
        for i in 0..n {
            let line = line.replace("{i}", &(i % 10_000).to_string());
            let argv = split_args(line.as_bytes()).unwrap_or_default();
            let Ok(shell) = db.shell() else { return };
            let reply = shell.execute(now(), &argv);
            std::hint::black_box(resp::decode(&reply).ok());
        }
        let secs = start.elapsed().as_secs_f64();
        println!("native core {name}: {:.0} ops/s ({n} ops)", n as f64 / secs);
    }
}
