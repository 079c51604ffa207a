//! The order ticket on a pair's market page: limit, market, post-only, stop-loss and take-profit
//! orders for the logged-in account. The form is a POST carrying the session's CSRF token, and it
//! runs the API's own AddOrder through `api::private::dispatch` as [`crate::api::Caller::console`],
//! as the orders page's cancel does: the engine, validation, error strings, market states and
//! trading limits are the API's. A refusal is shown as Kraken's error string; the fields typed
//! come back filled in.

use super::layout::csrf;
use super::pages::{call, text};
use super::{csrf_ok, field, Ctx, Fields, Shared};
use crate::engine::markets::Pair;
use crate::ws::channels::Sym;
use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};

/// The kinds the ticket offers, as AddOrder's `ordertype` (post-only is a flag on a limit order).
const KINDS: &[(&str, &str)] = &[("limit", "Limit"), ("market", "Market"), ("stop-loss", "Stop-loss"), ("take-profit", "Take-profit")];

/// The ticket's panel; a logged-out visitor gets a link to log in instead.
pub fn ticket(ctx: &Ctx, pair: &Pair, sym: &Sym, interval: u64, q: &[(String, String)]) -> Markup {
    let qv = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let side = if qv("t_side") == "sell" { "sell" } else { "buy" };
    let kind = KINDS.iter().map(|k| k.0).find(|k| *k == qv("t_type")).unwrap_or("limit");
    html! {
        section.panel.ticket-panel aria-labelledby="ticket-h" {
            h2 #ticket-h { "Order ticket" }
            @if ctx.account().is_none() {
                p { a href="/console/login" { "Log in" } " to place orders on " (sym.symbol) "." }
            } @else {
                form #ticket .ticket method="post" action="/console/markets/order" {
                    (csrf(&ctx.session))
                    input type="hidden" name="pair" value=(pair.altname);
                    input type="hidden" name="interval" value=(interval);
                    fieldset.sides {
                        legend { "Side" }
                        label.check { input type="radio" name="type" value="buy" checked[side == "buy"]; "Buy " (sym.base) }
                        label.check { input type="radio" name="type" value="sell" checked[side == "sell"]; "Sell " (sym.base) }
                    }
                    div.field {
                        label for="t-ordertype" { "Order type" }
                        select #t-ordertype name="ordertype" {
                            @for (value, label) in KINDS { option value=(value) selected[kind == *value] { (label) } }
                        }
                    }
                    div.field {
                        label for="t-price" { "Price (" (sym.quote) ")" }
                        input #t-price name="price" inputmode="decimal" autocomplete="off" value=(qv("t_price")) aria-describedby="t-price-hint";
                        small #t-price-hint { "The limit price; for stop-loss and take-profit the trigger price. Not used by a market order." }
                    }
                    div.field {
                        label for="t-volume" { "Volume (" (sym.base) ")" }
                        input #t-volume name="volume" inputmode="decimal" autocomplete="off" value=(qv("t_volume")) required;
                        small { "Minimum " (pair.ordermin_text) " " (sym.base) "." }
                    }
                    label.check { input #t-post type="checkbox" name="post" value="1" checked[qv("t_post") == "1"]; "Post-only (a limit order that only adds liquidity)" }
                    button type="submit" { "Place order" }
                    p.hint { "Runs the API's AddOrder for your account: the same checks, limits and error strings." }
                }
            }
        }
    }
}

/// The form's fields as AddOrder's parameters (price only where the kind has one).
fn add_order_fields(f: &Fields, pair: &str) -> Vec<(String, String)> {
    let get = |k: &str| field(f, k).unwrap_or("").trim().to_string();
    let kind = get("ordertype");
    let mut out = vec![
        ("pair".into(), pair.to_string()),
        ("type".into(), get("type")),
        ("ordertype".into(), kind.clone()),
        ("volume".into(), get("volume")),
    ];
    if kind != "market" {
        out.push(("price".into(), get("price")));
    }
    if field(f, "post").is_some() {
        out.push(("oflags".into(), "post".into()));
    }
    out
}

/// POST /console/markets/order: the API's AddOrder, then back to the pair's page with its answer.
pub async fn place(State(s): State<Shared>, ctx: Ctx, axum::Form(f): axum::Form<Fields>) -> Response {
    let Some((account, _)) = ctx.account() else { return ctx.to_login() };
    if !csrf_ok(&ctx, &f) {
        return ctx.forbidden();
    }
    let markets = &s.state.markets;
    let Some(idx) = field(&f, "pair").and_then(|p| markets.pair_by_name(p)) else { return ctx.see_other("/console/markets") };
    let altname = markets.pair(idx).altname.clone();
    let interval = field(&f, "interval").and_then(|i| i.parse::<u64>().ok()).unwrap_or(60);
    let mut q = vec![("interval".to_string(), interval.to_string())];
    match call(&s, account, "AddOrder", add_order_fields(&f, &altname)).await {
        Ok(v) => {
            let txid = v["txid"].as_array().and_then(|a| a.first()).map(text).unwrap_or_default();
            q.push(("done".into(), format!("Order {txid} placed: {}.", text(&v["descr"]["order"]))));
        }
        Err(e) => {
            q.push(("failed".into(), format!("Not placed: {}", e.as_kraken())));
            for (k, name) in [("type", "t_side"), ("ordertype", "t_type"), ("price", "t_price"), ("volume", "t_volume"), ("post", "t_post")]
            {
                if let Some(v) = field(&f, k) {
                    q.push((name.into(), v.chars().take(40).collect()));
                }
            }
        }
    }
    ctx.see_other(&format!("/console/markets/{altname}?{}", serde_urlencoded::to_string(&q).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    fn form(pairs: &[(&str, &str)]) -> super::Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn ticket_fields_become_add_order_parameters() {
        let market =
            super::add_order_fields(&form(&[("type", "buy"), ("ordertype", "market"), ("price", "1"), ("volume", "0.5")]), "XBTUSD");
        assert!(!market.iter().any(|(k, _)| k == "price"), "a market order sends no price");
        let post = super::add_order_fields(
            &form(&[("type", "sell"), ("ordertype", "limit"), ("price", " 90000 "), ("volume", "1"), ("post", "1")]),
            "XBTUSD",
        );
        assert!(post.contains(&("price".into(), "90000".into())));
        assert!(post.contains(&("oflags".into(), "post".into())));
        let stop =
            super::add_order_fields(&form(&[("type", "sell"), ("ordertype", "stop-loss"), ("price", "80000"), ("volume", "1")]), "XBTUSD");
        assert!(stop.contains(&("ordertype".into(), "stop-loss".into())) && stop.contains(&("price".into(), "80000".into())));
    }
}
