//! Orders as the engine keeps them: the request a client made, what has been executed against
//! it, the funds it holds, and how it ended. Kraken's view of an order (descr, vol_exec, cost…)
//! is rendered from this by the API layer.

use super::markets::{AssetIdx, PairIdx};
use serde::{Deserialize, Serialize};

pub type AccountId = u32;
/// An order's sequence number; its Kraken txid is derived from it (see `ids`).
pub type OrderSeq = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderKind {
    Market,
    Limit,
    /// A limit order of which only `display_volume` shows in the book (Kraken's `iceberg`).
    Iceberg,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Market => "market",
            OrderKind::Limit => "limit",
            OrderKind::Iceberg => "iceberg",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    Gtc,
    Ioc,
    /// Good till `expire_ns` (Kraken's GTD with `expiretm`).
    Gtd,
}

/// Kraken's self-trade prevention modes (`stptype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelfTrade {
    CancelNewest,
    CancelOldest,
    CancelBoth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Accepted, holding its funds, waiting for its `starttm` (not in the book).
    Pending,
    Open,
    Closed,
    Canceled,
    /// A GTD order whose `expiretm` came before it filled.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
        }
    }
}

/// Why an order stopped before filling completely (Kraken's `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    UserRequested,
    PostOnly,
    SelfTrade,
    ImmediateOrCancel,
    NoLiquidity,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::UserRequested => "User requested",
            CancelReason::PostOnly => "Post only order",
            CancelReason::SelfTrade => "Self trade prevention",
            CancelReason::ImmediateOrCancel => "Immediate or cancel",
            CancelReason::NoLiquidity => "Insufficient liquidity",
        }
    }
}

/// A new order as validated by the API layer: prices in ticks, volume in base minimal units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub account: AccountId,
    pub pair: PairIdx,
    pub side: Side,
    pub kind: OrderKind,
    /// Limit price in ticks of 10^-pair_decimals; 0 for market orders.
    pub price: u64,
    pub volume: i128,
    pub post_only: bool,
    pub fee_in_base: bool,
    pub time_in_force: TimeInForce,
    pub self_trade: SelfTrade,
    pub userref: Option<i32>,
    pub cl_ord_id: Option<String>,
    /// Iceberg: the volume shown in the book at a time (base minimal units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_volume: Option<i128>,
    /// `viqc`: a market buy whose `volume` is the quote amount to spend, fee included (quote
    /// minimal units).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quote_volume: bool,
    /// GTD: the engine time at which the order expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_ns: Option<u64>,
    /// `starttm` in the future: the engine time at which the order enters the book.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ns: Option<u64>,
}

impl NewOrder {
    /// A plain good-till-canceled limit order with Kraken's defaults (fees in quote, no post-only,
    /// cancel-newest self-trade prevention, no user reference).
    pub fn limit(account: AccountId, pair: PairIdx, side: Side, price: u64, volume: i128) -> NewOrder {
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
            display_volume: None,
            quote_volume: false,
            expire_ns: None,
            start_ns: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Order {
    pub seq: OrderSeq,
    pub req: NewOrder,
    pub status: Status,
    pub reason: Option<CancelReason>,
    pub open_ns: u64,
    pub close_ns: u64,
    /// Executed base volume.
    pub filled: i128,
    /// Quote charged or credited so far, in quote minimal units.
    pub cost: i128,
    /// Fee charged so far, in the fee asset's minimal units (quote unless `fee_in_base`).
    pub fee: i128,
    /// Running exact cost (units of 10^-(pd+bd) quote), the basis of cumulative rounding.
    pub exact_cost: i128,
    /// Running exact fee (cost or volume units × ppm).
    pub exact_fee: i128,
    /// The asset this order holds and how much of the hold is left.
    pub hold_asset: AssetIdx,
    pub hold_remaining: i128,
    /// Index into the exchange's trade records of each fill of this order.
    pub trades: Vec<u32>,
    /// Iceberg: the part of the remaining volume shown in the book now (0 for other orders).
    pub shown: i128,
    /// The price the order may trade to, as its hold was reserved (a market buy's worst ask at
    /// placement; what a scheduled market buy is protected at when it starts).
    pub held_limit: u64,
}

impl Order {
    /// A new open order, nothing filled yet, holding `hold_remaining` of `hold_asset`.
    pub fn opened(seq: OrderSeq, req: NewOrder, open_ns: u64, hold_asset: AssetIdx, hold_remaining: i128) -> Order {
        Order {
            seq,
            req,
            status: Status::Open,
            reason: None,
            open_ns,
            close_ns: 0,
            filled: 0,
            cost: 0,
            fee: 0,
            exact_cost: 0,
            exact_fee: 0,
            hold_asset,
            hold_remaining,
            trades: Vec::new(),
            shown: 0,
            held_limit: 0,
        }
    }

    pub fn remaining(&self) -> i128 {
        self.req.volume - self.filled
    }
    /// Open in the account's sense: not finished, holding funds (in the book or pending).
    pub fn is_open(&self) -> bool {
        matches!(self.status, Status::Open | Status::Pending)
    }
    /// The volume this order has in its book level: an iceberg's shown part, else what remains.
    pub fn book_volume(&self) -> i128 {
        if self.req.display_volume.is_some() {
            self.shown
        } else {
            self.remaining()
        }
    }
    /// The asset fees are charged in: base with `fcib`, quote otherwise.
    pub fn fee_asset(&self, base: AssetIdx, quote: AssetIdx) -> AssetIdx {
        if self.req.fee_in_base {
            base
        } else {
            quote
        }
    }
}
