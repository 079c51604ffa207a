//! kill -9 at random moments under concurrent signed load, several times per run. Four traders
//! send signed AddOrder/CancelOrder and an operator sends deposits, all at once; the server is
//! killed at a seeded random moment, and after each restart:
//!
//! * 0 acknowledged commands missing: every acknowledged order is there, every acknowledged
//!   cancel took effect, every acknowledged deposit's refid is in the trader's ledger;
//! * 0 duplicated: each deposit refid once; no more orders or deposits than were acknowledged
//!   plus those whose answer the kill swallowed;
//! * nothing half-applied: `calamari audit` (conservation, holds = open orders, books) is ok;
//! * conservation, in integers: per asset, Σ the traders' deposits = Σ their balances + Σ the
//!   fees they paid;
//! * the state equals a replay of what was persisted: the digest of `calamari replay` on the
//!   killed server's data directory equals the restarted server's, and again after a second
//!   restart.
//!
//! `CRASH_KILLS` (default 5) sets the number of kills, `CRASH_SEED` the seed (printed).

mod common;
use common::{ok, try_private, Key, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TRADERS: usize = 4;
const ARGS: &[&str] = &["--limits", "off"];

/// What the clients were told, over all rounds.
#[derive(Default)]
struct Acked {
    /// txid -> trader
    orders: BTreeMap<String, usize>,
    canceled: Vec<(usize, String)>,
    /// refid -> (trader, asset, units)
    deposits: BTreeMap<String, (usize, &'static str, i128)>,
}

/// Requests whose answer the kill swallowed, in one round.
#[derive(Default, Debug)]
struct InFlight {
    orders: usize,
    cancels: usize,
    deposits: usize,
}

fn units(text: &str, decimals: u32) -> i128 {
    calamari::money::parse_units(text, decimals).unwrap_or_else(|| panic!("not a decimal amount: {text:?}"))
}

fn decimals(asset: &str) -> u32 {
    match asset {
        "ZUSD" => 4,
        "XXBT" => 10,
        other => panic!("unexpected asset {other}"),
    }
}

/// A deposit through the admin interface: `Ok(Some(refid))` acknowledged, `Ok(None)` refused,
/// `Err` no answer.
fn deposit(url: &str, token: &str, account: &str, asset: &str, amount: &str) -> Result<Option<String>, String> {
    let body = json!({ "account": account, "asset": asset, "amount": amount });
    match ureq::post(&format!("{url}/admin/deposits"))
        .timeout(Duration::from_secs(30))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(body)
    {
        Ok(r) => {
            let v: Value = r.into_json().map_err(|e| e.to_string())?;
            Ok(v["refid"].as_str().map(str::to_string))
        }
        Err(ureq::Error::Status(..)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn trader_load(url: String, k: Key, who: usize, seed: u64, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) -> InFlight {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lost = InFlight::default();
    let mut mine: Vec<String> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if rng.gen_bool(0.3) && !mine.is_empty() {
            let id = mine.swap_remove(rng.gen_range(0..mine.len()));
            match try_private(&url, &k, "CancelOrder", &[("txid", &id)]) {
                Ok(r) if r["result"]["count"] == 1 => acked.lock().unwrap().canceled.push((who, id)),
                Ok(_) => {}
                Err(_) => {
                    lost.cancels += 1;
                    break;
                }
            }
        } else {
            let side = if rng.gen_bool(0.5) { "buy" } else { "sell" };
            let price = format!("{}.0", 49_990 + rng.gen_range(0..20));
            let volume = format!("0.00{}", rng.gen_range(1..10));
            let params = [("pair", "XBTUSD"), ("type", side), ("ordertype", "limit"), ("price", &price), ("volume", &volume)];
            match try_private(&url, &k, "AddOrder", &params) {
                Ok(r) => {
                    if let Some(id) = r["result"]["txid"][0].as_str() {
                        acked.lock().unwrap().orders.insert(id.to_string(), who);
                        mine.push(id.to_string());
                    }
                }
                Err(_) => {
                    lost.orders += 1;
                    break;
                }
            }
        }
    }
    lost
}

fn deposit_load(url: String, token: String, seed: u64, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) -> InFlight {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lost = InFlight::default();
    while !stop.load(Ordering::Relaxed) {
        let who = rng.gen_range(0..TRADERS);
        let (asset, id, amount) = if rng.gen_bool(0.5) {
            ("USD", "ZUSD", format!("{}.{:04}", rng.gen_range(0..500), rng.gen_range(1..10_000)))
        } else {
            ("XBT", "XXBT", format!("0.{:010}", rng.gen_range(1..100_000_000u64)))
        };
        match deposit(&url, &token, &format!("trader{who}"), asset, &amount) {
            Ok(Some(refid)) => {
                acked.lock().unwrap().deposits.insert(refid, (who, id, units(&amount, decimals(id))));
            }
            Ok(None) => panic!("deposit refused"),
            Err(_) => {
                lost.deposits += 1;
                break;
            }
        }
    }
    lost
}

/// Every ledger entry of a trader, all pages.
fn ledger(s: &Server, k: &Key) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let r = s.private(k, "Ledgers", &[("ofs", &all.len().to_string())]);
        let page: Vec<Value> = ok(&r)["ledger"].as_object().unwrap().values().cloned().collect();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn audit(s: &Server) -> Value {
    let v: Value = serde_json::from_str(s.cli(&["audit"]).trim()).unwrap();
    assert_eq!(v["ok"], true, "audit after restart: {v}");
    v
}

/// All the checks after a restart; returns (orders, user deposits) in the state.
fn check_after_restart(s: &Server, keys: &[Key], acked: &Acked, round: usize) -> (usize, usize) {
    // Acknowledged orders, then acknowledged cancels.
    for (who, k) in keys.iter().enumerate() {
        let mine: Vec<&str> = acked.orders.iter().filter(|(_, w)| **w == who).map(|(t, _)| t.as_str()).collect();
        for chunk in mine.chunks(50) {
            let q = s.private(k, "QueryOrders", &[("txid", &chunk.join(","))]);
            let found = ok(&q).as_object().unwrap();
            for id in chunk {
                assert!(found.contains_key(*id), "round {round}: acknowledged order {id} lost after kill -9");
            }
        }
        for (_, id) in acked.canceled.iter().filter(|(w, _)| *w == who) {
            let q = s.private(k, "QueryOrders", &[("txid", id)]);
            assert_eq!(ok(&q)[id]["status"], "canceled", "round {round}: acknowledged cancel of {id} lost");
        }
    }
    // Deposits once each; conservation in integers.
    let mut deposits_in_state = 0;
    let mut deposited: HashMap<String, i128> = HashMap::new();
    let mut fees: HashMap<String, i128> = HashMap::new();
    let mut balances: HashMap<String, i128> = HashMap::new();
    let mut refids: HashMap<String, usize> = HashMap::new();
    for (who, k) in keys.iter().enumerate() {
        for e in ledger(s, k) {
            let asset = e["asset"].as_str().unwrap().to_string();
            let d = decimals(&asset);
            *fees.entry(asset.clone()).or_default() += units(e["fee"].as_str().unwrap(), d);
            if e["type"] == "deposit" {
                deposits_in_state += 1;
                *deposited.entry(asset).or_default() += units(e["amount"].as_str().unwrap(), d);
                *refids.entry(format!("{who}/{}", e["refid"].as_str().unwrap())).or_default() += 1;
            }
        }
        let b = s.private(k, "Balance", &[]);
        for (asset, amount) in ok(&b).as_object().unwrap() {
            *balances.entry(asset.clone()).or_default() += units(amount.as_str().unwrap(), decimals(asset));
        }
    }
    for (refid, n) in &refids {
        assert_eq!(*n, 1, "round {round}: deposit {refid} appears {n} times in the ledger");
    }
    for (refid, (who, asset, amount)) in &acked.deposits {
        assert!(refids.contains_key(&format!("{who}/{refid}")), "round {round}: acknowledged deposit {refid} ({amount} {asset}) missing");
    }
    for asset in ["ZUSD", "XXBT"] {
        let (d, b, f) = (deposited[asset], balances.get(asset).copied().unwrap_or(0), fees.get(asset).copied().unwrap_or(0));
        assert_eq!(d, b + f, "round {round}: {asset} not conserved: deposits {d} != balances {b} + fees {f}");
    }
    (audit(s)["orders"].as_u64().unwrap() as usize, deposits_in_state)
}

fn offline_replay(dir: &std::path::Path) -> Value {
    let out = std::process::Command::new(common::BIN).arg("--data-dir").arg(dir).arg("replay").output().unwrap();
    assert!(
        out.status.success(),
        "calamari replay failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn kill_9_under_load_loses_nothing_acknowledged() {
    let kills: usize = std::env::var("CRASH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash: CRASH_SEED={seed} CRASH_KILLS={kills}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = Server::start_with(ARGS, &[]);
    let _tmp = s._tmp_take();
    let dir = s.data_dir.clone();
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap().trim().to_string();
    let keys: Vec<Key> = (0..TRADERS).map(|i| s.account(&format!("trader{i}"), "100000", "2", "all")).collect();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let (mut unknown_orders, mut unknown_deposits) = (0, 0);
    let setup_deposits = TRADERS * 2;
    let started = std::time::Instant::now();
    for round in 1..=kills {
        let (o0, c0, d0) = {
            let a = acked.lock().unwrap();
            (a.orders.len(), a.canceled.len(), a.deposits.len())
        };
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (who, k) in keys.iter().cloned().enumerate() {
            let (url, acked, stop, seed) = (s.url.clone(), acked.clone(), stop.clone(), rng.gen());
            threads.push(std::thread::spawn(move || trader_load(url, k, who, seed, acked, stop)));
        }
        {
            let (url, token, acked, stop, seed) = (s.url.clone(), token.clone(), acked.clone(), stop.clone(), rng.gen());
            threads.push(std::thread::spawn(move || deposit_load(url, token, seed, acked, stop)));
        }
        let after_ms = rng.gen_range(300..1500);
        std::thread::sleep(Duration::from_millis(after_ms));
        s.assert_no_panics(); // the kill is on purpose; the zero-panic check comes before it
        s.kill9();
        stop.store(true, Ordering::Relaxed);
        let mut lost = InFlight::default();
        for t in threads {
            let l = t.join().unwrap();
            lost.orders += l.orders;
            lost.cancels += l.cancels;
            lost.deposits += l.deposits;
        }
        unknown_orders += lost.orders;
        unknown_deposits += lost.deposits;
        let replayed = offline_replay(&dir);
        assert_eq!(replayed["ok"], true, "round {round}: offline replay finds a broken invariant: {replayed}");
        s = Server::start_in_with(&dir, ARGS, &[]);
        let live = audit(&s);
        assert_eq!(live["digest"], replayed["digest"], "round {round}: restarted state differs from the offline replay");
        let a = acked.lock().unwrap();
        let (orders, deposits) = check_after_restart(&s, &keys, &a, round);
        assert!(
            orders >= a.orders.len() && orders <= a.orders.len() + unknown_orders,
            "round {round}: {orders} orders in the state, acknowledged {} + unanswered {unknown_orders}",
            a.orders.len()
        );
        assert!(
            deposits <= setup_deposits + a.deposits.len() + unknown_deposits,
            "round {round}: {deposits} deposits in the state, acknowledged {} + unanswered {unknown_deposits}",
            setup_deposits + a.deposits.len()
        );
        // A second restart replays to the same state.
        s.assert_no_panics(); // the kill is on purpose; the zero-panic check comes before it
        s.kill9();
        s = Server::start_in_with(&dir, ARGS, &[]);
        assert_eq!(audit(&s)["digest"], replayed["digest"], "round {round}: second restart differs");
        eprintln!(
            "crash round {round}: killed after {after_ms} ms; acked {} orders, {} cancels, {} deposits; in flight at the kill: {lost:?}; \
             state after restart: {} records, {orders} orders ({} unanswered ones landed in total), {deposits} deposits ({} unanswered \
             landed), digest {} = offline replay, = after 2nd restart",
            a.orders.len() - o0,
            a.canceled.len() - c0,
            a.deposits.len() - d0,
            replayed["records"],
            orders - a.orders.len(),
            deposits - setup_deposits - a.deposits.len(),
            &replayed["digest"].as_str().unwrap()[..12],
        );
    }
    let a = acked.lock().unwrap();
    assert!(a.orders.len() > 20 * kills && !a.deposits.is_empty(), "too little load to mean anything: {} orders", a.orders.len());
    eprintln!(
        "crash: {kills} kills, {} orders, {} cancels, {} deposits acknowledged, none lost or duplicated; {:.1} s",
        a.orders.len(),
        a.canceled.len(),
        a.deposits.len(),
        started.elapsed().as_secs_f64()
    );
}
