//! A fast non-cryptographic random number source (splitmix64) for RANDOMKEY, SPOP,
//! SRANDMEMBER and the other random picks.

use std::sync::atomic::{AtomicU64, Ordering};

static RANDOM: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);

pub fn random_u64() -> u64 {
    let mut z = RANDOM.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
