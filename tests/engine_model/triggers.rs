//! Random operations for triggered orders: stop-loss, take-profit, their `-limit` forms and
//! trailing stops around the pair's centre (absolute, relative and percentage prices, `last`
//! and `index` references, some scheduled with a `starttm`), conditional closes on limit orders, and index moves (a `Requote`
//! of a small ladder by one of the users). Their checks: an armed order never trades and is on
//! no book, a sell holds exactly its volume (and base fee), and nothing is ever re-armed (each
//! order fires at most once).

use super::*;
use calamari::engine::ladder::Requote;
use calamari::engine::order::{CloseOrder, Offset, OffsetSign, Trigger};

#[derive(Clone, Debug)]
pub enum TriggerOp {
    Stop {
        acct: u8,
        pair: u8,
        buy: bool,
        /// stop-loss, take-profit, stop-loss-limit, take-profit-limit, trailing-stop, trailing-stop-limit
        kind: u8,
        /// Trigger ticks from the centre (fixed kinds) or trailing offset ticks.
        trig: i64,
        /// Limit ticks from the trigger (the `-limit` kinds).
        lim: i64,
        lots: i64,
        index: bool,
        /// Give the price as relative (`+`/`-`/`#`) or as a percentage.
        relative: u8,
        fee_in_base: bool,
        /// A scheduled start (`starttm`), seconds ahead: pending, armed at its start.
        start_s: Option<u64>,
    },
    /// A limit order with a conditional close of kind `close_kind` (0 limit, 1 stop-loss,
    /// 2 take-profit-limit, 3 trailing-stop).
    WithClose { acct: u8, pair: u8, buy: bool, off: i64, lots: i64, close_kind: u8, close_off: i64 },
    /// An index move: the user's small ladder re-quoted around `centre + shift`.
    Index { acct: u8, pair: u8, shift: i64 },
}

pub fn trigger_op() -> impl Strategy<Value = TriggerOp> {
    prop_oneof![
        6 => (
            (0u8..4, 0u8..2, any::<bool>(), 0u8..6, -20i64..=20, -5i64..=5),
            (ops::lots(), prop::bool::weighted(0.3), 0u8..4, any::<bool>(), prop::option::weighted(0.15, 1u64..120))
        )
            .prop_map(|((acct, pair, buy, kind, trig, lim), (lots, index, relative, fee_in_base, start_s))| TriggerOp::Stop {
                acct, pair, buy, kind, trig, lim, lots, index, relative, fee_in_base, start_s
            }),
        2 => (0u8..4, 0u8..2, any::<bool>(), -10i64..=10, ops::lots(), 0u8..4, 1i64..=15)
            .prop_map(|(acct, pair, buy, off, lots, close_kind, close_off)| TriggerOp::WithClose { acct, pair, buy, off, lots, close_kind, close_off }),
        2 => (0u8..4, 0u8..2, -20i64..=20).prop_map(|(acct, pair, shift)| TriggerOp::Index { acct, pair, shift }),
    ]
}

fn kind_of(k: u8) -> OrderKind {
    [
        OrderKind::StopLoss,
        OrderKind::TakeProfit,
        OrderKind::StopLossLimit,
        OrderKind::TakeProfitLimit,
        OrderKind::TrailingStop,
        OrderKind::TrailingStopLimit,
    ][k as usize % 6]
}

pub fn command(users: &[AccountId], op: &TriggerOp, now: u64) -> Command {
    let user = |a: &u8| users[*a as usize % users.len()];
    match op {
        TriggerOp::Stop { acct, pair, buy, kind, trig, lim, lots, index, relative, fee_in_base, start_s } => {
            let pair = *pair as u16;
            let kind = kind_of(*kind);
            let centre = CENTER[pair as usize] as i64;
            let side = side_of(*buy);
            let mut req = NewOrder::limit(user(acct), pair, side, 0, *lots as i128 * LOT);
            req.kind = kind;
            req.fee_in_base = *fee_in_base;
            req.rare_mut().start_ns = start_s.map(|s| now + s * NS);
            req.trigger = if *index { Trigger::Index } else { Trigger::Last };
            if kind.is_trailing() {
                // `+n` ticks, or `+n%` as tenths of a percent.
                let percent = relative % 2 == 1;
                let value = if percent { trig.unsigned_abs() * 1_000 } else { trig.unsigned_abs() };
                req.rare_mut().price_offset = Some(Offset { sign: OffsetSign::Plus, value, percent });
                if kind.has_limit2() {
                    let sign = if *lim < 0 { OffsetSign::Minus } else { OffsetSign::Plus };
                    req.rare_mut().price2_offset = Some(Offset { sign, value: lim.unsigned_abs(), percent: false });
                }
            } else {
                match relative {
                    0 | 1 => req.price = (centre + trig).max(1) as u64,
                    2 => {
                        let sign = if *trig < 0 { OffsetSign::Minus } else { OffsetSign::Plus };
                        req.rare_mut().price_offset = Some(Offset { sign, value: trig.unsigned_abs(), percent: false });
                    }
                    _ => {
                        req.rare_mut().price_offset =
                            Some(Offset { sign: OffsetSign::Auto, value: trig.unsigned_abs() * 100, percent: true })
                    }
                }
                if kind.has_limit2() {
                    req.rare_mut().price2 = (centre + trig + lim).max(1) as u64;
                }
            }
            Command::PlaceOrder(req)
        }
        TriggerOp::WithClose { acct, pair, buy, off, lots, close_kind, close_off } => {
            let pair = *pair as u16;
            let centre = CENTER[pair as usize] as i64;
            let side = side_of(*buy);
            let mut req = NewOrder::limit(user(acct), pair, side, (centre + off) as u64, *lots as i128 * LOT);
            // The close sells above a buy (or buys below a sell), or stops the other way.
            let away = if *buy { OffsetSign::Plus } else { OffsetSign::Minus };
            let back = if *buy { OffsetSign::Minus } else { OffsetSign::Plus };
            let rel = |sign| Some(Offset { sign, value: *close_off as u64, percent: false });
            req.rare_mut().close = Some(match close_kind % 4 {
                0 => CloseOrder { kind: OrderKind::Limit, price: 0, price2: 0, price_offset: rel(away), price2_offset: None },
                1 => CloseOrder { kind: OrderKind::StopLoss, price: 0, price2: 0, price_offset: rel(back), price2_offset: None },
                2 => {
                    CloseOrder { kind: OrderKind::TakeProfitLimit, price: 0, price2: 0, price_offset: rel(away), price2_offset: rel(back) }
                }
                _ => CloseOrder {
                    kind: OrderKind::TrailingStop,
                    price: 0,
                    price2: 0,
                    price_offset: Some(Offset { sign: OffsetSign::Plus, value: *close_off as u64, percent: false }),
                    price2_offset: None,
                },
            });
            Command::PlaceOrder(req)
        }
        TriggerOp::Index { acct, pair, shift } => {
            let centre = CENTER[*pair as usize] as i64 + shift;
            Command::Requote(Requote {
                account: user(acct),
                pair: *pair as u16,
                index: centre as u64,
                bid: (centre - 3) as u64,
                ask: (centre + 3) as u64,
                step: 2,
                levels: 2,
                size: 100 * LOT,
                jitter_ppm: 0,
                seed: 1,
            })
        }
    }
}

/// The armed orders of an exchange (to compare before and after a command).
pub fn armed(ex: &Exchange) -> Vec<OrderSeq> {
    ex.orders.iter().filter(|o| o.is_armed()).map(|o| o.seq).collect()
}

/// After a command: nothing was re-armed, nothing armed traded or rests on a book, and an
/// armed sell holds exactly its volume (plus the base fee it may pay).
pub fn check(ex: &Exchange, armed_before: &[OrderSeq], n_orders_before: usize, max_taker_ppm: i128) {
    for o in ex.orders.iter().filter(|o| o.is_armed()) {
        assert!(o.seq as usize >= n_orders_before || armed_before.contains(&o.seq), "order {} armed again", o.seq);
        assert_eq!(o.filled(), 0, "armed order {} has fills", o.seq);
        let on_book = ex.books[o.req.pair as usize]
            .levels(o.req.side)
            .any(|(_, l)| ex.books[o.req.pair as usize].queue(l, &ex.orders).any(|s| s == o.seq));
        assert!(!on_book, "armed order {} is on the book", o.seq);
        if o.req.side == Side::Sell {
            let fee = if o.req.fee_in_base { calamari::money::div_ceil(o.req.volume * max_taker_ppm, PPM) } else { 0 };
            assert_eq!(o.hold_remaining(), o.req.volume + fee, "armed sell {} holds", o.seq);
        } else {
            // A buy holds its order at the limit (or, for the market kinds, the trigger): exactly
            // for fixed triggers, at least what the current one needs for trailing ones (their
            // stop only falls).
            let (stop, limit) = ex.stop_and_limit(o);
            let at = if o.req.kind.has_limit2() { limit } else { stop };
            let (_, need) = ex.hold_for(&o.req, at, o.req.volume);
            if o.req.kind.is_trailing() {
                assert!(o.hold_remaining() >= need, "armed trailing buy {} holds {} < {need}", o.seq, o.hold_remaining());
            } else {
                assert_eq!(o.hold_remaining(), need, "armed buy {} holds", o.seq);
            }
        }
    }
    // A fired order's fills all came after it fired: its trades are not older than its arming.
    for o in &all_orders(ex) {
        if let Some(st) = o.stop() {
            if st.armed && !o.is_open() {
                assert!(o.filled() == 0, "canceled armed order {} traded", o.seq);
            }
        }
    }
}
