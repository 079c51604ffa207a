//! Firing triggered orders, after the command whose trades or index moves reached them: the
//! reference moves noted in the trigger index are evaluated in order, each order reached fires
//! once (it becomes the market or limit order it names, with a new hold), and the conditional
//! closes of orders that ended are placed; fills of fired orders are new moves, until none is
//! left. A child of `triggers` because it walks the index's private sets; arming, the index and
//! its invariants stay there.

use super::super::order::{CancelReason, NewOrder, Order, OrderSeq, RareParts, Side, Status, StopState};
use super::super::{Applied, Exchange, MAX_VOLUME};
use crate::error::KrakenError;
use crate::money::div_round_half_up;

impl Exchange {
    /// Evaluates the reference moves of the last command, fires what they reached and places
    /// due conditional closes, until nothing is left (each order fires at most once).
    pub(in crate::engine) fn run_triggers(&mut self, t: u64) {
        let mut fired = Vec::new();
        loop {
            if let Some((pair, reference, r)) = self.triggers.events.pop_front() {
                let idx = &mut self.triggers.index[pair as usize][reference as usize];
                while let Some(&(stop, seq)) = idx.up.first() {
                    if stop > r {
                        break;
                    }
                    idx.up.pop_first();
                    fired.push((seq, stop, 0));
                }
                while let Some(&(stop, seq)) = idx.down.last() {
                    if stop < r {
                        break;
                    }
                    idx.down.pop_last();
                    fired.push((seq, stop, 0));
                }
                idx.trail_sell.on_move(r, &mut fired);
                idx.trail_buy.on_move(r, &mut fired);
                // Fire in the order reached; their fills are later events.
                for (seq, stop, peak) in std::mem::take(&mut fired) {
                    self.fire(seq, stop, peak, t);
                }
            } else if let Some(seq) = self.triggers.closes.pop_front() {
                self.place_close(seq, t);
            } else {
                break;
            }
        }
    }

    /// An armed order's trigger was reached at `stop` (a trailing one's peak then: `peak`): it
    /// becomes its market or limit order.
    fn fire(&mut self, seq: OrderSeq, stop: u64, peak: u64, t: u64) {
        if !self.orders[seq as usize].is_armed() {
            return;
        }
        let limit = self.limit_at(&self.orders[seq as usize].new_order(), stop);
        let refused = self.refusing_state(&self.orders[seq as usize].new_order(), true);
        let o = &mut self.orders[seq as usize];
        o.set_stop(StopState { armed: false, stop, peak, limit });
        if let Some(state) = refused {
            // Fired, but the market's state does not admit the order it becomes.
            self.finish(seq, Status::Canceled, Some(CancelReason::Market(state)), t);
            return;
        }
        o.req.price = limit;
        let (account, asset, held) = (o.req.account, o.hold_asset, o.hold_remaining());
        o.set_hold_remaining(0);
        self.accounts[account as usize].funds[asset as usize].hold -= held;
        let req = self.orders[seq as usize].req;
        let remaining = self.orders[seq as usize].remaining();
        let exec_limit = match (req.kind.is_market(), req.side) {
            (false, _) => limit,
            (true, Side::Sell) => 0,
            (true, Side::Buy) => self.worst_ask_for(req.pair, remaining),
        };
        if !req.kind.is_market() && limit == 0 {
            self.finish(seq, Status::Canceled, Some(CancelReason::InvalidPrice), t);
            return;
        }
        let (asset, hold) = self.hold_for(&req, exec_limit, remaining);
        if self.accounts[account as usize].available(asset) < hold {
            self.finish(seq, Status::Canceled, Some(CancelReason::InsufficientFunds), t);
            return;
        }
        let o = &mut self.orders[seq as usize];
        o.hold_asset = asset;
        o.set_hold_remaining(hold);
        self.accounts[account as usize].funds[asset as usize].hold += hold;
        self.execute(seq, exec_limit, t);
    }

    /// Places the conditional close of an order that ended with fills: the other side, the
    /// executed volume, relative prices from the opening order's price, its own txid. One it
    /// cannot fund (or price, or whose volume no order may have) is recorded canceled, so the
    /// client sees why.
    fn place_close(&mut self, parent: OrderSeq, t: u64) {
        let p = &self.orders[parent as usize];
        let Some(close) = p.close() else { return };
        if p.filled() <= 0 {
            return;
        }
        let avg = div_round_half_up(p.exact_cost(), p.filled()) as u64;
        let base = if p.req.kind.is_market() || p.req.price == 0 { avg } else { p.req.price };
        let req = NewOrder {
            kind: close.kind,
            price: close.price,
            trigger: p.req.trigger,
            rare: RareParts {
                price2: close.price2,
                price_offset: close.price_offset,
                price2_offset: close.price2_offset,
                ..RareParts::default()
            }
            .boxed(),
            ..NewOrder::limit(p.req.account, p.req.pair, p.req.side.opposite(), close.price, p.filled())
        };
        // The executed volume of a viqc buy (quote spent at low prices) can exceed what any
        // order may be: checked as `place_order` checks a placed order, armed kinds included
        // (`arm` alone does not look at the volume).
        let lot = self.markets.pair(req.pair).lot_step();
        let placed = if !crate::money::is_multiple(req.volume, lot) || req.volume > MAX_VOLUME {
            Err(KrakenError::invalid("volume"))
        } else {
            self.resolve_prices(&req, base).and_then(|r| if r.kind.is_triggered() { self.arm(r, t) } else { self.place_order(&r, t) })
        };
        let seq = match placed {
            Ok(Applied::OrderPlaced(seq)) => seq,
            Ok(_) => return,
            Err(e) => {
                let seq = self.orders.next_seq();
                let asset = self.markets.pair(req.pair).quote;
                let mut o = Order::opened(seq, &req, t, asset, 0);
                o.status = Status::Canceled;
                o.reason =
                    Some(if e == KrakenError::InsufficientFunds { CancelReason::InsufficientFunds } else { CancelReason::InvalidPrice });
                o.close_ns = t;
                o.extras_mut().parent = Some(parent);
                self.orders.push(o);
                self.closing.push(seq);
                return;
            }
        };
        self.orders[seq as usize].extras_mut().parent = Some(parent);
    }
}
