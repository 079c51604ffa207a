//! The reference matcher: a Vec of resting orders scanned for best price then earliest seq,
//! against which the engine's fills, resting orders and statuses are compared.

use super::ops::*;
use super::*;

#[derive(Clone, Debug)]
pub struct RefOrder {
    pub seq: OrderSeq,
    pub account: AccountId,
    pub pair: u16,
    pub side: Side,
    pub price: u64,
    pub volume: i128,
    pub filled: i128,
    pub status: Status,
    pub reason: Option<CancelReason>,
    pub userref: Option<i32>,
    pub cl: Option<String>,
}

/// (maker seq, taker seq, price, qty)
pub type Fill = (OrderSeq, OrderSeq, u64, i128);

#[derive(Default)]
pub struct Reference {
    pub orders: Vec<RefOrder>,
}

impl Reference {
    /// Resting orders of one side in priority order: best price, then earliest.
    pub fn resting(&self, pair: u16, side: Side) -> Vec<&RefOrder> {
        let mut v: Vec<&RefOrder> = self.orders.iter().filter(|o| o.status == Status::Open && o.pair == pair && o.side == side).collect();
        v.sort_by(|a, b| {
            let by_price = match side {
                Side::Buy => b.price.cmp(&a.price),
                Side::Sell => a.price.cmp(&b.price),
            };
            by_price.then(a.seq.cmp(&b.seq))
        });
        v
    }

    pub fn best(&self, pair: u16, side: Side) -> Option<usize> {
        self.resting(pair, side).first().map(|o| o.seq as usize)
    }

    pub fn place(&mut self, req: &NewOrder) -> Result<(OrderSeq, Vec<Fill>), KrakenError> {
        if let Some(c) = &req.rare().cl_ord_id {
            if self.orders.iter().any(|o| o.status == Status::Open && o.account == req.account && o.cl.as_ref() == Some(c)) {
                return Err(KrakenError::invalid("cl_ord_id"));
            }
        }
        let opp = opposite(req.side);
        let limit = match (req.kind, req.side) {
            (OrderKind::Limit | OrderKind::Iceberg, _) => req.price,
            (OrderKind::Market, Side::Sell) => 0,
            (OrderKind::Market, Side::Buy) => {
                // The price level at which the asks' cumulative volume reaches the order's.
                let mut need = req.volume;
                let mut worst = 0;
                for o in self.resting(req.pair, Side::Sell) {
                    if need <= 0 && o.price != worst {
                        break;
                    }
                    worst = o.price;
                    need -= o.volume - o.filled;
                }
                worst
            }
            (kind, _) => unreachable!("the reference book has no {kind:?} orders"),
        };
        let crosses = |p: u64| match req.side {
            Side::Buy => p <= limit,
            Side::Sell => p >= limit,
        };
        let seq = self.orders.len() as OrderSeq;
        self.orders.push(RefOrder {
            seq,
            account: req.account,
            pair: req.pair,
            side: req.side,
            price: req.price,
            volume: req.volume,
            filled: 0,
            status: Status::Open,
            reason: None,
            userref: req.userref,
            cl: req.rare().cl_ord_id.clone(),
        });
        let me = seq as usize;
        let mut fills = Vec::new();
        if req.post_only && self.best(req.pair, opp).is_some_and(|m| crosses(self.orders[m].price)) {
            self.orders[me].status = Status::Canceled;
            self.orders[me].reason = Some(CancelReason::PostOnly);
            return Ok((seq, fills));
        }
        let mut stopped = false;
        while self.orders[me].filled < req.volume {
            let Some(m) = self.best(req.pair, opp) else {
                break;
            };
            let price = self.orders[m].price;
            if !crosses(price) {
                break;
            }
            if self.orders[m].account == req.account {
                match req.self_trade {
                    SelfTrade::CancelNewest => {
                        stopped = true;
                        break;
                    }
                    SelfTrade::CancelOldest => {
                        self.orders[m].status = Status::Canceled;
                        self.orders[m].reason = Some(CancelReason::SelfTrade);
                        continue;
                    }
                    SelfTrade::CancelBoth => {
                        self.orders[m].status = Status::Canceled;
                        self.orders[m].reason = Some(CancelReason::SelfTrade);
                        stopped = true;
                        break;
                    }
                }
            }
            let qty = (req.volume - self.orders[me].filled).min(self.orders[m].volume - self.orders[m].filled);
            self.orders[me].filled += qty;
            self.orders[m].filled += qty;
            if self.orders[m].filled == self.orders[m].volume {
                self.orders[m].status = Status::Closed;
            }
            fills.push((m as OrderSeq, seq, price, qty));
        }
        let o = &mut self.orders[me];
        if o.filled == o.volume {
            o.status = Status::Closed;
        } else if stopped {
            o.status = Status::Canceled;
            o.reason = Some(CancelReason::SelfTrade);
        } else if req.kind == OrderKind::Market {
            o.status = Status::Canceled;
            o.reason = Some(CancelReason::NoLiquidity);
        } else if req.time_in_force == TimeInForce::Ioc {
            o.status = Status::Canceled;
            o.reason = Some(CancelReason::ImmediateOrCancel);
        }
        Ok((seq, fills))
    }

    pub fn cancel(&mut self, account: AccountId, target: Option<&CancelTarget>) -> Result<u32, KrakenError> {
        let victims: Vec<usize> = self
            .orders
            .iter()
            .filter(|o| {
                o.status == Status::Open
                    && o.account == account
                    && match target {
                        None => true,
                        Some(CancelTarget::Order(s)) => o.seq == *s,
                        Some(CancelTarget::UserRef(r)) => o.userref == Some(*r),
                        Some(CancelTarget::ClOrdId(c)) => o.cl.as_ref() == Some(c),
                    }
            })
            .map(|o| o.seq as usize)
            .collect();
        if victims.is_empty() && target.is_some() {
            return Err(KrakenError::UnknownOrder);
        }
        for v in &victims {
            self.orders[*v].status = Status::Canceled;
            self.orders[*v].reason = Some(CancelReason::UserRequested);
        }
        Ok(victims.len() as u32)
    }
}

/// The engine's resting orders of one side in priority order: (seq, price, remaining).
pub fn engine_resting(ex: &Exchange, pair: u16, side: Side) -> Vec<(OrderSeq, u64, i128)> {
    let mut out = Vec::new();
    for (price, level) in ex.books[pair as usize].levels(side) {
        for s in ex.books[pair as usize].queue(level, &ex.orders) {
            let o = &order(ex, s);
            if o.is_open() && o.req.price == *price {
                out.push((o.seq, *price, o.remaining()));
            }
        }
    }
    out
}

/// The fills a command made, from the trade records it added.
pub fn engine_fills(ex: &Exchange, from: usize) -> Vec<Fill> {
    ex.history_out.trades[from..]
        .chunks(2)
        .map(|f| {
            let (taker, maker) = (&f[0], &f[1]);
            assert!(!taker.maker && maker.maker, "trade records come as (taker, maker)");
            assert_eq!((taker.price, taker.volume), (maker.price, maker.volume));
            (maker.order, taker.order, maker.price, maker.volume)
        })
        .collect()
}

pub fn reference_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => place(5, 1, 1).prop_map(Op::Place),
        4 => cancel_ops(),
    ]
}
