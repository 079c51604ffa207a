//! AmendOrder (in place, same txid), OrderAmends (an order's amend history) and EditOrder
//! (Kraken's legacy cancel + replace with a new txid). The order is looked up first, on the
//! engine thread, because its pair decides how the new prices and quantities are read; then the
//! change is one engine command. Trading-counter costs are Kraken's: AmendOrder +1 and +3/+2/+1
//! under 5/10/15 s of age, EditOrder +1 and +6/+5/+4/+2/+1 under 5/10/15/45/90 s.

use super::order_prices::{price_field, PriceField};
use super::orders::parse_new_order_at;
use crate::api::params::Params;
use crate::api::views;
use crate::api::{ApiResult, Caller, Shared};
use crate::auth::Permissions as P;
use crate::engine::amend::{AmendRequest, AmendTarget};
use crate::engine::ids::IdKind;
use crate::engine::markets::Pair;
use crate::engine::order::{Offset, OrderSeq, SelfTrade, TimeInForce};
use crate::engine::{Applied, Command, Exchange};
use crate::error::KrakenError;
use crate::limits::{amend_penalty, edit_penalty, TradingCharge};
use crate::money::parse_units;
use serde_json::{json, Value};

/// A quantity in base units at the pair's lot decimals, above zero.
fn quantity(pair: &Pair, p: &Params, name: &str) -> Result<Option<i128>, KrakenError> {
    let Some(text) = p.text(name) else { return Ok(None) };
    let lots = parse_units(text, pair.lot_decimals).ok_or_else(|| KrakenError::invalid(name))?;
    let units = lots.checked_mul(pair.lot_step()).filter(|u| *u > 0 && *u <= crate::engine::MAX_VOLUME);
    units.map(Some).ok_or_else(|| KrakenError::invalid(name))
}

/// An order quantity: also at least the pair's `ordermin`.
fn order_quantity(pair: &Pair, p: &Params) -> Result<Option<i128>, KrakenError> {
    let q = quantity(pair, p, "order_qty")?;
    if q.is_some_and(|q| q < pair.ordermin) {
        return Err(KrakenError::OrderMinimumNotMet);
    }
    Ok(q)
}

/// A price in ticks at the pair's decimals, on the pair's tick size.
fn price(pair: &Pair, p: &Params, name: &str) -> Result<Option<u64>, KrakenError> {
    let Some(text) = p.text(name) else { return Ok(None) };
    let ticks = parse_units(text, pair.pair_decimals).filter(|t| *t > 0 && *t <= crate::engine::MAX_PRICE as i128);
    let ticks = ticks.ok_or_else(|| KrakenError::invalid(name))? as u64;
    if !ticks.is_multiple_of(pair.tick) {
        return Err(KrakenError::TickSizeCheckFailed);
    }
    Ok(Some(ticks))
}

/// `trigger_price`/`limit_price`: an absolute price, or relative (`+n`, `-n`, `n%` forms: a
/// trailing stop's offsets) as AddOrder reads `price`/`price2`.
fn price_or_offset(pair: &Pair, p: &Params, name: &str) -> Result<(Option<u64>, Option<Offset>), KrakenError> {
    match p.text(name) {
        Some(text) if text.starts_with(['+', '-', '#']) => match price_field(pair, text, name)? {
            PriceField::Relative(o) => Ok((None, Some(o))),
            PriceField::Absolute(_) => Err(KrakenError::invalid(name)),
        },
        _ => Ok((price(pair, p, name)?, None)),
    }
}

fn order_seq(st: &Shared, txid: &str) -> Result<OrderSeq, KrakenError> {
    st.ids.decode(IdKind::Order, txid).ok_or(KrakenError::UnknownOrder)
}

pub async fn amend_order(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let now_ns = st.clock.now_us().saturating_mul(1000);
    let deadline = super::order_params::deadline(p, now_ns)?;
    let target = match (p.text("txid").or(p.text("order_id")), p.text("cl_ord_id")) {
        (Some(txid), _) => AmendTarget::Order(order_seq(st, txid)?),
        (None, Some(cl)) => AmendTarget::ClOrdId(cl.to_string()),
        (None, None) => return Err(KrakenError::invalid("txid")),
    };
    let account = c.account();
    let lookup = target.clone();
    let pair_idx = st
        .sequencer
        .read(move |ex| ex.amend_target(account, &lookup).map(|seq| ex.orders[seq as usize].req.pair))
        .await?
        .ok_or(KrakenError::UnknownOrder)?;
    let pair = st.markets.pair(pair_idx);
    let (limit_price, limit_offset) = price_or_offset(pair, p, "limit_price")?;
    let (trigger_price, trigger_offset) = price_or_offset(pair, p, "trigger_price")?;
    let request = AmendRequest {
        account,
        target,
        order_qty: order_quantity(pair, p)?,
        limit_price,
        trigger_price,
        display_qty: quantity(pair, p, "display_qty")?,
        post_only: p.flag("post_only")?,
        trigger_offset,
        limit_offset,
    };
    let limits = st.limits.clone();
    let gate = move |ex: &Exchange, cmd: &Command, now_ns: u64| match cmd {
        _ if deadline.is_some_and(|d| now_ns > d) => Err(KrakenError::DeadlineElapsed),
        Command::Amend(r) => match ex.amend_target(r.account, &r.target) {
            Some(seq) => {
                let age_us = now_ns.saturating_sub(ex.last_amended_ns(seq)) / 1000;
                let charge = TradingCharge { pair: ex.orders[seq as usize].req.pair, cost: amend_penalty(age_us) };
                limits.admit_charges(r.account, &[charge], now_ns / 1000)
            }
            None => Ok(()),
        },
        _ => Ok(()),
    };
    st.sequencer
        .execute_gated(c.key_nonce(), Command::Amend(request), gate, |ex, applied| match applied {
            Applied::Amended(id) => json!({ "amend_id": ex.amend_txid(*id) }),
            _ => json!({}),
        })
        .await
}

pub async fn order_amends(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let txid = p.text("order_id").or(p.text("txid")).ok_or_else(|| KrakenError::invalid("order_id"))?;
    let seq = order_seq(st, txid)?;
    let (account, permissions) = (c.account(), c.key.permissions);
    // An open order from the engine first, then a closed one from the table (an order that
    // closed between the two reads is found in the second).
    let open = st.sequencer.read(move |ex| ex.open_order(seq).filter(|o| o.req.account == account).cloned()).await?;
    let (is_open, order) = match open {
        Some(o) => (true, o),
        None => {
            let closed = super::history::from_store(st, move |h| h.closed_order(seq)).await?;
            (false, closed.filter(|o| o.req.account == account).ok_or(KrakenError::UnknownOrder)?)
        }
    };
    // Kraken: "Query open orders & trades or Query closed orders & trades, depending on
    // status of order".
    let needs = if is_open { P::QUERY_OPEN_ORDERS } else { P::QUERY_CLOSED_ORDERS };
    if !permissions.contains(needs) {
        return Err(KrakenError::PermissionDenied);
    }
    st.sequencer
        .read(move |ex| {
            let pair = ex.markets.pair(order.req.pair);
            let amends: Vec<Value> = Exchange::amend_history(&order)
                .iter()
                .map(|r| {
                    json!({
                        "amend_id": ex.amend_txid(r.id),
                        "amend_type": r.kind.as_str(),
                        "order_qty": views::volume(pair, r.order_qty),
                        "remaining_qty": views::volume(pair, r.remaining_qty),
                        "limit_price": views::price(pair, r.limit_price),
                        "post_only": r.post_only,
                        "timestamp": r.time_ns / 1_000_000,
                    })
                })
                .collect();
            Ok(json!({ "amends": amends, "count": amends.len() }))
        })
        .await?
}

/// The original order as AddOrder parameters, so that an edit is read by AddOrder's own rules.
fn as_params(ex: &Exchange, seq: OrderSeq) -> Vec<(String, String)> {
    let o = &ex.orders[seq as usize];
    let pair = ex.markets.pair(o.req.pair);
    let stp = match o.req.self_trade {
        SelfTrade::CancelNewest => "cancel-newest",
        SelfTrade::CancelOldest => "cancel-oldest",
        SelfTrade::CancelBoth => "cancel-both",
    };
    let tif = match o.req.time_in_force {
        TimeInForce::Ioc => "IOC",
        TimeInForce::Gtd => "GTD",
        _ => "GTC",
    };
    let mut fields = vec![
        ("pair", pair.altname.clone()),
        ("type", o.req.side.as_str().to_string()),
        ("ordertype", o.req.kind.as_str().to_string()),
        ("volume", views::volume(pair, o.req.volume)),
        ("price", views::price(pair, o.req.price)),
        ("oflags", views::oflags(&o.new_order())),
        ("stptype", stp.to_string()),
        ("timeinforce", tif.to_string()),
    ];
    if let Some(r) = o.req.userref {
        fields.push(("userref", r.to_string()));
    }
    // A GTD order keeps its expiry (whole seconds, rounded up).
    if let Some(at) = o.expire_ns() {
        fields.push(("expiretm", at.div_ceil(1_000_000_000).to_string()));
    }
    fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub async fn edit_order(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let now_ns = st.clock.now_us().saturating_mul(1000);
    let deadline = super::order_params::deadline(p, now_ns)?;
    let txid = p.required("txid")?.to_string();
    let pair_idx = st.markets.pair_by_name(p.required("pair")?).ok_or(KrakenError::UnknownAssetPair)?;
    if p.text("cl_ord_id").is_some() {
        // Kraken: "cl_ord_id is not supported" by EditOrder.
        return Err(KrakenError::invalid("cl_ord_id"));
    }
    let account = c.account();
    let by_txid = st.ids.decode(IdKind::Order, &txid);
    let userref = txid.parse::<i32>().ok();
    let (seq, original) = st
        .sequencer
        .read(move |ex| {
            let seq = match (by_txid, userref) {
                (Some(seq), _) => seq,
                (None, Some(r)) => {
                    let named: Vec<OrderSeq> = ex
                        .user_account(account)?
                        .open_orders
                        .iter()
                        .copied()
                        .filter(|s| ex.orders[*s as usize].req.userref == Some(r))
                        .collect();
                    match named[..] {
                        [one] => one,
                        [] => return Err(KrakenError::UnknownOrder),
                        _ => return Err(KrakenError::invalid("txid")),
                    }
                }
                (None, None) => return Err(KrakenError::UnknownOrder),
            };
            ex.edit_target(account, seq)?;
            Ok((seq, as_params(ex, seq)))
        })
        .await??;
    let mut fields = Params::from_pairs(original)?;
    if st.markets.pair_by_name(fields.required("pair")?) != Some(pair_idx) {
        return Err(KrakenError::invalid("pair"));
    }
    for name in ["volume", "price", "price2", "oflags", "userref"] {
        if let Some(v) = p.text(name) {
            fields.set(name, v);
        }
    }
    let new = parse_new_order_at(&st.markets, account, &fields, now_ns)?;
    let text = views::order_text(&st.markets, &new);
    let pair = st.markets.pair(pair_idx);
    let (volume, limit) = (views::volume(pair, new.volume), views::price(pair, new.price));
    let original_txid = st.ids.encode(IdKind::Order, seq);
    if p.flag("validate")? {
        let check = new.clone();
        st.sequencer.read(move |ex| ex.admit_new_order(&check)).await??;
        return Ok(json!({ "status": "ok", "originaltxid": original_txid, "volume": volume, "price": limit, "descr": { "order": text } }));
    }
    let price2 = views::price(pair, 0);
    let limits = st.limits.clone();
    let gate = move |ex: &Exchange, cmd: &Command, now_ns: u64| match cmd {
        _ if deadline.is_some_and(|d| now_ns > d) => Err(KrakenError::DeadlineElapsed),
        Command::Edit { account, target, .. } => {
            let age_us = now_ns.saturating_sub(ex.last_amended_ns(*target)) / 1000;
            // The original's pair (checked above: an order that closed meanwhile is refused anyway).
            let charge = TradingCharge { pair: pair_idx, cost: edit_penalty(age_us) };
            limits.admit_charges(*account, &[charge], now_ns / 1000)
        }
        _ => Ok(()),
    };
    let cmd = Command::Edit { account, target: seq, new };
    st.sequencer
        .execute_gated(c.key_nonce(), cmd, gate, move |ex, applied| match applied {
            Applied::Edited { order } => json!({
                "status": "ok",
                "txid": ex.order_txid(*order),
                "originaltxid": original_txid,
                "volume": volume,
                "price": limit,
                "price2": price2,
                "orders_cancelled": 1,
                "descr": { "order": text },
            }),
            _ => json!({}),
        })
        .await
}
