//! Orders on XBTUSD through the real server, for the scenario tests of triggered orders
//! (order_triggers.rs, order_triggers_later.rs): a quiet server with three funded accounts, place,
//! read back, the XBT hold, the audit digest, a trade between two other accounts, and the
//! restart that must replay everything to the same digest.

use super::{ok, Key, Server};
use serde_json::Value;

pub const PAIR: &str = "XBTUSD";

/// A server without call restrictions (`env` added to its environment) and the accounts alice,
/// bob and carol with the given (USD, XBT) each, every one with a key with every permission.
pub fn three_accounts(env: &[(&str, &str)], funds: [(&str, &str); 3]) -> (Server, [Key; 3]) {
    let s = Server::start_with(&["--limits", "off"], env);
    let keys = [("alice", funds[0]), ("bob", funds[1]), ("carol", funds[2])].map(|(name, (usd, xbt))| s.account(name, usd, xbt, "all"));
    (s, keys)
}

/// Stops `s` (SIGTERM), starts the same data directory again (the same `env`, no call
/// restrictions) and asserts that the replayed state has the digest `s` had.
pub fn restart_keeps_digest(mut s: Server, env: &[(&str, &str)]) {
    let before = digest(&s);
    let dir = s.data_dir.clone();
    s.terminate();
    let s2 = Server::start_in_with(&dir, &["--limits", "off"], env);
    assert_eq!(digest(&s2), before);
}

pub fn add(s: &Server, k: &Key, params: &[(&str, &str)]) -> Value {
    let mut p = vec![("pair", PAIR)];
    p.extend_from_slice(params);
    s.private(k, "AddOrder", &p)
}

pub fn place(s: &Server, k: &Key, params: &[(&str, &str)]) -> (String, Value) {
    let v = add(s, k, params);
    let r = ok(&v).clone();
    (r["txid"][0].as_str().unwrap().to_string(), r)
}

pub fn order(s: &Server, k: &Key, txid: &str) -> Value {
    ok(&s.private(k, "QueryOrders", &[("txid", txid), ("trades", "true")]))[txid].clone()
}

pub fn hold_xbt(s: &Server, k: &Key) -> String {
    ok(&s.private(k, "BalanceEx", &[]))["XXBT"]["hold_trade"].as_str().unwrap_or("").to_string()
}

/// A price or volume field as a number (the figures here do not depend on how many decimals
/// the answer prints).
pub fn num(v: &Value) -> f64 {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a string")).parse().unwrap()
}

pub fn digest(s: &Server) -> String {
    let v: Value = serde_json::from_str(s.cli(&["audit", "--json"]).trim()).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    v["digest"].as_str().unwrap().to_string()
}

/// A trade between two other accounts at `price`: a resting sell (or buy) and a market taker.
pub fn trade_at(s: &Server, maker: &Key, taker: &Key, price: &str, maker_side: &str) {
    let taker_side = if maker_side == "sell" { "buy" } else { "sell" };
    place(s, maker, &[("type", maker_side), ("ordertype", "limit"), ("price", price), ("volume", "0.01")]);
    place(s, taker, &[("type", taker_side), ("ordertype", "market"), ("volume", "0.01")]);
}
