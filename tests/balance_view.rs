//! Signed Balance is answered from the sequencer's balance view (`sequencer::BalanceView`), not
//! through the engine thread; BalanceEx still goes through the engine, in order with the commands.
//! Here, after every step that moves money (deposits, orders placing holds, fills, cancels, an
//! account created after the start, a snapshot restore, a reset, a restart), each account's
//! Balance must be exactly BalanceEx's balances, and the client's own acknowledged write must show
//! at once.

mod common;

use common::{ok, Key, Server};
use serde_json::{Map, Value};

/// BalanceEx's balances, as Balance shows them.
fn from_engine(s: &Server, k: &Key) -> Value {
    let ex = s.private(k, "BalanceEx", &[]);
    let mut m = Map::new();
    for (asset, v) in ok(&ex).as_object().unwrap() {
        m.insert(asset.clone(), v["balance"].clone());
    }
    Value::Object(m)
}

fn check(s: &Server, keys: &[&Key], step: &str) {
    for (i, k) in keys.iter().enumerate() {
        let view = s.private(k, "Balance", &[]);
        assert_eq!(ok(&view), &from_engine(s, k), "{step}: account {i}'s Balance differs from BalanceEx");
    }
}

fn usd(s: &Server, k: &Key) -> String {
    ok(&s.private(k, "Balance", &[]))["ZUSD"].as_str().unwrap_or("none").to_string()
}

#[test]
fn balance_from_the_view_equals_the_engines_after_every_change() {
    let s = Server::start_with(&["--limits", "off"], &[]);
    let demo = s.demo.as_ref().unwrap();
    check(&s, &[demo], "first start");

    // Accounts created after the start: the view had no row for them.
    let alice = s.account("alice", "10000", "1", "all");
    let bob = s.account("bob", "50000", "0", "all");
    s.cli(&["account", "create", "carol"]);
    let carol = s.key("carol", "test", "all");
    assert_eq!(ok(&s.private(&carol, "Balance", &[])), &Value::Object(Map::new()), "an account never credited");
    check(&s, &[demo, &alice, &bob, &carol], "accounts created");

    let sell = s.private(
        &alice,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "30000"), ("volume", "0.5")],
    );
    let sell_id = ok(&sell)["txid"][0].as_str().unwrap().to_string();
    check(&s, &[&alice, &bob], "a resting sell (a hold, no balance change)");

    let before = usd(&s, &bob);
    ok(&s.private(&bob, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.2")]));
    assert_ne!(usd(&s, &bob), before, "the buyer's own fill shows in the next Balance");
    check(&s, &[&alice, &bob], "a fill");

    s.cli(&["deposit", "--account", "carol", "USD", "5"]);
    assert_eq!(usd(&s, &carol), "5.0000");
    check(&s, &[&carol], "carol's first deposit");

    s.cli(&["snapshot", "save", "mid"]);
    let saved = (ok(&s.private(&alice, "Balance", &[])).clone(), ok(&s.private(&bob, "Balance", &[])).clone());
    ok(&s.private(&bob, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.1")]));
    ok(&s.private(&alice, "CancelOrder", &[("txid", &sell_id)]));
    check(&s, &[&alice, &bob], "a second fill and a cancel");
    assert_ne!(ok(&s.private(&bob, "Balance", &[])), &saved.1);

    s.cli(&["snapshot", "restore", "mid", "--yes"]);
    assert_eq!(ok(&s.private(&alice, "Balance", &[])), &saved.0, "the restored state's balances");
    assert_eq!(ok(&s.private(&bob, "Balance", &[])), &saved.1, "the restored state's balances");
    check(&s, &[&alice, &bob, &carol], "after the snapshot restore");

    let dave = s.account("dave", "777", "0", "all");
    check(&s, &[&alice, &bob, &dave], "an account created after the restore");

    let dir = s.data_dir.clone();
    let mut s = s;
    let _keep = s._tmp_take();
    s.terminate();
    let s = Server::start_in_with(&dir, &["--limits", "off"], &[]);
    assert_eq!(ok(&s.private(&bob, "Balance", &[])), &saved.1, "after a restart");
    check(&s, &[&alice, &bob, &carol, &dave], "after a restart");

    let out = s.cli(&["reset", "--yes"]);
    let key = out.lines().find_map(|l| l.strip_prefix("API key:")).unwrap().trim().to_string();
    let secret = out.lines().find_map(|l| l.strip_prefix("API secret:")).unwrap().trim().to_string();
    let demo = Key { key, secret };
    check(&s, &[&demo], "after a reset");
    let erin = s.account("erin", "1", "0", "all");
    check(&s, &[&demo, &erin], "an account created after the reset");
    s.assert_no_panics();
}
