//! The public reads the publisher's view cannot answer, answered by the engine through the real
//! server: the view keeps a pair's last 1,000 trades and every trade of the last 25 h *of the
//! engine's clock*. Here the engine's (test) clock runs two days ahead of the wall clock, and
//! XBTUSD's history is 1,500 trades of the last 17 wall-clock hours: the view keeps the last
//! 1,000 of them only. A Trades `since` before its tape and a Ticker whose 24 h window (on the
//! wall clock, as Kraken's) reaches the trades it dropped must both come from the engine, which
//! holds all 1,500: what the view alone would answer differs, so a broken fallback fails here.

mod common;

use calamari::money::parse_units;
use common::{ok, Server};
use serde_json::json;

const TRADES: u64 = 1500;

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The imported tape: one trade every 40 s from 17 h ago, prices walking up and down.
fn tape(start: u64) -> Vec<(u64, String, String)> {
    (0..TRADES).map(|i| (start + 40 * i, format!("{}.{}", 87_000 + (i * 7919) % 900, i % 10), format!("0.{:08}", 100_000 + i))).collect()
}

#[test]
fn trades_since_before_the_views_tape_and_a_ticker_window_it_cannot_cover_come_from_the_engine() {
    let s = Server::start_with(&["--limits", "off"], &[("CALAMARI_TEST_CLOCK", "1")]);
    s.admin_post("/admin/clock/advance", json!({ "seconds": 2 * 86_400 })).unwrap();
    let start = now_s() - 17 * 3600;
    let rows = tape(start);
    let file = s.data_dir.join("tape.csv");
    let csv: String = rows.iter().map(|(t, p, v)| format!("{t},{p},{v}\n")).collect();
    std::fs::write(&file, csv).unwrap();
    assert!(s.cli(&["import", "XBTUSD", file.to_str().unwrap()]).contains(&format!("imported {TRADES} trades")));

    // Without `since`: the last 1,000, which the view holds.
    let latest = s.public("Trades", "pair=XBTUSD");
    let latest = ok(&latest)["XXBTZUSD"].as_array().unwrap().clone();
    assert_eq!(latest.len(), 1000);
    assert_eq!(latest[0][2].as_f64().unwrap(), rows[500].0 as f64, "the view's tape starts at the 501st trade");

    // `since=0` reaches before the view's tape: the engine answers the first 1,000.
    let first = s.public("Trades", "pair=XBTUSD&since=0");
    let result = ok(&first);
    let got = result["XXBTZUSD"].as_array().unwrap();
    assert_eq!(got.len(), 1000, "{}", result["last"]);
    for (row, (t, p, v)) in got.iter().zip(&rows) {
        assert_eq!(row[2].as_f64().unwrap(), *t as f64, "time");
        assert_eq!(parse_units(row[0].as_str().unwrap(), 5), parse_units(p, 5), "price at {t}");
        assert_eq!(parse_units(row[1].as_str().unwrap(), 10), parse_units(v, 10), "volume at {t}");
    }
    let last = result["last"].as_str().unwrap().to_string();
    assert_eq!(last, (rows[999].0 * 1_000_000_000).to_string());
    // Paging on from there is inside the view's tape: the other 500, the same rows as above.
    let next = s.public("Trades", &format!("pair=XBTUSD&since={last}"));
    let next = ok(&next)["XXBTZUSD"].as_array().unwrap().clone();
    assert_eq!(next.len(), 500);
    assert_eq!(next, latest[500..].to_vec(), "the view's rows equal the engine's paging");

    // Ticker's 24 h window (wall clock) holds all 1,500 trades; the view has 1,000 of them.
    let ticker = s.public("Ticker", "pair=XBTUSD");
    let t = &ok(&ticker)["XXBTZUSD"];
    assert_eq!(t["t"][1].as_u64(), Some(TRADES), "24 h trade count: {t}");
    let volume: i128 = rows.iter().map(|(_, _, v)| parse_units(v, 10).unwrap()).sum();
    assert_eq!(parse_units(t["v"][1].as_str().unwrap(), 10), Some(volume), "24 h volume: {t}");
    let (low, high) = rows.iter().map(|(_, p, _)| parse_units(p, 5).unwrap()).fold((i128::MAX, 0), |(l, h), p| (l.min(p), h.max(p)));
    assert_eq!(parse_units(t["l"][1].as_str().unwrap(), 5), Some(low));
    assert_eq!(parse_units(t["h"][1].as_str().unwrap(), 5), Some(high));
    assert_eq!(t["c"][0].as_str().map(|p| parse_units(p, 5)), Some(parse_units(&rows[1499].1, 5)), "last trade");
}
