//! The library's seeded generator: a (seed, offset) pair for the counter-based random kernels.

use std::sync::Mutex;

static STATE: Mutex<(u64, u64)> = Mutex::new((0x005e_ed0f_7275_7374, 0));

/// Sets the seed and restarts the stream, as `rustdl.manual_seed`.
pub fn manual_seed(seed: u64) {
    *STATE.lock().unwrap_or_else(|e| e.into_inner()) = (seed, 0);
}

/// Reserves `n` counters of the stream; returns the (seed, offset) they start at.
pub fn advance(n: u64) -> (u64, u64) {
    let mut s = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let out = *s;
    s.1 = s.1.wrapping_add(n);
    out
}

/// The current seed.
pub fn initial_seed() -> u64 {
    STATE.lock().unwrap_or_else(|e| e.into_inner()).0
}

/// The (seed, offset) the next draw starts at.
pub fn state() -> (u64, u64) {
    *STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Replaces the (seed, offset) pair, returning the previous one (a `Generator`'s draws swap
/// its own state in and out).
pub fn swap_state(new: (u64, u64)) -> (u64, u64) {
    std::mem::replace(&mut *STATE.lock().unwrap_or_else(|e| e.into_inner()), new)
}
