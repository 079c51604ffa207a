//! The engine side of the market-data publisher: after each batch, on the engine thread, the
//! pairs whose book changed or that traded are copied out (top levels, new public trades, the
//! running candles, the 24 h figures) into the batch's `Pending`. The storage thread hands them to
//! the publisher only once the batch is durable, so no feed ever shows an undurable state. The
//! copy is cheap (only changed pairs) and reads nothing but the exchange: the engine stays a pure
//! state machine. The same captures feed the REST view ([`super::market_view`]), so they carry
//! what REST needs too: the levels' change stamps, a day of trades on a full capture, every
//! candle a batch touched, the recent spreads.

use super::day_window::DayWindow;
use crate::engine::market_data::{Candle, PublicTrade, WindowStats, DAY_NS, INTERVALS, NS};
use crate::engine::status::MarketStates;
use crate::engine::Exchange;

/// Levels kept per side (Kraken's deepest v2 book subscription).
pub const MAX_DEPTH: usize = 1000;
/// Trades kept for a `trade` snapshot.
pub const SNAPSHOT_TRADES: usize = 50;
// A full capture copies the engine's tape within the markets' `TapeBound` (at least the last
// 1000 trades, Trades' largest `count`, and every trade of the last 25 h: Ticker's 24 h window
// with an hour spare); the view keeps the same bound.
/// Spread entries copied (Spread answers at most the last 200).
pub const KEEP_SPREADS: usize = 200;

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
    /// Best first, at most [`MAX_DEPTH`] per side: (price ticks, volume units, time the level
    /// last changed in ns: Depth's stamps).
    pub bids: Vec<(u64, i128, u64)>,
    pub asks: Vec<(u64, i128, u64)>,
    /// Public trades since the last capture, oldest first (on a full capture: what the markets'
    /// `TapeBound` keeps of the engine's tape).
    pub trades: Vec<PublicTrade>,
    /// On a full capture, the time of the newest trade left out (older ones are the engine's only).
    pub omitted_until: Option<u64>,
    /// Per interval: the candles the new trades touched, oldest first (on a full capture: every
    /// kept candle).
    pub candles: Vec<Vec<Candle>>,
    /// The last [`KEEP_SPREADS`] spread entries, when a new one was noted (or on a full capture).
    pub spreads: Option<Vec<(u64, u64, u64)>>,
    /// The configured opening price (Ticker's `o` before any trade).
    pub open_price: u64,
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
    /// The level3 copies of the watched pairs that changed ([`super::level3_capture`]).
    pub level3: Vec<super::level3_capture::L3Capture>,
}

impl MarketBatch {
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.states.is_none() && self.level3.is_empty()
    }

    pub fn extend(&mut self, more: MarketBatch) {
        self.pairs.extend(more.pairs);
        self.level3.extend(more.level3);
        if more.states.is_some() {
            self.states = more.states;
        }
    }
}

/// (book version, last public trade id, histories set, spreads noted, trades dropped).
type Seen = (u64, u64, u64, u64, u64);

/// What the engine thread remembers between batches to tell changed pairs.
#[derive(Default)]
pub struct Tracker {
    /// Per pair: what the last capture saw (a spread may be noted without a book change: an
    /// order that did not rest; trades dropped from the engine's tape move the day window).
    seen: Vec<Seen>,
    /// The next capture must be full (start, state replaced).
    pub force_full: bool,
    states: Option<MarketStates>,
    /// The level3 copies (only of pairs level3 subscribers watch).
    pub level3: super::level3_capture::L3Tracker,
    /// Per pair: the ticker's 24 h window over the engine's tape, moved on at each capture.
    days: Vec<DayWindow>,
}

fn last_trade_id(ex: &Exchange, pair: usize) -> u64 {
    ex.market_data[pair].trades.last().map(|t| t.trade_id).unwrap_or(0)
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker { seen: Vec::new(), force_full: true, states: None, level3: Default::default(), days: Vec::new() }
    }

    /// The captures of the pairs changed since the last call (all pairs when `force_full`).
    pub fn capture(&mut self, ex: &Exchange, now_ns: u64) -> MarketBatch {
        let full = std::mem::take(&mut self.force_full) || self.seen.len() != ex.books.len();
        if full {
            self.seen = vec![(u64::MAX, 0, u64::MAX, u64::MAX, 0); ex.books.len()];
            self.days = vec![DayWindow::default(); ex.books.len()];
        }
        let states = (full || self.states.as_ref() != Some(&ex.market_status)).then(|| ex.market_status.clone());
        if states.is_some() {
            self.states = states.clone();
        }
        let mut out = Vec::new();
        for p in 0..ex.books.len() {
            let md = &ex.market_data[p];
            let version = ex.books[p].version();
            let last_id = last_trade_id(ex, p);
            let spread_back = md.spreads_noted;
            let (seen_version, seen_id, seen_history, seen_spread, seen_dropped) = self.seen[p];
            if !full && version == seen_version && last_id == seen_id && md.histories == seen_history && spread_back == seen_spread {
                continue;
            }
            // The engine dropped trades this capture has not copied (a batch of more than the
            // tape's bound of trades across more than its span): the pair is copied whole.
            let missed = last_id != seen_id && md.trades.first().is_some_and(|t| t.trade_id > seen_id + 1);
            // A new history (an import) replaces the pair's tape and candles: copied whole.
            let whole = full || md.histories != seen_history || missed;
            if !whole && md.dropped > seen_dropped {
                // The window's indices follow the tape's front (the trades dropped are out of it).
                self.days[p].drained((md.dropped - seen_dropped) as usize);
            }
            let traded = whole || last_id != seen_id;
            if whole {
                // A new tape (start, reset, an import): a new window over it.
                self.days[p] = DayWindow::default();
            }
            let (trades, omitted_until): (Vec<PublicTrade>, Option<u64>) = if whole {
                let keep = ex.markets.tape;
                let recent = md.trades.partition_point(|t| t.time_ns < now_ns.saturating_sub(keep.span_ns));
                let start = recent.min(md.trades.len().saturating_sub(keep.trades));
                (md.trades[start..].to_vec(), start.checked_sub(1).map(|i| md.trades[i].time_ns).or(md.dropped_until))
            } else if last_id != seen_id {
                let start = md.trades.partition_point(|t| t.trade_id <= seen_id);
                (md.trades[start..].to_vec(), None)
            } else {
                (Vec::new(), None)
            };
            // Every candle from the first new trade's period on (a batch may span periods).
            let first_secs = trades.first().map(|t| t.time_ns / NS).unwrap_or(u64::MAX);
            let candles = md
                .candles
                .iter()
                .zip(INTERVALS)
                .map(|(list, minutes)| {
                    if whole {
                        return list.iter().cloned().collect();
                    }
                    let from = first_secs / (minutes * 60) * (minutes * 60);
                    let n = list.iter().rev().take_while(|c| c.time >= from).count();
                    list.iter().skip(list.len() - n).cloned().collect()
                })
                .collect();
            let spreads = (whole || spread_back != seen_spread)
                .then(|| md.spreads.iter().skip(md.spreads.len().saturating_sub(KEEP_SPREADS)).copied().collect());
            let stats = TickerStats {
                last: md.last_price,
                open: md.today_open(now_ns),
                day: if traded {
                    self.days[p].at(&md.trades, now_ns.saturating_sub(DAY_NS), md.last_price)
                } else {
                    WindowStats::default()
                },
            };
            out.push(PairCapture {
                pair: p as u16,
                time_ns: now_ns,
                bids: ex.books[p].depth_stamped(crate::engine::order::Side::Buy, MAX_DEPTH),
                asks: ex.books[p].depth_stamped(crate::engine::order::Side::Sell, MAX_DEPTH),
                trades,
                omitted_until,
                candles,
                spreads,
                open_price: md.open_price,
                stats,
                full: whole,
            });
            self.seen[p] = (version, last_id, md.histories, spread_back, md.dropped);
        }
        MarketBatch { pairs: out, states, level3: self.level3.capture(ex, now_ns, full) }
    }
}
