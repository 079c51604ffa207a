//! Kraken's private WebSocket v2 surface: the token store shared with REST
//! `GetWebSocketsToken` and the private channels (executions, balances, level3).

pub mod token;
