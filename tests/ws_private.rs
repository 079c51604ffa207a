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

use common::ws::{drain, open, send, subscribe, token, until};
use common::xbt_orders::place;
use serde_json::json;

fn exec_updates(msgs: &[Value]) -> Vec<Value> {
    msgs.iter()
        .filter(|m| m["channel"] == "executions" && m["type"] == "update")
        .flat_map(|m| m["data"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn private_subscriptions_refuse_missing_wrong_and_underpowered_tokens() {
    let s = Server::start();
    let k = s.account("alice", "1000", "0", "all");
    let ws_only = s.key("alice", "ws-only", "Access WebSockets API");
    let mut ws = open(&s);
    let a = subscribe(&mut ws, json!({"channel": "executions"}), 1);
    assert_eq!(
        (a["success"].clone(), a["error"].clone(), a["method"].clone()),
        (json!(false), json!("EGeneral:Invalid arguments"), json!("subscribe")),
        "{a}"
    );
    let a = subscribe(&mut ws, json!({"channel": "balances", "token": "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"}), 2);
    assert_eq!(a["error"], "ESession:Invalid session", "{a}");
    let weak = token(&s, &ws_only);
    let a = subscribe(&mut ws, json!({"channel": "balances", "token": weak}), 3);
    assert_eq!(a["error"], "EAccount:Invalid permissions", "{a}");
    let a = subscribe(&mut ws, json!({"channel": "executions", "token": weak}), 4);
    assert_eq!(a["error"], "EAccount:Invalid permissions", "{a}");
    // A good token works; a second subscription is refused; the key's revocation ends the token.
    let t = token(&s, &k);
    let a = subscribe(&mut ws, json!({"channel": "balances", "token": t}), 5);
    assert_eq!(a["success"], true, "{a}");
    assert_eq!(a["result"], json!({"channel": "balances", "snapshot": true}), "the result replays as params, never the token");
    let a = subscribe(&mut ws, json!({"channel": "balances", "token": t}), 6);
    assert_eq!(a["error"], "Already subscribed", "{a}");
    s.cli(&["key", "revoke", &k.key]);
    let a = subscribe(&mut ws, json!({"channel": "executions", "token": t}), 7);
    assert_eq!(a["error"], "ESession:Invalid session", "revoked key: {a}");
    s.assert_no_panics();
}

#[test]
fn executions_and_balances_follow_rest_orders_fills_cancels_and_the_ledger() {
    let s = Server::start();
    let alice = s.account("alice", "10000", "1", "all");
    let bob = s.account("bob", "10000", "1", "all");
    let mut ws = open(&s);
    let t = token(&s, &alice);
    let a = subscribe(&mut ws, json!({"channel": "executions", "token": t, "snap_trades": true}), 1);
    assert_eq!(a["result"], json!({"channel": "executions", "snap_orders": true, "snap_trades": true, "order_status": true}), "{a}");
    // Two snapshot messages (ccxt routes a message by its first entry): open orders, then fills.
    for _ in 0..2 {
        let snap = until(&mut ws, 5.0, |v| v["channel"] == "executions").pop().unwrap();
        assert_eq!((snap["type"].clone(), snap["data"].clone()), (json!("snapshot"), json!([])), "{snap}");
    }
    let a = subscribe(&mut ws, json!({"channel": "balances", "token": t}), 2);
    assert_eq!(a["success"], true);
    let bal = until(&mut ws, 5.0, |v| v["channel"] == "balances").pop().unwrap();
    assert_eq!(bal["type"], "snapshot");
    assert_eq!(
        bal["data"],
        json!([
            {"asset": "USD", "asset_class": "currency", "balance": 10000, "wallets": [{"type": "spot", "id": "main", "balance": 10000}]},
            {"asset": "BTC", "asset_class": "currency", "balance": 1, "wallets": [{"type": "spot", "id": "main", "balance": 1}]}
        ])
        .as_array()
        .map(|v| {
            let mut v = v.clone();
            v.sort_by_key(|x| x["asset"].as_str().unwrap().to_string());
            let mut got = bal["data"].as_array().unwrap().clone();
            got.sort_by_key(|x| x["asset"].as_str().unwrap().to_string());
            assert_eq!(got, v);
            bal["data"].clone()
        })
        .unwrap()
    );

    // A resting buy: pending_new (the order in full), then new.
    let (txid, _) = place(&s, &alice, &[("type", "buy"), ("ordertype", "limit"), ("price", "50000"), ("volume", "0.01"), ("userref", "7")]);
    let msgs = until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "new");
    let ev = exec_updates(&msgs);
    assert_eq!(ev.iter().map(|e| e["exec_type"].as_str().unwrap()).collect::<Vec<_>>(), ["pending_new", "new"]);
    let p = &ev[0];
    assert_eq!(p["order_id"], json!(txid));
    assert_eq!(p["symbol"], "BTC/USD");
    assert_eq!(p["side"], "buy");
    assert_eq!(p["order_type"], "limit");
    assert_eq!(p["order_qty"], json!(0.01));
    assert_eq!(p["limit_price"], json!(50000));
    assert_eq!(p["order_userref"], json!(7));
    assert_eq!(p["order_status"], "pending_new");
    assert_eq!(p["time_in_force"], "GTC");
    assert!(p["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ev[1]["order_status"], "new");
    assert_eq!(ev[1]["order_id"], json!(txid));
    assert!(msgs.iter().all(|m| m["channel"] != "balances"), "a hold is not a ledger entry: {msgs:?}");

    // Bob sells into it: alice sees the trade (maker) and the fill; bob's own events never reach her.
    place(&s, &bob, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    let msgs = until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "filled");
    let msgs = [msgs, drain(&mut ws, 0.5)].concat();
    let ev = exec_updates(&msgs);
    assert_eq!(ev.iter().map(|e| e["exec_type"].as_str().unwrap()).collect::<Vec<_>>(), ["trade", "filled"], "{ev:?}");
    assert!(ev.iter().all(|e| e["order_id"] == json!(txid)));
    let tr = &ev[0];
    assert_eq!(tr["order_status"], "partially_filled", "Kraken's trade event status, even on the last fill");
    assert_eq!((tr["last_qty"].clone(), tr["last_price"].clone(), tr["liquidity_ind"].clone()), (json!(0.01), json!(50000), json!("m")));
    assert_eq!(tr["cost"], json!(500));
    let trades = ok(&s.private(&alice, "TradesHistory", &[])).clone();
    let (trade_id, rest_trade) = trades["trades"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(tr["exec_id"], json!(trade_id));
    assert_eq!(tr["trade_id"], rest_trade["trade_id"]);
    assert_eq!(tr["fees"][0]["asset"], "USD");
    assert_eq!(tr["fees"][0]["qty"].to_string().parse::<f64>().unwrap(), rest_trade["fee"].as_str().unwrap().parse::<f64>().unwrap());
    assert_eq!(ev[1]["cum_qty"], json!(0.01));
    assert_eq!(ev[1]["avg_price"], json!(50000));
    assert_eq!(ev[1]["order_status"], "filled");
    // One balances update per ledger entry, equal to REST Ledgers.
    let upd: Vec<Value> = msgs
        .iter()
        .filter(|m| m["channel"] == "balances")
        .map(|m| {
            assert_eq!(m["type"], "update");
            assert_eq!(m["data"].as_array().unwrap().len(), 1);
            m["data"][0].clone()
        })
        .collect();
    let ledgers = ok(&s.private(&alice, "Ledgers", &[("type", "trade")]))["ledger"].clone();
    let ledgers = ledgers.as_object().unwrap();
    assert_eq!(upd.len(), ledgers.len(), "{upd:?} vs {ledgers:?}");
    for u in &upd {
        let l = &ledgers[u["ledger_id"].as_str().unwrap()];
        assert_eq!(u["ref_id"], l["refid"]);
        assert_eq!(u["type"], "trade");
        assert_eq!(u["asset"], if l["asset"] == "XXBT" { json!("BTC") } else { json!("USD") });
        for f in ["amount", "fee", "balance"] {
            assert_eq!(u[f].to_string().parse::<f64>().unwrap(), l[f].as_str().unwrap().parse::<f64>().unwrap(), "{f}: {u} vs {l}");
        }
    }

    // A cancel: canceled with Kraken's reason.
    let (second, _) = place(&s, &alice, &[("type", "buy"), ("ordertype", "limit"), ("price", "40000"), ("volume", "0.02")]);
    until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "new");
    ok(&s.private(&alice, "CancelOrder", &[("txid", &second)]));
    let ev = exec_updates(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "canceled"));
    let c = ev.last().unwrap();
    assert_eq!(
        (c["order_id"].clone(), c["order_status"].clone(), c["reason"].clone()),
        (json!(second), json!("canceled"), json!("User requested"))
    );
    assert_eq!(c["cum_qty"], json!(0));

    // A new connection's snapshot: no open orders, the one fill in snap_trades.
    let mut ws2 = open(&s);
    let a = subscribe(&mut ws2, json!({"channel": "executions", "token": t, "snap_orders": false, "snap_trades": true}), 9);
    assert_eq!(a["success"], true, "the token is still valid on another connection within its 15 minutes");
    let snap = until(&mut ws2, 5.0, |v| v["channel"] == "executions").pop().unwrap();
    assert_eq!(snap["type"], "snapshot");
    let d = snap["data"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{snap}");
    assert_eq!(
        (d[0]["exec_type"].clone(), d[0]["order_id"].clone(), d[0]["exec_id"].clone()),
        (json!("trade"), json!(txid), json!(trade_id))
    );
    s.assert_no_panics();
}

#[test]
fn executions_report_amends_triggered_stops_and_honour_order_status_false() {
    let s = Server::start();
    let alice = s.account("alice", "10000", "1", "all");
    let bob = s.account("bob", "10000", "1", "all");
    let carol = s.account("carol", "10000", "1", "all");
    let t = token(&s, &alice);
    let mut ws = open(&s);
    let a = subscribe(&mut ws, json!({"channel": "executions", "token": t, "snap_orders": false}), 1);
    assert_eq!(a["success"], true, "{a}");
    let mut quiet = open(&s);
    let a = subscribe(&mut quiet, json!({"channel": "executions", "token": t, "order_status": false}), 1);
    assert_eq!(a["result"]["order_status"], false, "{a}");
    // (no snapshot asked on `ws`: updates flow from the subscription on)
    until(&mut quiet, 5.0, |v| v["type"] == "snapshot");

    // AmendOrder: `amended` with the new quantity and price, same order id.
    let (id, _) = place(&s, &alice, &[("type", "buy"), ("ordertype", "limit"), ("price", "30000"), ("volume", "0.01")]);
    ok(&s.private(&alice, "AmendOrder", &[("txid", &id), ("order_qty", "0.02"), ("limit_price", "31000")]));
    let ev = exec_updates(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "amended"));
    let am = ev.last().unwrap();
    assert_eq!(
        (am["order_id"].clone(), am["order_qty"].clone(), am["limit_price"].clone()),
        (json!(id), json!(0.02), json!(31000)),
        "{am}"
    );
    assert_eq!(am["amended"], true);

    // A stop-loss: placed untriggered (new, triggers untriggered), then a trade at its price fires
    // it: `status` (triggered), its fill, `filled`.
    let (stop, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "stop-loss"), ("price", "49000"), ("volume", "0.01")]);
    let ev = exec_updates(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "new" && v["data"][0]["order_id"] == json!(stop)));
    let p = ev.iter().find(|e| e["exec_type"] == "pending_new" && e["order_id"] == json!(stop)).unwrap();
    assert_eq!(
        (p["order_type"].clone(), p["stop_price"].clone(), p["triggers"]["status"].clone()),
        (json!("stop-loss"), json!(49000), json!("untriggered")),
        "{p}"
    );
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "49000"), ("volume", "0.05")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.001")]);
    let ev: Vec<Value> =
        exec_updates(&until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "filled" && v["data"][0]["order_id"] == json!(stop)))
            .into_iter()
            .filter(|e| e["order_id"] == json!(stop))
            .collect();
    assert_eq!(ev.iter().map(|e| e["exec_type"].as_str().unwrap()).collect::<Vec<_>>(), ["status", "trade", "filled"], "{ev:?}");
    assert_eq!(ev[0]["triggers"]["status"], "triggered");
    assert_eq!((ev[1]["last_price"].clone(), ev[1]["liquidity_ind"].clone()), (json!(49000), json!("t")));

    // order_status=false: no pending_new, amended or status; new, fills and ends still come.
    let got: Vec<String> = exec_updates(&drain(&mut quiet, 1.0)).iter().map(|e| e["exec_type"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, ["new", "new", "trade", "filled"], "{got:?}");
    s.assert_no_panics();
}

#[test]
fn a_token_survives_a_kill_9_restart_and_the_new_connection_gets_its_snapshot() {
    let mut s = Server::start();
    let alice = s.account("alice", "10000", "1", "all");
    let t = token(&s, &alice);
    let (id, _) = place(&s, &alice, &[("type", "buy"), ("ordertype", "limit"), ("price", "30000"), ("volume", "0.01")]);
    let tmp = s._tmp_take();
    let dir = s.data_dir.clone();
    s.kill9();
    let s2 = Server::start_in(&dir);
    let mut ws = open(&s2);
    let a = subscribe(&mut ws, json!({"channel": "executions", "token": t}), 1);
    assert_eq!(a["success"], true, "a token issued before the restart, within its 15 minutes: {a}");
    let snap = until(&mut ws, 5.0, |v| v["channel"] == "executions").pop().unwrap();
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["data"][0]["order_id"], json!(id), "the replayed open order: {snap}");
    assert_eq!(snap["data"][0]["order_status"], "new");
    s2.assert_no_panics();
    drop(tmp);
}

#[test]
fn an_order_added_over_the_websocket_just_subscribed_reports_its_executions() {
    let s = Server::start();
    let alice = s.account("alice", "10000", "1", "all");
    let t = token(&s, &alice);
    let mut ws = open(&s);
    let a = subscribe(&mut ws, json!({"channel": "executions", "token": t, "snap_orders": false}), 1);
    assert_eq!(a["success"], true, "{a}");
    send(
        &mut ws,
        json!({"method": "add_order", "req_id": 2, "params": {"order_type": "limit", "side": "buy", "order_qty": 0.01,
               "symbol": "BTC/USD", "limit_price": 30000, "token": t}}),
    );
    // The ack and the events go out on their own paths once durable: either may come first.
    let mut msgs = until(&mut ws, 5.0, |v| v["data"][0]["exec_type"] == "new" || v["method"] == "add_order");
    let last = msgs.last().unwrap().clone();
    msgs.extend(until(&mut ws, 5.0, |v| {
        if last["method"] == "add_order" {
            v["data"][0]["exec_type"] == "new"
        } else {
            v["method"] == "add_order"
        }
    }));
    let ack = msgs.iter().find(|m| m["method"] == "add_order").unwrap_or_else(|| panic!("{msgs:?}"));
    assert_eq!(ack["success"], true, "{ack}");
    let id = ack["result"]["order_id"].clone();
    let ev = exec_updates(&msgs);
    assert_eq!(
        ev.iter().map(|e| (e["exec_type"].clone(), e["order_id"].clone())).collect::<Vec<_>>(),
        [(json!("pending_new"), id.clone()), (json!("new"), id)]
    );
    s.assert_no_panics();
}
