//! The funding page: per asset, its deposit methods and addresses (a new one generated on
//! request), recent deposits, the withdrawal address book, a withdrawal form and the withdrawals
//! (cancel while still cancellable). Like the other pages it runs the API's own methods
//! (DepositMethods, DepositAddresses, DepositStatus, WithdrawAddresses, Withdraw, WithdrawStatus,
//! WithdrawCancel) as [`crate::api::Caller::console`], so the tier rules (`EFunding:No funding
//! method` on an unverified account), limits and fees are the API's. Address-book entries are
//! added by the operator (`calamari address-book add`), as Kraken confirms them by e-mail.

use super::layout::{csrf, error, notice, page};
use super::pages::{call, text, when};
use super::{csrf_ok, field, Ctx, Fields, Shared};
use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

fn list(v: &Value) -> Vec<&Value> {
    v.as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

fn back(asset: &str, key: &str, text: String) -> String {
    format!("/console/funding?{}", serde_urlencoded::to_string([("asset", asset), (key, text.as_str())]).unwrap_or_default())
}

pub async fn funding(State(s): State<Shared>, ctx: Ctx, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    let get = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let assets = &s.state.markets.assets;
    let asset = get("asset").filter(|a| assets.iter().any(|x| x.altname == *a)).unwrap_or("XBT").to_string();
    let one = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let methods = call(&s, account, "DepositMethods", one("asset", &asset)).await;
    let mut addresses = Vec::new();
    if let Ok(ms) = &methods {
        for m in list(ms) {
            let method = text(&m["method"]);
            let fields = vec![("asset".into(), asset.clone()), ("method".into(), method.clone())];
            addresses.push((method, call(&s, account, "DepositAddresses", fields).await));
        }
    }
    let deposits = call(&s, account, "DepositStatus", one("asset", &asset)).await;
    let book = call(&s, account, "WithdrawAddresses", one("asset", &asset)).await;
    let withdrawals = call(&s, account, "WithdrawStatus", one("asset", &asset)).await;
    let body = html! {
        @if let Some(d) = get("done") { (notice(d)) }
        @if let Some(e) = get("failed") { (error(e)) }
        form.filters method="get" action="/console/funding" {
            div.field {
                label for="asset" { "Asset" }
                select id="asset" name="asset" { @for a in assets.iter() { option value=(a.altname) selected[a.altname == asset] { (a.altname) } } }
            }
            button type="submit" { "Show" }
        }
        h2 { "Deposit " (asset) }
        @match &methods {
            Err(e) => (error(&e.as_kraken())),
            Ok(_) => {
                @for (method, answer) in &addresses {
                    h3 { (method) }
                    @match answer {
                        Err(e) => (error(&e.as_kraken())),
                        Ok(v) => {
                            @if list(v).is_empty() { (notice("No address yet.")) } @else {
                                div.scroll { table.cards {
                                    thead { tr { th scope="col" { "Address" } th scope="col" { "Tag" } th scope="col" { "Used" } } }
                                    tbody { @for a in list(v) { tr {
                                        td data-label="Address" { code { (text(&a["address"])) } }
                                        td data-label="Tag" { (text(&a["tag"])) }
                                        td data-label="Used" { @if a["new"] == Value::Bool(true) { "not yet" } @else { "yes" } }
                                    } } }
                                } }
                            }
                            form.inline method="post" action="/console/funding/address" {
                                (csrf(&ctx.session))
                                input type="hidden" name="asset" value=(asset);
                                input type="hidden" name="method" value=(method);
                                button type="submit" { "Generate a new " (method) " address" }
                            }
                        }
                    }
                }
            }
        }
        h3 { "Recent deposits" }
        (status_table(&ctx, &deposits, &asset, false))
        h2 { "Withdraw " (asset) }
        @match &book {
            Err(e) => (error(&e.as_kraken())),
            Ok(v) => {
                @if list(v).is_empty() {
                    (notice("No withdrawal address for this asset. The operator adds them: calamari address-book add ACCOUNT KEY --asset ASSET ADDRESS."))
                } @else {
                    div.scroll { table.cards {
                        thead { tr { th scope="col" { "Key" } th scope="col" { "Address" } th scope="col" { "Method" } th scope="col" { "Verified" } } }
                        tbody { @for a in list(v) { tr {
                            td data-label="Key" { (text(&a["key"])) } td data-label="Address" { code { (text(&a["address"])) } }
                            td data-label="Method" { (text(&a["method"])) } td data-label="Verified" { (text(&a["verified"])) }
                        } } }
                    } }
                    form.card method="post" action="/console/funding/withdraw" {
                        (csrf(&ctx.session))
                        input type="hidden" name="asset" value=(asset);
                        label for="key" { "To" }
                        select id="key" name="key" { @for a in list(v) { option value=(text(&a["key"])) { (text(&a["key"])) " — " (text(&a["address"])) } } }
                        label for="amount" { "Amount (" (asset) ", the fee included)" }
                        input id="amount" name="amount" inputmode="decimal" required;
                        button type="submit" { "Withdraw" }
                    }
                }
            }
        }
        h3 { "Withdrawals" }
        (status_table(&ctx, &withdrawals, &asset, true))
    };
    ctx.ok(page(&ctx.session, "/console/funding", "Funding", body))
}

fn status_table(ctx: &Ctx, answer: &Result<Value, crate::error::KrakenError>, asset: &str, withdrawals: bool) -> Markup {
    html! {
        @match answer {
            Err(e) => (error(&e.as_kraken())),
            Ok(v) => {
                @if list(v).is_empty() { (notice("None yet.")) } @else {
                    div.scroll { table.cards {
                        thead { tr {
                            th scope="col" { "Reference" } th scope="col" { "Method" } th.num scope="col" { "Amount" } th.num scope="col" { "Fee" }
                            th scope="col" { "Status" } th scope="col" { "Time (UTC)" }
                            @if withdrawals { th scope="col" { span.sr { "Action" } } }
                            th scope="col" { (if withdrawals { "To" } else { "Address" }) }
                        } }
                        tbody { @for w in list(v) { tr data-refid=(text(&w["refid"])) {
                            td data-label="Reference" { code { (text(&w["refid"])) } } td data-label="Method" { (text(&w["method"])) }
                            td.num data-label="Amount" { (text(&w["amount"])) } td.num data-label="Fee" { (text(&w["fee"])) }
                            td data-label="Status" { (text(&w["status"])) @if let Some(p) = w["status-prop"].as_str() { " (" (p) ")" } }
                            td data-label="Time (UTC)" { (when(&w["time"])) }
                            @if withdrawals { td.action {
                                @if text(&w["status"]) == "Initial" {
                                    form.inline method="post" action="/console/funding/cancel" {
                                        (csrf(&ctx.session))
                                        input type="hidden" name="asset" value=(asset);
                                        input type="hidden" name="refid" value=(text(&w["refid"]));
                                        button.danger type="submit" aria-label={ "Cancel withdrawal " (text(&w["refid"])) } { "Cancel" }
                                    }
                                }
                            } }
                            td data-label=(if withdrawals { "To" } else { "Address" }) { code { (text(&w["info"])) } }
                        } } }
                    } }
                }
            }
        }
    }
}

/// The POSTs of the page: a new deposit address, a withdrawal, a withdrawal's cancel.
async fn act(s: &Shared, ctx: &Ctx, f: &Fields, method: &str, names: &[&str], done: impl Fn(&Value) -> String) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    if !csrf_ok(ctx, f) {
        return ctx.forbidden();
    }
    let asset = field(f, "asset").unwrap_or("").to_string();
    let mut fields: Vec<(String, String)> =
        names.iter().filter_map(|n| field(f, n).map(|v| (n.to_string(), v.trim().to_string()))).collect();
    if method == "DepositAddresses" {
        fields.push(("new".into(), "true".into()));
    }
    let to = match call(s, account, method, fields).await {
        Ok(v) => back(&asset, "done", done(&v)),
        Err(e) => back(&asset, "failed", format!("Refused: {}", e.as_kraken())),
    };
    ctx.see_other(&to)
}

pub async fn new_address(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    act(&s, &ctx, &f, "DepositAddresses", &["asset", "method"], |_| "A new deposit address was generated.".into()).await
}

pub async fn withdraw(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    act(&s, &ctx, &f, "Withdraw", &["asset", "key", "amount"], |v| format!("Withdrawal {} requested.", text(&v["refid"]))).await
}

pub async fn cancel(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    act(&s, &ctx, &f, "WithdrawCancel", &["asset", "refid"], |_| "Withdrawal canceled.".into()).await
}
