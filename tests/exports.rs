//! Data exports through the real server: AddExport → ExportStatus → RetrieveExport → RemoveExport
//! for ledgers and trades, each CSV row checked against the Ledgers / TradesHistory answers it came
//! from; the snapshot excludes what happened after the request; a kill -9 right after AddExport
//! loses nothing (the report is built again at start-up) and leaves no partial file.

mod common;

use common::{ok, Key, Server};
use serde_json::Value;
use std::io::Read;
use std::time::{Duration, Instant};

fn trade(s: &Server, buyer: &Key, seller: &Key, price: &str, volume: &str) {
    let sell = [("pair", "XBTUSD"), ("type", "sell"), ("ordertype", "limit"), ("price", price), ("volume", volume)];
    ok(&s.private(seller, "AddOrder", &sell));
    let buy = [("pair", "XBTUSD"), ("type", "buy"), ("ordertype", "limit"), ("price", price), ("volume", volume)];
    ok(&s.private(buyer, "AddOrder", &buy));
}

fn wait_processed(s: &Server, k: &Key, report: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = ok(&s.private(k, "ExportStatus", &[("report", report)])).clone();
        let me = list.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap_or_else(|| panic!("{id} not listed: {list}"));
        if me["status"] == "Processed" {
            assert_ne!(me["completedtm"], "0");
            return;
        }
        assert!(Instant::now() < deadline, "export {id} never finished: {me}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The CSV rows (header first) of a report's zip.
fn retrieve(s: &Server, k: &Key, id: &str) -> Vec<Vec<String>> {
    let form = common::sign_form(k, "RetrieveExport", &[("id", id)]);
    let resp = ureq::post(&format!("{}/0/private/RetrieveExport", s.url))
        .set("API-Key", &k.key)
        .set("API-Sign", &form.sign)
        .set("Content-Type", "application/x-www-form-urlencoded")
        .send_string(&form.body)
        .unwrap();
    assert_eq!(resp.header("content-type"), Some("application/zip"));
    let mut bytes = Vec::new();
    resp.into_reader().read_to_end(&mut bytes).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a whole zip");
    assert_eq!(zip.len(), 1);
    let mut text = String::new();
    zip.by_index(0).unwrap().read_to_string(&mut text).unwrap();
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    r.records().map(|rec| rec.unwrap().iter().map(str::to_string).collect()).collect()
}

fn all_pages(s: &Server, k: &Key, method: &str, field: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    loop {
        let ofs = out.len().to_string();
        let page = ok(&s.private(k, method, &[("ofs", &ofs), ("ledgers", "true")])).clone();
        let items = page[field].as_object().unwrap().clone();
        if items.is_empty() {
            return out;
        }
        out.extend(items);
    }
}

fn check_ledgers(rows: &[Vec<String>], api: &serde_json::Map<String, Value>) {
    assert_eq!(rows[0], ["txid", "refid", "time", "type", "subtype", "aclass", "asset", "wallet", "amount", "fee", "balance"]);
    assert_eq!(rows.len() - 1, api.len(), "one row per ledger entry");
    for row in &rows[1..] {
        let e = &api[&row[0]];
        let secs = e["time"].as_f64().unwrap() as u64;
        assert_eq!(&row[2][..19], calamari::exports::csv_time(secs * 1_000_000_000, false), "time of {}", row[0]);
        let want = [&e["refid"], &e["type"], &e["subtype"], &e["aclass"], &e["asset"]];
        let got = [&row[1], &row[3], &row[4], &row[5], &row[6]];
        assert_eq!(got.map(|s| s.as_str()), want.map(|v| v.as_str().unwrap()), "row {}", row[0]);
        assert_eq!(row[7], "spot / main");
        assert_eq!([&row[8], &row[9], &row[10]].map(|s| s.as_str()), [&e["amount"], &e["fee"], &e["balance"]].map(|v| v.as_str().unwrap()));
    }
}

#[test]
fn exports_match_the_ledger_and_trades_and_survive_kill_9() {
    let mut s = Server::start_with(&["--limits", "off"], &[]);
    let a = s.account("a", "100000", "1", "all");
    let b = s.account("b", "100000", "1", "all");
    for (price, vol) in [("50000", "0.01"), ("50100.5", "0.002"), ("49999.9", "0.03")] {
        trade(&s, &a, &b, price, vol);
    }
    s.cli(&["adjust", "a", "USD", "12.5", "--reason", "goodwill"]);

    // Ledgers.
    let id = ok(&s.private(&a, "AddExport", &[("report", "ledgers"), ("description", "my ledgers"), ("format", "CSV")]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.len() == 4 && id.chars().all(|c| c.is_ascii_uppercase()), "{id}");
    let before = all_pages(&s, &a, "Ledgers", "ledger");
    trade(&s, &a, &b, "50000", "0.001"); // after the snapshot: not in the report
    wait_processed(&s, &a, "ledgers", &id);
    let rows = retrieve(&s, &a, &id);
    check_ledgers(&rows, &before);
    assert_eq!(ok(&s.private(&b, "ExportStatus", &[("report", "ledgers")])), &Value::Array(vec![]), "another account sees none");

    // Trades.
    let tid = ok(&s.private(&a, "AddExport", &[("report", "trades"), ("description", "my trades")]))["id"].as_str().unwrap().to_string();
    wait_processed(&s, &a, "trades", &tid);
    let rows = retrieve(&s, &a, &tid);
    assert_eq!(
        rows[0],
        ["txid", "ordertxid", "pair", "time", "type", "ordertype", "price", "cost", "fee", "vol", "margin", "misc", "ledgers"]
    );
    let trades = all_pages(&s, &a, "TradesHistory", "trades");
    assert_eq!(rows.len() - 1, trades.len());
    for row in &rows[1..] {
        let t = &trades[&row[0]];
        let fields = ["ordertxid", "pair", "type", "ordertype", "price", "cost", "fee", "vol", "margin", "misc"];
        let got: Vec<&str> = [1, 2, 4, 5, 6, 7, 8, 9, 10, 11].iter().map(|i| row[*i].as_str()).collect();
        let want: Vec<&str> = fields.iter().map(|f| t[*f].as_str().unwrap()).collect();
        assert_eq!(got, want, "trade {}", row[0]);
        let ledgers: Vec<&str> = t["ledgers"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        assert_eq!(row[12], ledgers.join(","));
    }

    // RemoveExport: the wrong type is refused; delete removes the file.
    assert!(common::err(&s.private(&a, "RemoveExport", &[("id", &tid), ("type", "cancel")])).starts_with("EGeneral:Invalid arguments"));
    assert_eq!(ok(&s.private(&a, "RemoveExport", &[("id", &tid), ("type", "delete")]))["delete"], true);
    assert!(!s.data_dir.join(format!("exports/{tid}.zip")).exists());
    assert!(common::err(&s.private(&a, "RetrieveExport", &[("id", &tid)])).starts_with("EGeneral:Invalid arguments"));

    // kill -9 right after AddExport: the report is built at the next start, from its snapshot.
    let kid = ok(&s.private(&a, "AddExport", &[("report", "ledgers"), ("description", "interrupted")]))["id"].as_str().unwrap().to_string();
    let snapshot = all_pages(&s, &a, "Ledgers", "ledger");
    s.kill9();
    let dir = s.data_dir.clone();
    // Whether or not the kill came mid-build, leave the folder as a crash mid-build leaves it: the
    // report recorded as Processing, no zip, a half-written temporary file.
    let meta = dir.join(format!("exports/{kid}.json"));
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    m["status"] = "Processing".into();
    std::fs::write(&meta, m.to_string()).unwrap();
    let _ = std::fs::remove_file(dir.join(format!("exports/{kid}.zip")));
    std::fs::write(dir.join(format!("exports/.{kid}.zip.tmp")), b"PK\x03\x04 half").unwrap();
    let s2 = Server::start_in_with(&dir, &["--limits", "off"], &[]);
    wait_processed(&s2, &a, "ledgers", &kid);
    check_ledgers(&retrieve(&s2, &a, &kid), &snapshot);
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.join("exports")).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    s2.assert_no_panics();
}
