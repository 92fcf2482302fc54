//! A fast thread-local random source (wyrand) for weighted and power-of-two picks.
//!
//! Balancing needs speed and independence between threads, not
//! cryptographic quality: one multiply per number, no lock, no dependency.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

/// A per-thread seed: the standard library's randomly keyed hasher over the thread id.
fn seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    std::hash::Hash::hash(&std::thread::current().id(), &mut hasher);
    hasher.finish()
}

/// One step of wyrand.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0xa076_1d64_78bd_642f);
    let product = u128::from(*state).wrapping_mul(u128::from(*state ^ 0xe703_7ed1_a0b4_28db));
    ((product >> 64) as u64) ^ (product as u64)
}

/// A uniform 64-bit number from this thread's generator.
pub fn next_u64() -> u64 {
    STATE.with(|cell| {
        let mut state = cell.get();
        let value = next(&mut state);
        cell.set(state);
        value
    })
}

/// A uniform float in `[0, 1)`.
pub fn next_f64() -> f64 {
    // 53 random bits is the full precision of an f64 mantissa.
    (next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform index below `bound` (`bound > 0`), by Lemire's multiply-shift.
pub fn below(bound: usize) -> usize {
    ((u128::from(next_u64()) * bound as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_stay_in_the_unit_interval_and_indices_below_the_bound() {
        for _ in 0..10_000 {
            let value = next_f64();
            assert!((0.0..1.0).contains(&value));
            assert!(below(3) < 3);
        }
        assert_eq!(below(1), 0);
    }
}
