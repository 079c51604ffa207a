//! Kraken's private WebSocket v2 surface: the token store shared with REST
//! `GetWebSocketsToken`, and the private channels `executions` and `balances`: subscriptions
//! (token and permission checked at subscribe time), and the fan-out thread that delivers each
//! committed batch's account events (rendered on the engine thread by [`capture`]) to the
//! connections subscribed to that account, after their snapshot. With `ratecounter: true` the
//! ack carries `maxratecount` and each executions update `ratecount`: the account's trading
//! counter on the order's pair (`limits::ratecount`), read when the update is delivered.

pub mod balances;
pub mod capture;
pub mod executions;
pub mod token;

use super::conn::ack;
use super::publisher::Publisher;
use crate::auth::Permissions as P;
use crate::error::ws as err;
use capture::{AccountBatch, Channel, Request, Watchers};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy)]
struct Sub {
    account: u32,
    /// Its snapshot (or activation) was delivered: updates flow.
    active: bool,
    /// executions' `order_status`: every transition, or only new/filled/canceled/expired.
    detail: bool,
    /// executions' `ratecounter`: updates carry the trading counter.
    ratecounter: bool,
}

/// The private subscriptions of every connection, and the fan-out.
pub struct Private {
    pub watchers: Arc<Watchers>,
    publisher: Arc<Publisher>,
    subs: Mutex<HashMap<(u64, Channel), Sub>>,
    /// Where `ratecount` is read (set at the first subscription).
    rates: std::sync::OnceLock<(Arc<crate::limits::Limits>, crate::clock::Clock)>,
}

impl Private {
    /// Starts the fan-out thread and attaches it to the sequencer.
    pub fn start(
        publisher: Arc<Publisher>,
        sequencer: &crate::sequencer::Sequencer,
        history: Arc<crate::storage::history_read::HistoryReader>,
    ) -> Arc<Private> {
        let private = Arc::new(Private { watchers: Arc::default(), publisher, subs: Mutex::default(), rates: Default::default() });
        let _ = private.watchers.history.set(history);
        let (tx, rx) = crate::sequencer::wake::queue::<AccountBatch>();
        let p = private.clone();
        std::thread::Builder::new()
            .name("private-fanout".into())
            .spawn(move || {
                while let Ok(batch) = rx.recv() {
                    p.deliver(batch);
                }
            })
            .expect("spawn private fan-out thread");
        sequencer.attach_accounts(tx, private.watchers.clone());
        private
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(u64, Channel), Sub>> {
        self.subs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deliver(&self, batch: AccountBatch) {
        let mut subs = self.lock();
        let mut g = self.publisher.lock();
        for m in batch.msgs {
            match m.conn {
                Some(conn) => {
                    let Some(s) = subs.get_mut(&(conn, m.channel)) else { continue };
                    if s.account != m.account || s.active {
                        continue;
                    }
                    s.active = m.activate;
                    if let Some(t) = m.text {
                        self.publisher.send(&mut g, conn, t);
                    }
                }
                None => {
                    let Some(t) = m.text else { continue };
                    let mut rated: Option<Arc<str>> = None;
                    for ((conn, ch), s) in subs.iter() {
                        if *ch == m.channel && s.account == m.account && s.active && (s.detail || !m.detail) {
                            let text = match m.pair.filter(|_| s.ratecounter) {
                                Some(pair) => rated.get_or_insert_with(|| self.with_ratecount(&t, m.account, pair)).clone(),
                                None => t.clone(),
                            };
                            self.publisher.send(&mut g, *conn, text);
                        }
                    }
                }
            }
        }
    }

    /// An executions update with `ratecount` (the account's counter on `pair` now) in each entry;
    /// unchanged when the profile has no trading limit.
    fn with_ratecount(&self, text: &Arc<str>, account: u32, pair: u16) -> Arc<str> {
        let Some((limits, clock)) = self.rates.get() else { return text.clone() };
        let Some(level) = limits.trading_level(account, pair, clock.now_us()) else { return text.clone() };
        let Ok(mut v) = serde_json::from_str::<Value>(text) else { return text.clone() };
        if let Some(data) = v["data"].as_array_mut() {
            for e in data.iter_mut().filter(|e| e.is_object()) {
                e["ratecount"] = level.into();
            }
        }
        Arc::from(v.to_string())
    }

    /// Whether the connection holds a private subscription (for its heartbeat).
    pub fn subscribed(&self, conn: u64) -> bool {
        self.lock().keys().any(|(c, _)| *c == conn)
    }

    /// The connection closed: its subscriptions end.
    pub fn release(&self, conn: u64) {
        let mut subs = self.lock();
        let gone: Vec<(u64, Channel)> = subs.keys().filter(|(c, _)| *c == conn).copied().collect();
        for k in gone {
            if let Some(s) = subs.remove(&k) {
                self.watchers.unwatch(s.account);
            }
        }
    }

    /// `subscribe`/`unsubscribe` of `executions` or `balances`: the acks (the snapshot follows
    /// through the fan-out once the engine thread has made it).
    #[allow(clippy::too_many_arguments)]
    pub fn subscribe(
        &self,
        app: &crate::api::Shared,
        conn: u64,
        on: bool,
        channel: &str,
        params: &Value,
        req_id: &Option<Value>,
        time_in: u64,
    ) -> Vec<String> {
        let method = if on { "subscribe" } else { "unsubscribe" };
        let fail = |e: &str| vec![ack(method, req_id, time_in, Err(e.to_string()))];
        let ch = if channel == "executions" { Channel::Executions } else { Channel::Balances };
        let grant = match app.tokens.check_param(params, conn, app.clock.now_us().saturating_mul(1000)) {
            Ok(g) => g,
            Err(e) => return fail(e),
        };
        let needs: &[P] = match ch {
            Channel::Executions => &[P::QUERY_OPEN_ORDERS, P::QUERY_CLOSED_ORDERS],
            Channel::Balances => &[P::QUERY_FUNDS],
        };
        if on && !needs.iter().any(|p| grant.permissions().contains(*p)) {
            return fail(err::INVALID_PERMISSIONS);
        }
        let flag = |name: &str, default: bool| -> Result<bool, ()> {
            match params.get(name) {
                None => Ok(default),
                Some(v) => v.as_bool().ok_or(()),
            }
        };
        let (a, b, c) = match ch {
            // `snapshot` is the deprecated alias of `snap_trades`'s opposite number: both kept.
            Channel::Executions => {
                (flag("snap_orders", true), flag("snap_trades", flag("snapshot", false).unwrap_or(false)), flag("order_status", true))
            }
            Channel::Balances => (flag("snapshot", true), Ok(false), Ok(true)),
        };
        let (Ok(snap_orders), Ok(snap_trades), Ok(detail)) = (a, b, c) else { return fail(err::MALFORMED) };
        let Ok(ratecounter) = flag("ratecounter", false) else { return fail(err::MALFORMED) };
        let ratecounter = ratecounter && ch == Channel::Executions;
        let account = grant.account();
        let mut subs = self.lock();
        let had = subs.get(&(conn, ch)).copied();
        if on == had.is_some() {
            return fail(if on { err::ALREADY_SUBSCRIBED } else { err::NOT_FOUND });
        }
        let result = match (ch, on) {
            (Channel::Executions, true) => {
                let mut r =
                    json!({"channel": "executions", "snap_orders": snap_orders, "snap_trades": snap_trades, "order_status": detail});
                if let Some(rc) = params.get("ratecounter") {
                    r["ratecounter"] = rc.clone();
                }
                if let Some(max) = app.limits.trading_max(account).filter(|_| ratecounter) {
                    r["maxratecount"] = max.into();
                }
                r
            }
            (Channel::Balances, true) => json!({"channel": "balances", "snapshot": snap_orders}),
            (_, false) => json!({"channel": channel}),
        };
        let text = ack(method, req_id, time_in, Ok(result));
        if on {
            // The ack goes out from the fan-out, at the snapshot point (see `capture::Request::ack`).
            let _ = self.rates.set((app.limits.clone(), app.clock.clone()));
            subs.insert((conn, ch), Sub { account, active: false, detail, ratecounter });
            drop(subs);
            self.watchers.watch(Request { conn, account, channel: ch, snap_orders, snap_trades, ack: Arc::from(text) });
            app.sequencer.nudge();
            vec![]
        } else {
            if let Some(s) = subs.remove(&(conn, ch)) {
                self.watchers.unwatch(s.account);
            }
            vec![text]
        }
    }
}
