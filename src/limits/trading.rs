//! The matching engine's penalty tables: what a cancel, an amend or an edit costs on the
//! per-pair trading counter by the age of the order it touches (docs.kraken.com, "Spot Trading
//! Limits"), and what a batch costs. Each table is data; one function reads them all.

use super::counter::UNIT;

/// One order's charge on its pair's trading counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradingCharge {
    pub pair: u16,
    pub cost: u64,
}

/// A penalty table: (age under which it applies, in seconds; calls charged), youngest first,
/// and the calls charged at any older age.
type Table = (&'static [(u64, u64)], u64);

/// Cancel: +8 under 5 s, +6 under 10 s, +5 under 15 s, +4 under 45 s, +2 under 90 s, +1 under
/// 300 s, nothing after.
const CANCEL: Table = (&[(5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1)], 0);
/// AmendOrder (age since placed or last amended): +1 on receipt, plus +3 under 5 s, +2 under
/// 10 s, +1 under 15 s.
const AMEND: Table = (&[(5, 4), (10, 3), (15, 2)], 1);
/// EditOrder: +1 on receipt, plus +6 under 5 s, +5 under 10 s, +4 under 15 s, +2 under 45 s, +1
/// under 90 s.
const EDIT: Table = (&[(5, 7), (10, 6), (15, 5), (45, 3), (90, 2)], 1);

/// The charge a table gives an order of age `age_us`, in counter micro-units.
fn penalty((steps, older): Table, age_us: u64) -> u64 {
    const SEC: u64 = 1_000_000;
    let calls = steps.iter().find(|(under_s, _)| age_us < under_s * SEC).map_or(older, |(_, calls)| *calls);
    calls * UNIT
}

/// Kraken's cancel penalty for an order of age `age_us`.
pub fn cancel_penalty(age_us: u64) -> u64 {
    penalty(CANCEL, age_us)
}

/// Kraken's AmendOrder cost by the age of the order (since it was placed or last amended).
pub fn amend_penalty(age_us: u64) -> u64 {
    penalty(AMEND, age_us)
}

/// Kraken's EditOrder cost by the age of the order.
pub fn edit_penalty(age_us: u64) -> u64 {
    penalty(EDIT, age_us)
}

/// Kraken's AddOrderBatch cost: +n/2 for n orders (in micro-units, so 15 orders cost 7.5).
pub fn batch_cost(orders: usize) -> u64 {
    orders as u64 * UNIT / 2
}
