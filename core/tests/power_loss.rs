//! Power loss, simulated in-process (after redb's `tests/crash_consistency.rs`): the database
//! file and the write-ahead log live on a simulated disk that keeps each file's synced bytes
//! apart from the writes made since. At a chosen I/O operation the power goes: every later
//! operation fails, and of the unsynced writes an arbitrary subset reaches the disk (each kept
//! whole, dropped, or torn at a 512-byte sector), so a crash can leave holes, torn records and
//! half-written pages. The engine is then reopened on what the disk kept.
//!
//! After every crash: every acknowledged write is there, no key holds a value older than its
//! last acknowledged one (the state is the model's after some prefix of the operations, from
//! the last acknowledged one on), and MULTI/EXEC and MSET batches are all or nothing. Then
//! more writes and another crash on the same disk.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use diskdb_core::protocol::Reply;
use diskdb_core::wal::LogFile;
use diskdb_core::{Durability, Engine, EngineConfig, Session, Store};

/// A small deterministic generator; the seed of a failing run is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

/// One simulated file: what is on disk, and what was written since the last sync.
#[derive(Debug, Default, Clone)]
struct SimFile {
    durable: Vec<u8>,
    /// What reads see: `durable` with `pending` applied.
    current: Vec<u8>,
    pending: Vec<Op>,
}

fn apply(data: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write(offset, bytes) => {
            let (start, end) = (*offset as usize, *offset as usize + bytes.len());
            zero_extend(data, end);
            data[start..end].copy_from_slice(bytes);
        }
        Op::SetLen(len) => {
            data.truncate(*len as usize);
            zero_extend(data, *len as usize);
        }
    }
}

/// Grows `data` with zeros to `len` bytes by copying blocks (a byte loop is slow unoptimised).
fn zero_extend(data: &mut Vec<u8>, len: usize) {
    static ZEROS: [u8; 4096] = [0; 4096];
    while data.len() < len {
        let n = (len - data.len()).min(ZEROS.len());
        data.extend_from_slice(&ZEROS[..n]);
    }
}

#[derive(Debug, Default)]
struct DiskState {
    files: [SimFile; 2],
    /// I/O operations (writes, sizes, syncs) so far, and the one at which the power goes.
    ops: u64,
    fail_at: Option<u64>,
    down: bool,
}

impl DiskState {
    /// Counts an operation; `Err` once the power is gone.
    fn io(&mut self) -> std::io::Result<()> {
        self.ops += 1;
        if self.fail_at.is_some_and(|at| self.ops >= at) {
            self.down = true;
        }
        if self.down {
            return Err(std::io::Error::other("power lost"));
        }
        Ok(())
    }
}

/// The simulated disk shared by the two files and by the test.
#[derive(Debug, Clone, Default)]
struct Disk(Arc<Mutex<DiskState>>);

impl Disk {
    fn file(&self, index: usize) -> SimHandle {
        SimHandle {
            disk: self.clone(),
            index,
        }
    }

    /// Arms the power loss at the `n`th I/O operation from now.
    fn fail_after(&self, n: u64) {
        let mut state = self.0.lock().unwrap();
        state.fail_at = Some(state.ops + n);
    }

    fn is_down(&self) -> bool {
        self.0.lock().unwrap().down
    }

    /// The power went: each file keeps an arbitrary subset of its unsynced writes, in order,
    /// each whole, torn at a sector, or not at all. Then the power returns.
    fn power_loss(&self, rng: &mut Rng) -> (usize, usize) {
        let mut state = self.0.lock().unwrap();
        let (mut kept, mut lost) = (0, 0);
        for file in &mut state.files {
            let mut data = std::mem::take(&mut file.durable);
            for op in std::mem::take(&mut file.pending) {
                match (rng.below(8), &op) {
                    (0..=3, _) => {
                        apply(&mut data, &op);
                        kept += 1;
                    }
                    (4 | 5, Op::Write(offset, bytes)) if bytes.len() > 512 => {
                        let sectors = bytes.len().div_ceil(512) as u64;
                        let cut = (rng.below(sectors) as usize * 512).min(bytes.len());
                        apply(&mut data, &Op::Write(*offset, bytes[..cut].to_vec()));
                        lost += 1;
                    }
                    _ => lost += 1,
                }
            }
            file.durable = data.clone();
            file.current = data;
        }
        state.fail_at = None;
        state.down = false;
        (kept, lost)
    }
}

/// A file of the simulated disk, as redb's backend or as the log.
#[derive(Debug, Clone)]
struct SimHandle {
    disk: Disk,
    index: usize,
}

impl SimHandle {
    fn op(&self, op: Op) -> std::io::Result<()> {
        let mut state = self.disk.0.lock().unwrap();
        state.io()?;
        let file = &mut state.files[self.index];
        apply(&mut file.current, &op);
        file.pending.push(op);
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        let mut state = self.disk.0.lock().unwrap();
        state.io()?;
        let file = &mut state.files[self.index];
        for op in std::mem::take(&mut file.pending) {
            apply(&mut file.durable, &op);
        }
        Ok(())
    }

    fn read_into(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let state = self.disk.0.lock().unwrap();
        if state.down {
            return Err(std::io::Error::other("power lost"));
        }
        let data = &state.files[self.index].current;
        let start = offset as usize;
        let Some(src) = data.get(start..start + out.len()) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end",
            ));
        };
        out.copy_from_slice(src);
        Ok(())
    }
}

impl redb::StorageBackend for SimHandle {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.disk.0.lock().unwrap().files[self.index].current.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.read_into(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.op(Op::SetLen(len))
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.sync()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.op(Op::Write(offset, data.to_vec()))
    }
}

impl LogFile for SimHandle {
    fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        let state = self.disk.0.lock().unwrap();
        if state.down {
            return Err(std::io::Error::other("power lost"));
        }
        Ok(state.files[self.index].current.clone())
    }
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.op(Op::Write(offset, bytes.to_vec()))
    }
    fn sync_data(&mut self) -> std::io::Result<()> {
        self.sync()
    }
    fn sync_all(&mut self) -> std::io::Result<()> {
        self.sync()
    }
    fn set_len(&mut self, len: u64) -> std::io::Result<()> {
        self.op(Op::SetLen(len))
    }
}

fn open(disk: &Disk, durability: Durability) -> Engine {
    Engine::open(EngineConfig {
        store: Store::Files {
            db: Box::new(disk.file(0)),
            log: Box::new(disk.file(1)),
        },
        durability,
        cache_bytes: 1 << 20,
        ..EngineConfig::default()
    })
    .expect("the engine opens on what a power loss left")
}

fn run(engine: &mut Engine, session: &mut Session, now: i64, args: &[&str]) -> Option<Vec<u8>> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut reply = Reply::new();
    engine
        .execute(now, session, &argv, &mut reply)
        .ok()
        .map(|()| reply.take())
}

const KEYS: usize = 8;
const GROUPS: usize = 3;

/// The keyspace as the test writes it: plain keys `k0..k7`, and batch groups whose three keys
/// `bN:0..2` are only ever written together.
type Model = BTreeMap<String, String>;

fn read_state(engine: &mut Engine, now: i64) -> Model {
    let mut session = Session::default();
    let mut state = Model::new();
    let names = (0..KEYS)
        .map(|k| format!("k{k}"))
        .chain((0..GROUPS).flat_map(|g| (0..3).map(move |i| format!("b{g}:{i}"))));
    for key in names {
        let reply = run(engine, &mut session, now, &["GET", &key]).expect("GET after recovery");
        if reply.starts_with(b"$-1") {
            continue;
        }
        let text = String::from_utf8(reply).unwrap();
        let value = text.split("\r\n").nth(1).unwrap().to_string();
        state.insert(key, value);
    }
    state
}

/// One operation on the model, then on the engine; `None` when the engine failed it (the
/// model then holds what it may have written).
fn step(
    engine: &mut Engine,
    rng: &mut Rng,
    model: &mut Model,
    now: i64,
    serial: &mut u64,
) -> Option<()> {
    *serial += 1;
    let value = format!("v{serial}");
    let mut session = Session::default();
    match rng.below(10) {
        0..=4 => {
            let key = format!("k{}", rng.below(KEYS as u64));
            model.insert(key.clone(), value.clone());
            run(engine, &mut session, now, &["SET", &key, &value])?;
        }
        5 => {
            let key = format!("k{}", rng.below(KEYS as u64));
            model.remove(&key);
            run(engine, &mut session, now, &["DEL", &key])?;
        }
        6 => {
            // A long value: records and pages past one sector, so tears land inside them.
            let key = format!("k{}", rng.below(KEYS as u64));
            let long = format!("{value}:{}", "x".repeat(700 + rng.below(1500) as usize));
            model.insert(key.clone(), long.clone());
            run(engine, &mut session, now, &["SET", &key, &long])?;
        }
        7 | 8 => {
            let g = rng.below(GROUPS as u64);
            let keys: Vec<String> = (0..3).map(|i| format!("b{g}:{i}")).collect();
            for k in &keys {
                model.insert(k.clone(), value.clone());
            }
            if rng.below(2) == 0 {
                run(
                    engine,
                    &mut session,
                    now,
                    &["MSET", &keys[0], &value, &keys[1], &value, &keys[2], &value],
                )?;
            } else {
                run(engine, &mut session, now, &["MULTI"])?;
                for k in &keys {
                    run(engine, &mut session, now, &["SET", k, &value])?;
                }
                let exec = run(engine, &mut session, now, &["EXEC"])?;
                assert!(
                    exec.starts_with(b"*3"),
                    "{}",
                    String::from_utf8_lossy(&exec)
                );
            }
        }
        _ => {
            // Checkpoints (and, in `everysec`, the log's sync) at a tick a second later.
            engine.tick(now).ok()?;
        }
    }
    Some(())
}

/// Runs `cycles` crash cycles on one disk; returns (crash points, acknowledged writes checked).
fn crash_cycles(seed: u64, durability: Durability, cycles: usize) -> (usize, usize) {
    let mut rng = Rng(seed);
    let disk = Disk::default();
    let mut engine = open(&disk, durability);
    let mut model = Model::new();
    let mut serial = 0u64;
    let mut now = 1_000_000i64;
    let mut checked = 0;
    for cycle in 0..cycles {
        // The models after each operation since the last one known to be on disk.
        let mut candidates = vec![model.clone()];
        disk.fail_after(1 + rng.below(120));
        loop {
            now += 1 + rng.below(400) as i64;
            let mut next = model.clone();
            let done = step(&mut engine, &mut rng, &mut next, now, &mut serial);
            if disk.is_down() {
                // The operation may or may not have reached the disk.
                candidates.push(next);
                break;
            }
            done.expect("no failure before the power loss");
            model = next;
            let synced = durability == Durability::Always || !engine_has_unsynced(&engine);
            if synced {
                candidates.clear();
            }
            candidates.push(model.clone());
        }
        drop(engine);
        let (kept, lost) = disk.power_loss(&mut rng);
        engine = open(&disk, durability);
        let found = read_state(&mut engine, now);
        let Some(at) = candidates.iter().position(|m| *m == found) else {
            panic!(
                "seed {seed:#x}, cycle {cycle} ({kept} writes kept, {lost} lost): the recovered state \
                 {found:?} is no prefix of the operations; the last acknowledged state was {:?}",
                candidates.first()
            );
        };
        for g in 0..GROUPS {
            let values: Vec<_> = (0..3).map(|i| found.get(&format!("b{g}:{i}"))).collect();
            assert!(values.iter().all(|v| *v == values[0]), "batch b{g} split");
        }
        checked += candidates[0].len();
        model = candidates.swap_remove(at);
    }
    (cycles, checked)
}

/// Whether the engine's log holds records not yet synced (`everysec`): the tick syncs it.
fn engine_has_unsynced(engine: &Engine) -> bool {
    engine.log_has_unsynced()
}

/// Crash cycles per test (four tests): `POWER_LOSS_CYCLES` overrides it for a longer run.
fn cycles() -> usize {
    std::env::var("POWER_LOSS_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

fn run_seed(seed: u64, durability: Durability) {
    let (crashes, checked) = crash_cycles(seed, durability, cycles());
    println!(
        "{durability:?}, seed {seed:#x}: {crashes} power losses, {checked} acknowledged values \
         checked after them: none lost, none stale, no batch split"
    );
}

#[test]
fn power_loss_in_always_mode_loses_no_acknowledged_write_and_brings_back_no_stale_value() {
    run_seed(0x9e37_79b9_7f4a_7c15, Durability::Always);
}

#[test]
fn power_loss_in_always_mode_with_another_seed() {
    run_seed(0x2545_f491_4f6c_dd1d, Durability::Always);
}

#[test]
fn power_loss_in_everysec_mode_brings_back_a_prefix_of_the_writes_from_the_last_sync_on() {
    run_seed(0xd1b5_4a32_d192_ed03, Durability::Everysec);
}

#[test]
fn power_loss_in_everysec_mode_with_another_seed() {
    run_seed(0x8cb9_2ba7_2f3d_8dd7, Durability::Everysec);
}
