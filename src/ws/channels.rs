//! The public channels' messages, written as JSON text directly from integer units so that every
//! number is the exact decimal (v2 sends numbers, not strings) and one message built once is
//! shared by every subscriber: book (snapshot, updates, Kraken's CRC32 checksum), trade, ticker,
//! ohlc, instrument. Symbols are v2 names (`BTC/USD`).

use super::publisher::PairState;
use crate::engine::market_data::{Candle, PublicTrade};
use crate::engine::markets::{Markets, Pair};
use crate::engine::order::{OrderKind, Side};
use crate::engine::status::MarketStates;
use crate::money::format_units;
use std::fmt::Write;

/// A pair's v2 symbol and what it is made of.
pub struct Sym {
    pub symbol: String,
    pub base: String,
    pub quote: String,
}

/// Kraken's v2 ("ISO") name of an asset altname.
pub fn v2_asset(altname: &str) -> String {
    match altname {
        "XBT" => "BTC".into(),
        "XDG" => "DOGE".into(),
        a => a.to_string(),
    }
}

/// The REST name of a v2 asset name (for looking pairs up).
fn rest_asset(v2: &str) -> &str {
    match v2 {
        "BTC" => "XBT",
        "DOGE" => "XDG",
        a => a,
    }
}

impl Sym {
    pub fn of(markets: &Markets, p: &Pair) -> Sym {
        let base = v2_asset(&markets.asset(p.base).altname);
        let quote = v2_asset(&markets.asset(p.quote).altname);
        Sym { symbol: format!("{base}/{quote}"), base, quote }
    }
}

/// A pair from a v2 symbol, its REST wsname (`XBT/USD`) or altname (`XBTUSD`).
pub fn resolve(markets: &Markets, syms: &[Sym], name: &str) -> Option<usize> {
    let upper = name.to_ascii_uppercase();
    if let Some(i) = syms.iter().position(|s| s.symbol == upper) {
        return Some(i);
    }
    if let Some((b, q)) = upper.split_once('/') {
        if let Some(p) = markets.pair_by_name(&format!("{}/{}", rest_asset(b), rest_asset(q))) {
            return Some(p as usize);
        }
    }
    markets.pair_by_name(&upper).map(|p| p as usize)
}

/// An exact decimal as a JSON number: trailing zeros dropped (`0.5670` → `0.567`, `5.0` → `5`).
pub fn num(units: i128, decimals: u32) -> String {
    let mut s = format_units(units, decimals);
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

fn price(pair: &Pair, p: u64) -> String {
    num(p as i128, pair.pair_decimals)
}

fn qty(pair: &Pair, v: i128) -> String {
    num(v, pair.base_decimals)
}

/// RFC 3339 UTC with microseconds, as Kraken's v2 timestamps.
pub fn rfc3339(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let (y, m, d) = crate::calendar::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z", rem / 3600, rem / 60 % 60, rem % 60, ns % 1_000_000_000 / 1000)
}

/// One side's checksum text: price and qty at the pair's precisions, `.` removed, leading zeros stripped.
fn checksum_part(pair: &Pair, levels: &[(u64, i128)], out: &mut String) {
    for (p, v) in levels.iter().take(10) {
        let lot = crate::money::rescale_floor(*v, pair.base_decimals, pair.lot_decimals);
        for text in [format_units(*p as i128, pair.pair_decimals), format_units(lot, pair.lot_decimals)] {
            let digits: String = text.chars().filter(|c| *c != '.').collect();
            out.push_str(digits.trim_start_matches('0'));
        }
    }
}

/// Kraken's book checksum: CRC32 of the top 10 asks (best first) then the top 10 bids.
pub fn checksum(pair: &Pair, bids: &[(u64, i128)], asks: &[(u64, i128)]) -> u32 {
    let mut s = String::new();
    checksum_part(pair, asks, &mut s);
    checksum_part(pair, bids, &mut s);
    crc32fast::hash(s.as_bytes())
}

fn levels_json(pair: &Pair, levels: &[(u64, i128)]) -> String {
    let mut s = String::from("[");
    for (i, (p, v)) in levels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"price\":{},\"qty\":{}}}", price(pair, *p), qty(pair, *v));
    }
    s.push(']');
    s
}

fn book_message(pair: &Pair, sym: &Sym, kind: &str, bids: &[(u64, i128)], asks: &[(u64, i128)], st: &PairState) -> String {
    let sum = checksum(pair, &st.top(true, 10), &st.top(false, 10));
    format!(
        "{{\"channel\":\"book\",\"type\":\"{kind}\",\"data\":[{{\"symbol\":\"{}\",\"bids\":{},\"asks\":{},\"checksum\":{sum},\"timestamp\":\"{}\"}}]}}",
        sym.symbol,
        levels_json(pair, bids),
        levels_json(pair, asks),
        rfc3339(st.time_ns)
    )
}

pub fn book_snapshot(pair: &Pair, sym: &Sym, st: &PairState, depth: usize) -> String {
    book_message(pair, sym, "snapshot", &st.top(true, depth), &st.top(false, depth), st)
}

/// The changes inside a `depth` view: changed or new levels, and `qty: 0` for levels that left
/// it (the level sliding in from below is a new level of the view). None when the view is unchanged.
fn side_diff(old: &[(u64, i128)], new: &[(u64, i128)]) -> Vec<(u64, i128)> {
    let mut out: Vec<(u64, i128)> = old.iter().filter(|(p, _)| !new.iter().any(|(q, _)| q == p)).map(|(p, _)| (*p, 0)).collect();
    out.extend(new.iter().filter(|l| !old.contains(l)).copied());
    out
}

pub fn book_update(pair: &Pair, sym: &Sym, old: &PairState, new: &PairState, depth: usize) -> Option<String> {
    let bids = side_diff(&old.top(true, depth), &new.top(true, depth));
    let asks = side_diff(&old.top(false, depth), &new.top(false, depth));
    if bids.is_empty() && asks.is_empty() {
        return None;
    }
    Some(book_message(pair, sym, "update", &bids, &asks, new))
}

pub fn trade_message(pair: &Pair, sym: &Sym, kind: &str, trades: &[PublicTrade]) -> String {
    let mut data = String::new();
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        let side = if t.taker_side == Side::Buy { "buy" } else { "sell" };
        let ord_type = if t.taker_kind == OrderKind::Market { "market" } else { "limit" };
        let _ = write!(
            data,
            "{{\"symbol\":\"{}\",\"side\":\"{side}\",\"price\":{},\"qty\":{},\"ord_type\":\"{ord_type}\",\"trade_id\":{},\"timestamp\":\"{}\"}}",
            sym.symbol,
            price(pair, t.price),
            qty(pair, t.volume),
            t.trade_id,
            rfc3339(t.time_ns)
        );
    }
    format!("{{\"channel\":\"trade\",\"type\":\"{kind}\",\"data\":[{data}]}}")
}

pub fn ticker_message(pair: &Pair, sym: &Sym, kind: &str, st: &PairState) -> String {
    let bid = st.top(true, 1).first().copied().unwrap_or((0, 0));
    let ask = st.top(false, 1).first().copied().unwrap_or((0, 0));
    let day = &st.stats.day;
    let vwap = if day.volume > 0 { (day.value / day.volume) as u64 } else { st.stats.last };
    let change = st.stats.last as i128 - st.stats.open as i128;
    let pct = if st.stats.open > 0 { change * 10_000 / st.stats.open as i128 } else { 0 };
    format!(
        "{{\"channel\":\"ticker\",\"type\":\"{kind}\",\"data\":[{{\"symbol\":\"{}\",\"bid\":{},\"bid_qty\":{},\"ask\":{},\"ask_qty\":{},\"last\":{},\"volume\":{},\"vwap\":{},\"low\":{},\"high\":{},\"change\":{},\"change_pct\":{},\"timestamp\":\"{}\"}}]}}",
        sym.symbol,
        price(pair, bid.0),
        qty(pair, bid.1),
        price(pair, ask.0),
        qty(pair, ask.1),
        price(pair, st.stats.last),
        qty(pair, day.volume),
        price(pair, vwap),
        price(pair, day.low),
        price(pair, day.high),
        num(change, pair.pair_decimals),
        num(pct, 2),
        rfc3339(st.time_ns)
    )
}

pub fn ohlc_message(pair: &Pair, sym: &Sym, kind: &str, candles: &[Candle], interval: u64, time_ns: u64) -> String {
    let mut data = String::new();
    for (i, c) in candles.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        let vwap = if c.volume > 0 { (c.value / c.volume) as u64 } else { c.close };
        let _ = write!(
            data,
            "{{\"symbol\":\"{}\",\"open\":{},\"high\":{},\"low\":{},\"close\":{},\"vwap\":{},\"trades\":{},\"volume\":{},\"interval_begin\":\"{}\",\"interval\":{interval},\"timestamp\":\"{}\"}}",
            sym.symbol,
            price(pair, c.open),
            price(pair, c.high),
            price(pair, c.low),
            price(pair, c.close),
            price(pair, vwap),
            c.count,
            qty(pair, c.volume),
            rfc3339(c.time * 1_000_000_000),
            rfc3339((c.time + interval * 60) * 1_000_000_000)
        );
    }
    format!("{{\"channel\":\"ohlc\",\"type\":\"{kind}\",\"timestamp\":\"{}\",\"data\":[{data}]}}", rfc3339(time_ns))
}

/// The `status` message: the system's state (`online`, `maintenance`, `cancel_only`, `post_only`).
pub fn status_message(states: &MarketStates, connection_id: Option<u64>) -> String {
    let mut d = serde_json::json!({"api_version": "v2", "system": states.system.as_str(), "version": env!("CARGO_PKG_VERSION")});
    if let Some(id) = connection_id {
        d["connection_id"] = serde_json::json!(id);
    }
    serde_json::json!({"channel": "status", "type": "update", "data": [d]}).to_string()
}

/// The `instrument` message (`snapshot` or `update`): every asset and pair, with each pair's state.
pub fn instrument_message(markets: &Markets, syms: &[Sym], states: &MarketStates, kind: &str) -> String {
    let assets: Vec<serde_json::Value> = markets
        .assets
        .iter()
        .map(|a| {
            serde_json::json!({"id": v2_asset(&a.altname), "status": "enabled", "precision": a.decimals,
                "precision_display": a.display_decimals, "borrowable": false, "collateral_value": 0, "margin_rate": 0})
        })
        .collect();
    let pairs: Vec<serde_json::Value> = markets
        .pairs
        .iter()
        .zip(syms)
        .enumerate()
        .map(|(i, (p, s))| {
            let status = states.pairs.get(i).map(|s| s.as_str()).unwrap_or("online");
            let n = |t: &str| t.parse::<serde_json::Number>().map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null);
            serde_json::json!({"symbol": s.symbol, "base": s.base, "quote": s.quote, "status": status,
                "qty_precision": p.lot_decimals, "qty_increment": n(&num(1, p.lot_decimals)), "qty_min": n(&p.ordermin_text),
                "price_precision": p.pair_decimals, "price_increment": n(&p.tick_text), "cost_precision": p.cost_decimals,
                "cost_min": n(&p.costmin_text), "marginable": false, "has_index": true, "tick_size": n(&p.tick_text)})
        })
        .collect();
    serde_json::json!({"channel": "instrument", "type": kind, "data": {"assets": assets, "pairs": pairs}}).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn kraken_checksum_vector() {
        // Kraken's documented MATIC/USD example (price 4 dp, qty 8 dp) → 2439117997.
        let asks = "0.5668 4410.79769741 0.5669 4655.40412487 0.5670 49844.89424998 0.5671 24306.41678000 0.5672 29783.25223475 0.5673 57234.71239278 0.5674 45065.04744000 0.5675 5912.76380354 0.5676 42514.92434778 0.5677 36304.08470220";
        let bids = "0.5666 4831.75496356 0.5665 6658.22734739 0.5664 18724.91513344 0.5663 11563.92544914 0.5662 14006.65365711 0.5661 17454.85679807 0.5660 18097.15470000 0.5659 33644.89175666 0.5658 148.34640000 0.5657 606.70854372";
        let mut s = String::new();
        for side in [asks, bids] {
            for t in side.split(' ') {
                s.push_str(t.replace('.', "").trim_start_matches('0'));
            }
        }
        assert!(s.starts_with("566844107976974156694655404124875670498448942499856712430641"));
        assert_eq!(crc32fast::hash(s.as_bytes()), 2439117997);
        // The same book through this module's own checksum (a pair at MATIC/USD's precisions).
        let markets = crate::engine::markets::Markets::from_config(&crate::config::Config::builtin()).unwrap();
        let mut pair = markets.pairs[0].clone();
        (pair.pair_decimals, pair.lot_decimals, pair.base_decimals) = (4, 8, 8);
        let levels = |text: &str| -> Vec<(u64, i128)> {
            let t: Vec<&str> = text.split(' ').collect();
            t.chunks(2).map(|c| (crate::money::parse_units(c[0], 4).unwrap() as u64, crate::money::parse_units(c[1], 8).unwrap())).collect()
        };
        assert_eq!(super::checksum(&pair, &levels(bids), &levels(asks)), 2439117997);
        assert_eq!(super::num(56700, 5), "0.567");
        assert_eq!(super::num(500, 2), "5");
        assert_eq!(super::rfc3339(1_696_613_755_440_295_000), "2023-10-06T17:35:55.440295Z");
    }
}
