//! kill -9 at random moments under concurrent signed load, several times per run. Four traders
//! send signed AddOrder/CancelOrder, a fifth client sends Withdraw/WithdrawCancel for them (to
//! their verified address-book entries; processing after 1 s, so withdrawals move on between
//! kills) and an operator sends deposits, all at once; the server is killed at a seeded random
//! moment, and after each restart:
//!
//! * 0 acknowledged commands missing: every acknowledged order is there, every acknowledged
//!   cancel took effect, every acknowledged deposit's refid is in the trader's ledger, every
//!   acknowledged withdrawal is in WithdrawStatus and every acknowledged withdrawal cancel shows
//!   `Failure`/`canceled`;
//! * 0 duplicated: each deposit refid once; no more orders or deposits than were acknowledged
//!   plus those whose answer the kill swallowed;
//! * nothing half-applied: `calamari audit` (conservation, holds = open orders, books) is ok;
//! * conservation, in integers: per asset, Σ the traders' deposits − Σ withdrawn = Σ their
//!   balances + Σ the fees they paid (withdrawal fees included);
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
/// Withdrawals are processed after 1 s and broadcast 1 s later, so they move between kills.
// Engine checkpoints on (one a second while there is load), so kills land during their writes too.
const FUNDING_CONFIG: &str =
    "[funding]\nwithdraw_process_seconds = 1\nwithdraw_broadcast_seconds = 1\n[storage]\ncheckpoint_every_seconds = 1\n";

/// What the clients were told, over all rounds.
#[derive(Default)]
struct Acked {
    /// txid -> trader
    orders: BTreeMap<String, usize>,
    canceled: Vec<(usize, String)>,
    /// refid -> (trader, asset, units)
    deposits: BTreeMap<String, (usize, &'static str, i128)>,
    /// withdrawal refid -> trader
    withdrawals: BTreeMap<String, usize>,
    withdrawal_cancels: Vec<(usize, String)>,
}

/// Requests whose answer the kill swallowed, in one round.
#[derive(Default, Debug)]
struct InFlight {
    orders: usize,
    cancels: usize,
    deposits: usize,
    withdrawals: usize,
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

/// Withdrawals of small amounts for every trader, and cancels of some just made.
fn withdraw_load(url: String, keys: Vec<Key>, seed: u64, acked: Arc<Mutex<Acked>>, stop: Arc<AtomicBool>) -> InFlight {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lost = InFlight::default();
    while !stop.load(Ordering::Relaxed) {
        let who = rng.gen_range(0..TRADERS);
        let amount = format!("0.00{}", rng.gen_range(1..10));
        match try_private(&url, &keys[who], "Withdraw", &[("asset", "XBT"), ("key", "out"), ("amount", &amount)]) {
            Ok(r) => {
                let Some(refid) = r["result"]["refid"].as_str() else { continue };
                acked.lock().unwrap().withdrawals.insert(refid.to_string(), who);
                if rng.gen_bool(0.3) {
                    match try_private(&url, &keys[who], "WithdrawCancel", &[("asset", "XBT"), ("refid", refid)]) {
                        Ok(r) if r["result"] == true => acked.lock().unwrap().withdrawal_cancels.push((who, refid.to_string())),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            }
            Err(_) => {
                lost.withdrawals += 1;
                break;
            }
        }
    }
    lost
}

/// Every ledger entry of a trader, all pages (by ledger id: an entry added meanwhile shifts the
/// pages, which may show an entry twice but never skips one).
fn ledger(s: &Server, k: &Key) -> Vec<Value> {
    let mut all = BTreeMap::new();
    let mut ofs = 0;
    loop {
        let r = s.private(k, "Ledgers", &[("ofs", &ofs.to_string())]);
        let page = ok(&r)["ledger"].as_object().unwrap().clone();
        if page.is_empty() {
            return all.into_values().collect();
        }
        ofs += page.len();
        all.extend(page);
    }
}

/// Waits until no withdrawal of the traders is still due to move within the checks (Initial or
/// Pending; Settled ones wait 30 minutes for Bitcoin's confirmations), so that the ledger and the
/// balances read next describe one state.
fn settle_withdrawals(s: &Server, keys: &[Key]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while keys.iter().any(|k| {
        let w = s.private(k, "WithdrawStatus", &[]);
        ok(&w).as_array().unwrap().iter().any(|w| w["status"] == "Initial" || w["status"] == "Pending")
    }) {
        assert!(std::time::Instant::now() < deadline, "withdrawals did not move on");
        std::thread::sleep(Duration::from_millis(100));
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
    // Acknowledged withdrawals, then acknowledged withdrawal cancels.
    settle_withdrawals(s, keys);
    for (who, k) in keys.iter().enumerate() {
        // Every withdrawal, page by page through `cursor`.
        let mut listed = Vec::new();
        let mut cursor = "true".to_string();
        loop {
            let page = ok(&s.private(k, "WithdrawStatus", &[("cursor", &cursor), ("limit", "1000")])).clone();
            listed.extend(page["withdrawals"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => break,
            }
        }
        let by_refid: HashMap<&str, &Value> = listed.iter().map(|w| (w["refid"].as_str().unwrap(), w)).collect();
        for (refid, _) in acked.withdrawals.iter().filter(|(_, w)| **w == who) {
            assert!(by_refid.contains_key(refid.as_str()), "round {round}: acknowledged withdrawal {refid} lost after kill -9");
        }
        for (_, refid) in acked.withdrawal_cancels.iter().filter(|(w, _)| *w == who) {
            let w = by_refid[refid.as_str()];
            assert_eq!((&w["status"], &w["status-prop"]), (&json!("Failure"), &json!("canceled")), "round {round}: cancel of {refid} lost");
        }
    }
    // Deposits once each; conservation in integers.
    let mut deposits_in_state = 0;
    let mut withdrawn: HashMap<String, i128> = HashMap::new();
    let mut deposited: HashMap<String, i128> = HashMap::new();
    let mut fees: HashMap<String, i128> = HashMap::new();
    let mut balances: HashMap<String, i128> = HashMap::new();
    let mut refids: HashMap<String, usize> = HashMap::new();
    for (who, k) in keys.iter().enumerate() {
        for e in ledger(s, k) {
            let asset = e["asset"].as_str().unwrap().to_string();
            let d = decimals(&asset);
            *fees.entry(asset.clone()).or_default() += units(e["fee"].as_str().unwrap(), d);
            if e["type"] == "withdrawal" {
                *withdrawn.entry(asset.clone()).or_default() += units(e["amount"].as_str().unwrap().trim_start_matches('-'), d)
                    * if e["amount"].as_str().unwrap().starts_with('-') { 1 } else { -1 };
            }
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
        let w = withdrawn.get(asset).copied().unwrap_or(0);
        assert_eq!(d - w, b + f, "round {round}: {asset} not conserved: deposits {d} - withdrawn {w} != balances {b} + fees {f}");
    }
    (audit(s)["orders"].as_u64().unwrap() as usize, deposits_in_state)
}

/// `calamari replay` of a data directory, brought to the engine time `at` (a live server's
/// `now_ns`) when given: withdrawals fall due on the clock, so a restarted server may already have
/// applied transitions the log's last record did not reach.
fn offline_replay(dir: &std::path::Path, at: Option<&Value>) -> Value {
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.arg("--data-dir").arg(dir).arg("replay");
    if let Some(t) = at {
        cmd.arg("--at").arg(t.as_u64().unwrap().to_string());
    }
    let out = cmd.output().unwrap();
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
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("funding.toml");
    std::fs::write(&cfg, FUNDING_CONFIG).unwrap();
    let args: &[&str] = &["--limits", "off", "--config", cfg.to_str().unwrap()];
    let mut s = Server::start_with(args, &[]);
    let _tmp = s._tmp_take();
    let dir = s.data_dir.clone();
    let token = std::fs::read_to_string(dir.join("admin.token")).unwrap().trim().to_string();
    let keys: Vec<Key> = (0..TRADERS).map(|i| s.account(&format!("trader{i}"), "100000", "2", "all")).collect();
    for i in 0..TRADERS {
        s.cli(&[
            "address-book",
            "add",
            &format!("trader{i}"),
            "out",
            "--asset",
            "XBT",
            &format!("bc1qcrashtest{i}00000000000000000000000000"),
        ]);
    }
    let acked = Arc::new(Mutex::new(Acked::default()));
    let (mut unknown_orders, mut unknown_deposits) = (0, 0);
    let setup_deposits = TRADERS * 2;
    let started = std::time::Instant::now();
    for round in 1..=kills {
        let (o0, c0, d0, w0) = {
            let a = acked.lock().unwrap();
            (a.orders.len(), a.canceled.len(), a.deposits.len(), a.withdrawals.len())
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
        {
            let (url, keys, acked, stop, seed) = (s.url.clone(), keys.clone(), acked.clone(), stop.clone(), rng.gen());
            threads.push(std::thread::spawn(move || withdraw_load(url, keys, seed, acked, stop)));
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
            lost.withdrawals += l.withdrawals;
        }
        unknown_orders += lost.orders;
        unknown_deposits += lost.deposits;
        let replayed = offline_replay(&dir, None);
        assert_eq!(replayed["ok"], true, "round {round}: offline replay finds a broken invariant: {replayed}");
        s = Server::start_in_with(&dir, args, &[]);
        let live = audit(&s);
        // The log as the kill left it, brought to the restarted server's time.
        let replayed = offline_replay(&dir, Some(&live["now_ns"]));
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
        s = Server::start_in_with(&dir, args, &[]);
        let again = audit(&s);
        assert_eq!(again["digest"], offline_replay(&dir, Some(&again["now_ns"]))["digest"], "round {round}: second restart differs");
        eprintln!(
            "crash round {round}: killed after {after_ms} ms; acked {} orders, {} cancels, {} deposits, {} withdrawals; in flight at the kill: {lost:?}; \
             state after restart: {} records, {orders} orders ({} unanswered ones landed in total), {deposits} deposits ({} unanswered \
             landed), digest {} = offline replay, = after 2nd restart",
            a.orders.len() - o0,
            a.canceled.len() - c0,
            a.deposits.len() - d0,
            a.withdrawals.len() - w0,
            replayed["records"],
            orders - a.orders.len(),
            deposits - setup_deposits - a.deposits.len(),
            &replayed["digest"].as_str().unwrap()[..12],
        );
    }
    let a = acked.lock().unwrap();
    assert!(a.orders.len() > 20 * kills && !a.deposits.is_empty(), "too little load to mean anything: {} orders", a.orders.len());
    assert!(a.withdrawals.len() > 5 * kills && !a.withdrawal_cancels.is_empty(), "too few withdrawals: {}", a.withdrawals.len());
    eprintln!(
        "crash: {kills} kills, {} orders, {} cancels, {} deposits, {} withdrawals ({} canceled) acknowledged, none lost or duplicated; {:.1} s",
        a.orders.len(),
        a.canceled.len(),
        a.deposits.len(),
        a.withdrawals.len(),
        a.withdrawal_cancels.len(),
        started.elapsed().as_secs_f64()
    );
}
