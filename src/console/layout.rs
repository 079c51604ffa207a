//! The page frame every console page shares: head (the embedded stylesheet and script, a phone
//! viewport), the navigation, the log-out form (a POST with the CSRF token), a skip link for
//! keyboard users, and small pieces the pages repeat (notices, the hidden CSRF field, pagers).

use super::session::Session;
use maud::{html, Markup, DOCTYPE};

const NAV: &[(&str, &str)] = &[
    ("/console/markets", "Markets"),
    ("/console/balances", "Balances"),
    ("/console/orders", "Orders"),
    ("/console/trades", "Trades"),
    ("/console/ledger", "Ledger"),
    ("/console/funding", "Funding"),
    ("/console/account", "Account"),
    ("/console/keys", "API keys"),
];

/// The market pages' scripts, after console.js: market.js, and on a pair's page the vendored
/// lightweight-charts before it.
fn market_scripts(kind: &str) -> Markup {
    html! {
        @if kind == "market" { script src="/console/assets/vendor/lightweight-charts.standalone.production.js" defer {} }
        @if kind == "market" || kind == "markets" { script src="/console/assets/market.js" defer {} }
    }
}

fn head(title: &str) -> Markup {
    head_with(title, "")
}

fn head_with(title: &str, kind: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Calamari" }
            link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/console.js" defer {}
            (market_scripts(kind))
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A page of a logged-in account; `active` is the navigation entry's path.
pub fn page(s: &Session, active: &str, title: &str, body: Markup) -> Markup {
    page_with(s, active, title, "", body)
}

fn page_with(s: &Session, active: &str, title: &str, kind: &str, body: Markup) -> Markup {
    let name = s.account.as_ref().map(|a| a.1.as_str()).unwrap_or("");
    let nav = html! {
        @for (href, label) in NAV {
            li { a href=(href) aria-current=[(*href == active).then_some("page")] { (label) } }
        }
    };
    let logout = html! {
        form.logout method="post" action="/console/logout" {
            (csrf(s))
            span.who { (name) }
            button type="submit" { "Log out" }
        }
    };
    frame(title, kind, nav, logout, body)
}

/// A page open to everyone (the market view): the account navigation for a logged-in visitor,
/// links to log in and sign up otherwise. `kind` picks the market scripts (`markets`, `market`).
pub fn page_any(s: &Session, active: &str, title: &str, kind: &str, body: Markup) -> Markup {
    if s.account.is_some() {
        return page_with(s, active, title, kind, body);
    }
    let nav = html! {
        li { a href="/console/markets" aria-current=[(active == "/console/markets").then_some("page")] { "Markets" } }
        li { a href="/console/login" { "Log in" } }
        li { a href="/console/signup" { "Sign up" } }
    };
    frame(title, kind, nav, html! {}, body)
}

/// The frame of a page with navigation: head, skip link, the header with the brand, the
/// navigation's entries and what follows them (the log-out form), then the page's main part.
fn frame(title: &str, kind: &str, nav: Markup, after_nav: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head_with(title, kind))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console/" { "Calamari" }
                    nav aria-label="Account" { ul { (nav) } }
                    (after_nav)
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without the account navigation (log-in, sign-up, refusals).
pub fn bare(_s: &Session, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.narrow {
                header.top { a.brand href="/console/" { "Calamari" } }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An error line (role=alert, so a screen reader says it).
pub fn error(text: &str) -> Markup {
    html! { p.error role="alert" { (text) } }
}

pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { (text) } }
}

/// Previous/next links of a Kraken-style offset listing (50 a page).
pub fn pager(path: &str, query: &[(String, String)], ofs: usize, count: usize) -> Markup {
    let link = |to: usize| {
        let mut q: Vec<(String, String)> = query.iter().filter(|(k, _)| k != "ofs").cloned().collect();
        q.push(("ofs".into(), to.to_string()));
        format!("{path}?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
    };
    html! {
        nav.pager aria-label="Pages" {
            @if ofs > 0 { a href=(link(ofs.saturating_sub(50))) rel="prev" { "← Newer" } }
            span { (if count == 0 { "none".to_string() } else { format!("{}–{} of {}", ofs + 1, (ofs + 50).min(count), count) }) }
            @if ofs + 50 < count { a href=(link(ofs + 50)) rel="next" { "Older →" } }
        }
    }
}
