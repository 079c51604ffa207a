//! AddOrder, CancelOrder and CancelAll: the request is parsed and checked against the pair's
//! rules here (Kraken's argument errors), then sent to the engine as one command.

use super::{order_params, order_prices};
use crate::api::params::Params;
use crate::api::views;
use crate::api::{ApiResult, Caller, Shared};
use crate::engine::ids::IdKind;
use crate::engine::markets::Markets;
use crate::engine::order::{NewOrder, OrderKind, RareParts, SelfTrade, Side, TimeInForce};
use crate::engine::{Applied, CancelTarget, Command, Exchange};
use crate::error::KrakenError;
use crate::limits::{cancel_penalty, Limits, TradingCharge};
use crate::money::parse_units;
use serde_json::json;

/// Parses and validates an AddOrder request into an engine order, relative times (`+n`) read
/// against the system clock; the API's handlers use [`parse_new_order_at`] with the server's
/// clock (a test clock under `CALAMARI_TEST_CLOCK`).
pub fn parse_new_order(markets: &Markets, account: u32, p: &Params) -> Result<NewOrder, KrakenError> {
    parse_new_order_at(markets, account, p, crate::api::public::now_ns())
}

/// Parses and validates an AddOrder request into an engine order at `now_ns`.
pub fn parse_new_order_at(markets: &Markets, account: u32, p: &Params, now_ns: u64) -> Result<NewOrder, KrakenError> {
    let pair_idx = markets.pair_by_name(p.required("pair")?).ok_or(KrakenError::UnknownAssetPair)?;
    let pair = markets.pair(pair_idx);
    let side = match p.required("type")? {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return Err(KrakenError::invalid("type")),
    };
    let kind = match p.required("ordertype")? {
        // Spot accounts hold no margin position to settle.
        "settle-position" => return Err(KrakenError::UnknownPosition),
        other => OrderKind::parse(other).ok_or_else(|| KrakenError::invalid("ordertype"))?,
    };
    let flags = order_params::oflags(p)?;
    // viqc: a market buy's volume is the quote to spend, fee included.
    if flags.viqc && (kind != OrderKind::Market || side != Side::Buy || flags.fee_in_base) {
        return Err(KrakenError::invalid("viqc"));
    }
    let volume_text = p.required("volume")?;
    let volume = if flags.viqc {
        parse_units(volume_text, pair.quote_decimals).ok_or_else(|| KrakenError::invalid("volume"))?
    } else {
        parse_units(volume_text, pair.lot_decimals).ok_or_else(|| KrakenError::invalid("volume"))? * pair.lot_step()
    };
    if volume <= 0 || volume > crate::engine::MAX_VOLUME {
        return Err(KrakenError::invalid("volume"));
    }
    let prices = order_prices::parse_prices(pair, kind, p)?;
    let price = prices.price;
    let (kind, display_volume) = order_params::display_volume(p, pair, kind, volume)?;
    let post_only = flags.post_only;
    if post_only && !matches!(kind, OrderKind::Limit | OrderKind::Iceberg) {
        return Err(KrakenError::invalid("oflags"));
    }
    let timing = order_params::timing(p, now_ns)?;
    if post_only && timing.time_in_force == TimeInForce::Ioc {
        return Err(KrakenError::invalid("oflags"));
    }
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
    if userref.is_some() && cl_ord_id.is_some() {
        return Err(KrakenError::invalid("cl_ord_id"));
    }
    order_params::margin(p)?;
    if flags.viqc {
        if volume < pair.costmin {
            return Err(KrakenError::CostMinimumNotMet);
        }
    } else if volume < pair.ordermin {
        return Err(KrakenError::OrderMinimumNotMet);
    }
    // The cost minimum at the price the order will trade at, when it is known here.
    let known = if kind.has_limit2() { prices.price2 } else { price };
    if kind != OrderKind::Market && !kind.is_trailing() && known > 0 {
        let cost = pair.exact_cost(known, volume) / pair.cost_divisor;
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
        fee_in_base: flags.fee_in_base,
        time_in_force: timing.time_in_force,
        self_trade,
        userref,
        trigger: prices.trigger,
        quote_volume: flags.viqc,
        rare: RareParts {
            cl_ord_id,
            price2: prices.price2,
            price_offset: prices.price_offset,
            price2_offset: prices.price2_offset,
            close: prices.close,
            display_volume,
            expire_ns: timing.expire_ns,
            start_ns: timing.start_ns,
        }
        .boxed(),
    })
}

pub async fn add_order(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let now_ns = st.clock.now_us().saturating_mul(1000);
    let req = parse_new_order_at(&st.markets, c.account(), p, now_ns)?;
    let deadline = order_params::deadline(p, now_ns)?;
    if p.flag("validate")? {
        // The market's state too: an order it would refuse is not valid now.
        let check = req.clone();
        st.sequencer.read(move |ex| ex.admit_new_order(&check)).await??;
        return Ok(json!({ "descr": views::descr_request(&st.markets, &req) }));
    }
    let limits = st.limits.clone();
    // The matching engine's limits, on the engine thread: the deadline against the engine's
    // time, +1 on the pair's counter on receipt, then the open-order cap and (with a future
    // `starttm`) the scheduled-order cap, against the state the order will meet.
    let gate = move |ex: &Exchange, cmd: &Command, now_ns: u64| match cmd {
        Command::PlaceOrder(_) if deadline.is_some_and(|d| now_ns > d) => Err(KrakenError::DeadlineElapsed),
        Command::PlaceOrder(o) => {
            limits.admit_order(o.account, o.pair, open_in_pair_if_capped(&limits, ex, o.account, o.pair), now_ns / 1000)?;
            admit_scheduled(&limits, ex, o.account, o.pair, usize::from(o.rare().start_ns.is_some_and(|s| s > now_ns)))
        }
        _ => Ok(()),
    };
    st.sequencer
        .execute_gated(c.key_nonce(), Command::PlaceOrder(req), gate, move |ex, applied| match applied {
            // The order may have closed at once (filled, IOC): then it is in the outbox.
            Applied::OrderPlaced(seq) => match ex.order_or_emitted(*seq) {
                Some(o) => json!({ "descr": views::descr_answer(ex, o), "txid": [ex.order_txid(*seq)] }),
                None => json!({}),
            },
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

/// The account's open orders on `pair` when an open-order cap applies, else 0 (no cap to
/// refuse): counting walks every open order of the account, on the engine thread.
pub(super) fn open_in_pair_if_capped(limits: &Limits, ex: &Exchange, account: u32, pair: u16) -> usize {
    if limits.caps_open_orders() {
        ex.open_orders_in_pair(account, pair)
    } else {
        0
    }
}

/// The scheduled-order cap for `scheduled` new orders with a future `starttm` (the account's
/// scheduled orders are counted only when there are some).
pub(super) fn admit_scheduled(limits: &Limits, ex: &Exchange, account: u32, pair: u16, scheduled: usize) -> Result<(), KrakenError> {
    match scheduled {
        0 => Ok(()),
        n => limits.admit_scheduled(account, ex.scheduled_orders_in_pair(account, pair), n),
    }
}
