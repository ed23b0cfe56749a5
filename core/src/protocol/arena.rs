//! The per-thread argument arena both parsers write into.
//!
//! A request's argument slices (and, for inline requests, the unescaped bytes) live here rather
//! than in a fresh `Vec` per request: the arena grows to the largest request seen on this thread
//! and is then reused, so steady-state parsing allocates nothing.

use std::cell::Cell;

/// An argument as the C parser writes it: a slice of the input buffer or of `scratch`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(diskdb_c_parser), allow(dead_code))]
pub(crate) struct RawArg {
    pub ptr: *const u8,
    pub len: usize,
}

/// An argument as the Rust parser records it: a range of the input buffer (multibulk) or of
/// `scratch` (inline).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span {
    pub start: usize,
    pub len: usize,
}

#[derive(Default)]
pub(crate) struct Arena {
    /// Output of the C parser.
    #[cfg_attr(not(diskdb_c_parser), allow(dead_code))]
    pub raw: Vec<RawArg>,
    /// Output of the Rust parser.
    pub spans: Vec<Span>,
    /// Unescaped inline arguments.
    pub scratch: Vec<u8>,
    /// Arguments of the last parsed request.
    pub argc: usize,
    /// Whether the Rust parser's spans index `scratch` (inline) rather than the input.
    pub inline: bool,
}

impl Arena {
    /// Argument `i` as recorded by the Rust parser.
    pub fn span<'a>(&'a self, buf: &'a [u8], i: usize) -> &'a [u8] {
        let Span { start, len } = self.spans[i];
        let base = if self.inline { &self.scratch[..] } else { buf };
        &base[start..start + len]
    }
}

thread_local! {
    static ARENA: Cell<Option<Box<Arena>>> = const { Cell::new(None) };
}

/// Owns this thread's arena until dropped, then gives it back.
///
/// If a guard is already alive on this thread (two requests held at once), the second one gets a
/// fresh arena, which it drops instead of returning: correct, merely not allocation-free.
pub(crate) struct ArenaGuard(Option<Box<Arena>>);

impl ArenaGuard {
    pub fn take() -> Self {
        let arena = ARENA.with(Cell::take).unwrap_or_default();
        ArenaGuard(Some(arena))
    }

    pub fn get(&self) -> &Arena {
        self.0.as_deref().expect("present until drop")
    }

    pub fn get_mut(&mut self) -> &mut Arena {
        self.0.as_deref_mut().expect("present until drop")
    }
}

impl Drop for ArenaGuard {
    fn drop(&mut self) {
        if let Some(arena) = self.0.take() {
            ARENA.with(|slot| {
                let previous = slot.replace(Some(arena));
                drop(previous);
            });
        }
    }
}
