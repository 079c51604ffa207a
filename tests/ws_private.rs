//! WebSocket v2 private surface through the real server: `GetWebSocketsToken` over signed REST
//! (permission, shape, restart), then the private channels with a real WebSocket client.

mod common;

use common::{err, ok, Server};
use serde_json::Value;

#[test]
fn get_websockets_token_needs_the_websockets_permission_and_answers_krakens_shape() {
    let s = Server::start();
    let k = s.account("alice", "1000", "0", "Access WebSockets API");
    let a = ok(&s.private(&k, "GetWebSocketsToken", &[])).clone();
    let obj = a.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["token", "expires"], "{a}");
    assert_eq!(a["expires"], Value::from(900));
    let t1 = a["token"].as_str().unwrap().to_string();
    assert!(t1.len() >= 43 && t1.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/'), "{t1}");
    let t2 = ok(&s.private(&k, "GetWebSocketsToken", &[]))["token"].as_str().unwrap().to_string();
    assert_ne!(t1, t2, "a new token each call");
    let other = s.key("alice", "reader", "Query Funds,Query Open Orders & Trades");
    assert_eq!(err(&s.private(&other, "GetWebSocketsToken", &[])), "EGeneral:Permission denied");
    s.assert_no_panics();
}
