//! AddOrder, CancelOrder and CancelAll: the request is parsed and checked against the pair's
//! rules here (Kraken's argument errors), then sent to the engine as one command.

use crate::api::params::Params;
use crate::api::views;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::ids::IdKind;
use crate::engine::markets::Markets;
use crate::engine::order::{NewOrder, OrderKind, SelfTrade, Side, TimeInForce};
use crate::engine::{Applied, CancelTarget, Command, Exchange};
use crate::error::KrakenError;
use crate::limits::{cancel_penalty, TradingCharge};
use crate::money::parse_units;
use serde_json::json;

/// Parses and validates an AddOrder request into an engine order.
pub fn parse_new_order(markets: &Markets, account: u32, p: &Params) -> Result<NewOrder, KrakenError> {
    let pair_idx = markets.pair_by_name(p.required("pair")?).ok_or(KrakenError::UnknownAssetPair)?;
    let pair = markets.pair(pair_idx);
    let side = match p.required("type")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return Err(KrakenError::invalid("type")),
    };
    let kind = match p.required("ordertype")? {
        "market" => OrderKind::Market,
        "limit" => OrderKind::Limit,
        _ => return Err(KrakenError::invalid("ordertype")),
    };
    let volume_text = p.required("volume")?;
    let volume = parse_units(volume_text, pair.lot_decimals).ok_or_else(|| KrakenError::invalid("volume"))? * pair.lot_step();
    if volume <= 0 || volume > crate::engine::MAX_VOLUME {
        return Err(KrakenError::invalid("volume"));
    }
    let price = match kind {
        OrderKind::Market => 0,
        OrderKind::Limit => {
            let text = p.required("price")?;
            let ticks = parse_units(text, pair.pair_decimals).ok_or_else(|| {
                // A well-formed decimal with too many places; anything else ("1..5") is not a price.
                let (int, frac) = text.split_once('.').unwrap_or((text, ""));
                let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
                if text.contains('.') && digits(int) && digits(frac) && frac.trim_end_matches('0').len() > pair.pair_decimals as usize {
                    KrakenError::InvalidPrice(Some(format!(
                        "{} price can only be specified up to {} decimals.",
                        pair.altname, pair.pair_decimals
                    )))
                } else {
                    KrakenError::invalid("price")
                }
            })?;
            if ticks <= 0 || ticks > crate::engine::MAX_PRICE as i128 {
                return Err(KrakenError::invalid("price"));
            }
            let ticks = ticks as u64;
            if ticks % pair.tick != 0 {
                return Err(KrakenError::TickSizeCheckFailed);
            }
            ticks
        }
    };
    let mut post_only = false;
    let (mut fcib, mut fciq) = (false, false);
    for flag in p.list("oflags", 8)? {
        match flag.as_str() {
            "post" => post_only = true,
            "fcib" => fcib = true,
            "fciq" => fciq = true,
            "nompp" => {}
            _ => return Err(KrakenError::invalid("oflags")),
        }
    }
    if (fcib && fciq) || (post_only && kind == OrderKind::Market) {
        return Err(KrakenError::invalid("oflags"));
    }
    let time_in_force = match p.text("timeinforce").map(|s| s.to_ascii_uppercase()) {
        None => TimeInForce::Gtc,
        Some(s) if s == "GTC" => TimeInForce::Gtc,
        Some(s) if s == "IOC" => TimeInForce::Ioc,
        Some(_) => return Err(KrakenError::invalid("timeinforce")),
    };
    let self_trade = match p.text("stptype") {
        None | Some("cancel-newest") => SelfTrade::CancelNewest,
        Some("cancel-oldest") => SelfTrade::CancelOldest,
        Some("cancel-both") => SelfTrade::CancelBoth,
        Some(_) => return Err(KrakenError::invalid("stptype")),
    };
    let userref = p.int::<i32>("userref")?;
    let cl_ord_id = p.text("cl_ord_id").map(str::to_string);
    if let Some(c) = &cl_ord_id {
        let uuid = c.len() == 36 || (c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        if !(uuid || c.len() <= 18) || !c.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KrakenError::invalid("cl_ord_id"));
        }
    }
    if p.text("leverage").is_some_and(|l| l != "none") {
        return Err(KrakenError::invalid("leverage"));
    }
    for field in ["starttm", "expiretm"] {
        if p.text(field).is_some_and(|v| v != "0") {
            return Err(KrakenError::invalid(field));
        }
    }
    if p.flag("reduce_only")? {
        return Err(KrakenError::invalid("reduce_only"));
    }
    if volume < pair.ordermin {
        return Err(KrakenError::OrderMinimumNotMet);
    }
    if kind == OrderKind::Limit {
        let cost = pair.exact_cost(price, volume) / pair.cost_divisor;
        if cost < pair.costmin {
            return Err(KrakenError::CostMinimumNotMet);
        }
    }
    Ok(NewOrder {
        account,
        pair: pair_idx,
        side,
        kind,
        price,
        volume,
        post_only,
        fee_in_base: fcib,
        time_in_force,
        self_trade,
        userref,
        cl_ord_id,
    })
}

pub async fn add_order(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let req = parse_new_order(&st.markets, c.account(), p)?;
    let text = views::order_text(&st.markets, &req);
    if p.flag("validate")? {
        return Ok(json!({ "descr": { "order": text } }));
    }
    let limits = st.limits.clone();
    // The matching engine's limits, on the engine thread: +1 on the pair's counter on receipt,
    // then the open-order cap, against the state the order will meet.
    let gate = move |ex: &Exchange, cmd: &Command, now_ns: u64| match cmd {
        Command::PlaceOrder(o) => limits.admit_order(o.account, o.pair, ex.open_orders_in_pair(o.account, o.pair), now_ns / 1000),
        _ => Ok(()),
    };
    st.sequencer
        .execute_gated(c.key_nonce(), Command::PlaceOrder(req), gate, move |ex, applied| match applied {
            Applied::OrderPlaced(seq) => json!({ "descr": { "order": text }, "txid": [ex.order_txid(*seq)] }),
            _ => json!({}),
        })
        .await
}

pub async fn cancel_order(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let target = if let Some(cl) = p.text("cl_ord_id") {
        CancelTarget::ClOrdId(cl.to_string())
    } else {
        let txid = p.required("txid")?;
        if let Ok(userref) = txid.parse::<i32>() {
            CancelTarget::UserRef(userref)
        } else {
            // An id the engine never issued cannot name an order of this account.
            CancelTarget::Order(st.ids.decode(IdKind::Order, txid).ok_or(KrakenError::UnknownOrder)?)
        }
    };
    let cmd = Command::Cancel { account: c.account(), target };
    st.sequencer.execute_gated(c.key_nonce(), cmd, cancel_gate(st, true), |_, applied| count(applied)).await
}

pub async fn cancel_all(st: &Shared, c: &Caller) -> ApiResult {
    let cmd = Command::CancelAll { account: c.account() };
    st.sequencer.execute_gated(c.key_nonce(), cmd, cancel_gate(st, false), |_, applied| count(applied)).await
}

/// Charges each canceled order's penalty (by its age) to its pair's trading counter. A cancel
/// that would pass a pair's threshold is refused; CancelAll, the way out, is charged but never
/// refused.
fn cancel_gate(st: &Shared, enforce: bool) -> impl FnOnce(&Exchange, &Command, u64) -> Result<(), KrakenError> + Send + 'static {
    let limits = st.limits.clone();
    move |ex: &Exchange, cmd: &Command, now_ns: u64| {
        let (account, victims) = match cmd {
            Command::Cancel { account, target } => (*account, ex.cancel_victims(*account, target)),
            Command::CancelAll { account } => {
                (*account, ex.user_account(*account).map(|a| a.open_orders.iter().copied().collect()).unwrap_or_default())
            }
            _ => return Ok(()),
        };
        let charges: Vec<TradingCharge> = victims
            .iter()
            .map(|seq| {
                let o = &ex.orders[*seq as usize];
                TradingCharge { pair: o.req.pair, cost: cancel_penalty(now_ns.saturating_sub(o.open_ns) / 1000) }
            })
            .collect();
        limits.admit_cancel(account, &charges, enforce, now_ns / 1000)
    }
}

/// CancelOrder's and CancelAll's answer, `{"count": n}` as Kraken's reference pages show it (the
/// `pending` flag of older answers is gone from them).
fn count(applied: &Applied) -> serde_json::Value {
    match applied {
        Applied::Canceled(n) => json!({ "count": n }),
        _ => json!({ "count": 0 }),
    }
}
