//! Kraken's numbers through the real server, field by field (the rule and its evidence are in
//! ARCHITECTURE.md, "Kraken's numbers"): order and trade money at the pair's cost_decimals
//! (XBTUSD 5, XDGUSD 9), ledger amounts at the asset's decimals, public prices at cost_decimals,
//! Depth levels stamped with the time they last changed, microsecond times, and Kraken's
//! envelope on every path under /0/public and /0/private.

mod common;
use common::{err, ok, Key, Server};
use serde_json::{json, Value};

fn place(s: &Server, k: &Key, params: &[(&str, &str)]) -> String {
    let r = s.private(k, "AddOrder", params);
    ok(&r)["txid"][0].as_str().unwrap_or_else(|| panic!("{r}")).to_string()
}

fn order(s: &Server, k: &Key, txid: &str) -> Value {
    let q = s.private(k, "QueryOrders", &[("txid", txid), ("trades", "true")]);
    ok(&q)[txid].clone()
}

fn trade(s: &Server, k: &Key, id: &str) -> Value {
    let q = s.private(k, "QueryTrades", &[("txid", id)]);
    ok(&q)[id].clone()
}

/// The ledger entries of one trade, by asset id.
fn ledgers_of(s: &Server, k: &Key, refid: &str) -> Vec<Value> {
    let l = s.private(k, "Ledgers", &[]);
    ok(&l)["ledger"].as_object().unwrap().values().filter(|e| e["refid"] == refid).cloned().collect()
}

fn entry<'a>(entries: &'a [Value], asset: &str) -> &'a Value {
    entries.iter().find(|e| e["asset"] == asset).unwrap_or_else(|| panic!("no {asset} entry in {entries:?}"))
}

/// A JSON time as Kraken prints it: a number with at most six decimals (microseconds).
fn microseconds(v: &Value) -> f64 {
    let text = v.to_string();
    let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
    assert!(v.is_f64() || v.is_u64(), "{v} is a JSON number");
    assert!(decimals <= 6, "{text}: more than microseconds");
    v.as_f64().unwrap()
}

#[test]
fn xbtusd_orders_and_trades_at_five_cost_decimals() {
    let s = Server::start();
    let maker = s.account("maker", "0", "1", "all");
    let taker = s.account("taker", "10000", "0", "all");
    let params = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "30010.0"), ("volume", "0.02")];
    let sell = place(&s, &maker, &params);
    // Resting and unfilled: money at cost_decimals, the limit price at pair_decimals.
    let o = order(&s, &maker, &sell);
    assert_eq!((&o["cost"], &o["fee"], &o["price"]), (&json!("0.00000"), &json!("0.00000"), &json!("0.00000")), "{o}");
    assert_eq!((&o["stopprice"], &o["limitprice"]), (&json!("0.00000"), &json!("0.00000")));
    assert_eq!(
        (&o["vol"], &o["vol_exec"], &o["userref"], &o["refid"]),
        (&json!("0.02000000"), &json!("0.00000000"), &json!(0), &Value::Null)
    );
    let d = &o["descr"];
    assert_eq!((&d["pair"], &d["aclass"], &d["price"], &d["price2"]), (&json!("XBTUSD"), &json!("forex"), &json!("30010.0"), &json!("0")));
    assert_eq!(d["order"], "sell 0.02000000 XBTUSD @ limit 30010.0");
    microseconds(&o["opentm"]);
    assert!(o.get("closetm").is_none());

    let buy = place(&s, &taker, &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.02")]);
    let o = order(&s, &taker, &buy);
    assert_eq!(o["status"], "closed");
    // 0.02 × 30010.0 = 600.2; the 0.40% taker fee 2.4008.
    assert_eq!((&o["cost"], &o["fee"], &o["price"]), (&json!("600.20000"), &json!("2.40080"), &json!("30010.00000")), "{o}");
    assert_eq!((&o["descr"]["price"], &o["descr"]["price2"], &o["descr"]["ordertype"]), (&json!("0"), &json!("0"), &json!("market")));
    assert!(microseconds(&o["closetm"]) >= microseconds(&o["opentm"]));
    let tid = o["trades"][0].as_str().unwrap().to_string();
    let t = trade(&s, &taker, &tid);
    let want = json!({
        "ordertxid": buy, "postxid": "TKH2SE-M7IF5-CFI7LT", "pair": "XXBTZUSD", "aclass": "forex", "time": t["time"],
        "type": "buy", "ordertype": "market", "price": "30010.00000", "cost": "600.20000", "fee": "2.40080",
        "vol": "0.02000000", "margin": "0.00000", "leverage": "0", "misc": "", "trade_id": 1, "maker": false,
    });
    assert_eq!(t, want);
    assert_eq!(serde_json::to_string(&t).unwrap(), serde_json::to_string(&want).unwrap(), "Kraken's field order");
    microseconds(&t["time"]);
    // The maker's side: 0.25% = 1.5005.
    let m = order(&s, &maker, &sell);
    assert_eq!((&m["cost"], &m["fee"], &m["price"]), (&json!("600.20000"), &json!("1.50050"), &json!("30010.00000")));
    // Ledger: the quote at USD's 4 decimals, the base at XBT's 10.
    let entries = ledgers_of(&s, &taker, &tid);
    let usd = entry(&entries, "ZUSD");
    assert_eq!((&usd["amount"], &usd["fee"], &usd["balance"]), (&json!("-600.2000"), &json!("2.4008"), &json!("9397.3992")));
    let xbt = entry(&entries, "XXBT");
    assert_eq!((&xbt["amount"], &xbt["fee"], &xbt["balance"]), (&json!("0.0200000000"), &json!("0.0000000000"), &json!("0.0200000000")));
    microseconds(&usd["time"]);

    // CancelOrder answers {"count": n} only.
    let rest = place(&s, &maker, &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "40000.0"), ("volume", "0.01")]);
    assert_eq!(ok(&s.private(&maker, "CancelOrder", &[("txid", &rest)])), &json!({ "count": 1 }));
    assert_eq!(ok(&s.private(&maker, "CancelAll", &[])), &json!({ "count": 0 }));
}

#[test]
fn a_doge_trade_keeps_nine_decimals_and_its_fee_is_the_amount_charged() {
    let s = Server::start();
    let seller = s.account("doge-seller", "0", "0", "all");
    s.cli(&["deposit", "--account", "doge-seller", "XDG", "1000"]);
    let buyer = s.account("doge-buyer", "100", "0", "all");
    let sell =
        place(&s, &seller, &[("pair", "XDGUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "0.1034421"), ("volume", "50")]);
    let buy = place(&s, &buyer, &[("pair", "XDGUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "0.1100000"), ("volume", "50")]);
    // 50 × 0.1034421 = 5.1721050 USD; the taker's 0.40% is 0.02068842, charged as 0.0207 (USD's
    // 4 decimals, half up) and printed at XDGUSD's 9 cost decimals; the maker's 0.25% is
    // 0.0129302625 -> 0.0129.
    let o = order(&s, &buyer, &buy);
    assert_eq!((&o["cost"], &o["fee"], &o["price"]), (&json!("5.172105000"), &json!("0.020700000"), &json!("0.103442100")), "{o}");
    assert_eq!(o["descr"]["price"], "0.1100000");
    let m = order(&s, &seller, &sell);
    assert_eq!((&m["cost"], &m["fee"]), (&json!("5.172105000"), &json!("0.012900000")));
    let tid = o["trades"][0].as_str().unwrap().to_string();
    let t = trade(&s, &buyer, &tid);
    assert_eq!(
        (&t["price"], &t["cost"], &t["fee"], &t["vol"]),
        (&json!("0.103442100"), &json!("5.172105000"), &json!("0.020700000"), &json!("50.00000000"))
    );
    assert_eq!(t["margin"], "0.000000000");
    // A client that recomputes the average from the trades (freqtrade) gets the order's price.
    let cost: f64 = t["cost"].as_str().unwrap().parse().unwrap();
    let vol: f64 = t["vol"].as_str().unwrap().parse().unwrap();
    assert_eq!(format!("{:.9}", cost / vol), o["price"].as_str().unwrap());
    // The ledger rounds each to USD's 4 decimals, half up: 5.1721, 0.0207 (buyer), 0.0129 (seller).
    let b = ledgers_of(&s, &buyer, &tid);
    assert_eq!((&entry(&b, "ZUSD")["amount"], &entry(&b, "ZUSD")["fee"]), (&json!("-5.1721"), &json!("0.0207")));
    assert_eq!(entry(&b, "ZUSD")["balance"], "94.8072");
    assert_eq!(entry(&b, "XXDG")["amount"], "50.00000000");
    let sid = m["trades"][0].as_str().unwrap().to_string();
    let sl = ledgers_of(&s, &seller, &sid);
    assert_eq!(
        (&entry(&sl, "ZUSD")["amount"], &entry(&sl, "ZUSD")["fee"], &entry(&sl, "ZUSD")["balance"]),
        (&json!("5.1721"), &json!("0.0129"), &json!("5.1592"))
    );
    let bal = s.private(&seller, "Balance", &[]);
    assert_eq!((&ok(&bal)["ZUSD"], &ok(&bal)["XXDG"]), (&json!("5.1592"), &json!("950.00000000")));
    // Public prices at 9 decimals too.
    let tk = s.public("Ticker", "pair=XDGUSD");
    let x = &ok(&tk)["XDGUSD"];
    assert_eq!((&x["c"][0], &x["c"][1], &x["p"][0]), (&json!("0.103442100"), &json!("50.00000000"), &json!("0.103442100")), "{x}");
    let tr = s.public("Trades", "pair=XDGUSD");
    assert_eq!(ok(&tr)["XDGUSD"].as_array().unwrap().last().unwrap()[0], "0.103442100");
    let audit: Value = serde_json::from_str(&s.cli(&["audit"])).unwrap();
    assert_eq!(audit["ok"], true, "{audit}");
}

#[test]
fn depth_levels_carry_the_time_they_last_changed() {
    let s = Server::start_with(&[], &[("CALAMARI_TEST_CLOCK", "1")]);
    let advance = |secs: u64| s.admin_post("/admin/clock/advance", json!({ "seconds": secs })).unwrap();
    let k = s.account("stamps", "0", "1", "all");
    let t = s.account("stamps-taker", "10000", "0", "all");
    let sell = |price: &str, vol: &str| {
        place(&s, &k, &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", price), ("volume", vol)])
    };
    let asks = || {
        let d = s.public("Depth", "pair=XBTUSD");
        ok(&d)["XXBTZUSD"]["asks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l[0].as_str().unwrap().to_string(), l[1].as_str().unwrap().to_string(), l[2].as_i64().unwrap()))
            .collect::<Vec<_>>()
    };
    // The test clock is the real clock plus what the test advanced, so a stamp taken later may
    // also carry the real seconds that passed since the first order (at most the test's run time).
    let started = std::time::Instant::now();
    sell("31000.0", "0.1");
    advance(100);
    sell("32000.0", "0.2");
    let a = asks();
    assert_eq!((a[0].0.as_str(), a[0].1.as_str(), a[1].0.as_str(), a[1].1.as_str()), ("31000.00000", "0.100", "32000.00000", "0.200"));
    let t0 = a[0].2;
    let near = |got: i64, want: i64| (want..=want + 1 + started.elapsed().as_secs() as i64).contains(&got);
    assert!(near(a[1].2, t0 + 100), "each level stamped when it was made: {a:?}");
    // A later Depth, nothing changed: the same stamps (not the time of the query).
    advance(30);
    assert_eq!(asks(), a);
    // Another order joins the first level: only that level's stamp moves.
    sell("31000.0", "0.05");
    let b = asks();
    assert_eq!((b[0].1.as_str(), b[1].2), ("0.150", a[1].2), "only the joined level's stamp moves: {b:?}");
    assert!(near(b[0].2, t0 + 130), "{b:?}");
    // A fill takes part of it: stamped again.
    advance(20);
    place(&s, &t, &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.12")]);
    let c = asks();
    assert_eq!((c[0].1.as_str(), c[1].2), ("0.030", a[1].2), "{c:?}");
    assert!(near(c[0].2, t0 + 150) && c[0].2 >= b[0].2 + 20, "{c:?}");
    // A refused order changes nothing, the book's clock included.
    advance(5);
    let refused =
        s.private(&k, "AddOrder", &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "31000.0"), ("volume", "100")]);
    assert_eq!(err(&refused), "EOrder:Insufficient funds");
    assert_eq!(asks(), c);
}

#[test]
fn public_data_in_krakens_formats() {
    let s = Server::start();
    let k = s.account("pub", "10000", "1", "all");
    place(&s, &k, &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "90000.0"), ("volume", "0.5")]);
    place(&s, &k, &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "80000.0"), ("volume", "0.01234567")]);
    let tk = s.public("Ticker", "pair=XBTUSD");
    let x = &ok(&tk)["XXBTZUSD"];
    assert_eq!((&x["a"], &x["b"]), (&json!(["90000.00000", "0", "0.500"]), &json!(["80000.00000", "0", "0.012"])), "{x}");
    assert_eq!(x["c"][0].as_str().unwrap().split_once('.').unwrap().1.len(), 5);
    let sp = s.public("Spread", "pair=XBTUSD");
    let last = ok(&sp)["XXBTZUSD"].as_array().unwrap().last().unwrap().clone();
    assert!(last[0].is_u64());
    assert_eq!((&last[1], &last[2]), (&json!("80000.00000"), &json!("90000.00000")));
    let o = s.public("OHLC", "pair=XBTUSD&interval=60");
    let candle = ok(&o)["XXBTZUSD"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(candle[1].as_str().unwrap().split_once('.').unwrap().1.len(), 1, "OHLC at pair_decimals: {candle}");
    assert_eq!(candle[6].as_str().unwrap().split_once('.').unwrap().1.len(), 8);
    let t = s.account("pub-taker", "1000", "0", "all");
    place(&s, &t, &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.001")]);
    let tr = s.public("Trades", "pair=XBTUSD");
    let row = ok(&tr)["XXBTZUSD"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&row[0], &row[1], &row[3], &row[4]), (&json!("90000.00000"), &json!("0.00100000"), &json!("b"), &json!("m")), "{row}");
    assert!(row[2].is_f64());

    let a = s.public("Assets", "asset=XBT,XDG");
    assert_eq!(
        serde_json::to_string(&ok(&a)["XXBT"]).unwrap(),
        r#"{"aclass":"currency","altname":"XBT","decimals":10,"display_decimals":5,"collateral_value":1.0,"status":"enabled"}"#
    );
    assert!(ok(&a)["XXDG"].get("collateral_value").is_none(), "{a}");
    let p = s.public("AssetPairs", "pair=XDGUSD");
    let x = &ok(&p)["XDGUSD"];
    assert_eq!((&x["cost_decimals"], &x["pair_decimals"], &x["lot_decimals"]), (&json!(9), &json!(7), &json!(8)));
    assert_eq!((&x["leverage_buy"], &x["leverage_sell"]), (&json!([]), &json!([])));
    assert_eq!((&x["status"], &x["execution_venue"]), (&json!("online"), &json!("international")));
    assert_eq!((&x["long_position_limit"], &x["short_position_limit"]), (&json!(0), &json!(0)));
    let keys: Vec<&str> = x.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(&keys[keys.len() - 5..], ["tick_size", "status", "execution_venue", "long_position_limit", "short_position_limit"]);
}

#[test]
fn every_path_under_public_and_private_answers_krakens_envelope() {
    let s = Server::start();
    let call = |verb: &str, path: &str| -> (u16, String, Value) {
        let r = ureq::request(verb, &format!("{}{path}", s.url)).call();
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{verb} {path}: {e}"),
        };
        let (status, ctype) = (resp.status(), resp.header("content-type").unwrap_or("").to_string());
        (status, ctype, resp.into_json().unwrap_or(Value::Null))
    };
    for (verb, path, want) in [
        ("GET", "/0/private/Earn/Strategies", "EGeneral:Unknown method"),
        ("POST", "/0/private/Earn/Strategies", "EGeneral:Unknown method"),
        ("POST", "/0/private/NoSuchMethod", "EGeneral:Unknown method"),
        ("GET", "/0/private/NoSuchMethod", "EGeneral:Unknown method"),
        ("GET", "/0/public/Foo/Bar/Baz", "EGeneral:Unknown method"),
        ("POST", "/0/public/Earn/Strategies", "EGeneral:Unknown method"),
        ("GET", "/0/public/NoSuchThing", "EGeneral:Unknown method"),
        ("PUT", "/0/public/Time", "EGeneral:Unknown method"),
        ("DELETE", "/0/private/Balance", "EGeneral:Unknown method"),
        // A GET on a private method: Kraken reads private calls from a POST body only.
        ("GET", "/0/private/Balance", "EGeneral:Invalid arguments"),
        ("GET", "/0/private/AddOrder?nonce=1&pair=XBTUSD", "EGeneral:Invalid arguments"),
    ] {
        let (status, ctype, body) = call(verb, path);
        assert_eq!((status, ctype.as_str()), (200, "application/json"), "{verb} {path}");
        assert_eq!(body, json!({ "error": [want] }), "{verb} {path}");
    }
    // Outside the API a path stays a plain 404.
    assert_eq!(call("GET", "/0/nothing").0, 404);
}
