//! Orders as the engine keeps them: the request a client made, what has been executed against
//! it, the funds it holds, and how it ended. Kraken's view of an order (descr, vol_exec, cost…)
//! is rendered from this by the API layer.

use super::markets::PairIdx;
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
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

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
    StopLoss,
    TakeProfit,
    StopLossLimit,
    TakeProfitLimit,
    TrailingStop,
    TrailingStopLimit,
    /// A limit order of which only `display_volume` shows in the book (Kraken's `iceberg`).
    Iceberg,
}

impl OrderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Market => "market",
            OrderKind::Limit => "limit",
            OrderKind::StopLoss => "stop-loss",
            OrderKind::TakeProfit => "take-profit",
            OrderKind::StopLossLimit => "stop-loss-limit",
            OrderKind::TakeProfitLimit => "take-profit-limit",
            OrderKind::TrailingStop => "trailing-stop",
            OrderKind::TrailingStopLimit => "trailing-stop-limit",
            OrderKind::Iceberg => "iceberg",
        }
    }

    /// Kraken's `ordertype` names, back to the kind.
    pub fn parse(s: &str) -> Option<OrderKind> {
        Some(match s {
            "market" => OrderKind::Market,
            "limit" => OrderKind::Limit,
            "iceberg" => OrderKind::Iceberg,
            "stop-loss" => OrderKind::StopLoss,
            "take-profit" => OrderKind::TakeProfit,
            "stop-loss-limit" => OrderKind::StopLossLimit,
            "take-profit-limit" => OrderKind::TakeProfitLimit,
            "trailing-stop" => OrderKind::TrailingStop,
            "trailing-stop-limit" => OrderKind::TrailingStopLimit,
            _ => return None,
        })
    }

    /// Waits for a trigger before it trades (every kind but market, limit and iceberg).
    pub fn is_triggered(self) -> bool {
        !matches!(self, OrderKind::Market | OrderKind::Limit | OrderKind::Iceberg)
    }

    /// Trades as a market order (once triggered, for the stop kinds).
    pub fn is_market(self) -> bool {
        matches!(self, OrderKind::Market | OrderKind::StopLoss | OrderKind::TakeProfit | OrderKind::TrailingStop)
    }

    /// Has a limit price in `price2` once triggered (`*-limit`).
    pub fn has_limit2(self) -> bool {
        matches!(self, OrderKind::StopLossLimit | OrderKind::TakeProfitLimit | OrderKind::TrailingStopLimit)
    }

    pub fn is_trailing(self) -> bool {
        matches!(self, OrderKind::TrailingStop | OrderKind::TrailingStopLimit)
    }

    /// Take-profit kinds fire on a favourable move (Kraken's `touched`); the others on an
    /// unfavourable one (`stopped`).
    pub fn is_take_profit(self) -> bool {
        matches!(self, OrderKind::TakeProfit | OrderKind::TakeProfitLimit)
    }

    /// The words of `descr.order` after `@` (`stop loss`, `take profit`, `trailing stop`).
    pub fn words(self) -> &'static str {
        match self {
            OrderKind::Market => "market",
            OrderKind::Limit | OrderKind::Iceberg => "limit",
            OrderKind::StopLoss | OrderKind::StopLossLimit => "stop loss",
            OrderKind::TakeProfit | OrderKind::TakeProfitLimit => "take profit",
            OrderKind::TrailingStop | OrderKind::TrailingStopLimit => "trailing stop",
        }
    }
}

/// The reference price a triggered order watches (`trigger`): the pair's last trade, or its
/// index price ([`super::Exchange::index`], moved by `Requote`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Trigger {
    #[default]
    Last,
    Index,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Last => "last",
            Trigger::Index => "index",
        }
    }
}

/// Which way a relative price goes: `+`, `-`, or `#` (chosen by side and order type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetSign {
    Plus,
    Minus,
    Auto,
}

/// A relative price as Kraken takes it (`+100`, `-2.5%`, `#50`): an amount in price ticks, or
/// with `percent` in parts per million of the price it is relative to (`50.0000%` = 500000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offset {
    pub sign: OffsetSign,
    pub value: u64,
    pub percent: bool,
}

/// A conditional close (`close[ordertype]`, `close[price]`, `close[price2]`): placed for the
/// executed volume, on the other side, when the opening order ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseOrder {
    pub kind: OrderKind,
    /// Absolute prices in ticks (0 when relative or absent).
    pub price: u64,
    pub price2: u64,
    pub price_offset: Option<Offset>,
    pub price2_offset: Option<Offset>,
}

/// A triggered order's trigger state: armed (waiting, off the book) until its reference price
/// crosses `stop`, then fired once.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StopState {
    pub armed: bool,
    /// The trigger price: fixed for stop-loss/take-profit, follows `peak` for trailing kinds
    /// (the price at which it fired, once fired).
    pub stop: u64,
    /// Trailing kinds: the best reference price seen since placing (highest for a sell, lowest
    /// for a buy).
    pub peak: u64,
    /// The limit price once known (`*-limit`), else 0.
    pub limit: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    #[default]
    Gtc,
    Ioc,
    /// Good till `expire_ns` (Kraken's GTD with `expiretm`).
    Gtd,
}

/// Kraken's self-trade prevention modes (`stptype`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelfTrade {
    #[default]
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
    InsufficientFunds,
    InvalidPrice,
    /// A scheduled start or a trigger reached while the market's state does not admit the order
    /// it would place (`status.rs`).
    Market(super::status::MarketStatus),
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::UserRequested => "User requested",
            CancelReason::PostOnly => "Post only order",
            CancelReason::SelfTrade => "Self trade prevention",
            CancelReason::ImmediateOrCancel => "Immediate or cancel",
            CancelReason::NoLiquidity => "Insufficient liquidity",
            CancelReason::InsufficientFunds => "Insufficient funds",
            CancelReason::InvalidPrice => "Invalid price",
            CancelReason::Market(s) => s.cancel_reason(),
        }
    }
}

/// A new order as validated by the API layer: prices in ticks, volume in base minimal units.
///
/// Its serde form is the command log's (JSON, `sequencer`): every field after the first six is
/// left out when it holds its default and read back as that default (`is_default`), so a plain
/// limit order's record is ~170 bytes instead of ~375 (fewer log pages per group commit, a
/// smaller log, a faster replay), and a record written before a field existed still reads.
/// Compact formats without field names go through `storage::checkpoint::new_order` instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub account: AccountId,
    pub pair: PairIdx,
    pub side: Side,
    pub kind: OrderKind,
    /// Limit price in ticks of 10^-pair_decimals; 0 for market orders.
    pub price: u64,
    pub volume: i128,
    #[serde(default, skip_serializing_if = "is_default")]
    pub post_only: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub fee_in_base: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub time_in_force: TimeInForce,
    #[serde(default, skip_serializing_if = "is_default")]
    pub self_trade: SelfTrade,
    #[serde(default, skip_serializing_if = "is_default")]
    pub userref: Option<i32>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub cl_ord_id: Option<String>,
    /// `*-limit`: the limit price once triggered, in ticks (0 otherwise or while relative).
    #[serde(default, skip_serializing_if = "is_default")]
    pub price2: u64,
    #[serde(default, skip_serializing_if = "is_default")]
    pub trigger: Trigger,
    /// `price` given relative (`+ - #`, `%`); always so for trailing kinds (their offset).
    #[serde(default, skip_serializing_if = "is_default")]
    pub price_offset: Option<Offset>,
    /// `price2` given relative (for trailing-stop-limit: the limit's offset from the trigger).
    #[serde(default, skip_serializing_if = "is_default")]
    pub price2_offset: Option<Offset>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub close: Option<CloseOrder>,
    /// Iceberg: the volume shown in the book at a time (base minimal units).
    #[serde(default, skip_serializing_if = "is_default")]
    pub display_volume: Option<i128>,
    /// `viqc`: a market buy whose `volume` is the quote amount to spend, fee included (quote
    /// minimal units).
    #[serde(default, skip_serializing_if = "is_default")]
    pub quote_volume: bool,
    /// GTD: the engine time at which the order expires.
    #[serde(default, skip_serializing_if = "is_default")]
    pub expire_ns: Option<u64>,
    /// `starttm` in the future: the engine time at which the order enters the book.
    #[serde(default, skip_serializing_if = "is_default")]
    pub start_ns: Option<u64>,
}

/// Whether a field holds its default (left out of the command log's JSON, see [`NewOrder`]).
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
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
            price2: 0,
            trigger: Trigger::Last,
            price_offset: None,
            price2_offset: None,
            close: None,
            display_volume: None,
            quote_volume: false,
            expire_ns: None,
            start_ns: None,
        }
    }
}

pub use super::record::{Order, OrderExtras, OrderReq};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Command, Envelope};

    fn logged(req: NewOrder) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            time_ns: 1_796_278_943_732_207_764,
            key_nonce: Some((2, 1_796_278_943_732_176)),
            command: Command::PlaceOrder(req),
        })
        .unwrap()
    }

    fn read(bytes: &[u8]) -> NewOrder {
        match serde_json::from_slice::<Envelope>(bytes).unwrap().command {
            Command::PlaceOrder(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// A plain limit order's log record leaves its defaults out, and reads back the same.
    #[test]
    fn a_plain_order_is_logged_without_its_defaults() {
        let req = NewOrder::limit(3, 0, Side::Buy, 879_998, 10_000_000);
        let bytes = logged(req.clone());
        let text = std::str::from_utf8(&bytes).unwrap();
        assert_eq!(
            text,
            r#"{"time_ns":1796278943732207764,"key_nonce":[2,1796278943732176],"command":{"PlaceOrder":{"account":3,"pair":0,"side":"Buy","kind":"Limit","price":879998,"volume":10000000}}}"#
        );
        assert_eq!(read(&bytes), req);
    }

    /// A record written before the defaults were left out (every field present, as logs hold
    /// them from earlier builds) reads as the same order.
    #[test]
    fn a_record_with_every_field_still_reads() {
        let old = br#"{"time_ns":1796278943732207764,"key_nonce":[2,1796278943732176],"command":{"PlaceOrder":{"account":3,"pair":0,"side":"Buy","kind":"Limit","price":879998,"volume":10000000,"post_only":false,"fee_in_base":false,"time_in_force":"Gtc","self_trade":"CancelNewest","userref":null,"cl_ord_id":null,"price2":0,"trigger":"Last","price_offset":null,"price2_offset":null,"close":null}}}"#;
        assert_eq!(read(old), NewOrder::limit(3, 0, Side::Buy, 879_998, 10_000_000));
    }

    /// Every field away from its default is written and read back (none is lost by being
    /// mistaken for a default).
    #[test]
    fn an_order_with_no_default_left_round_trips() {
        let off = Some(Offset { sign: OffsetSign::Minus, value: 25, percent: true });
        let req = NewOrder {
            kind: OrderKind::TrailingStopLimit,
            post_only: true,
            fee_in_base: true,
            time_in_force: TimeInForce::Gtd,
            self_trade: SelfTrade::CancelBoth,
            userref: Some(0),
            cl_ord_id: Some("grid-1".into()),
            price2: 7,
            trigger: Trigger::Index,
            price_offset: off,
            price2_offset: off,
            close: Some(CloseOrder { kind: OrderKind::Limit, price: 1, price2: 0, price_offset: None, price2_offset: None }),
            display_volume: Some(5),
            quote_volume: true,
            expire_ns: Some(9),
            start_ns: Some(0),
            ..NewOrder::limit(3, 0, Side::Sell, 879_998, 10_000_000)
        };
        let bytes = logged(req.clone());
        let text = std::str::from_utf8(&bytes).unwrap();
        for field in [
            "post_only",
            "fee_in_base",
            "time_in_force",
            "self_trade",
            "userref",
            "cl_ord_id",
            "price2",
            "trigger",
            "price_offset",
            "price2_offset",
            "close",
            "display_volume",
            "quote_volume",
            "expire_ns",
            "start_ns",
        ] {
            assert!(text.contains(&format!("\"{field}\":")), "{field} missing from {text}");
        }
        assert_eq!(read(&bytes), req);
    }
}
