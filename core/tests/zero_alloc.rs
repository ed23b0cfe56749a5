//! After warm-up, parsing a request allocates nothing: the arguments are slices of the input and
//! the slice array lives in the reused per-thread arena.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use diskdb_core::protocol::{parse_request_with, Limits, ParserKind};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn parsing_allocates_nothing_after_warm_up() {
    let requests = [
        resp(&[b"GET", b"key:1"]),
        resp(&[b"SET", b"key:1", &[b'v'; 1024]]),
        resp(&[
            b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d", b"5", b"e",
        ]),
        b"SET k \"quoted value\"\r\n".to_vec(),
    ];
    let limits = Limits::default();
    for kind in [ParserKind::C, ParserKind::Rust] {
        for req in &requests {
            let _ = parse_request_with(kind, req, &limits); // warm-up: the arena grows once
        }
        let before = allocations();
        let mut total_args = 0;
        for _ in 0..10_000 {
            for req in &requests {
                let parsed = parse_request_with(kind, req, &limits).unwrap().unwrap();
                total_args += parsed.len();
            }
        }
        let after = allocations();
        assert_eq!(total_args, 10_000 * (2 + 3 + 12 + 3));
        assert_eq!(
            after - before,
            0,
            "{kind:?} parser allocated {} times in 40 000 parses",
            after - before
        );
    }
}
