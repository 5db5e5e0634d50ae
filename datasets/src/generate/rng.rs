//! The one source of randomness: ChaCha8 streams keyed by the seed.
//!
//! Every (county, part) pair draws from its own ChaCha stream of the same key, so a county's
//! members do not change when another table's generation changes, and counties can be made
//! on any thread in any order and still come out byte-identical.
//!
//! Only the raw 64-bit output of the generator is used; ranges, floats and choices are derived
//! here with plain integer and IEEE arithmetic. That keeps the committed sample reproducible
//! even if `rand`'s distribution algorithms change between versions.

use std::ops::{Range, RangeInclusive};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng as _, SeedableRng};

/// The parts of a county that draw from separate streams.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    Structure = 1,
    Members = 2,
    Meetings = 3,
    Attendance = 4,
    Scores = 5,
    Points = 6,
    Visits = 7,
    Names = 8,
}

pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    /// The stream of `part` of county number `county` under `seed`.
    pub(crate) fn stream(seed: u64, county: u32, part: Part) -> Rng {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream((u64::from(county) << 8) | part as u64);
        Rng(r)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (n > 0) by multiply-and-shift; the bias, below n / 2^64, is invisible
    /// at these sizes.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in `range`; the same draw as [`Rng::range`] of its ends.
    pub(crate) fn range_in(&mut self, range: &RangeInclusive<i64>) -> i64 {
        self.range(*range.start(), *range.end())
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `range`; the same draw as [`Rng::uniform`] of its ends.
    pub(crate) fn uniform_in(&mut self, range: &Range<f64>) -> f64 {
        self.uniform(range.start, range.end)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Roughly normal with mean 0 and standard deviation 1 (the sum of four uniforms, rescaled);
    /// bounded at ±3.5, which suits scores and rates that must stay in range anyway.
    pub(crate) fn normalish(&mut self) -> f64 {
        let s = self.unit() + self.unit() + self.unit() + self.unit() - 2.0;
        s * 1.732_050_807_568_877
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An index into a list ordered from most to least common: the square of a uniform favours
    /// the front (surnames, common given-name characters).
    pub(crate) fn skewed(&mut self, n: usize) -> usize {
        let u = self.unit();
        ((u * u * n as f64) as usize).min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = {
            let mut r = Rng::stream(7, 3, Part::Members);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::stream(7, 3, Part::Members);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::stream(7, 4, Part::Members);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let d: Vec<u64> = {
            let mut r = Rng::stream(8, 3, Part::Members);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::stream(1, 0, Part::Structure);
        for _ in 0..10_000 {
            let v = r.range(-3, 5);
            assert!((-3..=5).contains(&v));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.skewed(10) < 10);
            assert!(r.normalish().abs() <= 3.5);
        }
    }
}
