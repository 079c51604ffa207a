//! The driver: applies commands with increasing time, checks the engine's invariants and a few
//! structural ones after each, keeps the log; and a cheap fingerprint of everything a command may
//! change (a rejected command must leave it as it was).

use super::*;

/// An account's balances, holds, open orders and fee-volume days.
pub type AccountPrint = (Vec<i128>, Vec<i128>, Vec<OrderSeq>, Vec<(u64, i128)>);
/// An order's status, reason, filled, cost, fee, hold left, trade count, volume and price.
pub type OrderPrint = (Status, Option<CancelReason>, i128, i128, i128, i128, usize, i128, u64);
/// A book's bid and ask depth (price, volume), its live count and the orders queued in its levels.
pub type BookPrint = (Vec<(u64, i128)>, Vec<(u64, i128)>, usize, usize);

#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Per account; its trades and ledger entries are counted in `trades` and `ledger` (they
    /// leave the engine: `outbox`).
    pub accounts: Vec<AccountPrint>,
    pub orders: Vec<OrderPrint>,
    pub trades: usize,
    pub ledger: usize,
    pub books: Vec<BookPrint>,
    pub market_data: Vec<(usize, usize, u64)>,
    pub funding: String,
    pub timers: String,
    pub amends: String,
    /// Market states and each book level's last-change stamp.
    pub status: String,
    pub stamps: Vec<Vec<(u64, i128, u64)>>,
}

pub fn fingerprint(ex: &Exchange) -> Fingerprint {
    Fingerprint {
        accounts: ex
            .accounts
            .iter()
            .map(|a| (a.balances(), a.holds(), a.open_orders.iter().copied().collect(), a.volume_by_day.iter().copied().collect()))
            .collect(),
        orders: all_orders(ex)
            .iter()
            .map(|o| (o.status, o.reason, o.filled(), o.cost(), o.fee(), o.hold_remaining(), o.trades().len(), o.req.volume, o.req.price))
            .collect(),
        trades: ex.history_out.trades.len(),
        ledger: ex.history_out.ledger.len(),
        books: ex
            .books
            .iter()
            .map(|b| {
                let queued: usize =
                    [Side::Buy, Side::Sell].iter().map(|s| b.levels(*s).map(|(_, l)| b.queue(l, &ex.orders).count()).sum::<usize>()).sum();
                (b.depth(Side::Buy, usize::MAX), b.depth(Side::Sell, usize::MAX), b.total_live(), queued)
            })
            .collect(),
        market_data: ex.market_data.iter().map(|m| (m.trades.len(), m.spreads.len(), m.last_price)).collect(),
        funding: format!("{:?}", ex.funding),
        timers: format!("{:?}", ex.timers),
        amends: format!(
            "{:?}",
            super::all_orders(ex).iter().filter(|o| o.amended()).map(|o| (o.seq, o.amends().to_vec())).collect::<Vec<_>>()
        ),
        status: format!("{:?}", ex.market_status),
        stamps: ex.books.iter().flat_map(|b| [b.depth_stamped(Side::Buy, usize::MAX), b.depth_stamped(Side::Sell, usize::MAX)]).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// A driver: applies commands with increasing time, checks invariants after each, keeps the log.

pub struct Sim {
    pub ex: Exchange,
    pub t: u64,
    pub users: Vec<AccountId>,
    /// Every envelope applied, with whether it was accepted.
    pub all: Vec<(Envelope, bool)>,
}

impl Sim {
    pub fn new(seed: u64, n_users: usize, funds: [i128; 3]) -> Sim {
        let mut sim = Sim { ex: exchange(seed), t: T0, users: Vec::new(), all: Vec::new() };
        for i in 0..n_users {
            match sim.apply(Command::CreateAccount { name: format!("user{i}") }) {
                Ok(Applied::AccountCreated(id)) => sim.users.push(id),
                other => panic!("create account: {other:?}"),
            }
            for (asset, amount) in funds.iter().enumerate() {
                let acct = sim.users[i];
                sim.apply(Command::Deposit { account: acct, asset: asset as u16, amount: *amount }).expect("deposit");
            }
        }
        sim
    }

    /// Applies a command at the current time; asserts the invariants, and that a rejected
    /// command changed nothing.
    pub fn apply(&mut self, command: Command) -> Result<Applied, KrakenError> {
        let env = Envelope { time_ns: self.t, key_nonce: None, command };
        let before = fingerprint(&self.ex);
        let (n_orders, n_trades) = (self.ex.orders.next_seq() as usize, self.ex.history_out.trades.len());
        let armed = super::triggers::armed(&self.ex);
        let out = self.ex.apply(&env);
        if let Err(e) = self.ex.check_invariants() {
            panic!("invariant broken after {env:?} -> {out:?}: {e}");
        }
        extra_invariants(&self.ex, n_trades);
        super::triggers::check(&self.ex, &armed, n_orders, self.ex.markets.max_taker_ppm());
        match &out {
            Err(e) => {
                let after = fingerprint(&self.ex);
                assert!(before == after, "rejected command {env:?} ({e:?}) changed the state");
            }
            Ok(Applied::OrderPlaced(seq)) | Ok(Applied::Edited { order: seq }) => {
                assert_eq!(*seq as usize, n_orders, "new order's seq");
                // Beyond it, only conditional closes (of orders that ended) are new.
                assert!(all_orders(&self.ex).iter().filter(|o| o.seq as usize > n_orders).all(|o| o.parent().is_some()));
            }
            Ok(Applied::Batch(results)) => {
                // The placed orders in order, the others of the command conditional closes.
                let placed: Vec<OrderSeq> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
                assert!(placed.windows(2).all(|w| w[0] < w[1]) && placed.iter().all(|s| *s as usize >= n_orders), "batch orders' seqs");
                let all = all_orders(&self.ex);
                let others = all.iter().filter(|o| o.seq as usize >= n_orders && !placed.contains(&o.seq));
                assert!(others.clone().all(|o| o.parent().is_some()), "a batch made other orders");
            }
            // A re-quote makes its ladder's orders; others only conditional closes.
            Ok(_) if matches!(env.command, Command::Requote(_)) => {}
            Ok(_) => assert!(
                all_orders(&self.ex).iter().filter(|o| o.seq as usize >= n_orders).all(|o| o.parent().is_some()),
                "a command made orders"
            ),
        }
        self.all.push((env, out.is_ok()));
        out
    }

    pub fn advance(&mut self, dt: u64) {
        self.t += dt;
    }

    /// What the sequencer does before each job: apply the funding transitions that came due.
    pub fn tick_if_due(&mut self) {
        if self.ex.due(self.t) {
            self.apply(Command::Tick).expect("a due tick applies");
            // Everything due fired, once: no expiry or start left at or before the time.
            assert!(!self.ex.due(self.t), "a tick left something due");
            for o in self.ex.orders.iter().filter(|o| o.is_open()) {
                assert!(o.expire_ns().is_none_or(|e| e > self.t), "order {} outlived its expiry", o.seq);
                assert!(o.status != Status::Pending || o.start_ns().is_some_and(|s| s > self.t), "order {} missed its start", o.seq);
            }
        }
    }
}

/// The most an open order's remaining fills can still charge, from its running exact totals
/// (cumulative rounding, the highest taker rate): what its hold must cover, amended or not.
fn future_need(ex: &Exchange, o: &calamari::engine::order::Order) -> i128 {
    let pair = ex.markets.pair(o.req.pair);
    let max_taker = ex.markets.max_taker_ppm();
    let ceil = |a: i128, b: i128| (a + b - 1).div_euclid(b);
    let remaining = o.remaining();
    match o.req.side {
        Side::Buy => {
            let exact = pair.exact_cost(o.req.price, remaining);
            let fee = if o.req.fee_in_base { 0 } else { ceil(o.exact_fee() + exact * max_taker, pair.cost_divisor * PPM) - o.fee() };
            ceil(o.exact_cost() + exact, pair.cost_divisor) - o.cost() + fee
        }
        Side::Sell => remaining + if o.req.fee_in_base { ceil(o.exact_fee() + remaining * max_taker, PPM) - o.fee() } else { 0 },
    }
}

/// Structural checks beyond `check_invariants`, plus the limit-price rule on the fills the last
/// command made (`trades[n_trades..]`).
pub fn extra_invariants(ex: &Exchange, n_trades: usize) {
    for o in &all_orders(ex) {
        if o.is_armed() {
            // Waits for its trigger, off the book (see `triggers::check`).
            assert!(ex.accounts[o.req.account as usize].open_orders.contains(&o.seq));
            continue;
        }
        if o.is_open() {
            let pending = o.status == Status::Pending;
            let rests = (matches!(o.req.kind, OrderKind::Limit | OrderKind::Iceberg) || o.req.kind.has_limit2())
                && matches!(o.req.time_in_force, TimeInForce::Gtc | TimeInForce::Gtd);
            assert!(rests || pending, "open order {} cannot rest", o.seq);
            assert!(o.filled() < o.req.volume && o.hold_remaining() >= 0);
            assert!(!pending || (o.filled() == 0 && o.trades().is_empty()), "pending order {} traded", o.seq);
            let owner = &ex.accounts[o.req.account as usize];
            assert!(owner.open_orders.contains(&o.seq));
            let level = ex.books[o.req.pair as usize].levels(o.req.side).find(|(p, _)| **p == o.req.price).map(|(_, l)| l);
            let book = &ex.books[o.req.pair as usize];
            let queued = level.is_some_and(|l| book.queue(l, &ex.orders).any(|s| s == o.seq));
            assert_eq!(queued, !pending, "order {} ({:?}) in its book level: {queued}", o.seq, o.status);
            if let Some(d) = o.display_volume() {
                assert!(pending || (o.shown() > 0 && o.shown() <= d), "iceberg {} shows {} of {d}", o.seq, o.shown());
            }
            // (Limit orders and icebergs: triggered kinds hold by their own rule, checked in triggers.)
            if !o.req.kind.is_triggered() {
                assert!(o.hold_remaining() >= future_need(ex, o), "open order {} holds less than its fills can still charge", o.seq);
            }
        } else {
            assert_eq!(o.hold_remaining(), 0, "finished order {} still holds", o.seq);
            match o.status {
                Status::Closed if o.req.quote_volume => assert!(o.filled() > 0, "closed viqc order {} bought nothing", o.seq),
                Status::Closed => {
                    assert_eq!(o.filled(), { o.req.volume }, "closed order {} not filled", o.seq)
                }
                Status::Canceled => {
                    assert!((o.req.quote_volume || o.filled() < o.req.volume) && o.reason.is_some(), "canceled order {}", o.seq)
                }
                Status::Expired => {
                    assert!(o.filled() < o.req.volume && o.reason.is_none() && o.expire_ns() == Some(o.close_ns), "expired order {}", o.seq)
                }
                Status::Open | Status::Pending => unreachable!(),
            }
            assert!(!ex.accounts[o.req.account as usize].open_orders.contains(&o.seq));
        }
    }
    for (i, a) in ex.accounts.iter().enumerate() {
        for s in &a.open_orders {
            assert!(order(ex, *s).is_open() && order(ex, *s).req.account as usize == i);
        }
    }
    for (p, book) in ex.books.iter().enumerate() {
        // The spread history ends with the current top of the book.
        let top = (book.best(Side::Buy).unwrap_or(0), book.best(Side::Sell).unwrap_or(0));
        let last = ex.market_data[p].spreads.back().map(|(_, b, a)| (*b, *a)).unwrap_or((0, 0));
        assert_eq!(last, top, "pair {p}: spread history behind the book");
        if let (Some(bid), Some(ask)) = (book.best(Side::Buy), book.best(Side::Sell)) {
            assert!(bid < ask, "pair {p}: crossed book {bid} >= {ask}");
        }
        for side in [Side::Buy, Side::Sell] {
            for (price, level) in book.levels(side) {
                assert!(level.live > 0 && level.volume > 0, "pair {p}: empty level {price} left in the book");
                let live = book.queue(level, &ex.orders).filter(|s| order(ex, *s).is_open()).count();
                assert_eq!(live as u32, level.live, "pair {p} level {price}: live count");
            }
        }
    }
    // New fills never trade through either order's limit, and happen at the maker's price.
    assert_eq!(ex.history_out.trades.len() % 2, 0);
    for pair in ex.history_out.trades[n_trades..].chunks(2) {
        let (taker, maker) = (&pair[0], &pair[1]);
        assert!(!taker.maker && maker.maker);
        let (b, s) = if taker.side == Side::Buy { (taker, maker) } else { (maker, taker) };
        let (bo, so) = (&order(ex, b.order), &order(ex, s.order));
        assert!(bo.req.kind.is_market() || taker.price <= bo.req.price, "buy {} filled above its limit", bo.seq);
        assert!(so.req.kind.is_market() || taker.price >= so.req.price, "sell {} filled below its limit", so.seq);
        assert_eq!(maker.price, order(ex, maker.order).req.price, "fill not at the maker's price");
    }
}
