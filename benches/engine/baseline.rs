//! The baseline: a plain price-time book, a `BTreeMap` of price levels each holding a `VecDeque`
//! of resting orders, with a `HashMap` from order id to its side and price for cancels. No
//! accounts, balances, fees or ledger: it is what "just a book" costs, the yardstick the other
//! engines are measured against. It is also the stream generator's oracle.

use crate::stream::Side;
use std::collections::{BTreeMap, HashMap, VecDeque};

#[derive(Default)]
pub struct BaselineBook {
    bids: BTreeMap<u64, VecDeque<(u64, u64)>>,
    asks: BTreeMap<u64, VecDeque<(u64, u64)>>,
    index: HashMap<u64, (Side, u64)>,
    /// Traded quantity, for cross-checking engines against each other.
    pub traded: u64,
}

impl BaselineBook {
    /// Matches, then rests what is left unless `ioc`. Returns the ids of makers filled
    /// completely and whether the order rests.
    pub fn place(&mut self, id: u64, side: Side, price: u64, mut qty: u64, ioc: bool) -> (Vec<u64>, bool) {
        let mut filled = Vec::new();
        let opposite = match side {
            Side::Buy => &mut self.asks,
            Side::Sell => &mut self.bids,
        };
        while qty > 0 {
            let best = match side {
                Side::Buy => opposite.first_entry(),
                Side::Sell => opposite.last_entry(),
            };
            let Some(mut level) = best else { break };
            let crosses = match side {
                Side::Buy => *level.key() <= price,
                Side::Sell => *level.key() >= price,
            };
            if !crosses {
                break;
            }
            let queue = level.get_mut();
            while qty > 0 {
                let Some(front) = queue.front_mut() else { break };
                let fill = front.1.min(qty);
                front.1 -= fill;
                qty -= fill;
                self.traded += fill;
                if front.1 == 0 {
                    let (maker, _) = queue.pop_front().unwrap();
                    self.index.remove(&maker);
                    filled.push(maker);
                }
            }
            if queue.is_empty() {
                level.remove();
            }
        }
        let rests = qty > 0 && !ioc;
        if rests {
            let own = match side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            own.entry(price).or_default().push_back((id, qty));
            self.index.insert(id, (side, price));
        }
        (filled, rests)
    }

    pub fn cancel(&mut self, id: u64) -> bool {
        let Some((side, price)) = self.index.remove(&id) else { return false };
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let queue = levels.get_mut(&price).expect("indexed orders rest at their level");
        queue.retain(|(o, _)| *o != id);
        if queue.is_empty() {
            levels.remove(&price);
        }
        true
    }

    /// A resting order's side, price and remaining quantity.
    pub fn order(&self, id: u64) -> Option<(Side, u64, u64)> {
        let (side, price) = *self.index.get(&id)?;
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let qty = levels[&price].iter().find(|(o, _)| *o == id)?.1;
        Some((side, price, qty))
    }

    pub fn resting(&self) -> (usize, usize) {
        (self.index.len(), self.bids.len() + self.asks.len())
    }
}
