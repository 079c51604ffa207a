//! The engine side of the market-data publisher: after each batch, on the engine thread, the
//! pairs whose book changed or that traded are copied out (top levels, new public trades, the
//! running candles, the 24 h figures) into the batch's `Pending`. The storage thread hands them to
//! the publisher only once the batch is durable, so no feed ever shows an undurable state. The
//! copy is cheap (only changed pairs) and reads nothing but the exchange: the engine stays a pure
//! state machine.

use crate::engine::market_data::{Candle, PublicTrade, WindowStats, DAY_NS};
use crate::engine::status::MarketStates;
use crate::engine::Exchange;

/// Levels kept per side (Kraken's deepest v2 book subscription).
pub const MAX_DEPTH: usize = 1000;
/// Trades kept for a `trade` snapshot.
pub const SNAPSHOT_TRADES: usize = 50;

/// The 24 h figures a ticker shows.
#[derive(Clone, Debug, Default)]
pub struct TickerStats {
    pub last: u64,
    pub open: u64,
    pub day: WindowStats,
}

/// One pair's public state after a committed batch.
#[derive(Clone, Debug)]
pub struct PairCapture {
    pub pair: u16,
    pub time_ns: u64,
    /// Best first, at most [`MAX_DEPTH`] per side: (price ticks, volume units).
    pub bids: Vec<(u64, i128)>,
    pub asks: Vec<(u64, i128)>,
    /// Public trades since the last capture, oldest first (on a full capture: the last 50).
    pub trades: Vec<PublicTrade>,
    /// Per interval: the running candle (on a full capture: every kept candle).
    pub candles: Vec<Vec<Candle>>,
    pub stats: TickerStats,
    /// A full capture (start, reset, restore) replaces the publisher's state of the pair.
    pub full: bool,
}

/// What one committed batch hands the publisher.
#[derive(Clone, Debug, Default)]
pub struct MarketBatch {
    pub pairs: Vec<PairCapture>,
    /// The system's and the pairs' market states, when they changed (and on a full capture).
    pub states: Option<MarketStates>,
}

impl MarketBatch {
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.states.is_none()
    }

    pub fn extend(&mut self, more: MarketBatch) {
        self.pairs.extend(more.pairs);
        if more.states.is_some() {
            self.states = more.states;
        }
    }
}

/// What the engine thread remembers between batches to tell changed pairs.
#[derive(Default)]
pub struct Tracker {
    /// Per pair: (book version, last public trade id) at the last capture.
    seen: Vec<(u64, u64)>,
    /// The next capture must be full (start, state replaced).
    pub force_full: bool,
    states: Option<MarketStates>,
}

fn last_trade_id(ex: &Exchange, pair: usize) -> u64 {
    ex.market_data[pair].trades.last().map(|t| t.trade_id).unwrap_or(0)
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker { seen: Vec::new(), force_full: true, states: None }
    }

    /// The captures of the pairs changed since the last call (all pairs when `force_full`).
    pub fn capture(&mut self, ex: &Exchange, now_ns: u64) -> MarketBatch {
        let full = std::mem::take(&mut self.force_full) || self.seen.len() != ex.books.len();
        if full {
            self.seen = vec![(u64::MAX, 0); ex.books.len()];
        }
        let states = (full || self.states.as_ref() != Some(&ex.market_status)).then(|| ex.market_status.clone());
        if states.is_some() {
            self.states = states.clone();
        }
        let mut out = Vec::new();
        for p in 0..ex.books.len() {
            let version = ex.books[p].version();
            let last_id = last_trade_id(ex, p);
            let (seen_version, seen_id) = self.seen[p];
            if !full && version == seen_version && last_id == seen_id {
                continue;
            }
            let md = &ex.market_data[p];
            let traded = full || last_id != seen_id;
            let trades: Vec<PublicTrade> = if full {
                md.trades.iter().rev().take(SNAPSHOT_TRADES).rev().cloned().collect()
            } else if last_id != seen_id {
                let start = md.trades.partition_point(|t| t.trade_id <= seen_id);
                md.trades[start..].to_vec()
            } else {
                Vec::new()
            };
            let candles = md
                .candles
                .iter()
                .map(|list| match (full, traded) {
                    (true, _) => list.iter().cloned().collect(),
                    (false, true) => list.back().cloned().into_iter().collect(),
                    (false, false) => Vec::new(),
                })
                .collect();
            let stats = TickerStats {
                last: md.last_price,
                open: md.today_open(now_ns),
                day: if traded { md.window(now_ns.saturating_sub(DAY_NS)) } else { WindowStats::default() },
            };
            out.push(PairCapture {
                pair: p as u16,
                time_ns: now_ns,
                bids: ex.books[p].depth(crate::engine::order::Side::Buy, MAX_DEPTH),
                asks: ex.books[p].depth(crate::engine::order::Side::Sell, MAX_DEPTH),
                trades,
                candles,
                stats,
                full,
            });
            self.seen[p] = (version, last_id);
        }
        MarketBatch { pairs: out, states }
    }
}
