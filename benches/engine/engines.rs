//! The engines under comparison, each behind the same small trait so the timed loop is identical:
//! the plain baseline book, Calamari's `Exchange` (book + accounts, holds, fees, ledger, trade
//! records, market data), and the crates matchcore and orderbook-rs.

use crate::baseline::BaselineBook;
use crate::stream::{Op, Side, ACCOUNTS};
use calamari::config::Config;
use calamari::engine::account::FIRST_USER;
use calamari::engine::markets::Markets;
use calamari::engine::order::{self as cal, NewOrder};
use calamari::engine::{Applied, CancelTarget, Command, Envelope, Exchange};

pub trait Engine {
    fn new(ids: u32) -> Self;
    fn apply(&mut self, op: &Op);
    /// Total traded quantity in lots, where the engine reports it.
    fn traded(&self) -> Option<u64>;
}

const NONE: u64 = u64::MAX;

pub struct Baseline(BaselineBook);

impl Engine for Baseline {
    fn new(_: u32) -> Self {
        Baseline(BaselineBook::default())
    }
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Place { id, side, price, qty, ioc, .. } => {
                self.0.place(id as u64, side, price, qty, ioc);
            }
            Op::Cancel { id, .. } => {
                self.0.cancel(id as u64);
            }
            Op::Move { id, new_id, side, price, qty, .. } => {
                self.0.cancel(id as u64);
                self.0.place(new_id as u64, side, price, qty, false);
            }
        }
    }
    fn traded(&self) -> Option<u64> {
        Some(self.0.traded)
    }
}

/// Base units (10^-10 XBT) per stream lot of 0.001 XBT.
const LOT_UNITS: i128 = 10_000_000;

pub struct Calamari {
    pub exchange: Exchange,
    seq_of: Vec<u64>,
    time_ns: u64,
    /// Commands since the outbox was last drained, and the volume its drained trade records filled.
    since_drain: u32,
    drained_fills: i128,
}

/// The sequencer's largest batch by default (`[server] max_batch`): the server's engine thread
/// drains the outbox (trade records, ledger entries, closed orders) after each batch and hands it
/// to the storage thread; the benchmark drains it at least as rarely, so that records do not pile
/// up in memory as they never do there.
const BATCH: u32 = 1024;

impl Calamari {
    fn envelope(&mut self, command: Command) -> Envelope {
        Envelope { time_ns: self.next_time(), key_nonce: None, command }
    }

    fn next_time(&mut self) -> u64 {
        self.time_ns += 1_000;
        self.time_ns
    }

    fn place(&mut self, id: u32, account: u32, side: Side, price: u64, qty: u64, ioc: bool) {
        let side = match side {
            Side::Buy => cal::Side::Buy,
            Side::Sell => cal::Side::Sell,
        };
        let mut req = NewOrder::limit(FIRST_USER + account, 0, side, price, qty as i128 * LOT_UNITS);
        if ioc {
            req.time_in_force = cal::TimeInForce::Ioc;
        }
        // The command is built in its envelope: one copy of the request, as the server's engine
        // thread makes one (its job moves the command into the envelope, `execute_gated`);
        // building the command and then moving it into the envelope made two.
        let env = Envelope { time_ns: self.next_time(), key_nonce: None, command: Command::PlaceOrder(req) };
        if let Ok(Applied::OrderPlaced(seq)) = self.exchange.apply(&env) {
            self.seq_of[id as usize] = seq;
        }
    }

    fn cancel(&mut self, id: u32, account: u32) {
        let seq = self.seq_of[id as usize];
        if seq != NONE {
            // In place, as in `place`.
            let time_ns = self.next_time();
            let command = Command::Cancel { account: FIRST_USER + account, target: CancelTarget::Order(seq) };
            let env = Envelope { time_ns, key_nonce: None, command };
            let _ = self.exchange.apply(&env);
        }
    }
}

impl Engine for Calamari {
    fn new(ids: u32) -> Self {
        let markets = Markets::from_config(&Config::builtin()).expect("built-in markets");
        assert_eq!(markets.pairs[0].altname, "XBTUSD", "the stream trades the first built-in pair");
        let usd = markets.asset_by_name("USD").unwrap();
        let xbt = markets.asset_by_name("XBT").unwrap();
        let mut me = Calamari {
            exchange: Exchange::new(markets, 7),
            seq_of: vec![NONE; ids as usize],
            time_ns: 1_700_000_000_000_000_000,
            since_drain: 0,
            drained_fills: 0,
        };
        for i in 0..ACCOUNTS {
            let env = me.envelope(Command::CreateAccount { name: format!("bench{i}") });
            let Ok(Applied::AccountCreated(account)) = me.exchange.apply(&env) else { panic!("account") };
            assert_eq!(account, FIRST_USER + i);
            for (asset, amount) in [(usd, 10i128.pow(13)), (xbt, 10i128.pow(15))] {
                let env = me.envelope(Command::Deposit { account, asset, amount });
                me.exchange.apply(&env).expect("deposit");
            }
        }
        me
    }
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Place { id, account, side, price, qty, ioc } => self.place(id, account, side, price, qty, ioc),
            Op::Cancel { id, account } => self.cancel(id, account),
            Op::Move { id, new_id, account, side, price, qty } => {
                self.cancel(id, account);
                self.place(new_id, account, side, price, qty, false);
            }
        }
        self.since_drain += 1;
        if self.since_drain == BATCH {
            self.since_drain = 0;
            let out = self.exchange.history_out.take();
            self.drained_fills += out.trades.iter().map(|t| t.volume).sum::<i128>();
        }
    }
    fn traded(&self) -> Option<u64> {
        // Each fill is two trade records (maker and taker), drained or still in the outbox.
        let filled: i128 = self.drained_fills + self.exchange.history_out.trades.iter().map(|t| t.volume).sum::<i128>();
        Some((filled / 2 / LOT_UNITS) as u64)
    }
}

pub struct Matchcore {
    book: matchcore::OrderBook,
    id_of: Vec<u64>,
    /// The next command's sequence number.
    seq: u64,
    traded: u64,
    /// Fills at a price worse than the taker's limit, by time in force (GTC, IOC).
    pub worse_than_limit: [u64; 2],
}

impl Matchcore {
    fn run(&mut self, kind: matchcore::CommandKind) -> matchcore::CommandOutcome {
        use matchcore::{Command, CommandMeta, SequenceNumber, Timestamp};
        // Sequence numbers start at 0 and a submitted order's id is its command's number.
        let n = self.seq;
        self.seq += 1;
        let cmd = Command { meta: CommandMeta { sequence_number: SequenceNumber(n), timestamp: Timestamp(n) }, kind };
        self.book.execute(&cmd)
    }

    fn place(&mut self, id: u32, side: Side, price: u64, qty: u64, ioc: bool) {
        use matchcore::*;
        let side = match side {
            crate::stream::Side::Buy => Side::Buy,
            crate::stream::Side::Sell => Side::Sell,
        };
        let tif = if ioc { TimeInForce::Ioc } else { TimeInForce::Gtc };
        let order = LimitOrder::new(Price(price), QuantityPolicy::Standard { quantity: Quantity(qty) }, OrderFlags::new(side, false, tif));
        if let CommandOutcome::Applied(report) = self.run(CommandKind::Submit(SubmitCmd { order: NewOrder::Limit(order) })) {
            self.id_of[id as usize] = self.seq - 1;
            if let CommandReport::Submit(effects) = report {
                if let Some(m) = effects.target_order().match_result() {
                    self.traded += m.executed_quantity().0;
                    let worse =
                        m.trades().iter().filter(|t| if side == Side::Buy { t.price().0 > price } else { t.price().0 < price }).count();
                    self.worse_than_limit[ioc as usize] += worse as u64;
                }
            }
        }
    }
}

impl Engine for Matchcore {
    fn new(ids: u32) -> Self {
        Matchcore {
            book: matchcore::OrderBook::new("XBT/USD"),
            id_of: vec![NONE; ids as usize],
            seq: 0,
            traded: 0,
            worse_than_limit: [0, 0],
        }
    }
    fn apply(&mut self, op: &Op) {
        use matchcore::*;
        match *op {
            Op::Place { id, side, price, qty, ioc, .. } => self.place(id, side, price, qty, ioc),
            Op::Cancel { id, .. } => {
                let order_id = self.id_of[id as usize];
                if order_id != NONE {
                    self.run(CommandKind::Cancel(CancelCmd { order_id: OrderId(order_id), order_kind: OrderKind::Limit }));
                }
            }
            // matchcore has a native amend, but its fills then differ from the others' (it
            // traded about 50% more lots on this stream): cancel and place like every engine.
            Op::Move { id, new_id, side, price, qty, .. } => {
                self.apply(&Op::Cancel { id, account: 0 });
                self.place(new_id, side, price, qty, false);
            }
        }
    }
    fn traded(&self) -> Option<u64> {
        Some(self.traded)
    }
}

pub struct OrderbookRs(orderbook_rs::OrderBook<()>);

impl OrderbookRs {
    fn place(&mut self, id: u32, side: Side, price: u64, qty: u64, ioc: bool) {
        use orderbook_rs::prelude::{Id, Side as S, TimeInForce};
        let side = match side {
            Side::Buy => S::Buy,
            Side::Sell => S::Sell,
        };
        let tif = if ioc { TimeInForce::Ioc } else { TimeInForce::Gtc };
        let _ = self.0.add_limit_order(Id::from_u64(id as u64), price as u128, qty, side, tif, None);
    }
}

impl Engine for OrderbookRs {
    fn new(_: u32) -> Self {
        OrderbookRs(orderbook_rs::OrderBook::new("XBT/USD"))
    }
    fn apply(&mut self, op: &Op) {
        use orderbook_rs::prelude::Id;
        match *op {
            Op::Place { id, side, price, qty, ioc, .. } => self.place(id, side, price, qty, ioc),
            Op::Cancel { id, .. } => {
                let _ = self.0.cancel_order(Id::from_u64(id as u64));
            }
            Op::Move { id, new_id, side, price, qty, .. } => {
                let _ = self.0.cancel_order(Id::from_u64(id as u64));
                self.place(new_id, side, price, qty, false);
            }
        }
    }
    fn traded(&self) -> Option<u64> {
        None
    }
}
/// The smallest case of matchcore 0.4.0 filling past a limit: bids 100.4 x5 and 99.5 x9, then a
/// sell IOC limit 99.6 x14. A correct book fills 5 (at 100.4) and cancels the rest.
pub fn matchcore_sweep_case() -> (u64, [u64; 2]) {
    let mut m = Matchcore::new(10);
    m.apply(&Op::Place { id: 0, account: 0, side: Side::Buy, price: 995, qty: 9, ioc: false });
    m.apply(&Op::Place { id: 1, account: 0, side: Side::Buy, price: 1004, qty: 5, ioc: false });
    m.apply(&Op::Place { id: 2, account: 0, side: Side::Sell, price: 996, qty: 14, ioc: true });
    (m.traded, m.worse_than_limit)
}

/// Calamari on the full order mix: the same stream with untriggered stops beside the resting
/// orders, one for every nine of them (10% of what rests): fixed stop-losses both ways and
/// trailing stops both ways (absolute and percentage offsets, several sizes), far enough from
/// the mid never to fire, so that every trade re-evaluates them (trailing peaks follow the
/// trades, buckets merge).
pub struct CalamariFull(pub Calamari);

/// Untriggered orders the full mix adds (10% of ~1,000 resting orders plus themselves).
pub const STOPS: u32 = 112;

impl Engine for CalamariFull {
    fn new(ids: u32) -> Self {
        let mut c = Calamari::new(ids);
        for i in 0..STOPS {
            let account = FIRST_USER + i % ACCOUNTS;
            let side = if i % 2 == 0 { cal::Side::Sell } else { cal::Side::Buy };
            let mut req = NewOrder::limit(account, 0, side, 0, (1 + i as i128 % 7) * LOT_UNITS);
            let k = i as u64 / 2;
            if i % 4 < 2 {
                // Fixed stop-losses 2,000 to 2,560 ticks away from the mid.
                req.kind = cal::OrderKind::StopLoss;
                req.price = match side {
                    cal::Side::Sell => crate::stream::MID - 2_000 - 10 * k,
                    cal::Side::Buy => crate::stream::MID + 2_000 + 10 * k,
                };
            } else {
                // Trailing: 3,000+ ticks, or 2% and more.
                req.kind = cal::OrderKind::TrailingStop;
                let percent = i % 8 >= 4;
                let value = if percent { 20_000 + 1_000 * k } else { 3_000 + 10 * k };
                req.rare_mut().price_offset = Some(cal::Offset { sign: cal::OffsetSign::Plus, value, percent });
            }
            let env = c.envelope(Command::PlaceOrder(req));
            c.exchange.apply(&env).expect("a stop");
        }
        CalamariFull(c)
    }
    fn apply(&mut self, op: &Op) {
        self.0.apply(op)
    }
    fn traded(&self) -> Option<u64> {
        self.0.traded()
    }
}
