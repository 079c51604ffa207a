//! Kraken's public market-data methods: Time, SystemStatus, Assets, AssetPairs, Ticker, Depth,
//! Trades, Spread and OHLC. Static data comes from the markets; live data from the market-data
//! publisher's committed REST view ([`crate::ws::market_view`]: never the engine's queue, never
//! undurable state). What the view does not keep (a Trades `since` older than its day of trades)
//! and anything asked before the view is ready is read on the engine thread, in order with the
//! commands before it, and rendered by the same functions.

use super::params::Params;
use super::views::{fixed, nanos_seconds, price_cd};
use super::{ApiResult, Shared};
use crate::engine::market_data::{MarketData, PublicTrade, INTERVALS, NS};
use crate::engine::markets::{Markets, Pair, PairIdx};
use crate::engine::order::Side;
use crate::engine::status::MarketStatus;
use crate::engine::Exchange;
use crate::error::KrakenError;
use crate::money::{div_round_half_up, format_units};
use crate::ws::market_view::MarketView;
use serde_json::{json, Map, Value};

/// Every public method served, in Kraken's names. The dispatch answers only these (anything else
/// is `EGeneral:Unknown method`), and tests/openapi.rs checks this list against the paths of
/// src/api/openapi.json and that each one is served.
pub const METHODS: &[&str] = &["Time", "SystemStatus", "Assets", "AssetPairs", "Ticker", "Depth", "Trades", "Spread", "OHLC"];

pub async fn dispatch(st: &Shared, method: &str, p: Params) -> ApiResult {
    if !METHODS.contains(&method) {
        return Err(KrakenError::UnknownMethod);
    }
    match method {
        "Time" => Ok(time()),
        "SystemStatus" => {
            let view = &st.sequencer.view;
            let status = if view.ready() && st.sequencer.serving() {
                view.states().system
            } else {
                st.sequencer.read(|ex| ex.market_status.system).await?
            };
            Ok(json!({ "status": status.as_str(), "timestamp": rfc3339(now_ns() / NS) }))
        }
        "Assets" => assets(&st.markets, &p),
        "AssetPairs" => {
            let view = &st.sequencer.view;
            let statuses = if view.ready() && st.sequencer.serving() {
                view.states().pairs
            } else {
                st.sequencer.read(|ex| ex.market_status.pairs.clone()).await?
            };
            asset_pairs(&st.markets, &p, &statuses)
        }
        _ => {
            let q = Query::parse(&st.markets, method, &p)?;
            let now = now_ns();
            let view = &st.sequencer.view;
            if view.ready() && st.sequencer.serving() {
                if let Some(answer) = from_view(&st.markets, view, &q, now) {
                    return Ok(answer);
                }
            }
            Ok(st.sequencer.read(move |ex| from_engine(ex, &q, now)).await?)
        }
    }
}

/// A live market-data read, parsed (in Kraken's order of checks): answered from the publisher's
/// view or, where the view cannot answer exactly, from the engine, by the same renderers.
#[derive(Clone, Debug)]
pub enum Query {
    Ticker(Vec<PairIdx>),
    Depth { pair: PairIdx, count: usize },
    Trades { pair: PairIdx, since: Option<u64>, count: usize },
    Spread { pair: PairIdx, since: Option<u64> },
    Ohlc { pair: PairIdx, interval: usize, since: u64 },
}

impl Query {
    pub fn parse(m: &Markets, method: &str, p: &Params) -> Result<Query, KrakenError> {
        Ok(match method {
            "Ticker" => Query::Ticker(pair_list(m, p)?),
            "Depth" => {
                let pair = one_pair(m, p)?;
                Query::Depth { pair, count: bounded(p, "count", 100, 1, 500)? }
            }
            "Trades" => {
                let pair = one_pair(m, p)?;
                let count = bounded(p, "count", 1000, 1, 1000)?;
                Query::Trades { pair, since: cursor_ns(p)?, count }
            }
            "Spread" => {
                let pair = one_pair(m, p)?;
                Query::Spread { pair, since: p.int::<u64>("since")? }
            }
            "OHLC" => {
                let pair = one_pair(m, p)?;
                let minutes = p.int::<u64>("interval")?.unwrap_or(1);
                let interval = INTERVALS.iter().position(|m| *m == minutes).ok_or_else(|| KrakenError::invalid("interval"))?;
                Query::Ohlc { pair, interval, since: p.int::<u64>("since")?.unwrap_or(0) }
            }
            _ => return Err(KrakenError::UnknownMethod),
        })
    }
}

/// The answer from the publisher's committed view at `now`; `None` where the view does not hold
/// what the answer needs (a `since` or a Ticker window older than its tape).
pub fn from_view(m: &Markets, view: &MarketView, q: &Query, now: u64) -> Option<Value> {
    Some(match q {
        Query::Ticker(pairs) => {
            let mut out = Map::new();
            for &idx in pairs {
                let v = view.pair(idx as usize);
                if !ticker_exact(&v, now) {
                    return None;
                }
                let (ask, bid) = (v.asks.first().map(|l| (l.0, l.1)), v.bids.first().map(|l| (l.0, l.1)));
                out.insert(m.pair(idx).id.clone(), ticker_row(m.pair(idx), &v.md, ask, bid, now));
            }
            Value::Object(out)
        }
        &Query::Depth { pair, count } => {
            let (asks, bids) = {
                let v = view.pair(pair as usize);
                (v.asks[..count.min(v.asks.len())].to_vec(), v.bids[..count.min(v.bids.len())].to_vec())
            };
            depth_rows(m.pair(pair), &asks, &bids)
        }
        &Query::Trades { pair, since, count } => {
            let (slice, last) = {
                let v = view.pair(pair as usize);
                if !since.is_none_or(|s| v.covers(s)) {
                    return None;
                }
                let (slice, last) = trades_slice(&v.md.trades, since, count);
                (slice.to_vec(), last)
            };
            trades_rows(m.pair(pair), &slice, last)
        }
        &Query::Spread { pair, since } => {
            let spreads = view.pair(pair as usize).md.spreads.clone();
            spread_rows(m.pair(pair), &spreads, since, now)
        }
        &Query::Ohlc { pair, interval, since } => {
            let candles = view.pair(pair as usize).md.ohlc(interval, since, now);
            ohlc_rows(m.pair(pair), &candles, interval, now)
        }
    })
}

/// The same answer read on the engine thread (the whole tape).
pub fn from_engine(ex: &Exchange, q: &Query, now: u64) -> Value {
    match q {
        Query::Ticker(pairs) => ticker(ex, pairs, now),
        &Query::Depth { pair, count } => {
            let book = &ex.books[pair as usize];
            depth_rows(ex.markets.pair(pair), &book.depth_stamped(Side::Sell, count), &book.depth_stamped(Side::Buy, count))
        }
        &Query::Trades { pair, since, count } => {
            let (slice, last) = trades_slice(&ex.market_data[pair as usize].trades, since, count);
            trades_rows(ex.markets.pair(pair), slice, last)
        }
        &Query::Spread { pair, since } => spread_rows(ex.markets.pair(pair), &ex.market_data[pair as usize].spreads, since, now),
        &Query::Ohlc { pair, interval, since } => {
            ohlc_rows(ex.markets.pair(pair), &ex.market_data[pair as usize].ohlc(interval, since, now), interval, now)
        }
    }
}

pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

fn time() -> Value {
    let now = std::time::SystemTime::now();
    let secs = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    // Kraken: "Thu, 06 Jul 23 18:50:48 +0000" (two-digit year).
    let http = httpdate::fmt_http_date(now); // "Thu, 06 Jul 2023 18:50:48 GMT"
    let parts: Vec<&str> = http.split(' ').collect();
    let rfc1123 =
        if parts.len() == 6 { format!("{} {} {} {} {} +0000", parts[0], parts[1], parts[2], &parts[3][2..], parts[4]) } else { http };
    json!({ "unixtime": secs, "rfc1123": rfc1123 })
}

/// `2023-07-06T18:52:00Z` from unix seconds (civil-from-days, proleptic Gregorian).
pub fn rfc3339(secs: u64) -> String {
    let rem = secs % 86_400;
    let (y, m, d) = crate::calendar::civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn bounded(p: &Params, name: &str, default: usize, min: usize, max: usize) -> Result<usize, KrakenError> {
    match p.int::<usize>(name)? {
        None => Ok(default),
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(KrakenError::invalid(name)),
    }
}

fn one_pair(m: &Markets, p: &Params) -> Result<PairIdx, KrakenError> {
    m.pair_by_name(p.required("pair")?).ok_or(KrakenError::UnknownAssetPair)
}

/// The `pair` list (all pairs when absent), in the order asked.
fn pair_list(m: &Markets, p: &Params) -> Result<Vec<PairIdx>, KrakenError> {
    let names = p.list("pair", 200)?;
    if names.is_empty() {
        return Ok((0..m.pairs.len() as PairIdx).collect());
    }
    names.iter().map(|n| m.pair_by_name(n).ok_or(KrakenError::UnknownAssetPair)).collect()
}

fn assets(m: &Markets, p: &Params) -> ApiResult {
    let names = p.list("asset", 200)?;
    let list: Vec<u16> = if names.is_empty() {
        (0..m.assets.len() as u16).collect()
    } else {
        names.iter().map(|n| m.asset_by_name(n).ok_or(KrakenError::UnknownAsset)).collect::<Result<_, _>>()?
    };
    let mut out = Map::new();
    for a in list {
        let asset = m.asset(a);
        let mut v = json!({
            "aclass": "currency",
            "altname": asset.altname,
            "decimals": asset.decimals,
            "display_decimals": asset.display_decimals,
        });
        if let Some(c) = &asset.collateral_value {
            // A JSON number as Kraken prints it (`1.0`); checked as a 4-decimal figure at start-up.
            let n: f64 = c.parse().unwrap_or(0.0);
            v["collateral_value"] = serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null);
        }
        v["status"] = json!("enabled");
        out.insert(asset.id.clone(), v);
    }
    Ok(Value::Object(out))
}

fn fee_rows(schedule: &[crate::engine::markets::FeeTier]) -> Value {
    let rows: Vec<Value> = schedule
        .iter()
        .map(|t| {
            let pct: f64 = format_units(t.ppm, 4).parse().unwrap_or(0.0);
            json!([t.volume, pct])
        })
        .collect();
    Value::Array(rows)
}

fn asset_pairs(m: &Markets, p: &Params, statuses: &[MarketStatus]) -> ApiResult {
    let pairs = pair_list(m, p)?;
    let info = p.text("info").unwrap_or("info");
    if !["info", "leverage", "fees", "margin"].contains(&info) {
        return Err(KrakenError::invalid("info"));
    }
    // A pair asked by a v2/ws name (`BTC/USD`) is answered under that name, as Kraken does
    // (python-kraken-sdk's order book reads `result["BTC/USD"]`); other names under the pair id.
    let asked = p.list("pair", 200)?;
    let mut out = Map::new();
    for (i, idx) in pairs.into_iter().enumerate() {
        let pair = m.pair(idx);
        let key = asked.get(i).filter(|n| n.contains('/')).map(|n| n.to_string()).unwrap_or_else(|| pair.id.clone());
        let fees = json!({
            "fees": fee_rows(&m.taker_fees),
            "fees_maker": fee_rows(&m.maker_fees),
            "fee_volume_currency": m.asset(m.fee_volume_asset).id,
        });
        let v = match info {
            "leverage" => json!({ "leverage_buy": [], "leverage_sell": [] }),
            "fees" => fees,
            "margin" => json!({ "margin_call": 80, "margin_stop": 40 }),
            _ => json!({
                "altname": pair.altname,
                "wsname": pair.wsname,
                "aclass_base": "currency",
                "base": m.asset(pair.base).id,
                "aclass_quote": "currency",
                "quote": m.asset(pair.quote).id,
                "lot": "unit",
                "cost_decimals": pair.cost_decimals,
                "pair_decimals": pair.pair_decimals,
                "lot_decimals": pair.lot_decimals,
                "lot_multiplier": 1,
                "leverage_buy": [],
                "leverage_sell": [],
                "fees": fees["fees"],
                "fees_maker": fees["fees_maker"],
                "fee_volume_currency": fees["fee_volume_currency"],
                "margin_call": 80,
                "margin_stop": 40,
                "ordermin": pair.ordermin_text,
                "costmin": pair.costmin_text,
                "tick_size": pair.tick_text,
                "status": statuses.get(idx as usize).copied().unwrap_or(MarketStatus::Online).as_str(),
                "execution_venue": "international",
                "long_position_limit": 0,
                "short_position_limit": 0,
            }),
        };
        out.insert(key, v);
    }
    Ok(Value::Object(out))
}

/// Public prices (Ticker, Depth, Trades, Spread) at the pair's `cost_decimals`, as Kraken prints
/// them (`"30300.10000"` for XBTUSD, `"0.070960700"` for XDGUSD); OHLC keeps `pair_decimals`.
fn price(pair: &Pair, ticks: u64) -> String {
    price_cd(pair, ticks)
}

fn ohlc_price(pair: &Pair, ticks: u64) -> String {
    format_units(ticks as i128, pair.pair_decimals)
}

fn volume(pair: &Pair, units: i128) -> String {
    super::views::volume(pair, units)
}

/// A book volume as Ticker's lot volume and Depth print it: three decimals (`"2.059"`).
fn book_volume(pair: &Pair, units: i128) -> String {
    fixed(units, pair.base_decimals, 3)
}

/// A volume-weighted average price, `value` being price ticks × base units, at `cost_decimals`.
fn vwap(pair: &Pair, value: i128, volume: i128, otherwise: u64) -> String {
    if volume <= 0 {
        return price(pair, otherwise);
    }
    let scale = 10i128.pow(pair.cost_decimals - pair.pair_decimals);
    format_units(div_round_half_up(value * scale, volume), pair.cost_decimals)
}

/// A Ticker side entry: price, whole-lot volume, lot volume (3 decimals).
fn top(pair: &Pair, level: Option<(u64, i128)>) -> Value {
    let (p, v) = level.unwrap_or((0, 0));
    let scale = 10i128.pow(pair.base_decimals);
    json!([price(pair, p), (v / scale).to_string(), book_volume(pair, v)])
}

/// Whether the view's tape answers a Ticker at `now` exactly as the engine's whole tape would:
/// every trade of the last 24 h, and today's open (the daily candle, else the last trade before
/// 00:00 UTC, which is the newest omitted one when the tape holds none before midnight).
fn ticker_exact(v: &crate::ws::market_view::PairView, now: u64) -> bool {
    let day = crate::engine::market_data::DAY_NS;
    let midnight = now / day * day;
    let open_known = v.md.candles[6].back().is_some_and(|c| c.time == midnight / NS)
        || v.omitted_until.is_none()
        || v.md.trades.first().is_some_and(|t| t.time_ns < midnight);
    v.covers(now.saturating_sub(day).saturating_sub(1)) && open_known
}

fn ticker(ex: &Exchange, pairs: &[PairIdx], now: u64) -> Value {
    let mut out = Map::new();
    for &idx in pairs {
        let pair = ex.markets.pair(idx);
        let book = &ex.books[idx as usize];
        let (ask, bid) = (book.depth(Side::Sell, 1).first().copied(), book.depth(Side::Buy, 1).first().copied());
        out.insert(pair.id.clone(), ticker_row(pair, &ex.market_data[idx as usize], ask, bid, now));
    }
    Value::Object(out)
}

/// One pair's Ticker entry from its market data and its best ask and bid.
fn ticker_row(pair: &Pair, md: &MarketData, ask: Option<(u64, i128)>, bid: Option<(u64, i128)>, now: u64) -> Value {
    let midnight = now / crate::engine::market_data::DAY_NS * crate::engine::market_data::DAY_NS;
    let today = md.window(midnight);
    let day = md.window(now.saturating_sub(crate::engine::market_data::DAY_NS));
    let vwap = |w: &crate::engine::market_data::WindowStats| vwap(pair, w.value, w.volume, md.last_price);
    let last_volume = md.trades.last().map(|t| t.volume).unwrap_or(0);
    json!({
        "a": top(pair, ask),
        "b": top(pair, bid),
        "c": [price(pair, md.last_price), volume(pair, last_volume)],
        "v": [volume(pair, today.volume), volume(pair, day.volume)],
        "p": [vwap(&today), vwap(&day)],
        "t": [today.count, day.count],
        "l": [price(pair, today.low), price(pair, day.low)],
        "h": [price(pair, today.high), price(pair, day.high)],
        "o": price(pair, md.today_open(now)),
    })
}

/// Depth's answer from the top levels, best first: each level carries the time it last changed
/// (whole seconds), as Kraken's do.
fn depth_rows(pair: &Pair, asks: &[(u64, i128, u64)], bids: &[(u64, i128, u64)]) -> Value {
    let rows = |levels: &[(u64, i128, u64)]| -> Vec<Value> {
        levels.iter().map(|&(p, v, t)| json!([price(pair, p), book_volume(pair, v), t / NS])).collect()
    };
    json!({ pair.id.clone(): { "asks": rows(asks), "bids": rows(bids) } })
}

/// `since` for Trades: a nanosecond cursor (Kraken's `last`) or, if short, unix seconds.
fn cursor_ns(p: &Params) -> Result<Option<u64>, KrakenError> {
    let Some(text) = p.text("since") else { return Ok(None) };
    let (int, _) = text.split_once('.').unwrap_or((text, ""));
    let n: u64 = int.parse().map_err(|_| KrakenError::invalid("since"))?;
    Ok(Some(if int.len() > 12 { n } else { n.saturating_mul(NS) }))
}

/// The trades a Trades call answers (after `since`, the first `count`; else the last `count`)
/// and its `last` cursor.
fn trades_slice(all: &[PublicTrade], since: Option<u64>, count: usize) -> (&[PublicTrade], u64) {
    let slice = match since {
        Some(s) => {
            let start = all.partition_point(|t| t.time_ns <= s);
            &all[start..(start + count).min(all.len())]
        }
        None => &all[all.len().saturating_sub(count)..],
    };
    let last = slice.last().map(|t| t.time_ns).or(since).unwrap_or_else(|| all.last().map(|t| t.time_ns).unwrap_or(0));
    (slice, last)
}

fn trades_rows(pair: &Pair, slice: &[PublicTrade], last: u64) -> Value {
    let rows: Vec<Value> = slice
        .iter()
        .map(|t| {
            let side = if t.taker_side == Side::Buy { "b" } else { "s" };
            let kind = if t.taker_kind.is_market() { "m" } else { "l" };
            json!([price(pair, t.price), volume(pair, t.volume), nanos_seconds(t.time_ns), side, kind, "", t.trade_id])
        })
        .collect();
    json!({ pair.id.clone(): rows, "last": last.to_string() })
}

/// Spread's answer: the entries after `since`, the last 200 of them.
fn spread_rows(pair: &Pair, all: &std::collections::VecDeque<(u64, u64, u64)>, since: Option<u64>, now: u64) -> Value {
    let rows: Vec<&(u64, u64, u64)> = all.iter().filter(|(t, _, _)| since.is_none_or(|s| *t > s)).collect();
    let rows = &rows[rows.len().saturating_sub(200)..];
    let out: Vec<Value> = rows.iter().map(|(t, b, a)| json!([t, price(pair, *b), price(pair, *a)])).collect();
    let last = rows.last().map(|r| r.0).or(since).unwrap_or(now / NS);
    json!({ pair.id.clone(): out, "last": last })
}

fn ohlc_rows(pair: &Pair, candles: &[crate::engine::market_data::Candle], interval: usize, now: u64) -> Value {
    let span = INTERVALS[interval] * 60;
    let rows: Vec<Value> = candles
        .iter()
        .map(|c| {
            let vwap = if c.volume > 0 { div_round_half_up(c.value, c.volume) as u64 } else { c.close };
            json!([
                c.time,
                ohlc_price(pair, c.open),
                ohlc_price(pair, c.high),
                ohlc_price(pair, c.low),
                ohlc_price(pair, c.close),
                ohlc_price(pair, vwap),
                volume(pair, c.volume),
                c.count
            ])
        })
        .collect();
    // `last`: the newest committed (closed) candle, to pass as `since` next time.
    let live = now / NS / span * span;
    let last = candles.iter().rev().map(|c| c.time).find(|t| *t < live).unwrap_or(live.saturating_sub(span));
    json!({ pair.id.clone(): rows, "last": last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_kraken() {
        assert_eq!(rfc3339(1_688_669_520), "2023-07-06T18:52:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let t = time();
        let s = t["rfc1123"].as_str().unwrap();
        assert!(s.ends_with("+0000") && s.len() == "Thu, 06 Jul 23 18:50:48 +0000".len(), "{s}");
    }
}
