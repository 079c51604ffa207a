//! [`Exchange::check_invariants`]: the invariants listed in the engine's module doc, checked
//! after commands in tests (here so that `mod.rs` stays the map of the state machine).

use super::account::FIRST_USER;
use super::order::{self, AccountId, Status};
use super::Exchange;

impl Exchange {
    /// Checks every invariant listed in the module doc; returns a description of the first
    /// broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        for a in 0..self.markets.assets.len() {
            let sum: i128 = self.accounts.iter().map(|acct| acct.funds[a].balance).sum();
            if sum != 0 {
                return Err(format!("asset {a}: balances sum to {sum}"));
            }
        }
        let mut holds = vec![vec![0i128; self.markets.assets.len()]; self.accounts.len()];
        for o in self.orders.iter() {
            o.check_amounts()?;
        }
        for o in self.orders.iter().filter(|o| o.is_open()) {
            holds[o.req.account as usize][o.hold_asset as usize] += o.hold_remaining();
        }
        self.withdrawal_holds(&mut holds);
        for (id, acct) in self.accounts.iter().enumerate() {
            if acct.holds() != holds[id] {
                return Err(format!("account {id}: holds {:?} != open orders' and withdrawals' {:?}", acct.holds(), holds[id]));
            }
            for (a, (b, h)) in acct.funds.iter().map(|f| (&f.balance, &f.hold)).enumerate() {
                if id as AccountId >= FIRST_USER && (b < h || *b < 0) {
                    return Err(format!("account {id} asset {a}: balance {b} below hold {h}"));
                }
            }
        }
        self.check_triggers()?;
        for (p, book) in self.books.iter().enumerate() {
            book.check_best().map_err(|e| format!("pair {p}: {e}"))?;
            for side in [order::Side::Buy, order::Side::Sell] {
                for (price, level) in book.levels(side) {
                    let mut live = 0;
                    let mut count = 0;
                    book.check_queue(level, &self.orders).map_err(|e| format!("pair {p} level {price}: {e}"))?;
                    for s in book.queue(level, &self.orders) {
                        let o = &self.orders[s as usize];
                        if o.status != Status::Open
                            || o.is_armed()
                            || o.req.price != *price
                            || o.req.side != side
                            || o.req.pair as usize != p
                        {
                            return Err(format!("pair {p} level {price}: order {s} queued there does not rest there"));
                        }
                        live += o.book_volume();
                        count += 1;
                    }
                    if live != level.volume || count != level.live {
                        return Err(format!(
                            "pair {p} level {price}: volume {} in {} orders != orders' {live} in {count}",
                            level.volume, level.live
                        ));
                    }
                }
            }
        }
        // And every open order off the trigger index rests in its book (each queued once).
        let mut resting = vec![0usize; self.books.len()];
        for o in self.orders.iter().filter(|o| o.status == Status::Open && !o.is_armed()) {
            resting[o.req.pair as usize] += 1;
        }
        for (p, book) in self.books.iter().enumerate() {
            if book.total_live() != resting[p] {
                return Err(format!("pair {p}: {} orders queued != {} open orders off the trigger index", book.total_live(), resting[p]));
            }
        }
        self.check_icebergs()?;
        self.check_timers()
    }
}
