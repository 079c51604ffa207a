//! Kraken's WebSocket API v2 at `ws://HOST:PORT/v2` on the REST listener: the `status` message on
//! connect, `heartbeat`, `ping`/`pong`, the request/ack envelope and the public channels
//! (instrument, book, trade, ticker, ohlc), all served by the market-data [`publisher`] from
//! committed state only, the trading methods ([`trading`], REST's own handlers) and the private
//! channels executions and balances ([`private`], with the token store) and level3 ([`level3`]).

pub mod capture;
pub mod channels;
mod conn;
pub mod day_window;
pub mod level3;
pub mod level3_book;
pub mod level3_capture;
pub mod limits;
pub mod market_view;
pub mod private;
pub mod publisher;
pub mod refusals;
pub mod trading;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// What every connection shares: the publisher, the REST state (tokens, keys, sequencer) that
/// private channels and trading use, and the WebSocket bounds.
#[derive(Clone)]
pub struct WsState {
    pub publisher: Arc<publisher::Publisher>,
    pub app: crate::api::Shared,
    pub private: Arc<private::Private>,
    pub bounds: Arc<limits::WsLimits>,
}

pub fn router(publisher: Arc<publisher::Publisher>, app: crate::api::Shared, bounds: Arc<limits::WsLimits>) -> Router {
    let private = private::Private::start(publisher.clone(), &app.sequencer, app.history.clone());
    Router::new().route("/v2", get(upgrade)).with_state(WsState { publisher, app, private, bounds })
}

async fn upgrade(
    State(ws_state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let WsState { publisher, app, private, bounds } = ws_state;
    // Counted before the upgrade: a connection over the address's cap or attempt rate never
    // becomes a socket.
    let session = match bounds.admit(bounds.client(peer, &headers), conn::now_ns() / 1000) {
        Ok(session) => session,
        Err(why) => return limits::refused(why),
    };
    let max = bounds.cfg.max_message_bytes;
    ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| conn::run(publisher, app, private, socket, session))
}
