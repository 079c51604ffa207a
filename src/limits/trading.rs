//! The matching engine's penalty table: what a cancel costs on the per-pair trading counter by
//! the age of the order it cancels (docs.kraken.com, "Spot Trading Limits").

use super::counter::UNIT;

/// One order's charge on its pair's trading counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradingCharge {
    pub pair: u16,
    pub cost: u64,
}

/// Kraken's cancel penalty for an order of age `age_us`: +8 under 5 s, +6 under 10 s, +5 under
/// 15 s, +4 under 45 s, +2 under 90 s, +1 under 300 s, nothing after.
pub fn cancel_penalty(age_us: u64) -> u64 {
    const SEC: u64 = 1_000_000;
    let calls = match age_us {
        a if a < 5 * SEC => 8,
        a if a < 10 * SEC => 6,
        a if a < 15 * SEC => 5,
        a if a < 45 * SEC => 4,
        a if a < 90 * SEC => 2,
        a if a < 300 * SEC => 1,
        _ => 0,
    };
    calls * UNIT
}

/// Kraken's AmendOrder cost by the age of the order (since it was placed or last amended): +1
/// on receipt, plus +3 under 5 s, +2 under 10 s, +1 under 15 s.
pub fn amend_penalty(age_us: u64) -> u64 {
    const SEC: u64 = 1_000_000;
    let calls = match age_us {
        a if a < 5 * SEC => 4,
        a if a < 10 * SEC => 3,
        a if a < 15 * SEC => 2,
        _ => 1,
    };
    calls * UNIT
}

/// Kraken's EditOrder cost by the age of the order: +1 on receipt, plus +6 under 5 s, +5 under
/// 10 s, +4 under 15 s, +2 under 45 s, +1 under 90 s.
pub fn edit_penalty(age_us: u64) -> u64 {
    const SEC: u64 = 1_000_000;
    let calls = match age_us {
        a if a < 5 * SEC => 7,
        a if a < 10 * SEC => 6,
        a if a < 15 * SEC => 5,
        a if a < 45 * SEC => 3,
        a if a < 90 * SEC => 2,
        _ => 1,
    };
    calls * UNIT
}

/// Kraken's AddOrderBatch cost: +n/2 for n orders (in micro-units, so 15 orders cost 7.5).
pub fn batch_cost(orders: usize) -> u64 {
    orders as u64 * UNIT / 2
}
