//! The `executions` channel's JSON (Kraken's WebSocket v2 field names): an order in full
//! (snapshot, `pending_new`), the short transition events (`new`, `filled`, `canceled` with its
//! reason, `expired`, `status` when a stop triggers), the events the engine reports itself
//! (`amended`, `iceberg_refill`, `restated`) and fills (`trade`). Numbers are
//! JSON numbers at the pair's precisions, times RFC 3339. Pure functions of the exchange's state,
//! called on the engine thread by the account capture.

use crate::engine::account::TradeRecord;
use crate::engine::markets::Pair;
use crate::engine::order::{Order, OrderKind, Status, TimeInForce};
use crate::engine::Exchange;
use crate::money::div_round_half_up;
use crate::ws::channels::{num, rfc3339, v2_asset, Sym};
use serde_json::{Map, Value};

/// A JSON number from exact decimal text (never through a float).
pub fn number(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Kraken's v2 `order_status` of an order now.
pub fn order_status(o: &Order) -> &'static str {
    match o.status {
        Status::Pending => "pending_new",
        Status::Open if o.filled() > 0 => "partially_filled",
        Status::Open => "new",
        Status::Closed => "filled",
        Status::Canceled => "canceled",
        Status::Expired => "expired",
    }
}

fn avg(pair: &Pair, cost_cd: i128, qty: i128) -> Value {
    let a = if qty > 0 { div_round_half_up(cost_cd * 10i128.pow(pair.base_decimals), qty) } else { 0 };
    number(num(a, pair.cost_decimals))
}

fn fee_value(pair: &Pair, in_base: bool, fee_cd: i128) -> Value {
    number(if in_base { num(fee_cd, pair.base_decimals) } else { num(fee_cd, pair.cost_decimals) })
}

fn head(ex: &Exchange, o: &Order, exec_type: &str, ts: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("order_id".into(), ex.order_txid(o.seq).into());
    if let Some(r) = o.req.userref {
        m.insert("order_userref".into(), r.into());
    }
    if let Some(c) = o.cl_ord_id() {
        m.insert("cl_ord_id".into(), c.into());
    }
    m.insert("exec_type".into(), exec_type.into());
    m.insert("order_status".into(), order_status(o).into());
    m.insert("timestamp".into(), rfc3339(ts).into());
    m
}

fn totals(ex: &Exchange, o: &Order, m: &mut Map<String, Value>) {
    let pair = ex.markets.pair(o.req.pair);
    m.insert("cum_qty".into(), number(num(o.filled(), pair.base_decimals)));
    m.insert("cum_cost".into(), number(num(o.cost_cd(), pair.cost_decimals)));
    m.insert("avg_price".into(), avg(pair, o.cost_cd(), o.filled()));
    m.insert("fee_usd_equiv".into(), fee_value(pair, o.req.fee_in_base, o.fee_cd()));
}

/// The trigger block of a stop or take-profit order.
fn triggers(ex: &Exchange, o: &Order) -> Option<Value> {
    let st = o.stop()?;
    let pair = ex.markets.pair(o.req.pair);
    let p = |t: u64| number(num(t as i128, pair.pair_decimals));
    let mut m = Map::new();
    m.insert("reference".into(), o.req.trigger.as_str().into());
    m.insert("price".into(), p(o.req.price));
    m.insert("price_type".into(), (if o.price_offset().is_some_and(|x| x.percent) { "pct" } else { "static" }).into());
    m.insert("actual_price".into(), p(st.stop));
    if o.req.kind.is_trailing() {
        m.insert("peak_price".into(), p(st.peak));
    }
    m.insert("status".into(), (if st.armed { "untriggered" } else { "triggered" }).into());
    Some(Value::Object(m))
}

/// The order in full: the snapshot's entries and `pending_new`.
pub fn full(ex: &Exchange, sym: &Sym, o: &Order, exec_type: &str, ts: u64) -> Value {
    let pair = ex.markets.pair(o.req.pair);
    let mut m = head(ex, o, exec_type, ts);
    m.insert("symbol".into(), sym.symbol.clone().into());
    m.insert("side".into(), o.req.side.as_str().into());
    m.insert("order_type".into(), o.req.kind.as_str().into());
    m.insert("order_qty".into(), number(num(o.req.volume, pair.base_decimals)));
    let limit = match o.req.kind {
        OrderKind::Limit | OrderKind::Iceberg => Some(o.req.price),
        k if k.has_limit2() => Some(o.price2()),
        _ => None,
    };
    if let Some(l) = limit {
        m.insert("limit_price".into(), number(num(l as i128, pair.pair_decimals)));
    }
    if o.req.kind.is_triggered() {
        m.insert("stop_price".into(), number(num(o.stop().map_or(o.req.price, |s| s.stop) as i128, pair.pair_decimals)));
    }
    let tif = match o.req.time_in_force {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Gtd => "GTD",
    };
    m.insert("time_in_force".into(), tif.into());
    m.insert("post_only".into(), o.req.post_only.into());
    m.insert("reduce_only".into(), false.into());
    m.insert("margin".into(), false.into());
    m.insert("fee_ccy_pref".into(), (if o.req.fee_in_base { "fees_in_base" } else { "fees_in_quote" }).into());
    if let Some(d) = o.display_volume() {
        m.insert("display_qty".into(), number(num(d, pair.base_decimals)));
    }
    if let Some(e) = o.expire_ns() {
        m.insert("expire_time".into(), rfc3339(e).into());
    }
    if let Some(s) = o.start_ns() {
        m.insert("effective_time".into(), rfc3339(s).into());
    }
    if o.amended() {
        m.insert("amended".into(), true.into());
    }
    if let Some(t) = triggers(ex, o) {
        m.insert("triggers".into(), t);
    }
    totals(ex, o, &mut m);
    Value::Object(m)
}

/// A short transition event: `new`, `filled`, `canceled`, `expired`.
pub fn transition(ex: &Exchange, o: &Order, exec_type: &str, ts: u64) -> Value {
    let mut m = head(ex, o, exec_type, ts);
    if exec_type != "new" {
        totals(ex, o, &mut m);
    }
    // The reason of the end, not of the `new` an order placed and canceled in one batch shows.
    if let Some(r) = o.reason.filter(|_| matches!(o.status, Status::Canceled) && exec_type != "new") {
        m.insert("reason".into(), r.as_str().into());
    }
    if exec_type == "new" && o.req.kind.is_triggered() {
        if let Some(t) = triggers(ex, o) {
            m.insert("triggers".into(), t);
        }
    }
    Value::Object(m)
}

/// The `order_status` of a live order at an event it had after `fills` fills.
fn status_at(o: &Order, fills: usize) -> &'static str {
    match o.status {
        Status::Pending => "pending_new",
        _ if fills > 0 => "partially_filled",
        _ => "new",
    }
}

/// The head of an event the engine reported: the order's status when it happened.
fn event_head(ex: &Exchange, o: &Order, exec_type: &str, fills: usize, ts: u64) -> Map<String, Value> {
    let mut m = head(ex, o, exec_type, ts);
    m.insert("order_status".into(), status_at(o, fills).into());
    m
}

/// `amended`: one AmendOrder, with the quantity and limit price it set (entry `record` of the
/// order's amend history; a stop's trigger block as it is now).
pub fn amended(ex: &Exchange, o: &Order, record: usize, fills: usize, ts: u64) -> Value {
    let pair = ex.markets.pair(o.req.pair);
    let rec = o.amends().get(record);
    let mut m = event_head(ex, o, "amended", fills, ts);
    m.insert("order_qty".into(), number(num(rec.map_or(o.req.volume, |r| r.order_qty), pair.base_decimals)));
    let limit = match o.req.kind {
        OrderKind::Limit | OrderKind::Iceberg => Some(rec.map_or(o.req.price, |r| r.limit_price)),
        k if k.has_limit2() => Some(o.price2()),
        _ => None,
    };
    if let Some(l) = limit {
        m.insert("limit_price".into(), number(num(l as i128, pair.pair_decimals)));
    }
    if let Some(t) = triggers(ex, o) {
        m.insert("triggers".into(), t);
    }
    if let Some(d) = o.display_volume() {
        m.insert("display_qty".into(), number(num(d, pair.base_decimals)));
    }
    m.insert("post_only".into(), o.req.post_only.into());
    m.insert("amended".into(), true.into());
    m.insert("reason".into(), "User requested".into());
    Value::Object(m)
}

/// The order's running totals after its first `fills` fills: an event is this batch's, so the
/// fills after it are in the batch's outbox (`engine::outbox`), and its totals are the order's
/// less those.
fn totals_at(ex: &Exchange, o: &Order, fills: usize, m: &mut Map<String, Value>) {
    let pair = ex.markets.pair(o.req.pair);
    let (mut q, mut c) = (o.filled(), o.cost_cd());
    let batch: Vec<_> = ex.history_out.trades.iter().filter(|t| t.order == o.seq).collect();
    let first = o.trades().len() - batch.len();
    for (j, tr) in batch.iter().enumerate() {
        if first + j >= fills {
            q -= tr.volume;
            c -= tr.cost_cd;
        }
    }
    m.insert("cum_qty".into(), number(num(q, pair.base_decimals)));
    m.insert("cum_cost".into(), number(num(c, pair.cost_decimals)));
    m.insert("avg_price".into(), avg(pair, c, q));
}

/// `iceberg_refill`: the iceberg's shown part was used up and it shows its next part, `shown`
/// (`display_qty_remain`; less than `display_qty` on the last part), at the back of its level.
pub fn iceberg_refill(ex: &Exchange, o: &Order, shown: i128, fills: usize, ts: u64) -> Value {
    let pair = ex.markets.pair(o.req.pair);
    let mut m = event_head(ex, o, "iceberg_refill", fills, ts);
    m.insert("order_qty".into(), number(num(o.req.volume, pair.base_decimals)));
    if let Some(d) = o.display_volume() {
        m.insert("display_qty".into(), number(num(d, pair.base_decimals)));
    }
    m.insert("display_qty_remain".into(), number(num(shown, pair.base_decimals)));
    totals_at(ex, o, fills, &mut m);
    Value::Object(m)
}

/// `restated`: the order was changed in place by its market maker's ladder (`Requote`), not by
/// an AmendOrder: its new quantity and limit price.
pub fn restated(ex: &Exchange, o: &Order, price: u64, volume: i128, fills: usize, ts: u64) -> Value {
    let pair = ex.markets.pair(o.req.pair);
    let mut m = event_head(ex, o, "restated", fills, ts);
    m.insert("order_qty".into(), number(num(volume, pair.base_decimals)));
    m.insert("limit_price".into(), number(num(price as i128, pair.pair_decimals)));
    m.insert("amended".into(), o.amended().into());
    m.insert("reason".into(), RESTATED_REASON.into());
    Value::Object(m)
}

/// The `reason` of a `restated` event (Kraken documents the field, not its texts).
pub const RESTATED_REASON: &str = "Ladder requote";

/// `status`: a stop or take-profit order's trigger fired.
pub fn triggered(ex: &Exchange, o: &Order, ts: u64) -> Value {
    let mut m = head(ex, o, "status", ts);
    if let Some(t) = triggers(ex, o) {
        m.insert("triggers".into(), t);
    }
    Value::Object(m)
}

/// `trade`: one fill of the order, `cum_*` the order's totals up to and including it. Its
/// `order_status` is `partially_filled` even on the last fill (a `filled` event follows), as
/// Kraken documents.
pub fn trade(ex: &Exchange, sym: &Sym, o: &Order, t: &TradeRecord, cum_qty: i128, cum_cost_cd: i128, snapshot: bool) -> Value {
    let pair = ex.markets.pair(t.pair);
    let mut m = head(ex, o, "trade", t.time_ns);
    if !snapshot {
        m.insert("order_status".into(), "partially_filled".into());
    }
    m.insert("symbol".into(), sym.symbol.clone().into());
    m.insert("side".into(), t.side.as_str().into());
    m.insert("order_type".into(), t.order_kind.as_str().into());
    m.insert("order_qty".into(), number(num(o.req.volume, pair.base_decimals)));
    m.insert("exec_id".into(), ex.ids.encode(crate::engine::ids::IdKind::Trade, t.seq).into());
    m.insert("trade_id".into(), t.public_id.into());
    m.insert("last_qty".into(), number(num(t.volume, pair.base_decimals)));
    m.insert("last_price".into(), number(num(t.price as i128, pair.pair_decimals)));
    m.insert("cost".into(), number(num(t.cost_cd, pair.cost_decimals)));
    m.insert("liquidity_ind".into(), (if t.maker { "m" } else { "t" }).into());
    let fee_asset = if t.fee_in_base { pair.base } else { pair.quote };
    let mut fee = Map::new();
    fee.insert("asset".into(), v2_asset(&ex.markets.asset(fee_asset).altname).into());
    fee.insert("qty".into(), fee_value(pair, t.fee_in_base, t.fee_cd));
    m.insert("fees".into(), Value::Array(vec![Value::Object(fee)]));
    m.insert("fee_usd_equiv".into(), fee_value(pair, t.fee_in_base, t.fee_cd));
    m.insert("cum_qty".into(), number(num(cum_qty, pair.base_decimals)));
    m.insert("cum_cost".into(), number(num(cum_cost_cd, pair.cost_decimals)));
    m.insert("avg_price".into(), avg(pair, cum_cost_cd, cum_qty));
    Value::Object(m)
}

/// `{"channel":"executions","type":…,"data":[…]}`.
pub fn message(kind: &str, data: Vec<Value>) -> String {
    let mut m = Map::new();
    m.insert("channel".into(), "executions".into());
    m.insert("type".into(), kind.into());
    m.insert("data".into(), Value::Array(data));
    Value::Object(m).to_string()
}
