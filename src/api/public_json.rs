//! The live public answers (Ticker, Depth, Trades, Spread, OHLC) written straight into their
//! JSON text, number by number, instead of through a `serde_json::Value` tree: a Depth of 100
//! levels a side or a Trades of 1,000 rows is 8–80 KB, and building and serializing the tree
//! was most of the cost of those reads (BENCHMARKS.md §6). The bytes are the ones the tree
//! gave (key order as Kraken's, strings quoted, integers bare, the trade time the float serde
//! prints); tests/book_feed.rs, tests/http_api.rs, tests/numbers.rs and the conformance suite
//! hold them to it. Both the publisher's view and the engine's fallback render through here.

use super::views::write_fixed;
use crate::engine::market_data::{Candle, MarketData, PublicTrade, WindowStats, INTERVALS, NS};
use crate::engine::markets::Pair;
use crate::engine::order::Side;
use crate::money::{div_round_half_up, write_units};
use std::fmt::Write;

/// A JSON string: quoted, escaped by serde_json when it holds anything to escape.
fn string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}

/// An integer as JSON prints it.
fn int(out: &mut String, n: impl std::fmt::Display) {
    let _ = write!(out, "{n}");
}

/// A price in ticks, quoted, at the pair's `cost_decimals` (Ticker, Depth, Trades, Spread).
fn price(out: &mut String, pair: &Pair, ticks: u64) {
    out.push('"');
    write_fixed(out, ticks as i128, pair.pair_decimals, pair.cost_decimals);
    out.push('"');
}

/// An OHLC price, quoted, at `pair_decimals`.
fn ohlc_price(out: &mut String, pair: &Pair, ticks: u64) {
    out.push('"');
    write_units(out, ticks as i128, pair.pair_decimals);
    out.push('"');
}

/// A volume, quoted, at `lot_decimals`.
fn volume(out: &mut String, pair: &Pair, units: i128) {
    out.push('"');
    write_fixed(out, units, pair.base_decimals, pair.lot_decimals);
    out.push('"');
}

/// A book volume as Ticker's lot volume and Depth print it: three decimals (`"2.059"`).
fn book_volume(out: &mut String, pair: &Pair, units: i128) {
    out.push('"');
    write_fixed(out, units, pair.base_decimals, 3);
    out.push('"');
}

/// A volume-weighted average price, `value` being price ticks × base units, at `cost_decimals`.
fn vwap(out: &mut String, pair: &Pair, value: i128, volume: i128, otherwise: u64) {
    if volume <= 0 {
        return price(out, pair, otherwise);
    }
    let scale = 10i128.pow(pair.cost_decimals - pair.pair_decimals);
    out.push('"');
    write_units(out, div_round_half_up(value * scale, volume), pair.cost_decimals);
    out.push('"');
}

/// A public trade's time: the float nearest the nanosecond stamp (`1616666442.2951703`), as
/// serde_json prints an f64.
fn trade_time(out: &mut String, time_ns: u64) {
    match serde_json::Number::from_f64(time_ns as f64 / 1e9) {
        Some(n) => int(out, n),
        None => out.push_str("null"),
    }
}

/// `{"<pair id>":` opening a one-pair answer.
fn open_pair(pair: &Pair, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    out.push('{');
    string(&mut out, &pair.id);
    out.push(':');
    out
}

/// A Ticker side entry: price, whole-lot volume, lot volume (3 decimals).
fn top(out: &mut String, pair: &Pair, level: Option<(u64, i128)>) {
    let (p, v) = level.unwrap_or((0, 0));
    out.push('[');
    price(out, pair, p);
    out.push_str(",\"");
    int(out, v / 10i128.pow(pair.base_decimals));
    out.push_str("\",");
    book_volume(out, pair, v);
    out.push(']');
}

/// A pair's best ask and bid: (price ticks, volume units).
pub type Tops = (Option<(u64, i128)>, Option<(u64, i128)>);

/// One pair's Ticker entry (`"XXBTZUSD":{…}`, appended to the answer's object) from its market
/// data, its best ask and bid and its window figures (since 00:00 UTC and over the last 24 h).
pub fn ticker_row(out: &mut String, pair: &Pair, md: &MarketData, top_of_book: Tops, (today, day): (WindowStats, WindowStats), now: u64) {
    let (ask, bid) = top_of_book;
    let last_volume = md.trades.last().map(|t| t.volume).unwrap_or(0);
    let pairs = |out: &mut String, key: &str, f: &dyn Fn(&mut String, &WindowStats)| {
        out.push_str(key);
        out.push('[');
        f(out, &today);
        out.push(',');
        f(out, &day);
        out.push(']');
    };
    string(out, &pair.id);
    out.push_str(":{\"a\":");
    top(out, pair, ask);
    out.push_str(",\"b\":");
    top(out, pair, bid);
    out.push_str(",\"c\":[");
    price(out, pair, md.last_price);
    out.push(',');
    volume(out, pair, last_volume);
    out.push(']');
    pairs(out, ",\"v\":", &|o, w| volume(o, pair, w.volume));
    pairs(out, ",\"p\":", &|o, w| vwap(o, pair, w.value, w.volume, md.last_price));
    pairs(out, ",\"t\":", &|o, w| int(o, w.count));
    pairs(out, ",\"l\":", &|o, w| price(o, pair, w.low));
    pairs(out, ",\"h\":", &|o, w| price(o, pair, w.high));
    out.push_str(",\"o\":");
    price(out, pair, md.today_open(now));
    out.push('}');
}

/// Depth's answer from the top levels, best first: each level carries the time it last changed
/// (whole seconds), as Kraken's do.
pub fn depth(pair: &Pair, asks: &[(u64, i128, u64)], bids: &[(u64, i128, u64)]) -> String {
    let mut out = open_pair(pair, 64 + 40 * (asks.len() + bids.len()));
    for (key, levels) in [("{\"asks\":[", asks), ("],\"bids\":[", bids)] {
        out.push_str(key);
        for (i, &(p, v, t)) in levels.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            price(&mut out, pair, p);
            out.push(',');
            book_volume(&mut out, pair, v);
            out.push(',');
            int(&mut out, t / NS);
            out.push(']');
        }
    }
    out.push_str("]}}");
    out
}

/// Trades' answer: the rows and the `last` cursor (a string of nanoseconds).
pub fn trades(pair: &Pair, slice: &[PublicTrade], last: u64) -> String {
    let mut out = open_pair(pair, 64 + 80 * slice.len());
    out.push('[');
    for (i, t) in slice.iter().enumerate() {
        out.push_str(if i == 0 { "[" } else { ",[" });
        price(&mut out, pair, t.price);
        out.push(',');
        volume(&mut out, pair, t.volume);
        out.push(',');
        trade_time(&mut out, t.time_ns);
        out.push_str(if t.taker_side == Side::Buy { ",\"b\"" } else { ",\"s\"" });
        out.push_str(if t.taker_kind.is_market() { ",\"m\",\"\"," } else { ",\"l\",\"\"," });
        int(&mut out, t.trade_id);
        out.push(']');
    }
    out.push_str("],\"last\":\"");
    int(&mut out, last);
    out.push_str("\"}");
    out
}

/// Spread's answer: the entries after `since`, the last 200 of them.
pub fn spread(pair: &Pair, all: &std::collections::VecDeque<(u64, u64, u64)>, since: Option<u64>, now: u64) -> String {
    let rows: Vec<&(u64, u64, u64)> = all.iter().filter(|(t, _, _)| since.is_none_or(|s| *t > s)).collect();
    let rows = &rows[rows.len().saturating_sub(200)..];
    let mut out = open_pair(pair, 64 + 48 * rows.len());
    out.push('[');
    for (i, (t, b, a)) in rows.iter().enumerate() {
        out.push_str(if i == 0 { "[" } else { ",[" });
        int(&mut out, t);
        out.push(',');
        price(&mut out, pair, *b);
        out.push(',');
        price(&mut out, pair, *a);
        out.push(']');
    }
    out.push_str("],\"last\":");
    int(&mut out, rows.last().map(|r| r.0).or(since).unwrap_or(now / NS));
    out.push('}');
    out
}

/// OHLC's answer: `[time, open, high, low, close, vwap, volume, count]` rows and `last`, the
/// newest committed (closed) candle, to pass as `since` next time.
pub fn ohlc(pair: &Pair, candles: &[Candle], interval: usize, now: u64) -> String {
    let span = INTERVALS[interval] * 60;
    let mut out = open_pair(pair, 64 + 96 * candles.len());
    out.push('[');
    for (i, c) in candles.iter().enumerate() {
        let vwap = if c.volume > 0 { div_round_half_up(c.value, c.volume) as u64 } else { c.close };
        out.push_str(if i == 0 { "[" } else { ",[" });
        int(&mut out, c.time);
        for p in [c.open, c.high, c.low, c.close, vwap] {
            out.push(',');
            ohlc_price(&mut out, pair, p);
        }
        out.push(',');
        volume(&mut out, pair, c.volume);
        out.push(',');
        int(&mut out, c.count);
        out.push(']');
    }
    let live = now / NS / span * span;
    let last = candles.iter().rev().map(|c| c.time).find(|t| *t < live).unwrap_or(live.saturating_sub(span));
    out.push_str("],\"last\":");
    int(&mut out, last);
    out.push('}');
    out
}
