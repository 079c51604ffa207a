//! The operator's handle on the simulated market: `calamari market show|on|off|replay|export` and
//! `calamari import`. Imports carry whole CSV files, so these routes have their own body limit.

use super::{bad, reply, Shared};
use crate::api::views;
use crate::engine::history::ImportRows;
use crate::engine::market_data::{INTERVALS, NS};
use crate::engine::order::Side;
use crate::engine::Command;
use crate::market::sim::{Replay, MAKER, TAKER};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// Largest imported file.
const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/admin/market", get(show))
        .route("/admin/market/switch", post(switch))
        .route("/admin/market/replay", post(replay))
        .route("/admin/market/export", get(export))
        .route("/admin/market/import", post(import))
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES))
}

#[derive(Deserialize)]
struct PairQuery {
    pair: String,
}

#[allow(clippy::result_large_err)] // the refusal is the handler's whole answer, built once
fn pair_idx(s: &Shared, name: &str) -> Result<u16, Response> {
    s.state.markets.pair_by_name(name).ok_or_else(|| bad(format!("no pair {name:?}")))
}

async fn show(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Query(q): Query<PairQuery>) -> Response {
    crate::admin_guard!(s, peer, h);
    let idx = match pair_idx(&s, &q.pair) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let sim = {
        let sim = s.market.sim();
        let st = &sim.pairs[idx as usize];
        json!({
            "enabled": s.market.enabled(),
            "seed": sim.seed,
            "step": sim.steps(),
            "pair_step": st.step,
            "step_ms": sim.step_ms,
            "speed": s.market.speed,
            "walked_index_units": (st.index_fp / crate::engine::walk::FP).to_string(),
            "last_requote_step": st.quoted_step,
            "replay": st.replay,
            "params": sim.params[idx as usize],
            "totals": sim.totals,
        })
    };
    let view = s
        .state
        .sequencer
        .read(move |ex| {
            let pair = ex.markets.pair(idx);
            let book = &ex.books[idx as usize];
            let side = |sd| {
                book.depth(sd, 10).into_iter().map(|(p, v)| json!([views::price(pair, p), views::volume(pair, v)])).collect::<Vec<_>>()
            };
            let md = &ex.market_data[idx as usize];
            let trades: Vec<Value> = md.trades[md.trades.len().saturating_sub(10)..]
                .iter()
                .map(|t| json!([views::price(pair, t.price), views::volume(pair, t.volume), t.time_ns / NS, t.taker_side.as_str()]))
                .collect();
            let balances = |name: &str| {
                ex.account_by_name(name).map(|id| {
                    let a = &ex.accounts[id as usize];
                    json!({
                        "base": crate::money::format_units(a.funds[pair.base as usize].balance, pair.base_decimals),
                        "quote": crate::money::format_units(a.funds[pair.quote as usize].balance, pair.quote_decimals),
                        "open_orders": ex.open_orders_in_pair(id, idx),
                    })
                })
            };
            json!({
                "pair": pair.altname,
                "index": views::price(pair, ex.index[idx as usize]),
                "last": views::price(pair, md.last_price),
                "asks": side(Side::Sell),
                "bids": side(Side::Buy),
                "trades": trades,
                "history_trades": md.history_len,
                "tape_trades": md.trades.len(),
                "tape_dropped": md.dropped,
                "maker": balances(MAKER),
                "taker": balances(TAKER),
            })
        })
        .await;
    match view {
        Ok(mut v) => {
            v["simulator"] = sim;
            reply(StatusCode::OK, v)
        }
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct Switch {
    enabled: bool,
}

async fn switch(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<Switch>) -> Response {
    crate::admin_guard!(s, peer, h);
    s.market.set_enabled(b.enabled);
    reply(StatusCode::OK, json!({ "enabled": b.enabled }))
}

#[derive(Deserialize)]
struct ReplayReq {
    pair: String,
    /// Times real speed; 0 stops the replay (back to the random walk).
    speed: u64,
}

/// Drives a pair's reference price from its imported (or generated) history: its trades, or
/// else the closes of its finest candles.
async fn replay(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<ReplayReq>) -> Response {
    crate::admin_guard!(s, peer, h);
    let idx = match pair_idx(&s, &b.pair) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let series = s
        .state
        .sequencer
        .read(move |ex| {
            let md = &ex.market_data[idx as usize];
            // The history's trades while the tape holds them all (live trades push them out
            // after a day: `engine::market_data`), else its candles.
            if md.history_len > 1 && md.dropped == 0 {
                return md.history_held().iter().map(|t| (t.time_ns, t.price)).collect::<Vec<_>>();
            }
            md.candles.iter().find(|c| c.len() > 1).map(|c| c.iter().map(|c| (c.time * NS, c.close)).collect()).unwrap_or_default()
        })
        .await;
    let series = match series {
        Ok(v) if v.len() > 1 || b.speed == 0 => v,
        Ok(_) => return bad(format!("{} has no history to replay: `calamari import {} FILE` first", b.pair, b.pair)),
        Err(e) => return bad(e),
    };
    let mut sim = s.market.sim();
    let st = &mut sim.pairs[idx as usize];
    let from_step = st.step;
    st.replay = (b.speed > 0).then_some(Replay { points: series.len(), series, from_step, speed: b.speed });
    reply(StatusCode::OK, json!({ "pair": b.pair, "speed": b.speed, "points": st.replay.as_ref().map_or(0, |r| r.points) }))
}

#[derive(Deserialize)]
struct ExportQuery {
    pair: String,
    /// `trades`, or an OHLC interval in minutes.
    kind: String,
}

/// The pair's public trades (those the engine's tape holds: the last 25 h and at least 1000)
/// or one interval's candles as Kraken's CSV files have them.
async fn export(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    h: HeaderMap,
    Query(q): Query<ExportQuery>,
) -> Response {
    crate::admin_guard!(s, peer, h);
    let idx = match pair_idx(&s, &q.pair) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let interval = match q.kind.as_str() {
        "trades" => None,
        m => match INTERVALS.iter().position(|i| m.parse::<u64>().ok() == Some(*i)) {
            Some(i) => Some(i),
            None => return bad("kind is `trades` or an OHLC interval in minutes (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)"),
        },
    };
    let text = s
        .state
        .sequencer
        .read(move |ex| {
            let md = &ex.market_data[idx as usize];
            let rows = match interval {
                None => ImportRows::Trades(md.trades.iter().map(|t| (t.time_ns, t.price, t.volume)).collect()),
                Some(i) => ImportRows::Candles {
                    interval: INTERVALS[i] as u32,
                    rows: md.candles[i].iter().map(|c| (c.time, c.open, c.high, c.low, c.close, c.volume, c.count)).collect(),
                },
            };
            crate::market::csv::format(ex.markets.pair(idx), &rows)
        })
        .await;
    match text {
        Ok(t) => reply(StatusCode::OK, json!({ "csv": t })),
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct ImportReq {
    pair: String,
    /// The file's name (its `_60` suffix names an OHLCVT file's interval).
    name: String,
    text: String,
    interval: Option<u32>,
}

async fn import(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<ImportReq>) -> Response {
    crate::admin_guard!(s, peer, h);
    let idx = match pair_idx(&s, &b.pair) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let rows = match crate::market::csv::parse(s.state.markets.pair(idx), &b.text, &b.name, b.interval) {
        Ok(r) => r,
        Err(e) => return bad(format!("{}: {e}", b.name)),
    };
    let (kind, n) = match &rows {
        ImportRows::Trades(t) => ("trades".to_string(), t.len()),
        ImportRows::Candles { interval, rows } => (format!("{interval}-minute candles"), rows.len()),
    };
    let live = s.state.sequencer.read(move |ex| ex.market_data[idx as usize].has_live_trades()).await.unwrap_or(true);
    if live {
        return bad(format!(
            "{} has traded since its history began; import into an exchange where it has not \
             (`calamari serve --market off` on a fresh data directory, or `calamari reset` with the market off)",
            b.pair
        ));
    }
    match s.state.sequencer.execute(None, Command::Import { pair: idx, rows }, |_, _| ()).await {
        Ok(()) => reply(StatusCode::OK, json!({ "pair": b.pair, "imported": n, "kind": kind })),
        Err(e) => bad(format!("the rows were refused: {e}")),
    }
}
