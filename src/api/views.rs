//! Kraken's JSON shapes for account data: orders (OpenOrders, ClosedOrders, QueryOrders),
//! trades (TradesHistory, QueryTrades) and ledger entries (Ledgers, QueryLedgers), rendered
//! from engine records, and the number formats every answer shares. The rule (ARCHITECTURE.md,
//! "Kraken's numbers", with the recorded answers it comes from): money of an order or a trade
//! (cost, fee, average price, stop and limit prices, margin) and every public price at the pair's
//! `cost_decimals`; an order's own limit price (`descr`) and OHLC at `pair_decimals`; volumes at
//! `lot_decimals`; ledger amounts and balances at the asset's `decimals`; private times as JSON
//! numbers to the microsecond.

use crate::engine::account::{LedgerEntry, RefId, TradeRecord};
use crate::engine::ids::IdKind;
use crate::engine::markets::{Markets, Pair};
use crate::engine::order::{NewOrder, Offset, OffsetSign, Order, OrderKind, Side};
use crate::engine::triggers::auto_plus;
use crate::engine::Exchange;
use crate::money::{div_round_half_up, format_units, write_units};
use serde_json::{json, Map, Value};

/// Seconds as Kraken prints an order's, a trade's or a ledger entry's time: a JSON number to the
/// microsecond (`1759960488.016865`), the float nearest the microsecond count.
pub fn seconds(time_ns: u64) -> Value {
    let micros = (time_ns + 500) / 1_000;
    float(micros as f64 / 1e6)
}

/// A public trade's time: the float nearest the nanosecond stamp (`1616666442.2951703`).
pub fn nanos_seconds(time_ns: u64) -> Value {
    float(time_ns as f64 / 1e9)
}

fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map(Value::Number).unwrap_or(Value::Null)
}

/// The asset class Kraken names in an order's `descr` and in a trade (spot pairs are `forex`).
pub const ACLASS: &str = "forex";

/// Kraken's `postxid` on spot trades: one fixed id, there being no position.
pub const SPOT_POSTXID: &str = "TKH2SE-M7IF5-CFI7LT";

/// Re-expresses `units` of 10^-from as a string with exactly `to` decimals (truncating).
pub fn fixed(units: i128, from: u32, to: u32) -> String {
    let mut s = String::with_capacity(24);
    write_fixed(&mut s, units, from, to);
    s
}

/// [`fixed`] appended to `out`.
pub fn write_fixed(out: &mut String, units: i128, from: u32, to: u32) {
    if to >= from {
        write_units(out, units * 10i128.pow(to - from), to)
    } else {
        write_units(out, units / 10i128.pow(from - to), to)
    }
}

/// An order's own price (`descr`, `descr.order`) and OHLC prices: `pair_decimals`.
pub fn price(pair: &Pair, ticks: u64) -> String {
    format_units(ticks as i128, pair.pair_decimals)
}

/// Money at the pair's `cost_decimals` (a trade's or an order's cost and fee).
pub fn money(pair: &Pair, units: i128) -> String {
    format_units(units, pair.cost_decimals)
}

/// A price in ticks at the pair's `cost_decimals` (public prices, stop and limit prices).
pub fn price_cd(pair: &Pair, ticks: u64) -> String {
    fixed(ticks as i128, pair.pair_decimals, pair.cost_decimals)
}

/// The average price of `cost_cd` (10^-cost_decimals quote) over `volume` (base units), at
/// `cost_decimals`, rounded half up; 0 for nothing.
pub fn average(pair: &Pair, cost_cd: i128, volume: i128) -> String {
    let avg = if volume > 0 { div_round_half_up(cost_cd * 10i128.pow(pair.base_decimals), volume) } else { 0 };
    money(pair, avg)
}

/// A fee as Kraken prints it: quote fees at `cost_decimals` (`fee_cd`), base fees (`fcib`) at the
/// base's decimals.
fn fee_text(pair: &Pair, fee_in_base: bool, fee_cd: i128) -> String {
    if fee_in_base {
        format_units(fee_cd, pair.base_decimals)
    } else {
        money(pair, fee_cd)
    }
}

pub fn volume(pair: &Pair, units: i128) -> String {
    fixed(units, pair.base_decimals, pair.lot_decimals)
}

/// A relative price as Kraken prints it: `+50.0000%`, `-100.0`; `#` shows the sign it picks
/// for this kind and side (`second`: the price2 field).
pub fn offset_text(pair: &Pair, off: Offset, kind: OrderKind, side: Side, second: bool) -> String {
    let plus = match off.sign {
        OffsetSign::Plus => true,
        OffsetSign::Minus => false,
        OffsetSign::Auto => auto_plus(kind, side, second),
    };
    let sign = if plus { '+' } else { '-' };
    if off.percent {
        format!("{sign}{}%", format_units(off.value as i128, 4))
    } else {
        format!("{sign}{}", price(pair, off.value))
    }
}

fn price_or_offset(pair: &Pair, ticks: u64, off: Option<Offset>, kind: OrderKind, side: Side, second: bool) -> String {
    match off {
        Some(o) => offset_text(pair, o, kind, side, second),
        None => price(pair, ticks),
    }
}

/// `@ stop loss 55000.0 -> limit 54000.0` and its kin: what follows the volume and pair.
fn at_text(kind: OrderKind, p1: &str, p2: &str) -> String {
    match kind {
        OrderKind::Market => "market".into(),
        // An iceberg reads as the limit order it is (clients parse `@ limit PRICE`).
        OrderKind::Limit | OrderKind::Iceberg => format!("limit {p1}"),
        k if k.has_limit2() => format!("{} {p1} -> limit {p2}", k.words()),
        k => format!("{} {p1}", k.words()),
    }
}

/// Kraken's `descr.order` text (`buy 0.00010000 XBTUSD @ limit 25000.0`) from the prices as
/// they are to be shown.
pub fn order_text_with(markets: &Markets, req: &NewOrder, p1: &str, p2: &str) -> String {
    let pair = markets.pair(req.pair);
    let vol = order_volume(pair, req);
    format!("{} {} {} @ {}", req.side.as_str(), vol, pair.altname, at_text(req.kind, p1, p2))
}

/// An order's volume with 8 decimals: base, or the quote to spend of a `viqc` market buy.
pub fn order_volume(pair: &Pair, req: &NewOrder) -> String {
    if req.quote_volume {
        fixed(req.volume, pair.quote_decimals, 8)
    } else {
        fixed(req.volume, pair.base_decimals, 8)
    }
}

/// `descr.order` of a request, its prices as given (relative ones as their text).
pub fn order_text(markets: &Markets, req: &NewOrder) -> String {
    let pair = markets.pair(req.pair);
    let p1 = price_or_offset(pair, req.price, req.rare().price_offset, req.kind, req.side, false);
    let p2 = price_or_offset(pair, req.rare().price2, req.rare().price2_offset, req.kind, req.side, true);
    order_text_with(markets, req, &p1, &p2)
}

/// `descr.close`: `close position @ stop loss 22000.0 -> limit 21000.0`, or "".
pub fn close_text(markets: &Markets, req: &NewOrder) -> String {
    let Some(c) = &req.rare().close else { return String::new() };
    let pair = markets.pair(req.pair);
    let side = req.side.opposite();
    let p1 = price_or_offset(pair, c.price, c.price_offset, c.kind, side, false);
    let p2 = price_or_offset(pair, c.price2, c.price2_offset, c.kind, side, true);
    format!("close position @ {}", at_text(c.kind, &p1, &p2))
}

/// AddOrder's `descr` for `validate=true`: the request as given.
pub fn descr_request(markets: &Markets, req: &NewOrder) -> Value {
    let mut d = json!({ "order": order_text(markets, req) });
    if req.rare().close.is_some() {
        d["close"] = json!(close_text(markets, req));
    }
    d
}

/// An order's `descr.price` and `descr.price2`: trailing offsets as their text, other prices
/// absolute (relative ones as the engine resolved them; a stop's trigger, not its limit).
fn descr_prices(o: &Order, pair: &Pair) -> (String, String) {
    let st = o.stop();
    let p1 = match (o.req.kind.is_trailing(), st) {
        (true, _) => price_or_offset(pair, 0, o.price_offset(), o.req.kind, o.req.side, false),
        (false, Some(s)) => price(pair, s.stop),
        (false, None) if matches!(o.req.kind, OrderKind::Limit | OrderKind::Iceberg) => price(pair, o.req.price),
        _ => "0".to_string(),
    };
    let p2 = match o.req.kind {
        // An offset until it fires (an amend of the fired order makes it absolute).
        OrderKind::TrailingStopLimit => price_or_offset(pair, o.price2(), o.price2_offset(), o.req.kind, o.req.side, true),
        k if k.has_limit2() => price(pair, o.price2()),
        // Unset, Kraken prints "0" (not "0.0").
        _ => "0".to_string(),
    };
    (p1, p2)
}

/// AddOrder's `descr` for a placed order (relative prices resolved by the engine).
pub fn descr_answer(ex: &Exchange, o: &Order) -> Value {
    let pair = ex.markets.pair(o.req.pair);
    let (p1, p2) = descr_prices(o, pair);
    let mut d = json!({ "order": order_text_with(&ex.markets, &o.new_order(), &p1, &p2) });
    if o.close().is_some() {
        d["close"] = json!(close_text(&ex.markets, &o.new_order()));
    }
    d
}

pub fn oflags(req: &NewOrder) -> String {
    let fee = if req.fee_in_base { "fcib" } else { "fciq" };
    let mut flags = if req.post_only { format!("post,{fee}") } else { fee.to_string() };
    if req.quote_volume {
        flags.push_str(",viqc");
    }
    flags
}

pub fn order(ex: &Exchange, o: &Order, with_trades: bool) -> Value {
    let markets = &ex.markets;
    let pair = markets.pair(o.req.pair);
    let (p1, p2) = descr_prices(o, pair);
    let (stop, limit) = ex.stop_and_limit(o);
    let mut m = Map::new();
    m.insert("refid".into(), o.parent().map(|p| json!(ex.order_txid(p))).unwrap_or(Value::Null));
    m.insert("userref".into(), json!(o.req.userref.unwrap_or(0)));
    if let Some(c) = o.cl_ord_id() {
        m.insert("cl_ord_id".into(), json!(c));
    }
    m.insert("status".into(), json!(o.status.as_str()));
    m.insert("reason".into(), o.reason.map(|r| json!(r.as_str())).unwrap_or(Value::Null));
    m.insert("opentm".into(), seconds(o.open_ns));
    if !o.is_open() {
        m.insert("closetm".into(), seconds(o.close_ns));
    }
    m.insert("starttm".into(), o.start_ns().map_or(json!(0), seconds));
    m.insert("expiretm".into(), o.expire_ns().map_or(json!(0), seconds));
    m.insert(
        "descr".into(),
        json!({
            "pair": pair.altname,
            "aclass": ACLASS,
            "type": o.req.side.as_str(),
            "ordertype": o.req.kind.as_str(),
            "price": p1,
            "price2": p2,
            "leverage": "none",
            "order": order_text_with(markets, &o.new_order(), &p1, &p2),
            "close": close_text(markets, &o.new_order()),
        }),
    );
    let vol = if o.req.quote_volume { order_volume(pair, &o.new_order()) } else { volume(pair, o.req.volume) };
    m.insert("vol".into(), json!(vol));
    m.insert("vol_exec".into(), json!(volume(pair, o.filled())));
    m.insert("cost".into(), json!(money(pair, o.cost_cd())));
    m.insert("fee".into(), json!(fee_text(pair, o.req.fee_in_base, o.fee_cd())));
    m.insert("price".into(), json!(average(pair, o.cost_cd(), o.filled())));
    // Stop and limit prices at cost_decimals, as Kraken prints them ("127605.90000").
    m.insert("stopprice".into(), json!(price_cd(pair, stop)));
    m.insert("limitprice".into(), json!(price_cd(pair, limit)));
    // A fired trigger: `stopped` (stop-loss, trailing) or `touched` (take-profit).
    let misc = match o.stop() {
        Some(s) if !s.armed && o.req.kind.is_take_profit() => "touched",
        Some(s) if !s.armed => "stopped",
        _ => "",
    };
    // Kraken's `misc` also names an order that was amended in place.
    let misc = match (misc, o.amended()) {
        ("", true) => "amended".to_string(),
        (m, true) => format!("{m},amended"),
        (m, false) => m.to_string(),
    };
    m.insert("misc".into(), json!(misc));
    m.insert("oflags".into(), json!(oflags(&o.new_order())));
    if o.req.kind.is_triggered() {
        m.insert("trigger".into(), json!(o.req.trigger.as_str()));
    }
    if with_trades && !o.trades().is_empty() {
        let ids: Vec<String> = o.trades().iter().map(|t| ex.ids.encode(IdKind::Trade, *t as u64)).collect();
        m.insert("trades".into(), json!(ids));
    }
    Value::Object(m)
}

pub fn refid(ex: &Exchange, r: RefId) -> String {
    match r {
        RefId::Trade(t) => ex.ids.encode(IdKind::Trade, t),
        RefId::Funding(f) => ex.ids.encode(IdKind::Funding, f),
    }
}

pub fn trade(ex: &Exchange, t: &TradeRecord, with_ledgers: bool) -> Value {
    let pair = ex.markets.pair(t.pair);
    let mut v = json!({
        "ordertxid": ex.order_txid(t.order),
        "postxid": SPOT_POSTXID,
        "pair": pair.id,
        "aclass": ACLASS,
        "time": seconds(t.time_ns),
        "type": t.side.as_str(),
        "ordertype": t.order_kind.as_str(),
        "price": price_cd(pair, t.price),
        "cost": money(pair, t.cost_cd),
        "fee": fee_text(pair, t.fee_in_base, t.fee_cd),
        "vol": volume(pair, t.volume),
        "margin": money(pair, 0),
        "leverage": "0",
        "misc": "",
        "trade_id": t.public_id,
        "maker": t.maker,
    });
    if with_ledgers {
        let ids: Vec<String> = t.ledgers.iter().map(|l| ex.ids.encode(IdKind::Ledger, *l)).collect();
        v["ledgers"] = json!(ids);
    }
    v
}

pub fn ledger_entry(ex: &Exchange, e: &LedgerEntry) -> Value {
    let asset = ex.markets.asset(e.asset);
    json!({
        "refid": refid(ex, e.refid),
        "time": seconds(e.time_ns),
        "type": e.kind.as_str(),
        "subtype": "",
        "aclass": "currency",
        "asset": asset.id,
        "amount": format_units(e.amount, asset.decimals),
        "fee": format_units(e.fee, asset.decimals),
        "balance": format_units(e.balance, asset.decimals),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kraken() {
        assert_eq!(fixed(1_000_000, 10, 8), "0.00010000");
        assert_eq!(fixed(5, 2, 4), "0.0500");
        assert_eq!(seconds(1_759_960_488_016_865_400), json!(1759960488.016865));
        assert_eq!(seconds(1_688_667_796_880_200_000).to_string(), "1688667796.8802");
        assert_eq!(nanos_seconds(1_616_666_442_295_170_300).to_string(), "1616666442.2951703");
    }
}
