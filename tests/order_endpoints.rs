//! AddOrderBatch, AmendOrder, OrderAmends, EditOrder, CancelOrderBatch, OpenPositions and
//! TradeVolume's fee tiers through the real HTTP server, field by field as Kraken answers them:
//! a batch placed, refused whole for one invalid order (nothing placed), and with one order the
//! engine refuses for funds; amends that keep and lose queue priority, shown by which of two
//! equal-priced orders a taker fills first; amend history; edits; batch cancels; fee tiers that
//! move once an account's 30-day volume passes a threshold.

mod common;

use common::{err, next_nonce, ok, Key, Server};
use serde_json::{json, Value};

const TRADER: &str = "Query Funds,Create & Modify Orders,Cancel/Close Orders,Query Open Orders & Trades,Query Closed Orders & Trades";

/// A signed call with a JSON body (what python-kraken-sdk and ccxt send for the batch methods).
fn json_call(s: &Server, k: &Key, method: &str, mut body: Value) -> Value {
    let nonce = next_nonce().to_string();
    body["nonce"] = json!(nonce);
    s.signed(k, method, &nonce, &body.to_string())
}

fn limit(s: &Server, k: &Key, side: &str, volume: &str, price: &str, extra: &[(&str, &str)]) -> String {
    let mut p = vec![("pair", "XBTUSD"), ("type", side), ("ordertype", "limit"), ("volume", volume), ("price", price)];
    p.extend_from_slice(extra);
    ok(&s.private(k, "AddOrder", &p))["txid"][0].as_str().unwrap().to_string()
}

fn market(s: &Server, k: &Key, side: &str, volume: &str) {
    ok(&s.private(k, "AddOrder", &[("pair", "XBTUSD"), ("type", side), ("ordertype", "market"), ("volume", volume)]));
}

fn query(s: &Server, k: &Key, txid: &str) -> Value {
    ok(&s.private(k, "QueryOrders", &[("txid", txid)]))[txid].clone()
}

fn open_count(s: &Server, k: &Key) -> usize {
    ok(&s.private(k, "OpenOrders", &[]))["open"].as_object().unwrap().len()
}

fn usd_hold(s: &Server, k: &Key) -> String {
    ok(&s.private(k, "BalanceEx", &[]))["ZUSD"]["hold_trade"].as_str().unwrap().to_string()
}

#[test]
fn add_order_batch_places_refuses_whole_and_reports_engine_errors_per_order() {
    let s = Server::start();
    let k = s.account("alice", "50000", "1", TRADER);
    let two = json!([
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"},
        {"type": "sell", "ordertype": "limit", "volume": "0.02", "price": "90000", "userref": 7},
    ]);

    // validate: the descriptions only, nothing placed.
    let v = json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": two, "validate": true}));
    assert_eq!(
        ok(&v),
        &json!({"orders": [
            {"descr": {"order": "buy 0.01000000 XBTUSD @ limit 20000.0"}},
            {"descr": {"order": "sell 0.02000000 XBTUSD @ limit 90000.0"}},
        ]})
    );
    assert_eq!(open_count(&s, &k), 0);

    let v = json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": two, "validate": false}));
    let orders = ok(&v)["orders"].as_array().unwrap().clone();
    assert_eq!(orders.len(), 2);
    for (o, text) in orders.iter().zip(["buy 0.01000000 XBTUSD @ limit 20000.0", "sell 0.02000000 XBTUSD @ limit 90000.0"]) {
        let txid = o["txid"].as_str().unwrap();
        assert!(txid.starts_with('O') && txid.len() == 19, "{o}");
        assert_eq!(o["descr"], json!({ "order": text }));
        assert_eq!(o.as_object().unwrap().len(), 2, "{o}");
        assert_eq!(query(&s, &k, txid)["status"], "open");
    }
    let sell = query(&s, &k, orders[1]["txid"].as_str().unwrap());
    assert_eq!(sell["userref"], 7);
    assert_eq!(sell["vol"], "0.02000000");

    // One invalid order refuses the whole batch with its error; nothing is placed or logged.
    let hold_before = usd_hold(&s, &k);
    let committed = s.metric("calamari_committed_commands_total").unwrap();
    let bad = json!([
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"},
        {"type": "buy", "ordertype": "limitt", "volume": "0.01", "price": "20000"},
    ]);
    assert_eq!(err(&json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": bad}))), "EGeneral:Invalid arguments:ordertype");
    let tiny = json!([
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"},
        {"type": "buy", "ordertype": "limit", "volume": "0.00000001", "price": "20000"},
    ]);
    assert_eq!(err(&json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": tiny}))), "EOrder:Order minimum not met");
    let one = json!([{"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"}]);
    assert_eq!(err(&json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": one}))), "EGeneral:Invalid arguments:orders");
    let sixteen: Vec<Value> = (0..16).map(|_| json!({"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "100"})).collect();
    assert_eq!(err(&json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": sixteen}))), "EGeneral:Invalid arguments:orders");
    assert_eq!(err(&json_call(&s, &k, "AddOrderBatch", json!({"pair": "NOPE", "orders": two}))), "EQuery:Unknown asset pair");
    let same_id = json!([
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000", "cl_ord_id": "x-1"},
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000", "cl_ord_id": "x-1"},
    ]);
    assert_eq!(
        err(&json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": same_id}))),
        "EGeneral:Invalid arguments:cl_ord_id"
    );
    assert_eq!(open_count(&s, &k), 2);
    assert_eq!(usd_hold(&s, &k), hold_before);
    assert_eq!(s.metric("calamari_committed_commands_total").unwrap(), committed, "refused batches were logged");

    // The engine refuses the second order for funds; the first and third are placed.
    let funds = json!([
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "21000"},
        {"type": "buy", "ordertype": "limit", "volume": "5", "price": "21000"},
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "22000"},
    ]);
    let v = json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": funds}));
    let orders = ok(&v)["orders"].as_array().unwrap().clone();
    assert_eq!(orders[1], json!({"error": "EOrder:Insufficient funds"}));
    assert!(orders[0]["txid"].is_string() && orders[2]["txid"].is_string(), "{v}");
    assert_eq!(orders[2]["descr"], json!({"order": "buy 0.01000000 XBTUSD @ limit 22000.0"}));
    assert_eq!(open_count(&s, &k), 4);

    // The form spelling Kraken's docs show (orders[i][field]).
    let v = s.private(
        &k,
        "AddOrderBatch",
        &[
            ("pair", "XBTUSD"),
            ("orders[0][type]", "buy"),
            ("orders[0][ordertype]", "limit"),
            ("orders[0][volume]", "0.01"),
            ("orders[0][price]", "19000"),
            ("orders[1][type]", "buy"),
            ("orders[1][ordertype]", "limit"),
            ("orders[1][volume]", "0.01"),
            ("orders[1][price]", "18000"),
        ],
    );
    assert_eq!(ok(&v)["orders"][1]["descr"], json!({"order": "buy 0.01000000 XBTUSD @ limit 18000.0"}));
    assert_eq!(open_count(&s, &k), 6);
    // Fifteen orders in the form spelling (91 fields with their userrefs), as krakenex sends them.
    let fields: Vec<(String, String)> = (0..15)
        .flat_map(|i| {
            let f = |name: &str, v: String| (format!("orders[{i}][{name}]"), v);
            [
                f("type", "buy".into()),
                f("ordertype", "limit".into()),
                f("volume", "0.01".into()),
                f("price", format!("{}", 17000 - i * 10)),
                f("userref", "7".into()),
                f("oflags", "post".into()),
            ]
        })
        .chain([("pair".to_string(), "XBTUSD".to_string())])
        .collect();
    let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let v = s.private(&k, "AddOrderBatch", &refs);
    assert_eq!(ok(&v)["orders"].as_array().map(Vec::len), Some(15), "{v}");
    assert_eq!(open_count(&s, &k), 21);
    s.assert_no_panics();
}

#[test]
fn amend_keeps_priority_on_a_smaller_quantity_and_loses_it_on_a_larger_one() {
    let s = Server::start();
    let a = s.account("a", "10000", "0", TRADER);
    let b = s.account("b", "10000", "0", TRADER);
    let taker = s.account("t", "0", "1", TRADER);

    // a is ahead of b at 30000; a halves its quantity and keeps its place.
    let a1 = limit(&s, &a, "buy", "0.02", "30000", &[]);
    let b1 = limit(&s, &b, "buy", "0.02", "30000", &[]);
    let v = s.private(&a, "AmendOrder", &[("txid", &a1), ("order_qty", "0.01")]);
    let amend_id = ok(&v)["amend_id"].as_str().unwrap().to_string();
    assert!(amend_id.starts_with('T') && amend_id.len() == 19, "{v}");
    assert_eq!(ok(&v).as_object().unwrap().len(), 1);
    let depth = s.public("Depth", "pair=XBTUSD");
    assert_eq!(ok(&depth)["XXBTZUSD"]["bids"][0][1].as_str().unwrap().parse::<f64>().unwrap(), 0.03);
    market(&s, &taker, "sell", "0.01");
    let q = query(&s, &a, &a1);
    assert_eq!((q["status"].as_str(), q["vol"].as_str(), q["vol_exec"].as_str()), (Some("closed"), Some("0.01000000"), Some("0.01000000")));
    assert_eq!(query(&s, &b, &b1)["vol_exec"], "0.00000000");

    // a places again behind b and raises its quantity: still behind b.
    let a2 = limit(&s, &a, "buy", "0.01", "30000", &[]);
    ok(&s.private(&a, "AmendOrder", &[("txid", &a2), ("order_qty", "0.03")]));
    market(&s, &taker, "sell", "0.02");
    assert_eq!(query(&s, &b, &b1)["status"], "closed");
    assert_eq!(query(&s, &a, &a2)["vol_exec"], "0.00000000");
    assert_eq!(query(&s, &a, &a2)["vol"], "0.03000000");
    assert_eq!((query(&s, &a, &a2)["misc"].as_str(), query(&s, &b, &b1)["misc"].as_str()), (Some("amended"), Some("")));

    // b places behind a, a moves its price away and back: a is now behind b.
    let b2 = limit(&s, &b, "buy", "0.01", "30000", &[]);
    ok(&s.private(&a, "AmendOrder", &[("txid", &a2), ("limit_price", "29000")]));
    assert_eq!(query(&s, &a, &a2)["descr"]["price"], "29000.0");
    ok(&s.private(&a, "AmendOrder", &[("txid", &a2), ("limit_price", "30000")]));
    market(&s, &taker, "sell", "0.01");
    assert_eq!(query(&s, &b, &b2)["status"], "closed");
    assert_eq!(query(&s, &a, &a2)["vol_exec"], "0.00000000");

    // The amend history: the original, then each amend, oldest first.
    let h = ok(&s.private(&a, "OrderAmends", &[("order_id", &a2)])).clone();
    assert_eq!(h["count"], 4);
    let amends = h["amends"].as_array().unwrap();
    let row = |i: usize| {
        let r = &amends[i];
        (
            r["amend_type"].as_str().unwrap(),
            r["order_qty"].as_str().unwrap(),
            r["remaining_qty"].as_str().unwrap(),
            r["limit_price"].as_str().unwrap(),
        )
    };
    assert_eq!(row(0), ("original", "0.01000000", "0.01000000", "30000.0"));
    assert_eq!(row(1), ("user", "0.03000000", "0.03000000", "30000.0"));
    assert_eq!(row(2), ("user", "0.03000000", "0.03000000", "29000.0"));
    assert_eq!(row(3), ("user", "0.03000000", "0.03000000", "30000.0"));
    for r in amends {
        assert!(r["amend_id"].as_str().unwrap().starts_with('T'));
        assert_eq!(r["post_only"], false);
        assert!(r["timestamp"].as_u64().unwrap() > 1_600_000_000_000, "milliseconds: {r}");
    }
    // An order never amended has only its original entry.
    let b3 = limit(&s, &b, "buy", "0.01", "1000", &[]);
    let h = ok(&s.private(&b, "OrderAmends", &[("order_id", &b3)])).clone();
    assert_eq!(h["count"], 1);
    assert_eq!(h["amends"][0]["amend_type"], "original");
    // A closed order's history is in its history row: a1 (amended once, then filled) and a2
    // once canceled answer the same as while they were open.
    let h1 = ok(&s.private(&a, "OrderAmends", &[("order_id", &a1)])).clone();
    assert_eq!((h1["count"].clone(), h1["amends"][1]["order_qty"].clone()), (json!(2), json!("0.01000000")));
    assert_eq!(query(&s, &a, &a1)["misc"], "amended");
    let open = ok(&s.private(&a, "OrderAmends", &[("order_id", &a2)])).clone();
    ok(&s.private(&a, "CancelOrder", &[("txid", &a2)]));
    assert_eq!(ok(&s.private(&a, "OrderAmends", &[("order_id", &a2)])).clone(), open);
    assert_eq!(query(&s, &a, &a2)["misc"], "amended");
    s.assert_no_panics();

    // A restart replays the amends: the same orders, book and history come back.
    let snapshot = |s: &Server| {
        let orders = ok(&s.private(&a, "QueryOrders", &[("txid", &format!("{a1},{a2}"))])).clone();
        let amends = [&a1, &a2].map(|o| ok(&s.private(&a, "OrderAmends", &[("order_id", o)])).clone());
        let depth = s.public("Depth", "pair=XBTUSD");
        let bids: Vec<(Value, Value)> =
            ok(&depth)["XXBTZUSD"]["bids"].as_array().unwrap().iter().map(|l| (l[0].clone(), l[1].clone())).collect();
        (orders, amends, bids)
    };
    let before = snapshot(&s);
    let dir = s.data_dir.clone();
    let mut s = s;
    let _keep = s._tmp_take();
    s.terminate();
    let s2 = Server::start_in(&dir);
    assert_eq!(snapshot(&s2), before);
}

#[test]
fn amend_refusals_change_nothing() {
    let s = Server::start();
    let a = s.account("a", "1000", "0", TRADER);
    let other = s.account("o", "1000", "1", TRADER);
    let o1 = limit(&s, &a, "buy", "0.01", "30000", &[("cl_ord_id", "mine-1"), ("oflags", "post")]);
    let hold = usd_hold(&s, &a);
    assert_eq!(hold, "301.2000", "cost 300 plus the highest taker fee, 0.40%");
    let committed = s.metric("calamari_committed_commands_total").unwrap();

    // Needs more than the account has.
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("order_qty", "0.1")])), "EOrder:Insufficient funds");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("cl_ord_id", "mine-1"), ("limit_price", "150000")])), "EOrder:Insufficient funds");
    // Unknown orders, someone else's order, nothing to amend, fields a limit order does not have.
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", "OAAAAA-AAAAA-AAAAAA"), ("order_qty", "0.01")])), "EOrder:Unknown order");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("cl_ord_id", "nobody"), ("order_qty", "0.01")])), "EOrder:Unknown order");
    assert_eq!(err(&s.private(&other, "AmendOrder", &[("txid", &o1), ("order_qty", "0.01")])), "EOrder:Unknown order");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1)])), "EGeneral:Invalid arguments:order_qty");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("trigger_price", "31000")])), "EGeneral:Invalid arguments:trigger_price");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("display_qty", "0.005")])), "EGeneral:Invalid arguments:display_qty");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("limit_price", "30000.05")])), "EGeneral:Invalid arguments:limit_price");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("order_qty", "0.00000001")])), "EOrder:Order minimum not met");
    // A post-only order's new price may not take.
    limit(&s, &other, "sell", "0.01", "31000", &[]);
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("limit_price", "32000")])), "EGeneral:Invalid arguments:post_only");
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("limit_price", "31000")])), "EGeneral:Invalid arguments:post_only");
    // Only the other account's sell above was logged.
    assert_eq!(s.metric("calamari_committed_commands_total").unwrap(), committed + 1.0, "refused amends were logged");
    assert_eq!(usd_hold(&s, &a), hold);
    let q = query(&s, &a, &o1);
    assert_eq!(
        (q["vol"].as_str(), q["descr"]["price"].as_str(), q["status"].as_str()),
        (Some("0.01000000"), Some("30000.0"), Some("open"))
    );
    assert_eq!(ok(&s.private(&a, "OrderAmends", &[("order_id", &o1)]))["count"], 1);

    // A smaller quantity releases hold exactly; a quantity at or below the filled one ends it.
    ok(&s.private(&a, "AmendOrder", &[("txid", &o1), ("order_qty", "0.005")]));
    assert_eq!(usd_hold(&s, &a), "150.6000");
    market(&s, &other, "sell", "0.002");
    ok(&s.private(&a, "AmendOrder", &[("txid", &o1), ("order_qty", "0.002")]));
    let q = query(&s, &a, &o1);
    assert_eq!((q["status"].as_str(), q["vol_exec"].as_str()), (Some("canceled"), Some("0.00200000")));
    assert_eq!(usd_hold(&s, &a), "0.0000");
    // A closed order cannot be amended.
    assert_eq!(err(&s.private(&a, "AmendOrder", &[("txid", &o1), ("order_qty", "0.01")])), "EOrder:Unknown order");
    s.assert_no_panics();
}

#[test]
fn edit_order_replaces_with_a_new_txid() {
    let s = Server::start();
    let a = s.account("a", "10000", "0", TRADER);
    let taker = s.account("t", "0", "1", TRADER);
    let o1 = limit(&s, &a, "buy", "0.02", "30000", &[("userref", "12")]);
    let v = s.private(&a, "EditOrder", &[("txid", &o1), ("pair", "XBTUSD"), ("volume", "0.03"), ("price", "29500")]);
    let r = ok(&v).clone();
    let new = r["txid"].as_str().unwrap().to_string();
    assert_ne!(new, o1);
    assert_eq!(
        r,
        json!({
            "status": "ok", "txid": new, "originaltxid": o1, "volume": "0.03000000", "price": "29500.0", "price2": "0.0",
            "orders_cancelled": 1, "descr": {"order": "buy 0.03000000 XBTUSD @ limit 29500.0"},
        })
    );
    assert_eq!(query(&s, &a, &o1)["status"], "canceled");
    let q = query(&s, &a, &new);
    assert_eq!((q["status"].as_str(), q["vol"].as_str(), q["userref"].as_i64()), (Some("open"), Some("0.03000000"), Some(12)));
    assert_eq!(usd_hold(&s, &a), "888.5400", "29500 × 0.03 plus 0.40%");

    // Partly filled: the new volume counts what was executed; below it is refused.
    market(&s, &taker, "sell", "0.01");
    assert_eq!(err(&s.private(&a, "EditOrder", &[("txid", &new), ("pair", "XBTUSD"), ("volume", "0.01")])), "EOrder:Invalid order");
    let v = s.private(&a, "EditOrder", &[("txid", &new), ("pair", "XBTUSD"), ("volume", "0.025")]);
    let third = ok(&v)["txid"].as_str().unwrap().to_string();
    assert_eq!(query(&s, &a, &third)["vol"], "0.01500000");
    assert_eq!(query(&s, &a, &new)["vol_exec"], "0.01000000");
    // Refusals change nothing.
    assert_eq!(
        err(&s.private(&a, "EditOrder", &[("txid", &third), ("pair", "ETHUSD"), ("volume", "0.02")])),
        "EGeneral:Invalid arguments:pair"
    );
    assert_eq!(err(&s.private(&a, "EditOrder", &[("txid", &third), ("pair", "XBTUSD"), ("volume", "1")])), "EOrder:Insufficient funds");
    assert_eq!(err(&s.private(&a, "EditOrder", &[("txid", &o1), ("pair", "XBTUSD"), ("volume", "0.02")])), "EOrder:Unknown order");
    assert_eq!(
        err(&s.private(&a, "EditOrder", &[("txid", &third), ("pair", "XBTUSD"), ("cl_ord_id", "x")])),
        "EGeneral:Invalid arguments:cl_ord_id"
    );
    assert_eq!(query(&s, &a, &third)["status"], "open");
    assert_eq!(open_count(&s, &a), 1);
    s.assert_no_panics();
}

#[test]
fn cancel_order_batch_cancels_by_txid_userref_and_cl_ord_id() {
    let s = Server::start();
    let a = s.account("a", "10000", "0", TRADER);
    let t1 = limit(&s, &a, "buy", "0.01", "20000", &[]);
    limit(&s, &a, "buy", "0.01", "20100", &[("userref", "7")]);
    limit(&s, &a, "buy", "0.01", "20200", &[("userref", "7")]);
    limit(&s, &a, "buy", "0.01", "20300", &[("cl_ord_id", "c-1")]);
    let keep = limit(&s, &a, "buy", "0.01", "20400", &[]);
    let v = json_call(&s, &a, "CancelOrderBatch", json!({"orders": [t1, "7", "OAAAAA-AAAAA-AAAAAA"], "cl_ord_ids": ["c-1"]}));
    assert_eq!(ok(&v), &json!({"count": 4}));
    assert_eq!(open_count(&s, &a), 1);
    assert_eq!(query(&s, &a, &keep)["status"], "open");
    assert_eq!(query(&s, &a, &t1)["status"], "canceled");
    // Nothing found: Kraken's unknown order; no identifiers at all: invalid.
    assert_eq!(err(&json_call(&s, &a, "CancelOrderBatch", json!({"orders": [t1]}))), "EOrder:Unknown order");
    assert_eq!(err(&json_call(&s, &a, "CancelOrderBatch", json!({}))), "EGeneral:Invalid arguments:orders");
    let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    assert_eq!(err(&json_call(&s, &a, "CancelOrderBatch", json!({"orders": many}))), "EGeneral:Invalid arguments:orders");
    // The older object spelling.
    let v = json_call(&s, &a, "CancelOrderBatch", json!({"orders": [{"txid": keep}]}));
    assert_eq!(ok(&v), &json!({"count": 1}));
    assert_eq!(open_count(&s, &a), 0);
    s.assert_no_panics();
}

#[test]
fn open_positions_is_empty_on_spot() {
    let s = Server::start();
    let a = s.account("a", "10", "0", "Query Open Orders & Trades");
    assert_eq!(ok(&s.private(&a, "OpenPositions", &[])), &json!({}));
    assert_eq!(ok(&s.private(&a, "OpenPositions", &[("docalcs", "true")])), &json!({}));
    assert_eq!(ok(&s.private(&a, "OpenPositions", &[("docalcs", "true"), ("consolidation", "market")])), &json!([]));
    assert_eq!(err(&s.private(&a, "OpenPositions", &[("consolidation", "pair")])), "EGeneral:Invalid arguments:consolidation");
}

#[test]
fn get_api_key_info_names_the_key_and_its_kraken_permission_ids() {
    let s = Server::start();
    let a = s.account("a", "10", "0", "Query Funds,Cancel/Close Orders,Access WebSockets API");
    assert_eq!(
        ok(&s.private(&a, "GetApiKeyInfo", &[])),
        &json!({"apiKeyName": "test", "permissions": ["query-funds", "close-trades", "create-ws-token"]})
    );
    // Kraken's page: permission "None", so a key without any permission may ask too.
    let bare = s.key("a", "bare", "none");
    assert_eq!(ok(&s.private(&bare, "GetApiKeyInfo", &[])), &json!({"apiKeyName": "bare", "permissions": []}));
    // A GET answers as any private method does.
    let v: Value = ureq::get(&format!("{}/0/private/GetApiKeyInfo", s.url)).call().unwrap().into_json().unwrap();
    assert_eq!(err(&v), "EGeneral:Invalid arguments");
}

#[test]
fn trade_volume_moves_to_the_next_fee_tier_after_enough_volume() {
    let s = Server::start();
    let maker = s.account("m", "0", "1", TRADER);
    let taker = s.account("t", "20000", "0", TRADER);
    let fees = |k: &Key| ok(&s.private(k, "TradeVolume", &[("pair", "XBTUSD")])).clone();
    assert_eq!(
        fees(&taker),
        json!({
            "currency": "ZUSD", "volume": "0.0000",
            "fees": {"XXBTZUSD": {"fee": "0.4000", "minfee": "0.0500", "maxfee": "0.4000", "nextfee": "0.3500", "nextvolume": "10000.0000", "tiervolume": "0.0000"}},
            "fees_maker": {"XXBTZUSD": {"fee": "0.2500", "minfee": "0.0000", "maxfee": "0.2500", "nextfee": "0.2000", "nextvolume": "10000.0000", "tiervolume": "0.0000"}},
        })
    );
    limit(&s, &maker, "sell", "0.2", "60000", &[]);
    market(&s, &taker, "buy", "0.2");
    for k in [&maker, &taker] {
        let v = fees(k);
        assert_eq!(v["volume"], "12000.0000");
        assert_eq!(
            v["fees"]["XXBTZUSD"],
            json!({"fee": "0.3500", "minfee": "0.0500", "maxfee": "0.4000", "nextfee": "0.2400", "nextvolume": "50000.0000", "tiervolume": "10000.0000"})
        );
        assert_eq!(v["fees_maker"]["XXBTZUSD"]["fee"], "0.2000");
        assert_eq!(v["fees_maker"]["XXBTZUSD"]["tiervolume"], "10000.0000");
    }
    // The next trade is charged at the new rate: 0.35% of 600 = 2.1 USD for the taker.
    limit(&s, &maker, "sell", "0.01", "60000", &[]);
    market(&s, &taker, "buy", "0.01");
    let trades = ok(&s.private(&taker, "TradesHistory", &[]))["trades"].clone();
    let last = trades.as_object().unwrap().values().find(|t| t["vol"] == "0.0100000000" || t["vol"] == "0.01000000").unwrap().clone();
    assert!(last["fee"].as_str().unwrap().starts_with("2.1"), "{last}");
}

/// The 30-day window is counted on the clock the fills are stamped with (the test clock here):
/// 31 days on, the volume has left the window and the tier is back to the first.
#[test]
fn trade_volume_window_follows_the_engine_clock() {
    let s = Server::start_with(&[], &[("CALAMARI_TEST_CLOCK", "1")]);
    let maker = s.account("m", "0", "1", TRADER);
    let taker = s.account("t", "20000", "0", TRADER);
    limit(&s, &maker, "sell", "0.2", "60000", &[]);
    market(&s, &taker, "buy", "0.2");
    let volume = |k: &Key| ok(&s.private(k, "TradeVolume", &[("pair", "XBTUSD")])).clone();
    assert_eq!(volume(&taker)["fees"]["XXBTZUSD"]["tiervolume"], "10000.0000");
    s.admin_post("/admin/clock/advance", json!({ "seconds": 29 * 86_400 })).unwrap();
    assert_eq!(volume(&taker)["volume"], "12000.0000");
    s.admin_post("/admin/clock/advance", json!({ "seconds": 2 * 86_400 })).unwrap();
    let v = volume(&taker);
    assert_eq!((v["volume"].as_str(), v["fees"]["XXBTZUSD"]["fee"].as_str()), (Some("0.0000"), Some("0.4000")));
    assert_eq!(v["fees"]["XXBTZUSD"]["tiervolume"], "0.0000");
}

/// Kraken's AmendOrder cost on the matching engine's counter: +1 and +3 under 5 s since the order
/// was placed or last amended, so a Starter account (60) gets about fifteen quick amends of one
/// order; the refused amend changes nothing.
#[test]
fn quick_amends_meet_the_trading_counter() {
    let s = Server::start_with(&["--limits", "kraken"], &[]);
    s.cli(&["account", "create", "st"]);
    s.cli(&["account", "tier", "st", "starter"]);
    s.cli(&["deposit", "--account", "st", "USD", "10000"]);
    let k = s.key("st", "k", TRADER);
    let o = limit(&s, &k, "buy", "0.01", "30000", &[]);
    let mut accepted = 0;
    let refusal = loop {
        let qty = format!("0.{:04}", 100 - accepted);
        let v = s.private(&k, "AmendOrder", &[("txid", &o), ("order_qty", &qty)]);
        if v["error"] != json!([]) {
            break err(&v);
        }
        accepted += 1;
        assert!(accepted < 30, "never refused");
    };
    assert_eq!(refusal, "EOrder:Rate limit exceeded");
    assert!((14..=15).contains(&accepted), "{accepted} amends before the refusal");
    assert_eq!(query(&s, &k, &o)["vol"], format!("0.{:04}0000", 100 - accepted + 1));
    assert_eq!(ok(&s.private(&k, "OrderAmends", &[("order_id", &o)]))["count"], accepted + 1);
}

#[test]
fn a_deadline_holds_for_batches_amends_and_edits() {
    let s = Server::start();
    let k = s.account("dora", "50000", "1", TRADER);
    let txid = limit(&s, &k, "buy", "0.01", "20000", &[]);
    let before = query(&s, &k, &txid);
    let past = "2001-01-01T00:00:00Z";
    let far = "2999-01-01T00:00:00Z";
    let two = json!([
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20000"},
        {"type": "buy", "ordertype": "limit", "volume": "0.01", "price": "20001"},
    ]);
    for (deadline, want) in [(past, "EService:Deadline elapsed"), (far, "EGeneral:Invalid arguments:deadline")] {
        let b = json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": two, "deadline": deadline}));
        assert_eq!(err(&b), want, "batch {b}");
        let a = s.private(&k, "AmendOrder", &[("txid", &txid), ("order_qty", "0.005"), ("deadline", deadline)]);
        assert_eq!(err(&a), want, "amend {a}");
        let e = s.private(&k, "EditOrder", &[("txid", &txid), ("pair", "XBTUSD"), ("volume", "0.02"), ("deadline", deadline)]);
        assert_eq!(err(&e), want, "edit {e}");
    }
    // Nothing changed: one open order, as it was.
    assert_eq!(open_count(&s, &k), 1);
    assert_eq!(query(&s, &k, &txid), before);
    // A deadline a few seconds ahead lets each through.
    let soon = {
        let t = ok(&s.public("Time", ""))["unixtime"].as_u64().unwrap() + 30;
        let secs = t % 86_400;
        let days = t / 86_400;
        let (y, m, d) = calamari::calendar::civil_from_days(days as i64);
        format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
    };
    let a = s.private(&k, "AmendOrder", &[("txid", &txid), ("order_qty", "0.005"), ("deadline", &soon)]);
    assert!(ok(&a)["amend_id"].is_string(), "{a}");
    let b = json_call(&s, &k, "AddOrderBatch", json!({"pair": "XBTUSD", "orders": two, "deadline": soon}));
    assert_eq!(ok(&b)["orders"].as_array().unwrap().len(), 2, "{b}");
}
