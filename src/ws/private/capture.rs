//! The engine side of the private channels: after each batch, on the engine thread, the
//! accounts some connection watches are compared with what was seen after the previous batch
//! (their orders' status, fills, amends and triggers; their trades and ledger entries), and the
//! differences are rendered as Kraken's `executions` and `balances` events into the batch's
//! `Pending`. New subscriptions get their snapshot at the same point, so a snapshot and the
//! events after it never overlap or leave a gap. The storage thread hands the batch to the
//! private fan-out only once it is durable. Only watched accounts cost anything, and the engine
//! stays a pure state machine (this reads it after `apply`, as the public capture does).
//!
//! What a diff cannot see the engine reports itself (`engine::events`): each amend (so two
//! amends of one order in one batch are two `amended`), iceberg refills and `Requote`
//! restatements. The capture drains that list after each batch and names the accounts whose
//! events the engine should keep for the next one (those with a baseline now); each event is
//! placed among the order's fills by the fill count it happened at.
//!
//! Trades and ledger entries are not kept by the engine: the batch's own are in its outbox
//! (`engine::outbox`, drained only after this capture), and an order's running totals before
//! them are its totals less them. A snapshot's last fills are read from the history tables once
//! every earlier batch is durable (the wait is the caller's), plus this batch's outbox.

use super::{balances, executions};
use crate::engine::account::TradeRecord;
use crate::engine::events::{OrderEvent, OrderEventKind};
use crate::engine::order::{Order, OrderSeq, Status};
use crate::engine::Exchange;
use crate::storage::history_read::HistoryReader;
use crate::ws::channels::Sym;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Where committed batches' private events go (the fan-out's queue) and which accounts to watch.
pub type AccountSink = Arc<std::sync::OnceLock<(crate::sequencer::wake::Ringing<AccountBatch>, Arc<Watchers>)>>;

/// Fills in an executions snapshot (Kraken's last 50).
pub const SNAPSHOT_TRADES: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Executions,
    Balances,
}

/// What a new subscription asks for.
#[derive(Clone, Debug)]
pub struct Request {
    pub conn: u64,
    pub account: u32,
    pub channel: Channel,
    /// executions: open orders / last fills; balances: `snap_orders` is the snapshot flag.
    pub snap_orders: bool,
    pub snap_trades: bool,
    /// The subscribe ack, sent at the snapshot point: whatever the client does after reading it
    /// is reported.
    pub ack: Arc<str>,
}

/// The accounts watched (with how many subscriptions each) and the subscriptions waiting for
/// their snapshot. Written by connections, read by the engine thread after each batch.
#[derive(Default)]
pub struct Watchers {
    inner: Mutex<(HashMap<u32, usize>, Vec<Request>)>,
    /// The history tables, for executions snapshots' last fills (set by the server).
    pub history: std::sync::OnceLock<Arc<crate::storage::history_read::HistoryReader>>,
}

impl Watchers {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<u32, usize>, Vec<Request>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn watch(&self, req: Request) {
        let mut g = self.lock();
        *g.0.entry(req.account).or_default() += 1;
        g.1.push(req);
    }
    pub fn unwatch(&self, account: u32) {
        let mut g = self.lock();
        if let Some(n) = g.0.get_mut(&account) {
            *n -= 1;
            if *n == 0 {
                g.0.remove(&account);
            }
        }
    }
    fn take(&self) -> (Vec<u32>, Vec<Request>) {
        let mut g = self.lock();
        (g.0.keys().copied().collect(), std::mem::take(&mut g.1))
    }
}

/// One message for the fan-out.
#[derive(Clone, Debug)]
pub struct AccountMsg {
    pub account: u32,
    pub channel: Channel,
    /// A snapshot for one connection's new subscription (which it activates; `text` None: no
    /// snapshot asked, activate only); `None`: an update for every active subscription.
    pub conn: Option<u64>,
    /// An update only `order_status=true` subscriptions get (pending_new, amended, status); fills
    /// and the open/close transitions go to every subscription.
    pub detail: bool,
    pub text: Option<Arc<str>>,
    /// The last message of a snapshot: after it, updates flow to that subscription.
    pub activate: bool,
    /// An executions update about an order of this pair (where `ratecounter` adds `ratecount`).
    pub pair: Option<u16>,
}

/// What one committed batch hands the private fan-out, in order.
#[derive(Clone, Debug, Default)]
pub struct AccountBatch {
    pub msgs: Vec<AccountMsg>,
}

impl AccountBatch {
    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
    pub fn extend(&mut self, more: AccountBatch) {
        self.msgs.extend(more.msgs);
    }
}

#[derive(Clone, PartialEq, Eq)]
struct Sig {
    status: Status,
    fills: usize,
    armed: bool,
}

struct Seen {
    orders: HashMap<OrderSeq, Sig>,
}

/// What the engine thread remembers of the watched accounts between batches.
#[derive(Default)]
pub struct Tracker {
    syms: Vec<Sym>,
    seen: HashMap<u32, Seen>,
    /// The state was replaced (reset, restore): start over without events.
    pub reset: bool,
}

fn sig(o: &Order) -> Sig {
    Sig { status: o.status, fills: o.trades().len(), armed: o.stop().is_some_and(|s| s.armed) }
}

fn live(s: Status) -> bool {
    matches!(s, Status::Open | Status::Pending)
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    fn baseline(ex: &Exchange, account: u32) -> Seen {
        let a = &ex.accounts[account as usize];
        Seen { orders: a.open_orders.iter().map(|s| (*s, sig(&ex.orders[*s as usize]))).collect() }
    }

    /// The events since the last call of every watched account, then the snapshots asked for.
    /// `wait_durable` returns once every earlier batch is durable (a snapshot's fills are read
    /// from the history tables).
    pub fn capture(&mut self, engine: &mut Exchange, watchers: &Watchers, now_ns: u64, wait_durable: &dyn Fn()) -> AccountBatch {
        let (watched, requests) = watchers.take();
        let mut out = AccountBatch::default();
        if watched.is_empty() && self.seen.is_empty() {
            engine.order_events.watch([]);
            return out;
        }
        let mut reported: HashMap<OrderSeq, Vec<OrderEvent>> = HashMap::new();
        for e in engine.order_events.take() {
            reported.entry(e.order).or_default().push(e);
        }
        let ex = &*engine;
        if self.syms.len() != ex.markets.pairs.len() {
            self.syms = ex.markets.pairs.iter().map(|p| Sym::of(&ex.markets, p)).collect();
        }
        if std::mem::take(&mut self.reset) {
            self.seen.clear();
        }
        self.seen.retain(|a, _| watched.contains(a));
        let mut accounts: Vec<u32> = self.seen.keys().copied().collect();
        accounts.sort_unstable();
        // The orders this batch closed are no longer in the engine: they are in its outbox.
        let closed: HashMap<OrderSeq, &Order> = if accounts.is_empty() {
            HashMap::new()
        } else {
            ex.history_out.closed_orders.iter().map(|c| (c.order.seq, &c.order)).collect()
        };
        for account in accounts {
            let seen = self.seen.get_mut(&account).expect("listed");
            events(ex, &self.syms, account, seen, &closed, &reported, now_ns, &mut out);
        }
        for a in &watched {
            if (*a as usize) < ex.accounts.len() && !self.seen.contains_key(a) {
                self.seen.insert(*a, Tracker::baseline(ex, *a));
            }
        }
        if requests.iter().any(|r| r.channel == Channel::Executions && r.snap_trades) {
            wait_durable();
        }
        for r in requests {
            if (r.account as usize) >= ex.accounts.len() {
                continue;
            }
            snapshot(ex, &self.syms, &r, watchers.history.get().map(|h| &**h), &mut out);
        }
        // The engine keeps the next batch's events of the accounts with a baseline now.
        engine.order_events.watch(self.seen.keys().copied());
        out
    }
}

fn push(out: &mut AccountBatch, account: u32, channel: Channel, conn: Option<u64>, detail: bool, text: String) {
    out.msgs.push(AccountMsg { account, channel, conn, detail, text: Some(Arc::from(text)), activate: false, pair: None });
}

/// An executions update about an order of `pair`.
fn push_exec(out: &mut AccountBatch, account: u32, pair: u16, detail: bool, v: Value) {
    let text = executions::message("update", vec![v]);
    out.msgs.push(AccountMsg {
        account,
        channel: Channel::Executions,
        conn: None,
        detail,
        text: Some(Arc::from(text)),
        activate: false,
        pair: Some(pair),
    });
}

/// The `executions` entry of an event the engine reported.
fn reported_event(ex: &Exchange, o: &crate::engine::order::Order, e: &OrderEvent) -> Value {
    match e.kind {
        OrderEventKind::Amended { record } => executions::amended(ex, o, record, e.fills, e.time_ns),
        OrderEventKind::IcebergRefill { shown } => executions::iceberg_refill(ex, o, shown, e.fills, e.time_ns),
        OrderEventKind::Restated { price, volume } => executions::restated(ex, o, price, volume, e.fills, e.time_ns),
    }
}

#[allow(clippy::too_many_arguments)]
fn events(
    ex: &Exchange,
    syms: &[Sym],
    account: u32,
    seen: &mut Seen,
    closed: &HashMap<OrderSeq, &Order>,
    reported: &HashMap<OrderSeq, Vec<OrderEvent>>,
    now: u64,
    out: &mut AccountBatch,
) {
    let a = &ex.accounts[account as usize];
    let mut candidates: BTreeSet<OrderSeq> = seen.orders.keys().copied().collect();
    candidates.extend(a.open_orders.iter().copied());
    candidates.extend(ex.history_out.closed_orders.iter().filter(|c| c.order.req.account == account).map(|c| c.order.seq));
    // This batch's trades of the account (the outbox is drained after the capture).
    let batch_trades: Vec<&TradeRecord> = ex.history_out.trades.iter().filter(|t| t.account == account).collect();
    candidates.extend(batch_trades.iter().map(|t| t.order));
    candidates.extend(reported.iter().filter(|(_, v)| v.iter().any(|e| e.account == account)).map(|(s, _)| *s));
    let none = Vec::new();
    for seq in candidates {
        // Open (or pending) in the engine, or closed during this batch.
        let Some(o) = ex.orders.get(seq as usize).or_else(|| closed.get(&seq).copied()) else {
            tracing::error!(order = seq, "order of a watched account not found (executions)");
            seen.orders.remove(&seq);
            continue;
        };
        let new = sig(o);
        let old = seen.orders.get(&seq).cloned();
        let mine = reported.get(&seq).unwrap_or(&none);
        if old.as_ref() == Some(&new) && mine.is_empty() {
            continue;
        }
        let pair = o.req.pair;
        let sym = &syms[pair as usize];
        let was_pending = match &old {
            None => {
                // As received: nothing filled yet, whatever the rest of the batch did to it.
                let mut v = executions::full(ex, sym, o, "pending_new", o.open_ns);
                v["order_status"] = "pending_new".into();
                for f in ["cum_qty", "cum_cost", "avg_price", "fee_usd_equiv"] {
                    v[f] = 0.into();
                }
                push_exec(out, account, pair, true, v);
                if o.status != Status::Pending {
                    let mut v = executions::transition(ex, o, "new", o.open_ns);
                    v["order_status"] = "new".into();
                    push_exec(out, account, pair, false, v);
                }
                false
            }
            Some(s) => s.status == Status::Pending,
        };
        if was_pending && o.status != Status::Pending {
            let mut v = executions::transition(ex, o, "new", now);
            v["order_status"] = "new".into();
            push_exec(out, account, pair, false, v);
        }
        let was_armed = old.as_ref().map_or(o.req.kind.is_triggered(), |s| s.armed);
        if was_armed && !new.armed && o.stop().is_some() {
            push_exec(out, account, pair, true, executions::triggered(ex, o, now));
        }
        // The engine's own reports, each after the fills the order had when it happened.
        let from = old.as_ref().map_or(0, |s| s.fills);
        let mut pending = mine.iter().peekable();
        while let Some(e) = pending.next_if(|e| e.fills <= from) {
            push_exec(out, account, pair, true, reported_event(ex, o, e));
        }
        // The order's fills in this batch; its totals before them are its totals less them.
        let new_fills: Vec<&TradeRecord> = batch_trades.iter().filter(|t| t.order == seq).copied().collect();
        let first = o.trades().len() - new_fills.len();
        let (mut cq, mut cc) = (o.filled(), o.cost_cd());
        for tr in &new_fills {
            cq -= tr.volume;
            cc -= tr.cost_cd;
        }
        for (j, tr) in new_fills.iter().enumerate() {
            let i = first + j;
            cq += tr.volume;
            cc += tr.cost_cd;
            if i >= from {
                push_exec(out, account, pair, false, executions::trade(ex, sym, o, tr, cq, cc, false));
                while let Some(e) = pending.next_if(|e| e.fills <= i + 1) {
                    push_exec(out, account, pair, true, reported_event(ex, o, e));
                }
            }
        }
        for e in pending {
            push_exec(out, account, pair, true, reported_event(ex, o, e));
        }
        let terminal = match o.status {
            Status::Closed => Some("filled"),
            Status::Canceled => Some("canceled"),
            Status::Expired => Some("expired"),
            _ => None,
        };
        if let Some(kind) = terminal.filter(|_| old.as_ref().is_none_or(|s| live(s.status))) {
            push_exec(out, account, pair, false, executions::transition(ex, o, kind, o.close_ns.max(o.open_ns)));
        }
        if live(o.status) {
            seen.orders.insert(seq, new);
        } else {
            seen.orders.remove(&seq);
        }
    }
    for e in ex.history_out.ledger.iter().filter(|e| e.account == account) {
        push(out, account, Channel::Balances, None, false, balances::message("update", vec![balances::entry(ex, e)]));
    }
}

fn snapshot(ex: &Exchange, syms: &[Sym], r: &Request, history: Option<&HistoryReader>, out: &mut AccountBatch) {
    let a = &ex.accounts[r.account as usize];
    out.msgs.push(AccountMsg {
        account: r.account,
        channel: r.channel,
        conn: Some(r.conn),
        detail: false,
        text: Some(r.ack.clone()),
        activate: false,
        pair: None,
    });
    let activate = |out: &mut AccountBatch| {
        out.msgs.push(AccountMsg {
            account: r.account,
            channel: r.channel,
            conn: Some(r.conn),
            detail: false,
            text: None,
            activate: true,
            pair: None,
        })
    };
    match r.channel {
        Channel::Balances => {
            if r.snap_orders {
                push(out, r.account, r.channel, Some(r.conn), false, balances::message("snapshot", balances::snapshot(ex, r.account)));
            } else {
                activate(out);
            }
        }
        Channel::Executions => {
            if !r.snap_orders && !r.snap_trades {
                activate(out);
            }
            if r.snap_orders {
                let data = a
                    .open_orders
                    .iter()
                    .map(|s| {
                        let o = &ex.orders[*s as usize];
                        executions::full(ex, &syms[o.req.pair as usize], o, "new", o.open_ns)
                    })
                    .collect();
                push(out, r.account, r.channel, Some(r.conn), false, executions::message("snapshot", data));
            }
            if r.snap_trades {
                let data = last_fills(ex, history, r.account)
                    .into_iter()
                    .filter_map(|(tr, cq, cc)| {
                        let o = order_now(ex, history, tr.order)?;
                        Some(executions::trade(ex, &syms[tr.pair as usize], &o, &tr, cq, cc, true))
                    })
                    .collect();
                push(out, r.account, r.channel, Some(r.conn), false, executions::message("snapshot", data));
            }
        }
    }
    if let Some(last) = out.msgs.last_mut() {
        last.activate = true;
    }
}

/// An order as it stands now: open in the engine, closed in this batch (the outbox), or closed
/// before it (the closed-orders table: every earlier batch is durable by now). A read error or
/// a missing row is logged and gives `None`.
fn order_now<'a>(ex: &'a Exchange, history: Option<&HistoryReader>, seq: OrderSeq) -> Option<Cow<'a, Order>> {
    if let Some(o) = ex.open_order(seq) {
        return Some(Cow::Borrowed(o));
    }
    if let Some(c) = ex.history_out.closed_orders.iter().rev().find(|c| c.order.seq == seq) {
        return Some(Cow::Borrowed(&c.order));
    }
    match history.map(|h| h.closed_order(seq)) {
        Some(Ok(Some(o))) => Some(Cow::Owned(o)),
        Some(Err(e)) => {
            tracing::error!(error = %e, "history read failed (executions snapshot)");
            None
        }
        _ => {
            tracing::error!(order = seq, "order of a fill not found (executions snapshot)");
            None
        }
    }
}

/// The account's last [`SNAPSHOT_TRADES`] fills, oldest first, each with its order's running
/// quantity and cost after it: the durable ones from the history tables (every earlier batch is
/// durable by now), this batch's from the outbox. A read error leaves the durable part out (logged).
fn last_fills(ex: &Exchange, history: Option<&HistoryReader>, account: u32) -> Vec<(TradeRecord, i128, i128)> {
    let fresh = |order: Option<OrderSeq>| {
        ex.history_out.trades.iter().filter(move |t| t.account == account && order.is_none_or(|o| t.order == o)).cloned()
    };
    let read = |f: &dyn Fn(&HistoryReader) -> Result<Vec<TradeRecord>, crate::storage::StorageError>| match history.map(f) {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            tracing::error!(error = %e, "history read failed (executions snapshot)");
            Vec::new()
        }
        None => Vec::new(),
    };
    let mut recent = read(&|h| h.last_trades(account, SNAPSHOT_TRADES));
    recent.reverse();
    recent.extend(fresh(None));
    let recent = recent.split_off(recent.len().saturating_sub(SNAPSHOT_TRADES));
    let mut totals: HashMap<u64, (i128, i128)> = HashMap::new();
    let mut orders: BTreeSet<OrderSeq> = recent.iter().map(|t| t.order).collect();
    while let Some(order) = orders.pop_first() {
        let mut all = read(&|h| h.trades_of_order(order));
        all.extend(fresh(Some(order)));
        let (mut q, mut c) = (0, 0);
        for t in all {
            q += t.volume;
            c += t.cost_cd;
            totals.insert(t.seq, (q, c));
        }
    }
    recent
        .into_iter()
        .map(|t| {
            let (q, c) = totals.get(&t.seq).copied().unwrap_or((t.volume, t.cost_cd));
            (t, q, c)
        })
        .collect()
}
