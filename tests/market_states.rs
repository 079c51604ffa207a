//! Market states through the real server: each pair state and the system states set with
//! `calamari market status`, what each refuses with which Kraken string, what still works, that a
//! refusal changes nothing and is not logged, that a restart keeps the states, and that the
//! simulated market pauses on a pair that is not online.

mod common;
use common::{err, ok, Key, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn limit(side: &str, price: &str) -> Vec<(&'static str, String)> {
    vec![
        ("pair", "XBTUSD".into()),
        ("type", side.to_string()),
        ("ordertype", "limit".into()),
        ("price", price.to_string()),
        ("volume", "0.01".into()),
    ]
}

fn add(s: &Server, k: &Key, params: &[(&'static str, String)]) -> Value {
    let p: Vec<(&str, &str)> = params.iter().map(|(a, b)| (*a, b.as_str())).collect();
    s.private(k, "AddOrder", &p)
}

fn market_buy(s: &Server, k: &Key) -> Value {
    s.private(k, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.001")])
}

fn audit(s: &Server) -> Value {
    serde_json::from_str(&s.cli(&["audit"])).unwrap()
}

fn pair_status(s: &Server, pair: &str) -> String {
    let p = s.public("AssetPairs", &format!("pair={pair}"));
    ok(&p).as_object().unwrap().values().next().unwrap()["status"].as_str().unwrap().to_string()
}

fn system_status(s: &Server) -> String {
    ok(&s.public("SystemStatus", ""))["status"].as_str().unwrap().to_string()
}

#[test]
fn each_pair_state_refuses_what_kraken_refuses_and_survives_restart() {
    let mut s = Server::start();
    let k = s.account("states", "100000", "1", "all");
    let resting = ok(&add(&s, &k, &limit("buy", "50000.0")))["txid"][0].as_str().unwrap().to_string();
    let post = |price: &str| {
        let mut p = limit("buy", price);
        p.push(("oflags", "post".into()));
        p
    };

    // cancel_only: no new order of any kind; cancels work; other pairs are untouched.
    assert_eq!(s.cli(&["market", "status", "XBTUSD", "cancel_only"]).trim(), "XBTUSD is cancel_only");
    assert_eq!(pair_status(&s, "XBTUSD"), "cancel_only");
    assert_eq!(pair_status(&s, "ETHUSD"), "online");
    let before = audit(&s);
    assert_eq!(err(&add(&s, &k, &limit("buy", "50000.0"))), "EService:Market in cancel_only mode");
    assert_eq!(err(&add(&s, &k, &post("50000.0"))), "EService:Market in cancel_only mode");
    assert_eq!(err(&market_buy(&s, &k)), "EService:Market in cancel_only mode");
    let after = audit(&s);
    assert_eq!((&after["digest"], &after["orders"]), (&before["digest"], &before["orders"]), "a refusal changes nothing and is not logged");
    let eth =
        s.private(&k, "AddOrder", &[("pair", "ETHUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "1000.00"), ("volume", "0.01")]);
    let eth_id = ok(&eth)["txid"][0].as_str().unwrap().to_string();
    assert_eq!(ok(&s.private(&k, "CancelOrder", &[("txid", &resting)])), &json!({ "count": 1 }));

    // post_only: only post-only limit orders.
    s.cli(&["market", "status", "XBTUSD", "post_only"]);
    assert_eq!(pair_status(&s, "XBTUSD"), "post_only");
    assert_eq!(err(&add(&s, &k, &limit("buy", "50000.0"))), "EService:Market in post_only mode");
    assert_eq!(err(&market_buy(&s, &k)), "EService:Market in post_only mode");
    let posted = ok(&add(&s, &k, &post("50000.0")))["txid"][0].as_str().unwrap().to_string();

    // limit_only: limit orders (taking ones too), no market orders.
    s.cli(&["market", "status", "XBTUSD", "limit_only"]);
    assert_eq!(err(&market_buy(&s, &k)), "EService:Market in limit_only mode");
    ok(&add(&s, &k, &limit("buy", "50001.0")));

    // reduce_only: nothing on spot reduces a margin position, so no new order.
    s.cli(&["market", "status", "XBTUSD", "reduce_only"]);
    assert_eq!(pair_status(&s, "XBTUSD"), "reduce_only");
    assert_eq!(err(&add(&s, &k, &post("50000.0"))), "EService:Market in reduce_only mode");

    // maintenance: nothing, cancels included, and the resting orders stay.
    s.cli(&["market", "status", "XBTUSD", "maintenance"]);
    assert_eq!(pair_status(&s, "XBTUSD"), "maintenance");
    assert_eq!(err(&add(&s, &k, &post("50000.0"))), "EService:Unavailable");
    assert_eq!(err(&s.private(&k, "CancelOrder", &[("txid", &posted)])), "EService:Unavailable");
    assert_eq!(err(&s.private(&k, "CancelAll", &[])), "EService:Unavailable");
    assert_eq!(ok(&s.private(&k, "QueryOrders", &[("txid", &posted)]))[&posted]["status"], "open");
    // Another pair's orders can still be canceled.
    assert_eq!(ok(&s.private(&k, "CancelOrder", &[("txid", &eth_id)])), &json!({ "count": 1 }));

    // Bad operator input changes nothing.
    let (good, out) = s.try_cli(&["market", "status", "XBTUSD", "sleeping"]);
    assert!(!good && out.contains("unknown state"), "{out}");
    let (good, out) = s.try_cli(&["market", "status", "NOPE", "online"]);
    assert!(!good && out.contains("no pair"), "{out}");
    let listed: Value = serde_json::from_str(&s.cli(&["--json", "market", "status"])).unwrap();
    assert_eq!(
        (&listed["system"], &listed["pairs"]["XBTUSD"], &listed["pairs"]["XDGUSD"]),
        (&json!("online"), &json!("maintenance"), &json!("online"))
    );

    // A restart (the log replayed) and a kill -9 keep the state.
    let dir = s.data_dir.clone();
    let _keep = s._tmp_take();
    let digest = audit(&s)["digest"].clone();
    s.terminate();
    let mut s2 = Server::start_in(&dir);
    assert_eq!(pair_status(&s2, "XBTUSD"), "maintenance");
    assert_eq!(audit(&s2)["digest"], digest);
    s2.kill9();
    let s3 = Server::start_in(&dir);
    assert_eq!(pair_status(&s3, "XBTUSD"), "maintenance");
    s3.cli(&["market", "status", "XBTUSD", "online"]);
    assert_eq!(pair_status(&s3, "XBTUSD"), "online");
    assert_eq!(ok(&s3.private(&k, "CancelOrder", &[("txid", &posted)])), &json!({ "count": 1 }));
    ok(&market_buy(&s3, &k));
}

#[test]
fn system_states_apply_to_every_pair() {
    let s = Server::start();
    let k = s.account("sys", "100000", "1", "all");
    let resting = ok(&add(&s, &k, &limit("buy", "50000.0")))["txid"][0].as_str().unwrap().to_string();
    assert_eq!(system_status(&s), "online");
    let (good, out) = s.try_cli(&["market", "status", "--system", "limit_only"]);
    assert!(!good && out.contains("whole market"), "SystemStatus has four states: {out}");

    s.cli(&["market", "status", "--system", "cancel_only"]);
    assert_eq!(system_status(&s), "cancel_only");
    assert_eq!(pair_status(&s, "XBTUSD"), "online", "AssetPairs shows the pair's own state");
    let doge =
        s.private(&k, "AddOrder", &[("pair", "XDGUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "0.1000000"), ("volume", "50")]);
    assert_eq!(err(&doge), "EService:Market in cancel_only mode");

    s.cli(&["market", "status", "--system", "post_only"]);
    assert_eq!(err(&market_buy(&s, &k)), "EService:Market in post_only mode");

    s.cli(&["market", "status", "--system", "maintenance"]);
    assert_eq!(system_status(&s), "maintenance");
    assert_eq!(err(&s.private(&k, "CancelOrder", &[("txid", &resting)])), "EService:Unavailable");
    // Reading still works.
    ok(&s.private(&k, "OpenOrders", &[]));
    ok(&s.public("Ticker", "pair=XBTUSD"));

    assert_eq!(s.cli(&["market", "status", "--system", "online"]).trim(), "the market is online");
    assert_eq!(ok(&s.private(&k, "CancelOrder", &[("txid", &resting)])), &json!({ "count": 1 }));
    assert_eq!(audit(&s)["ok"], true);
}

#[test]
fn the_simulated_market_pauses_on_a_pair_that_is_not_online() {
    let s = Server::start_with(&["--market", "on", "--limits", "off"], &[]);
    let last_id = |pair: &str| -> i64 {
        let t = s.public("Trades", &format!("pair={pair}&count=1"));
        ok(&t)
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| *k != "last")
            .unwrap()
            .1
            .as_array()
            .unwrap()
            .last()
            .map_or(0, |r| r[6].as_i64().unwrap())
    };
    s.cli(&["market", "status", "XBTUSD", "cancel_only"]);
    let (xbt, others) = (last_id("XBTUSD"), ["ETHUSD", "XDGUSD", "SOLUSD"].map(last_id));
    // Wait until the other pairs have traded a few times: the simulator is running.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let moved = ["ETHUSD", "XDGUSD", "SOLUSD"].iter().zip(others).filter(|(p, before)| last_id(p) > *before).count();
        if moved == 3 || Instant::now() > deadline {
            assert_eq!(moved, 3, "the simulator traded the online pairs");
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(last_id("XBTUSD"), xbt, "no trade on a cancel_only pair");
    let d = s.public("Depth", "pair=XBTUSD");
    let before = ok(&d)["XXBTZUSD"].clone();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(ok(&s.public("Depth", "pair=XBTUSD"))["XXBTZUSD"], before, "the maker does not re-quote it either");
    assert_eq!(audit(&s)["ok"], true);
}

#[test]
fn validate_a_scheduled_start_and_a_firing_stop_meet_the_markets_state() {
    let s = Server::start_with(&["--limits", "off"], &[("CALAMARI_TEST_CLOCK", "1")]);
    let advance = |secs: u64| s.admin_post("/admin/clock/advance", json!({ "seconds": secs })).unwrap();
    let k = s.account("states", "100000", "1", "all");
    let bob = s.account("bob", "100000", "1", "all");
    let carol = s.account("carol", "100000", "1", "all");
    let order = |txid: &str| ok(&s.private(&k, "QueryOrders", &[("txid", txid)]))[txid].clone();
    let held = || ok(&s.private(&k, "BalanceEx", &[]))["ZUSD"]["hold_trade"].as_str().unwrap().to_string();

    // validate=true answers the state's error, as a real order would get.
    s.cli(&["market", "status", "XBTUSD", "cancel_only"]);
    let mut v = limit("buy", "50000.0");
    v.push(("validate", "true".into()));
    assert_eq!(err(&add(&s, &k, &v)), "EService:Market in cancel_only mode");
    s.cli(&["market", "status", "XBTUSD", "limit_only"]);
    assert!(ok(&add(&s, &k, &v))["descr"]["order"].is_string(), "a limit order is valid in limit_only");
    let mv = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.001"), ("validate", "true")];
    assert_eq!(err(&s.private(&k, "AddOrder", &mv)), "EService:Market in limit_only mode");
    s.cli(&["market", "status", "XBTUSD", "online"]);
    assert!(ok(&s.private(&k, "AddOrder", &mv))["descr"]["order"].is_string());

    // A scheduled order whose start comes in cancel_only is canceled then, its hold released.
    let mut later = limit("buy", "50000.0");
    later.push(("starttm", "+30".into()));
    let txid = ok(&add(&s, &k, &later))["txid"][0].as_str().unwrap().to_string();
    assert_eq!(order(&txid)["status"], "pending");
    assert_ne!(held(), "0.0000");
    s.cli(&["market", "status", "XBTUSD", "cancel_only"]);
    advance(31);
    let o = order(&txid);
    assert_eq!((o["status"].as_str(), o["reason"].as_str()), (Some("canceled"), Some("Market in cancel_only mode")), "{o}");
    assert_eq!(held(), "0.0000");

    // A stop-loss (market when it fires) reached in limit_only is canceled when it fires.
    s.cli(&["market", "status", "XBTUSD", "online"]);
    let stop = ok(&s.private(
        &k,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "stop-loss"), ("price", "85000"), ("volume", "0.01")],
    ))["txid"][0]
        .as_str()
        .unwrap()
        .to_string();
    s.private(&bob, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "84500"), ("volume", "0.02")]);
    s.cli(&["market", "status", "XBTUSD", "limit_only"]);
    // Carol's limit sell into bob's bid trades at 84500 and reaches the stop.
    ok(&s.private(
        &carol,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "84500"), ("volume", "0.01")],
    ));
    let o = order(&stop);
    assert_eq!((o["status"].as_str(), o["reason"].as_str()), (Some("canceled"), Some("Market in limit_only mode")), "{o}");
    assert_eq!(o["vol_exec"], "0.00000000");
    assert_eq!(ok(&s.private(&k, "BalanceEx", &[]))["XXBT"]["hold_trade"], "0.0000000000");
    let a = audit(&s);
    assert_eq!(a["ok"], true, "{a}");
}
