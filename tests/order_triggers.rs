//! Triggered orders end to end through the real server: stop-loss-limit, take-profit,
//! trailing stops (absolute and percentage), `trigger=index` moved by the simulator's Requote,
//! relative prices, the conditional close (full and partial fills), Kraken's refusals (which
//! change nothing), and a restart that replays it all to the same digest. Each untriggered view
//! is asserted field by field as Kraken returns it, and each trigger fires exactly once.

mod common;

use common::xbt_orders::{add, digest, hold_xbt, num, order, place, restart_keeps_digest, three_accounts, trade_at};
use common::{err, ok, Server};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn stop_loss_limit_waits_untriggered_then_fires_once_on_a_trade() {
    let (s, [alice, bob, carol]) = three_accounts(&[], [("0", "1"), ("100000", "1"), ("100000", "1")]);

    let (txid, answer) = place(
        &s,
        &alice,
        &[("type", "sell"), ("ordertype", "stop-loss-limit"), ("price", "85000"), ("price2", "84000"), ("volume", "0.1")],
    );
    assert_eq!(answer["descr"], serde_json::json!({ "order": "sell 0.10000000 XBTUSD @ stop loss 85000.0 -> limit 84000.0" }));
    let o = order(&s, &alice, &txid);
    assert_eq!(o["status"], "open");
    assert_eq!(o["descr"]["ordertype"], "stop-loss-limit");
    assert_eq!(o["descr"]["price"], "85000.0");
    assert_eq!(o["descr"]["price2"], "84000.0");
    assert_eq!(o["descr"]["order"], "sell 0.10000000 XBTUSD @ stop loss 85000.0 -> limit 84000.0");
    assert_eq!(o["descr"]["close"], "");
    assert_eq!(num(&o["stopprice"]), 85000.0);
    assert_eq!(num(&o["limitprice"]), 84000.0);
    assert_eq!(o["trigger"], "last");
    assert_eq!(o["misc"], "");
    assert_eq!(o["vol_exec"], "0.00000000");
    assert!(o.get("trades").is_none());
    assert!(ok(&s.private(&alice, "OpenOrders", &[]))["open"].get(&txid).is_some());
    // It holds what its sell will need, and is not on the book.
    assert_eq!(hold_xbt(&s, &alice), "0.1000000000");
    let depth = ok(&s.public("Depth", "pair=XBTUSD")).clone();
    assert_eq!(depth["XXBTZUSD"]["asks"].as_array().unwrap().len(), 0, "{depth}");

    // Bob bids 84500 for 0.2; a trade at 84500 (carol sells into it) reaches the stop.
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "84500"), ("volume", "0.2")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.05")]);
    let o = order(&s, &alice, &txid);
    assert_eq!(o["status"], "closed", "{o}");
    assert_eq!(o["misc"], "stopped");
    assert_eq!(o["vol_exec"], "0.10000000");
    assert_eq!(num(&o["price"]), 84500.0);
    assert_eq!(num(&o["stopprice"]), 85000.0);
    assert_eq!(num(&o["limitprice"]), 84000.0);
    assert_eq!(o["descr"]["price"], "85000.0", "descr keeps the trigger");
    assert_eq!(o["trades"].as_array().unwrap().len(), 1, "fired once, filled once: {o}");
    assert_eq!(hold_xbt(&s, &alice), "0.0000000000");
    // Bob's bid kept the rest: 0.2 - 0.05 - 0.1.
    let depth = ok(&s.public("Depth", "pair=XBTUSD")).clone();
    assert_eq!(num(&depth["XXBTZUSD"]["bids"][0][1]), 0.05, "{depth}");
    // Another trade below does nothing more.
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    assert_eq!(order(&s, &alice, &txid)["trades"].as_array().unwrap().len(), 1);

    // A restart replays the log to the same state.
    restart_keeps_digest(s, &[]);
}

#[test]
fn a_fired_stops_fills_fire_the_next_stop_in_the_same_command() {
    let (s, [alice, bob, carol]) = three_accounts(&[], [("0", "1"), ("200000", "0"), ("0", "1")]);
    let (first, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "stop-loss"), ("price", "85000"), ("volume", "0.1")]);
    let (second, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "stop-loss"), ("price", "84000"), ("volume", "0.1")]);
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "84900"), ("volume", "0.01")]);
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "83500"), ("volume", "1")]);
    // One market sell of 0.01 at 84900 fires the first stop; its fill at 83500 fires the second.
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    for txid in [&first, &second] {
        let o = order(&s, &alice, txid);
        assert_eq!((o["status"].as_str(), o["misc"].as_str(), num(&o["price"])), (Some("closed"), Some("stopped"), 83500.0), "{o}");
        assert_eq!(o["trades"].as_array().unwrap().len(), 1);
    }
    let trades = ok(&s.public("Trades", "pair=XBTUSD")).clone();
    let prices: Vec<f64> = trades["XXBTZUSD"].as_array().unwrap().iter().rev().take(3).map(|t| num(&t[0])).collect();
    assert_eq!(prices, [83500.0, 83500.0, 84900.0], "{trades}");
}

#[test]
fn take_profit_buy_and_trailing_stops_follow_the_price() {
    let (s, [alice, bob, carol]) = three_accounts(&[], [("100000", "1"), ("100000", "2"), ("100000", "2")]);

    // A take-profit buy fires when the last price falls to its trigger: a market buy then.
    let (tp, answer) = place(&s, &alice, &[("type", "buy"), ("ordertype", "take-profit"), ("price", "80000"), ("volume", "0.1")]);
    assert_eq!(answer["descr"]["order"], "buy 0.10000000 XBTUSD @ take profit 80000.0");
    let usd_hold = ok(&s.private(&alice, "BalanceEx", &[]))["ZUSD"]["hold_trade"].clone();
    assert_eq!(usd_hold, "8032.0000", "cost at the trigger plus the highest taker fee");
    let o = order(&s, &alice, &tp);
    assert_eq!((o["status"].as_str(), num(&o["stopprice"]), num(&o["limitprice"])), (Some("open"), 80000.0, 0.0));

    // Trailing sell stops: 1000.0 and 5% below the highest last price since they were placed.
    let (abs, answer) = place(&s, &alice, &[("type", "sell"), ("ordertype", "trailing-stop"), ("price", "+1000"), ("volume", "0.1")]);
    assert_eq!(answer["descr"]["order"], "sell 0.10000000 XBTUSD @ trailing stop +1000.0");
    let (pct, _) = place(
        &s,
        &alice,
        &[("type", "sell"), ("ordertype", "trailing-stop-limit"), ("price", "+5%"), ("price2", "-100"), ("volume", "0.1")],
    );
    let o = order(&s, &alice, &abs);
    assert_eq!(o["descr"]["price"], "+1000.0");
    assert_eq!(o["descr"]["price2"], "0"); // unset: "0", as recorded trailing stops show
    assert_eq!(num(&o["stopprice"]), 86959.9, "the board's last price 87959.9 less 1000");
    assert_eq!(num(&o["limitprice"]), 87959.9, "a trailing stop shows its peak");
    let o = order(&s, &alice, &pct);
    assert_eq!(o["descr"]["order"], "sell 0.10000000 XBTUSD @ trailing stop +5.0000% -> limit -100.0");
    assert_eq!(num(&o["stopprice"]), 83561.9, "87959.9 x 0.95");
    assert_eq!(num(&o["limitprice"]), 83461.9);

    // The price rises to 90000: the peaks follow.
    trade_at(&s, &bob, &carol, "90000", "sell");
    assert_eq!(num(&order(&s, &alice, &abs)["stopprice"]), 89000.0);
    assert_eq!(num(&order(&s, &alice, &pct)["stopprice"]), 85500.0);
    // It falls to 88500: the absolute one fires (a market sell into bob's bid), the 5% one waits.
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "88500"), ("volume", "0.5")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    let o = order(&s, &alice, &abs);
    assert_eq!(
        (o["status"].as_str(), o["misc"].as_str(), o["vol_exec"].as_str()),
        (Some("closed"), Some("stopped"), Some("0.10000000")),
        "{o}"
    );
    assert_eq!(num(&o["stopprice"]), 89000.0);
    assert_eq!(order(&s, &alice, &pct)["status"], "open");

    // Down to 79000: the take-profit buy fires and buys from bob's ask; the 5% stop fires too,
    // as a limit sell at 85400.0 that rests (no bid that high is left).
    s.private(&bob, "CancelAll", &[]);
    place(&s, &bob, &[("type", "sell"), ("ordertype", "limit"), ("price", "79000"), ("volume", "0.5")]);
    place(&s, &carol, &[("type", "buy"), ("ordertype", "market"), ("volume", "0.01")]);
    let o = order(&s, &alice, &tp);
    assert_eq!((o["status"].as_str(), o["misc"].as_str(), num(&o["price"])), (Some("closed"), Some("touched"), 79000.0), "{o}");
    assert_eq!(o["trades"].as_array().unwrap().len(), 1);
    let o = order(&s, &alice, &pct);
    assert_eq!((o["status"].as_str(), o["misc"].as_str()), (Some("open"), Some("stopped")), "{o}");
    assert_eq!(num(&o["limitprice"]), 85400.0);
    let depth = ok(&s.public("Depth", "pair=XBTUSD")).clone();
    assert!(depth["XXBTZUSD"]["asks"].as_array().unwrap().iter().any(|l| num(&l[0]) == 85400.0), "{depth}");
}

#[test]
fn relative_prices_resolve_against_the_last_trade() {
    let s = Server::start_with(&["--limits", "off"], &[]);
    let alice = s.account("alice", "100000", "1", "all");
    // Last price 87959.9 (the board's). `-1000` and `#5%` for a sell stop-loss: below it.
    let (a, answer) = place(&s, &alice, &[("type", "sell"), ("ordertype", "stop-loss"), ("price", "-1000"), ("volume", "0.01")]);
    assert_eq!(answer["descr"]["order"], "sell 0.01000000 XBTUSD @ stop loss 86959.9");
    let (b, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "stop-loss"), ("price", "#5%"), ("volume", "0.01")]);
    assert_eq!(order(&s, &alice, &a)["descr"]["price"], "86959.9");
    assert_eq!(num(&order(&s, &alice, &b)["stopprice"]), 83561.9, "87959.9 less 5% (4398.0 rounded to the tick)");
    // A buy limit `#2%` goes below the last price; validate shows the request, `#` as the sign it picks.
    let v = ok(&add(&s, &alice, &[("type", "buy"), ("ordertype", "limit"), ("price", "#2%"), ("volume", "0.01"), ("validate", "true")]))
        .clone();
    assert_eq!(v["descr"]["order"], "buy 0.01000000 XBTUSD @ limit -2.0000%");
    let (c, answer) = place(&s, &alice, &[("type", "buy"), ("ordertype", "limit"), ("price", "#2%"), ("volume", "0.01")]);
    assert_eq!(answer["descr"]["order"], "buy 0.01000000 XBTUSD @ limit 86200.7");
    assert_eq!(order(&s, &alice, &c)["descr"]["price"], "86200.7");
}

#[test]
fn conditional_close_is_placed_for_the_executed_volume() {
    let s = Server::start_with(&["--limits", "off"], &[]);
    let alice = s.account("alice", "100000", "0", "all");
    let bob = s.account("bob", "0", "2", "all");

    let (open, answer) = place(
        &s,
        &alice,
        &[
            ("type", "buy"),
            ("ordertype", "limit"),
            ("price", "80000"),
            ("volume", "0.2"),
            ("close[ordertype]", "stop-loss-limit"),
            ("close[price]", "-2000"),
            ("close[price2]", "77000"),
        ],
    );
    assert_eq!(answer["descr"]["order"], "buy 0.20000000 XBTUSD @ limit 80000.0");
    assert_eq!(answer["descr"]["close"], "close position @ stop loss -2000.0 -> limit 77000.0");
    let o = order(&s, &alice, &open);
    assert_eq!(o["descr"]["close"], "close position @ stop loss -2000.0 -> limit 77000.0");
    // A partial fill places nothing yet.
    place(&s, &bob, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.05")]);
    assert_eq!(ok(&s.private(&alice, "OpenOrders", &[]))["open"].as_object().unwrap().len(), 1);
    // The opening order ends (canceled after its partial fill): the close is placed for 0.05,
    // on the other side, its prices relative to the opening order's (80000 - 2000).
    s.private(&alice, "CancelOrder", &[("txid", &open)]);
    let open_now = ok(&s.private(&alice, "OpenOrders", &[]))["open"].clone();
    let (close_txid, close) = open_now.as_object().unwrap().iter().next().expect("a close order");
    assert_ne!(close_txid, &open);
    assert_eq!(close["refid"], open.as_str());
    assert_eq!(close["status"], "open");
    assert_eq!(close["descr"]["type"], "sell");
    assert_eq!(close["descr"]["ordertype"], "stop-loss-limit");
    assert_eq!(close["descr"]["order"], "sell 0.05000000 XBTUSD @ stop loss 78000.0 -> limit 77000.0");
    assert_eq!(num(&close["stopprice"]), 78000.0);
    assert_eq!(close["vol"], "0.05000000");
    assert_eq!(hold_xbt(&s, &alice), "0.0500000000");

    // A full fill places a limit close for the whole volume.
    let (open2, _) = place(
        &s,
        &alice,
        &[
            ("type", "buy"),
            ("ordertype", "limit"),
            ("price", "81000"),
            ("volume", "0.1"),
            ("close[ordertype]", "limit"),
            ("close[price]", "95000"),
        ],
    );
    place(&s, &bob, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.1")]);
    assert_eq!(order(&s, &alice, &open2)["status"], "closed");
    let open_now = ok(&s.private(&alice, "OpenOrders", &[]))["open"].clone();
    let close = open_now.as_object().unwrap().values().find(|o| o["refid"] == open2.as_str()).expect("the limit close").clone();
    assert_eq!(close["descr"]["order"], "sell 0.10000000 XBTUSD @ limit 95000.0");
    // JSON bodies carry the close as an object.
    let nonce = common::next_nonce().to_string();
    let v = s.signed(
        &alice,
        "AddOrder",
        &nonce,
        &serde_json::json!({
            "nonce": nonce, "pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "70000", "volume": "0.01",
            "validate": true, "close": { "ordertype": "take-profit", "price": "#10%" }
        })
        .to_string(),
    );
    assert_eq!(ok(&v)["descr"]["close"], "close position @ take profit +10.0000%", "{v}");
}

#[test]
fn bad_trigger_input_gets_krakens_errors_and_changes_nothing() {
    let s = Server::start_with(&["--limits", "off"], &[]);
    let alice = s.account("alice", "1000", "0.01", "all");
    let before = digest(&s);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("type", "sell"), ("ordertype", "stop-loss"), ("price", "80000"), ("price2", "79000")], "EGeneral:Invalid arguments:price2"),
        (&[("type", "sell"), ("ordertype", "stop-loss-limit"), ("price", "80000")], "EGeneral:Invalid arguments:price2"),
        (&[("type", "sell"), ("ordertype", "limit"), ("price", "80000"), ("price2", "79000")], "EGeneral:Invalid arguments:price2"),
        (&[("type", "sell"), ("ordertype", "trailing-stop"), ("price", "1000")], "EGeneral:Invalid arguments:price"),
        (&[("type", "sell"), ("ordertype", "trailing-stop"), ("price", "-5%")], "EGeneral:Invalid arguments:price"),
        (
            &[("type", "sell"), ("ordertype", "trailing-stop-limit"), ("price", "+5%"), ("price2", "79000")],
            "EGeneral:Invalid arguments:price2",
        ),
        (&[("type", "sell"), ("ordertype", "limit"), ("price", "80000"), ("trigger", "index")], "EGeneral:Invalid arguments:trigger"),
        (&[("type", "sell"), ("ordertype", "stop-loss"), ("price", "80000"), ("trigger", "mark")], "EGeneral:Invalid arguments:trigger"),
        (
            &[("type", "sell"), ("ordertype", "stop-loss-limit"), ("price", "80000"), ("price2", "79000"), ("oflags", "post")],
            "EGeneral:Invalid arguments:oflags",
        ),
        (&[("type", "sell"), ("ordertype", "stop-loss"), ("price", "5%")], "EGeneral:Invalid arguments:price"),
        (&[("type", "sell"), ("ordertype", "settle-position")], "EOrder:Unknown position"),
        (
            &[("type", "buy"), ("ordertype", "limit"), ("price", "100"), ("close[price]", "200")],
            "EGeneral:Invalid arguments:close[ordertype]",
        ),
        (
            &[("type", "buy"), ("ordertype", "limit"), ("price", "100"), ("close[ordertype]", "market")],
            "EGeneral:Invalid arguments:close[ordertype]",
        ),
        (
            &[("type", "buy"), ("ordertype", "limit"), ("price", "100"), ("close[ordertype]", "limit")],
            "EGeneral:Invalid arguments:close[price]",
        ),
        (
            &[("type", "sell"), ("ordertype", "stop-loss"), ("price", "80000.55")],
            "EOrder:Invalid price:XBTUSD price can only be specified up to 1 decimals.",
        ),
        (&[("type", "buy"), ("ordertype", "stop-loss"), ("price", "90000"), ("volume", "0.02")], "EOrder:Insufficient funds"),
        (&[("type", "sell"), ("ordertype", "take-profit"), ("price", "90000"), ("volume", "5")], "EOrder:Insufficient funds"),
    ];
    for (params, want) in cases {
        let mut p = params.to_vec();
        if !p.iter().any(|(k, _)| *k == "volume") {
            p.push(("volume", "0.01"));
        }
        assert_eq!(err(&add(&s, &alice, &p)), *want, "{params:?}");
    }
    assert_eq!(digest(&s), before, "refused orders changed the state");
}

#[test]
fn index_triggers_follow_the_simulators_reference_price() {
    let s = Server::start_with(&["--limits", "off", "--market", "on"], &[]);
    let alice = s.account("alice", "200000", "1", "all");
    let index = || {
        let v: Value = serde_json::from_str(s.cli(&["market", "show", "XBTUSD", "--json"]).trim()).unwrap();
        v["index"].as_str().unwrap().parse::<f64>().unwrap()
    };
    // One tick either side of the index: whichever way it moves next, one of them fires.
    let i = index();
    let up = format!("{:.1}", i + 0.1);
    let down = format!("{:.1}", i - 0.1);
    let (buy, _) =
        place(&s, &alice, &[("type", "buy"), ("ordertype", "stop-loss"), ("price", &up), ("volume", "0.001"), ("trigger", "index")]);
    let (sell, _) =
        place(&s, &alice, &[("type", "sell"), ("ordertype", "stop-loss"), ("price", &down), ("volume", "0.001"), ("trigger", "index")]);
    assert_eq!(order(&s, &alice, &buy)["trigger"], "index");
    let start = Instant::now();
    loop {
        let (b, sl) = (order(&s, &alice, &buy), order(&s, &alice, &sell));
        let fired: Vec<&Value> = [&b, &sl].into_iter().filter(|o| o["misc"] == "stopped").collect();
        if !fired.is_empty() {
            for o in fired {
                assert_eq!(o["status"], "closed", "{o}");
                assert_eq!(o["trades"].as_array().map(Vec::len), Some(1), "{o}");
            }
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the index did not move in a minute: {b} {sl}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn amend_moves_an_armed_stops_trigger_limit_and_quantity() {
    let (s, [alice, bob, carol]) = three_accounts(&[], [("1000", "0.1"), ("100000", "1"), ("100000", "1")]);
    let (txid, _) = place(
        &s,
        &alice,
        &[("type", "sell"), ("ordertype", "stop-loss-limit"), ("price", "85000"), ("price2", "84000"), ("volume", "0.05")],
    );
    // Trigger, limit and quantity amended in place: same txid, new figures, hold follows.
    let a =
        s.private(&alice, "AmendOrder", &[("txid", &txid), ("trigger_price", "80000"), ("limit_price", "79000"), ("order_qty", "0.08")]);
    assert!(ok(&a)["amend_id"].is_string(), "{a}");
    let o = order(&s, &alice, &txid);
    assert_eq!(o["status"], "open");
    assert_eq!(o["descr"]["order"], "sell 0.08000000 XBTUSD @ stop loss 80000.0 -> limit 79000.0", "{o}");
    assert_eq!((num(&o["stopprice"]), num(&o["limitprice"]), num(&o["vol"])), (80000.0, 79000.0, 0.08));
    assert_eq!(hold_xbt(&s, &alice), "0.0800000000");
    // More than the account has: refused, nothing changes.
    let before = order(&s, &alice, &txid);
    assert_eq!(err(&s.private(&alice, "AmendOrder", &[("txid", &txid), ("order_qty", "0.2")])), "EOrder:Insufficient funds");
    assert_eq!(order(&s, &alice, &txid), before);
    assert_eq!(hold_xbt(&s, &alice), "0.0800000000");
    let amends = ok(&s.private(&alice, "OrderAmends", &[("order_id", &txid)])).clone();
    assert_eq!(amends["amends"].as_array().unwrap().len(), 2, "original and one amend: {amends}");

    // A trade at 84500 would have reached the old trigger; the amended one waits.
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "84500"), ("volume", "0.01")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    assert_eq!(order(&s, &alice, &txid)["status"], "open");
    // A trade at 79500 reaches it: it fires once and rests as a limit at 79000 (no bid there).
    place(&s, &bob, &[("type", "buy"), ("ordertype", "limit"), ("price", "79500"), ("volume", "0.01")]);
    place(&s, &carol, &[("type", "sell"), ("ordertype", "market"), ("volume", "0.01")]);
    let o = order(&s, &alice, &txid);
    assert_eq!((o["status"].as_str(), o["misc"].as_str()), (Some("open"), Some("stopped,amended")), "{o}");
    // Fired, it is no longer amendable as a stop.
    assert_eq!(
        err(&s.private(&alice, "AmendOrder", &[("txid", &txid), ("trigger_price", "70000")])),
        "EGeneral:Invalid arguments:trigger_price"
    );
    // A trailing stop's offset is not amendable.
    let (trail, _) = place(&s, &alice, &[("type", "sell"), ("ordertype", "trailing-stop"), ("price", "+500"), ("volume", "0.01")]);
    assert_eq!(
        err(&s.private(&alice, "AmendOrder", &[("txid", &trail), ("trigger_price", "70000")])),
        "EGeneral:Invalid arguments:trigger_price"
    );

    // A restart replays the amends to the same state.
    restart_keeps_digest(s, &[]);
}
