//! The simulated market end to end, against the real server over HTTP: a fresh server with no
//! user activity is a live venue within 60 s (every pair's last price moves, 20+ levels a side,
//! Trades and OHLC with history before the start); a user's market order is filled against the
//! simulator's ladder at the prices Depth showed; kill -9 and a restart replay the same state;
//! reset and snapshots; the project's sample CSV files imported, then answered exactly.

mod common;

use calamari::money::parse_units;
use common::{ok, Server};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const LIVE: &[&str] = &["--market", "on", "--limits", "off"];

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn last_prices(s: &Server) -> BTreeMap<String, String> {
    let t = s.public("Ticker", "");
    ok(&t).as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["c"][0].as_str().unwrap().to_string())).collect()
}

fn audit(s: &Server) -> Value {
    serde_json::from_str(&s.cli(&["audit"])).unwrap()
}

#[test]
fn a_fresh_server_is_a_live_market_and_a_user_trades_against_its_ladder() {
    let s = Server::start_with(LIVE, &[]);
    let started = now_s();
    let before = last_prices(&s);
    assert_eq!(before.len(), 15);
    // The generated history ends at the board's price. The simulator's first step may already
    // have traded when the Ticker is read (it starts with the server), so look for that last
    // generated trade among the recent trades rather than requiring it to be the last one.
    let recent = s.public("Trades", &format!("pair=XXBTZUSD&since={}", started - 600));
    let ends_at_board = ok(&recent)["XXBTZUSD"].as_array().unwrap().iter().any(|r| r[0] == "87959.90000");
    assert!(before["XXBTZUSD"] == "87959.90000" || ends_at_board, "history ends at the board's price: {}", before["XXBTZUSD"]);

    // Within 60 s every pair's last price has changed, with no user activity.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut still: Vec<String>;
    loop {
        let now = last_prices(&s);
        still = before.iter().filter(|(k, v)| now.get(*k) == Some(v)).map(|(k, _)| k.clone()).collect();
        if still.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(still.is_empty(), "unchanged after 60 s: {still:?}");

    for pair in before.keys() {
        let d = s.public("Depth", &format!("pair={pair}&count=100"));
        let book = &ok(&d)[pair];
        let (asks, bids) = (book["asks"].as_array().unwrap().len(), book["bids"].as_array().unwrap().len());
        assert!(asks >= 20 && bids >= 20, "{pair}: {bids} bids, {asks} asks");
        let t = s.public("Trades", &format!("pair={pair}&since={}", started - 3600));
        let rows = ok(&t)[pair].as_array().unwrap();
        assert!(!rows.is_empty() && rows[0][2].as_f64().unwrap() < started as f64, "{pair}: Trades since an hour ago has past trades");
    }
    for interval in [1, 5, 15, 30, 60, 240, 1440, 10080, 21600] {
        let o = s.public("OHLC", &format!("pair=XBTUSD&interval={interval}"));
        assert_eq!(ok(&o)["XXBTZUSD"].as_array().unwrap().len(), 720, "OHLC {interval}: 720 candles from the first start");
    }
    let daily = s.public("OHLC", "pair=XBTUSD&interval=1440");
    let ticker = s.public("Ticker", "pair=XBTUSD");
    let today = ok(&daily)["XXBTZUSD"].as_array().unwrap().last().unwrap().clone();
    // The same price, at cost_decimals in the Ticker and at pair_decimals in OHLC (as Kraken prints).
    let units = |v: &Value| parse_units(v.as_str().unwrap(), 5).unwrap();
    assert_eq!(units(&ok(&ticker)["XXBTZUSD"]["o"]), units(&today[1]), "Ticker's o is today's daily candle's open");

    // A user market order against the ladder, with the simulator paused so Depth stays put.
    s.cli(&["market", "off"]);
    std::thread::sleep(Duration::from_millis(1500));
    let d = s.public("Depth", "pair=XBTUSD&count=5");
    let asks: Vec<(String, i128)> = ok(&d)["XXBTZUSD"]["asks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a[0].as_str().unwrap().to_string(), parse_units(a[1].as_str().unwrap(), 8).unwrap()))
        .collect();
    // Depth shows volumes to 3 decimals (Kraken's), so the best level holds less than 0.001 more:
    // a volume 0.001 above it and half the next level's takes all of the first and some of the next.
    let volume = asks[0].1 + 100_000 + asks[1].1 / 2 / 100 * 100;
    let key = s.demo.clone().unwrap();
    let placed = s.private(
        &key,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", &calamari::money::format_units(volume, 8))],
    );
    let txid = ok(&placed)["txid"][0].as_str().unwrap().to_string();
    let hist = s.private(&key, "TradesHistory", &[]);
    let mut fills: Vec<(f64, String, i128)> = ok(&hist)["trades"]
        .as_object()
        .unwrap()
        .values()
        .filter(|t| t["ordertxid"] == txid.as_str())
        .map(|t| {
            (t["time"].as_f64().unwrap(), t["price"].as_str().unwrap().to_string(), parse_units(t["vol"].as_str().unwrap(), 8).unwrap())
        })
        .collect();
    fills.sort_by(|a, b| a.1.parse::<f64>().unwrap().total_cmp(&b.1.parse::<f64>().unwrap()));
    let got: Vec<String> = fills.iter().map(|f| f.1.clone()).collect();
    assert_eq!(got, vec![asks[0].0.clone(), asks[1].0.clone()], "filled at Depth's prices");
    assert_eq!(fills[0].2 / 100_000 * 100_000, asks[0].1, "the whole best level, as Depth showed it to 3 decimals");
    assert_eq!(fills[0].2 + fills[1].2, volume);
    let after = s.public("Ticker", "pair=XBTUSD");
    assert_eq!(ok(&after)["XXBTZUSD"]["c"][0].as_str().unwrap(), asks[1].0, "the order moved the last price");
    let d2 = s.public("Depth", "pair=XBTUSD&count=1");
    assert_eq!(ok(&d2)["XXBTZUSD"]["asks"][0][0].as_str().unwrap(), asks[1].0, "the best ask is the partly taken level");
    s.cli(&["market", "on"]);
    let shown = s.cli(&["market", "show", "XBTUSD"]);
    assert!(shown.contains("simulator on") && shown.contains("last trades"), "{shown}");
    assert_eq!(audit(&s)["ok"], true, "conservation and holds with the simulator running");
}

#[test]
fn kill9_then_restart_replays_the_same_market() {
    let mut s = Server::start_with(LIVE, &[]);
    std::thread::sleep(Duration::from_secs(4));
    s.cli(&["market", "off"]);
    std::thread::sleep(Duration::from_millis(1500));
    let a = audit(&s);
    assert_eq!(a["ok"], true);
    assert!(a["trades"].as_u64().unwrap() > 0, "the simulator traded");
    let dir = s.data_dir.clone();
    let tmp = s._tmp_take();
    s.kill9();
    let s2 = Server::start_in_with(&dir, &["--market", "off"], &[]);
    let b = audit(&s2);
    assert_eq!(a["digest"], b["digest"], "restart = replay");
    drop(s2);
    // On again: the simulator carries on from the replayed state (no second genesis).
    let s3 = Server::start_in_with(&dir, LIVE, &[]);
    std::thread::sleep(Duration::from_secs(3));
    let c = audit(&s3);
    assert_eq!(c["ok"], true);
    assert!(c["trades"].as_u64() > a["trades"].as_u64(), "trading resumed");
    let shown = s3.cli(&["market", "show", "XBTUSD", "--json"]);
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert!(v["history_trades"].as_u64().unwrap() > 1000);
    // kill -9 while the simulator runs: what was persisted replays offline and on restart alike.
    let mut s3 = s3;
    s3.kill9();
    let out = std::process::Command::new(common::BIN).arg("--data-dir").arg(&dir).arg("replay").output().unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(offline["ok"], true, "{offline}");
    let s4 = Server::start_in_with(&dir, &["--market", "off"], &[]);
    let d = audit(&s4);
    assert_eq!((d["ok"].as_bool(), &d["digest"]), (Some(true), &offline["digest"]), "restart after kill -9 = offline replay");
    drop(s4);
    drop(tmp);
}

#[test]
fn snapshots_and_reset_bring_back_whole_states() {
    let s = Server::start_with(LIVE, &[]);
    std::thread::sleep(Duration::from_secs(3));
    s.cli(&["market", "off"]);
    std::thread::sleep(Duration::from_millis(1500));
    let saved = audit(&s);
    s.cli(&["snapshot", "save", "before"]);
    let bob = s.account("bob", "1000", "0", "all");
    assert!(ok(&s.private(&bob, "Balance", &[]))["ZUSD"].is_string());
    s.cli(&["market", "on"]);
    std::thread::sleep(Duration::from_secs(2));
    s.cli(&["market", "off"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_ne!(audit(&s)["digest"], saved["digest"]);
    s.cli(&["snapshot", "restore", "before", "--yes"]);
    assert_eq!(audit(&s)["digest"], saved["digest"], "restored exactly");
    assert_eq!(common::err(&s.private(&bob, "Balance", &[])), "EAPI:Invalid key", "bob's key came after the snapshot");
    assert!(s.cli(&["snapshot", "list"]).contains("before"));

    let out = s.cli(&["reset", "--yes"]);
    let key = out.lines().find_map(|l| l.strip_prefix("API key:")).unwrap().trim().to_string();
    let secret = out.lines().find_map(|l| l.strip_prefix("API secret:")).unwrap().trim().to_string();
    let demo = common::Key { key, secret };
    let bal = s.private(&demo, "Balance", &[]);
    assert_eq!(ok(&bal)["ZUSD"].as_str().unwrap().parse::<f64>().unwrap(), 100000.0, "the demo account's opening balance");
    let a = audit(&s);
    assert_eq!((a["ok"].as_bool(), a["trades"].as_u64()), (Some(true), Some(0)));
    assert_eq!(common::err(&s.private(s.demo.as_ref().unwrap(), "Balance", &[])), "EAPI:Invalid key", "old keys are gone");
}

#[test]
fn the_sample_files_import_and_trades_and_ohlc_answer_them_exactly() {
    let s = Server::start_with(&["--limits", "off"], &[]); // a quiet exchange
    let root = env!("CARGO_MANIFEST_DIR");
    let trades_file = format!("{root}/data/sample/XBTUSD.csv");
    let candles_file = format!("{root}/data/sample/XBTUSD_60.csv");
    assert!(s.cli(&["import", "XBTUSD", &trades_file]).contains("imported 400 trades"));
    assert!(s.cli(&["import", "XBTUSD", &candles_file]).contains("imported 120 60-minute candles"));

    let sample = std::fs::read_to_string(&trades_file).unwrap();
    let t = s.public("Trades", "pair=XBTUSD&since=0");
    let rows = ok(&t)["XXBTZUSD"].as_array().unwrap();
    assert_eq!(rows.len(), 400);
    for (row, line) in rows.iter().zip(sample.lines()) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(parse_units(row[0].as_str().unwrap(), 5), parse_units(f[1], 5), "price");
        assert_eq!(row[0].as_str().unwrap().split_once('.').unwrap().1.len(), 5, "price at XBTUSD's 5 cost decimals");
        assert_eq!(parse_units(row[1].as_str().unwrap(), 10), parse_units(f[2], 10), "volume");
        assert_eq!(row[2].as_f64().unwrap(), f[0].parse::<f64>().unwrap(), "time");
    }
    let sample = std::fs::read_to_string(&candles_file).unwrap();
    let o = s.public("OHLC", "pair=XBTUSD&interval=60");
    let rows = ok(&o)["XXBTZUSD"].as_array().unwrap();
    assert_eq!(rows.len(), 121, "the file's 120 candles and the live one");
    for (row, line) in rows.iter().zip(sample.lines()) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(row[0].as_u64().unwrap().to_string(), f[0]);
        for (i, j) in [(1, 1), (2, 2), (3, 3), (4, 4)] {
            assert_eq!(row[i].as_str().unwrap(), f[j], "OHLC field {i} at {}", f[0]);
        }
        assert_eq!(parse_units(row[6].as_str().unwrap(), 10), parse_units(f[5], 10), "volume");
        assert_eq!(row[7].as_u64().unwrap().to_string(), f[6], "count");
    }
    // A second import is refused once the pair has traded since its history.
    let key = s.demo.clone().unwrap();
    ok(&s.private(
        &key,
        "AddOrder",
        &[("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", "90000"), ("volume", "0.01")],
    ));
    let demo2 = s.account("carol", "10000", "0", "all");
    ok(&s.private(&demo2, "AddOrder", &[("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "market"), ("volume", "0.01")]));
    let (okay, text) = s.try_cli(&["import", "XBTUSD", &trades_file]);
    assert!(!okay && text.contains("has traded"), "{text}");

    // Replay: the simulator's reference price follows the imported trades.
    s.cli(&["market", "replay", "XBTUSD", "--speed", "60"]);
    s.cli(&["market", "on"]);
    std::thread::sleep(Duration::from_secs(3));
    let v: Value = serde_json::from_str(&s.cli(&["market", "show", "XBTUSD", "--json"])).unwrap();
    let index: f64 = v["index"].as_str().unwrap().parse().unwrap();
    let prices: Vec<f64> =
        std::fs::read_to_string(&trades_file).unwrap().lines().map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    let (lo, hi) = prices.iter().fold((f64::MAX, 0f64), |(l, h), p| (l.min(*p), h.max(*p)));
    assert!(index >= lo && index <= hi, "index {index} outside the replayed series [{lo}, {hi}]");
    assert_eq!(v["simulator"]["replay"]["speed"], 60);
}
