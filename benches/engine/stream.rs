//! The benchmark's order stream, shaped like exchange-core's published per-instrument test:
//! about 1,000 resting orders over 750 price levels from 1,000 accounts, then mostly price moves,
//! some new limit orders (a few of them crossing), IOC takers and cancels.
//!
//! The stream is generated once, before anything is timed, with the plain baseline book as its
//! oracle (to know which orders are still resting), then fed unchanged to every engine.

use crate::baseline::BaselineBook;

/// Price ticks of the mid (88,000.0 USD in 0.1 USD ticks).
pub const MID: u64 = 880_000;
/// Levels on each side of the mid that resting orders spread over (750 in all).
pub const HALF_RANGE: u64 = 375;
pub const ACCOUNTS: u32 = 1_000;
pub const RESTING: usize = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

/// One operation of the stream. `id`s are the stream's own order numbers (0, 1, 2, ...); each
/// engine maps them to its own ids. Quantities are in lots (one lot = 0.001 XBT).
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Place {
        id: u32,
        account: u32,
        side: Side,
        price: u64,
        qty: u64,
        ioc: bool,
    },
    Cancel {
        id: u32,
        account: u32,
    },
    /// Move a resting order to a new price (it loses time priority): every engine cancels `id`
    /// and places `new_id` with the remaining quantity the oracle saw.
    Move {
        id: u32,
        new_id: u32,
        account: u32,
        side: Side,
        price: u64,
        qty: u64,
    },
}

/// xorshift64*: deterministic and dependency-free, so the stream is the same on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub struct Stream {
    /// Places that build the initial book (not timed).
    pub warmup: Vec<Op>,
    /// The timed operations.
    pub ops: Vec<Op>,
    /// How many order ids the stream uses in all.
    pub ids: u32,
    /// Resting orders and occupied price levels after the warm-up and at the end.
    pub shape: [(usize, usize); 2],
}

struct Live {
    ids: Vec<u32>,
    /// Stream id -> (position in `ids`, account, side). Position `u32::MAX` when not live.
    info: Vec<(u32, u32, Side)>,
}

impl Live {
    fn add(&mut self, id: u32, account: u32, side: Side) {
        if self.info.len() <= id as usize {
            self.info.resize(id as usize + 1, (u32::MAX, 0, Side::Buy));
        }
        self.info[id as usize] = (self.ids.len() as u32, account, side);
        self.ids.push(id);
    }
    fn remove(&mut self, id: u32) {
        let pos = self.info[id as usize].0;
        if pos == u32::MAX {
            return;
        }
        let last = *self.ids.last().unwrap();
        self.ids.swap_remove(pos as usize);
        if last != id {
            self.info[last as usize].0 = pos;
        }
        self.info[id as usize].0 = u32::MAX;
    }
}

fn resting_price(rng: &mut Rng, side: Side) -> u64 {
    let d = 1 + rng.below(HALF_RANGE);
    match side {
        Side::Buy => MID - d,
        Side::Sell => MID + d,
    }
}

pub fn generate(n_ops: usize, seed: u64) -> Stream {
    let mut rng = Rng(seed | 1);
    let mut oracle = BaselineBook::default();
    let mut live = Live { ids: Vec::new(), info: Vec::new() };
    let mut next_id = 0u32;
    let mut out = Vec::with_capacity(n_ops);
    let mut warmup = Vec::new();

    // `apply` runs an op through the oracle and keeps `live` in step with it.
    let apply = |op: Op, oracle: &mut BaselineBook, live: &mut Live, sink: &mut Vec<Op>| {
        let filled = match op {
            Op::Place { id, account, side, price, qty, ioc } => {
                let (filled, rests) = oracle.place(id as u64, side, price, qty, ioc);
                if rests {
                    live.add(id, account, side);
                }
                filled
            }
            Op::Cancel { id, .. } => {
                oracle.cancel(id as u64);
                live.remove(id);
                Vec::new()
            }
            Op::Move { id, new_id, account, side, price, qty } => {
                oracle.cancel(id as u64);
                live.remove(id);
                let (filled, rests) = oracle.place(new_id as u64, side, price, qty, false);
                if rests {
                    live.add(new_id, account, side);
                }
                filled
            }
        };
        for maker in filled {
            live.remove(maker as u32);
        }
        sink.push(op);
    };

    while live.ids.len() < RESTING {
        let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
        let op = Op::Place {
            id: next_id,
            account: rng.below(ACCOUNTS as u64) as u32,
            side,
            price: resting_price(&mut rng, side),
            qty: 1 + rng.below(10),
            ioc: false,
        };
        next_id += 1;
        apply(op, &mut oracle, &mut live, &mut warmup);
    }

    let warm_shape = oracle.resting();
    while out.len() < n_ops {
        let r = rng.below(100);
        let n_live = live.ids.len();
        let op = if r < 60 && n_live > 0 {
            // A price move of a resting order, within its own side of the mid.
            let id = live.ids[rng.below(n_live as u64) as usize];
            let (_, account, side) = live.info[id as usize];
            let (_, price, remaining) = oracle.order(id as u64).expect("live orders rest in the oracle");
            // Mostly a step of up to 10 ticks either way, sometimes a jump anywhere on its side.
            let price = if rng.below(4) == 0 {
                resting_price(&mut rng, side)
            } else {
                let step = 1 + rng.below(10);
                let moved = if rng.below(2) == 0 { price + step } else { price - step };
                match side {
                    Side::Buy => moved.clamp(MID - HALF_RANGE, MID - 1),
                    Side::Sell => moved.clamp(MID + 1, MID + HALF_RANGE),
                }
            };
            next_id += 1;
            Op::Move { id, new_id: next_id - 1, account, side, price, qty: remaining }
        } else if (r < 75 && n_live < RESTING + 50) || n_live < RESTING - 50 {
            // A new limit order; one in ten crosses the spread by up to 5 ticks.
            let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
            let price = if rng.below(10) == 0 {
                match side {
                    Side::Buy => MID + rng.below(5),
                    Side::Sell => MID - rng.below(5),
                }
            } else {
                resting_price(&mut rng, side)
            };
            next_id += 1;
            Op::Place { id: next_id - 1, account: rng.below(ACCOUNTS as u64) as u32, side, price, qty: 1 + rng.below(10), ioc: false }
        } else if r < 85 {
            // An IOC taker sweeping a few levels from the mid.
            let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
            let price = match side {
                Side::Buy => MID + 1 + rng.below(20),
                Side::Sell => MID - 1 - rng.below(20),
            };
            next_id += 1;
            Op::Place { id: next_id - 1, account: rng.below(ACCOUNTS as u64) as u32, side, price, qty: 1 + rng.below(20), ioc: true }
        } else if n_live > 0 {
            let id = live.ids[rng.below(n_live as u64) as usize];
            Op::Cancel { id, account: live.info[id as usize].1 }
        } else {
            continue;
        };
        apply(op, &mut oracle, &mut live, &mut out);
    }
    Stream { warmup, ops: out, ids: next_id, shape: [warm_shape, oracle.resting()] }
}
