//! The account's history: OpenOrders, ClosedOrders, QueryOrders, TradesHistory, QueryTrades,
//! Ledgers and QueryLedgers, with Kraken's filters and 50-per-page offsets (most recent first).
//! Open orders are read in the engine; closed orders, trades and ledger entries in the history
//! tables (`storage::history_read`, what has been acknowledged), rendered with the engine's ids
//! and markets.

use crate::api::params::Params;
use crate::api::views;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::account::TradeRecord;
use crate::engine::account::{LedgerEntry, LedgerKind};
use crate::engine::ids::{IdCodec, IdKind};
use crate::engine::order::{AccountId, Order, OrderSeq};
use crate::error::KrakenError;
use crate::storage::history_read::{CloseTime, ClosedQuery, HistoryReader};
use crate::storage::StorageError;
use serde_json::{json, Map, Value};

const PAGE: usize = 50;

/// A `start`/`end` bound as given: a time, or an id still to be looked up.
enum Bound {
    Time(u64),
    Id(u64),
}

/// An order bound (`start`/`end`): unix seconds (possibly fractional) or an order id, whose time
/// is its open time: an open order's from the engine first, then a closed one's from the table
/// (an order that closed between the two reads is found in the second).
async fn order_bound(st: &Shared, p: &Params, name: &str) -> Result<Option<u64>, KrakenError> {
    match parse_bound(&st.ids, p, name, IdKind::Order)? {
        None => Ok(None),
        Some(Bound::Time(t)) => Ok(Some(t)),
        Some(Bound::Id(seq)) => {
            let open = st.sequencer.read(move |ex| ex.open_order(seq).map(|o| o.open_ns)).await?;
            let t = match open {
                Some(t) => Some(t),
                None => from_store(st, move |h| Ok(h.closed_order(seq)?.map(|o| o.open_ns))).await?,
            };
            t.map(Some).ok_or_else(|| KrakenError::invalid(name))
        }
    }
}

/// A trade or ledger bound: an id's time is its record's, read from the history tables.
async fn store_bound(st: &Shared, p: &Params, name: &str, kind: IdKind) -> Result<Option<u64>, KrakenError> {
    match parse_bound(&st.ids, p, name, kind)? {
        None => Ok(None),
        Some(Bound::Time(t)) => Ok(Some(t)),
        Some(Bound::Id(seq)) => {
            let t = from_store(st, move |h| {
                Ok(if kind == IdKind::Trade { h.trade(seq)?.map(|t| t.time_ns) } else { h.ledger_entry(seq)?.map(|e| e.time_ns) })
            })
            .await?;
            t.map(Some).ok_or_else(|| KrakenError::invalid(name))
        }
    }
}

/// Runs a read of the history tables off the async workers.
pub(crate) async fn from_store<T: Send + 'static>(
    st: &Shared,
    f: impl FnOnce(&HistoryReader) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, KrakenError> {
    let h = st.history.clone();
    match tokio::task::spawn_blocking(move || f(&h)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "history read failed");
            Err(KrakenError::InternalError)
        }
        Err(_) => Err(KrakenError::InternalError),
    }
}

fn parse_bound(ids: &IdCodec, p: &Params, name: &str, kind: IdKind) -> Result<Option<Bound>, KrakenError> {
    let Some(text) = p.text(name) else { return Ok(None) };
    if let Some(seq) = ids.decode(kind, text) {
        return Ok(Some(Bound::Id(seq)));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: u64 = int.parse().map_err(|_| KrakenError::invalid(name))?;
    let mut ns = secs.checked_mul(1_000_000_000).ok_or_else(|| KrakenError::invalid(name))?;
    if !frac.is_empty() {
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KrakenError::invalid(name));
        }
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        ns += digits.parse::<u64>().unwrap_or(0);
    }
    Ok(Some(Bound::Time(ns)))
}

/// Applies `ofs` and the page size to matches listed most recent first.
fn page<T>(items: Vec<T>, p: &Params) -> Result<(usize, Vec<T>), KrakenError> {
    let ofs = p.int::<usize>("ofs")?.unwrap_or(0);
    let total = items.len();
    Ok((total, items.into_iter().skip(ofs).take(PAGE).collect()))
}

pub async fn open_orders(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let (account, p) = (c.account(), p.clone());
    st.sequencer
        .read(move |ex| {
            let with_trades = p.flag("trades")?;
            let userref = p.int::<i32>("userref")?;
            let cl = p.text("cl_ord_id").map(str::to_string);
            let acct = ex.user_account(account)?;
            let mut open = Map::new();
            for seq in acct.open_orders.iter().rev() {
                let o = &ex.orders[*seq as usize];
                if userref.is_some_and(|u| o.req.userref != Some(u)) || cl.as_ref().is_some_and(|c| o.cl_ord_id() != Some(c.as_str())) {
                    continue;
                }
                open.insert(ex.order_txid(*seq), views::order(ex, o, with_trades));
            }
            Ok(json!({ "open": open }))
        })
        .await?
}

pub async fn closed_orders(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let (account, p, sees) = (c.account(), p.clone(), c.query_window());
    let with_trades = p.flag("trades")?;
    let userref = p.int::<i32>("userref")?;
    let cl_ord_id = p.text("cl_ord_id").map(str::to_string);
    let start = order_bound(st, &p, "start").await?;
    let end = order_bound(st, &p, "end").await?;
    let closetime = match p.text("closetime").unwrap_or("both") {
        "open" => CloseTime::Open,
        "close" => CloseTime::Close,
        "both" => CloseTime::Both,
        _ => return Err(KrakenError::invalid("closetime")),
    };
    st.sequencer.read(move |ex| ex.user_account(account).map(|_| ())).await??;
    let q = ClosedQuery { start, end, closetime, userref, cl_ord_id };
    let found = from_store(st, move |h| h.closed_orders(account, &q)).await?;
    let matches: Vec<Order> = found.into_iter().filter(|o| sees.contains(o.open_ns)).collect();
    let (total, shown) = page(matches, &p)?;
    let without_count = p.flag("without_count")?;
    st.sequencer
        .read(move |ex| {
            let mut closed = Map::new();
            for o in &shown {
                closed.insert(ex.order_txid(o.seq), views::order(ex, o, with_trades));
            }
            let mut out = json!({ "closed": closed });
            if !without_count {
                out["count"] = json!(total);
            }
            out
        })
        .await
}

/// Open orders from the engine first, then the rest from the closed-orders table (an order that
/// closed between the two reads is found there), rendered in the order asked.
pub async fn query_orders(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let (account, p, sees) = (c.account(), p.clone(), c.query_window());
    let txids = p.list("txid", 50)?;
    if txids.is_empty() {
        return Err(KrakenError::invalid("txid"));
    }
    let with_trades = p.flag("trades")?;
    let userref = p.int::<i32>("userref")?;
    let seqs: Vec<Option<OrderSeq>> = txids.iter().map(|t| st.ids.decode(IdKind::Order, t.trim())).collect();
    let wanted = seqs.clone();
    let open: Vec<Option<(Option<i32>, Value)>> = st
        .sequencer
        .read(move |ex| {
            let render = |seq: OrderSeq| {
                ex.open_order(seq).filter(|o| o.req.account == account).map(|o| (o.req.userref, views::order(ex, o, with_trades)))
            };
            wanted.iter().map(|s| s.and_then(render)).collect()
        })
        .await?;
    let rest: Vec<OrderSeq> = seqs.iter().zip(&open).filter(|(_, o)| o.is_none()).filter_map(|(s, _)| *s).collect();
    let closed = if rest.is_empty() {
        Vec::new()
    } else {
        from_store(st, move |h| rest.iter().filter_map(|s| h.closed_order(*s).transpose()).collect::<Result<Vec<Order>, _>>()).await?
    };
    st.sequencer
        .read(move |ex| {
            let mut out = Map::new();
            for (seq, shown) in seqs.iter().zip(open) {
                let (seq, (order_userref, o)) = match (seq, shown) {
                    (Some(seq), Some(v)) => (*seq, v),
                    (Some(seq), None) => {
                        let o = closed
                            .iter()
                            .find(|o| o.seq == *seq && o.req.account == account && sees.contains(o.open_ns))
                            .ok_or(KrakenError::InvalidOrder)?;
                        (*seq, (o.req.userref, views::order(ex, o, with_trades)))
                    }
                    (None, _) => return Err(KrakenError::InvalidOrder),
                };
                if userref.is_some_and(|u| order_userref != Some(u)) {
                    continue;
                }
                out.insert(ex.order_txid(seq), o);
            }
            Ok(Value::Object(out))
        })
        .await?
}

pub async fn trades_history(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let (account, p, sees) = (c.account(), p.clone(), c.query_window());
    let start = store_bound(st, &p, "start", IdKind::Trade).await?;
    let end = store_bound(st, &p, "end", IdKind::Trade).await?;
    let with_ledgers = p.flag("ledgers")?;
    if !matches!(p.text("type").unwrap_or("all"), "all" | "any position" | "closed position" | "closing position" | "no position") {
        return Err(KrakenError::invalid("type"));
    }
    let found = from_store(st, move |h| h.trades(account, start, end)).await?;
    let matches: Vec<TradeRecord> = found.into_iter().filter(|t| sees.contains(t.time_ns)).collect();
    let (total, shown) = page(matches, &p)?;
    let without_count = p.flag("without_count")?;
    st.sequencer
        .read(move |ex| {
            ex.user_account(account)?;
            let mut trades = Map::new();
            for t in &shown {
                trades.insert(ex.ids.encode(IdKind::Trade, t.seq), views::trade(ex, t, with_ledgers));
            }
            let mut out = json!({ "trades": trades });
            if !without_count {
                out["count"] = json!(total);
            }
            Ok(out)
        })
        .await?
}

pub async fn query_trades(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let found = by_id(st, c, p, "txid", IdKind::Trade, HistoryReader::trade, |t: &TradeRecord| (t.account, t.time_ns)).await?;
    st.sequencer.read(move |ex| Ok(Value::Object(found.iter().map(|(id, t)| (id.clone(), views::trade(ex, t, false))).collect()))).await?
}

/// QueryTrades and QueryLedgers: up to 20 ids in `name`, each looked up in the history tables and
/// shown only if it is the caller's and inside its query window; any other id (unknown,
/// someone else's, malformed) is Kraken's `EGeneral:Invalid arguments:<name>` for the whole call.
async fn by_id<T: Send + 'static>(
    st: &Shared,
    c: &Caller,
    p: &Params,
    name: &'static str,
    kind: IdKind,
    fetch: fn(&HistoryReader, u64) -> Result<Option<T>, StorageError>,
    owner_and_time: fn(&T) -> (AccountId, u64),
) -> Result<Vec<(String, T)>, KrakenError> {
    let (account, sees) = (c.account(), c.query_window());
    let ids = p.list(name, 20)?;
    if ids.is_empty() {
        return Err(KrakenError::invalid(name));
    }
    let seqs: Vec<Option<u64>> = ids.iter().map(|id| st.ids.decode(kind, id)).collect();
    let found =
        from_store(st, move |h| seqs.into_iter().map(|s| s.map_or(Ok(None), |s| fetch(h, s))).collect::<Result<Vec<_>, _>>()).await?;
    let mut shown = Vec::with_capacity(ids.len());
    for (id, item) in ids.into_iter().zip(found) {
        let mine = item.filter(|item| {
            let (owner, time_ns) = owner_and_time(item);
            owner == account && sees.contains(time_ns)
        });
        shown.push((id, mine.ok_or_else(|| KrakenError::invalid(name))?));
    }
    Ok(shown)
}

pub async fn ledgers(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let (account, p, sees) = (c.account(), p.clone(), c.query_window());
    let mut assets = Vec::new();
    for name in p.list("asset", 50)? {
        if name.eq_ignore_ascii_case("all") {
            assets.clear();
            break;
        }
        assets.push(st.markets.asset_by_name(&name).ok_or(KrakenError::UnknownAsset)?);
    }
    let kind = match p.text("type").unwrap_or("all") {
        "all" => None,
        "trade" => Some(Some(LedgerKind::Trade)),
        "deposit" => Some(Some(LedgerKind::Deposit)),
        "withdrawal" => Some(Some(LedgerKind::Withdrawal)),
        "adjustment" => Some(Some(LedgerKind::Adjustment)),
        "transfer" | "margin" | "rollover" | "credit" | "settled" | "staking" | "dividend" | "sale" | "nft_rebate" => Some(None),
        _ => return Err(KrakenError::invalid("type")),
    };
    // Every entry here is of asset class `currency` (Kraken's default); another class matches none.
    let other_class = p.text("aclass").is_some_and(|a| a != "currency");
    let start = store_bound(st, &p, "start", IdKind::Ledger).await?;
    let end = store_bound(st, &p, "end", IdKind::Ledger).await?;
    let found = if other_class { Vec::new() } else { from_store(st, move |h| h.ledger(account, start, end)).await? };
    let matches: Vec<_> = found
        .into_iter()
        .filter(|e| sees.contains(e.time_ns) && (assets.is_empty() || assets.contains(&e.asset)) && kind.is_none_or(|k| k == Some(e.kind)))
        .collect();
    let (total, shown) = page(matches, &p)?;
    let without_count = p.flag("without_count")?;
    st.sequencer
        .read(move |ex| {
            ex.user_account(account)?;
            let mut ledger = Map::new();
            for e in &shown {
                ledger.insert(ex.ids.encode(IdKind::Ledger, e.seq), views::ledger_entry(ex, e));
            }
            let mut out = json!({ "ledger": ledger });
            if !without_count {
                out["count"] = json!(total);
            }
            Ok(out)
        })
        .await?
}

pub async fn query_ledgers(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let found = by_id(st, c, p, "id", IdKind::Ledger, HistoryReader::ledger_entry, |e: &LedgerEntry| (e.account, e.time_ns)).await?;
    st.sequencer.read(move |ex| Ok(Value::Object(found.iter().map(|(id, e)| (id.clone(), views::ledger_entry(ex, e))).collect()))).await?
}
