//! The publisher's picture of one pair at level 3 (the top levels' individual orders with their
//! public ids and timestamps), the diff of two pictures into Kraken's `add`/`modify`/`delete`
//! events, the level3 CRC32 checksum and the channel's JSON. Kept apart from the subscription
//! logic ([`super::level3`]) because this is the part a client must agree with byte for byte.
//!
//! Numbers are written at fixed precision (price at the pair's decimals, quantity at its lot
//! decimals, as Kraken's level3 messages carry them, e.g. `79754.0`, `0.00040000`), and the
//! checksum is computed over exactly that text. So a client following Kraken's guide (keep the
//! numbers' text, drop `.`, strip leading zeros) and one formatting with the instrument's
//! precisions agree with us.

use super::channels::{rfc3339, Sym};
use super::level3_capture::{L3Capture, L3Level};
use crate::engine::ids::IdKind;
use crate::engine::markets::Pair;
use crate::money::format_units;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::sync::Arc;

/// Price levels the checksum covers, whatever the subscribed depth.
pub const CHECKSUM_LEVELS: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub seq: u64,
    pub id: Arc<str>,
    pub qty: i128,
    /// When the order took its current price and quantity (ns).
    pub ts: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    pub price: u64,
    pub orders: Vec<Order>,
}

/// One pair's top levels as the level3 feed shows them.
#[derive(Clone, Debug, Default)]
pub struct Book {
    /// Levels per side this picture was copied at (the deepest subscription then).
    pub depth: usize,
    pub time_ns: u64,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

impl Book {
    /// The picture of a capture. An order already shown with the same price and quantity keeps
    /// its id text and timestamp; one whose price or quantity changed is stamped with the
    /// capture's time (the batch it changed in); one not shown before (new, or a level that slid
    /// into view) with the time the engine records for it.
    pub fn from_capture(cap: &L3Capture, old: Option<&Book>) -> Book {
        let mut known: HashMap<u64, (u64, &Order)> = HashMap::new();
        if let (Some(old), false) = (old, cap.reset) {
            for l in old.bids.iter().chain(&old.asks) {
                for o in &l.orders {
                    known.insert(o.seq, (l.price, o));
                }
            }
        }
        let side = |levels: &[L3Level]| -> Vec<Level> {
            levels
                .iter()
                .map(|l| Level {
                    price: l.price,
                    orders: l
                        .orders
                        .iter()
                        .map(|o| match known.get(&o.seq) {
                            Some((p, k)) if *p == l.price && k.qty == o.qty => (*k).clone(),
                            Some((_, k)) => Order { seq: o.seq, id: k.id.clone(), qty: o.qty, ts: cap.time_ns },
                            None => Order { seq: o.seq, id: Arc::from(cap.ids.encode(IdKind::Order, o.seq)), qty: o.qty, ts: o.entered_ns },
                        })
                        .collect(),
                })
                .collect()
        };
        Book { depth: cap.depth, time_ns: cap.time_ns, bids: side(&cap.bids), asks: side(&cap.asks) }
    }
}

/// The price as level3 writes it: at the pair's decimals.
pub fn price_text(pair: &Pair, p: u64) -> String {
    format_units(p as i128, pair.pair_decimals)
}

/// The quantity as level3 writes it: at the pair's lot decimals (at the base asset's decimals
/// in the unlikely case it is finer than a lot).
pub fn qty_text(pair: &Pair, v: i128) -> String {
    let shift = pair.base_decimals.saturating_sub(pair.lot_decimals);
    let unit = 10i128.pow(shift);
    if v % unit == 0 {
        format_units(v / unit, pair.lot_decimals)
    } else {
        format_units(v, pair.base_decimals)
    }
}

fn digits(text: &str, out: &mut String) {
    let d: String = text.chars().filter(|c| *c != '.').collect();
    out.push_str(d.trim_start_matches('0'));
}

/// Kraken's level3 checksum: CRC32 over the top 10 ask levels (lowest first) then the top 10
/// bid levels (highest first), every order of each level in queue order contributing its price
/// and quantity text with `.` removed and leading zeros stripped.
pub fn checksum(pair: &Pair, book: &Book) -> u32 {
    let texts = |levels: &[Level]| -> Vec<(String, Vec<String>)> {
        levels
            .iter()
            .take(CHECKSUM_LEVELS)
            .map(|l| (price_text(pair, l.price), l.orders.iter().map(|o| qty_text(pair, o.qty)).collect()))
            .collect()
    };
    checksum_of(&texts(&book.asks), &texts(&book.bids))
}

/// The checksum of levels given as text: (price, the quantities of its orders in queue order).
fn checksum_of(asks: &[(String, Vec<String>)], bids: &[(String, Vec<String>)]) -> u32 {
    let mut s = String::new();
    for side in [asks, bids] {
        for (price, qtys) in side.iter().take(CHECKSUM_LEVELS) {
            for q in qtys {
                digits(price, &mut s);
                digits(q, &mut s);
            }
        }
    }
    crc32fast::hash(s.as_bytes())
}

fn order_json(pair: &Pair, event: Option<&str>, price: u64, o: &Order, ts: u64) -> String {
    let mut out = String::from("{");
    if let Some(e) = event {
        let _ = write!(out, "\"event\":\"{e}\",");
    }
    let _ = write!(
        out,
        "\"order_id\":\"{}\",\"limit_price\":{},\"order_qty\":{},\"timestamp\":\"{}\"}}",
        o.id,
        price_text(pair, price),
        qty_text(pair, o.qty),
        rfc3339(ts)
    );
    out
}

fn message(pair: &Pair, sym: &Sym, kind: &str, bids: &str, asks: &str, book: &Book) -> String {
    format!(
        "{{\"channel\":\"level3\",\"type\":\"{kind}\",\"data\":[{{\"symbol\":\"{}\",\"bids\":{bids},\"asks\":{asks},\"checksum\":{},\"timestamp\":\"{}\"}}]}}",
        sym.symbol,
        checksum(pair, book),
        rfc3339(book.time_ns)
    )
}

/// The snapshot a subscriber at `depth` gets: every order of the top `depth` levels per side,
/// best level first, each level front of the queue first.
pub fn snapshot(pair: &Pair, sym: &Sym, book: &Book, depth: usize) -> String {
    let side = |levels: &[Level]| {
        let all: Vec<String> =
            levels.iter().take(depth).flat_map(|l| l.orders.iter().map(|o| order_json(pair, None, l.price, o, o.ts))).collect();
        format!("[{}]", all.join(","))
    };
    message(pair, sym, "snapshot", &side(&book.bids), &side(&book.asks), book)
}

/// The events turning `old` into `new` (both cut to the subscriber's depth), in the order a
/// client applies them: deletes (with the order's last price and quantity), then in-place
/// modifies, then adds, each appended at the back of its level. An order keeps its place only
/// while the orders it stays behind are the same ones in the same order: once a level's new
/// queue departs from the old one (an order re-queued at the back: a larger amend, an iceberg
/// refill), the rest of that level is deleted and added again in the new order, so the client's
/// queue (and the checksum, which follows queue order) matches the book's.
fn side_events(pair: &Pair, old: &[Level], new: &[Level], now_ns: u64) -> String {
    let mut old_pos: HashMap<u64, (u64, usize, i128)> = HashMap::new();
    for l in old {
        for (i, o) in l.orders.iter().enumerate() {
            old_pos.insert(o.seq, (l.price, i, o.qty));
        }
    }
    let mut kept: HashSet<u64> = HashSet::new();
    let (mut modifies, mut adds) = (Vec::new(), Vec::new());
    for l in new {
        let mut last: Option<usize> = None;
        let mut broken = false;
        for o in &l.orders {
            let keep = match old_pos.get(&o.seq) {
                Some(&(p, i, _)) if !broken && p == l.price && last.is_none_or(|x| i > x) => {
                    last = Some(i);
                    true
                }
                _ => false,
            };
            if keep {
                kept.insert(o.seq);
                if old_pos[&o.seq].2 != o.qty {
                    modifies.push(order_json(pair, Some("modify"), l.price, o, o.ts));
                }
            } else {
                broken = true;
                adds.push(order_json(pair, Some("add"), l.price, o, o.ts));
            }
        }
    }
    let mut events: Vec<String> = Vec::new();
    for l in old {
        for o in l.orders.iter().filter(|o| !kept.contains(&o.seq)) {
            events.push(order_json(pair, Some("delete"), l.price, o, now_ns));
        }
    }
    events.extend(modifies);
    events.extend(adds);
    format!("[{}]", events.join(","))
}

/// The update for subscribers at `depth`, or None when nothing within their view changed.
pub fn update(pair: &Pair, sym: &Sym, old: &Book, new: &Book, depth: usize) -> Option<String> {
    let cut = |l: &[Level]| l.len().min(depth);
    let bids = side_events(pair, &old.bids[..cut(&old.bids)], &new.bids[..cut(&new.bids)], new.time_ns);
    let asks = side_events(pair, &old.asks[..cut(&old.asks)], &new.asks[..cut(&new.asks)], new.time_ns);
    if bids == "[]" && asks == "[]" {
        return None;
    }
    Some(message(pair, sym, "update", &bids, &asks, new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ids::IdCodec;
    use crate::ws::level3_capture::L3Order;
    use serde_json::Value;

    #[test]
    fn krakens_level3_checksum_example() {
        // The worked example of Kraken's level3 checksum guide (docs.kraken.com, "L3 checksum
        // (WebSocket v2)"): 10 ask levels of 14 orders, 10 bid levels of 21, → 1063832831.
        let lv = |p: &str, q: &[&str]| (p.to_string(), q.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let asks = vec![
            lv("44939.5", &["4.52308393", "0.00111261", "0.00100000", "0.01000000"]),
            lv("44950.0", &["1.0334926"]),
            lv("44953.0", &["0.64537"]),
            lv("44955.0", &["0.250000"]),
            lv("44959.6", &["0.35630000", "0.35630000"]),
            lv("44960.1", &["3.38072"]),
            lv("44960.2", &["0.88967575"]),
            lv("44967.0", &["3.14392283"]),
            lv("44978.5", &["0.6778960"]),
            lv("44979.2", &["0.35630000"]),
        ];
        let bids = vec![
            lv(
                "44939.4",
                &["0.88968699", "0.45210000", "0.10000000", "0.14296323", "0.25000000", "0.10292988", "0.33880000", "1.28140860"],
            ),
            lv("44937.1", &["0.3346877"]),
            lv("44934.7", &["0.35630000"]),
            lv("44930.2", &["0.22734299", "0.1000000", "0.5550000", "0.70000000", "0.15000000"]),
            lv("44928.0", &["0.105240"]),
            lv("44919.6", &["0.33870000"]),
            lv("44919.5", &["0.7610000"]),
            lv("44912.0", &["0.35630000"]),
            lv("44909.7", &["0.6690000"]),
            lv("44901.9", &["0.88982"]),
        ];
        assert_eq!(checksum_of(&asks, &bids), 1_063_832_831);
    }

    fn pair() -> (Pair, Sym) {
        let markets = crate::engine::markets::Markets::from_config(&crate::config::Config::builtin()).unwrap();
        let p = markets.pairs.iter().find(|p| p.altname == "XBTUSD").unwrap().clone();
        let sym = Sym::of(&markets, &p);
        (p, sym)
    }

    /// (price ticks, [(seq, qty units)]) per level, best first.
    type Side = Vec<(u64, Vec<(u64, i128)>)>;

    fn capture(t: u64, depth: usize, bids: &Side, asks: &Side) -> L3Capture {
        let side = |s: &Side| {
            s.iter()
                .map(|(p, os)| L3Level { price: *p, orders: os.iter().map(|&(seq, qty)| L3Order { seq, qty, entered_ns: t }).collect() })
                .collect()
        };
        L3Capture { pair: 0, time_ns: t, depth, bids: side(bids), asks: side(asks), reset: false, ids: IdCodec::new(7) }
    }

    /// A client's book: per side, levels in price order of (price text, [(id, qty text)]).
    type Client = [Vec<(String, Vec<(String, String)>)>; 2];

    fn text(v: &Value) -> String {
        v.to_string()
    }

    fn apply(client: &mut Client, msg: &str, bids_desc: bool, depth: usize) {
        let m: Value = serde_json::from_str(msg).unwrap();
        let d = &m["data"][0];
        for (i, key) in ["bids", "asks"].iter().enumerate() {
            let side = &mut client[i];
            if m["type"] == "snapshot" {
                side.clear();
            }
            for e in d[*key].as_array().unwrap() {
                let (id, price, qty) = (e["order_id"].as_str().unwrap().to_string(), text(&e["limit_price"]), text(&e["order_qty"]));
                let pos = side.iter().position(|(p, _)| *p == price);
                match e.get("event").and_then(Value::as_str) {
                    Some("delete") => {
                        let l = &mut side[pos.expect("delete at a known level")].1;
                        let before = l.len();
                        l.retain(|(o, _)| *o != id);
                        assert_eq!(l.len() + 1, before, "delete of a known order");
                    }
                    Some("modify") => {
                        let l = &mut side[pos.expect("modify at a known level")].1;
                        l.iter_mut().find(|(o, _)| *o == id).expect("modify of a known order").1 = qty;
                    }
                    _ => match pos {
                        Some(i) => side[i].1.push((id, qty)),
                        None => side.push((price, vec![(id, qty)])),
                    },
                }
            }
            side.retain(|(_, l)| !l.is_empty());
            let num = |p: &String| p.parse::<f64>().unwrap();
            side.sort_by(|a, b| if i == 0 && bids_desc { num(&b.0).total_cmp(&num(&a.0)) } else { num(&a.0).total_cmp(&num(&b.0)) });
            side.truncate(depth);
        }
    }

    /// The text a client decoding JSON numbers as floats keeps (the raw text is checked apart).
    fn norm(t: &str) -> String {
        text(&serde_json::from_str::<Value>(t).unwrap())
    }

    fn expect(pair: &Pair, book: &Book, depth: usize) -> Client {
        let side = |levels: &[Level]| {
            levels
                .iter()
                .take(depth)
                .map(|l| {
                    (norm(&price_text(pair, l.price)), l.orders.iter().map(|o| (o.id.to_string(), norm(&qty_text(pair, o.qty)))).collect())
                })
                .collect()
        };
        [side(&book.bids), side(&book.asks)]
    }

    #[test]
    fn a_client_applying_the_events_holds_the_books_orders_in_queue_order() {
        let (pair, sym) = pair();
        let q = |x: i128| x * 10i128.pow(pair.base_decimals - 3); // thousandths of a unit
                                                                  // Eleven bid levels (depth 10 sees ten), two asks.
        let mut bids: Side = (0..11).map(|i| (500_000 - i * 10, vec![(100 + i, q(5)), (200 + i, q(7))])).collect();
        let mut asks: Side = vec![(500_100, vec![(1, q(3)), (2, q(4)), (3, q(5))]), (500_110, vec![(4, q(9))])];
        let mut book = Book::from_capture(&capture(1, 10, &bids, &asks), None);
        let mut client: Client = Default::default();
        apply(&mut client, &snapshot(&pair, &sym, &book, 10), true, 10);
        assert_eq!(client, expect(&pair, &book, 10));
        type Step<'a> = Box<dyn Fn(&mut Side, &mut Side) + 'a>;
        let steps: Vec<Step<'_>> = vec![
            Box::new(|_, a| a[0].1[0].1 = q(1)), // partial fill: modify in place
            Box::new(|_, a| {
                a[0].1.remove(1);
            }), // a cancel in the middle: delete
            Box::new(|b, _| b[0].1.push((900, q(2)))), // a new order at the back: add
            Box::new(|_, a| {
                let o = a[0].1.remove(0);
                a[0].1.push(o)
            }), // an iceberg refill: re-queued
            Box::new(|b, _| {
                b.remove(0);
            }), // the best bid level gone: level 11 slides in
            Box::new(|b, a| {
                let o = b[1].1.remove(0);
                a.insert(0, (500_090, vec![o]))
            }), // re-priced across
            Box::new(|_, a| a[1].1[0].1 = q(20)), // a larger quantity in place (kept place)
        ];
        for (t, step) in steps.iter().enumerate() {
            step(&mut bids, &mut asks);
            bids.retain(|(_, l)| !l.is_empty());
            asks.retain(|(_, l)| !l.is_empty());
            let new = Book::from_capture(&capture(t as u64 + 2, 10, &bids, &asks), Some(&book));
            let msg = update(&pair, &sym, &book, &new, 10).expect("something changed");
            apply(&mut client, &msg, true, 10);
            assert_eq!(client, expect(&pair, &new, 10), "step {t}: {msg}");
            let v: Value = serde_json::from_str(&msg).unwrap();
            assert_eq!(v["data"][0]["checksum"], Value::from(checksum(&pair, &new)));
            book = new;
        }
        // Nothing changed: no message.
        let same = Book::from_capture(&capture(99, 10, &bids, &asks), Some(&book));
        assert!(update(&pair, &sym, &book, &same, 10).is_none());
    }

    #[test]
    fn numbers_are_written_at_fixed_precision_and_ids_are_public_ids() {
        let (pair, sym) = pair();
        let unit = 10i128.pow(pair.base_decimals);
        let bids: Side = vec![(79_754 * 10i64.pow(pair.pair_decimals) as u64, vec![(5, unit * 4 / 10_000)])];
        let book = Book::from_capture(&capture(1_696_613_755_440_295_000, 10, &bids, &vec![]), None);
        let snap: Value = serde_json::from_str(&snapshot(&pair, &sym, &book, 10)).unwrap();
        let o = &snap["data"][0]["bids"][0];
        let raw = snapshot(&pair, &sym, &book, 10);
        assert!(raw.contains(&format!("\"limit_price\":{}", price_text(&pair, bids[0].0))), "{raw}");
        assert!(raw.contains("\"order_qty\":0.00040000"), "{raw}");
        assert_eq!(o["order_id"].as_str().unwrap(), IdCodec::new(7).encode(IdKind::Order, 5));
        assert_eq!(o["timestamp"], "2023-10-06T17:35:55.440295Z");
        assert_eq!(snap["data"][0]["symbol"], "BTC/USD");
        assert_eq!(o.as_object().unwrap().keys().collect::<Vec<_>>(), ["order_id", "limit_price", "order_qty", "timestamp"]);
    }
}
