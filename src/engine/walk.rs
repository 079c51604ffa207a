//! The price model shared by the generated history ([`super::history`]) and the live market
//! simulator (`crate::market`): a seeded multiplicative random walk with drift and jumps, in
//! integers only (prices as fixed-point minimal price units, returns in parts per billion), so the
//! same seed gives the same path on every machine and every build.
//!
//! Randomness comes from ChaCha8 (`rand_chacha`), whose output for a given seed is fixed by its
//! specification; a generator is always seeded from the command or step it serves, never from
//! the environment, so the engine stays a deterministic function of its log.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Parts per billion.
pub const PPB: i128 = 1_000_000_000;
/// Fixed-point scale of a walked price: `fp = price_units × FP` (price units: 10^-pair_decimals).
pub const FP: i128 = 1_000_000;
const DAY_MS: i128 = 86_400_000;

/// A pair's price dynamics, all integers: daily volatility and drift in parts per million of
/// the price, jumps per day in thousandths, the jump size (one standard deviation) in ppm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkParams {
    pub vol_ppm: u32,
    pub drift_ppm: i32,
    pub jumps_milli: u32,
    pub jump_ppm: u32,
}

/// A generator for one purpose, derived from a seed and any number of labels (pair, step…).
pub fn rng(seed: u64, labels: &[u64]) -> ChaCha8Rng {
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    for l in labels {
        s = splitmix(s ^ l.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    }
    ChaCha8Rng::seed_from_u64(s)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An approximately normal integer with standard deviation `sd` (sum of four uniforms).
pub fn gauss(r: &mut ChaCha8Rng, sd: i128) -> i128 {
    if sd <= 0 {
        return 0;
    }
    // U(-a, a) has variance a²/3; four of them sum to variance 4a²/3 = sd² for a = sd·√3/2.
    let a = (sd * 866_025 / 1_000_000).max(1) as i64;
    (0..4).map(|_| r.gen_range(-a..=a) as i128).sum()
}

/// Uniform integer in `[lo, hi]`.
pub fn uniform(r: &mut ChaCha8Rng, lo: i128, hi: i128) -> i128 {
    if hi <= lo {
        return lo;
    }
    r.gen_range(lo as i64..=hi as i64) as i128
}

/// A return (ppb) over `dt_ms` milliseconds; `backward` reverses the drift (walking back in time).
pub fn step_return(r: &mut ChaCha8Rng, p: &WalkParams, dt_ms: u64, backward: bool) -> i128 {
    let dt = dt_ms as i128;
    // sd over dt = daily sd × sqrt(dt / 1 day), in ppb.
    let sqrt_frac_e6 = ((dt as u128 * 1_000_000_000_000) / DAY_MS as u128).isqrt() as i128;
    let sd = p.vol_ppm as i128 * 1000 * sqrt_frac_e6 / 1_000_000;
    let mut ret = gauss(r, sd);
    let drift = p.drift_ppm as i128 * 1000 * dt / DAY_MS;
    ret += if backward { -drift } else { drift };
    // P(jump in dt) = jumps per day × dt / 1 day, drawn in ppb.
    let jump_chance = p.jumps_milli as i128 * 1_000_000 * dt / DAY_MS;
    if jump_chance > 0 && (r.gen_range(0..PPB as i64) as i128) < jump_chance {
        ret += gauss(r, p.jump_ppm as i128 * 1000);
    }
    // No step takes more than half the price, nor adds more than it.
    ret.clamp(-PPB / 2, PPB)
}

/// Applies a return to a fixed-point price, keeping it within `[lo, hi]` (fixed point).
pub fn apply(fp: i128, ret_ppb: i128, lo: i128, hi: i128) -> i128 {
    (fp * (PPB + ret_ppb) / PPB).clamp(lo, hi)
}

/// Rounds a fixed-point price to a multiple of `tick` price units (at least one tick).
pub fn to_ticks(fp: i128, tick: u64) -> u64 {
    let units = (fp + FP / 2) / FP;
    let t = tick as i128;
    (((units + t / 2) / t).max(1) * t) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_path_and_volatility_is_roughly_right() {
        let p = WalkParams { vol_ppm: 30_000, drift_ppm: 0, jumps_milli: 0, jump_ppm: 0 };
        let path = |seed| {
            let mut r = rng(seed, &[1, 2]);
            (0..1000).map(|_| step_return(&mut r, &p, 86_400_000, false)).collect::<Vec<_>>()
        };
        assert_eq!(path(7), path(7));
        assert_ne!(path(7), path(8));
        let v = path(7);
        let var: i128 = v.iter().map(|x| x * x / 1000).sum::<i128>() / v.len() as i128 * 1000;
        let sd = (var as u128).isqrt() as i128;
        assert!((25_000_000..35_000_000).contains(&sd), "daily sd {sd} ppb for 3%");
        assert_eq!(to_ticks(12_345_678, 1), 12);
        assert_eq!(to_ticks(1_000_000 * 105, 10), 110);
    }
}
