//! Kraken's WebSocket API v2 at `ws://HOST:PORT/v2` on the REST listener: the `status` message on
//! connect, `heartbeat`, `ping`/`pong`, the request/ack envelope and the public channels
//! (instrument, book, trade, ticker, ohlc), all served by the market-data [`publisher`] from
//! committed state only, the trading methods ([`trading`], REST's own handlers) and the private
//! channels executions and balances ([`private`], with the token store).

pub mod capture;
pub mod channels;
mod conn;
pub mod market_view;
pub mod private;
pub mod publisher;
pub mod trading;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// Largest request frame accepted (Kraken's requests are small).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// What every connection shares: the publisher, and the REST state (tokens, keys, sequencer) that
/// private channels and trading use.
#[derive(Clone)]
pub struct WsState {
    pub publisher: Arc<publisher::Publisher>,
    pub app: crate::api::Shared,
    pub private: Arc<private::Private>,
}

pub fn router(publisher: Arc<publisher::Publisher>, app: crate::api::Shared) -> Router {
    let private = private::Private::start(publisher.clone(), &app.sequencer);
    Router::new().route("/v2", get(upgrade)).with_state(WsState { publisher, app, private })
}

async fn upgrade(State(ws_state): State<WsState>, ws: WebSocketUpgrade) -> Response {
    let WsState { publisher, app, private } = ws_state;
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| conn::run(publisher, app, private, socket))
}
