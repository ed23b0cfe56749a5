//! Faults the real server must survive: a full disk (writes fail with a clear `MISCONF disk
//! full` reply, reads keep working, nothing acknowledged is lost, and writes resume by themselves
//! once space is freed), and damaged files at start (a clear message and a non-zero exit, never
//! a panic; a torn or truncated log tail is accepted and replayed up to its last whole record).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{temp_dir, Server};
use redis::Commands;

/// A small tmpfs mounted for one test (we run as root here and in CI), unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// `None` (the test is skipped) where mounting is not allowed, except under CI.
    fn mount(tag: &str, size_mb: u32) -> Option<Tmpfs> {
        let path = temp_dir(tag);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir_all(&path);
            assert!(
                std::env::var_os("CI").is_none(),
                "mounting a tmpfs is required when CI is set (run as root)"
            );
            eprintln!("skipped: cannot mount a tmpfs (not root?)");
            return None;
        }
        Some(Tmpfs { path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Writes zeros to `path` until the filesystem refuses more.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.flush();
}

fn get(con: &mut redis::Connection, key: &str) -> Option<String> {
    con.get(key).unwrap()
}

#[test]
fn a_full_disk_refuses_writes_clearly_keeps_reads_and_heals_when_space_returns() {
    // The filler takes whatever room is left, so the size only matters once it is gone: the
    // restart at the end replays the log (which still holds what the failed checkpoints could
    // not write) into the database file, which grows by about as much while the log keeps its
    // space. 24 MB was not always enough for that once redb stopped committing at every tick.
    let Some(fs) = Tmpfs::mount("diskfull", 64) else {
        return;
    };
    let dir = fs.path.join("data");
    let mut server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    assert!(dir.join("diskdb.reserve").exists(), "no reserve file");
    let mut acked: Vec<(String, String)> = Vec::new();
    for i in 0..50 {
        let (k, v) = (format!("before:{i}"), format!("v{i}"));
        let _: () = con.set(&k, &v).unwrap();
        acked.push((k, v));
    }
    let filler = fs.path.join("filler");
    fill(&filler);

    // The log has room left in its preallocated file; writes go on until it needs more.
    let big = "x".repeat(64 * 1024);
    let mut refusal = None;
    for i in 0..600 {
        let key = format!("big:{i}");
        match con.set::<_, _, ()>(&key, &big) {
            Ok(()) => acked.push((key, big.clone())),
            Err(err) => {
                refusal = Some(err);
                break;
            }
        }
        if i % 40 == 39 {
            // Let background checkpoints run (and fail) against the full disk.
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
    }
    let err = refusal.expect("a write failed once the disk was full");
    assert_eq!(err.code(), Some("MISCONF"), "{err}");
    assert!(err.to_string().contains("disk full"), "{err}");
    println!("disk full after {} acknowledged writes: {err}", acked.len());

    // Reads keep working, before and after a failed background checkpoint.
    for round in 0..2 {
        for (k, v) in acked.iter().step_by(7) {
            assert_eq!(
                get(&mut con, k).as_deref(),
                Some(v.as_str()),
                "round {round}"
            );
        }
        let refused: redis::RedisResult<()> = con.set("refused", &big);
        assert!(refused.is_err(), "a write succeeded on a full disk");
        std::thread::sleep(std::time::Duration::from_millis(1200));
    }
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
    let keys: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(keys >= acked.len() as i64, "DBSIZE {keys}");

    // An idle server on a full disk waits: it does not spin.
    let cpu = |server: &Server| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let before = cpu(&server);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let ticks = cpu(&server) - before;
    assert!(
        ticks < 150,
        "{ticks} clock ticks of CPU in 3 s on a full disk"
    );

    // A restart on the full disk opens the data: reads work, writes are refused.
    server.crash();
    server = Server::start_in(&dir, &[]);
    con = server.client();
    for (k, v) in acked.iter().step_by(11) {
        assert_eq!(
            get(&mut con, k).as_deref(),
            Some(v.as_str()),
            "{k} after restart"
        );
    }
    let refused: redis::RedisResult<()> = con.set("refused", "x");
    assert_eq!(refused.unwrap_err().code(), Some("MISCONF"));

    // Space returns: writes succeed again within a second or two, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match con.set::<_, _, ()>("after", "freed") {
            Ok(()) => break,
            Err(err) if std::time::Instant::now() < deadline => {
                assert_eq!(err.code(), Some("MISCONF"), "{err}");
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(err) => panic!("writes did not resume once space returned: {err}"),
        }
    }
    acked.push(("after".into(), "freed".into()));
    for (k, v) in &acked {
        assert_eq!(get(&mut con, k).as_deref(), Some(v.as_str()), "{k} lost");
    }

    // And nothing acknowledged is lost across a crash either.
    server.crash();
    let server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    for (k, v) in &acked {
        assert_eq!(
            get(&mut con, k).as_deref(),
            Some(v.as_str()),
            "{k} lost after restart"
        );
    }
    drop(server);
}

/// Builds a data directory: 200 strings, a hash and a sorted set, checkpointed by a clean
/// shutdown; with `crash`, 100 more strings (`late:N`) live only in the log.
fn make_data(tag: &str, crash: bool) -> PathBuf {
    let dir = temp_dir(tag);
    let mut server = Server::start_in(&dir, &[]);
    let mut con = server.client();
    for i in 0..200 {
        let _: () = con.set(format!("k{i}"), "v".repeat(100)).unwrap();
    }
    let fields: Vec<(String, String)> =
        (0..50).map(|i| (format!("f{i}"), format!("{i}"))).collect();
    let _: () = con.hset_multiple("h", &fields).unwrap();
    let members: Vec<(i64, String)> = (0..50).map(|i| (i, format!("m{i}"))).collect();
    let _: () = con.zadd_multiple("z", &members).unwrap();
    if crash {
        assert!(server.terminate().success());
        let mut server = Server::start_in(&dir, &[]);
        let mut con = server.client();
        for i in 0..100 {
            let _: () = con.set(format!("late:{i}"), i).unwrap();
        }
        server.crash();
    } else {
        assert!(server.terminate().success());
    }
    dir
}

/// Copies a data directory, applies `damage` to one of its files, and starts the server on it.
fn start_damaged(
    good: &Path,
    tag: &str,
    file: &str,
    damage: impl FnOnce(&mut Vec<u8>),
) -> (PathBuf, std::process::Output) {
    start_damaged_with(good, tag, file, &[], damage)
}

/// [`start_damaged`] with extra server arguments.
fn start_damaged_with(
    good: &Path,
    tag: &str,
    file: &str,
    extra: &[&str],
    damage: impl FnOnce(&mut Vec<u8>),
) -> (PathBuf, std::process::Output) {
    let dir = temp_dir(tag);
    for name in ["diskdb.redb", "diskdb.wal", "diskdb.seal"] {
        if good.join(name).exists() {
            std::fs::copy(good.join(name), dir.join(name)).unwrap();
        }
    }
    let mut bytes = std::fs::read(dir.join(file)).unwrap();
    damage(&mut bytes);
    std::fs::write(dir.join(file), &bytes).unwrap();
    // A port already taken: the server exits right after opening the data if it could, or with
    // the storage error if not, so no test waits on a running server.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_diskdb-server"))
        .args(["--port", &port, "--dir", dir.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (dir, out)
}

fn assert_refused_clearly(out: &std::process::Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: started");
    assert_ne!(out.status.code(), Some(101), "{what}: panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("diskdb.redb") || last.contains("diskdb.wal") || last.contains("damaged"),
        "{what}: unclear message: {stderr}"
    );
}

/// Outcome of a start on a damaged copy: refused clearly, or it opened the data (then it failed
/// only to bind the taken port).
fn opened(out: &std::process::Output, what: &str) -> bool {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what}: panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    if stderr.contains("cannot listen on") {
        return true;
    }
    assert_refused_clearly(out, what);
    false
}

#[test]
fn a_truncated_database_file_is_refused_clearly() {
    let good = make_data("trunc-good", false);
    let len = std::fs::metadata(good.join("diskdb.redb")).unwrap().len() as usize;
    let mut tried = 0;
    for cut in [
        1,
        100,
        511,
        512,
        4096,
        len / 4,
        len / 2,
        len - 4096,
        len - 1,
    ] {
        let what = format!("diskdb.redb truncated to {cut} of {len} bytes");
        let (dir, out) = start_damaged(&good, "trunc", "diskdb.redb", |b| b.truncate(cut));
        assert_refused_clearly(&out, &what);
        let _ = std::fs::remove_dir_all(&dir);
        tried += 1;
    }
    println!("{tried} truncations of a {len}-byte database refused clearly");
    let _ = std::fs::remove_dir_all(&good);
}

#[test]
fn an_empty_database_file_beside_a_log_with_writes_is_refused() {
    let good = make_data("lost-good", true);
    let (dir, out) = start_damaged(&good, "lost", "diskdb.redb", |b| b.clear());
    assert_refused_clearly(&out, "an empty diskdb.redb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("was lost or replaced"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&good);
}

#[test]
fn flipped_bytes_in_the_database_file_never_crash_the_start() {
    let good = make_data("flip-good", false);
    let len = std::fs::metadata(good.join("diskdb.redb")).unwrap().len() as usize;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let (mut opened_n, mut refused_n) = (0, 0);
    for round in 0..16 {
        let what = format!("diskdb.redb with 8 flipped bytes (round {round})");
        let (dir, out) = start_damaged(&good, "flip", "diskdb.redb", |b| {
            for _ in 0..8 {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                let at = (rng >> 33) as usize % len;
                b[at] ^= 0xff;
            }
        });
        if opened(&out, &what) {
            opened_n += 1;
        } else {
            refused_n += 1;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("16 damaged databases: {refused_n} refused clearly, {opened_n} opened, none panicked");
    let _ = std::fs::remove_dir_all(&good);
}

#[test]
fn a_database_file_damaged_while_stopped_is_refused_or_serves_only_right_values() {
    let good = make_data("stopped-good", false);
    assert!(
        good.join("diskdb.seal").exists(),
        "a clean shutdown seals the file"
    );
    // Flips land in pages that hold something (most of a small file is free space).
    let file = std::fs::read(good.join("diskdb.redb")).unwrap();
    let used: Vec<usize> = (0..file.len() / 4096)
        .filter(|p| file[p * 4096..(p + 1) * 4096].iter().any(|&b| b != 0))
        .collect();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let (mut refused, mut served, mut errors) = (0, 0, 0);
    for round in 0..24 {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
        let page = used[(rng >> 40) as usize % used.len()];
        let (at, bit) = (
            page * 4096 + (rng >> 20) as usize % 4096,
            (rng >> 10) as u8 % 8,
        );
        let what = format!("diskdb.redb with bit {bit} of byte {at} flipped (round {round})");
        let (dir, out) = start_damaged(&good, "stopped", "diskdb.redb", |b| b[at] ^= 1 << bit);
        if !opened(&out, &what) {
            refused += 1;
            let stderr = String::from_utf8_lossy(&out.stderr);
            // A refusal stands: the next start refuses too.
            let (again, out) = start_damaged(&dir, "stopped-again", "diskdb.redb", |_| {});
            if stderr.contains("changed while DiskDB was stopped") {
                assert!(!opened(&out, &what), "{what}: refused once, then started");
            }
            let _ = std::fs::remove_dir_all(&again);
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let server = Server::start_in(&dir, &[]);
        let mut con = server.client();
        for i in 0..200 {
            match redis::cmd("GET")
                .arg(format!("k{i}"))
                .query::<Option<String>>(&mut con)
            {
                Ok(v) => assert_eq!(v, Some("v".repeat(100)), "{what}: k{i}"),
                Err(_) => errors += 1,
            }
        }
        match con.hgetall::<_, Vec<(String, String)>>("h") {
            Ok(mut h) => {
                h.sort();
                let mut want: Vec<(String, String)> =
                    (0..50).map(|i| (format!("f{i}"), format!("{i}"))).collect();
                want.sort();
                assert_eq!(h, want, "{what}: h");
            }
            Err(_) => errors += 1,
        }
        match con.zrange_withscores::<_, Vec<(String, i64)>>("z", 0, -1) {
            Ok(z) => {
                let want: Vec<(String, i64)> = (0..50).map(|i| (format!("m{i}"), i)).collect();
                assert_eq!(z, want, "{what}: z");
            }
            Err(_) => errors += 1,
        }
        served += 1;
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "24 databases damaged while stopped: {refused} refused, {served} served only right values ({errors} reads answered an error)"
    );
    let _ = std::fs::remove_dir_all(&good);
}

/// The `late:N` keys present after a start: always a prefix `0..n` of the logged writes.
fn late_prefix(dir: &Path, what: &str) -> usize {
    let server = Server::start_in(dir, &[]);
    let mut con = server.client();
    let present: Vec<bool> = (0..100)
        .map(|i| con.exists(format!("late:{i}")).unwrap())
        .collect();
    let n = present.iter().take_while(|&&p| p).count();
    assert!(
        present[n..].iter().all(|&p| !p),
        "{what}: replay skipped a record: {present:?}"
    );
    assert_eq!(get(&mut con, "k0").map(|v| v.len()), Some(100), "{what}");
    assert_eq!(con.hlen::<_, i64>("h").unwrap(), 50, "{what}");
    n
}

/// Where the current records of a log end: `[len u32][crc u32][lsn u64]...` from byte 16, while
/// sequence numbers rise (older records from before a rewind may follow).
fn records_end(wal: &[u8]) -> usize {
    let (mut pos, mut last) = (16, 0u64);
    while let Some(head) = wal.get(pos..pos + 16) {
        let len = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
        let lsn = u64::from_le_bytes(head[8..16].try_into().unwrap());
        if len == 0 || lsn <= last || pos + 8 + len > wal.len() {
            break;
        }
        (pos, last) = (pos + 8 + len, lsn);
    }
    pos
}

#[test]
fn a_torn_or_corrupt_log_replays_up_to_its_last_whole_record() {
    let good = make_data("wal-good", true);
    let wal = std::fs::read(good.join("diskdb.wal")).unwrap();
    let end = records_end(&wal);
    let (full, _) = start_damaged(&good, "wal-full", "diskdb.wal", |_| {});
    assert_eq!(late_prefix(&full, "an intact log"), 100);
    let mut report = Vec::new();
    let cuts = [16, 17, 40, end / 3, end / 2, end - 9, end - 1];
    for cut in cuts {
        let what = format!("diskdb.wal cut at {cut} of {end} bytes");
        let (dir, out) = start_damaged(&good, "wal-cut", "diskdb.wal", |b| b.truncate(cut));
        assert!(opened(&out, &what), "{what}: refused");
        report.push(late_prefix(&dir, &what));
        let _ = std::fs::remove_dir_all(&dir);
    }
    // The last record damaged: indistinguishable from a crash while it was written.
    let at = end - 5;
    let what = format!("diskdb.wal with a flipped byte at {at}");
    let (dir, out) = start_damaged(&good, "wal-flip", "diskdb.wal", |b| b[at] ^= 0x55);
    assert!(opened(&out, &what), "{what}: refused");
    report.push(late_prefix(&dir, &what));
    let _ = std::fs::remove_dir_all(&dir);
    println!("late writes replayed after each cut / flip: {report:?}");
    let _ = std::fs::remove_dir_all(&full);
    let _ = std::fs::remove_dir_all(&good);
}

#[test]
fn damage_in_the_middle_of_the_log_is_refused_unless_told_to_truncate() {
    let good = make_data("wal-mid", true);
    let wal = std::fs::read(good.join("diskdb.wal")).unwrap();
    let end = records_end(&wal);
    for at in [end / 4, end / 2] {
        // Later records were written after this one was known to be on disk: real damage.
        let what = format!("diskdb.wal with a flipped byte at {at}");
        let (dir, out) = start_damaged(&good, "wal-mid-flip", "diskdb.wal", |b| b[at] ^= 0x55);
        assert_refused_clearly(&out, &what);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is damaged at byte"), "{what}: {stderr}");
        assert!(stderr.contains("--log-damage truncate"), "{what}: {stderr}");
        let _ = std::fs::remove_dir_all(&dir);

        let flags = ["--log-damage", "truncate"];
        let (dir, out) = start_damaged_with(&good, "wal-mid-trunc", "diskdb.wal", &flags, |b| {
            b[at] ^= 0x55
        });
        assert!(opened(&out, &what), "{what}: refused with truncate");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("acknowledged records after the damage were dropped"),
            "{stderr}"
        );
        let copies = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("diskdb.wal.damaged-")
            })
            .count();
        assert_eq!(copies, 1, "{what}: the damaged log was not copied aside");
        let n = late_prefix(&dir, &what);
        assert!(n < 100, "{what}: {n} late writes");
        // `--check` of the damaged original says so; of the truncated directory, sound.
        let check = |dir: &Path| {
            Command::new(env!("CARGO_BIN_EXE_diskdb-server"))
                .args(["--check", "--dir", dir.to_str().unwrap()])
                .output()
                .unwrap()
        };
        let out = check(&dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut damaged = wal.clone();
    damaged[end / 2] ^= 0x55;
    let dir = temp_dir("wal-mid-check");
    std::fs::copy(good.join("diskdb.redb"), dir.join("diskdb.redb")).unwrap();
    std::fs::write(dir.join("diskdb.wal"), &damaged).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_diskdb-server"))
        .args(["--check", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "--check passed a damaged log: {stdout}"
    );
    assert!(stdout.contains("is damaged at byte"), "{stdout}");
    assert_eq!(
        std::fs::read(dir.join("diskdb.wal")).unwrap(),
        damaged,
        "--check changed the log"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&good);
}

#[test]
fn a_damaged_log_header_is_refused() {
    let good = make_data("wal-head-good", true);
    let (dir, out) = start_damaged(&good, "wal-head", "diskdb.wal", |b| b[3] ^= 1);
    assert_refused_clearly(&out, "a damaged log header");
    let _ = std::fs::remove_dir_all(&dir);
    let (dir, out) = start_damaged(&good, "wal-short", "diskdb.wal", |b| b.truncate(5));
    assert_refused_clearly(&out, "a log shorter than its header");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&good);
}
