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
/// The fields every order uses are inline; the options few orders have (client order id,
/// second price, relative prices, conditional close, iceberg display, expiry and start) are in
/// one [`RareParts`] box, absent for a plain order: the request is 64 bytes instead of ~290,
/// so building, reading and dropping a plain order's command copies and tests little. Read the rare parts with [`NewOrder::rare`] (all absent when
/// there is no box) and change them with [`NewOrder::rare_mut`]; an empty box and no box are
/// the same request (`PartialEq`, [`NewOrder::has_rare_parts`]).
///
/// Its serde form is the command log's (JSON, `sequencer`), that of the flat struct it was
/// (`wire::NewOrder`): every field after the first six is left out when it holds its default
/// and read back as that default (`is_default`), so a plain limit order's record is ~170 bytes
/// instead of ~375 (fewer log pages per group commit, a smaller log, a faster replay), and a
/// record written before a field existed still reads. Its `Debug` form is the flat struct's too.
/// Compact formats without field names go through `storage::checkpoint::new_order` instead.
#[derive(Clone, Deserialize)]
#[serde(from = "wire::NewOrder")]
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
    pub trigger: Trigger,
    /// `viqc`: a market buy whose `volume` is the quote amount to spend, fee included (quote
    /// minimal units).
    pub quote_volume: bool,
    /// The rare options, only for an order that has one (see [`NewOrder::rare`]).
    pub rare: Option<Box<RareParts>>,
}

/// The options of a [`NewOrder`] few orders have (names as in the log's form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RareParts {
    pub cl_ord_id: Option<String>,
    /// `*-limit`: the limit price once triggered, in ticks (0 otherwise or while relative).
    pub price2: u64,
    /// `price` given relative (`+ - #`, `%`); always so for trailing kinds (their offset).
    pub price_offset: Option<Offset>,
    /// `price2` given relative (for trailing-stop-limit: the limit's offset from the trigger).
    pub price2_offset: Option<Offset>,
    pub close: Option<CloseOrder>,
    /// Iceberg: the volume shown in the book at a time (base minimal units).
    pub display_volume: Option<i128>,
    /// GTD: the engine time at which the order expires.
    pub expire_ns: Option<u64>,
    /// `starttm` in the future: the engine time at which the order enters the book.
    pub start_ns: Option<u64>,
}

/// No rare part (what [`NewOrder::rare`] answers for a request without the box).
pub static NO_RARE: RareParts = RareParts {
    cl_ord_id: None,
    price2: 0,
    price_offset: None,
    price2_offset: None,
    close: None,
    display_volume: None,
    expire_ns: None,
    start_ns: None,
};

impl RareParts {
    /// Whether every part is absent, field by field (no string or box compared).
    pub fn is_empty(&self) -> bool {
        let RareParts { cl_ord_id, price2, price_offset, price2_offset, close, display_volume, expire_ns, start_ns } = self;
        cl_ord_id.is_none()
            && *price2 == 0
            && price_offset.is_none()
            && price2_offset.is_none()
            && close.is_none()
            && display_volume.is_none()
            && expire_ns.is_none()
            && start_ns.is_none()
    }

    /// The box a request keeps: none when every part is absent.
    pub fn boxed(self) -> Option<Box<RareParts>> {
        (!self.is_empty()).then(|| Box::new(self))
    }
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
            trigger: Trigger::Last,
            quote_volume: false,
            rare: None,
        }
    }

    /// The rare options (all absent when the request has none).
    #[inline]
    pub fn rare(&self) -> &RareParts {
        self.rare.as_deref().unwrap_or(&NO_RARE)
    }

    /// The rare options to change, the box made on first use.
    pub fn rare_mut(&mut self) -> &mut RareParts {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The request with its rare options changed by `f` (for building one in an expression).
    pub fn with_rare(mut self, f: impl FnOnce(&mut RareParts)) -> NewOrder {
        f(self.rare_mut());
        self
    }

    /// Whether any rare option is present (most requests: no box, one test).
    #[inline]
    pub fn has_rare_parts(&self) -> bool {
        self.rare.as_deref().is_some_and(|r| !r.is_empty())
    }

    /// The form the request had as one flat struct (its log and `Debug` forms).
    fn wire(&self) -> wire::NewOrder {
        let r = self.rare();
        wire::NewOrder {
            account: self.account,
            pair: self.pair,
            side: self.side,
            kind: self.kind,
            price: self.price,
            volume: self.volume,
            post_only: self.post_only,
            fee_in_base: self.fee_in_base,
            time_in_force: self.time_in_force,
            self_trade: self.self_trade,
            userref: self.userref,
            cl_ord_id: r.cl_ord_id.clone(),
            price2: r.price2,
            trigger: self.trigger,
            price_offset: r.price_offset,
            price2_offset: r.price2_offset,
            close: r.close.clone(),
            display_volume: r.display_volume,
            quote_volume: self.quote_volume,
            expire_ns: r.expire_ns,
            start_ns: r.start_ns,
        }
    }
}

/// Equal requests: no box and an empty box are the same.
impl PartialEq for NewOrder {
    fn eq(&self, o: &NewOrder) -> bool {
        (self.account, self.pair, self.side, self.kind, self.price, self.volume) == (o.account, o.pair, o.side, o.kind, o.price, o.volume)
            && (self.post_only, self.fee_in_base, self.time_in_force, self.self_trade, self.userref, self.trigger, self.quote_volume)
                == (o.post_only, o.fee_in_base, o.time_in_force, o.self_trade, o.userref, o.trigger, o.quote_volume)
            && self.rare() == o.rare()
    }
}

impl Eq for NewOrder {}

impl std::fmt::Debug for NewOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.wire().fmt(f)
    }
}

/// The request as one flat struct: the command log's JSON form and the `Debug` form, field for
/// field what `NewOrder` was before its rare options went into a box.
mod wire {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    pub(super) struct NewOrder {
        pub(super) account: AccountId,
        pub(super) pair: PairIdx,
        pub(super) side: Side,
        pub(super) kind: OrderKind,
        pub(super) price: u64,
        pub(super) volume: i128,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) post_only: bool,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) fee_in_base: bool,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) time_in_force: TimeInForce,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) self_trade: SelfTrade,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) userref: Option<i32>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) cl_ord_id: Option<String>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) price2: u64,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) trigger: Trigger,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) price_offset: Option<Offset>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) price2_offset: Option<Offset>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) close: Option<CloseOrder>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) display_volume: Option<i128>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) quote_volume: bool,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) expire_ns: Option<u64>,
        #[serde(default, skip_serializing_if = "is_default")]
        pub(super) start_ns: Option<u64>,
    }
}

impl Serialize for NewOrder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(s)
    }
}

impl From<wire::NewOrder> for NewOrder {
    fn from(w: wire::NewOrder) -> NewOrder {
        let rare = RareParts {
            cl_ord_id: w.cl_ord_id,
            price2: w.price2,
            price_offset: w.price_offset,
            price2_offset: w.price2_offset,
            close: w.close,
            display_volume: w.display_volume,
            expire_ns: w.expire_ns,
            start_ns: w.start_ns,
        };
        NewOrder {
            account: w.account,
            pair: w.pair,
            side: w.side,
            kind: w.kind,
            price: w.price,
            volume: w.volume,
            post_only: w.post_only,
            fee_in_base: w.fee_in_base,
            time_in_force: w.time_in_force,
            self_trade: w.self_trade,
            userref: w.userref,
            trigger: w.trigger,
            quote_volume: w.quote_volume,
            rare: rare.boxed(),
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
            trigger: Trigger::Index,
            quote_volume: true,
            rare: Some(Box::new(RareParts {
                cl_ord_id: Some("grid-1".into()),
                price2: 7,
                price_offset: off,
                price2_offset: off,
                close: Some(CloseOrder { kind: OrderKind::Limit, price: 1, price2: 0, price_offset: None, price2_offset: None }),
                display_volume: Some(5),
                expire_ns: Some(9),
                start_ns: Some(0),
            })),
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

    /// A fully optioned order's log record, pinned byte for byte: the form of the flat struct
    /// `NewOrder` was before its rare options went into a box (the fields in that order, none
    /// left out), so records written by earlier builds and by this one are the same bytes.
    #[test]
    fn a_fully_optioned_order_is_logged_as_the_flat_struct() {
        let off = Some(Offset { sign: OffsetSign::Minus, value: 25, percent: true });
        let req = NewOrder {
            kind: OrderKind::TrailingStopLimit,
            post_only: true,
            fee_in_base: true,
            time_in_force: TimeInForce::Gtd,
            self_trade: SelfTrade::CancelBoth,
            userref: Some(0),
            trigger: Trigger::Index,
            quote_volume: true,
            ..NewOrder::limit(3, 0, Side::Sell, 879_998, 10_000_000).with_rare(|r| {
                *r = RareParts {
                    cl_ord_id: Some("grid-1".into()),
                    price2: 7,
                    price_offset: off,
                    price2_offset: off,
                    close: Some(CloseOrder { kind: OrderKind::Limit, price: 1, price2: 0, price_offset: None, price2_offset: None }),
                    display_volume: Some(5),
                    expire_ns: Some(9),
                    start_ns: Some(0),
                }
            })
        };
        let bytes = logged(req.clone());
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            concat!(
                r#"{"time_ns":1796278943732207764,"key_nonce":[2,1796278943732176],"command":{"PlaceOrder":{"account":3,"pair":0,"#,
                r#""side":"Sell","kind":"TrailingStopLimit","price":879998,"volume":10000000,"post_only":true,"fee_in_base":true,"#,
                r#""time_in_force":"Gtd","self_trade":"CancelBoth","userref":0,"cl_ord_id":"grid-1","price2":7,"trigger":"Index","#,
                r#""price_offset":{"sign":"Minus","value":25,"percent":true},"price2_offset":{"sign":"Minus","value":25,"percent":true},"#,
                r#""close":{"kind":"Limit","price":1,"price2":0,"price_offset":null,"price2_offset":null},"display_volume":5,"#,
                r#""quote_volume":true,"expire_ns":9,"start_ns":0}}}"#
            )
        );
        assert_eq!(read(&bytes), req);
        // Its `Debug` form is the flat struct's too (what `Order`'s `Debug` and the digest show).
        assert_eq!(
            format!("{req:?}"),
            concat!(
                "NewOrder { account: 3, pair: 0, side: Sell, kind: TrailingStopLimit, price: 879998, volume: 10000000, ",
                "post_only: true, fee_in_base: true, time_in_force: Gtd, self_trade: CancelBoth, userref: Some(0), ",
                "cl_ord_id: Some(\"grid-1\"), price2: 7, trigger: Index, price_offset: Some(Offset { sign: Minus, value: 25, ",
                "percent: true }), price2_offset: Some(Offset { sign: Minus, value: 25, percent: true }), close: Some(CloseOrder { ",
                "kind: Limit, price: 1, price2: 0, price_offset: None, price2_offset: None }), display_volume: Some(5), ",
                "quote_volume: true, expire_ns: Some(9), start_ns: Some(0) }"
            )
        );
    }

    /// A plain order keeps no box, and an emptied box is the same request: equal, logged and
    /// shown alike, and read back as no box. The request (and so a `PlaceOrder` command) is small.
    #[test]
    fn a_plain_order_has_no_rare_box_and_an_empty_one_is_the_same() {
        let plain = NewOrder::limit(3, 0, Side::Buy, 879_998, 10_000_000);
        assert!(plain.rare.is_none() && !plain.has_rare_parts());
        let emptied = plain.clone().with_rare(|r| r.cl_ord_id = Some("x".into())).with_rare(|r| r.cl_ord_id = None);
        assert!(emptied.rare.is_some() && !emptied.has_rare_parts());
        assert_eq!(emptied, plain);
        assert_eq!(format!("{emptied:?}"), format!("{plain:?}"));
        assert_eq!(logged(emptied.clone()), logged(plain.clone()));
        assert!(read(&logged(emptied)).rare.is_none());
        assert_ne!(plain.clone().with_rare(|r| r.price2 = 1), plain);
        assert!(std::mem::size_of::<NewOrder>() <= 64, "{}", std::mem::size_of::<NewOrder>());
    }
}
