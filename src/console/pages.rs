//! The account pages: balances (with holds and what is available), open orders (cancel from the
//! page) and closed orders, trade history, the ledger (Kraken's filters and 50-a-page offsets),
//! and the account's tier with the limits it implies. Each page calls the API's own method
//! through `api::private::dispatch` as [`Caller::console`], so filters, paging, the query rules and
//! the cancel's engine gate are the API's; this file only lays the answers out.

use super::layout::{csrf, error, notice, page, pager};
use super::{csrf_ok, field, time, Ctx, Fields, Shared};
use crate::api::params::Params;
use crate::api::{private, Caller};
use crate::error::KrakenError;
use crate::money::{format_units, parse_units};
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{Map, Value};

/// Runs an API method for the logged-in account.
pub(super) async fn call(s: &Shared, account: u32, method: &str, fields: Vec<(String, String)>) -> Result<Value, KrakenError> {
    let p = Params::from_pairs(fields)?;
    private::dispatch(&s.state, method, &Caller::console(account), &p).await
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Seconds as a JSON number (Kraken's `opentm`, `time`) shown as UTC.
pub(super) fn when(v: &Value) -> String {
    v.as_f64().map(|f| time::display(f as i64)).unwrap_or_default()
}

fn entries(v: &Value) -> Vec<(&String, &Value)> {
    v.as_object().map(|m: &Map<String, Value>| m.iter().collect()).unwrap_or_default()
}

/// The filter fields a page passes on to its method: `start`/`end` as typed (a date and time in
/// UTC is turned into unix seconds; unix seconds and ids go as they are), and the listed others.
fn filters(q: &[(String, String)], others: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (k, v) in q {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        if k == "start" || k == "end" {
            let v = if v.contains(':') { time::parse(v)?.to_string() } else { v.to_string() };
            out.push((k.clone(), v));
        } else if k == "ofs" || others.contains(&k.as_str()) {
            out.push((k.clone(), v.to_string()));
        }
    }
    Ok(out)
}

fn ofs(q: &[(String, String)]) -> usize {
    q.iter().find(|(k, _)| k == "ofs").and_then(|(_, v)| v.parse().ok()).unwrap_or(0)
}

fn q_value<'a>(q: &'a [(String, String)], name: &str) -> &'a str {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// The start/end inputs of a filter form.
fn range_inputs(q: &[(String, String)]) -> Markup {
    html! {
        div.field {
            label for="start" { "From (exclusive)" }
            input id="start" name="start" value=(q_value(q, "start")) placeholder="2026-12-01T00:00, unix time or id";
        }
        div.field {
            label for="end" { "To (inclusive)" }
            input id="end" name="end" value=(q_value(q, "end")) placeholder="UTC date and time, unix time or id";
        }
    }
}

pub async fn balances(State(s): State<Shared>, ctx: Ctx) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let body = match call(&s, account, "BalanceEx", vec![]).await {
        Err(e) => error(&e.as_kraken()),
        Ok(v) => {
            let rows: Vec<(String, String, String, String)> = entries(&v)
                .into_iter()
                .map(|(asset, b)| {
                    let (bal, hold) = (text(&b["balance"]), text(&b["hold_trade"]));
                    let d = s.state.markets.asset_by_name(asset).map(|i| s.state.markets.asset(i).decimals).unwrap_or(0);
                    let avail = match (parse_units(&bal, d), parse_units(&hold, d)) {
                        (Some(b), Some(h)) => format_units(b - h, d),
                        _ => String::new(),
                    };
                    (asset.clone(), bal, hold, avail)
                })
                .collect();
            html! {
                @if rows.is_empty() { (notice("No balances yet.")) } @else {
                    div.scroll { table.cards {
                        thead { tr { th scope="col" { "Asset" } th.num scope="col" { "Balance" } th.num scope="col" { "On hold" } th.num scope="col" { "Available" } } }
                        tbody { @for (asset, bal, hold, avail) in &rows {
                            tr { th scope="row" data-label="Asset" { (asset) } td.num data-label="Balance" { (bal) } td.num data-label="On hold" { (hold) } td.num data-label="Available" { (avail) } }
                        } }
                    } }
                }
                p.hint { "On hold: what your open orders hold (BalanceEx's hold_trade). Available = balance − on hold." }
            }
        }
    };
    ctx.ok(page(&ctx.session, "/console/balances", "Balances", body))
}

fn order_rows(ctx: &Ctx, v: &Value, open: bool) -> Markup {
    html! {
        div.scroll { table.cards {
            thead { tr {
                th scope="col" { "Order" } th scope="col" { "Pair" } th scope="col" { "Side" } th scope="col" { "Type" }
                th.num scope="col" { (if open { "Limit price" } else { "Avg. price" }) } th.num scope="col" { "Volume" } th.num scope="col" { "Filled" }
                th scope="col" { "Status" } th scope="col" { (if open { "Opened (UTC)" } else { "Closed (UTC)" }) }
                @if open { th scope="col" { span.sr { "Action" } } }
            } }
            tbody { @for (txid, o) in entries(v) {
                tr data-txid=(txid) {
                    td data-label="Order" { code { (txid) } }
                    td data-label="Pair" { (text(&o["descr"]["pair"])) }
                    td data-label="Side" { (text(&o["descr"]["type"])) }
                    td data-label="Type" { (text(&o["descr"]["ordertype"])) }
                    td.num data-label=(if open { "Limit price" } else { "Avg. price" }) { (text(if open { &o["descr"]["price"] } else { &o["price"] })) }
                    td.num data-label="Volume" { (text(&o["vol"])) }
                    td.num data-label="Filled" { (text(&o["vol_exec"])) }
                    td data-label="Status" { (text(&o["status"])) @if let Some(r) = o["reason"].as_str() { " (" (r) ")" } }
                    td data-label=(if open { "Opened (UTC)" } else { "Closed (UTC)" }) { (when(if open { &o["opentm"] } else { &o["closetm"] })) }
                    @if open { td.action {
                        form.inline method="post" action="/console/orders/cancel" {
                            (csrf(&ctx.session))
                            input type="hidden" name="txid" value=(txid);
                            button.danger type="submit" aria-label={ "Cancel order " (txid) } { "Cancel" }
                        }
                    } }
                }
            } }
        } }
    }
}

pub async fn orders(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let open = call(&s, account, "OpenOrders", vec![]).await;
    let fs = filters(&q, &["closetime"]);
    let closed = match &fs {
        Ok(f) => call(&s, account, "ClosedOrders", f.clone()).await,
        Err(_) => Ok(Value::Null),
    };
    let done = q_value(&q, "done");
    let body = html! {
        @if !done.is_empty() { (notice(done)) }
        @if let Some(e) = q.iter().find(|(k, _)| k == "failed").map(|(_, v)| v) { (error(e)) }
        h2 { "Open orders" }
        @match &open {
            Err(e) => (error(&e.as_kraken())),
            Ok(v) => {
                @if entries(&v["open"]).is_empty() { (notice("No open orders.")) } @else {
                    (order_rows(&ctx, &v["open"], true))
                    form.inline method="post" action="/console/orders/cancel" {
                        (csrf(&ctx.session))
                        input type="hidden" name="all" value="1";
                        button.danger type="submit" { "Cancel all open orders" }
                    }
                }
            }
        }
        h2 { "Closed orders" }
        form.filters method="get" action="/console/orders" {
            (range_inputs(&q))
            button type="submit" { "Filter" }
        }
        @if let Err(e) = &fs { (error(e)) }
        @match &closed {
            Err(e) => (error(&e.as_kraken())),
            Ok(Value::Null) => {},
            Ok(v) => {
                @if !entries(&v["closed"]).is_empty() { (order_rows(&ctx, &v["closed"], false)) }
                (pager("/console/orders", &q, ofs(&q), v["count"].as_u64().unwrap_or(0) as usize))
            }
        }
    };
    ctx.ok(page(&ctx.session, "/console/orders", "Orders", body))
}

/// Cancel from the page: the API's CancelOrder (or CancelAll), with its engine gate.
pub async fn cancel(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    let answer = if field(&f, "all").is_some() {
        call(&s, account, "CancelAll", vec![]).await
    } else {
        call(&s, account, "CancelOrder", vec![("txid".into(), field(&f, "txid").unwrap_or("").to_string())]).await
    };
    let q = match answer {
        Ok(v) => vec![("done".to_string(), format!("Canceled {} order(s).", v["count"].as_u64().unwrap_or(0)))],
        Err(e) => vec![("failed".to_string(), format!("Not canceled: {}", e.as_kraken()))],
    };
    ctx.see_other(&format!("/console/orders?{}", serde_urlencoded::to_string(&q).unwrap_or_default()))
}

pub async fn trades(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let fs = filters(&q, &[]);
    let answer = match &fs {
        Ok(f) => Some(call(&s, account, "TradesHistory", f.clone()).await),
        Err(_) => None,
    };
    let body = html! {
        form.filters method="get" action="/console/trades" { (range_inputs(&q)) button type="submit" { "Filter" } }
        @if let Err(e) = &fs { (error(e)) }
        @match &answer {
            None => {},
            Some(Err(e)) => (error(&e.as_kraken())),
            Some(Ok(v)) => {
                @if entries(&v["trades"]).is_empty() { (notice("No trades.")) } @else {
                    div.scroll { table.cards {
                        thead { tr {
                            th scope="col" { "Trade" } th scope="col" { "Order" } th scope="col" { "Pair" } th scope="col" { "Side" }
                            th.num scope="col" { "Price" } th.num scope="col" { "Volume" } th.num scope="col" { "Cost" } th.num scope="col" { "Fee" }
                            th scope="col" { "Time (UTC)" }
                        } }
                        tbody { @for (id, t) in entries(&v["trades"]) { tr {
                            td data-label="Trade" { code { (id) } } td data-label="Order" { code { (text(&t["ordertxid"])) } } td data-label="Pair" { (text(&t["pair"])) }
                            td data-label="Side" { (text(&t["type"])) " " (text(&t["ordertype"])) }
                            td.num data-label="Price" { (text(&t["price"])) } td.num data-label="Volume" { (text(&t["vol"])) }
                            td.num data-label="Cost" { (text(&t["cost"])) } td.num data-label="Fee" { (text(&t["fee"])) }
                            td data-label="Time (UTC)" { (when(&t["time"])) }
                        } } }
                    } }
                }
                (pager("/console/trades", &q, ofs(&q), v["count"].as_u64().unwrap_or(0) as usize))
            }
        }
    };
    ctx.ok(page(&ctx.session, "/console/trades", "Trade history", body))
}

const LEDGER_TYPES: &[&str] = &["all", "trade", "deposit", "withdrawal", "transfer", "margin", "adjustment", "rollover", "staking"];

pub async fn ledger(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let fs = filters(&q, &["asset", "type"]);
    let answer = match &fs {
        Ok(f) => Some(call(&s, account, "Ledgers", f.clone()).await),
        Err(_) => None,
    };
    let (asset, kind) = (q_value(&q, "asset"), q_value(&q, "type"));
    let body = html! {
        form.filters method="get" action="/console/ledger" {
            div.field {
                label for="asset" { "Asset" }
                select id="asset" name="asset" {
                    option value="all" { "All" }
                    @for a in &s.state.markets.assets { option value=(a.altname) selected[asset == a.altname] { (a.altname) } }
                }
            }
            div.field {
                label for="type" { "Type" }
                select id="type" name="type" { @for t in LEDGER_TYPES { option value=(t) selected[kind == *t] { (t) } } }
            }
            (range_inputs(&q))
            button type="submit" { "Filter" }
        }
        @if let Err(e) = &fs { (error(e)) }
        @match &answer {
            None => {},
            Some(Err(e)) => (error(&e.as_kraken())),
            Some(Ok(v)) => {
                @if entries(&v["ledger"]).is_empty() { (notice("No ledger entries.")) } @else {
                    div.scroll { table.cards {
                        thead { tr {
                            th scope="col" { "Entry" } th scope="col" { "Reference" } th scope="col" { "Type" } th scope="col" { "Asset" }
                            th.num scope="col" { "Amount" } th.num scope="col" { "Fee" } th.num scope="col" { "Balance" } th scope="col" { "Time (UTC)" }
                        } }
                        tbody { @for (id, l) in entries(&v["ledger"]) { tr {
                            td data-label="Entry" { code { (id) } } td data-label="Reference" { code { (text(&l["refid"])) } } td data-label="Type" { (text(&l["type"])) }
                            td data-label="Asset" { (text(&l["asset"])) } td.num data-label="Amount" { (text(&l["amount"])) } td.num data-label="Fee" { (text(&l["fee"])) }
                            td.num data-label="Balance" { (text(&l["balance"])) } td data-label="Time (UTC)" { (when(&l["time"])) }
                        } } }
                    } }
                }
                (pager("/console/ledger", &q, ofs(&q), v["count"].as_u64().unwrap_or(0) as usize))
            }
        }
    };
    ctx.ok(page(&ctx.session, "/console/ledger", "Ledger", body))
}

fn per_second(micro: u64) -> String {
    format_units(micro as i128, 6).trim_end_matches('0').trim_end_matches('.').to_string()
}

pub async fn account(State(s): State<Shared>, ctx: Ctx) -> Response {
    let Some((account, name)) = ctx.account() else { return ctx.to_login() };
    let tier = s.state.limits.tier(account);
    let p = &s.state.limits.policy;
    let volume = call(&s, account, "TradeVolume", vec![("pair".into(), "XBTUSD".into())]).await;
    let body = html! {
        dl.facts {
            dt { "Account" } dd { (name) }
            dt { "Verification tier" } dd { strong { (tier) } }
            dt { "Withdraw Funds on API keys" }
            dd { @if tier.is_verified() { "allowed" } @else { "not allowed: it needs a verified account (intermediate or pro)" } }
            dt { "Limits profile" } dd { (format!("{:?}", p.profile).to_lowercase()) }
            dt { "REST call counter (per key)" }
            dd { @match p.rest { Some(r) => { "at most " (per_second(r.get(tier).max)) ", draining " (per_second(r.get(tier).decay_per_sec)) " a second" }, None => "none" } }
            dt { "Trading counter (per pair)" }
            dd { @match p.trading { Some(r) => { "threshold " (per_second(r.get(tier).max)) ", draining " (per_second(r.get(tier).decay_per_sec)) " a second" }, None => "none" } }
            dt { "Open orders per pair" }
            dd { @match p.open_orders { Some(c) => (c.get(tier)), None => "no cap" } }
            dt { "Requests in flight per key" }
            dd { @if p.max_in_flight_per_key == u32::MAX { "no cap" } @else { (p.max_in_flight_per_key) } }
            @if let Ok(v) = &volume {
                dt { "30-day volume" } dd { (text(&v["volume"])) " " (text(&v["currency"])) }
                dt { "Fees on XBTUSD (taker / maker)" }
                dd { (text(&v["fees"]["XXBTZUSD"]["fee"])) " % / " (text(&v["fees_maker"]["XXBTZUSD"]["fee"])) " %" }
            }
        }
        p.hint { "The tier is set by the exchange's operator (calamari account tier NAME TIER)." }
    };
    ctx.ok(page(&ctx.session, "/console/account", "Account and limits", body))
}
