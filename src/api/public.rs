//! Kraken's public market-data methods: Time, SystemStatus, Assets, AssetPairs, Ticker, Depth,
//! Trades, Spread and OHLC. Static data comes from the markets; live data from the market-data
//! publisher's committed REST view ([`crate::ws::market_view`]: never the engine's queue, never
//! undurable state). What the view does not keep (a Trades `since` older than its day of trades)
//! and anything asked before the view is ready is read on the engine thread, in order with the
//! commands before it, and rendered by the same functions. A Trades `since` older than the
//! engine's bounded tape too (`engine::market_data`) is read from history.db's trades table and
//! the tape together ([`trades_from_store`]).

use super::params::Params;
use super::public_json as json;
use super::{ApiResult, Shared};
use crate::engine::market_data::{PublicTrade, DAY_NS, INTERVALS, NS};
use crate::engine::markets::{Markets, PairIdx};
use crate::engine::order::Side;
use crate::engine::status::MarketStatus;
use crate::engine::Exchange;
use crate::error::KrakenError;
use crate::money::format_units;
use crate::ws::market_view::{MarketView, PairView, Shape};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Every public method served, in Kraken's names. The dispatch answers only these (anything else
/// is `EGeneral:Unknown method`), and tests/openapi.rs checks this list against the paths of
/// src/api/openapi.json and that each one is served.
pub const METHODS: &[&str] = &["Time", "SystemStatus", "Assets", "AssetPairs", "Ticker", "Depth", "Trades", "Spread", "OHLC"];

/// A public method's answer: its `result` as JSON text (the live reads' shared with the view's
/// cache, so an unchanged answer is not rendered again), or the Kraken error.
pub type TextResult = Result<Arc<str>, KrakenError>;

pub async fn dispatch(st: &Shared, method: &str, p: Params) -> TextResult {
    if !METHODS.contains(&method) {
        return Err(KrakenError::UnknownMethod);
    }
    let text = |v: Value| -> Arc<str> { v.to_string().into() };
    match method {
        "Time" => Ok(text(time())),
        "SystemStatus" => {
            let view = &st.sequencer.view;
            let status = if view.ready() && st.sequencer.serving() {
                view.states().system
            } else {
                st.sequencer.read(|ex| ex.market_status.system).await?
            };
            Ok(text(json!({ "status": status.as_str(), "timestamp": rfc3339(now_ns() / NS) })))
        }
        "Assets" => assets(&st.markets, &p).map(text),
        "AssetPairs" => {
            let view = &st.sequencer.view;
            let statuses = if view.ready() && st.sequencer.serving() {
                view.states().pairs
            } else {
                st.sequencer.read(|ex| ex.market_status.pairs.clone()).await?
            };
            asset_pairs(&st.markets, &p, &statuses).map(text)
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
            if let Query::Trades { pair, since: Some(since), count } = q {
                return match st.sequencer.read(move |ex| trades_from_tape(ex, pair, since, count)).await? {
                    Ok(text) => Ok(text.into()),
                    Err(tail) => trades_from_store(st, pair, since, count, tail).await,
                };
            }
            Ok(st.sequencer.read(move |ex| from_engine(ex, &q, now)).await?.into())
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
/// what the answer needs (a `since` or a Ticker window older than its tape). Answers that depend
/// on the pair's state only (and on `now` only through the second or the candle period) are kept
/// in the pair's cache until the next capture of that pair.
pub fn from_view(m: &Markets, view: &MarketView, q: &Query, now: u64) -> Option<Arc<str>> {
    match q {
        Query::Ticker(pairs) => ticker_object(pairs, |out, idx| {
            let v = view.pair(idx as usize);
            if !ticker_exact(&v, now) {
                return false;
            }
            let (ask, bid) = (v.asks.first().map(|l| (l.0, l.1)), v.bids.first().map(|l| (l.0, l.1)));
            json::ticker_row(out, m.pair(idx), &v.md, (ask, bid), v.ticker_windows(now), now);
            true
        })
        .map(Arc::from),
        &Query::Depth { pair, count } => {
            let v = view.pair(pair as usize);
            Some(v.cached(Shape::Depth { count }, |v| {
                json::depth(m.pair(pair), &v.asks[..count.min(v.asks.len())], &v.bids[..count.min(v.bids.len())])
            }))
        }
        &Query::Trades { pair, since, count } => {
            let v = view.pair(pair as usize);
            if !since.is_none_or(|s| v.covers(s)) {
                return None;
            }
            let render = |v: &PairView| {
                let (slice, last) = trades_slice(&v.md.trades, since, count);
                json::trades(m.pair(pair), slice, last)
            };
            // A `since` is each client's own cursor: rendered, not kept.
            Some(if since.is_none() { v.cached(Shape::Trades { count }, render) } else { render(&v).into() })
        }
        &Query::Spread { pair, since } => {
            let v = view.pair(pair as usize);
            Some(v.cached(Shape::Spread { since, second: now / NS }, |v| json::spread(m.pair(pair), &v.md.spreads, since, now)))
        }
        &Query::Ohlc { pair, interval, since } => {
            let span = INTERVALS[interval] * 60;
            let v = view.pair(pair as usize);
            Some(v.cached(Shape::Ohlc { interval, since, period: now / NS / span }, |v| {
                json::ohlc(m.pair(pair), &v.md.ohlc(interval, since, now), interval, now)
            }))
        }
    }
}

/// What the engine's tape holds of a Trades `since` it does not cover: the rest is read from
/// history.db's trades table, which holds every live trade (the generated or imported history's
/// trades were never there: a `since` inside a dropped history starts at the first trade kept).
#[derive(Debug)]
pub struct TapeTail {
    /// The newest dropped trade's time: the table is read up to it...
    dropped_until: u64,
    /// ...below the tape's first trade id...
    first_id: u64,
    /// ...and followed by the tape's first `count` trades (all of them after `since`).
    held: Vec<PublicTrade>,
}

/// Trades after `since` on the engine thread: the answer when the tape holds every trade after
/// it, else what the tape holds for [`trades_from_store`].
pub fn trades_from_tape(ex: &Exchange, pair: PairIdx, since: u64, count: usize) -> Result<String, TapeTail> {
    let md = &ex.market_data[pair as usize];
    match md.dropped_until {
        Some(until) if until > since => Err(TapeTail {
            dropped_until: until,
            first_id: md.trades.first().map_or(u64::MAX, |t| t.trade_id),
            held: md.trades[..count.min(md.trades.len())].to_vec(),
        }),
        _ => {
            let (slice, last) = trades_slice(&md.trades, Some(since), count);
            Ok(json::trades(ex.markets.pair(pair), slice, last))
        }
    }
}

/// A Trades `since` older than the engine's tape: the dropped trades after it from history.db
/// (after the engine read's reply, so everything it dropped is acknowledged, and the read waits
/// for the rows of everything acknowledged), then the tape's: the sequence and `last` the whole
/// tape would give, so paging with `since=last` crosses into the tape without a gap or a repeat.
async fn trades_from_store(st: &Shared, pair: PairIdx, since: u64, count: usize, tail: TapeTail) -> TextResult {
    let TapeTail { dropped_until, first_id, held } = tail;
    let mut rows = super::private::history::from_store(st, move |h| h.public_trades(pair, since, dropped_until, first_id, count)).await?;
    let more = count - rows.len().min(count);
    rows.extend(held.into_iter().take(more));
    let last = rows.last().map_or(since, |t| t.time_ns);
    Ok(json::trades(st.markets.pair(pair), &rows, last).into())
}

/// The same answer read on the engine thread (its tape; a Trades `since` the tape does not cover
/// goes through [`trades_from_tape`] instead).
pub fn from_engine(ex: &Exchange, q: &Query, now: u64) -> String {
    match q {
        Query::Ticker(pairs) => ticker_object(pairs, |out, idx| {
            let book = &ex.books[idx as usize];
            let (ask, bid) = (book.depth(Side::Sell, 1).first().copied(), book.depth(Side::Buy, 1).first().copied());
            let md = &ex.market_data[idx as usize];
            let windows = (md.window(now / DAY_NS * DAY_NS), md.window(now.saturating_sub(DAY_NS)));
            json::ticker_row(out, ex.markets.pair(idx), md, (ask, bid), windows, now);
            true
        })
        .unwrap_or_default(),
        &Query::Depth { pair, count } => {
            let book = &ex.books[pair as usize];
            json::depth(ex.markets.pair(pair), &book.depth_stamped(Side::Sell, count), &book.depth_stamped(Side::Buy, count))
        }
        &Query::Trades { pair, since, count } => {
            let (slice, last) = trades_slice(&ex.market_data[pair as usize].trades, since, count);
            json::trades(ex.markets.pair(pair), slice, last)
        }
        &Query::Spread { pair, since } => json::spread(ex.markets.pair(pair), &ex.market_data[pair as usize].spreads, since, now),
        &Query::Ohlc { pair, interval, since } => {
            json::ohlc(ex.markets.pair(pair), &ex.market_data[pair as usize].ohlc(interval, since, now), interval, now)
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

/// Ticker's answer: one entry per pair asked, in the order asked (a pair named twice, under two
/// names, once: the object's key is its id), each written by `row`; `None` if `row` cannot.
fn ticker_object(pairs: &[PairIdx], mut row: impl FnMut(&mut String, PairIdx) -> bool) -> Option<String> {
    let mut out = String::with_capacity(16 + 400 * pairs.len());
    out.push('{');
    for (i, &idx) in pairs.iter().enumerate() {
        if pairs[..i].contains(&idx) {
            continue;
        }
        if out.len() > 1 {
            out.push(',');
        }
        if !row(&mut out, idx) {
            return None;
        }
    }
    out.push('}');
    Some(out)
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
