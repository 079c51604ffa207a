//! The engine's side of AddOrder's flags and options: the consistency checks it repeats for
//! every order whatever the API layer did (iceberg display volume, GTD expiry, scheduled start,
//! viqc), iceberg refills, and how much a quote-sized (`viqc`) market buy may take at a price.
//!
//! Iceberg (Kraken's `ordertype=iceberg`, or `displayvol` on a limit order): only the shown
//! part is in its book level, so Depth shows it alone and a taker takes at most it per turn;
//! when it is used up the order shows the next part (the display volume, or what remains if
//! less) at the back of its price level, losing its time priority as Kraken's iceberg does.
//! Kraken's minimum display is 1/15 of the volume.

use super::order::{NewOrder, Order, OrderKind, OrderSeq, Status, TimeInForce};
use super::Exchange;
use crate::error::KrakenError;

const PPM: i128 = 1_000_000;

/// Kraken's smallest iceberg: the display volume is at least 1/15 of the order's volume.
pub const ICEBERG_MIN_FRACTION: i128 = 15;

/// Checks the flags' own rules (the API layer checks them first with the same outcome; the
/// engine repeats them so that no command can put an inconsistent order in the state).
/// Always inlined: the plain case is three compares, and as a call (LLVM's choice with
/// `#[inline]`) it cost ~16 instructions a place with the call.
#[inline(always)]
pub fn check_flags(req: &NewOrder, lot_step: i128, t: u64) -> Result<(), KrakenError> {
    // Most orders have no display volume, no expiry and neither kind that needs one: both
    // matches below accept them, without a call.
    let plain = req.rare().display_volume.is_none()
        && req.rare().expire_ns.is_none()
        && req.kind != OrderKind::Iceberg
        && req.time_in_force != TimeInForce::Gtd;
    if plain {
        return Ok(());
    }
    check_flags_rare(req, lot_step, t)
}

/// `check_flags` for an order with a display volume, an expiry or a kind that needs one.
#[inline(never)]
// Not collapsed into match guards: a valid iceberg whose guard failed would fall to the arm that
// refuses a display volume on any other order.
#[allow(clippy::collapsible_match)]
fn check_flags_rare(req: &NewOrder, lot_step: i128, t: u64) -> Result<(), KrakenError> {
    match (req.kind, req.rare().display_volume) {
        (OrderKind::Iceberg, Some(d)) => {
            if d <= 0 || d > req.volume || d % lot_step != 0 || d * ICEBERG_MIN_FRACTION < req.volume {
                return Err(KrakenError::invalid("displayvol"));
            }
        }
        (OrderKind::Iceberg, None) | (_, Some(_)) => return Err(KrakenError::invalid("displayvol")),
        _ => {}
    }
    match (req.time_in_force, req.rare().expire_ns) {
        (TimeInForce::Gtd, Some(at)) => {
            if at <= t.max(req.rare().start_ns.unwrap_or(0)) {
                return Err(KrakenError::invalid("expiretm"));
            }
        }
        (TimeInForce::Gtd, None) | (_, Some(_)) => return Err(KrakenError::invalid("expiretm")),
        _ => {}
    }
    Ok(())
}

/// The volume an order shows when it rests after matching: all that remains, or an iceberg's
/// display volume (what remains if less).
pub(super) fn rest_volume(o: &mut Order) -> i128 {
    match o.display_volume() {
        Some(d) => {
            o.set_shown(d.min(o.remaining()));
            o.shown()
        }
        None => o.remaining(),
    }
}

impl Exchange {
    /// After a resting order at the front of its level traded `qty` without filling: an
    /// iceberg whose shown part is used up shows its next part at the back of the level.
    pub(super) fn iceberg_filled(&mut self, seq: OrderSeq, qty: i128, t: u64) {
        let o = &mut self.orders[seq as usize];
        let Some(display) = o.display_volume() else { return };
        debug_assert_eq!(o.status, Status::Open);
        o.set_shown(o.shown() - qty);
        if o.shown() == 0 {
            o.set_shown(display.min(o.remaining()));
            let (pair, side, price, shown) = (o.req.pair, o.req.side, o.req.price, o.shown());
            self.books[pair as usize].requeue_front(side, price, shown, &mut self.orders);
            self.report(seq, super::events::OrderEventKind::IcebergRefill { shown }, t);
        }
    }

    /// How much base a viqc market buy may still take at `price`: the most whole lots whose
    /// cost and fee (at the highest taker rate) fit in the quote it has left, with two minimal
    /// units kept back for the cumulative rounding of cost and fee (each fill charges at most
    /// one unit more than its exact share of each), so the order never spends beyond its hold.
    pub(super) fn quote_budget_volume(&self, seq: OrderSeq, price: u64) -> i128 {
        let o = &self.orders[seq as usize];
        let pair = self.markets.pair(o.req.pair);
        let budget = o.req.volume - o.cost() - o.fee() - 2;
        if budget <= 0 || price == 0 {
            return 0;
        }
        let rate = self.markets.max_taker_ppm();
        let q = budget * pair.cost_divisor * PPM / (price as i128 * (PPM + rate));
        q - q % pair.lot_step()
    }

    /// Each open iceberg shows more than 0, at most its display volume and what remains; a
    /// pending one shows nothing (part of `check_invariants`).
    pub(super) fn check_icebergs(&self) -> Result<(), String> {
        for o in self.orders.iter().filter(|o| o.is_open()) {
            if let Some(display) = o.display_volume() {
                let fits = if o.status == Status::Open { o.shown() > 0 && o.shown() <= display.min(o.remaining()) } else { o.shown() == 0 };
                if !fits {
                    return Err(format!("iceberg {}: shows {} of display {display}, {} remaining", o.seq, o.shown(), o.remaining()));
                }
            }
        }
        Ok(())
    }
}
