//! The model the engine property tests share: a test market configuration and fixtures (here),
//! the driver ([`sim`]), the exact-money check ([`money`]), random operations ([`ops`]) and a
//! naive reference matcher ([`reference`]).
#![allow(dead_code)]

use calamari::config::Config;
use calamari::engine::account::{LedgerKind, RefId, EXTERNAL, FEES};
use calamari::engine::markets::Markets;
use calamari::engine::order::{AccountId, CancelReason, NewOrder, OrderKind, OrderSeq, SelfTrade, Side, Status, TimeInForce};
use calamari::engine::{Applied, CancelTarget, Command, Envelope, Exchange};
use calamari::error::KrakenError;
use calamari::money::{div_ceil, div_round_half_up};
use proptest::prelude::*;

pub mod money;
pub mod ops;
pub mod reference;
pub mod sim;
pub mod triggers;

/// An order by sequence as it stands: in the engine if it is not final, else as the outbox
/// emitted it when it closed (closed orders leave the engine; the model never drains the outbox).
pub fn order(ex: &Exchange, seq: OrderSeq) -> calamari::engine::order::Order {
    order_opt(ex, seq).unwrap_or_else(|| panic!("order {seq} neither in the engine nor emitted"))
}

pub fn order_opt(ex: &Exchange, seq: OrderSeq) -> Option<calamari::engine::order::Order> {
    ex.orders.get(seq as usize).or_else(|| ex.history_out.closed_orders.iter().find(|c| c.order.seq == seq).map(|c| &c.order)).cloned()
}

/// Every order the engine holds or the outbox still has, by sequence (see [`order`]): every
/// order ever placed, indexed by sequence, unless the caller drained the outbox.
pub fn all_orders(ex: &Exchange) -> Vec<calamari::engine::order::Order> {
    let mut all: Vec<_> = ex.orders.iter().cloned().chain(ex.history_out.closed_orders.iter().map(|c| c.order.clone())).collect();
    all.sort_by_key(|o| o.seq);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "an order both in the engine and emitted, or emitted twice");
    all
}

pub const CONFIG: &str = r#"
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

pub const USD: u16 = 0;
pub const XBT: u16 = 1;
pub const NS: u64 = 1_000_000_000;
pub const DAY_NS: u64 = 86_400 * NS;
pub const PPM: i128 = 1_000_000;
/// Price ticks the random orders centre on, per pair (60000.0 and 3000.00).
pub const CENTER: [u64; 2] = [600_000, 300_000];
/// Base minimal units per lot (10^(10-8)).
pub const LOT: i128 = 100;
pub const T0: u64 = 1_700_000_000 * NS;

pub fn config() -> Config {
    // `Config::from_toml` is the intended way in; while its validation refuses this config (see
    // `config_validation_accepts_the_test_config`), deserialize it directly so the engine
    // properties still run.
    Config::from_toml(CONFIG).unwrap_or_else(|_| toml::from_str(CONFIG).expect("test config parses"))
}

pub fn markets() -> Markets {
    Markets::from_config(&config()).expect("test config converts")
}

#[test]
pub fn config_validation_accepts_the_test_config() {
    // Prices and amounts of 1 or more are ordinary (reference_price = "60000").
    assert!(Config::from_toml(CONFIG).is_ok(), "{:?}", Config::from_toml(CONFIG).err());
}

pub fn exchange(seed: u64) -> Exchange {
    Exchange::new(markets(), seed)
}

pub fn side_of(buy: bool) -> Side {
    if buy {
        Side::Buy
    } else {
        Side::Sell
    }
}

pub fn opposite(side: Side) -> Side {
    match side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    }
}

pub fn stp_of(n: u8) -> SelfTrade {
    match n % 3 {
        0 => SelfTrade::CancelNewest,
        1 => SelfTrade::CancelOldest,
        _ => SelfTrade::CancelBoth,
    }
}
