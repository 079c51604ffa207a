//! AddOrderBatch and CancelOrderBatch. A batch is validated whole first, each order by AddOrder's
//! own `parse_new_order` (so every order type and flag AddOrder takes is taken here too): any
//! invalid order refuses the whole batch with that order's error, and nothing is placed. Then
//! the batch is one engine command; an order the engine refuses (funds) gets its own `error`
//! entry and the rest are placed, as Kraken documents. Clients send the batch as JSON
//! (`"orders": [{…}, …]`); the form spelling `orders[0][ordertype]=…` is read too.

use super::orders::parse_new_order_at;
use crate::api::params::Params;
use crate::api::views;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::ids::IdKind;
use crate::engine::order::NewOrder;
use crate::engine::{Applied, CancelTarget, Command, Exchange, MAX_BATCH, MAX_CANCEL_BATCH, MIN_BATCH};
use crate::error::KrakenError;
use crate::limits::{cancel_penalty, TradingCharge};
use serde_json::{json, Value};

/// The batch's orders, each as its own parameters with the batch's `pair`.
fn batch_entries(p: &Params) -> Result<Vec<Params>, KrakenError> {
    let pair = p.required("pair")?;
    let mut entries = match p.objects("orders") {
        Some(parsed) => parsed?,
        None => form_entries(p)?,
    };
    if entries.len() < MIN_BATCH || entries.len() > MAX_BATCH {
        return Err(KrakenError::invalid("orders"));
    }
    for e in &mut entries {
        e.set("pair", pair);
    }
    Ok(entries)
}

/// `orders[0][ordertype]=limit&orders[0][type]=buy&…` as one `Params` per index.
fn form_entries(p: &Params) -> Result<Vec<Params>, KrakenError> {
    let mut by_index: Vec<Vec<(String, String)>> = Vec::new();
    for (k, v) in p.fields() {
        let Some(rest) = k.strip_prefix("orders[") else { continue };
        let (index, field) = rest.split_once("][").ok_or_else(|| KrakenError::invalid("orders"))?;
        let i: usize = index.parse().map_err(|_| KrakenError::invalid("orders"))?;
        // `orders[0][close][ordertype]` keeps its inner brackets: `close[ordertype]`.
        let field = field.strip_suffix(']').ok_or_else(|| KrakenError::invalid("orders"))?.replacen("][", "[", 1);
        if i >= MAX_BATCH {
            return Err(KrakenError::invalid("orders"));
        }
        if by_index.len() <= i {
            by_index.resize(i + 1, Vec::new());
        }
        by_index[i].push((field, v.to_string()));
    }
    if by_index.iter().any(Vec::is_empty) {
        return Err(KrakenError::invalid("orders"));
    }
    by_index.into_iter().map(Params::from_pairs).collect()
}

pub async fn add_order_batch(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let now_ns = st.clock.now_us().saturating_mul(1000);
    let deadline = super::order_params::deadline(p, now_ns)?;
    let entries = batch_entries(p)?;
    let mut orders: Vec<NewOrder> = Vec::with_capacity(entries.len());
    for e in &entries {
        let order = parse_new_order_at(&st.markets, c.account(), e, now_ns)?;
        if order.rare().cl_ord_id.is_some() && orders.iter().any(|o| o.rare().cl_ord_id == order.rare().cl_ord_id) {
            return Err(KrakenError::invalid("cl_ord_id"));
        }
        orders.push(order);
    }
    let texts: Vec<String> = orders.iter().map(|o| views::order_text(&st.markets, o)).collect();
    if p.flag("validate")? {
        let check = orders.clone();
        st.sequencer.read(move |ex| check.iter().try_for_each(|o| ex.admit_new_order(o))).await??;
        let list: Vec<Value> = texts.iter().map(|t| json!({ "descr": { "order": t } })).collect();
        return Ok(json!({ "orders": list }));
    }
    let limits = st.limits.clone();
    let gate = move |ex: &Exchange, cmd: &Command, now_ns: u64| match cmd {
        _ if deadline.is_some_and(|d| now_ns > d) => Err(KrakenError::DeadlineElapsed),
        Command::PlaceBatch(orders) => {
            let (account, pair) = (orders[0].account, orders[0].pair);
            let open = super::orders::open_in_pair_if_capped(&limits, ex, account, pair);
            limits.admit_batch(account, pair, orders.len(), open, now_ns / 1000)?;
            let scheduled = orders.iter().filter(|o| o.rare().start_ns.is_some_and(|s| s > now_ns)).count();
            super::orders::admit_scheduled(&limits, ex, account, pair, scheduled)
        }
        _ => Ok(()),
    };
    st.sequencer
        .execute_gated(c.key_nonce(), Command::PlaceBatch(orders), gate, move |ex, applied| {
            let Applied::Batch(results) = applied else { return json!({ "orders": [] }) };
            let list: Vec<Value> = results
                .iter()
                .zip(&texts)
                .map(|(r, text)| match r {
                    Ok(seq) => json!({ "txid": ex.order_txid(*seq), "descr": { "order": text } }),
                    Err(e) => json!({ "error": e.as_kraken() }),
                })
                .collect();
            json!({ "orders": list })
        })
        .await
}

/// The identifiers of a CancelOrderBatch list: strings (txids or userrefs), or the older
/// `[{"txid": "…"}]` objects.
fn identifiers(p: &Params, name: &str) -> Result<Vec<String>, KrakenError> {
    match p.objects(name) {
        Some(objects) => objects?.iter().map(|o| o.required("txid").map(str::to_string)).collect(),
        None => p.list(name, MAX_CANCEL_BATCH),
    }
}

pub async fn cancel_order_batch(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let ids = identifiers(p, "orders")?;
    let cl_ord_ids = identifiers(p, "cl_ord_ids")?;
    if ids.is_empty() && cl_ord_ids.is_empty() {
        return Err(KrakenError::invalid("orders"));
    }
    if ids.len() + cl_ord_ids.len() > MAX_CANCEL_BATCH {
        return Err(KrakenError::invalid("orders"));
    }
    let mut targets = Vec::new();
    for id in ids {
        if let Ok(userref) = id.parse::<i32>() {
            targets.push(CancelTarget::UserRef(userref));
        } else if let Some(seq) = st.ids.decode(IdKind::Order, &id) {
            targets.push(CancelTarget::Order(seq));
        }
        // An id the engine never issued names no order; the others are still canceled.
    }
    targets.extend(cl_ord_ids.into_iter().map(CancelTarget::ClOrdId));
    if targets.is_empty() {
        return Err(KrakenError::UnknownOrder);
    }
    let limits = st.limits.clone();
    // Kraken: each canceled order's penalty by its age, as CancelOrder; refused past the threshold.
    let gate = move |ex: &Exchange, cmd: &Command, now_ns: u64| match cmd {
        Command::CancelBatch { account, targets } => {
            let charges: Vec<TradingCharge> = ex
                .batch_victims(*account, targets)
                .iter()
                .map(|seq| {
                    let o = &ex.orders[*seq as usize];
                    TradingCharge { pair: o.req.pair, cost: cancel_penalty(now_ns.saturating_sub(o.open_ns) / 1000) }
                })
                .collect();
            limits.admit_cancel(*account, &charges, true, now_ns / 1000)
        }
        _ => Ok(()),
    };
    let cmd = Command::CancelBatch { account: c.account(), targets };
    st.sequencer
        .execute_gated(c.key_nonce(), cmd, gate, |_, applied| match applied {
            Applied::Canceled(n) => json!({ "count": n }),
            _ => json!({ "count": 0 }),
        })
        .await
}
