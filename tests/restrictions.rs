//! Call restrictions end to end, against the real server over HTTP: the REST counter, 64
//! concurrent requests against one counter, lockouts and key expiry on the server's test clock
//! (no sleeps), nonce window, IP allowlist behind a trusted proxy, TOTP and static 2FA, query
//! window, the trading counter's cancel penalties, the open-order cap, public limits, and the
//! verification rule for Withdraw Funds. The rules' arithmetic is tested in src/limits/tests.rs.

mod common;

use common::{err, next_nonce, ok, Key, Server};
use serde_json::{json, Value};
use std::time::Instant;

fn config_file(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("limits.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An account of the given tier with some dollars, and a key with `perms` and extra CLI flags.
fn account_key(s: &Server, name: &str, tier: Option<&str>, perms: &str, flags: &[&str]) -> Key {
    s.cli(&["account", "create", name]);
    if let Some(t) = tier {
        s.cli(&["account", "tier", name, t]);
    }
    s.cli(&["deposit", "--account", name, "USD", "10000"]);
    key_with(s, name, "k", perms, flags).0
}

fn key_with(s: &Server, account: &str, name: &str, perms: &str, flags: &[&str]) -> (Key, Value) {
    let mut args = vec!["key", "create", "--account", account, "--name", name, "--permissions", perms, "--json"];
    args.extend_from_slice(flags);
    let v: Value = serde_json::from_str(s.cli(&args).trim()).unwrap();
    (Key { key: v["key"].as_str().unwrap().into(), secret: v["secret"].as_str().unwrap().into() }, v)
}

fn advance(s: &Server, seconds: u64) {
    s.admin_post("/admin/clock/advance", json!({ "seconds": seconds })).unwrap();
}

const TRADER: &str = "Query Funds,Create & Modify Orders,Cancel/Close Orders,Query Open Orders & Trades";

fn post_only_buy(s: &Server, k: &Key) -> Value {
    s.private(
        k,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", "10000"), ("volume", "0.0001"), ("oflags", "post")],
    )
}

#[test]
fn rest_counter_refuses_the_sixteenth_call_and_history_costs_two() {
    let s = Server::start();
    let k = account_key(&s, "u", None, "Query Funds,Query Ledger Entries", &[]);
    let t = Instant::now();
    let answers: Vec<Value> = (0..16).map(|_| s.private(&k, "Balance", &[])).collect();
    let ledgers: Vec<Value> = {
        let k2 = key_with(&s, "u", "k2", "Query Ledger Entries", &[]).0;
        (0..8).map(|_| s.private(&k2, "Ledgers", &[])).collect()
    };
    assert!(t.elapsed().as_secs_f64() < 3.0, "too slow to test exact counts ({:?})", t.elapsed());
    for a in &answers[..15] {
        ok(a);
    }
    assert_eq!(err(&answers[15]), "EAPI:Rate limit exceeded");
    for a in &ledgers[..7] {
        ok(a);
    }
    assert_eq!(err(&ledgers[7]), "EAPI:Rate limit exceeded", "7 Ledgers = 14; the 8th would be 16 > 15");
    let v: Value = serde_json::from_str(s.cli(&["limits", "u", "--json"]).trim()).unwrap();
    assert_eq!((v["tier"].as_str(), v["counters"][0]["max"].as_f64()), (Some("unverified"), Some(15.0)), "{v}");
    assert!(v["counters"][0]["level"].as_f64().unwrap() > 14.0, "{v}");
    let text = s.cli(&["limits", &k.key]);
    assert!(text.contains("rest counter of key \"k\"") && text.contains("of 15.00"), "{text}");
}

#[test]
fn sixty_four_concurrent_requests_cannot_get_past_the_counter() {
    let s = Server::start();
    // A nonce window lets 64 racing requests through authentication in any order.
    let k = account_key(&s, "racer", None, "Query Funds", &["--nonce-window", "1000000000"]);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(64));
    let t = Instant::now();
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let (c, k, b) = (s.client(), k.clone(), barrier.clone());
            std::thread::spawn(move || {
                let nonce = next_nonce().to_string();
                let body = format!("nonce={nonce}");
                b.wait();
                c.signed(&k, "Balance", &nonce, &body)
            })
        })
        .collect();
    let answers: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let drained = (t.elapsed().as_secs_f64() * 0.33).floor() as usize;
    let passed = answers.iter().filter(|a| a["error"] == json!([])).count();
    let others: Vec<String> = answers.iter().filter(|a| a["error"] != json!([])).map(err).collect();
    assert!(passed <= 15 + drained && passed >= 15, "{passed} passed (drained {drained})");
    assert!(others.iter().all(|e| e == "EAPI:Rate limit exceeded" || e.starts_with("EService:Throttled: ")), "{others:?}");
}

#[test]
fn lockout_after_ten_failures_ends_after_fifteen_minutes_on_the_test_clock() {
    let s = Server::start_with(&[], &[("CALAMARI_TEST_CLOCK", "1")]);
    let good = s.demo.clone().unwrap();
    let bad = Key { key: good.key.clone(), secret: "c2VjcmV0".into() };
    for i in 0..10 {
        assert_eq!(err(&s.private(&bad, "Balance", &[])), "EAPI:Invalid signature", "failure {i}");
    }
    assert_eq!(err(&s.private(&good, "Balance", &[])), "EGeneral:Temporary lockout", "even the right key is refused");
    assert_eq!(err(&s.private(&Key { key: "nope".into(), secret: "c2VjcmV0".into() }, "Balance", &[])), "EGeneral:Temporary lockout");
    ok(&s.public("Time", ""));
    assert!(s.cli(&["lockouts"]).contains("127.0.0.1"));
    advance(&s, 899);
    assert_eq!(err(&s.private(&good, "Balance", &[])), "EGeneral:Temporary lockout");
    advance(&s, 1);
    ok(&s.private(&good, "Balance", &[]));
    assert!(s.cli(&["lockouts"]).contains("no lockouts"));
    // Nine failures, a success, nine failures: no lockout. Then the operator lifts one.
    for round in 0..2 {
        for _ in 0..9 {
            err(&s.private(&Key { key: "unknown".into(), secret: "c2VjcmV0".into() }, "Balance", &[]));
        }
        if round == 0 {
            ok(&s.private(&good, "Balance", &[]));
        }
    }
    ok(&s.private(&good, "Balance", &[]));
    for _ in 0..10 {
        assert_eq!(err(&s.private(&bad, "Balance", &[])), "EAPI:Invalid signature");
    }
    assert_eq!(err(&s.private(&good, "Balance", &[])), "EGeneral:Temporary lockout");
    assert!(s.cli(&["lockouts", "--lift", "127.0.0.1"]).contains("lifted"));
    ok(&s.private(&good, "Balance", &[]));
    let metrics = ureq::get(&format!("{}/metrics", s.url)).call().unwrap().into_string().unwrap();
    assert!(metrics.contains("calamari_lockouts_total 2\n") && metrics.contains("calamari_auth_failures_total 38\n"), "{metrics}");
}

#[test]
fn key_settings_expiry_nonce_window_allowlist_and_query_window() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&dir, "[limits]\ntrusted_proxies = [\"127.0.0.1\"]\n");
    let s = Server::start_with(&["--config", &cfg], &[("CALAMARI_TEST_CLOCK", "1")]);
    let until = (now_secs() + 100).to_string();
    let expiring = key_with(&s, "demo", "exp", "Query Funds", &["--valid-until", &until]).0;
    ok(&s.private(&expiring, "Balance", &[]));
    advance(&s, 100);
    assert_eq!(err(&s.private(&expiring, "Balance", &[])), "EAPI:Invalid key", "expired");

    let windowed = key_with(&s, "demo", "win", "Query Funds", &["--nonce-window", "1000"]).0;
    let n = next_nonce() + 10_000;
    let call = |nonce: u64| s.signed(&windowed, "Balance", &nonce.to_string(), &format!("nonce={nonce}"));
    ok(&call(n));
    ok(&call(n - 5));
    assert_eq!(err(&call(n - 5)), "EAPI:Invalid nonce", "a late nonce is accepted once");
    assert_eq!(err(&call(n - 1001)), "EAPI:Invalid nonce", "outside the window");
    ok(&call(n - 1000));

    let fenced = key_with(&s, "demo", "ip", "Query Funds", &["--ip", "10.0.0.0/8", "--ip", "2001:db8::/32"]).0;
    assert_eq!(err(&s.private(&fenced, "Balance", &[])), "EGeneral:Permission denied", "127.0.0.1 is not allowed");
    ok(&s.private_with(&fenced, "Balance", &[], &[("X-Forwarded-For", "10.1.2.3")]));
    ok(&s.private_with(&fenced, "Balance", &[], &[("X-Forwarded-For", "2001:db8::7, 127.0.0.1")]));
    assert_eq!(err(&s.private_with(&fenced, "Balance", &[], &[("X-Forwarded-For", "11.0.0.1")])), "EGeneral:Permission denied");

    // `key set` replaces the settings of a live key; it keeps its secret and its nonces.
    s.cli(&["key", "set", &windowed.key, "--ip", "10.0.0.0/8"]);
    assert_eq!(err(&s.private(&windowed, "Balance", &[])), "EGeneral:Permission denied");
    s.cli(&["key", "set", &windowed.key]);
    // Above the highest nonce used (n): a fresh `next_nonce()` is only above n - 1000 once 9 ms
    // have passed since n was taken, which a fast run does not always give.
    ok(&call(n + 1));
    assert_eq!(err(&call(n - 1000)), "EAPI:Invalid nonce", "nonces survive a settings change");

    let all = s.demo.clone().unwrap();
    let ledger = ok(&s.private(&all, "Ledgers", &[])).clone();
    assert!(ledger["count"].as_u64().unwrap() >= 2, "the demo deposits: {ledger}");
    let some_id = ledger["ledger"].as_object().unwrap().keys().next().unwrap().clone();
    let from = (now_secs() + 1000).to_string();
    let later = key_with(&s, "demo", "q", "Query Ledger Entries", &["--query-from", &from]).0;
    assert_eq!(ok(&s.private(&later, "Ledgers", &[]))["count"], 0, "nothing before query_from");
    assert_eq!(err(&s.private(&later, "QueryLedgers", &[("id", &some_id)])), "EGeneral:Invalid arguments:id");
    ok(&s.private(&all, "QueryLedgers", &[("id", &some_id)]));
}

#[test]
fn second_factor_totp_and_static_password() {
    let s = Server::start_with(&[], &[("CALAMARI_TEST_CLOCK", "1")]);
    let (totp_key, v) = key_with(&s, "demo", "totp", "Query Funds", &["--otp-totp"]);
    let secret = calamari::limits::second_factor::parse_base32(v["totp_secret"].as_str().unwrap()).unwrap();
    assert_eq!(err(&s.private(&totp_key, "Balance", &[])), "EGeneral:Permission denied", "missing otp");
    assert_eq!(err(&s.private(&totp_key, "Balance", &[("otp", "000000x")])), "EGeneral:Permission denied", "wrong otp");
    let code = calamari::limits::second_factor::totp_code(&secret, now_secs() as u64);
    ok(&s.private(&totp_key, "Balance", &[("otp", &code)]));
    assert_eq!(err(&s.private(&totp_key, "Balance", &[("otp", &code)])), "EGeneral:Permission denied", "a code works once");
    advance(&s, 60);
    let later = calamari::limits::second_factor::totp_code(&secret, now_secs() as u64 + 60);
    ok(&s.private(&totp_key, "Balance", &[("otp", &later)]));
    assert_eq!(err(&s.private(&totp_key, "Balance", &[("otp", &code)])), "EGeneral:Permission denied", "an old code is refused");

    let (pw, _) = key_with(&s, "demo", "pw", "Query Funds", &["--otp-password", "correct horse"]);
    ok(&s.private(&pw, "Balance", &[("otp", "correct horse")]));
    ok(&s.private(&pw, "Balance", &[("otp", "correct horse")]));
    assert_eq!(err(&s.private(&pw, "Balance", &[("otp", "correct")])), "EGeneral:Permission denied");
    let keys = s.cli(&["key", "list", "--json"]);
    assert!(!keys.contains("correct horse") && keys.contains("\"otp\":\"password\""), "{keys}");
}

#[test]
fn trading_limits_cancel_penalties_and_open_order_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&dir, "[limits]\nopen_orders = { starter = 3 }\n");
    let s = Server::start_with(&["--config", &cfg], &[]);
    // Unverified: Starter's trading figures (60, 1/s) and its 60 open orders.
    let k = account_key(&s, "young", None, TRADER, &[]);
    let t = Instant::now();
    let txids: Vec<String> = (0..7).map(|_| ok(&post_only_buy(&s, &k))["txid"][0].as_str().unwrap().to_string()).collect();
    let cancels: Vec<Value> = txids.iter().map(|id| s.private(&k, "CancelOrder", &[("txid", id)])).collect();
    assert!(t.elapsed().as_secs_f64() < 2.0, "too slow to test exact counts ({:?})", t.elapsed());
    for c in &cancels[..6] {
        assert_eq!(ok(c)["count"], 1);
    }
    assert_eq!(err(&cancels[6]), "EOrder:Rate limit exceeded", "7 adds + 6 young cancels = 55; +8 would be 63");
    assert_eq!(ok(&s.private(&k, "CancelAll", &[]))["count"], 1, "CancelAll is never refused");
    assert_eq!(ok(&s.private(&k, "OpenOrders", &[]))["open"], json!({}));
    let v: Value = serde_json::from_str(s.cli(&["limits", "young", "--json"]).trim()).unwrap();
    let trading = v["counters"].as_array().unwrap().iter().find(|c| c["name"].as_str().unwrap().contains("XBTUSD")).unwrap().clone();
    assert!(trading["level"].as_f64().unwrap() > 60.0 && trading["max"] == 60.0, "{v}");

    let capped = account_key(&s, "capped", Some("starter"), TRADER, &[]);
    let first: Vec<String> = (0..3).map(|_| ok(&post_only_buy(&s, &capped))["txid"][0].as_str().unwrap().to_string()).collect();
    assert_eq!(err(&post_only_buy(&s, &capped)), "EOrder:Orders limit exceeded");
    ok(&s.private(&capped, "CancelOrder", &[("txid", &first[0])]));
    ok(&post_only_buy(&s, &capped));
}

#[test]
fn public_calls_are_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_file(&dir, "[limits]\ntrusted_proxies = [\"127.0.0.1/32\"]\n");
    let s = Server::start_with(&["--config", &cfg], &[]);
    let t = Instant::now();
    let answers: Vec<Value> = (0..16).map(|_| s.public("Time", "")).collect();
    assert!(t.elapsed().as_secs_f64() < 1.0);
    for a in &answers[..15] {
        ok(a);
    }
    assert_eq!(err(&answers[15]), "EGeneral:Too many requests");
    ok(&s.public_with("Time", &[("X-Forwarded-For", "198.51.100.7")]));
}

#[test]
fn withdraw_funds_needs_a_verified_account() {
    let s = Server::start();
    s.cli(&["account", "create", "newbie"]);
    let (okay, text) = s.try_cli(&["key", "create", "--account", "newbie", "--name", "w", "--permissions", "Withdraw Funds"]);
    assert!(!okay && text.contains("verify your identity first"), "{text}");
    s.cli(&["account", "tier", "newbie", "starter"]);
    assert!(
        !s.try_cli(&["key", "create", "--account", "newbie", "--name", "w", "--permissions", "Query Funds,Withdraw Funds"]).0,
        "starter is not verified"
    );
    // `all` means every permission the account may hold: on a starter account, all but Withdraw Funds.
    let (okay, text) = s.try_cli(&["key", "create", "--account", "newbie", "--name", "all", "--permissions", "all", "--json"]);
    assert!(okay, "{text}");
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert!(!v["permissions"].as_array().unwrap().iter().any(|p| p == "Withdraw Funds") && v["note"].is_string(), "{v}");
    s.cli(&["account", "tier", "newbie", "intermediate"]);
    key_with(&s, "newbie", "w", "Withdraw Funds", &[]);
    let (bad, text) = s.try_cli(&["account", "tier", "newbie", "gold"]);
    assert!(!bad && text.contains("unknown tier"), "{text}");
}

#[test]
fn simple_profile_one_call_a_second_for_unverified() {
    let s = Server::start_with(&["--limits", "simple"], &[]);
    let slow = account_key(&s, "slow", None, "Query Funds", &[]);
    ok(&s.private(&slow, "Balance", &[]));
    assert_eq!(err(&s.private(&slow, "Balance", &[])), "EAPI:Rate limit exceeded");
    let fast = account_key(&s, "fast", Some("intermediate"), "Query Funds", &[]);
    let passed = (0..25).filter(|_| s.private(&fast, "Balance", &[])["error"] == json!([])).count();
    assert!((20..=22).contains(&passed), "{passed}");
}
