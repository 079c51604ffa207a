//! Kraken's `level3` channel: every resting order of the top 10, 100 or 1000 price levels of a
//! pair (public order id, limit price, visible quantity, timestamp), a snapshot then `add`,
//! `modify` and `delete` events with Kraken's level3 checksum. Kraken serves it on its own
//! endpoint (`wss://ws-l3.kraken.com/v2`) under its own rules, kept here: a token is required
//! (any valid one: the level3 page names no key permission), one depth per symbol per connection,
//! at most 200 symbols per connection (shared with the connection's other subscriptions), and a
//! subscription rate counter per account (+5/+25/+100 per symbol at depth 10/100/1000; 200 a
//! second, 500 for pro accounts) whose refusal is the v2 rate error. Other accounts' orders are
//! visible, as on Kraken, but never their account, userref or cl_ord_id: only the public id.
//!
//! The engine thread copies the watched pairs' orders after each batch ([`super::level3_capture`]);
//! the publisher thread turns consecutive copies into events ([`super::level3_book`]) under the
//! publisher's lock, the same lock a subscription takes, so a snapshot and the events after it
//! never miss or repeat a change. A pair's first subscriber waits (its ack sent) for the next
//! copy; later ones get their snapshot from the publisher's picture at once.

use super::conn::{ack, MAX_SUBSCRIPTIONS};
use super::level3_book::{self as l3, Book};
use super::level3_capture::{Interest, L3Capture, DEPTHS};
use super::publisher::{Inner, Publisher};
use crate::error::ws as err;
use crate::limits::counter::{Counter, Rule, UNIT};
use crate::limits::policy::Tier;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Subscription rate ceilings per second (Kraken: standard 200, pro 500) ...
const RATE_STANDARD: u64 = 200;
const RATE_PRO: u64 = 500;

/// ... and what one symbol costs at each depth of [`DEPTHS`].
fn rate_cost(depth: usize) -> u64 {
    match depth {
        10 => 5,
        100 => 25,
        _ => 100,
    }
}

#[derive(Clone, Copy, Debug)]
struct Sub {
    depth: usize,
    /// Its snapshot was sent (or not wanted): updates flow.
    active: bool,
    snapshot: bool,
}

/// The publisher's level3 state (inside its lock).
pub struct State {
    interest: Arc<Interest>,
    /// pair → the last picture (only while the pair has subscribers).
    books: HashMap<u16, Book>,
    /// pair → connection → subscription.
    subs: HashMap<u16, HashMap<u64, Sub>>,
    /// Subscription rate counters per account.
    counters: HashMap<u32, Counter>,
}

impl State {
    pub fn new(interest: Arc<Interest>) -> State {
        State { interest, books: HashMap::new(), subs: HashMap::new(), counters: HashMap::new() }
    }

    fn admit(&mut self, account: u32, tier: Tier, depth: usize, now_us: u64) -> bool {
        let per_sec = if tier == Tier::Pro { RATE_PRO } else { RATE_STANDARD };
        let rule = Rule { max: per_sec * UNIT, decay_per_sec: per_sec * UNIT };
        if self.counters.len() > 4096 {
            self.counters.retain(|_, c| !c.is_idle(rule, now_us));
        }
        self.counters.entry(account).or_default().try_add(rule, rate_cost(depth) * UNIT, now_us)
    }

    fn drop_sub(&mut self, conn: u64, pair: u16) -> Option<Sub> {
        let subs = self.subs.get_mut(&pair)?;
        let sub = subs.remove(&conn)?;
        if subs.is_empty() {
            self.subs.remove(&pair);
        }
        if self.interest.remove(pair, sub.depth) {
            self.books.remove(&pair);
        }
        Some(sub)
    }
}

/// The connection closed (or was dropped): its level3 subscriptions end.
pub fn release(publisher: &Publisher, conn: u64) {
    let mut g = publisher.lock();
    let pairs: Vec<u16> = g.level3.subs.iter().filter(|(_, m)| m.contains_key(&conn)).map(|(p, _)| *p).collect();
    for p in pairs {
        g.level3.drop_sub(conn, p);
    }
}

/// `subscribe`/`unsubscribe` of `level3`: the acks not sent yet (snapshots go out under the
/// publisher's lock, after their ack).
pub fn subscribe(
    publisher: &Publisher,
    app: &crate::api::Shared,
    conn: u64,
    on: bool,
    params: &Value,
    req_id: &Option<Value>,
    time_in: u64,
) -> Vec<String> {
    let method = if on { "subscribe" } else { "unsubscribe" };
    let fail = |e: &str| vec![ack(method, req_id, time_in, Err(e.to_string()))];
    let now_us = app.clock.now_us();
    let grant = match app.tokens.check_param(params, conn, now_us.saturating_mul(1000)) {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let Some(symbols) = params.get("symbol").and_then(Value::as_array).filter(|a| !a.is_empty()) else { return fail(err::MALFORMED) };
    let depth = match params.get("depth") {
        None => 10,
        Some(v) => match v.as_u64().map(|d| d as usize).filter(|d| DEPTHS.contains(d)) {
            Some(d) => d,
            None => return fail(err::DEPTH),
        },
    };
    let snapshot = match params.get("snapshot") {
        None => true,
        Some(v) => match v.as_bool() {
            Some(b) => b,
            None => return fail(err::MALFORMED),
        },
    };
    let tier = app.limits.tier(grant.account());
    let mut replies = Vec::new();
    let mut nudge = false;
    let mut g = publisher.lock();
    for s in symbols {
        let name = s.as_str().unwrap_or("");
        let Some(p) = super::channels::resolve(&publisher.markets, &publisher.syms, name) else {
            let mut a: Value =
                serde_json::from_str(&ack(method, req_id, time_in, Err(format!("{} {name}", err::PAIR_NOT_SUPPORTED)))).unwrap_or_default();
            a["symbol"] = json!(name);
            replies.push(a.to_string());
            continue;
        };
        let pair = p as u16;
        let sym = &publisher.syms[p];
        let Some(count) = g.clients.get(&conn).map(|c| c.subs.count()) else { return vec![] };
        let had = g.level3.subs.get(&pair).and_then(|m| m.get(&conn)).copied();
        if !on {
            let Some(sub) = had else {
                replies.push(ack(method, req_id, time_in, Err(err::NOT_FOUND.into())));
                continue;
            };
            g.level3.drop_sub(conn, pair);
            if let Some(c) = g.clients.get_mut(&conn) {
                c.subs.level3 = c.subs.level3.saturating_sub(1);
            }
            let a = ack(method, req_id, time_in, Ok(json!({"channel": "level3", "symbol": sym.symbol, "depth": sub.depth})));
            replies.push(a);
            continue;
        }
        // Kraken: one depth per symbol per connection.
        let refusal = if had.is_some() {
            Some(err::ALREADY_SUBSCRIBED)
        } else if count >= MAX_SUBSCRIPTIONS {
            Some(err::TOO_MANY)
        } else if !g.level3.admit(grant.account(), tier, depth, now_us) {
            Some(err::TOO_MANY_REQUESTS)
        } else {
            None
        };
        if let Some(e) = refusal {
            replies.push(ack(method, req_id, time_in, Err(e.into())));
            continue;
        }
        let a = ack(method, req_id, time_in, Ok(json!({"channel": "level3", "symbol": sym.symbol, "depth": depth, "snapshot": snapshot})));
        if !publisher.send(&mut g, conn, Arc::from(a)) {
            return vec![];
        }
        if let Some(c) = g.clients.get_mut(&conn) {
            c.subs.level3 += 1;
        }
        let ready = g.level3.books.get(&pair).filter(|b| b.depth >= depth);
        let active = ready.is_some();
        if let (Some(book), true) = (ready, snapshot) {
            let snap = l3::snapshot(&publisher.markets.pairs[p], sym, book, depth);
            if !publisher.send(&mut g, conn, Arc::from(snap)) {
                return vec![];
            }
        }
        g.level3.subs.entry(pair).or_default().insert(conn, Sub { depth, active, snapshot });
        g.level3.interest.add(pair, depth, !active);
        nudge |= !active;
    }
    drop(g);
    if nudge {
        // The first picture is made at the next pass of the engine thread: now.
        app.sequencer.nudge();
    }
    replies
}

/// A committed batch's level3 copies: events to active subscribers, snapshots to waiting ones.
pub fn publish(publisher: &Publisher, inner: &mut Inner, caps: Vec<L3Capture>) {
    for cap in caps {
        let pair = cap.pair;
        let p = pair as usize;
        let Some(subs) = inner.level3.subs.get(&pair).map(|m| m.iter().map(|(c, s)| (*c, *s)).collect::<Vec<_>>()) else {
            inner.level3.books.remove(&pair);
            continue;
        };
        if p >= publisher.markets.pairs.len() {
            continue;
        }
        let old = inner.level3.books.remove(&pair);
        let new = Book::from_capture(&cap, old.as_ref());
        let (mkt, sym) = (&publisher.markets.pairs[p], &publisher.syms[p]);
        let mut updates: HashMap<usize, Option<Arc<str>>> = HashMap::new();
        let mut snaps: HashMap<usize, Arc<str>> = HashMap::new();
        let mut activated = Vec::new();
        for (conn, sub) in subs {
            let snap = |snaps: &mut HashMap<usize, Arc<str>>| {
                snaps.entry(sub.depth).or_insert_with(|| Arc::from(l3::snapshot(mkt, sym, &new, sub.depth))).clone()
            };
            let msg = match (&old, sub.active) {
                (Some(old), true) if !cap.reset => {
                    updates.entry(sub.depth).or_insert_with(|| l3::update(mkt, sym, old, &new, sub.depth).map(Arc::from)).clone()
                }
                (_, true) => Some(snap(&mut snaps)),
                (_, false) if new.depth >= sub.depth => {
                    activated.push(conn);
                    sub.snapshot.then(|| snap(&mut snaps))
                }
                _ => None,
            };
            if let Some(m) = msg {
                publisher.send(inner, conn, m);
            }
        }
        if let Some(m) = inner.level3.subs.get_mut(&pair) {
            for conn in activated {
                if let Some(s) = m.get_mut(&conn) {
                    s.active = true;
                }
            }
        }
        inner.level3.books.insert(pair, new);
    }
}
