//! The real server over HTTP: public data, authentication errors, permissions, a full trade
//! between two accounts, and a restart that restores the exact state.

mod common;
use common::{err, ok, Server};
use serde_json::Value;

#[test]
fn public_endpoints_speak_kraken() {
    let s = Server::start();
    let t = s.public("Time", "");
    assert!(ok(&t)["unixtime"].is_i64());
    assert!(ok(&t)["rfc1123"].is_string());
    let a = s.public("Assets", "asset=XBT,usd");
    let keys: Vec<&String> = ok(&a).as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "{a}");
    assert!(ok(&a)["XXBT"]["decimals"].is_i64());
    for name in ["XBTUSD", "XXBTZUSD", "XBT/USD", "BTC/USD"] {
        let p = s.public("AssetPairs", &format!("pair={}", name.replace('/', "%2F")));
        assert_eq!(ok(&p).as_object().unwrap().keys().collect::<Vec<_>>(), vec!["XXBTZUSD"], "{name}");
    }
    let tk = s.public("Ticker", "pair=XBTUSD");
    let x = &ok(&tk)["XXBTZUSD"];
    assert_eq!(x["c"][0], "87959.90000", "{x}"); // public prices at cost_decimals
    assert!(x["o"].as_str().unwrap().parse::<f64>().unwrap() < 87959.9);
    assert_eq!(err(&s.public("Ticker", "pair=FOOBARBAZ")), "EQuery:Unknown asset pair");
    assert_eq!(err(&s.public("NoSuchThing", "")), "EGeneral:Unknown method");
    // krakenex posts forms to public endpoints too.
    let r: Value =
        ureq::post(&format!("{}/0/public/Depth", s.url)).send_form(&[("pair", "XBTUSD"), ("count", "5")]).unwrap().into_json().unwrap();
    assert!(ok(&r)["XXBTZUSD"]["asks"].is_array());
}

#[test]
fn authentication_errors_are_krakens() {
    let s = Server::start();
    let demo = s.demo.clone().expect("demo key printed on first start");
    let b = s.private(&demo, "Balance", &[]);
    assert_eq!(ok(&b)["ZUSD"], "100000.0000");
    assert_eq!(ok(&b)["XXBT"], "1.0000000000");

    let wrong = common::Key { key: demo.key.clone(), secret: "c2VjcmV0c2VjcmV0c2VjcmV0".into() };
    assert_eq!(err(&s.private(&wrong, "Balance", &[])), "EAPI:Invalid signature");
    let unknown = common::Key { key: "AAAA".into(), secret: demo.secret.clone() };
    assert_eq!(err(&s.private(&unknown, "Balance", &[])), "EAPI:Invalid key");
    let n = common::next_nonce().to_string();
    let body = format!("nonce={n}");
    ok(&s.signed(&demo, "Balance", &n, &body));
    assert_eq!(err(&s.signed(&demo, "Balance", &n, &body)), "EAPI:Invalid nonce");
    assert_eq!(err(&s.private(&demo, "NoSuchMethod", &[])), "EGeneral:Unknown method");

    // A key with only Query Funds can read balances but not trade.
    let reader = s.key("demo", "reader", "Query Funds");
    ok(&s.private(&reader, "Balance", &[]));
    let add = s.private(
        &reader,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.01")],
    );
    assert_eq!(err(&add), "EGeneral:Permission denied");
    assert_eq!(err(&s.private(&reader, "Ledgers", &[])), "EGeneral:Permission denied");
    // Revoked keys are unknown at once.
    s.cli(&["key", "revoke", &reader.key]);
    assert_eq!(err(&s.private(&reader, "Balance", &[])), "EAPI:Invalid key");
}

#[test]
fn bad_orders_get_kraken_errors_and_change_nothing() {
    let s = Server::start();
    let k = s.account("alice", "1000", "0", "all");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000")], "EGeneral:Invalid arguments:volume"),
        (&[("pair", "NOPE"), ("type", "buy"), ("ordertype", "limit"), ("price", "1"), ("volume", "1")], "EQuery:Unknown asset pair"),
        (&[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000.05"), ("volume", "0.01")], "EOrder:Invalid price"),
        (
            &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.000001")],
            "EOrder:Order minimum not met",
        ),
        (&[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000"), ("volume", "1")], "EOrder:Insufficient funds"),
        (
            &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.01")],
            "EOrder:Insufficient funds",
        ),
        (
            &[("pair", "XBTUSD"), ("type", "hold"), ("ordertype", "limit"), ("price", "1000"), ("volume", "0.01")],
            "EGeneral:Invalid arguments:type",
        ),
        (
            // `-5` is a relative price (last trade less 5.0); `--5` is nothing.
            &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "--5"), ("volume", "0.01")],
            "EGeneral:Invalid arguments:price",
        ),
    ];
    for (params, want) in cases {
        let r = s.private(&k, "AddOrder", params);
        assert!(err(&r).starts_with(want), "{params:?}: {r}");
    }
    let bal = s.private(&k, "BalanceEx", &[]);
    assert_eq!(ok(&bal)["ZUSD"]["hold_trade"], "0.0000");
    assert!(ok(&s.private(&k, "OpenOrders", &[]))["open"].as_object().unwrap().is_empty());
    assert!(ok(&s.private(&k, "ClosedOrders", &[]))["closed"].as_object().unwrap().is_empty());
    assert_eq!(err(&s.private(&k, "CancelOrder", &[("txid", "OQCLML-BW3P3-BUCMWZ")])), "EOrder:Unknown order");
}

#[test]
fn a_trade_moves_exact_money_and_survives_restart() {
    let mut s = Server::start();
    let maker = s.account("maker", "10000", "1", "all");
    let taker = s.account("taker", "10000", "0", "all");
    let sell = s.private(
        &maker,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "50000.0"), ("volume", "0.02"), ("oflags", "post")],
    );
    let sell_id = ok(&sell)["txid"][0].as_str().unwrap().to_string();
    assert_eq!(ok(&sell)["descr"]["order"], "sell 0.02000000 XBTUSD @ limit 50000.0");
    let depth = s.public("Depth", "pair=XBTUSD&count=1");
    assert_eq!(ok(&depth)["XXBTZUSD"]["asks"][0][0], "50000.00000");
    assert_eq!(ok(&depth)["XXBTZUSD"]["asks"][0][1], "0.020");

    let buy = s.private(&taker, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.005")]);
    let buy_id = ok(&buy)["txid"][0].as_str().unwrap().to_string();
    let q = s.private(&taker, "QueryOrders", &[("txid", &buy_id), ("trades", "true")]);
    let o = &ok(&q)[&buy_id];
    assert_eq!(o["status"], "closed");
    assert_eq!(o["vol_exec"], "0.00500000");
    assert_eq!(o["cost"], "250.00000");
    assert_eq!(o["fee"], "1.00000"); // 0.40% taker
    assert_eq!(o["price"], "50000.00000");
    let trade_id = o["trades"][0].as_str().unwrap().to_string();
    let th = s.private(&taker, "TradesHistory", &[]);
    let t = &ok(&th)["trades"][&trade_id];
    assert_eq!((t["price"].as_str(), t["maker"].as_bool(), t["pair"].as_str()), (Some("50000.00000"), Some(false), Some("XXBTZUSD")));

    let bal = s.private(&taker, "Balance", &[]);
    assert_eq!(ok(&bal)["ZUSD"], "9749.0000");
    assert_eq!(ok(&bal)["XXBT"], "0.0050000000");
    let mbal = s.private(&maker, "BalanceEx", &[]);
    assert_eq!(ok(&mbal)["ZUSD"]["balance"], "10249.3750"); // + 250 - 0.25% maker fee
    assert_eq!(ok(&mbal)["XXBT"]["balance"], "0.9950000000");
    assert_eq!(ok(&mbal)["XXBT"]["hold_trade"], "0.0150000000");
    let led = s.private(&taker, "Ledgers", &[("asset", "all")]);
    let entries: Vec<&Value> = ok(&led)["ledger"].as_object().unwrap().values().filter(|e| e["refid"] == trade_id.as_str()).collect();
    assert_eq!(entries.len(), 2);

    // Restart (graceful) and (kill -9): the same state comes back.
    let snapshot = |s: &Server| {
        let o = s.private(&maker, "OpenOrders", &[]);
        let b = s.private(&maker, "BalanceEx", &[]);
        let c = s.private(&taker, "ClosedOrders", &[]);
        (ok(&o).clone(), ok(&b).clone(), ok(&c).clone())
    };
    let before = snapshot(&s);
    let dir = s.data_dir.clone();
    let _keep = s._tmp_take();
    s.terminate();
    let s2 = Server::start_in(&dir);
    assert!(s2.demo.is_none(), "the demo key is printed only on the first start");
    assert_eq!(snapshot(&s2), before);
    assert!(ok(&s2.private(&maker, "OpenOrders", &[]))["open"].get(&sell_id).is_some());
    let mut s2 = s2;
    s2.kill9();
    let s3 = Server::start_in(&dir);
    assert_eq!(snapshot(&s3), before);
}
