//! Property tests of the matching engine as a state machine (`Exchange::apply`), with no server,
//! storage or clock in the way.
//!
//! 1. `conservation_and_holds`: random streams of orders, cancels and deposits; after every
//!    command the engine's own invariants hold, a few more structural ones hold, and a rejected
//!    command changes nothing.
//! 2. `matches_reference_book`: the same stream fed to a naive reference matcher (a Vec of
//!    resting orders scanned for best price then earliest seq) gives the same fills, the same
//!    resting orders and the same statuses.
//! 3. Exact money (`check_money`, run at the end of 1, 2 and 4): trade records pair up, orders'
//!    cost/fee/filled are the sums of their trades, ledgers replay to the balances.
//! 4. `replay_is_deterministic`: the same envelopes give the same state; the accepted ones,
//!    logged as JSON and replayed into a fresh exchange, rebuild it.
//! 5. Unit cases: post-only, insufficient funds, self-trade prevention, partial fill + cancel.

#![allow(clippy::type_complexity)]

use calamari::config::Config;
use calamari::engine::account::{LedgerKind, RefId, EXTERNAL, FEES, FIRST_USER};
use calamari::engine::markets::Markets;
use calamari::engine::order::{AccountId, CancelReason, NewOrder, OrderKind, OrderSeq, SelfTrade, Side, Status, TimeInForce};
use calamari::engine::{Applied, CancelTarget, Command, Envelope, Exchange};
use calamari::error::KrakenError;
use calamari::money::div_round_half_up;
use proptest::prelude::*;

const CONFIG: &str = r#"
[demo]
account = "demo"
balances = []

[fees]
taker = [[0, "0.40"], [10000, "0.35"]]
maker = [[0, "0.25"], [10000, "0.20"]]

[[assets]]
id = "ZUSD"
altname = "USD"
decimals = 4
display_decimals = 2

[[assets]]
id = "XXBT"
altname = "XBT"
decimals = 10
display_decimals = 5
aliases = ["BTC"]

[[assets]]
id = "XETH"
altname = "ETH"
decimals = 10
display_decimals = 5

[[pairs]]
id = "XXBTZUSD"
altname = "XBTUSD"
wsname = "XBT/USD"
base = "XXBT"
quote = "ZUSD"
pair_decimals = 1
lot_decimals = 8
cost_decimals = 5
ordermin = "0.0001"
costmin = "0.5"
tick_size = "0.1"
reference_price = "60000"
change_24h_pct = "1.5"

[[pairs]]
id = "XETHZUSD"
altname = "ETHUSD"
wsname = "ETH/USD"
base = "XETH"
quote = "ZUSD"
pair_decimals = 2
lot_decimals = 8
cost_decimals = 5
ordermin = "0.002"
costmin = "0.5"
tick_size = "0.01"
reference_price = "3000"
change_24h_pct = "-2"
"#;

const USD: u16 = 0;
const XBT: u16 = 1;
const NS: u64 = 1_000_000_000;
const DAY_NS: u64 = 86_400 * NS;
const PPM: i128 = 1_000_000;
/// Price ticks the random orders centre on, per pair (60000.0 and 3000.00).
const CENTER: [u64; 2] = [600_000, 300_000];
/// Base minimal units per lot (10^(10-8)).
const LOT: i128 = 100;
const T0: u64 = 1_700_000_000 * NS;

fn config() -> Config {
    // `Config::from_toml` is the intended way in; while its validation refuses this config (see
    // `config_validation_accepts_the_test_config`), deserialize it directly so the engine
    // properties still run.
    Config::from_toml(CONFIG).unwrap_or_else(|_| toml::from_str(CONFIG).expect("test config parses"))
}

fn markets() -> Markets {
    Markets::from_config(&config()).expect("test config converts")
}

#[test]
fn config_validation_accepts_the_test_config() {
    // Prices and amounts of 1 or more are ordinary (reference_price = "60000").
    assert!(Config::from_toml(CONFIG).is_ok(), "{:?}", Config::from_toml(CONFIG).err());
}

fn exchange(seed: u64) -> Exchange {
    Exchange::new(markets(), seed)
}

fn side_of(buy: bool) -> Side {
    if buy {
        Side::Buy
    } else {
        Side::Sell
    }
}

fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

fn stp_of(n: u8) -> SelfTrade {
    match n % 3 {
        0 => SelfTrade::CancelNewest,
        1 => SelfTrade::CancelOldest,
        _ => SelfTrade::CancelBoth,
    }
}

// ---------------------------------------------------------------------------------------------
// A cheap fingerprint of everything a command may change.

#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    accounts: Vec<(Vec<i128>, Vec<i128>, Vec<OrderSeq>, usize, usize, usize, Vec<(u64, i128)>)>,
    orders: Vec<(Status, Option<CancelReason>, i128, i128, i128, i128, usize)>,
    trades: usize,
    ledger: usize,
    books: Vec<(Vec<(u64, i128)>, Vec<(u64, i128)>, usize, usize)>,
    market_data: Vec<(usize, usize, u64)>,
}

fn fingerprint(ex: &Exchange) -> Fingerprint {
    Fingerprint {
        accounts: ex
            .accounts
            .iter()
            .map(|a| {
                (
                    a.balances.clone(),
                    a.holds.clone(),
                    a.open_orders.iter().copied().collect(),
                    a.closed_orders.len(),
                    a.trades.len(),
                    a.ledger.len(),
                    a.volume_by_day.iter().copied().collect(),
                )
            })
            .collect(),
        orders: ex.orders.iter().map(|o| (o.status, o.reason, o.filled, o.cost, o.fee, o.hold_remaining, o.trades.len())).collect(),
        trades: ex.trades.len(),
        ledger: ex.ledger.len(),
        books: ex
            .books
            .iter()
            .map(|b| {
                let queued: usize = [Side::Buy, Side::Sell].iter().map(|s| b.levels(*s).map(|(_, l)| l.queue.len()).sum::<usize>()).sum();
                (b.depth(Side::Buy, usize::MAX), b.depth(Side::Sell, usize::MAX), b.total_live(), queued)
            })
            .collect(),
        market_data: ex.market_data.iter().map(|m| (m.trades.len(), m.spreads.len(), m.last_price)).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// A driver: applies commands with increasing time, checks invariants after each, keeps the log.

struct Sim {
    ex: Exchange,
    t: u64,
    users: Vec<AccountId>,
    /// Every envelope applied, with whether it was accepted.
    all: Vec<(Envelope, bool)>,
}

impl Sim {
    fn new(seed: u64, n_users: usize, funds: [i128; 3]) -> Sim {
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
    fn apply(&mut self, command: Command) -> Result<Applied, KrakenError> {
        let env = Envelope { time_ns: self.t, key_nonce: None, command };
        let before = fingerprint(&self.ex);
        let (n_orders, n_trades) = (self.ex.orders.len(), self.ex.trades.len());
        let out = self.ex.apply(&env);
        if let Err(e) = self.ex.check_invariants() {
            panic!("invariant broken after {env:?} -> {out:?}: {e}");
        }
        extra_invariants(&self.ex, n_trades);
        match &out {
            Err(e) => {
                let after = fingerprint(&self.ex);
                assert!(before == after, "rejected command {env:?} ({e:?}) changed the state");
            }
            Ok(Applied::OrderPlaced(seq)) => {
                assert_eq!(*seq as usize, n_orders, "new order's seq");
                assert_eq!(self.ex.orders.len(), n_orders + 1);
            }
            Ok(_) => assert_eq!(self.ex.orders.len(), n_orders),
        }
        self.all.push((env, out.is_ok()));
        out
    }

    fn advance(&mut self, dt: u64) {
        self.t += dt;
    }
}

/// Structural checks beyond `check_invariants`, plus the limit-price rule on the fills the last
/// command made (`trades[n_trades..]`).
fn extra_invariants(ex: &Exchange, n_trades: usize) {
    for o in &ex.orders {
        if o.is_open() {
            assert!(o.req.kind == OrderKind::Limit && o.req.time_in_force == TimeInForce::Gtc, "open order {} cannot rest", o.seq);
            assert!(o.filled < o.req.volume && o.hold_remaining >= 0);
            let owner = &ex.accounts[o.req.account as usize];
            assert!(owner.open_orders.contains(&o.seq));
            let level = ex.books[o.req.pair as usize].levels(o.req.side).find(|(p, _)| **p == o.req.price).map(|(_, l)| l);
            assert!(level.is_some_and(|l| l.queue.contains(&o.seq)), "open order {} missing from its book level", o.seq);
        } else {
            assert_eq!(o.hold_remaining, 0, "finished order {} still holds", o.seq);
            match o.status {
                Status::Closed => {
                    assert_eq!(o.filled, o.req.volume, "closed order {} not filled", o.seq)
                }
                Status::Canceled => assert!(o.filled < o.req.volume && o.reason.is_some(), "canceled order {}", o.seq),
                Status::Open => unreachable!(),
            }
            assert!(!ex.accounts[o.req.account as usize].open_orders.contains(&o.seq));
        }
    }
    for (i, a) in ex.accounts.iter().enumerate() {
        for s in &a.open_orders {
            assert!(ex.orders[*s as usize].is_open() && ex.orders[*s as usize].req.account as usize == i);
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
                let live = level.queue.iter().filter(|s| ex.orders[**s as usize].is_open()).count();
                assert_eq!(live as u32, level.live, "pair {p} level {price}: live count");
            }
        }
    }
    // New fills never trade through either order's limit, and happen at the maker's price.
    assert_eq!(ex.trades.len() % 2, 0);
    for pair in ex.trades[n_trades..].chunks(2) {
        let (taker, maker) = (&pair[0], &pair[1]);
        assert!(!taker.maker && maker.maker);
        let (b, s) = if taker.side == Side::Buy { (taker, maker) } else { (maker, taker) };
        let (bo, so) = (&ex.orders[b.order as usize], &ex.orders[s.order as usize]);
        assert!(bo.req.kind == OrderKind::Market || taker.price <= bo.req.price, "buy {} filled above its limit", bo.seq);
        assert!(so.req.kind == OrderKind::Market || taker.price >= so.req.price, "sell {} filled below its limit", so.seq);
        assert_eq!(maker.price, ex.orders[maker.order as usize].req.price, "fill not at the maker's price");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Exact money.

fn check_money(ex: &Exchange) {
    let m = &ex.markets;
    // Trade records come in (taker, maker) pairs of one fill.
    assert_eq!(ex.trades.len() % 2, 0);
    for (i, t) in ex.trades.iter().enumerate() {
        assert_eq!(t.seq as usize, i);
        assert_eq!(ex.orders[t.order as usize].req.account, t.account);
    }
    let mut fees_collected = vec![0i128; m.assets.len()];
    for f in ex.trades.chunks(2) {
        let (taker, maker) = (&f[0], &f[1]);
        assert!(!taker.maker && maker.maker);
        assert_ne!(taker.side, maker.side);
        assert_eq!(
            (taker.price, taker.volume, taker.cost, taker.public_id, taker.pair, taker.time_ns),
            (maker.price, maker.volume, maker.cost, maker.public_id, maker.pair, maker.time_ns),
            "the two sides of a fill disagree"
        );
        assert!(taker.order > maker.order, "the taker is the newer order");
        for r in [taker, maker] {
            let pair = m.pair(r.pair);
            assert!(r.volume > 0 && r.cost >= 0 && r.fee >= 0);
            assert!(r.fee <= if r.fee_in_base { r.volume } else { r.cost }, "fee above what the fill moves");
            assert_eq!(r.ledgers.len(), 2);
            let (lb, lq) = (&ex.ledger[r.ledgers[0] as usize], &ex.ledger[r.ledgers[1] as usize]);
            let (base_fee, quote_fee) = if r.fee_in_base { (r.fee, 0) } else { (0, r.fee) };
            let (base_amt, quote_amt) = match r.side {
                Side::Buy => (r.volume, -r.cost),
                Side::Sell => (-r.volume, r.cost),
            };
            for (l, asset, amount, fee) in [(lb, pair.base, base_amt, base_fee), (lq, pair.quote, quote_amt, quote_fee)] {
                assert_eq!(
                    (l.account, l.asset, l.amount, l.fee, l.kind, l.refid),
                    (r.account, asset, amount, fee, LedgerKind::Trade, RefId::Trade(r.seq)),
                    "ledger entry of trade {}",
                    r.seq
                );
            }
            fees_collected[if r.fee_in_base { pair.base } else { pair.quote } as usize] += r.fee;
        }
    }
    // The public tape is the fills, in order, numbered from 1 per pair.
    for (p, md) in ex.market_data.iter().enumerate() {
        let fills: Vec<_> = ex
            .trades
            .chunks(2)
            .filter(|f| f[0].pair as usize == p)
            .map(|f| (f[0].price, f[0].volume, f[0].side, f[0].order_kind, f[0].public_id))
            .collect();
        let tape: Vec<_> = md.trades.iter().map(|t| (t.price, t.volume, t.taker_side, t.taker_kind, t.trade_id)).collect();
        assert_eq!(tape, fills, "pair {p}: public trades");
        assert!(tape.iter().enumerate().all(|(i, t)| t.4 == i as u64 + 1));
        if let Some(t) = tape.last() {
            assert_eq!(md.last_price, t.0);
        }
    }
    // Orders are the sums of their fills.
    for o in &ex.orders {
        let pair = m.pair(o.req.pair);
        let mine: Vec<_> = o.trades.iter().map(|t| &ex.trades[*t as usize]).collect();
        assert!(mine.iter().all(|t| t.order == o.seq), "order {}'s trade list points at other orders' trades", o.seq);
        let n = ex.trades.iter().filter(|t| t.order == o.seq).count();
        assert_eq!(n, mine.len(), "order {}: trade list incomplete", o.seq);
        assert_eq!(o.filled, mine.iter().map(|t| t.volume).sum::<i128>(), "order {} filled", o.seq);
        assert_eq!(o.cost, mine.iter().map(|t| t.cost).sum::<i128>(), "order {} cost", o.seq);
        assert_eq!(o.fee, mine.iter().map(|t| t.fee).sum::<i128>(), "order {} fee", o.seq);
        let exact: i128 = mine.iter().map(|t| t.price as i128 * t.volume).sum();
        assert_eq!(o.exact_cost, exact, "order {} exact cost", o.seq);
        if o.req.side == Side::Buy {
            // The buyer pays exactly its rounded exact total.
            assert_eq!(o.cost, div_round_half_up(exact, pair.cost_divisor), "buy order {} cost not the rounded exact cost", o.seq);
        } else {
            // The seller gets the buyers' rounded deltas, each less than one unit from its exact
            // cost (a buyer's running total may cross a rounding boundary on any fill).
            assert!(
                (o.cost * pair.cost_divisor - exact).abs() < pair.cost_divisor * mine.len().max(1) as i128,
                "sell order {} cost drifted",
                o.seq
            );
        }
        // Fees never exceed the rounded exact fee, nor the highest rate.
        let divisor = if o.req.fee_in_base { PPM } else { pair.cost_divisor * PPM };
        assert!(o.fee <= div_round_half_up(o.exact_fee, divisor), "order {} fee above the exact fee", o.seq);
        let basis = if o.req.fee_in_base { o.filled } else { exact };
        assert!(o.exact_fee <= basis * m.max_taker_ppm(), "order {} fee rate above the highest", o.seq);
        assert!(o.exact_fee >= basis * 2000, "order {} fee rate below the lowest", o.seq);
    }
    // Each account's ledger replays to its balances.
    let mut owner = vec![None; ex.ledger.len()];
    for (id, acct) in ex.accounts.iter().enumerate() {
        let mut bal = vec![0i128; m.assets.len()];
        let mut last = None;
        for l in &acct.ledger {
            assert!(last.is_none_or(|p| p < *l), "account {id}: ledger out of order");
            last = Some(*l);
            assert!(owner[*l as usize].replace(id).is_none(), "ledger entry {l} in two accounts");
            let e = &ex.ledger[*l as usize];
            assert_eq!(e.seq, *l);
            assert_eq!(e.account as usize, id);
            bal[e.asset as usize] += e.amount - e.fee;
            assert_eq!(e.balance, bal[e.asset as usize], "account {id}: ledger entry {l}'s balance");
        }
        assert_eq!(bal, acct.balances, "account {id}: ledger does not replay to the balances");
    }
    assert!(owner.iter().all(|o| o.is_some()), "a ledger entry belongs to no account");
    assert_eq!(ex.accounts[FEES as usize].balances, fees_collected, "@fees holds exactly the fees charged");
    // @external is minus the deposits.
    let mut deposited = vec![0i128; m.assets.len()];
    for e in ex.ledger.iter().filter(|e| e.kind == LedgerKind::Deposit && e.account != EXTERNAL) {
        deposited[e.asset as usize] += e.amount;
    }
    let ext: Vec<i128> = ex.accounts[EXTERNAL as usize].balances.iter().map(|b| -b).collect();
    assert_eq!(ext, deposited);
}

// ---------------------------------------------------------------------------------------------
// Random operations, interpreted against the current state.

#[derive(Clone, Debug)]
struct Place {
    acct: u8,
    pair: u8,
    buy: bool,
    market: bool,
    /// Ticks from the pair's centre price.
    price_off: i64,
    lots: i64,
    post_only: bool,
    ioc: bool,
    fee_in_base: bool,
    stp: u8,
    userref: Option<i32>,
    cl: Option<u8>,
}

#[derive(Clone, Debug)]
enum Op {
    Place(Place),
    /// Cancels `orders[pick % len]`, as its owner or (if `as_other`) as `acct`.
    CancelOrder {
        acct: u8,
        pick: usize,
        as_other: bool,
    },
    CancelUserRef {
        acct: u8,
        userref: i32,
    },
    CancelClOrdId {
        acct: u8,
        cl: u8,
    },
    CancelAll {
        acct: u8,
    },
    Deposit {
        acct: u8,
        asset: u8,
        amount: i128,
    },
    /// A malformed command of kind `what`, which must be rejected.
    Invalid {
        acct: u8,
        what: u8,
    },
}

fn lots() -> impl Strategy<Value = i64> {
    // Dust (costs round), mid-size, and whole coins (fee tiers move).
    prop_oneof![1i64..1_000, 1_000i64..10_000_000, 10_000_000i64..200_000_000]
}

fn place(band: i64, market_weight: u32, post_only_weight: u32) -> impl Strategy<Value = Place> {
    (
        (0u8..4, 0u8..2, any::<bool>(), prop::bool::weighted(market_weight as f64 / 10.0), -band..=band, lots()),
        (
            prop::bool::weighted(post_only_weight as f64 / 10.0),
            prop::bool::weighted(0.15),
            any::<bool>(),
            0u8..3,
            prop::option::weighted(0.3, 0i32..3),
            prop::option::weighted(0.2, 0u8..3),
        ),
    )
        .prop_map(|((acct, pair, buy, market, price_off, lots), (post_only, ioc, fee_in_base, stp, userref, cl))| Place {
            acct,
            pair,
            buy,
            market,
            price_off,
            lots,
            post_only,
            ioc,
            fee_in_base,
            stp,
            userref,
            cl,
        })
}

fn cancel_ops() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(acct, pick, as_other)| Op::CancelOrder { acct, pick, as_other }),
        1 => (0u8..4, 0i32..3).prop_map(|(acct, userref)| Op::CancelUserRef { acct, userref }),
        1 => (0u8..4, 0u8..3).prop_map(|(acct, cl)| Op::CancelClOrdId { acct, cl }),
        1 => (0u8..4).prop_map(|acct| Op::CancelAll { acct }),
    ]
}

fn mixed_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        14 => place(15, 2, 2).prop_map(Op::Place),
        5 => cancel_ops(),
        1 => (0u8..4, 0u8..3, prop_oneof![1i128..1_000, 1_000_000i128..100_000_000_000]).prop_map(|(acct, asset, amount)| Op::Deposit { acct, asset, amount }),
        1 => (0u8..4, 0u8..10).prop_map(|(acct, what)| Op::Invalid { acct, what }),
    ]
}

/// Time steps: mostly seconds to minutes, sometimes days (fee-volume windows roll).
fn dt() -> impl Strategy<Value = u64> {
    prop_oneof![10 => 0u64..120 * NS, 1 => 0u64..3 * DAY_NS, 1 => Just(0)]
}

fn new_order(users: &[AccountId], p: &Place) -> NewOrder {
    let pair = p.pair as u16;
    NewOrder {
        account: users[p.acct as usize % users.len()],
        pair,
        side: side_of(p.buy),
        kind: if p.market { OrderKind::Market } else { OrderKind::Limit },
        price: if p.market { 0 } else { (CENTER[pair as usize] as i64 + p.price_off) as u64 },
        volume: p.lots as i128 * LOT,
        post_only: p.post_only,
        fee_in_base: p.fee_in_base,
        time_in_force: if p.ioc { TimeInForce::Ioc } else { TimeInForce::Gtc },
        self_trade: stp_of(p.stp),
        userref: p.userref,
        cl_ord_id: p.cl.map(|c| format!("cl-{c}")),
    }
}

/// Turns an op into a concrete command for the current state.
fn command(ex: &Exchange, users: &[AccountId], op: &Op) -> Command {
    let user = |a: &u8| users[*a as usize % users.len()];
    match op {
        Op::Place(p) => Command::PlaceOrder(new_order(users, p)),
        Op::CancelOrder { acct, pick, as_other } => {
            if ex.orders.is_empty() {
                return Command::Cancel { account: user(acct), target: CancelTarget::Order(*pick as u64 % 1000) };
            }
            let o = &ex.orders[pick % ex.orders.len()];
            let account = if *as_other { user(acct) } else { o.req.account };
            Command::Cancel { account, target: CancelTarget::Order(o.seq) }
        }
        Op::CancelUserRef { acct, userref } => Command::Cancel { account: user(acct), target: CancelTarget::UserRef(*userref) },
        Op::CancelClOrdId { acct, cl } => Command::Cancel { account: user(acct), target: CancelTarget::ClOrdId(format!("cl-{cl}")) },
        Op::CancelAll { acct } => Command::CancelAll { account: user(acct) },
        Op::Deposit { acct, asset, amount } => Command::Deposit { account: user(acct), asset: *asset as u16, amount: *amount },
        Op::Invalid { acct, what } => {
            let base = NewOrder {
                account: user(acct),
                pair: 0,
                side: Side::Buy,
                kind: OrderKind::Limit,
                price: CENTER[0],
                volume: 1_000 * LOT,
                post_only: false,
                fee_in_base: false,
                time_in_force: TimeInForce::Gtc,
                self_trade: SelfTrade::CancelNewest,
                userref: None,
                cl_ord_id: None,
            };
            match what {
                0 => Command::PlaceOrder(NewOrder { account: EXTERNAL, ..base }),
                1 => Command::PlaceOrder(NewOrder { account: 999, ..base }),
                2 => Command::PlaceOrder(NewOrder { volume: 1_000 * LOT + 1, ..base }),
                3 => Command::PlaceOrder(NewOrder { price: 0, ..base }),
                4 => Command::PlaceOrder(NewOrder { pair: 7, ..base }),
                5 => Command::PlaceOrder(NewOrder { volume: 0, ..base }),
                6 => Command::Deposit { account: user(acct), asset: USD, amount: 0 },
                7 => Command::Deposit { account: user(acct), asset: 9, amount: 1 },
                8 => Command::Deposit { account: FEES, asset: USD, amount: 1 },
                _ => Command::Cancel { account: user(acct), target: CancelTarget::Order(1_000_000) },
            }
        }
    }
}

fn must_reject(op: &Op) -> bool {
    matches!(op, Op::Invalid { .. })
}

// ---------------------------------------------------------------------------------------------
// 2. The reference matcher.

#[derive(Clone, Debug)]
struct RefOrder {
    seq: OrderSeq,
    account: AccountId,
    pair: u16,
    side: Side,
    price: u64,
    volume: i128,
    filled: i128,
    status: Status,
    reason: Option<CancelReason>,
    userref: Option<i32>,
    cl: Option<String>,
}

/// (maker seq, taker seq, price, qty)
type Fill = (OrderSeq, OrderSeq, u64, i128);

#[derive(Default)]
struct Reference {
    orders: Vec<RefOrder>,
}

impl Reference {
    /// Resting orders of one side in priority order: best price, then earliest.
    fn resting(&self, pair: u16, side: Side) -> Vec<&RefOrder> {
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

    fn best(&self, pair: u16, side: Side) -> Option<usize> {
        self.resting(pair, side).first().map(|o| o.seq as usize)
    }

    fn place(&mut self, req: &NewOrder) -> Result<(OrderSeq, Vec<Fill>), KrakenError> {
        if let Some(c) = &req.cl_ord_id {
            if self.orders.iter().any(|o| o.status == Status::Open && o.account == req.account && o.cl.as_ref() == Some(c)) {
                return Err(KrakenError::invalid("cl_ord_id"));
            }
        }
        let opp = opposite(req.side);
        let limit = match (req.kind, req.side) {
            (OrderKind::Limit, _) => req.price,
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
            cl: req.cl_ord_id.clone(),
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

    fn cancel(&mut self, account: AccountId, target: Option<&CancelTarget>) -> Result<u32, KrakenError> {
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
fn engine_resting(ex: &Exchange, pair: u16, side: Side) -> Vec<(OrderSeq, u64, i128)> {
    let mut out = Vec::new();
    for (price, level) in ex.books[pair as usize].levels(side) {
        for s in &level.queue {
            let o = &ex.orders[*s as usize];
            if o.is_open() && o.req.price == *price {
                out.push((o.seq, *price, o.remaining()));
            }
        }
    }
    out
}

/// The fills a command made, from the trade records it added.
fn engine_fills(ex: &Exchange, from: usize) -> Vec<Fill> {
    ex.trades[from..]
        .chunks(2)
        .map(|f| {
            let (taker, maker) = (&f[0], &f[1]);
            assert!(!taker.maker && maker.maker, "trade records come as (taker, maker)");
            assert_eq!((taker.price, taker.volume), (maker.price, maker.volume));
            (maker.order, taker.order, maker.price, maker.volume)
        })
        .collect()
}

fn reference_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => place(5, 1, 1).prop_map(Op::Place),
        4 => cancel_ops(),
    ]
}

// ---------------------------------------------------------------------------------------------
// The properties.

/// Cases per property (about 1 s in all in a debug build); `PROPTEST_CASES=2000` overrides it.
const CASES: u32 = 128;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// 1 and 3: invariants after every command, rejected commands change nothing, money is exact.
    #[test]
    fn conservation_and_holds(seed in any::<u64>(), ops in prop::collection::vec((mixed_op(), dt()), 1..400)) {
        // Modest funds: some orders are refused for insufficient funds.
        let mut sim = Sim::new(seed, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            let cmd = command(&sim.ex, &sim.users, op);
            let out = sim.apply(cmd);
            if must_reject(op) {
                prop_assert!(out.is_err(), "malformed {:?} accepted", op);
            }
        }
        check_money(&sim.ex);
    }

    /// 2 and 3: the engine matches like the naive reference book.
    #[test]
    fn matches_reference_book(ops in prop::collection::vec(reference_op(), 1..300)) {
        // Generous funds: nothing is refused for money.
        let rich = 100_000_000_000_000_000;
        let mut sim = Sim::new(7, 4, [rich, rich, rich]);
        let mut reference = Reference::default();
        for op in &ops {
            sim.advance(NS);
            let cmd = command(&sim.ex, &sim.users, op);
            let n_trades = sim.ex.trades.len();
            let out = sim.apply(cmd.clone());
            let (ref_out, ref_fills) = match &cmd {
                Command::PlaceOrder(req) => match reference.place(req) {
                    Ok((seq, fills)) => (Ok(Applied::OrderPlaced(seq)), fills),
                    Err(e) => (Err(e), vec![]),
                },
                Command::Cancel { account, target } => (reference.cancel(*account, Some(target)).map(Applied::Canceled), vec![]),
                Command::CancelAll { account } => (reference.cancel(*account, None).map(Applied::Canceled), vec![]),
                other => unreachable!("{other:?}"),
            };
            prop_assert_eq!(&out, &ref_out, "outcome of {:?}", cmd);
            prop_assert_eq!(engine_fills(&sim.ex, n_trades), ref_fills, "fills of {:?}", cmd);
            for pair in 0..2u16 {
                for side in [Side::Buy, Side::Sell] {
                    let want: Vec<_> = reference.resting(pair, side).iter().map(|o| (o.seq, o.price, o.volume - o.filled)).collect();
                    prop_assert_eq!(engine_resting(&sim.ex, pair, side), want, "pair {} {:?} side after {:?}", pair, side, cmd);
                }
            }
            prop_assert_eq!(sim.ex.orders.len(), reference.orders.len());
            for (o, r) in sim.ex.orders.iter().zip(&reference.orders) {
                prop_assert_eq!((o.status, o.reason, o.filled), (r.status, r.reason, r.filled), "order {} after {:?}", o.seq, cmd);
            }
        }
        check_money(&sim.ex);
    }

    /// 4: the same envelopes give the same exchange; the accepted ones, through JSON, rebuild it.
    #[test]
    fn replay_is_deterministic(seed in any::<u64>(), ops in prop::collection::vec((mixed_op(), dt()), 1..250)) {
        let mut sim = Sim::new(seed, 4, [200_000 * 10_000, 5 * 10_000_000_000, 60 * 10_000_000_000]);
        for (op, dt) in &ops {
            sim.advance(*dt);
            let cmd = command(&sim.ex, &sim.users, op);
            let _ = sim.apply(cmd);
        }
        check_money(&sim.ex);

        // Every envelope, rejected ones included, into a twin with the same seed.
        let mut twin = exchange(seed);
        for (env, accepted) in &sim.all {
            prop_assert_eq!(twin.apply(env).is_ok(), *accepted);
        }
        prop_assert_eq!(state(&twin), state(&sim.ex));
        prop_assert_eq!(twin.now_ns, sim.ex.now_ns);

        // Only the accepted envelopes, as the sequencer logs them, into a fresh exchange.
        let mut replayed = exchange(seed);
        for (env, _) in sim.all.iter().filter(|(_, ok)| *ok) {
            let bytes = serde_json::to_vec(env).unwrap();
            let back: Envelope = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(&back, env);
            prop_assert!(replayed.apply(&back).is_ok(), "replay refused {:?}", back);
        }
        prop_assert_eq!(state(&replayed), state(&sim.ex));
        for s in 0..sim.ex.orders.len() as u64 {
            prop_assert_eq!(replayed.order_txid(s), sim.ex.order_txid(s));
        }
    }
}

/// Everything observable of an exchange's state, as text (time aside).
fn state(ex: &Exchange) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        ex.trades,
        ex.ledger,
        ex.accounts,
        ex.orders,
        ex.books,
        ex.market_data.iter().map(|m| (&m.trades, &m.candles, &m.spreads, m.last_price)).collect::<Vec<_>>()
    )
}

// ---------------------------------------------------------------------------------------------
// 5. Unit cases.

fn limit(account: AccountId, pair: u16, side: Side, price: u64, volume: i128) -> NewOrder {
    NewOrder {
        account,
        pair,
        side,
        kind: OrderKind::Limit,
        price,
        volume,
        post_only: false,
        fee_in_base: false,
        time_in_force: TimeInForce::Gtc,
        self_trade: SelfTrade::CancelNewest,
        userref: None,
        cl_ord_id: None,
    }
}

fn place_ok(sim: &mut Sim, req: NewOrder) -> OrderSeq {
    sim.advance(NS);
    match sim.apply(Command::PlaceOrder(req)) {
        Ok(Applied::OrderPlaced(seq)) => seq,
        other => panic!("place: {other:?}"),
    }
}

const BTC: i128 = 10_000_000_000;
const DOLLAR: i128 = 10_000;

fn two_traders() -> (Sim, AccountId, AccountId) {
    let sim = Sim::new(1, 2, [100_000 * DOLLAR, 10 * BTC, 100 * BTC]);
    let (a, b) = (sim.users[0], sim.users[1]);
    (sim, a, b)
}

#[test]
fn post_only_that_would_cross_is_canceled() {
    let (mut sim, a, b) = two_traders();
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC));
    let before = sim.ex.accounts[b as usize].clone();
    let seq = place_ok(&mut sim, NewOrder { post_only: true, ..limit(b, 0, Side::Buy, 600_010, BTC / 2) });
    let o = &sim.ex.orders[seq as usize];
    assert_eq!((o.status, o.reason, o.filled, o.hold_remaining), (Status::Canceled, Some(CancelReason::PostOnly), 0, 0));
    let after = &sim.ex.accounts[b as usize];
    assert_eq!(after.holds, vec![0, 0, 0]);
    assert_eq!(after.balances, before.balances);
    assert!(sim.ex.trades.is_empty());
    assert_eq!(engine_resting(&sim.ex, 0, Side::Buy), vec![]);
    // Not crossing: it rests and holds.
    let seq = place_ok(&mut sim, NewOrder { post_only: true, ..limit(b, 0, Side::Buy, 599_990, BTC / 2) });
    assert!(sim.ex.orders[seq as usize].is_open());
    assert!(sim.ex.accounts[b as usize].holds[USD as usize] > 0);
    check_money(&sim.ex);
}

#[test]
fn market_buy_without_funds_is_refused_and_changes_nothing() {
    let (mut sim, a, _) = two_traders();
    let poor = match sim.apply(Command::CreateAccount { name: "poor".into() }) {
        Ok(Applied::AccountCreated(id)) => id,
        other => panic!("{other:?}"),
    };
    sim.apply(Command::Deposit { account: poor, asset: USD, amount: 1_000 * DOLLAR }).unwrap();
    // Exactly 0.1 BTC at 60000, more at 70000: a market buy of 0.1 BTC holds for 60000 only.
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 10));
    place_ok(&mut sim, limit(a, 0, Side::Sell, 700_000, BTC));
    let before = fingerprint(&sim.ex);
    sim.advance(NS);
    // 0.1 BTC at 60000 is 6000 USD: more than 1000.
    let out = sim.apply(Command::PlaceOrder(NewOrder { kind: OrderKind::Market, price: 0, ..limit(poor, 0, Side::Buy, 0, BTC / 10) }));
    assert_eq!(out, Err(KrakenError::InsufficientFunds));
    assert_eq!(fingerprint(&sim.ex), before);
    // The fee is held too: exactly the cost is still too little.
    sim.apply(Command::Deposit { account: poor, asset: USD, amount: 5_000 * DOLLAR }).unwrap();
    let out = sim.apply(Command::PlaceOrder(NewOrder { kind: OrderKind::Market, price: 0, ..limit(poor, 0, Side::Buy, 0, BTC / 10) }));
    assert_eq!(out, Err(KrakenError::InsufficientFunds));
    // With the fee covered (0.40% of 6000 = 24) it fills.
    sim.apply(Command::Deposit { account: poor, asset: USD, amount: 24 * DOLLAR }).unwrap();
    let seq = place_ok(&mut sim, NewOrder { kind: OrderKind::Market, price: 0, ..limit(poor, 0, Side::Buy, 0, BTC / 10) });
    let o = &sim.ex.orders[seq as usize];
    assert_eq!((o.status, o.filled, o.cost, o.fee), (Status::Closed, BTC / 10, 6_000 * DOLLAR, 24 * DOLLAR));
    assert_eq!(sim.ex.accounts[poor as usize].balances, vec![0, BTC / 10, 0]);
    check_money(&sim.ex);
}

#[test]
fn self_trade_cancel_newest_leaves_the_resting_order() {
    let (mut sim, a, b) = two_traders();
    let resting = place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC));
    let hold = sim.ex.accounts[a as usize].holds.clone();
    let seq = place_ok(&mut sim, limit(a, 0, Side::Buy, 600_100, BTC / 2));
    let o = &sim.ex.orders[seq as usize];
    assert_eq!((o.status, o.reason, o.filled), (Status::Canceled, Some(CancelReason::SelfTrade), 0));
    assert!(sim.ex.orders[resting as usize].is_open());
    assert_eq!(sim.ex.orders[resting as usize].remaining(), BTC);
    assert_eq!(sim.ex.accounts[a as usize].holds, hold);
    assert!(sim.ex.trades.is_empty());

    // Cancel-newest after a fill against someone else: the fill stays, the rest is canceled.
    place_ok(&mut sim, limit(b, 0, Side::Sell, 599_000, BTC / 4));
    let seq = place_ok(&mut sim, limit(a, 0, Side::Buy, 600_100, BTC / 2));
    let o = &sim.ex.orders[seq as usize];
    assert_eq!((o.status, o.reason, o.filled), (Status::Canceled, Some(CancelReason::SelfTrade), BTC / 4));
    assert_eq!(sim.ex.orders[resting as usize].remaining(), BTC);

    // Cancel-oldest removes the resting order and goes on; cancel-both removes both.
    place_ok(&mut sim, limit(b, 0, Side::Sell, 600_050, BTC));
    let seq = place_ok(&mut sim, NewOrder { self_trade: SelfTrade::CancelOldest, ..limit(a, 0, Side::Buy, 600_100, BTC / 2) });
    assert_eq!(sim.ex.orders[resting as usize].reason, Some(CancelReason::SelfTrade));
    assert_eq!(sim.ex.orders[seq as usize].status, Status::Closed);
    assert_eq!(sim.ex.trades.last().unwrap().price, 600_050);
    let resting = place_ok(&mut sim, limit(a, 1, Side::Buy, 300_000, BTC));
    let seq = place_ok(&mut sim, NewOrder { self_trade: SelfTrade::CancelBoth, ..limit(a, 1, Side::Sell, 299_000, BTC) });
    assert_eq!(sim.ex.orders[resting as usize].status, Status::Canceled);
    assert_eq!(sim.ex.orders[seq as usize].reason, Some(CancelReason::SelfTrade));
    check_money(&sim.ex);
}

#[test]
fn partial_fill_then_cancel_keeps_filled() {
    let (mut sim, a, b) = two_traders();
    let sell = place_ok(&mut sim, NewOrder { userref: Some(5), ..limit(a, 0, Side::Sell, 600_000, BTC) });
    let buy = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC * 4 / 10));
    assert_eq!(sim.ex.orders[buy as usize].status, Status::Closed);
    let o = &sim.ex.orders[sell as usize];
    assert_eq!((o.status, o.filled, o.cost), (Status::Open, BTC * 4 / 10, 24_000 * DOLLAR));
    assert_eq!(sim.ex.accounts[a as usize].holds[XBT as usize], BTC * 6 / 10);
    sim.advance(NS);
    assert_eq!(sim.apply(Command::Cancel { account: a, target: CancelTarget::UserRef(5) }), Ok(Applied::Canceled(1)));
    let o = &sim.ex.orders[sell as usize];
    assert_eq!((o.status, o.reason, o.filled, o.hold_remaining), (Status::Canceled, Some(CancelReason::UserRequested), BTC * 4 / 10, 0));
    let acct = &sim.ex.accounts[a as usize];
    assert_eq!(acct.holds, vec![0, 0, 0]);
    assert_eq!(acct.balances[XBT as usize], 10 * BTC - BTC * 4 / 10);
    // Maker fee 0.25% of 24000 USD.
    assert_eq!(acct.balances[USD as usize], 100_000 * DOLLAR + 24_000 * DOLLAR - 60 * DOLLAR);
    assert!(engine_resting(&sim.ex, 0, Side::Sell).is_empty());
    // Canceling it again is refused.
    assert_eq!(sim.apply(Command::Cancel { account: a, target: CancelTarget::Order(sell) }), Err(KrakenError::UnknownOrder));
    check_money(&sim.ex);
}

#[test]
fn fee_tier_drops_after_volume() {
    let (mut sim, a, b) = two_traders();
    // 0.2 BTC at 60000 = 12000 USD of volume each: above the 10000 tier.
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 5));
    let t1 = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC / 5));
    assert_eq!(sim.ex.orders[t1 as usize].fee, 48 * DOLLAR);
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 5));
    let t2 = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC / 5));
    assert_eq!(sim.ex.orders[t2 as usize].fee, 42 * DOLLAR);
    // Thirty-one days later the volume has aged out.
    sim.advance(31 * DAY_NS);
    place_ok(&mut sim, limit(a, 0, Side::Sell, 600_000, BTC / 5));
    let t3 = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_000, BTC / 5));
    assert_eq!(sim.ex.orders[t3 as usize].fee, 48 * DOLLAR);
    check_money(&sim.ex);
}

#[test]
fn dust_costs_round_exactly() {
    let (mut sim, a, b) = two_traders();
    // One lot (1e-8 BTC) at 60000.0 costs 0.0006 USD = 6 units; at 60000.1, 6.00001 units.
    let sell = place_ok(&mut sim, limit(a, 0, Side::Sell, 600_001, 1000 * LOT));
    for _ in 0..1000 {
        place_ok(&mut sim, limit(b, 0, Side::Buy, 600_001, LOT));
    }
    let o = &sim.ex.orders[sell as usize];
    assert_eq!(o.status, Status::Closed);
    // Each buyer paid round(6.00001) = 6; the seller got 6000 (exact 6000.01).
    assert_eq!(o.cost, 6_000);
    // A single buyer of all 1000 lots, filled by 1000 one-lot sells, pays the rounded exact
    // total (6000.01 -> 6000) although each fill's exact cost is 6.00001 units.
    let big = place_ok(&mut sim, limit(b, 0, Side::Buy, 600_001, 1000 * LOT));
    for _ in 0..1000 {
        place_ok(&mut sim, limit(a, 0, Side::Sell, 600_001, LOT));
    }
    let o = &sim.ex.orders[big as usize];
    assert_eq!((o.status, o.cost), (Status::Closed, 6_000));
    assert_eq!(o.exact_cost, 600_001 * 1000 * LOT);
    check_money(&sim.ex);
}

#[test]
fn fee_never_exceeds_the_fill_cost() {
    // ETH/USD: exact costs are in 1e-12 USD, 1e8 of them to a USD unit (1e-4).
    let (mut sim, a, b) = two_traders();
    place_ok(&mut sim, limit(b, 1, Side::Buy, 300_000, 416 * LOT));
    place_ok(&mut sim, limit(b, 1, Side::Buy, 300_000, LOT));
    // The taker sell fills 416 lots for 124.8 units (fee 0.4992: rounds to 0), then one lot for
    // 0.3 units that the buyer's rounding makes 0 while the running fee reaches 0.5004: the
    // fill's fee is capped at its cost (0), the rest stays owed to later fills.
    let sell = place_ok(&mut sim, limit(a, 1, Side::Sell, 300_000, 417 * LOT));
    let t = &sim.ex.trades;
    assert_eq!(t.len(), 4);
    assert_eq!((t[0].cost, t[0].fee, t[2].cost, t[2].fee), (125, 0, 0, 0));
    let o = &sim.ex.orders[sell as usize];
    assert_eq!((o.status, o.cost, o.fee), (Status::Closed, 125, 0));
    assert_eq!(div_round_half_up(o.exact_fee, 100_000_000 * PPM), 1);
    check_money(&sim.ex);
}

#[test]
fn reference_agrees_on_a_hand_written_book() {
    // A direct check of the reference itself, so a bug in it cannot hide one in the engine.
    let mut r = Reference::default();
    let sell = |acct, price, volume| NewOrder { ..limit(acct, 0, Side::Sell, price, volume) };
    assert_eq!(r.place(&sell(2, 101, 5)).unwrap().1, vec![]);
    assert_eq!(r.place(&sell(3, 100, 5)).unwrap().1, vec![]);
    assert_eq!(r.place(&sell(4, 100, 5)).unwrap().1, vec![]);
    let (seq, fills) = r.place(&limit(5, 0, Side::Buy, 101, 12)).unwrap();
    assert_eq!(fills, vec![(1, seq, 100, 5), (2, seq, 100, 5), (0, seq, 101, 2)]);
    let (_, fills) = r.place(&NewOrder { kind: OrderKind::Market, ..limit(5, 0, Side::Buy, 0, 10) }).unwrap();
    assert_eq!(fills, vec![(0, 4, 101, 3)]);
    assert_eq!(r.orders[4].reason, Some(CancelReason::NoLiquidity));
}

#[test]
fn user_accounts_follow_the_system_ones() {
    // FIRST_USER is where the user accounts start; the sims above rely on it.
    let sim = Sim::new(3, 2, [1, 1, 1]);
    assert_eq!(sim.users, vec![FIRST_USER, FIRST_USER + 1]);
}
