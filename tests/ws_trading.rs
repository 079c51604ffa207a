//! WebSocket v2 trading against the real server with a real WebSocket client (tungstenite),
//! tokens from REST GetWebSocketsToken: each method's ack field by field, orders placed over WS
//! seen by REST, amends keeping and losing queue priority as REST's do, batch_add refused whole,
//! cancel_order by order_id, cl_ord_id and order_userref with one ack per order, and the errors
//! (bad token, missing permission, insufficient funds, unknown order, the trading rate counter).

mod common;

use common::ws::{acks, send, token, Socket};
use common::{ok, Key, Server};
use serde_json::{json, Value};

const TRADER: &str = "Query Funds,Create & Modify Orders,Cancel/Close Orders,Query Open Orders & Trades,\
                      Query Closed Orders & Trades,Access WebSockets API";

/// A connection with its token.
struct Conn {
    ws: Socket,
    token: String,
    next_req: u64,
}

fn open(s: &Server, k: &Key) -> Conn {
    Conn { ws: common::ws::open(s), token: token(s, k), next_req: 100 }
}

impl Conn {
    /// Sends `method` with `params` (plus the token) and a fresh req_id; returns the req_id.
    fn send(&mut self, method: &str, mut params: Value) -> u64 {
        self.next_req += 1;
        if params.get("token").is_none() {
            params["token"] = json!(self.token);
        }
        send(&mut self.ws, json!({"method": method, "params": params, "req_id": self.next_req}));
        self.next_req
    }

    /// The next `n` acks carrying `req_id` (other messages skipped).
    fn acks(&mut self, req_id: u64, n: usize) -> Vec<Value> {
        acks(&mut self.ws, req_id, n)
    }

    /// One request, its one ack.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        self.acks(id, 1).remove(0)
    }
}

fn rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|t| t.len() >= 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T')
}

/// A successful ack: its envelope checked, its `result` returned.
fn result(a: &Value, method: &str) -> Value {
    assert_eq!(a["success"], true, "{a}");
    assert_eq!(a["method"], method, "{a}");
    assert!(a.get("error").is_none(), "{a}");
    assert!(rfc3339(&a["time_in"]) && rfc3339(&a["time_out"]), "{a}");
    a["result"].clone()
}

fn error(a: &Value) -> String {
    assert_eq!(a["success"], false, "{a}");
    assert!(a.get("result").is_none(), "{a}");
    a["error"].as_str().unwrap_or_else(|| panic!("no error: {a}")).to_string()
}

fn is_txid(v: &Value) -> bool {
    v.as_str().is_some_and(|t| t.len() == 19 && t.starts_with('O'))
}

fn order(s: &Server, k: &Key, txid: &str) -> Value {
    ok(&s.private(k, "QueryOrders", &[("txid", txid)]))[txid].clone()
}

fn open_orders(s: &Server, k: &Key) -> serde_json::Map<String, Value> {
    ok(&s.private(k, "OpenOrders", &[]))["open"].as_object().unwrap().clone()
}

fn limit(c: &mut Conn, side: &str, qty: f64, price: u64, extra: Value) -> String {
    let mut p = json!({"order_type": "limit", "side": side, "order_qty": qty, "symbol": "BTC/USD", "limit_price": price});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let a = c.call("add_order", p);
    result(&a, "add_order")["order_id"].as_str().unwrap_or_else(|| panic!("{a}")).to_string()
}

#[test]
fn add_order_is_rest_s_order_and_its_ack_is_kraken_s() {
    let s = Server::start();
    let k = s.account("a", "100000", "0", TRADER);
    let mut c = open(&s, &k);
    // Exact decimals as JSON numbers: the text the client wrote, never a float's.
    let id = c.send(
        "add_order",
        json!({"order_type": "limit", "side": "buy", "order_qty": 0.12345678, "symbol": "BTC/USD", "limit_price": 20000.1,
               "cl_ord_id": "ws-one", "time_in_force": "gtc"}),
    );
    let a = c.acks(id, 1).remove(0);
    let r = result(&a, "add_order");
    assert_eq!(a["req_id"], id);
    assert!(is_txid(&r["order_id"]), "{a}");
    assert_eq!(r["cl_ord_id"], "ws-one");
    assert_eq!(r.as_object().unwrap().len(), 2, "{r}");
    let txid = r["order_id"].as_str().unwrap();
    let o = order(&s, &k, txid);
    assert_eq!((o["status"].as_str(), o["vol"].as_str()), (Some("open"), Some("0.12345678")));
    assert_eq!(o["descr"]["price"], "20000.1");
    assert_eq!((o["descr"]["type"].as_str(), o["descr"]["pair"].as_str()), (Some("buy"), Some("XBTUSD")));
    assert_eq!(o["cl_ord_id"], "ws-one");
    assert!(open_orders(&s, &k).contains_key(txid));

    // order_userref echoed as a number; XBT/USD accepted; post_only is REST's `post` flag.
    let r = result(
        &c.call(
            "add_order",
            json!({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "XBT/USD", "limit_price": 19000,
                   "order_userref": 77, "post_only": true}),
        ),
        "add_order",
    );
    assert_eq!(r["order_userref"], 77);
    let o = order(&s, &k, r["order_id"].as_str().unwrap());
    // (A buy's fee in quote is REST's default flag.)
    assert_eq!((o["userref"].as_i64(), o["oflags"].as_str()), (Some(77), Some("post,fciq")));

    // validate: checked, nothing placed.
    let before = open_orders(&s, &k).len();
    let a = c.call(
        "add_order",
        json!({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "BTC/USD", "limit_price": 100, "validate": true}),
    );
    result(&a, "add_order");
    assert_eq!(open_orders(&s, &k).len(), before);

    // REST's errors, in v2's field names.
    let e =
        error(&c.call("add_order", json!({"order_type": "limit", "side": "buy", "order_qty": "x", "symbol": "BTC/USD", "limit_price": 1})));
    assert_eq!(e, "EGeneral:Invalid arguments:order_qty");
    let e = error(
        &c.call("add_order", json!({"order_type": "limit", "side": "buy", "order_qty": 100, "symbol": "BTC/USD", "limit_price": 20000})),
    );
    assert_eq!(e, "EOrder:Insufficient funds");
    let e =
        error(&c.call("add_order", json!({"order_type": "limit", "side": "buy", "order_qty": 1, "symbol": "NOPE/USD", "limit_price": 2})));
    assert_eq!(e, "EQuery:Unknown asset pair");
    assert_eq!(open_orders(&s, &k).len(), before);
    s.assert_no_panics();
}

#[test]
fn tokens_and_permissions_decide() {
    let s = Server::start();
    let k = s.account("a", "100000", "0", TRADER);
    let mut c = open(&s, &k);
    let order = json!({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "BTC/USD", "limit_price": 100});
    let mut bad = order.clone();
    bad["token"] = json!("not-a-token");
    assert_eq!(error(&c.call("add_order", bad)), "ESession:Invalid session");
    let id = c.next_req + 1;
    send(&mut c.ws, json!({"method": "cancel_all", "req_id": id}));
    c.next_req = id;
    // No token at all: Kraken's argument error.
    assert_eq!(error(&c.acks(id, 1)[0]), "EGeneral:Invalid arguments");

    // A token of a key without Create & Modify Orders: the REST permission table decides.
    let reader = s.key("a", "reader", "Query Funds,Access WebSockets API");
    let mut r = open(&s, &reader);
    assert_eq!(error(&r.call("add_order", order.clone())), "EAccount:Invalid permissions");
    assert_eq!(error(&r.call("cancel_all", json!({}))), "EAccount:Invalid permissions");
    // Cancel/Close Orders alone may cancel but not place.
    let canceler = s.key("a", "canceler", "Cancel/Close Orders,Access WebSockets API");
    let mut cc = open(&s, &canceler);
    assert_eq!(result(&cc.call("cancel_all", json!({})), "cancel_all"), json!({"count": 0}));
    assert_eq!(error(&cc.call("add_order", order)), "EAccount:Invalid permissions");
    assert!(open_orders(&s, &k).is_empty());
}

#[test]
fn amend_and_edit_keep_and_lose_priority_as_rest() {
    let s = Server::start();
    let a = s.account("a", "100000", "0", TRADER);
    let b = s.account("b", "100000", "0", TRADER);
    let taker = s.account("t", "0", "1", TRADER);
    let (mut ca, mut cb) = (open(&s, &a), open(&s, &b));
    let market = |qty: &str| {
        ok(&s.private(&taker, "AddOrder", &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "market"), ("volume", qty)])).clone()
    };

    // a is ahead of b; a smaller quantity keeps a's place.
    let a1 = limit(&mut ca, "buy", 0.02, 30000, json!({}));
    let b1 = limit(&mut cb, "buy", 0.02, 30000, json!({}));
    let r = result(&ca.call("amend_order", json!({"order_id": a1, "order_qty": 0.01})), "amend_order");
    assert!(r["amend_id"].as_str().is_some_and(|t| t.starts_with('T') && t.len() == 19), "{r}");
    assert_eq!(r["order_id"], a1.as_str());
    assert_eq!(r.as_object().unwrap().len(), 2);
    market("0.01");
    assert_eq!(order(&s, &a, &a1)["status"], "closed");
    assert_eq!(order(&s, &b, &b1)["vol_exec"], "0.00000000");

    // b2 placed behind b1; a new price and back loses b1's place (by cl_ord_id this time).
    let a2 = limit(&mut ca, "buy", 0.01, 30000, json!({"cl_ord_id": "a-two"}));
    let r = result(&ca.call("amend_order", json!({"cl_ord_id": "a-two", "limit_price": 29000})), "amend_order");
    assert_eq!(r["cl_ord_id"], "a-two");
    assert!(r.get("order_id").is_none());
    assert_eq!(order(&s, &a, &a2)["descr"]["price"], "29000.0");
    result(&ca.call("amend_order", json!({"order_id": a2, "limit_price": 30000})), "amend_order");
    market("0.02");
    assert_eq!(order(&s, &b, &b1)["status"], "closed");
    assert_eq!(order(&s, &a, &a2)["vol_exec"], "0.00000000");
    assert_eq!(error(&ca.call("amend_order", json!({"order_id": "OAAAAA-BBBBB-CCCCCC", "order_qty": 1}))), "EOrder:Unknown order");

    // edit_order: a new order id in the original's place, the original canceled.
    let r =
        result(&ca.call("edit_order", json!({"order_id": a2, "symbol": "BTC/USD", "order_qty": 0.03, "limit_price": 29500})), "edit_order");
    assert_eq!(r["original_order_id"], a2.as_str());
    assert!(is_txid(&r["order_id"]) && r["order_id"] != a2.as_str(), "{r}");
    assert_eq!(order(&s, &a, &a2)["status"], "canceled");
    let new = order(&s, &a, r["order_id"].as_str().unwrap());
    assert_eq!((new["vol"].as_str(), new["descr"]["price"].as_str()), (Some("0.03000000"), Some("29500.0")));
    s.assert_no_panics();
}

#[test]
fn cancels_one_ack_per_order() {
    let s = Server::start();
    let k = s.account("a", "100000", "0", TRADER);
    let mut c = open(&s, &k);
    let o1 = limit(&mut c, "buy", 0.01, 1000, json!({}));
    let o2 = limit(&mut c, "buy", 0.01, 1001, json!({}));
    let o3 = limit(&mut c, "buy", 0.01, 1002, json!({"cl_ord_id": "c-three"}));
    let o4 = limit(&mut c, "buy", 0.01, 1003, json!({"order_userref": 5}));
    let o5 = limit(&mut c, "buy", 0.01, 1004, json!({"order_userref": 5}));

    let id = c.send("cancel_order", json!({"order_id": [o1, o2]}));
    let acks = c.acks(id, 2);
    assert_eq!(result(&acks[0], "cancel_order"), json!({"order_id": o1}));
    assert_eq!(result(&acks[1], "cancel_order"), json!({"order_id": o2}));
    assert_eq!(
        result(&c.call("cancel_order", json!({"cl_ord_id": ["c-three"]})), "cancel_order"),
        json!({"order_id": o3, "cl_ord_id": "c-three"})
    );
    let id = c.send("cancel_order", json!({"order_userref": [5]}));
    let acks = c.acks(id, 2);
    let mut got: Vec<String> = acks.iter().map(|a| result(a, "cancel_order")["order_id"].as_str().unwrap().to_string()).collect();
    got.sort();
    let mut want = vec![o4.clone(), o5.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(acks.iter().all(|a| a["result"]["order_userref"] == 5));
    for o in [&o1, &o2, &o3, &o4, &o5] {
        assert_eq!(order(&s, &k, o)["status"], "canceled");
    }
    // Already canceled, never issued, no such client id: Kraken's unknown order.
    assert_eq!(error(&c.call("cancel_order", json!({"order_id": [o1]}))), "EOrder:Unknown order");
    assert_eq!(error(&c.call("cancel_order", json!({"order_id": ["nonsense"]}))), "EOrder:Unknown order");
    assert_eq!(error(&c.call("cancel_order", json!({"cl_ord_id": ["nobody"]}))), "EOrder:Unknown order");
    assert_eq!(error(&c.call("cancel_order", json!({}))), "EGeneral:Invalid arguments:order_id");

    // Requests of one connection run in the order sent: a cancel sent right behind its order,
    // before the order's ack was read, finds it.
    let add = c.send(
        "add_order",
        json!({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "BTC/USD", "limit_price": 1000, "cl_ord_id": "pipe"}),
    );
    let cancel = c.send("cancel_order", json!({"cl_ord_id": ["pipe"]}));
    let placed = result(&c.acks(add, 1)[0], "add_order");
    assert_eq!(result(&c.acks(cancel, 1)[0], "cancel_order"), json!({"order_id": placed["order_id"], "cl_ord_id": "pipe"}));
    assert_eq!(
        error(&c.call("add_order", json!({"order_type": "limit", "side": "buy", "order_qty": 1}))),
        "EGeneral:Invalid arguments:symbol"
    );

    // cancel_all and the dead man's switch.
    limit(&mut c, "buy", 0.01, 1000, json!({}));
    limit(&mut c, "buy", 0.01, 1000, json!({}));
    assert_eq!(result(&c.call("cancel_all", json!({})), "cancel_all"), json!({"count": 2}));
    let r = result(&c.call("cancel_all_orders_after", json!({"timeout": 60})), "cancel_all_orders_after");
    let (now, at) = (r["currentTime"].as_str().unwrap(), r["triggerTime"].as_str().unwrap());
    assert!(now.ends_with('Z') && at.ends_with('Z') && at > now, "{r}");
    let r = result(&c.call("cancel_all_orders_after", json!({"timeout": 0})), "cancel_all_orders_after");
    assert_eq!(r["triggerTime"], "0");
    s.assert_no_panics();
}

#[test]
fn batches_all_or_none_then_per_order() {
    let s = Server::start();
    let k = s.account("a", "100000", "0", TRADER);
    let mut c = open(&s, &k);
    let entry = |qty: Value, price: u64, extra: Value| {
        let mut o = json!({"order_type": "limit", "side": "buy", "order_qty": qty, "limit_price": price});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    // One invalid order refuses the whole batch: nothing placed.
    let bad = json!({"symbol": "BTC/USD", "orders": [entry(json!(0.01), 1000, json!({})), entry(json!(0.00000001), 1000, json!({}))]});
    assert_eq!(error(&c.call("batch_add", bad)), "EOrder:Order minimum not met");
    assert!(open_orders(&s, &k).is_empty());

    let good = json!({"symbol": "BTC/USD", "orders": [
        entry(json!(0.01), 1000, json!({"cl_ord_id": "b-1"})),
        entry(json!(0.02), 1001, json!({"order_userref": 9})),
    ]});
    let r = result(&c.call("batch_add", good), "batch_add");
    let list = r.as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(list.len(), 2);
    assert!(is_txid(&list[0]["order_id"]) && is_txid(&list[1]["order_id"]));
    assert_eq!((list[0]["cl_ord_id"].as_str(), list[1]["order_userref"].as_i64()), (Some("b-1"), Some(9)));
    assert_eq!(order(&s, &k, list[1]["order_id"].as_str().unwrap())["vol"], "0.02000000");

    // An order the engine refuses (funds) gets its own error, the others are placed.
    let mixed = json!({"symbol": "BTC/USD", "orders": [entry(json!(0.01), 1000, json!({})), entry(json!(50), 30000, json!({}))]});
    let r = result(&c.call("batch_add", mixed), "batch_add");
    assert!(is_txid(&r[0]["order_id"]), "{r}");
    assert_eq!(r[1]["error"], "EOrder:Insufficient funds");
    assert_eq!(open_orders(&s, &k).len(), 3);

    let ids = [list[0]["order_id"].clone(), r[0]["order_id"].clone()];
    let r = result(&c.call("batch_cancel", json!({"orders": ids})), "batch_cancel");
    assert_eq!(r, json!({"count": 2}));
    assert_eq!(result(&c.call("batch_cancel", json!({"orders": [9, "OAAAAA-BBBBB-CCCCCC"]})), "batch_cancel"), json!({"count": 1}));
    assert!(open_orders(&s, &k).is_empty());
    s.assert_no_panics();
}

#[test]
fn trading_counter_is_rest_s() {
    let s = Server::start_with(&["--limits", "kraken"], &[]);
    let k = s.account("a", "100000", "0", TRADER);
    let mut c = open(&s, &k);
    // Quick cancels cost +8 each on the pair's counter (60 for an intermediate account... 125):
    // the refusal comes over WS as it would over REST.
    let mut refusal = None;
    for _ in 0..40 {
        let a =
            c.call("add_order", json!({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "BTC/USD", "limit_price": 1000}));
        if a["success"] == false {
            refusal = Some(error(&a));
            break;
        }
        let id = a["result"]["order_id"].clone();
        let a = c.call("cancel_order", json!({"order_id": [id]}));
        if a["success"] == false {
            refusal = Some(error(&a));
            break;
        }
    }
    assert_eq!(refusal.as_deref(), Some("EOrder:Rate limit exceeded"));
    // The same counter refuses REST now.
    let v =
        s.private(&k, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("volume", "0.01"), ("price", "1000")]);
    let rest_cancel = {
        let open: Vec<String> = open_orders(&s, &k).keys().cloned().collect();
        open.first().map(|o| s.private(&k, "CancelOrder", &[("txid", o)]))
    };
    let refused = |v: &Value| v["error"] == json!(["EOrder:Rate limit exceeded"]);
    assert!(refused(&v) || rest_cancel.as_ref().is_some_and(refused), "{v} {rest_cancel:?}");
}

#[test]
fn triggers_conditional_and_price_types_become_rest_s_prices() {
    let s = Server::start_with(&["--limits", "off"], &[]);
    let k = s.account("a", "100000", "1", TRADER);
    let mut c = open(&s, &k);
    let place = |c: &mut Conn, p: Value| {
        let a = c.call("add_order", p);
        result(&a, "add_order")["order_id"].as_str().unwrap_or_else(|| panic!("{a}")).to_string()
    };
    // stop-loss-limit: the trigger is REST's price, the limit its price2.
    let sl = place(
        &mut c,
        json!({"order_type": "stop-loss-limit", "side": "sell", "order_qty": 0.1, "symbol": "BTC/USD",
               "triggers": {"reference": "last", "price": 85000, "price_type": "static"}, "limit_price": 84000}),
    );
    let o = order(&s, &k, &sl);
    assert_eq!(o["descr"]["order"], "sell 0.10000000 XBTUSD @ stop loss 85000.0 -> limit 84000.0", "{o}");
    // trailing-stop by a quote amount and trailing-stop-limit by a percentage: REST's +n and +n%.
    let ts = place(
        &mut c,
        json!({"order_type": "trailing-stop", "side": "sell", "order_qty": 0.1, "symbol": "BTC/USD",
               "triggers": {"price": 1000, "price_type": "quote"}}),
    );
    assert_eq!(order(&s, &k, &ts)["descr"]["order"], "sell 0.10000000 XBTUSD @ trailing stop +1000.0");
    let tsl = place(
        &mut c,
        json!({"order_type": "trailing-stop-limit", "side": "sell", "order_qty": 0.1, "symbol": "BTC/USD",
               "triggers": {"price": 5, "price_type": "pct"}, "limit_price": -100, "limit_price_type": "quote"}),
    );
    let o = order(&s, &k, &tsl);
    assert_eq!((o["descr"]["ordertype"].as_str(), o["descr"]["price2"].as_str()), (Some("trailing-stop-limit"), Some("-100.0")), "{o}");
    assert!(o["descr"]["price"].as_str().is_some_and(|p| p.starts_with("+5") && p.ends_with('%')), "{o}");
    // conditional: REST's close[...] (a stop-loss-limit close at a relative trigger).
    let lim = place(
        &mut c,
        json!({"order_type": "limit", "side": "buy", "order_qty": 0.01, "symbol": "BTC/USD", "limit_price": 79000,
               "conditional": {"order_type": "stop-loss-limit", "trigger_price": -2000, "trigger_price_type": "quote", "limit_price": 77000}}),
    );
    assert_eq!(order(&s, &k, &lim)["descr"]["close"], "close position @ stop loss -2000.0 -> limit 77000.0");
    // A static trailing distance is REST's absolute price, which REST refuses for trailing stops.
    let a = c.call(
        "add_order",
        json!({"order_type": "trailing-stop", "side": "sell", "order_qty": 0.1, "symbol": "BTC/USD", "triggers": {"price": 1000}}),
    );
    assert!(error(&a).starts_with("EGeneral:Invalid arguments"), "{a}");
    assert_eq!(open_orders(&s, &k).len(), 4);
    s.assert_no_panics();
}
