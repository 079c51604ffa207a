//! Re-quoting a market maker's ladder in one command. The simulator's makers keep 20+ limit
//! orders a side on every pair and move them as the reference price moves; as cancels and
//! places that would be ~40 logged commands and ~40 new order records per move. `Requote` is one
//! small logged command that states the ladder (best bid and ask, step, levels, size and its
//! jitter) and the reference ("index") price, and the engine brings the account's orders on that
//! pair to it:
//!
//! - a level whose price and size are unchanged keeps its order and its queue position (sizes
//!   are a function of the price, so overlapping ladders share levels);
//! - an untouched order that must change is re-priced in place (same txid, to the back of the
//!   queue at its new price, like Kraken's AmendOrder), so the order records do not grow;
//! - an order that was partly filled is ended (canceled with its fills) and replaced;
//! - levels the account cannot fund are left out, from the outside in: a re-quote never fails
//!   for lack of funds, and never creates any;
//! - a level that crosses a resting order of someone else trades with it, as any limit order.
//!
//! The index price is kept per pair ([`Exchange::index`]): the deterministic reference that
//! other features (e.g. trigger=index) can read.

use super::order::{AccountId, NewOrder, OrderSeq, Side, Status};
use super::walk;
use super::{Applied, Exchange};
use crate::error::KrakenError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requote {
    pub account: AccountId,
    pub pair: u16,
    /// The reference price the ladder is centred on (price units).
    pub index: u64,
    pub bid: u64,
    pub ask: u64,
    pub step: u64,
    pub levels: u16,
    /// Mean size per level, base minimal units.
    pub size: i128,
    /// Size randomness, ± parts per million of `size`.
    pub jitter_ppm: u32,
    /// Seeds the size of each price level (the same price always gets the same size).
    pub seed: u64,
}

pub const MAX_LEVELS: u16 = 500;

impl Requote {
    /// The ladder this command asks for: (side, price, volume), best levels first per side.
    pub fn levels(&self, lot: i128, min_volume: i128) -> Vec<(Side, u64, i128)> {
        let mut out = Vec::with_capacity(2 * self.levels as usize);
        for side in [Side::Buy, Side::Sell] {
            for i in 0..self.levels as u64 {
                let price = match side {
                    Side::Buy => match self.bid.checked_sub(i * self.step) {
                        Some(p) if p > 0 => p,
                        _ => break,
                    },
                    Side::Sell => self.ask + i * self.step,
                };
                let mut r = walk::rng(self.seed, &[self.pair as u64, side as u64, price]);
                let j = self.jitter_ppm as i128;
                let v = self.size * (1_000_000 + walk::uniform(&mut r, -j, j)) / 1_000_000;
                out.push((side, price, (v / lot * lot).max(min_volume)));
            }
        }
        out
    }
}

impl Exchange {
    pub(super) fn requote(&mut self, q: &Requote, t: u64) -> Result<Applied, KrakenError> {
        self.user_account(q.account)?;
        let pair = self.markets.pairs.get(q.pair as usize).ok_or(KrakenError::UnknownAssetPair)?;
        self.admit_requote(q.pair)?;
        let valid = q.levels >= 1
            && q.levels <= MAX_LEVELS
            && q.step > 0
            && q.bid > 0
            && q.bid < q.ask
            && q.ask.checked_add(q.step * q.levels as u64).is_some_and(|top| top <= super::MAX_PRICE)
            && q.size > 0
            && q.size <= super::MAX_VOLUME / 4
            && q.jitter_ppm < 1_000_000
            && q.index > 0
            && q.index <= super::MAX_PRICE;
        if !valid {
            return Err(KrakenError::invalid("ladder"));
        }
        // Checks done: from here on the command applies (levels it cannot fund are left out).
        let lot = pair.lot_step();
        let min_volume = crate::money::div_ceil(pair.ordermin.max(1), lot) * lot;
        let wanted = q.levels(lot, min_volume);
        let current: Vec<OrderSeq> = self.accounts[q.account as usize]
            .open_orders
            .iter()
            .copied()
            .filter(|s| {
                // The ladder is plain resting GTC limit orders: the account's other orders on the
                // pair (stops, icebergs, scheduled, GTD, with a conditional close) are left alone.
                let o = &self.orders[*s as usize];
                o.req.pair == q.pair
                    && o.status == Status::Open
                    && o.req.kind == super::order::OrderKind::Limit
                    && o.display_volume().is_none()
                    && o.expire_ns().is_none()
                    && o.start_ns().is_none()
                    && o.close().is_none()
            })
            .collect();
        let mut keep = vec![false; wanted.len()];
        let mut pool = Vec::new();
        for seq in current {
            let o = &self.orders[seq as usize];
            let same = wanted.iter().position(|(side, price, vol)| *side == o.req.side && *price == o.req.price && *vol == o.req.volume);
            match same {
                Some(i) if o.filled() == 0 && !keep[i] => keep[i] = true,
                _ if o.filled() > 0 => self.cancel_resting(seq, super::order::CancelReason::UserRequested, t),
                _ => {
                    self.pull(seq, t);
                    pool.push(seq);
                }
            }
        }
        let mut stopped = [false, false];
        for (i, (side, price, volume)) in wanted.iter().copied().enumerate() {
            if keep[i] || stopped[side as usize] {
                continue;
            }
            let req = NewOrder::limit(q.account, q.pair, side, price, volume);
            let (asset, hold) = self.hold_for(&req.hot(), price, volume);
            if self.accounts[q.account as usize].available(asset) < hold {
                stopped[side as usize] = true;
                continue;
            }
            let seq = match pool.pop() {
                Some(seq) => {
                    let o = &mut self.orders[seq as usize];
                    o.set_request(&req);
                    o.open_ns = t;
                    o.hold_asset = asset;
                    o.set_hold_remaining(hold);
                    self.report(seq, super::events::OrderEventKind::Restated { price, volume }, t);
                    seq
                }
                None => {
                    let seq = self.orders.next_seq();
                    self.orders.push(super::order::Order::opened(seq, &req, t, asset, hold));
                    self.accounts[q.account as usize].open_orders.insert(seq);
                    seq
                }
            };
            self.accounts[q.account as usize].funds[asset as usize].hold += hold;
            self.execute(seq, price, t);
        }
        // Orders the new ladder has no place for end here (already off the book, no hold).
        for seq in pool {
            self.finish(seq, Status::Canceled, Some(super::order::CancelReason::UserRequested), t);
        }
        self.index[q.pair as usize] = q.index;
        self.triggers.note(q.pair, super::order::Trigger::Index, q.index);
        self.note_spread(q.pair, t);
        Ok(Applied::Requoted)
    }

    /// Takes an unfilled open order off its book and releases its hold, keeping it open for
    /// re-pricing (its queue slot is removed at once, so it cannot be met twice).
    fn pull(&mut self, seq: OrderSeq, t: u64) {
        let o = &mut self.orders[seq as usize];
        let (pair, side, price, remaining, account, asset, hold) =
            (o.req.pair, o.req.side, o.req.price, o.remaining(), o.req.account, o.hold_asset, o.hold_remaining());
        o.set_hold_remaining(0);
        self.books[pair as usize].remove(side, price, &mut self.orders, seq, remaining, t);
        self.accounts[account as usize].funds[asset as usize].hold -= hold;
    }
}
