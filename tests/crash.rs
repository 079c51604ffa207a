//! kill -9 during a stream of signed AddOrder/CancelOrder calls from several clients; after the
//! restart every acknowledged order is there (and every acknowledged cancel took effect), and
//! money is conserved: what the accounts hold plus the fees they paid equals what was deposited.

mod common;
use common::{ok, Key, Server};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Acked {
    placed: Vec<(usize, String)>,
    canceled: Vec<(usize, String)>,
}

fn load(s: &Server, k: &Key, acked: &Acked, who: usize) {
    let mine: Vec<&String> = acked.placed.iter().filter(|(w, _)| *w == who).map(|(_, t)| t).collect();
    for chunk in mine.chunks(50) {
        let ids: Vec<&str> = chunk.iter().map(|s| s.as_str()).collect();
        let q = s.private(k, "QueryOrders", &[("txid", &ids.join(","))]);
        let found = ok(&q).as_object().unwrap();
        for id in &ids {
            assert!(found.contains_key(*id), "acknowledged order {id} lost after kill -9");
        }
    }
    for (_, id) in acked.canceled.iter().filter(|(w, _)| *w == who) {
        let q = s.private(k, "QueryOrders", &[("txid", id)]);
        assert_eq!(ok(&q)[id]["status"], "canceled", "acknowledged cancel of {id} lost");
    }
}

fn dec(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

/// Σ over pages of TradesHistory of the fee paid, in USD units of 10^-4.
fn fees_paid(s: &Server, k: &Key) -> i64 {
    let mut total = 0i64;
    let mut ofs = 0;
    loop {
        let r = s.private(k, "TradesHistory", &[("ofs", &ofs.to_string())]);
        let trades = ok(&r)["trades"].as_object().unwrap().clone();
        if trades.is_empty() {
            break;
        }
        for t in trades.values() {
            total += (dec(&t["fee"]) * 10_000.0).round() as i64;
        }
        ofs += trades.len();
    }
    total
}

fn usd_units(s: &Server, k: &Key) -> i64 {
    let b = s.private(k, "Balance", &[]);
    (dec(&ok(&b)["ZUSD"]) * 10_000.0).round() as i64
}

fn xbt_units(s: &Server, k: &Key) -> i64 {
    let b = s.private(k, "Balance", &[]);
    ok(&b)["XXBT"].as_str().map(|x| x.replace('.', "").parse::<i64>().unwrap()).unwrap_or(0)
}

#[test]
fn kill_9_loses_nothing_acknowledged() {
    // Durability, not call restrictions, is under test here.
    let mut s = Server::start_with(&["--limits", "off"], &[]);
    let keys: Vec<Key> = (0..4).map(|i| s.account(&format!("trader{i}"), "100000", "2", "all")).collect();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop_at = Instant::now() + Duration::from_millis(1500);
    let mut threads = Vec::new();
    for (who, k) in keys.iter().cloned().enumerate() {
        let acked = acked.clone();
        let client = s.client();
        threads.push(std::thread::spawn(move || {
            let mut mine: Vec<String> = Vec::new();
            let mut i = 0u64;
            while Instant::now() < stop_at + Duration::from_secs(2) {
                i += 1;
                let side = if (i + who as u64) % 2 == 0 { "buy" } else { "sell" };
                let price = format!("{}.0", 49_990 + (i * 7 + who as u64 * 3) % 20);
                let r = std::panic::catch_unwind(|| {
                    client.private(
                        &k,
                        "AddOrder",
                        &[("pair", "XBTUSD"), ("type", side), ("ordertype", "limit"), ("price", &price), ("volume", "0.001")],
                    )
                });
                let Ok(r) = r else { break };
                if let Some(id) = r["result"]["txid"][0].as_str() {
                    acked.lock().unwrap().placed.push((who, id.to_string()));
                    mine.push(id.to_string());
                }
                if i % 3 == 0 {
                    if let Some(id) = mine.pop() {
                        let r = std::panic::catch_unwind(|| client.private(&k, "CancelOrder", &[("txid", &id)]));
                        let Ok(r) = r else { break };
                        if r["result"]["count"] == 1 {
                            acked.lock().unwrap().canceled.push((who, id));
                        }
                    }
                }
            }
        }));
    }
    std::thread::sleep(stop_at - Instant::now());
    s.assert_no_panics(); // the kill is on purpose; the zero-panic check comes before it
    s.kill9();
    for t in threads {
        let _ = t.join();
    }
    let acked = acked.lock().unwrap();
    assert!(acked.placed.len() > 20, "too few orders acknowledged to mean anything: {}", acked.placed.len());
    let dir = s.data_dir.clone();
    let _keep = s._tmp_take();
    let s2 = Server::start_in_with(&dir, &["--limits", "off"], &[]);
    let mut usd = 0;
    let mut xbt = 0;
    let mut fees = 0;
    for (who, k) in keys.iter().enumerate() {
        load(&s2, k, &acked, who);
        usd += usd_units(&s2, k);
        xbt += xbt_units(&s2, k);
        fees += fees_paid(&s2, k);
    }
    // Fees are all in USD here (no fcib), so XBT is conserved exactly among the traders.
    assert_eq!(xbt, 4 * 2 * 10_000_000_000i64, "XBT not conserved");
    assert_eq!(usd + fees, 4 * 100_000 * 10_000, "USD + fees != deposits");
}
