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
    let mut s = String::new();
    for side in [&book.asks, &book.bids] {
        for l in side.iter().take(CHECKSUM_LEVELS) {
            let p = price_text(pair, l.price);
            for o in &l.orders {
                digits(&p, &mut s);
                digits(&qty_text(pair, o.qty), &mut s);
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
