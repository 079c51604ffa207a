//! The live market view: the ticker board of every pair (`/console/markets`) and, per pair
//! (`/console/markets/XBTUSD`), candles with volume for every OHLC interval, the order-book ladder,
//! a depth chart, the recent trades and the order ticket ([`super::market_ticket`]).
//!
//! The pages are server-rendered from the public API's own answers (`api::public::dispatch`:
//! Ticker, Depth, Trades), so they show the market without JavaScript and with the API's figures;
//! `market.js` then keeps them live over the exchange's own WebSocket v2 (`/v2`, same origin:
//! ticker, book with Kraken's checksum verified, ohlc, trade), and the vendored
//! lightweight-charts (`assets/vendor/`) draws the candles. Public data: the pages are open
//! without logging in; only the ticket needs an account.

use super::layout::{error, notice, page_any};
use super::market_ticket;
use super::{Ctx, Shared};
use crate::api::params::Params;
use crate::api::public;
use crate::engine::market_data::INTERVALS;
use crate::engine::markets::Pair;
use crate::money::{format_units, parse_units, rescale_floor};
use crate::ws::channels::Sym;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

/// An interval's short label (`1m`, `4h`, `1w`, `15d`).
pub(super) fn interval_label(minutes: u64) -> String {
    match minutes {
        m if m < 60 => format!("{m}m"),
        m if m < 1440 => format!("{}h", m / 60),
        10080 => "1w".into(),
        m => format!("{}d", m / 1440),
    }
}

/// A decimal text of the API (any number of decimals) shown with exactly `to` decimals
/// (truncated: prices are on ticks, so nothing but zeros is cut); "—" when it is not a number.
pub(super) fn redecimal(text: &str, to: u32) -> String {
    let d = text.split_once('.').map(|(_, f)| f.len() as u32).unwrap_or(0);
    match parse_units(text, d) {
        Some(u) => format_units(rescale_floor(u, d, to), to),
        None => "—".into(),
    }
}

/// Today's change of `last` against `open` in hundredths of a percent (both at `d` decimals).
fn change_bp(last: &str, open: &str, d: u32) -> Option<i128> {
    let (l, o) = (parse_units(last, d)?, parse_units(open, d)?);
    (o > 0).then(|| (l - o) * 10_000 / o)
}

/// `+1.23 %` / `-0.40 %` and the class that colours it.
fn change_text(bp: Option<i128>) -> (String, &'static str) {
    match bp {
        None => ("—".into(), "flat"),
        Some(b) => {
            let sign = if b > 0 {
                "+"
            } else if b < 0 {
                "-"
            } else {
                ""
            };
            (
                format!("{sign}{} %", format_units(b.abs(), 2)),
                if b > 0 {
                    "up"
                } else if b < 0 {
                    "down"
                } else {
                    "flat"
                },
            )
        }
    }
}

async fn public_call(s: &Shared, method: &str, fields: Vec<(String, String)>) -> Result<Value, String> {
    let p = Params::from_pairs(fields).map_err(|e| e.as_kraken())?;
    // The public methods answer JSON text (written directly, maybe kept by the market view).
    let text = public::dispatch(&s.state, method, p).await.map_err(|e| e.as_kraken())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// The data attributes market.js needs to read a pair's numbers (and to check the book).
fn pair_data(sym: &Sym, pair: &Pair) -> (String, String, String) {
    (sym.symbol.clone(), pair.pair_decimals.to_string(), pair.lot_decimals.to_string())
}

pub async fn board(State(s): State<Shared>, ctx: Ctx) -> Response {
    let markets = &s.state.markets;
    let names: Vec<String> = markets.pairs.iter().map(|p| p.altname.clone()).collect();
    let ticker = public_call(&s, "Ticker", vec![("pair".into(), names.join(","))]).await;
    let body = html! {
        p.live-line { span #live.live role="status" { "Connecting…" } " Prices move with every trade (WebSocket ticker channel); select a market for its chart, book and order ticket." }
        @if let Err(e) = &ticker { (error(e)) }
        div.scroll { table #board .cards.board {
            thead { tr { th scope="col" { "Market" } th.num scope="col" { "Last price" } th.num scope="col" { "24h change" } th.num scope="col" { "24h volume" } } }
            tbody { @for pair in &markets.pairs {
                @let sym = Sym::of(markets, pair);
                @let (symbol, pd, ld) = pair_data(&sym, pair);
                @let t = ticker.as_ref().ok().map(|v| &v[&pair.id]).filter(|t| t.is_object());
                @let last = t.map(|t| redecimal(&super::pages::text(&t["c"][0]), pair.pair_decimals)).unwrap_or_else(|| "—".into());
                @let bp = t.and_then(|t| change_bp(&super::pages::text(&t["c"][0]), &super::pages::text(&t["o"]), pair.cost_decimals.max(pair.pair_decimals)));
                @let (change, class) = change_text(bp);
                @let volume = t.map(|t| redecimal(&super::pages::text(&t["v"][1]), pair.lot_decimals)).unwrap_or_else(|| "—".into());
                tr data-symbol=(symbol) data-pd=(pd) data-ld=(ld) {
                    th scope="row" data-label="Market" { a href={ "/console/markets/" (pair.altname) } { (sym.symbol) } }
                    td.num.last data-label="Last price" { span { span.v { (last) } " " small { (sym.quote) } } }
                    td.num.change.(class) data-label="24h change" { (change) }
                    td.num.volume data-label="24h volume" { span { span.v { (volume) } " " small { (sym.base) } } }
                }
            } }
        } }
        p.hint { "Change: the last price against today's opening price (UTC), as the ticker channel's change_pct. Volume: the last 24 hours, in the base asset." }
    };
    ctx.ok(page_any(&ctx.session, "/console/markets", "Markets", "markets", body))
}

/// The last `n` trades from the API's Trades answer: (price, volume, unix seconds, buy?).
fn trade_rows(v: &Value, id: &str, n: usize) -> Vec<(String, String, i64, bool)> {
    let rows = v[id].as_array().cloned().unwrap_or_default();
    rows.iter()
        .rev()
        .take(n)
        .map(|t| {
            let secs = super::pages::text(&t[2]).split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0);
            (super::pages::text(&t[0]), super::pages::text(&t[1]), secs, t[3] == "b")
        })
        .collect()
}

fn hms(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// The ladder's rows from the API's Depth answer (asks best last, so the spread is in the middle).
fn ladder(pair: &Pair, depth: &Value) -> Markup {
    let side = |name: &str| -> Vec<(String, String)> {
        depth[&pair.id][name]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(12)
                    .map(|l| {
                        (
                            redecimal(&super::pages::text(&l[0]), pair.pair_decimals),
                            redecimal(&super::pages::text(&l[1]), pair.lot_decimals),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (asks, bids) = (side("asks"), side("bids"));
    html! {
        table #ladder .ladder aria-describedby="book-status" {
            caption.sr { "Order book: asks above the spread, bids below" }
            thead { tr { th.num scope="col" { "Price" } th.num scope="col" { "Volume" } th.num scope="col" { "Total" } } }
            tbody #asks { @for (p, q) in asks.iter().rev() { tr.ask { td.num { button.px type="button" data-price=(p) { (p) } } td.num { (q) } td.num {} } } }
            tbody #spread { tr.spread { td colspan="3" { "Spread" } } }
            tbody #bids { @for (p, q) in &bids { tr.bid { td.num { button.px type="button" data-price=(p) { (p) } } td.num { (q) } td.num {} } } }
        }
    }
}

pub async fn pair_page(State(s): State<Shared>, ctx: Ctx, Path(name): Path<String>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let markets = s.state.markets.clone();
    let Some(idx) = markets.pair_by_name(&name) else {
        let body = html! { (error("EQuery:Unknown asset pair")) p { a href="/console/markets" { "All markets" } } };
        return ctx.html(StatusCode::NOT_FOUND, page_any(&ctx.session, "/console/markets", "Unknown market", "", body));
    };
    let pair = markets.pair(idx);
    let sym = Sym::of(&markets, pair);
    let qv = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let interval = qv("interval").parse::<u64>().ok().filter(|i| INTERVALS.contains(i)).unwrap_or(60);
    let alt = vec![("pair".to_string(), pair.altname.clone())];
    let ticker = public_call(&s, "Ticker", alt.clone()).await.ok().map(|v| v[&pair.id].clone()).unwrap_or_default();
    let depth = public_call(&s, "Depth", [alt.clone(), vec![("count".into(), "12".into())]].concat()).await.unwrap_or_default();
    let trades = public_call(&s, "Trades", [alt, vec![("count".into(), "30".into())]].concat()).await.unwrap_or_default();
    let t = |v: &Value| super::pages::text(v);
    let pd = pair.pair_decimals;
    let (change, class) = change_text(change_bp(&t(&ticker["c"][0]), &t(&ticker["o"]), pair.cost_decimals.max(pd)));
    let (symbol, pds, lds) = pair_data(&sym, pair);
    let title = format!("{} market", sym.symbol);
    let body = html! {
        @if !qv("done").is_empty() { (notice(qv("done"))) }
        @if !qv("failed").is_empty() { (error(qv("failed"))) }
        section #market .market data-symbol=(symbol) data-pair=(pair.altname) data-interval=(interval) data-pd=(pds) data-ld=(lds) {
            dl #quote .quote {
                div { dt { "Last" } dd { span #q-last { (redecimal(&t(&ticker["c"][0]), pd)) } " " small { (sym.quote) } } }
                div { dt { "Today" } dd #q-change .(class) { (change) } }
                div { dt { "Bid" } dd #q-bid { (redecimal(&t(&ticker["b"][0]), pd)) } }
                div { dt { "Ask" } dd #q-ask { (redecimal(&t(&ticker["a"][0]), pd)) } }
                div { dt { "24h high" } dd #q-high { (redecimal(&t(&ticker["h"][1]), pd)) } }
                div { dt { "24h low" } dd #q-low { (redecimal(&t(&ticker["l"][1]), pd)) } }
                div { dt { "24h volume" } dd { span #q-volume { (redecimal(&t(&ticker["v"][1]), pair.lot_decimals)) } " " small { (sym.base) } } }
                div { dt { "Feed" } dd { span #live.live role="status" { "Connecting…" } } }
            }
            div.market-grid {
                section.panel.chart-panel aria-labelledby="chart-h" {
                    h2 #chart-h { "Candles and volume" }
                    nav.intervals aria-label="Candle interval" { ul { @for m in INTERVALS {
                        li { a href={ "/console/markets/" (pair.altname) "?interval=" (m) } aria-current=[(m == interval).then_some("true")] { (interval_label(m)) } }
                    } } }
                    div #chart .chart role="img" aria-label={ (sym.symbol) " candles, " (interval_label(interval)) " interval, with volume" } data-candles="0" {
                        noscript { p.hint { "The chart needs JavaScript; the book and trades below are as of this page's load." } }
                    }
                    p.attribution { "Charts: " a href="https://www.tradingview.com/" rel="noopener" { "TradingView Lightweight Charts™" } ", Copyright © TradingView, Inc." }
                }
                section.panel.book-panel aria-labelledby="book-h" {
                    h2 #book-h { "Order book" }
                    (ladder(pair, &depth))
                    p #book-status .hint data-verified="0" data-mismatches="0" { "Book as of the page's load." }
                }
                (market_ticket::ticket(&ctx, pair, &sym, interval, &q))
                section.panel.depth-panel aria-labelledby="depth-h" {
                    h2 #depth-h { "Depth" }
                    canvas #depth .depth width="600" height="220" role="img" aria-label={ "Cumulative bids and asks of " (sym.symbol) } {}
                }
                section.panel.trades-panel aria-labelledby="trades-h" {
                    h2 #trades-h { "Recent trades" }
                    table #trades .trades {
                        thead { tr { th scope="col" { "Time (UTC)" } th.num scope="col" { "Price" } th.num scope="col" { "Volume" } } }
                        tbody { @for (p, v, secs, buy) in trade_rows(&trades, &pair.id, 30) {
                            tr.(if buy { "buy" } else { "sell" }) { td { (hms(secs)) } td.num { (redecimal(&p, pd)) } td.num { (redecimal(&v, pair.lot_decimals)) } }
                        } }
                    }
                }
            }
            nav.other-markets aria-label="Other markets" { ul { @for p in &markets.pairs {
                li { a href={ "/console/markets/" (p.altname) "?interval=" (interval) } aria-current=[(p.altname == pair.altname).then_some("page")] { (Sym::of(&markets, p).symbol) } }
            } } }
        }
    };
    ctx.ok(page_any(&ctx.session, "/console/markets", &title, "market", body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_for_the_page() {
        assert_eq!(super::redecimal("88100.00000", 1), "88100.0");
        assert_eq!(super::redecimal("0.02000000", 8), "0.02000000");
        assert_eq!(super::redecimal("5", 2), "5.00");
        assert_eq!(super::redecimal("", 2), "—");
        assert_eq!(super::change_text(super::change_bp("101.0", "100.0", 1)), ("+1.00 %".into(), "up"));
        assert_eq!(super::change_text(super::change_bp("99.6", "100.0", 1)), ("-0.40 %".into(), "down"));
        assert_eq!(super::interval_label(240), "4h");
        assert_eq!(super::interval_label(21600), "15d");
        assert_eq!(super::interval_label(10080), "1w");
    }
}
