//! The operator sets market states (`calamari market status`): the whole market's, which
//! SystemStatus reports, or one pair's, which AssetPairs reports. Each change is one logged
//! engine command (`SetMarketStatus`), durable before it is answered and kept across restarts.

use super::{bad, reply, Shared};
use crate::engine::status::MarketStatus;
use crate::engine::Command;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

pub fn router() -> Router<Shared> {
    Router::new().route("/admin/market/status", get(show).post(set))
}

/// Every state: the system's and each pair's (by altname).
async fn show(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap) -> Response {
    crate::admin_guard!(s, peer, h);
    let markets = s.state.markets.clone();
    let states = s.state.sequencer.read(|ex| ex.market_status.clone()).await;
    match states {
        Ok(st) => {
            let pairs: Map<String, Value> =
                markets.pairs.iter().zip(&st.pairs).map(|(p, status)| (p.altname.clone(), json!(status.as_str()))).collect();
            reply(StatusCode::OK, json!({ "system": st.system.as_str(), "pairs": pairs }))
        }
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct SetReq {
    /// A pair (altname or id); absent for the whole market.
    pair: Option<String>,
    status: String,
}

async fn set(State(s): State<Shared>, ConnectInfo(peer): ConnectInfo<SocketAddr>, h: HeaderMap, Json(b): Json<SetReq>) -> Response {
    crate::admin_guard!(s, peer, h);
    let names = |system: bool| {
        MarketStatus::ALL.iter().filter(|m| !system || m.is_system_state()).map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
    };
    let Some(status) = MarketStatus::parse(b.status.trim()) else {
        return bad(format!("unknown state {:?}: one of {}", b.status, names(b.pair.is_none())));
    };
    let pair = match &b.pair {
        None if !status.is_system_state() => {
            return bad(format!("the whole market can be {}, not {}", names(true), status.as_str()));
        }
        None => None,
        Some(name) => match s.state.markets.pair_by_name(name) {
            Some(p) => Some(p),
            None => return bad(format!("no pair {name:?}")),
        },
    };
    match s.state.sequencer.execute(None, Command::SetMarketStatus { pair, status }, |_, _| ()).await {
        Ok(()) => {
            reply(StatusCode::OK, json!({ "pair": pair.map(|p| s.state.markets.pair(p).altname.clone()), "status": status.as_str() }))
        }
        Err(e) => bad(e),
    }
}
